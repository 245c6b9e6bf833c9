//! The command line: clap derive types only, no I/O.

use crate::render::Format;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// What SSE-KMS really costs: KMS calls per S3 object, read from CloudTrail logs, with and
/// without S3 Bucket Keys.
#[derive(Debug, Parser)]
#[command(name = "keytrail", version, after_help = crate::cli::exit::HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report KMS calls per S3 object, per bucket and encryption mode (bucket key / per object).
    #[command(after_help = analyze_after_help())]
    Analyze(Box<AnalyzeArgs>),
    /// What the KMS requests cost per month, per account, KMS key and bucket, and what bucket
    /// keys save (or would).
    #[command(after_help = COST_AFTER_HELP)]
    Cost(Box<CostArgs>),
    /// KMS requests per second against the request quota, per account and Region.
    #[command(after_help = QUOTA_AFTER_HELP)]
    Quota(Box<QuotaArgs>),
    /// A regression gate: exit 5 when KMS calls per object or quota use pass a threshold, 6
    /// when the input cannot tell.
    #[command(after_help = CHECK_AFTER_HELP)]
    Check(Box<CheckArgs>),
    /// Print keytrail's analysis as code for another engine: a PySpark job (Spark 3.5: EMR,
    /// Glue, Databricks) whose output `--from` reads.
    #[command(after_help = EMIT_AFTER_HELP)]
    Emit(Box<EmitArgs>),
    /// Write a simulated trail (delivered layout) and its manifest of true figures.
    #[command(after_help = SIMULATE_AFTER_HELP)]
    Simulate(Box<SimulateArgs>),
    /// Show the settings file's place and each setting's value and where it came from (flag,
    /// KEYTRAIL_* variable, settings file, default).
    Config,
    /// Print a shell completion script: `keytrail completions bash > ~/.local/share/bash-completion/completions/keytrail`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `keytrail man > ~/.local/share/man/man1/keytrail.1`.
    Man,
}

const COST_AFTER_HELP: &str = "\
Every KMS call counts (S3's and other callers'), billed to the caller's account. The monthly
projection is the observed rate x --month-days; the free tier comes off each account's month.
Bucket keys' worth is projected by replaying the same S3 requests through the envelope engine
with bucket keys switched.

Examples:
  keytrail cost ./AWSLogs
  keytrail cost ./AWSLogs --since 2024-03-01 --until 2024-03-08 --format csv -o cost.csv
  keytrail cost ./AWSLogs --price-per-10k 0.03 --free-tier 0 --month-days 31";

const QUOTA_AFTER_HELP: &str = "\
Every symmetric KMS call counts against the shared quota of its account and Region, whoever
made it. Percentiles are over every second of the window, quiet ones included.

Examples:
  keytrail quota ./AWSLogs --chart quota.svg
  keytrail quota ./AWSLogs --quota us-east-1=150000 --format html -o quota.html";

const CHECK_AFTER_HELP: &str = "\
Exit codes: 0 within every threshold, 5 a threshold was passed (each violation is printed),
6 a threshold could not be evaluated (empty input, no KMS calls, no objects: printed N/A),
2 usage, 3 --strict and an input problem.

A thresholds file (TOML):
  max_calls_per_object = 0.05
  buckets = [\"datalake\"]
  max_quota_use = 0.5
  [quota]
  us-east-1 = 150000

Examples:
  keytrail check ./AWSLogs --max-calls-per-object 0.05 --bucket datalake --max-quota-use 0.5
  keytrail check ./AWSLogs --thresholds keytrail-check.toml";

const EMIT_AFTER_HELP: &str = "\
The job reads delivered CloudTrail files, classifies, deduplicates and matches KMS calls to S3
requests as keytrail does, spread over the cluster (matching runs per bucket and requester),
and writes a folder keytrail reads back: every report, format and chart keytrail makes of a
trail, it makes of that folder. See docs/engines.md.

Examples:
  keytrail emit spark --bucket-arn-prefix arn:aws:s3:::datalake/ > keytrail_job.py
  spark-submit keytrail_job.py s3://org-trail/AWSLogs/ s3://scratch/keytrail-out/ --since 2026-11-01
  keytrail analyze --from s3://scratch/keytrail-out/
  keytrail cost --from s3://scratch/keytrail-out/ --format html -o cost.html
  keytrail emit athena ddl --location s3://org-trail/AWSLogs/o-abc123/ --account 111122223333 --region us-east-1
  keytrail emit athena analyze --table cloudtrail_logs --since 2026-11-01 > q.sql";

const SIMULATE_AFTER_HELP: &str = "\
The trail is written as AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz, with
manifest.json written last: `keytrail analyze DIR --expect DIR/manifest.json` checks the
analyzer against it. The same scenario and seed give byte-identical files.

Examples:
  keytrail simulate --builtin seed-10k --out ./trail
  keytrail simulate --builtin datalake --scale 0.1 --out ./small-trail
  keytrail simulate --scenario datalake.toml --out ./trail --seed 7
  keytrail simulate --list-builtins";

#[derive(Debug, Args)]
pub struct EmitArgs {
    #[command(subcommand)]
    pub target: EmitTarget,
}

#[derive(Debug, Subcommand)]
pub enum EmitTarget {
    /// A PySpark job: `spark-submit job.py [OPTIONS] INPUT OUTPUT`, then `keytrail analyze
    /// --from OUTPUT` (run `python3 job.py --help` for its options).
    Spark(EmitSparkArgs),
    /// Athena SQL for the CloudTrail table of the Athena guide: `ddl` (the table, partition
    /// projection on the delivered layout), `analyze`, `quota`, `cost`.
    #[command(subcommand)]
    Athena(AthenaQuery),
}

#[derive(Debug, Subcommand)]
pub enum AthenaQuery {
    /// The CloudTrail table (the Athena guide's), partitioned by projection on account, Region
    /// and day: `keytrail emit athena ddl --location s3://trail/AWSLogs/o-org/ --account ID
    /// --region R`.
    Ddl(AthenaDdlArgs),
    /// KMS calls per bucket and mode (the S3 side's mode is approximated: see the SQL).
    Analyze(AthenaAnalyzeArgs),
    /// KMS requests and the busiest second per account and Region (exact).
    Quota(AthenaQueryArgs),
    /// What the KMS requests cost a month, per account and key (no what-if: see the SQL).
    Cost(AthenaCostArgs),
}

#[derive(Debug, Args)]
pub struct AthenaAnalyzeArgs {
    #[command(flatten)]
    pub query: AthenaQueryArgs,

    /// Keep requests by this IAM ARN; a role ARN also matches its sessions.
    #[arg(long, value_name = "ARN", help_heading = "Filters")]
    pub principal: Vec<String>,

    /// Keep KMS calls whose encryption context has this pair (repeatable: any of them), and
    /// the S3 requests that caused them (approximated: see the SQL).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair, help_heading = "Filters")]
    pub context: Vec<(String, String)>,

    /// Keep KMS calls under this key, an ARN or key ID (repeatable), and the S3 requests under
    /// it (approximated: see the SQL).
    #[arg(long, value_name = "ARN", help_heading = "Filters")]
    pub kms_key: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AthenaCostArgs {
    #[command(flatten)]
    pub query: AthenaQueryArgs,

    /// US dollars per 10,000 KMS requests.
    #[arg(long, value_name = "USD", default_value_t = crate::pricing::PRICE_PER_10K_REQUESTS,
          help_heading = "Prices")]
    pub price_per_10k: f64,

    /// Free KMS requests per account per month.
    #[arg(long, value_name = "REQUESTS", default_value_t = crate::pricing::FREE_REQUESTS_PER_MONTH,
          help_heading = "Prices")]
    pub free_tier: u64,

    /// US dollars per customer managed key per month.
    #[arg(long, value_name = "USD", default_value_t = crate::pricing::KEY_PER_MONTH,
          help_heading = "Prices")]
    pub key_month: f64,

    /// Days in the month of the projection.
    #[arg(long, value_name = "DAYS", default_value_t = crate::pricing::MONTH_DAYS,
          help_heading = "Prices")]
    pub month_days: f64,
}

#[derive(Debug, Args)]
pub struct AthenaDdlArgs {
    /// The folder of the delivered trail: s3://BUCKET/AWSLogs/ or s3://BUCKET/AWSLogs/o-ORG/.
    #[arg(long, value_name = "S3_URL")]
    pub location: String,

    /// The table's name.
    #[arg(long, value_name = "NAME", default_value = "cloudtrail_logs")]
    pub table: String,

    /// An account whose logs the table covers (repeatable; at least one).
    #[arg(long, value_name = "ID", required = true)]
    pub account: Vec<String>,

    /// A Region whose logs the table covers (repeatable; at least one).
    #[arg(long, value_name = "REGION", required = true)]
    pub region: Vec<String>,

    /// The first day the partitions cover (YYYY-MM-DD).
    #[arg(long, value_name = "DAY", default_value = "2020-01-01")]
    pub first_day: String,

    /// Write the SQL to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AthenaQueryArgs {
    /// The CloudTrail table to query (as `emit athena ddl` or the Athena guide creates it).
    #[arg(long, value_name = "NAME", default_value = "cloudtrail_logs")]
    pub table: String,

    #[command(flatten)]
    pub filters: EmitFilters,

    /// Largest gap in seconds between an S3 request and a per-object KMS call naming its
    /// object.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::trail::config::DEFAULT_OBJECT_WINDOW_SECS,
          value_parser = clap::value_parser!(i64).range(0..=86_400))]
    pub object_window: i64,

    /// Write the SQL to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The filters emitted code applies, with the meaning they have in keytrail.
#[derive(Debug, Args)]
pub struct EmitFilters {
    /// Keep events at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_when, help_heading = "Filters")]
    pub since: Option<i64>,

    /// Keep events before this time.
    #[arg(long, value_name = "TIME", value_parser = parse_when, help_heading = "Filters")]
    pub until: Option<i64>,

    /// Keep events logged in this account (repeatable; a job does not read other accounts'
    /// folders).
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub account: Vec<String>,

    /// Keep events of this Region (repeatable; a job does not read other Regions' folders).
    #[arg(long, value_name = "REGION", help_heading = "Filters")]
    pub region: Vec<String>,

    /// Keep events with this name (repeatable).
    #[arg(long, value_name = "NAME", help_heading = "Filters")]
    pub event_name: Vec<String>,

    /// Keep objects whose ARN starts with this (analyze's report filter; for a job, applied
    /// when keytrail reads its output).
    #[arg(long, value_name = "ARN", help_heading = "Filters")]
    pub bucket_arn_prefix: Vec<String>,
}

/// The settings written into an emitted job; the job's own options override the record
/// filters.
#[derive(Debug, Args)]
pub struct EmitSparkArgs {
    #[command(flatten)]
    pub filters: EmitFilters,

    /// Keep requests by this IAM ARN; a role ARN also matches its sessions.
    #[arg(long, value_name = "ARN", help_heading = "Filters")]
    pub principal: Vec<String>,

    /// Keep KMS calls whose encryption context has this pair.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair, help_heading = "Filters")]
    pub context: Vec<(String, String)>,

    /// The report's KMS key filter (applied when keytrail reads the output).
    #[arg(long, value_name = "ARN", help_heading = "Filters")]
    pub kms_key: Vec<String>,

    /// Largest gap in seconds between an S3 request and a bucket-key KMS call.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::trail::config::DEFAULT_WINDOW_SECS,
          value_parser = clap::value_parser!(i64).range(0..=86_400))]
    pub window: i64,

    /// Largest gap in seconds between an S3 request and a per-object KMS call.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::trail::config::DEFAULT_OBJECT_WINDOW_SECS,
          value_parser = clap::value_parser!(i64).range(0..=86_400))]
    pub object_window: i64,

    /// Write the job to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A scenario file (TOML; see docs/simulate.md for every field).
    #[arg(long, value_name = "FILE", conflicts_with = "builtin",
          required_unless_present_any = ["builtin", "list_builtins"])]
    pub scenario: Option<PathBuf>,

    /// A built-in scenario (see --list-builtins).
    #[arg(long, value_name = "NAME")]
    pub builtin: Option<String>,

    /// List the built-in scenarios and exit.
    #[arg(long)]
    pub list_builtins: bool,

    /// Print the TOML of the --builtin scenario instead of simulating it.
    #[arg(long, requires = "builtin")]
    pub print_scenario: bool,

    /// The directory to write the trail into.
    #[arg(long, value_name = "DIR",
          required_unless_present_any = ["list_builtins", "print_scenario"])]
    pub out: Option<PathBuf>,

    /// The random seed: the same scenario and seed give the same trail.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,

    /// Multiply every rate by this: the same shape with less (or more) traffic.
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub scale: f64,

    /// Write into a directory that is not empty.
    #[arg(long)]
    pub force: bool,

    /// Threads compressing files [default: one per core]. The output does not depend on it.
    #[arg(long, short = 'j', value_name = "N", env = "KEYTRAIL_THREADS")]
    pub threads: Option<usize>,
}

const INPUTS_HELP: &str = "\
Inputs are sniffed from their content: gzip (one or several members) or plain JSON, as a
delivered {\"Records\":[...]} file, `aws cloudtrail lookup-events` output, one record per line,
a bare array of records, or a CloudWatch Logs subscription envelope. Digest and Insights files
are skipped and counted.

Filters combine with AND; a repeated flag is an OR within itself.";

const ANALYZE_EXAMPLES: &str = "\
Examples:
  keytrail analyze ./AWSLogs
  keytrail analyze trail.json.gz events.json -
  keytrail analyze ./AWSLogs --bucket-arn-prefix arn:aws:s3:::datalake/user-1/ --context username_owner=alice
  keytrail analyze ./AWSLogs --group-by prefix:1 --format json --output report.json";

fn analyze_after_help() -> String {
    format!(
        "{INPUTS_HELP}\n\n{}\n\n{ANALYZE_EXAMPLES}",
        crate::cli::exit::HELP
    )
}

/// What every command that reads a trail takes: the inputs, the record filters that apply to
/// every event, and how to run.
#[derive(Debug, Args)]
pub struct TrailArgs {
    /// Trail files or directories (walked recursively, in sorted order); `-` reads stdin;
    /// `s3://BUCKET[/PREFIX]` lists and reads the objects under a prefix (needs s3:ListBucket
    /// and s3:GetObject).
    #[arg(required_unless_present = "from", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Keep events logged in this AWS account (recipientAccountId; cost and quota then count
    /// each call in its caller's account). Delivered files of other accounts (and, in S3,
    /// their whole prefixes) are not read.
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub account: Vec<String>,

    /// Keep events of this Region. Delivered files of other Regions are not read.
    #[arg(long, value_name = "REGION", help_heading = "Filters")]
    pub region: Vec<String>,

    /// Keep events at or after this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_when, help_heading = "Filters")]
    pub since: Option<i64>,

    /// Keep events before this time (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_when, help_heading = "Filters")]
    pub until: Option<i64>,

    /// Largest gap in seconds between an S3 request and a bucket-key KMS call (which names
    /// only its bucket).
    #[arg(long, value_name = "SECONDS", default_value_t = crate::trail::config::DEFAULT_WINDOW_SECS,
          value_parser = clap::value_parser!(i64).range(0..=86_400), help_heading = "Report", env = "KEYTRAIL_WINDOW")]
    pub window: i64,

    /// Largest gap in seconds between an S3 request and a per-object KMS call naming its
    /// object (clock skew, long uploads).
    #[arg(long, value_name = "SECONDS",
          default_value_t = crate::trail::config::DEFAULT_OBJECT_WINDOW_SECS,
          value_parser = clap::value_parser!(i64).range(0..=86_400), help_heading = "Report", env = "KEYTRAIL_OBJECT_WINDOW")]
    pub object_window: i64,

    /// Worker threads [default: one per core].
    #[arg(
        long,
        short = 'j',
        value_name = "N",
        help_heading = "Run",
        env = "KEYTRAIL_THREADS"
    )]
    pub threads: Option<usize>,

    /// Make any input problem fatal (exit code 3).
    #[arg(long, help_heading = "Run")]
    pub strict: bool,

    /// Print no per-file problems and no progress on stderr (the summary still counts them).
    #[arg(long, short, help_heading = "Run")]
    pub quiet: bool,

    /// Read the output folder (a path or s3://BUCKET/PREFIX/) of the job `keytrail emit spark`
    /// wrote, a joined trail, instead of trail files: the same reports, from a cluster's work.
    /// Past --memory-limit it is read a group of buckets at a time.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "paths",
        help_heading = "Run"
    )]
    pub from: Option<PathBuf>,

    /// Refuse an input that decompresses to more than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::source::decode::DEFAULT_MAX_BYTES,
          value_parser = parse_size, help_heading = "Run", env = "KEYTRAIL_MAX_DECOMPRESSED_BYTES")]
    pub max_decompressed_bytes: u64,

    /// Stop reading an input at a single value (record) larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::source::decode::DEFAULT_MAX_RECORD_BYTES,
          value_parser = parse_size, help_heading = "Run", env = "KEYTRAIL_MAX_RECORD_BYTES")]
    pub max_record_bytes: u64,

    /// Refuse an input whose decompressed/compressed ratio passes this (above 16 MiB).
    #[arg(long, value_name = "RATIO", default_value_t = crate::source::decode::DEFAULT_MAX_RATIO,
          help_heading = "Run", env = "KEYTRAIL_MAX_RATIO")]
    pub max_ratio: u64,

    /// An S3-compatible endpoint for s3:// inputs (path-style requests; http:// allowed)
    /// [default: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS].
    #[arg(long, value_name = "URL", help_heading = "S3")]
    pub endpoint_url: Option<String>,

    /// The profile of the shared config and credentials files to read s3:// inputs with: static
    /// keys, an assumed role (role_arn with source_profile or credential_source), SSO (after `aws
    /// sso login`) or credential_process [default: AWS_PROFILE; credentials otherwise come from
    /// the environment, web identity, container or instance metadata].
    #[arg(long, value_name = "NAME", help_heading = "S3")]
    pub profile: Option<String>,

    /// Read from requester-pays buckets (the requester pays for requests and transfer).
    #[arg(long, help_heading = "S3")]
    pub request_payer: bool,

    /// S3 GETs in flight at once (and LISTs, up to 32): an S3 request waits tens of milliseconds
    /// for its answer, so more in flight read faster.
    #[arg(long, value_name = "N", default_value_t = crate::source::s3::DEFAULT_CONCURRENCY,
          value_parser = clap::value_parser!(u64).range(1..=1024), help_heading = "S3", env = "KEYTRAIL_S3_REQUESTS")]
    pub s3_requests: u64,

    /// Bytes of S3 objects fetched and not yet decoded, at most: bounds memory whatever the
    /// objects' sizes (a larger object is read alone).
    #[arg(long, value_name = "BYTES", default_value = "256MiB", value_parser = parse_size,
          help_heading = "S3", env = "KEYTRAIL_S3_BUFFER")]
    pub s3_buffer: u64,
}

/// The memory budget of the commands that join the trail.
#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// Memory the kept events may take. Past it they go to temporary files (in TMPDIR, removed
    /// at exit) and are joined a group of buckets at a time, with the same report; one bucket's
    /// events are joined together whatever they take [default: 2GiB, or half the machine's
    /// memory when that is less].
    #[arg(long, value_name = "BYTES", value_parser = parse_size, help_heading = "Run",
          env = "KEYTRAIL_MEMORY_LIMIT")]
    pub memory_limit: Option<u64>,
}

/// Where and how a report is written.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format [default: from the --output extension, else table, piped or not].
    #[arg(long, value_enum, help_heading = "Report")]
    pub format: Option<FormatArg>,

    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE", help_heading = "Report")]
    pub output: Option<PathBuf>,

    /// Also draw the report's chart into FILE: SVG, or PNG for a .png name.
    #[arg(long, value_name = "FILE", help_heading = "Report")]
    pub chart: Option<PathBuf>,

    /// Show every column of the tables, however wide [default: fit the terminal, leaving out
    /// the least important columns and saying which].
    #[arg(long, help_heading = "Report", conflicts_with = "width")]
    pub wide: bool,

    /// Fit tables to N columns [default: the terminal's width on a terminal, else no limit].
    #[arg(long, value_name = "N", help_heading = "Report", value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub trail: TrailArgs,

    /// Keep objects whose ARN starts with this (e.g. arn:aws:s3:::datalake/user-1/).
    /// Bucket-key KMS calls below the bucket level are attributed through correlation.
    #[arg(long, value_name = "ARN", help_heading = "Filters")]
    pub bucket_arn_prefix: Vec<String>,

    /// Keep KMS calls whose encryption context has this pair (S3 requests follow their calls).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair, help_heading = "Filters")]
    pub context: Vec<(String, String)>,

    /// Keep events with this name (GetObject, Decrypt, ...).
    #[arg(long, value_name = "NAME", help_heading = "Filters")]
    pub event_name: Vec<String>,

    /// Keep traffic under this KMS key (its ARN or key ID).
    #[arg(long, value_name = "ARN", help_heading = "Filters")]
    pub kms_key: Vec<String>,

    /// Keep requests by this IAM ARN; a role ARN also matches its sessions.
    #[arg(long, value_name = "ARN", help_heading = "Filters")]
    pub principal: Vec<String>,

    #[command(flatten)]
    pub memory: MemoryArgs,

    /// Group rows by bucket, prefix:N (first N key segments), kms-key, principal or
    /// context:KEY. Rows are always split by bucket and mode.
    #[arg(
        long,
        value_name = "GROUPING",
        default_value = "bucket",
        help_heading = "Report"
    )]
    pub group_by: String,

    #[command(flatten)]
    pub out: OutputArgs,

    /// The what-if of the chart (`--chart`, HTML): each bucket beside its traffic replayed
    /// with bucket keys switched.
    #[command(flatten)]
    pub engine: EngineArgs,

    /// Compare the report with a simulator's manifest; exit 4 and print the differences if
    /// they differ.
    #[arg(long, value_name = "MANIFEST", help_heading = "Run")]
    pub expect: Option<PathBuf>,
}

/// The envelope engine's parameters, for what-if projections.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// How long S3 keeps a bucket-level key, in seconds (unpublished; calibrated).
    #[arg(long, value_name = "SECONDS", default_value_t = crate::envelope::defaults::BUCKET_KEY_TTL_SECS,
          value_parser = clap::value_parser!(i64).range(1..), help_heading = "What-if (envelope engine)")]
    pub bucket_key_ttl: i64,

    /// Front-end caches one requester's traffic spreads over, at most (unpublished; calibrated).
    #[arg(long, value_name = "N", default_value_t = crate::envelope::defaults::MAX_FRONT_END_CACHES,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "What-if (envelope engine)")]
    pub front_end_caches: u32,

    /// Requests per second one front-end cache serves before traffic spreads (calibrated).
    #[arg(long, value_name = "N", default_value_t = crate::envelope::defaults::REQUESTS_PER_CACHE,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "What-if (envelope engine)")]
    pub requests_per_cache: u32,

    /// Who shares a bucket-level key: sessions of one role with the same session policy (the
    /// current S3 user guide), or each IAM session (its earlier text, for older trails).
    #[arg(
        long,
        value_enum,
        default_value = "role-and-policy",
        help_heading = "What-if (envelope engine)"
    )]
    pub sharing: SharingArg,

    /// Count a KMS call for CompleteMultipartUpload (undocumented; off by default).
    #[arg(long, help_heading = "What-if (envelope engine)")]
    pub complete_multipart_calls_kms: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SharingArg {
    PerSession,
    RoleAndPolicy,
}

impl EngineArgs {
    pub fn params(&self) -> crate::envelope::Params {
        crate::envelope::Params {
            bucket_key_ttl_secs: self.bucket_key_ttl,
            max_front_end_caches: self.front_end_caches,
            requests_per_cache: self.requests_per_cache,
            complete_multipart_calls_kms: self.complete_multipart_calls_kms,
            sharing: match self.sharing {
                SharingArg::PerSession => crate::envelope::Sharing::PerSession,
                SharingArg::RoleAndPolicy => crate::envelope::Sharing::RoleAndPolicy,
            },
        }
    }
}

#[derive(Debug, Args)]
pub struct CostArgs {
    #[command(flatten)]
    pub trail: TrailArgs,

    #[command(flatten)]
    pub memory: MemoryArgs,

    /// US dollars per 10,000 KMS requests.
    #[arg(long, value_name = "USD", default_value_t = crate::pricing::PRICE_PER_10K_REQUESTS,
          value_parser = parse_money, help_heading = "Prices", env = "KEYTRAIL_PRICE_PER_10K")]
    pub price_per_10k: f64,

    /// Free KMS requests per account per month.
    #[arg(long, value_name = "REQUESTS", default_value_t = crate::pricing::FREE_REQUESTS_PER_MONTH,
          help_heading = "Prices", env = "KEYTRAIL_FREE_TIER")]
    pub free_tier: u64,

    /// US dollars per customer managed key per month.
    #[arg(long, value_name = "USD", default_value_t = crate::pricing::KEY_PER_MONTH,
          value_parser = parse_money, help_heading = "Prices", env = "KEYTRAIL_KEY_MONTH")]
    pub key_month: f64,

    /// Rotations each customer managed key has had (automatic or on demand): each of the
    /// first two adds --rotation-month to its monthly charge. A trail does not tell a key's
    /// history, so the report says what was assumed.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        help_heading = "Prices",
        env = "KEYTRAIL_KEY_ROTATIONS"
    )]
    pub key_rotations: u32,

    /// US dollars a month for each of a customer managed key's first two rotations.
    #[arg(long, value_name = "USD", default_value_t = crate::pricing::ROTATION_PER_MONTH,
          value_parser = parse_money, help_heading = "Prices", env = "KEYTRAIL_ROTATION_MONTH")]
    pub rotation_month: f64,

    /// Days in the projected month.
    #[arg(long, value_name = "DAYS", default_value_t = crate::pricing::MONTH_DAYS,
          value_parser = parse_days, help_heading = "Prices", env = "KEYTRAIL_MONTH_DAYS")]
    pub month_days: f64,

    /// A KMS key (ARN or ID) that is AWS managed, so has no monthly charge. Keys the trail
    /// names by an alias/aws/... alias are known already.
    #[arg(
        long,
        value_name = "ARN",
        help_heading = "Prices",
        env = "KEYTRAIL_AWS_MANAGED_KEYS",
        value_delimiter = ','
    )]
    pub aws_managed_key: Vec<String>,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub trail: TrailArgs,

    #[command(flatten)]
    pub memory: MemoryArgs,

    /// The quota of a Region, in requests per second (for a raised quota); repeatable.
    #[arg(long = "quota", value_name = "REGION=N", value_parser = parse_quota,
          help_heading = "Report", env = "KEYTRAIL_QUOTAS", value_delimiter = ',')]
    pub quotas: Vec<(String, u64)>,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub trail: TrailArgs,

    #[command(flatten)]
    pub memory: MemoryArgs,

    /// Fail when a bucket's KMS calls per object pass this.
    #[arg(long, value_name = "RATIO", value_parser = parse_threshold, help_heading = "Thresholds")]
    pub max_calls_per_object: Option<f64>,

    /// Check only these buckets (the others are not checked for calls per object).
    #[arg(long, value_name = "NAME", help_heading = "Thresholds")]
    pub bucket: Vec<String>,

    /// Fail when an account and Region's peak second passes this share of its quota: a
    /// fraction (0.5) or a percentage (50%).
    #[arg(long, value_name = "SHARE", value_parser = parse_share, help_heading = "Thresholds")]
    pub max_quota_use: Option<f64>,

    /// Read the thresholds from a TOML file (max_calls_per_object, buckets, max_quota_use,
    /// quota = {REGION = N}); flags override it.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Thresholds",
        env = "KEYTRAIL_THRESHOLDS"
    )]
    pub thresholds: Option<PathBuf>,

    /// The quota of a Region, in requests per second (for a raised quota); repeatable.
    #[arg(long = "quota", value_name = "REGION=N", value_parser = parse_quota,
          help_heading = "Thresholds", env = "KEYTRAIL_QUOTAS", value_delimiter = ',')]
    pub quotas: Vec<(String, u64)>,

    /// Print the result as JSON (schema keytrail.check/v1) instead of text.
    #[arg(long, help_heading = "Report")]
    pub json: bool,
}

fn parse_money(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 => Ok(f),
        _ => Err(format!(
            "expected an amount of dollars, 0 or more, got {s:?}"
        )),
    }
}

fn parse_days(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 31.0 => Ok(f),
        _ => Err(format!(
            "expected days in a month (above 0, at most 31), got {s:?}"
        )),
    }
}

fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 => Ok(f),
        _ => Err(format!("expected a number, 0 or more, got {s:?}")),
    }
}

/// A share of a quota: `0.5` or `50%`. A bare number above 1 is refused, since `50` might mean
/// either 50 % or 5,000 %.
fn parse_share(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        return match p.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && f >= 0.0 => Ok(f / 100.0),
            _ => Err(format!("expected a percentage like 50%, got {s:?}")),
        };
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && (0.0..=1.0).contains(&f) => Ok(f),
        Ok(f) if f.is_finite() && f > 1.0 => Err(format!(
            "{s} is ambiguous: write a fraction ({}) or a percentage ({s}%)",
            f / 100.0
        )),
        _ => Err(format!(
            "expected a fraction (0.5) or a percentage (50%), got {s:?}"
        )),
    }
}

/// A size in bytes: a number, or one with a unit (`4GiB`, `500MB`, `64KiB`; powers of 1,024
/// for KiB/MiB/GiB/TiB, of 1,000 for KB/MB/GB/TB).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?}: use bytes, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
            ))
        }
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && n * factor < u64::MAX as f64 => {
            Ok((n * factor).round() as u64)
        }
        _ => Err(format!("expected a size like 4GiB or 500MB, got {s:?}")),
    }
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1000.0 => Ok(f),
        _ => Err(format!(
            "expected a factor above 0 and at most 1000, got {s:?}"
        )),
    }
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// RFC 3339, or a bare date (midnight UTC).
pub fn parse_when(s: &str) -> Result<i64, String> {
    if let Some(t) = crate::event::parse_time(s) {
        return Ok(t);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
        .ok_or_else(|| format!("expected RFC 3339 (2024-03-01T10:00:00Z) or YYYY-MM-DD, got {s:?}"))
}

/// Parses `REGION=N`.
pub fn parse_quota(s: &str) -> Result<(String, u64), String> {
    let (region, n) = s
        .split_once('=')
        .ok_or_else(|| format!("expected REGION=N (us-east-1=150000), got {s:?}"))?;
    let n: u64 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        format!("the quota of {region} must be a whole number above 0, got {n:?}")
    })?;
    if region.is_empty() {
        return Err(format!("expected REGION=N, got {s:?}"));
    }
    Ok((region.to_string(), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn quota_overrides_are_region_equals_a_positive_number() {
        assert!(parse_quota("us-east-1=0").is_err());
        assert!(parse_quota("us-east-1").is_err());
        assert!(parse_quota("=5").is_err());
        assert_eq!(parse_quota("x=5"), Ok(("x".into(), 5)));
    }

    #[test]
    fn times_accept_dates_and_rfc3339() {
        assert_eq!(parse_when("1970-01-02"), Ok(86_400));
        assert_eq!(parse_when("1970-01-01T00:01:00Z"), Ok(60));
        assert!(parse_when("yesterday").is_err());
    }
}

/// Output formats, as the command line names them ([`Format`] is the renderer's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// A table for the terminal, with the input summary below it.
    Table,
    /// The full report, schema `keytrail.<command>/v1` (docs/ documents each).
    Json,
    /// The rows, one per line, with a header.
    Csv,
    /// The tables in Markdown, with the summary.
    Markdown,
    /// The rows as an Apache Parquet file.
    Parquet,
    /// One self-contained HTML page with the tables and charts, for sharing.
    Html,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Csv => Format::Csv,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Parquet => Format::Parquet,
            FormatArg::Html => Format::Html,
        }
    }
}

#[cfg(test)]
mod value_tests {
    use super::*;

    #[test]
    fn sizes_take_units_and_shares_take_percentages() {
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert!(parse_size("4XB").is_err());
        assert_eq!(parse_share("50%"), Ok(0.5));
        assert_eq!(parse_share("0.5"), Ok(0.5));
        assert!(parse_share("50").unwrap_err().contains("ambiguous"));
    }
}
