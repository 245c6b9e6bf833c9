//! What every command does around its own work: reading and joining the trail with a progress
//! bar and Ctrl-C handling, and writing a report, its chart and the essentials on stderr.

use super::config::Output;
use super::exit::ExitCode;
use super::progress::Progress;
use crate::join;
use crate::output;
use crate::render::{self, sanitize::visible, Format};
use crate::trail::config::{AnalyzeConfig, InputSpec};
use crate::trail::Stopped;

/// What quota's second look at the parts does, for the progress line.
pub const PEAK_CALLERS: &str = "naming the callers of the peak seconds";

/// Reads and joins the trail, then runs `then` on its parts (`join::Parts`: one part within
/// the memory budget).
pub fn read_trail_in_parts<T: Send>(
    cfg: &AnalyzeConfig,
    then: impl FnOnce(&join::Parts, &Progress) -> Result<T, Stopped> + Send,
) -> Result<T, ExitCode> {
    reading(cfg, |observer| {
        join::run_in_parts(cfg, observer, |parts| then(parts, observer))
    })
}

/// A run of `read` with the progress bar and Ctrl-C, its stop reported.
fn reading<T>(
    cfg: &AnalyzeConfig,
    read: impl FnOnce(&Progress) -> Result<T, Stopped>,
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
    // renamed into place only when whole). A second Ctrl-C exits at once, removing the
    // temporary files of a spill first (an exit runs no destructor).
    let interrupted = observer.interrupt_flag();
    let _ = ctrlc::set_handler(move || {
        if interrupted.swap(true, std::sync::atomic::Ordering::SeqCst) {
            crate::trail::spill::remove_all();
            std::process::exit(ExitCode::Interrupted.code().into());
        }
    });
    let result = read(&observer);
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
        Err(Stopped::Input(e)) => {
            eprintln!("keytrail: error: {}", visible(&e));
            Err(ExitCode::Failure)
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
pub fn window(
    cfg: &AnalyzeConfig,
    summary: &crate::summary::Summary,
) -> Option<crate::reports::cost::Window> {
    crate::reports::cost::Window::of(
        cfg.filters.since,
        cfg.filters.until,
        summary.first_time,
        summary.last_time,
    )
}

/// "1 file", "2 files"; "1 file was", "2 files were".
fn plural(n: u64, what: &str) -> String {
    let count = crate::text::thousands(&n.to_string());
    match (n, what.strip_suffix(" was")) {
        (1, _) => format!("{count} {what}"),
        (_, Some(noun)) => format!("{count} {noun}s were"),
        (_, None) => format!("{count} {what}s"),
    }
}

/// Why a run has nothing to report, when the input (after filters) holds no KMS call or S3
/// request: which of "no file", "no record", "every record filtered out" or "rejected" it
/// was, and what to try. `None` when something was used.
pub fn nothing_to_report(s: &crate::summary::Summary) -> Option<String> {
    if s.records.used > 0 {
        return None;
    }
    let n = |v: u64| crate::text::thousands(&v.to_string());
    let reasons = |m: &crate::summary::Reasons| {
        m.iter()
            .map(|(k, v)| format!("{k} {}", n(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(if s.files.read == 0 {
        let skipped: u64 = s.files.skipped.values().sum();
        if let Some(first) = s.problems.first() {
            format!(
                "no input file was read: {} (first: {first})",
                plural(s.problems_total, "problem"),
            )
        } else if skipped > 0 {
            format!(
                "no input file was read: {} skipped by path ({}); --account, --region, \
                 --since and --until skip files by their delivered path",
                plural(skipped, "file was"),
                reasons(&s.files.skipped)
            )
        } else {
            "no input file was read: check the paths (a trail is delivered as \
             AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz)"
                .to_string()
        }
    } else if s.records.read == 0 {
        let skipped: u64 = s.files.skipped.values().sum();
        format!(
            "the {} read hold{} no CloudTrail records{}",
            plural(s.files.read, "file"),
            if s.files.read == 1 { "s" } else { "" },
            if skipped == 0 {
                String::new()
            } else {
                format!(
                    ", and {} skipped by path ({}): --account, --region, --since and --until \
                     skip files by their delivered path",
                    plural(skipped, "file was"),
                    reasons(&s.files.skipped)
                )
            }
        )
    } else if s.rejected_total() == s.records.read {
        format!(
            "every one of the {} records read was rejected ({}): is this CloudTrail JSON?",
            n(s.records.read),
            reasons(&s.records.rejected)
        )
    } else {
        let by_a_filter = s
            .records
            .filtered_out
            .keys()
            .any(|k| crate::reason::USER_FILTERS.contains(&k.as_str()));
        if !by_a_filter && s.rejected_total() == 0 {
            format!(
                "none of the {} records read is a KMS call or a request for an SSE-KMS object \
                 ({}): does the trail log S3 data events and KMS management events, and are \
                 the objects SSE-KMS?",
                n(s.records.read),
                reasons(&s.records.filtered_out)
            )
        } else {
            format!(
                "every KMS and S3 event was filtered out or rejected ({}{}{}): loosen the \
                 filters, or check their values",
                reasons(&s.records.filtered_out),
                if s.records.rejected.is_empty() {
                    ""
                } else {
                    "; rejected: "
                },
                reasons(&s.records.rejected)
            )
        }
    })
}

/// How a shared report was made, for its reader: the command line as given (the paths and
/// filters), what it read and the time span, and when, by which
/// version (`SOURCE_DATE_EPOCH`, when set, fixes the time for reproducible output).
pub fn about(summary: &crate::summary::Summary) -> Vec<String> {
    let words: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect();
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let span = match (summary.first_time, summary.last_time) {
        (Some(a), Some(b)) => format!(
            "{} to {}",
            crate::render::format_time(a),
            crate::render::format_time(b)
        ),
        _ => "no event times".into(),
    };
    vec![
        format!("command: keytrail {}", words.join(" ")),
        format!(
            "input: {} files, {} records, KMS and S3 events from {span}",
            crate::text::thousands(&summary.files.read.to_string()),
            crate::text::thousands(&summary.records.read.to_string()),
        ),
        format!(
            "made {} by keytrail {}",
            crate::render::format_time(now),
            env!("CARGO_PKG_VERSION")
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(filtered: &[(&str, u64)]) -> crate::summary::Summary {
        let mut s = crate::summary::Summary::default();
        s.files.read = 1;
        for (reason, n) in filtered {
            s.records.read += n;
            s.records.filtered_out.insert(reason.to_string(), *n);
        }
        s
    }

    /// A trail of SSE-S3 traffic and other services is not a filter that went wrong: the
    /// message must not send the user to loosen filters they never gave.
    #[test]
    fn only_a_users_filters_are_blamed_for_nothing_to_report() {
        use crate::reason as r;
        let plain = summary(&[
            (r::S3_NOT_SSE_KMS, 5),
            (r::OTHER_SERVICE, 7),
            (r::DUPLICATE, 1),
        ]);
        let why = nothing_to_report(&plain).unwrap();
        assert!(
            why.starts_with("none of the 13 records read is a KMS call"),
            "{why}"
        );
        let filtered = summary(&[(r::FILTER_PRINCIPAL, 5), (r::OTHER_SERVICE, 7)]);
        let why = nothing_to_report(&filtered).unwrap();
        assert!(
            why.starts_with("every KMS and S3 event was filtered out"),
            "{why}"
        );
        let mut used = plain;
        used.records.used = 1;
        assert_eq!(nothing_to_report(&used), None);
    }
}
