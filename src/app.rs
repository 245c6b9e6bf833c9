//! From parsed arguments to an exit code: validate them into a config, run the command, write
//! its output. Everything `main` does, so it can be tested without a process.

use crate::analyze::{self, Stopped};
use crate::cli::{AnalyzeArgs, Cli, Command, SimulateArgs};
use crate::config::{AnalyzeConfig, Filters, GroupBy, InputSpec};
use crate::exit::ExitCode;
use crate::output;
use crate::progress::Progress;
use crate::report::{self, sanitize::visible, Format};
use crate::source::decode::Limits;
use anyhow::{bail, Context};
use std::io::IsTerminal;
use std::path::Path;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze(*args),
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
    let files = simulate::write(&sim, out, args.force, args.threads.unwrap_or(0))?;
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

fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let format = choose_format(args.format, args.output.as_deref());
    if format == Format::Parquet && args.output.is_none() && std::io::stdout().is_terminal() {
        bail!(UsageError(
            "Parquet is binary: give --output FILE, or redirect stdout".into()
        ));
    }
    let cfg = config(&args)?;
    let observer = Progress::new(cfg.progress, cfg.print_problems);
    // Ctrl-C stops the run between chunks, so no output file is written half-way (outputs are
    // renamed into place only when whole). A second Ctrl-C exits at once.
    let interrupted = observer.interrupt_flag();
    let _ = ctrlc::set_handler(move || {
        if interrupted.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(ExitCode::Interrupted.code().into());
        }
    });
    let report = match analyze::run(&cfg, &observer) {
        Ok(r) => r,
        Err(Stopped::Strict(problem)) => {
            eprintln!(
                "keytrail: error: {} (--strict makes input problems fatal)",
                visible(&problem.to_string())
            );
            return Ok(ExitCode::InputProblem);
        }
        Err(Stopped::Interrupted) => {
            eprintln!("keytrail: interrupted; no report written");
            return Ok(ExitCode::Interrupted);
        }
    };
    let bytes = report::render(&report, format)?;
    output::write(args.output.as_deref(), &bytes)?;
    if let Some(path) = &args.expect {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let manifest: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let diffs = crate::expect::differences(&report, &manifest)
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
        if !args.quiet {
            eprintln!("keytrail: the report matches {}", path.display());
        }
    }
    if format != Format::Table && args.output.is_some() && !args.quiet {
        // The summary is in the file; say the essentials where the user is looking.
        let s = &report.summary;
        eprintln!(
            "keytrail: {} records read from {} files: {} used, {} filtered out, {} rejected",
            s.records.read,
            s.files.read,
            s.records.used,
            s.filtered_total(),
            s.rejected_total()
        );
        for w in &report.warnings {
            eprintln!("keytrail: warning: {}", visible(w));
        }
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
        Some(_) => Format::Table,
        None if std::io::stdout().is_terminal() => Format::Table,
        None => Format::Json,
    }
}

fn config(args: &AnalyzeArgs) -> anyhow::Result<AnalyzeConfig> {
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
    for p in &args.bucket_arn_prefix {
        if !p.starts_with("arn:") || !p.contains(":s3:::") {
            bail!(UsageError(format!(
                "--bucket-arn-prefix {p:?} is not an S3 ARN prefix (arn:aws:s3:::bucket/prefix/)"
            )));
        }
    }
    let group_by = GroupBy::parse(&args.group_by).map_err(UsageError)?;
    if args.threads == Some(0) {
        bail!(UsageError("--threads needs at least 1".into()));
    }
    let stderr_tty = std::io::stderr().is_terminal();
    Ok(AnalyzeConfig {
        inputs,
        filters: Filters {
            since: args.since,
            until: args.until,
            bucket_arn_prefixes: args.bucket_arn_prefix.clone(),
            context: args.context.clone(),
            event_names: args.event_name.clone(),
            kms_keys: args.kms_key.clone(),
            accounts: args.account.clone(),
            regions: args.region.clone(),
            principals: args.principal.clone(),
        },
        group_by,
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
    })
}
