//! What every command does around its own work: reading and joining the trail with a progress
//! bar and Ctrl-C handling, and writing a report, its chart and the essentials on stderr.

use super::config::Output;
use super::exit::ExitCode;
use super::progress::Progress;
use crate::join::{self, Joined};
use crate::output;
use crate::render::{self, sanitize::visible, Format};
use crate::trail::config::{AnalyzeConfig, InputSpec};
use crate::trail::Stopped;

/// Reads and joins the trail, then runs `then` on it. `Err(code)`: the run stopped (strict,
/// Ctrl-C), already reported.
pub fn read_trail<T: Send>(
    cfg: &AnalyzeConfig,
    then: impl FnOnce(Joined, &Progress) -> T + Send,
) -> Result<T, ExitCode> {
    let observer = Progress::new(cfg.progress, cfg.print_problems);
    // `-` on a terminal waits for typing or a paste: say so, rather than look hung.
    if cfg.print_problems
        && cfg.inputs.contains(&InputSpec::Stdin)
        && std::io::IsTerminal::is_terminal(&std::io::stdin())
    {
        eprintln!("keytrail: reading CloudTrail JSON from standard input (end it with Ctrl-D)");
    }
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
        Err(Stopped::S3(e)) => {
            eprintln!("keytrail: error: {}", visible(&e.to_string()));
            Err(ExitCode::Failure)
        }
    }
}

/// Writes a report, its chart, and the essentials on stderr when the report went to a file.
pub fn write_report(
    out: &Output,
    bytes: &[u8],
    chart: Option<&crate::render::doc::Chart>,
    summary: &crate::summary::Summary,
    warnings: &[String],
    quiet: bool,
) -> anyhow::Result<()> {
    output::write(out.path.as_deref(), bytes)?;
    if let (Some(path), Some(chart)) = (&out.chart, chart) {
        output::write(Some(path), &render::chart::encode(chart, path)?)?;
    }
    if out.format != Format::Table && out.path.is_some() && !quiet {
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

/// The window of a cost or quota report, or a usage error when the trail has no events.
pub fn window(cfg: &AnalyzeConfig, j: &Joined) -> Option<crate::reports::cost::Window> {
    crate::reports::cost::Window::of(
        cfg.filters.since,
        cfg.filters.until,
        j.summary.first_time,
        j.summary.last_time,
    )
}
