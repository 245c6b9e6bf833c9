//! `analyze --expect manifest.json`: compare a report with a simulator's manifest.
//!
//! Compared per bucket, group and mode: S3 requests and KMS calls by operation, distinct
//! objects and refused S3 requests, from the manifest section that matches the report's
//! grouping (`groups` for `bucket`, `by_principal`, `by_kms_key`); and the records set apart
//! that the simulation fixes (`expected.filtered`: not SSE-KMS, reads of such objects, copies
//! delivered to a second account). These are the figures the analyzer observes; the
//! manifest's `truth` section (prefix attribution) is an estimate's target, not an exact
//! expectation, and is not compared here.

use crate::event::{KmsOp, S3Op};
use crate::reports::calls::Report;
use serde_json::Value;
use std::collections::BTreeMap;

/// Figures of one (bucket, mode).
type Figures = BTreeMap<String, u64>;

/// A manifest `--expect` cannot compare with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

/// The differences between `report` and `manifest`, one line each; empty when they agree.
pub fn differences(report: &Report, manifest: &Value) -> Result<Vec<String>, ManifestError> {
    if manifest.get("schema").and_then(Value::as_str) != Some(crate::simulate::manifest::SCHEMA) {
        return Err(ManifestError(format!(
            "not a keytrail manifest (expected \"schema\": \"{}\")",
            crate::simulate::manifest::SCHEMA
        )));
    }
    let section = match report.settings.group_by.as_str() {
        "bucket" => "groups",
        "principal" => "by_principal",
        "kms-key" => "by_kms_key",
        other => {
            return Err(ManifestError(format!(
                "the manifest has no figures grouped by {other}: use --group-by bucket, principal or kms-key with --expect"
            )))
        }
    };
    let groups = manifest
        .pointer(&format!("/expected/{section}"))
        .and_then(Value::as_array)
        .ok_or_else(|| ManifestError(format!("the manifest has no expected.{section}")))?;
    let mut expected: BTreeMap<(String, String, String), Figures> = BTreeMap::new();
    for g in groups {
        let key = (
            g["bucket"].as_str().unwrap_or("").to_string(),
            g["group"].as_str().unwrap_or("").to_string(),
            g["mode"].as_str().unwrap_or("").to_string(),
        );
        let mut f = Figures::new();
        for section in ["s3_requests", "kms_calls"] {
            if let Some(m) = g[section].as_object() {
                for (op, n) in m {
                    if op != "total" {
                        f.insert(op.clone(), n.as_u64().unwrap_or(0));
                    }
                }
            }
        }
        f.insert("objects".into(), g["objects"].as_u64().unwrap_or(0));
        f.insert("s3_errors".into(), g["s3_errors"].as_u64().unwrap_or(0));
        expected.insert(key, f);
    }
    let mut got: BTreeMap<(String, String, String), Figures> = BTreeMap::new();
    for r in &report.rows {
        let f = got
            .entry((r.bucket.clone(), r.group.clone(), r.mode.name().to_string()))
            .or_default();
        for op in S3Op::ALL {
            *f.entry(op.name().into()).or_default() += r.s3_count(op);
        }
        for op in KmsOp::ALL {
            *f.entry(op.name().into()).or_default() += r.kms_count(op);
        }
        *f.entry("objects".into()).or_default() += r.objects;
        *f.entry("s3_errors".into()).or_default() += r.s3_errors;
    }
    let mut diffs = Vec::new();
    let keys: std::collections::BTreeSet<_> = expected.keys().chain(got.keys()).cloned().collect();
    let empty = Figures::new();
    for key in keys {
        let e = expected.get(&key).unwrap_or(&empty);
        let g = got.get(&key).unwrap_or(&empty);
        let names: std::collections::BTreeSet<_> = e.keys().chain(g.keys()).collect();
        for name in names {
            let (ev, gv) = (
                e.get(name).copied().unwrap_or(0),
                g.get(name).copied().unwrap_or(0),
            );
            if ev != gv {
                let group = if key.1 == key.0 {
                    String::new()
                } else {
                    format!(" {}", key.1)
                };
                diffs.push(format!(
                    "{}{group} {}: {name}: expected {ev}, analyzed {gv}",
                    key.0, key.2
                ));
            }
        }
    }
    // Records set apart by reason, where the simulation fixes them.
    if let Some(filtered) = manifest
        .pointer("/expected/filtered")
        .and_then(Value::as_object)
    {
        for (reason, n) in filtered {
            let (ev, gv) = (
                n.as_u64().unwrap_or(0),
                report.summary.filtered(reason.as_str()),
            );
            if ev != gv {
                diffs.push(format!(
                    "records filtered as {reason}: expected {ev}, analyzed {gv}"
                ));
            }
        }
    }
    Ok(diffs)
}
