//! `keytrail cost` and `keytrail quota`: the trail read keeping every KMS call, the what-if
//! replayed through the envelope engine, the report's document written.

use super::super::args::{CostArgs, EngineArgs, MemoryArgs, OutputArgs, QuotaArgs, TrailArgs};
use super::super::config::Output;
use super::super::exit::ExitCode;
use super::super::runner::{about, nothing_to_report, read_trail_in_parts, window, write_report};
use crate::join::{Joined, Parts};
use crate::pricing::{Prices, Quotas};
use crate::render::{self, doc::Doc, sanitize::visible};
use crate::reports;
use crate::reports::cost::Window;
use crate::reports::whatif::WhatIf;
use crate::trail::config::AnalyzeConfig;
use crate::trail::Stopped;

/// `keytrail cost`.
pub fn cost(args: CostArgs) -> anyhow::Result<ExitCode> {
    let prices = Prices::from(&args);
    projection(
        &args.trail,
        &args.memory,
        &args.out,
        &args.engine,
        crate::reports::cost::part,
        |parts, w, _, report| {
            let cost = crate::reports::cost::finish(parts, &prices, w);
            Ok(render::cost::doc(&cost, &report.summary, &report.warnings))
        },
    )
}

/// `keytrail quota`.
pub fn quota(args: QuotaArgs) -> anyhow::Result<ExitCode> {
    let quotas = Quotas::from(&args);
    projection(
        &args.trail,
        &args.memory,
        &args.out,
        &args.engine,
        crate::reports::quota::part,
        |parts, w, all, report| {
            // The peak seconds are known once every part is counted: a second look at the
            // parts names their callers.
            let totals = crate::reports::quota::totals(parts);
            let peaks = totals.peaks();
            let callers = all
                .each_calls(super::super::runner::PEAK_CALLERS, |strings, calls| {
                    crate::reports::quota::contributors(strings, calls, &peaks)
                })?;
            let q = crate::reports::quota::finish(totals, callers, &quotas, w);
            Ok(render::quota::doc(&q, &report.summary, &report.warnings))
        },
    )
}

/// `cost` and `quota`: read the trail keeping every KMS call, and a part at a time (one
/// within the memory budget) group it (for the input summary and warnings) while the engine
/// replays it, and count it (`part`); then build the report's document of the parts' counts
/// (`finish`, which may look at the parts again) and write it.
fn projection<P: Send>(
    trail: &TrailArgs,
    memory_limit: &MemoryArgs,
    out: &OutputArgs,
    engine: &EngineArgs,
    part: impl Fn(&Joined, &WhatIf) -> P + Sync + Send,
    finish: impl FnOnce(Vec<P>, Window, &Parts, &reports::calls::Report) -> Result<Doc, Stopped> + Send,
) -> anyhow::Result<ExitCode> {
    let out = Output::try_from(out)?;
    let mut cfg = AnalyzeConfig::try_from(trail)?;
    cfg.keep_calls = true;
    cfg.memory_limit = Some(super::super::config::memory_budget(memory_limit)?);
    let params = engine.params();
    let result = read_trail_in_parts(&cfg, |all, progress| {
        let parts = all.each(|j| {
            progress.stage("replaying S3 traffic through the envelope engine");
            let (rows, what_if) = rayon::join(
                || reports::calls::part(j, &cfg),
                || crate::reports::whatif::project(j, &params),
            );
            (rows, part(j, &what_if))
        })?;
        let (rows, counts): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        let report = reports::calls::finish(rows, &cfg);
        let Some(w) = window(&cfg, &report.summary) else {
            // Nothing to project from; the input is still accounted for.
            return Ok(Err(Box::new(report.summary)));
        };
        Ok(Ok((finish(counts, w, all, &report)?, report)))
    });
    let (mut doc, report) = match result {
        Ok(Ok(done)) => done,
        Ok(Err(summary)) => {
            if !trail.quiet {
                for line in render::input_lines(&summary) {
                    eprintln!("keytrail: {}", visible(&line));
                }
            }
            let why = nothing_to_report(&summary)
                .unwrap_or_else(|| "the input has no event time to project from".into());
            eprintln!(
                "keytrail: nothing to report: {}; no report written (--since and --until give \
                 a window to project from)",
                visible(&why)
            );
            return Ok(ExitCode::NotChecked);
        }
        Err(code) => return Ok(code),
    };
    doc.about = about(&report.summary);
    let bytes = render::render_doc(&doc, out.format, out.layout)?;
    write_report(
        &out,
        &bytes,
        doc.charts.first(),
        &report.summary,
        &report.warnings,
        trail.quiet,
    )?;
    if let Some(why) = nothing_to_report(&report.summary) {
        eprintln!("keytrail: nothing to report: {}", visible(&why));
        return Ok(ExitCode::NotChecked);
    }
    Ok(ExitCode::Success)
}
