//! `keytrail check`: thresholds over calls per object and quota use, as a CI gate.

use super::super::args::CheckArgs;
use super::super::config::memory_budget;
use super::super::exit::ExitCode;
use super::super::runner::{nothing_to_report, read_trail_in_parts, window};
use crate::output;
use crate::render;
use crate::reports::{
    self,
    check::{self, Thresholds, Verdict},
};
use crate::trail::config::AnalyzeConfig;

/// `keytrail check`.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let t = Thresholds::try_from(&args)?;
    let mut cfg = AnalyzeConfig::try_from(&args.trail)?;
    cfg.keep_calls = t.max_quota_use.is_some();
    let quotas = crate::pricing::Quotas {
        overrides: t.quota.iter().map(|(r, n)| (r.clone(), *n)).collect(),
    };
    cfg.memory_limit = Some(memory_budget(&args.memory)?);
    // A part at a time past the memory budget: each part's rows and quota counts, added up;
    // the quota's peak seconds named in a second look at the parts.
    let result = read_trail_in_parts(&cfg, |parts, _| {
        let counted = parts.each(|j| {
            let what_if = crate::reports::whatif::WhatIf::default();
            (
                reports::calls::part(j, &cfg),
                crate::reports::quota::part(j, &what_if),
            )
        })?;
        let (rows, quota_parts): (Vec<_>, Vec<_>) = counted.into_iter().unzip();
        let report = reports::calls::finish(rows, &cfg);
        let q = match window(&cfg, &report.summary) {
            Some(w) => {
                let totals = crate::reports::quota::totals(quota_parts);
                let peaks = totals.peaks();
                // Without a quota threshold no call is kept: no caller to name.
                let callers = if cfg.keep_calls {
                    parts.each_calls(super::super::runner::PEAK_CALLERS, |strings, calls| {
                        crate::reports::quota::contributors(strings, calls, &peaks)
                    })?
                } else {
                    Vec::new()
                };
                Some(crate::reports::quota::finish(totals, callers, &quotas, w))
            }
            None => None,
        };
        let why = nothing_to_report(&report.summary);
        Ok((check::evaluate(&report, q.as_ref(), &t), why))
    });
    let (outcomes, empty) = match result {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let count = |v: Verdict| outcomes.iter().filter(|o| o.verdict == v).count();
    let (failed, not_checked) = (count(Verdict::Fail), count(Verdict::NotChecked));
    if args.json {
        let mut out = serde_json::to_vec_pretty(&render::check::json(&outcomes))?;
        out.push(b'\n');
        output::write(None, &out)?;
    } else {
        output::write(None, render::check::text(&outcomes).as_bytes())?;
    }
    if failed > 0 {
        eprintln!(
            "keytrail: check: {failed} of {} checks failed",
            outcomes.len()
        );
        return Ok(ExitCode::Violation);
    }
    if let Some(why) = empty {
        eprintln!(
            "keytrail: check: nothing to check: {}; not a pass",
            crate::render::sanitize::visible(&why)
        );
        return Ok(ExitCode::NotChecked);
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
