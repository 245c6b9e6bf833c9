//! `keytrail check`: thresholds over the analyze and quota figures, for CI gates.

use crate::reports::calls::Report;
use crate::reports::quota::QuotaReport;
use crate::text::{format_percent, format_ratio, thousands};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A thresholds file that is not one (TOML errors carry their line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ThresholdsError(pub String);

/// The thresholds, from flags or a TOML file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Largest KMS calls per object of a bucket (all its traffic, both modes).
    pub max_calls_per_object: Option<f64>,
    /// Buckets to check for calls per object; empty: every bucket in the trail.
    #[serde(default)]
    pub buckets: Vec<String>,
    /// Largest peak second as a share of the quota, per account and Region.
    pub max_quota_use: Option<f64>,
    /// Quota overrides by Region (requests per second).
    #[serde(default)]
    pub quota: BTreeMap<String, u64>,
}

impl Thresholds {
    /// Parses a thresholds file, with line numbers in its errors.
    pub fn parse(text: &str) -> Result<Thresholds, ThresholdsError> {
        let t: Thresholds =
            toml::from_str(text).map_err(|e| ThresholdsError(crate::text::toml_error(text, &e)))?;
        for (name, v) in [
            ("max_calls_per_object", t.max_calls_per_object),
            ("max_quota_use", t.max_quota_use),
        ] {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(ThresholdsError(format!(
                    "{name} must be a number, 0 or more"
                )));
            }
        }
        if let Some((r, _)) = t.quota.iter().find(|(_, n)| **n == 0) {
            return Err(ThresholdsError(format!("quota.{r} must be above 0")));
        }
        Ok(t)
    }

    /// Whether there is anything to check.
    pub fn is_empty(&self) -> bool {
        self.max_calls_per_object.is_none() && self.max_quota_use.is_none()
    }
}

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `calls_per_object` or `quota_use`.
    pub kind: &'static str,
    /// The bucket, or `account/Region`.
    pub subject: String,
    /// The measured figure; `None` when the trail cannot tell.
    pub value: Option<f64>,
    pub limit: f64,
    pub verdict: Verdict,
    pub message: String,
}

/// What a check found. A gate that passes on nothing is a broken gate, so a threshold that
/// could not be evaluated (no bucket, no object, no KMS call in the input) is its own verdict,
/// never a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    NotChecked,
}

impl Verdict {
    fn of(within: bool) -> Verdict {
        if within {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    /// The stable name in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotChecked => "not_checked",
        }
    }
}

/// Runs every check.
pub fn evaluate(report: &Report, quota: Option<&QuotaReport>, t: &Thresholds) -> Vec<Outcome> {
    let mut out = Vec::new();
    if let Some(limit) = t.max_calls_per_object {
        // Per bucket over both modes.
        let mut buckets: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for r in &report.rows {
            let e = buckets.entry(&r.bucket).or_default();
            e.0 += r.kms_total();
            e.1 += r.objects;
        }
        let wanted: Vec<&str> = if t.buckets.is_empty() {
            buckets.keys().copied().collect()
        } else {
            t.buckets.iter().map(String::as_str).collect()
        };
        if wanted.is_empty() {
            out.push(Outcome {
                kind: "calls_per_object",
                subject: String::new(),
                value: None,
                limit,
                verdict: Verdict::NotChecked,
                message: "no bucket in the trail has KMS calls or S3 requests: nothing to check \
                          (see analyze's warnings)"
                    .into(),
            });
        }
        for bucket in wanted {
            let outcome = match buckets.get(bucket) {
                None => Outcome {
                    kind: "calls_per_object",
                    subject: bucket.to_string(),
                    value: None,
                    limit,
                    verdict: Verdict::Fail,
                    message: format!(
                        "bucket {bucket}: no KMS calls or S3 requests in the trail (is the name \
                         right, and does the trail log KMS events?)"
                    ),
                },
                Some(&(calls, 0)) => Outcome {
                    kind: "calls_per_object",
                    subject: bucket.to_string(),
                    value: None,
                    limit,
                    verdict: Verdict::NotChecked,
                    message: format!(
                        "bucket {bucket}: {calls} KMS calls but no object seen (it needs S3 data \
                         events or per-object calls): not checked"
                    ),
                },
                Some(&(calls, objects)) => {
                    let v = calls as f64 / objects as f64;
                    Outcome {
                        kind: "calls_per_object",
                        subject: bucket.to_string(),
                        value: Some(v),
                        limit,
                        verdict: Verdict::of(v <= limit),
                        message: format!(
                            "bucket {bucket}: {} KMS calls per object ({calls} calls, {objects} \
                             objects); at most {limit}",
                            format_ratio(Some(v))
                        ),
                    }
                }
            };
            out.push(outcome);
        }
    }
    if let Some(limit) = t.max_quota_use {
        let rows = quota.map_or(&[][..], |q| &q.rows[..]);
        if rows.is_empty() {
            out.push(Outcome {
                kind: "quota_use",
                subject: String::new(),
                value: Some(0.0),
                limit,
                verdict: Verdict::NotChecked,
                message: "no KMS calls in the trail: nothing spends the quota".into(),
            });
        }
        for r in rows {
            let v = r.peak_use();
            out.push(Outcome {
                kind: "quota_use",
                subject: format!("{}/{}", r.account, r.region),
                value: Some(v),
                limit,
                verdict: Verdict::of(v <= limit),
                message: format!(
                    "account {} in {}: peak {}/s is {} of the quota of {}/s ({}); at most {}",
                    r.account,
                    r.region,
                    thousands(&r.stats.peak.to_string()),
                    format_percent(v),
                    thousands(&r.quota.per_second.to_string()),
                    r.quota.source,
                    format_percent(limit)
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_files_are_checked() {
        let t = Thresholds::parse(
            "max_calls_per_object = 0.05\nbuckets = [\"a\"]\n[quota]\nus-east-1 = 5\n",
        )
        .unwrap();
        assert_eq!(t.max_calls_per_object, Some(0.05));
        assert_eq!(t.quota["us-east-1"], 5);
        assert!(Thresholds::parse("max_calls_per_objekt = 1")
            .unwrap_err()
            .0
            .contains("unknown field"));
        assert!(Thresholds::parse("max_quota_use = -1").is_err());
        // One readable line, with the line and column, not toml's drawing of the line.
        let e = Thresholds::parse("max_quota_use = 0.5\nbuckets = [1\n")
            .unwrap_err()
            .0;
        assert_eq!(e, "line 2, column 13: unclosed array, expected `]`");
    }
}
