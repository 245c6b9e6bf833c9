//! `keytrail simulate`: a scenario (a file or a built-in) -> a trail and its manifest.

use super::super::args::SimulateArgs;
use super::super::exit::{ExitCode, UsageError};
use crate::render::sanitize::visible;
use crate::simulate::{self, builtin, scenario::Scenario};
use anyhow::{bail, Context};

/// `keytrail simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    if args.list_builtins {
        let list: String = builtin::BUILTINS
            .iter()
            .map(|(name, description, _)| format!("{name:14} {description}\n"))
            .collect();
        crate::output::write(None, list.as_bytes())?;
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
                crate::output::write(None, text.trim_start().as_bytes())?;
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
    // A big scenario takes a while: say what is going on (on a terminal only).
    let spinner = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let s = indicatif::ProgressBar::with_draw_target(
            None,
            indicatif::ProgressDrawTarget::stderr_with_hz(4),
        );
        s.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .expect("a valid template"),
        );
        s.enable_steady_tick(std::time::Duration::from_millis(250));
        s
    } else {
        indicatif::ProgressBar::hidden()
    };
    spinner.set_message("simulating S3 traffic through the envelope engine");
    let mut sim = simulate::simulate(&scenario, args.seed);
    sim.origin = simulate::Origin {
        source: source_name,
        toml: text,
        scale: args.scale,
    };
    let written = simulate::write(&sim, out, args.force, args.threads.unwrap_or(0), &|n| {
        if n % 16 == 0 {
            spinner.set_message(format!("writing CloudTrail files: {n} written"));
        }
    })
    .map_err(|e| match e {
        simulate::WriteError::NotEmpty(_) => anyhow::Error::new(UsageError(e.to_string())),
        e => e.into(),
    })?;
    spinner.finish_and_clear();
    let files = written.files;
    eprintln!(
        "keytrail: wrote {files} file{} ({} S3 requests, {} KMS calls) to {}; true figures in {}",
        if files == 1 { "" } else { "s" },
        written.s3_requests,
        written.kms_calls,
        visible(&out.display().to_string()),
        visible(&out.join("manifest.json").display().to_string()),
    );
    Ok(ExitCode::Success)
}
