//! `keytrail check`: thresholds over calls per object and quota use, as a CI gate.

use super::super::args::CheckArgs;
use super::super::exit::ExitCode;
use super::super::runner::{nothing_to_report, read_trail, window};
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
    let result = read_trail(&cfg, |j, _| {
        let report = reports::calls::rows(&j, &cfg);
        let q = window(&cfg, &j.summary).map(|w| {
            let what_if = crate::reports::whatif::WhatIf::default();
            crate::reports::quota::quota(&j, &what_if, &quotas, w)
        });
        let why = nothing_to_report(&report.summary);
        (check::evaluate(&report, q.as_ref(), &t), why)
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
