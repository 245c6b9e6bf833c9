//! `keytrail cost` and `keytrail quota`: the trail read keeping every KMS call, the what-if
//! replayed through the envelope engine, the report's document written.

use super::super::args::{CostArgs, EngineArgs, OutputArgs, QuotaArgs, TrailArgs};
use super::super::config::Output;
use super::super::exit::ExitCode;
use super::super::runner::{read_trail, window, write_report};
use crate::join::Joined;
use crate::pricing::{Prices, Quotas};
use crate::render::{self, doc::Doc, sanitize::visible};
use crate::reports;
use crate::trail::config::AnalyzeConfig;
use anyhow::bail;

const NO_EVENTS: &str = "the trail has no KMS or S3 events, so there is no window to project \
     from (check the paths and filters)";

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
    let bytes = render::render_doc(&doc, out.format)?;
    write_report(
        &out,
        &bytes,
        doc.charts.first(),
        &report.summary,
        &report.warnings,
        trail.quiet,
    )?;
    Ok(ExitCode::Success)
}
