//! Arguments -> validated settings: every check clap cannot make, in one place. Each setting
//! the commands need is built here with `TryFrom` from its clap arguments (fd's Opts ->
//! Config, ripgrep's LowArgs -> HiArgs); what fails is a [`UsageError`] (exit 2) that says
//! what to do.

use super::args::{AnalyzeArgs, CheckArgs, CostArgs, MemoryArgs, OutputArgs, QuotaArgs, TrailArgs};
use super::exit::UsageError;
use crate::pricing::{Prices, Quotas};
use crate::render::{sanitize::visible, Format, Layout};
use crate::reports::check::Thresholds;
use crate::source::decode::Limits;
use crate::source::s3::{S3Settings, S3Url};
use crate::trail::config::{AnalyzeConfig, Filters, GroupBy, InputSpec};
use anyhow::{bail, Context};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Where and how a report is written.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    /// `None`: standard output.
    pub path: Option<PathBuf>,
    /// `--chart FILE.svg|FILE.png`.
    pub chart: Option<PathBuf>,
    /// The width tables are fitted to.
    pub layout: Layout,
}

impl TryFrom<&OutputArgs> for Output {
    type Error = anyhow::Error;

    /// The format of a report (refusing binary output to a terminal) and its chart's file.
    fn try_from(out: &OutputArgs) -> anyhow::Result<Output> {
        if let Some(path) = &out.output {
            output_matches_format(path, out.format.map(Format::from))?;
        }
        let format = choose_format(out.format.map(Format::from), out.output.as_deref());
        if format == Format::Parquet && out.output.is_none() && std::io::stdout().is_terminal() {
            bail!(UsageError(
                "Parquet is binary: give --output FILE, or redirect stdout".into()
            ));
        }
        if let Some(chart) = &out.chart {
            let ext = chart
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase());
            if !matches!(ext.as_deref(), Some("svg" | "png")) {
                bail!(UsageError(format!(
                    "--chart {}: charts are drawn as SVG or PNG; give a FILE.svg or FILE.png",
                    visible(&chart.display().to_string())
                )));
            }
        }
        Ok(Output {
            format,
            path: out.output.clone(),
            chart: out.chart.clone(),
            layout: Layout {
                width: layout_width(out),
            },
        })
    }
}

/// `--width`; else, unless `--wide`, the terminal's width when the table goes to one (its
/// size, else `COLUMNS`); else no limit: a table piped or written to a file keeps every column.
fn layout_width(out: &OutputArgs) -> Option<usize> {
    if let Some(w) = out.width {
        return Some(usize::from(w));
    }
    if out.wide || out.output.is_some() || !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
}

/// The format an `--output` extension names, if it names one.
fn format_of_extension(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    Some(match ext.as_str() {
        "json" => Format::Json,
        "csv" => Format::Csv,
        "md" | "markdown" => Format::Markdown,
        "parquet" => Format::Parquet,
        "html" | "htm" => Format::Html,
        "txt" | "text" => Format::Table,
        _ => return None,
    })
}

/// Refuses, before any work, an `--output` whose extension says another format than
/// `--format`, and a chart's extension: a report named `.png` would be text in an image's name.
fn output_matches_format(path: &Path, format: Option<Format>) -> anyhow::Result<()> {
    let shown = visible(&path.display().to_string()).into_owned();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if matches!(ext.as_deref(), Some("png" | "svg")) {
        bail!(UsageError(format!(
            "--output {shown}: reports are text, JSON, CSV, Markdown, HTML or Parquet; a chart \
             is written with --chart {shown}"
        )));
    }
    if let (Some(asked), Some(named)) = (format, format_of_extension(path)) {
        if asked != named {
            bail!(UsageError(format!(
                "--output {shown} names {} output, but --format asks for {}: change one",
                format_name(named),
                format_name(asked)
            )));
        }
    }
    Ok(())
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Table => "table (text)",
        Format::Json => "JSON",
        Format::Csv => "CSV",
        Format::Markdown => "Markdown",
        Format::Parquet => "Parquet",
        Format::Html => "HTML",
    }
}

/// `--format`, else the extension of `--output`, else a table: piped output keeps the format a
/// terminal shows (as ripgrep and bat do); scripts ask for `--format json`.
fn choose_format(format: Option<Format>, output: Option<&Path>) -> Format {
    if let Some(f) = format {
        return f;
    }
    output
        .and_then(format_of_extension)
        .unwrap_or(Format::Table)
}

impl TryFrom<&TrailArgs> for AnalyzeConfig {
    type Error = anyhow::Error;

    /// The configuration every trail-reading command shares.
    fn try_from(args: &TrailArgs) -> anyhow::Result<AnalyzeConfig> {
        let mut inputs = Vec::new();
        for p in &args.paths {
            let text = p.to_string_lossy();
            inputs.push(if p.as_os_str() == "-" {
                InputSpec::Stdin
            } else if let Some(url) = S3Url::parse(&text) {
                InputSpec::S3(url.map_err(|e| UsageError(e.to_string()))?)
            } else {
                InputSpec::Path(p.clone())
            });
        }
        if inputs.iter().filter(|i| **i == InputSpec::Stdin).count() > 1 {
            bail!(UsageError("`-` (stdin) can be given once".into()));
        }
        for i in &inputs {
            if let InputSpec::Path(p) = i {
                if !p.exists() {
                    bail!(UsageError(format!(
                        "{}: no such file or directory",
                        visible(&p.display().to_string())
                    )));
                }
            }
        }
        if let (Some(s), Some(u)) = (args.since, args.until) {
            if s >= u {
                bail!(UsageError("--since must be before --until".into()));
            }
        }
        if args.threads == Some(0) {
            bail!(UsageError(
                "--threads 0: give 1 or more, or leave it out for one per core (KEYTRAIL_THREADS \
                 sets it too)"
                    .into()
            ));
        }
        let stderr_tty = std::io::stderr().is_terminal();
        let mut cfg = AnalyzeConfig {
            s3: S3Settings {
                endpoint_url: args.endpoint_url.clone(),
                profile: args.profile.clone(),
                requester_pays: args.request_payer,
                concurrency: args.s3_requests as usize,
                buffer_bytes: args.s3_buffer,
            },
            inputs,
            filters: Filters {
                since: args.since,
                until: args.until,
                accounts: args.account.clone(),
                regions: args.region.clone(),
                ..Filters::default()
            },
            group_by: GroupBy::Bucket,
            window_secs: args.window,
            object_window_secs: args.object_window,
            threads: args.threads.unwrap_or(0),
            strict: args.strict,
            limits: Limits {
                max_bytes: args.max_decompressed_bytes,
                max_ratio: args.max_ratio,
                max_record_bytes: args.max_record_bytes,
            },
            progress: stderr_tty && !args.quiet,
            print_problems: !args.quiet,
            keep_calls: false,
            memory_limit: None,
            engine_output: args.from.clone(),
        };
        from_engine(&mut cfg, false)?;
        Ok(cfg)
    }
}

/// With `--from DIR`: the settings the engine's job ran with, checked against the command
/// line's (and the folder checked to be an engine output before any work).
fn from_engine(cfg: &mut AnalyzeConfig, report_filters: bool) -> anyhow::Result<()> {
    let Some(dir) = cfg.engine_output.clone() else {
        return Ok(());
    };
    let usage = |e: crate::join::engine::EngineError| UsageError(e.to_string());
    let folder = crate::join::engine::Folder::open(&dir, &cfg.s3).map_err(usage)?;
    let manifest = crate::join::engine::manifest(&folder).map_err(usage)?;
    crate::join::engine::apply_settings(cfg, &manifest, report_filters).map_err(usage)?;
    Ok(())
}

/// The memory budget: `--memory-limit`, else the default for this machine.
pub fn memory_budget(args: &MemoryArgs) -> anyhow::Result<u64> {
    if args.memory_limit == Some(0) {
        bail!(UsageError(
            "--memory-limit 0: give a size such as 2GiB (KEYTRAIL_MEMORY_LIMIT sets it too)".into()
        ));
    }
    Ok(args
        .memory_limit
        .unwrap_or_else(crate::trail::spill::default_budget))
}

impl TryFrom<&AnalyzeArgs> for AnalyzeConfig {
    type Error = anyhow::Error;

    /// `analyze`'s configuration: the trail's, with its grouping and filters.
    fn try_from(args: &AnalyzeArgs) -> anyhow::Result<AnalyzeConfig> {
        let mut cfg = AnalyzeConfig::try_from(&args.trail)?;
        for p in &args.bucket_arn_prefix {
            if !p.starts_with("arn:") || !p.contains(":s3:::") {
                bail!(UsageError(format!(
                    "--bucket-arn-prefix {p:?} is not an S3 ARN prefix (arn:aws:s3:::bucket/prefix/)"
                )));
            }
        }
        cfg.group_by = GroupBy::parse(&args.group_by).map_err(|e| UsageError(e.0))?;
        let f = &mut cfg.filters;
        f.bucket_arn_prefixes = args.bucket_arn_prefix.clone();
        f.context = args.context.clone();
        f.event_names = args.event_name.clone();
        f.kms_keys = args.kms_key.clone();
        f.principals = args.principal.clone();
        cfg.memory_limit = Some(memory_budget(&args.memory)?);
        from_engine(&mut cfg, true)?;
        Ok(cfg)
    }
}

impl From<&CostArgs> for Prices {
    fn from(args: &CostArgs) -> Prices {
        Prices {
            per_10k_requests: args.price_per_10k,
            free_requests_per_month: args.free_tier,
            key_per_month: args.key_month,
            rotation_per_month: args.rotation_month,
            key_rotations: args.key_rotations,
            month_days: args.month_days,
            aws_managed_keys: args.aws_managed_key.clone(),
        }
    }
}

impl From<&QuotaArgs> for Quotas {
    fn from(args: &QuotaArgs) -> Quotas {
        Quotas {
            overrides: args.quotas.clone(),
        }
    }
}

impl TryFrom<&CheckArgs> for Thresholds {
    type Error = anyhow::Error;

    /// The thresholds file, if any, with the flags over it; refuses a check of nothing.
    fn try_from(args: &CheckArgs) -> anyhow::Result<Thresholds> {
        let mut t = match &args.thresholds {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Thresholds::parse(&text)
                    .map_err(|e| UsageError(format!("{}: {e}", path.display())))?
            }
            None => Thresholds::default(),
        };
        if args.max_calls_per_object.is_some() {
            t.max_calls_per_object = args.max_calls_per_object;
        }
        if !args.bucket.is_empty() {
            t.buckets = args.bucket.clone();
        }
        if args.max_quota_use.is_some() {
            t.max_quota_use = args.max_quota_use;
        }
        for (r, n) in &args.quotas {
            t.quota.insert(r.clone(), *n);
        }
        if t.is_empty() {
            bail!(UsageError(
                "nothing to check: give --max-calls-per-object, --max-quota-use, or --thresholds \
                 FILE"
                    .into()
            ));
        }
        Ok(t)
    }
}
