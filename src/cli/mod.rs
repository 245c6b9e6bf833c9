//! The command line: parsed arguments ([`args`]) -> a validated config -> the command run ->
//! its output written -> an exit code ([`exit`]). Everything `main` does, so it can be tested
//! without a process. The only layer that knows about clap, terminals and exit codes.

pub mod args;
pub mod exit;
pub mod progress;

use crate::join::{self, Joined};
use crate::output;
use crate::render::{self, doc::Doc, sanitize::visible, Format};
use crate::reports;
use crate::source::decode::Limits;
use crate::trail::config::{AnalyzeConfig, Filters, GroupBy, InputSpec};
use crate::trail::Stopped;
use anyhow::{bail, Context};
use args::{
    AnalyzeArgs, CheckArgs, Cli, Command, CostArgs, OutputArgs, QuotaArgs, SimulateArgs, TrailArgs,
};
use exit::ExitCode;
use progress::Progress;
use std::io::IsTerminal;
use std::path::Path;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze(*args),
        Command::Cost(args) => cost(*args),
        Command::Quota(args) => quota(*args),
        Command::Check(args) => check(*args),
        Command::Simulate(args) => simulate(*args),
    }
}

fn simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    use crate::simulate::{self, builtin, scenario::Scenario};
    if args.list_builtins {
        for (name, description, _) in builtin::BUILTINS {
            println!("{name:14} {description}");
        }
        return Ok(ExitCode::Success);
    }
    let (text, source_name) = match (&args.builtin, &args.scenario) {
        (Some(name), _) => {
            let text = builtin::get(name).ok_or_else(|| {
                let names: Vec<_> = builtin::BUILTINS.iter().map(|b| b.0).collect();
                UsageError(format!(
                    "no built-in scenario {name:?}; there are: {}",
                    names.join(", ")
                ))
            })?;
            if args.print_scenario {
                print!("{}", text.trim_start());
                return Ok(ExitCode::Success);
            }
            (text.to_string(), format!("builtin:{name}"))
        }
        (None, Some(path)) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            path.display().to_string(),
        ),
        (None, None) => bail!(UsageError("give --scenario FILE or --builtin NAME".into())),
    };
    let scenario = Scenario::parse(&text, &source_name)
        .map_err(|e| UsageError(e.to_string()))?
        .scaled(args.scale);
    let out = args.out.as_deref().expect("clap requires --out");
    let mut sim = simulate::simulate(&scenario, args.seed);
    sim.origin = simulate::Origin {
        source: source_name,
        toml: text,
        scale: args.scale,
    };
    let files =
        simulate::write(&sim, out, args.force, args.threads.unwrap_or(0)).map_err(|e| match e {
            simulate::WriteError::NotEmpty(_) => anyhow::Error::new(UsageError(e.to_string())),
            e => e.into(),
        })?;
    eprintln!(
        "keytrail: wrote {files} files ({} S3 requests, {} KMS calls) to {}; true figures in {}",
        sim.requests.len(),
        sim.calls.len(),
        visible(&out.display().to_string()),
        visible(&out.join("manifest.json").display().to_string()),
    );
    Ok(ExitCode::Success)
}

/// A usage error found after clap: the message, and exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Reads and joins the trail, then runs `then` on it. `Err(code)`: the run stopped (strict,
/// Ctrl-C), already reported.
fn read_trail<T: Send>(
    cfg: &AnalyzeConfig,
    then: impl FnOnce(Joined, &Progress) -> T + Send,
) -> Result<T, ExitCode> {
    let observer = Progress::new(cfg.progress, cfg.print_problems);
    // Ctrl-C stops the run between chunks, so no output file is written half-way (outputs are
    // renamed into place only when whole). A second Ctrl-C exits at once.
    let interrupted = observer.interrupt_flag();
    let _ = ctrlc::set_handler(move || {
        if interrupted.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(ExitCode::Interrupted.code().into());
        }
    });
    let result = join::run(cfg, &observer, |j| then(j, &observer));
    observer.done();
    match result {
        Ok(t) => Ok(t),
        Err(Stopped::Strict(problem)) => {
            eprintln!(
                "keytrail: error: {} (--strict makes input problems fatal)",
                visible(&problem.to_string())
            );
            Err(ExitCode::InputProblem)
        }
        Err(Stopped::Interrupted) => {
            eprintln!("keytrail: interrupted; no report written");
            Err(ExitCode::Interrupted)
        }
    }
}

/// The format of a report, refusing binary output to a terminal.
fn output_format(out: &OutputArgs) -> anyhow::Result<Format> {
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
    Ok(format)
}

/// Writes a report, its chart, and the essentials on stderr when the report went to a file.
fn write_report(
    out: &OutputArgs,
    format: Format,
    bytes: &[u8],
    chart: Option<&crate::render::doc::Chart>,
    summary: &crate::summary::Summary,
    warnings: &[String],
    quiet: bool,
) -> anyhow::Result<()> {
    output::write(out.output.as_deref(), bytes)?;
    if let (Some(path), Some(chart)) = (&out.chart, chart) {
        output::write(Some(path), &render::chart::encode(chart, path)?)?;
    }
    if format != Format::Table && out.output.is_some() && !quiet {
        // The summary is in the file; say the essentials where the user is looking.
        eprintln!(
            "keytrail: {} records read from {} files: {} used, {} filtered out, {} rejected",
            summary.records.read,
            summary.files.read,
            summary.records.used,
            summary.filtered_total(),
            summary.rejected_total()
        );
        for w in warnings {
            eprintln!("keytrail: warning: {}", visible(w));
        }
    }
    Ok(())
}

fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let format = output_format(&args.out)?;
    let cfg = config(&args)?;
    let report = match read_trail(&cfg, |j, _| reports::calls::rows(&j, &cfg)) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let bytes = render::render(&report, format)?;
    let chart = render::chart::calls_per_object(&report);
    write_report(
        &args.out,
        format,
        &bytes,
        Some(&chart),
        &report.summary,
        &report.warnings,
        args.trail.quiet,
    )?;
    if let Some(path) = &args.expect {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let manifest: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let diffs = crate::simulate::expect::differences(&report, &manifest)
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        if !diffs.is_empty() {
            for d in &diffs {
                eprintln!("keytrail: differs: {}", visible(d));
            }
            eprintln!(
                "keytrail: {} figures differ from {}",
                diffs.len(),
                path.display()
            );
            return Ok(ExitCode::Mismatch);
        }
        if !args.trail.quiet {
            eprintln!("keytrail: the report matches {}", path.display());
        }
    }
    Ok(ExitCode::Success)
}

/// The window of a cost or quota report, or a usage error when the trail has no events.
fn window(cfg: &AnalyzeConfig, j: &Joined) -> Option<crate::reports::cost::Window> {
    crate::reports::cost::Window::of(
        cfg.filters.since,
        cfg.filters.until,
        j.summary.first_time,
        j.summary.last_time,
    )
}

const NO_EVENTS: &str = "the trail has no KMS or S3 events, so there is no window to project \
     from (check the paths and filters)";

fn cost(args: CostArgs) -> anyhow::Result<ExitCode> {
    let prices = crate::pricing::Prices {
        per_10k_requests: args.price_per_10k,
        free_requests_per_month: args.free_tier,
        key_per_month: args.key_month,
        month_days: args.month_days,
        aws_managed_keys: args.aws_managed_key.clone(),
    };
    projection(
        &args.trail,
        &args.out,
        &args.engine,
        |j, what_if, w, report| {
            let cost = crate::reports::cost::cost(j, what_if, &prices, w);
            render::cost::doc(&cost, &report.summary, &report.warnings)
        },
    )
}

fn quota(args: QuotaArgs) -> anyhow::Result<ExitCode> {
    let quotas = crate::pricing::Quotas {
        overrides: args.quotas.clone(),
    };
    projection(
        &args.trail,
        &args.out,
        &args.engine,
        |j, what_if, w, report| {
            let q = crate::reports::quota::quota(j, what_if, &quotas, w);
            render::quota::doc(&q, &report.summary, &report.warnings)
        },
    )
}

/// `cost` and `quota`: read the trail keeping every KMS call, group it (for the input summary
/// and warnings) while the engine replays it, build the report's document and write it.
fn projection(
    trail: &TrailArgs,
    out: &OutputArgs,
    engine: &args::EngineArgs,
    build: impl FnOnce(
            &Joined,
            &crate::reports::whatif::WhatIf,
            crate::reports::cost::Window,
            &reports::calls::Report,
        ) -> Doc
        + Send,
) -> anyhow::Result<ExitCode> {
    let format = output_format(out)?;
    let mut cfg = trail_config(trail)?;
    cfg.keep_calls = true;
    let params = engine.params();
    let result = read_trail(&cfg, |j, progress| {
        progress.stage("replaying S3 traffic through the envelope engine");
        let Some(w) = window(&cfg, &j) else {
            // Nothing to project from; the input is still accounted for.
            return Err(render::input_lines(&reports::calls::rows(&j, &cfg).summary));
        };
        let (report, what_if) = rayon::join(
            || reports::calls::rows(&j, &cfg),
            || crate::reports::whatif::project(&j, &params),
        );
        Ok((build(&j, &what_if, w, &report), report))
    });
    let (doc, report) = match result {
        Ok(Ok(done)) => done,
        Ok(Err(input)) => {
            for line in input {
                eprintln!("keytrail: {}", visible(&line));
            }
            bail!(NO_EVENTS)
        }
        Err(code) => return Ok(code),
    };
    let bytes = render::render_doc(&doc, format)?;
    write_report(
        out,
        format,
        &bytes,
        doc.charts.first(),
        &report.summary,
        &report.warnings,
        trail.quiet,
    )?;
    Ok(ExitCode::Success)
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    use crate::reports::check::{self, Thresholds, Verdict};
    let mut t = match &args.thresholds {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Thresholds::parse(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())))?
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
            "nothing to check: give --max-calls-per-object, --max-quota-use, or --thresholds FILE"
                .into()
        ));
    }
    let mut cfg = trail_config(&args.trail)?;
    cfg.keep_calls = t.max_quota_use.is_some();
    let quotas = crate::pricing::Quotas {
        overrides: t.quota.iter().map(|(r, n)| (r.clone(), *n)).collect(),
    };
    let result = read_trail(&cfg, |j, _| {
        let report = reports::calls::rows(&j, &cfg);
        let q = window(&cfg, &j).map(|w| {
            let what_if = crate::reports::whatif::WhatIf::default();
            crate::reports::quota::quota(&j, &what_if, &quotas, w)
        });
        check::evaluate(&report, q.as_ref(), &t)
    });
    let outcomes = match result {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let count = |v: Verdict| outcomes.iter().filter(|o| o.verdict == v).count();
    let (failed, not_checked) = (count(Verdict::Fail), count(Verdict::NotChecked));
    if args.json {
        let mut out = serde_json::to_vec_pretty(&check::json(&outcomes))?;
        out.push(b'\n');
        output::write(None, &out)?;
    } else {
        let mut text = String::new();
        for o in &outcomes {
            text.push_str(&format!(
                "{} {}\n",
                match o.verdict {
                    Verdict::Pass => "ok  ",
                    Verdict::Fail => "FAIL",
                    Verdict::NotChecked => "N/A ",
                },
                visible(&o.message)
            ));
        }
        output::write(None, text.as_bytes())?;
    }
    if failed > 0 {
        eprintln!(
            "keytrail: check: {failed} of {} checks failed",
            outcomes.len()
        );
        return Ok(ExitCode::Violation);
    }
    if not_checked > 0 {
        eprintln!(
            "keytrail: check: {not_checked} of {} checks could not be evaluated on this input \
             (see why above): not a pass",
            outcomes.len()
        );
        return Ok(ExitCode::NotChecked);
    }
    if !args.trail.quiet {
        eprintln!("keytrail: check: all {} checks passed", outcomes.len());
    }
    Ok(ExitCode::Success)
}

/// `--format`, else the extension of `--output`, else a table on a terminal and JSON elsewhere.
fn choose_format(format: Option<Format>, output: Option<&Path>) -> Format {
    if let Some(f) = format {
        return f;
    }
    let ext = output
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("md") | Some("markdown") => Format::Markdown,
        Some("parquet") => Format::Parquet,
        Some("html") | Some("htm") => Format::Html,
        Some(_) => Format::Table,
        None if std::io::stdout().is_terminal() => Format::Table,
        None => Format::Json,
    }
}

fn config(args: &AnalyzeArgs) -> anyhow::Result<AnalyzeConfig> {
    let mut cfg = trail_config(&args.trail)?;
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
    Ok(cfg)
}

/// The configuration every trail-reading command shares.
fn trail_config(args: &TrailArgs) -> anyhow::Result<AnalyzeConfig> {
    let inputs = args
        .paths
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                InputSpec::Stdin
            } else {
                InputSpec::Path(p.clone())
            }
        })
        .collect::<Vec<_>>();
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
        bail!(UsageError("--threads needs at least 1".into()));
    }
    let stderr_tty = std::io::stderr().is_terminal();
    Ok(AnalyzeConfig {
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
    })
}
