//! `keytrail analyze`: the rows, their chart, and `--expect`'s comparison with a manifest.

use super::super::args::AnalyzeArgs;
use super::super::config::Output;
use super::super::exit::{ExitCode, UsageError};
use super::super::runner::{about, nothing_to_report, read_trail_in_parts, write_report};
use crate::render::{self, sanitize::visible};
use crate::reports;
use crate::trail::config::AnalyzeConfig;
use anyhow::Context;
use std::collections::BTreeSet;

/// `keytrail analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let out = Output::try_from(&args.out)?;
    let cfg = AnalyzeConfig::try_from(&args)?;
    // The chart sets each bucket against its what-if: replayed only when a chart is drawn.
    let charted = out.chart.is_some() || out.format == render::Format::Html;
    let params = args.engine.params();
    // Past the memory budget the trail is joined a group of buckets at a time: each part's
    // rows and chart bars, then the report of them all.
    let read = read_trail_in_parts(&cfg, |parts, progress| {
        parts.each(|j| {
            if !charted {
                return (reports::calls::part(j, &cfg), Vec::new());
            }
            progress.stage("replaying S3 traffic through the envelope engine");
            let (part, what_if) = rayon::join(
                || reports::calls::part(j, &cfg),
                || reports::whatif::project(j, &params),
            );
            let buckets: BTreeSet<String> = part.buckets().map(str::to_string).collect();
            let counterparts = reports::whatif::counterparts(j, &what_if, Some(&buckets));
            (part, counterparts)
        })
    });
    let (parts, counterparts): (Vec<_>, Vec<_>) = match read {
        Ok(r) => r.into_iter().unzip(),
        Err(code) => return Ok(code),
    };
    let report = reports::calls::finish(parts, &cfg);
    let mut counterparts: Vec<_> = counterparts.into_iter().flatten().collect();
    counterparts.sort_by(|a, b| (&a.account, &a.bucket).cmp(&(&b.account, &b.bucket)));
    let bytes = if out.format == render::Format::Html {
        let mut doc = render::analyze_doc(&report, &counterparts);
        doc.about = about(&report.summary);
        render::render_doc(&doc, out.format, out.layout)?
    } else {
        render::render(&report, &[], out.format, out.layout)?
    };
    let chart = render::chart::calls_per_object(&counterparts);
    write_report(
        &out,
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
    if let Some(why) = nothing_to_report(&report.summary) {
        eprintln!("keytrail: nothing to report: {}", visible(&why));
        return Ok(ExitCode::NotChecked);
    }
    Ok(ExitCode::Success)
}
