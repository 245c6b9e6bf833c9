//! `keytrail cost` and `keytrail quota`: the trail read keeping every KMS call, the what-if
//! replayed through the envelope engine, the report's document written.

use super::super::args::{CostArgs, EngineArgs, OutputArgs, QuotaArgs, TrailArgs};
use super::super::config::Output;
use super::super::exit::ExitCode;
use super::super::runner::{about, nothing_to_report, read_trail, window, write_report};
use crate::join::Joined;
use crate::pricing::{Prices, Quotas};
use crate::render::{self, doc::Doc, sanitize::visible};
use crate::reports;
use crate::trail::config::AnalyzeConfig;

/// `keytrail cost`.
pub fn cost(args: CostArgs) -> anyhow::Result<ExitCode> {
    let prices = Prices::from(&args);
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

/// `keytrail quota`.
pub fn quota(args: QuotaArgs) -> anyhow::Result<ExitCode> {
    let quotas = Quotas::from(&args);
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
    engine: &EngineArgs,
    build: impl FnOnce(
            &Joined,
            &crate::reports::whatif::WhatIf,
            crate::reports::cost::Window,
            &reports::calls::Report,
        ) -> Doc
        + Send,
) -> anyhow::Result<ExitCode> {
    let out = Output::try_from(out)?;
    let mut cfg = AnalyzeConfig::try_from(trail)?;
    cfg.keep_calls = true;
    let params = engine.params();
    let result = read_trail(&cfg, |j, progress| {
        progress.stage("replaying S3 traffic through the envelope engine");
        let Some(w) = window(&cfg, &j) else {
            // Nothing to project from; the input is still accounted for.
            return Err(Box::new(reports::calls::rows(&j, &cfg).summary));
        };
        let (report, what_if) = rayon::join(
            || reports::calls::rows(&j, &cfg),
            || crate::reports::whatif::project(&j, &params),
        );
        Ok((build(&j, &what_if, w, &report), report))
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
