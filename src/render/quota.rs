//! The quota report as a document; JSON schema `keytrail.quota/v1` (documented in docs/).

use super::doc::{Doc, Fit, Table};
use super::{doc_lines, format_time, Column, Columns, Values};
use crate::reports::quota::{QuotaReport, QuotaRow, Stats};
use crate::summary::Summary;
use serde_json::{json, Value};

pub const SCHEMA: &str = "keytrail.quota/v1";

fn what_if(f: fn(&Stats) -> u64) -> impl Fn(&QuotaRow) -> Option<f64> {
    move |r| r.what_if.as_ref().map(|w| f(w) as f64)
}

fn peak_at(r: &QuotaRow) -> String {
    r.peak_seconds
        .first()
        .map(|&t| format_time(t))
        .unwrap_or_default()
}

/// Every column of the quota rows: the table CSV and Parquet hold.
pub fn columns(rows: &[QuotaRow]) -> Vec<Column> {
    Columns::new(rows)
        .text("account", |r| r.account.clone())
        .text("region", |r| r.region.clone())
        .count("quota_per_second", |r| r.quota.per_second)
        .text("quota_source", |r| r.quota.source.to_string())
        .count("kms_requests", |r| r.requests)
        .count("peak_per_second", |r| r.stats.peak)
        .ratio("peak_quota_use", |r| Some(r.peak_use()))
        .text("peak_at", peak_at)
        .count("peak_seconds", |r| r.peak_second_count as u64)
        .count("p99_per_second", |r| r.stats.p99)
        .count("p999_per_second", |r| r.stats.p999)
        .count("seconds_above_50pct", |r| r.stats.above_half)
        .count("seconds_above_80pct", |r| r.stats.above_80)
        .count("throttled", |r| r.throttled)
        .count("s3_throttled", |r| r.s3_throttled)
        .number("what_if_peak_per_second", what_if(|s| s.peak))
        .number("what_if_p99_per_second", what_if(|s| s.p99))
        .done()
}

/// The columns the text formats show.
fn display_columns(rows: &[QuotaRow]) -> Vec<Column> {
    Columns::new(rows)
        .text("account", |r| r.account.clone())
        .text("region", |r| r.region.clone())
        .count("quota/s", |r| r.quota.per_second)
        .text("quota from", |r| r.quota.source.to_string())
        .count("KMS requests", |r| r.requests)
        .count("peak/s", |r| r.stats.peak)
        .percent("of quota", |r| Some(r.peak_use()))
        .text("first peak second", peak_at)
        .count("p99/s", |r| r.stats.p99)
        .count("p99.9/s", |r| r.stats.p999)
        .count("s > 50 %", |r| r.stats.above_half)
        .count("s > 80 %", |r| r.stats.above_80)
        .count("KMS throttled", |r| r.throttled)
        .count("S3 throttled", |r| r.s3_throttled)
        .number("peak/s with bucket keys", what_if(|s| s.peak))
        .done()
}

fn stats_json(s: &Stats) -> Value {
    json!({
        "peak": s.peak,
        "p99": s.p99,
        "p99_9": s.p999,
        "seconds_above_50_percent": s.above_half,
        "seconds_above_80_percent": s.above_80,
    })
}

fn pairs(v: &[(String, u64)]) -> Value {
    v.iter()
        .map(|(name, calls)| json!({"name": name, "calls": calls}))
        .collect()
}

fn row_json(r: &QuotaRow) -> Value {
    json!({
        "account": r.account,
        "region": r.region,
        "quota": {"per_second": r.quota.per_second, "source": r.quota.source},
        "kms_requests": r.requests,
        "per_second": stats_json(&r.stats),
        "peak_quota_use": r.peak_use(),
        "peak_seconds": {
            "count": r.peak_second_count,
            "first": r.peak_seconds.iter().map(|&t| format_time(t)).collect::<Vec<_>>(),
        },
        "throttled": r.throttled,
        "s3_throttled": r.s3_throttled,
        "at_peak": {
            "buckets": pairs(&r.contributors.buckets),
            "kms_keys": pairs(&r.contributors.kms_keys),
            "principals": pairs(&r.contributors.principals),
            "callers": pairs(&r.contributors.callers),
        },
        "what_if_bucket_keys_on": r.what_if.as_ref().map(stats_json),
    })
}

/// The contributors table: who made the calls of each account-Region's peak seconds.
fn contributors(rows: &[QuotaRow]) -> Table {
    let mut cells: [Vec<String>; 5] = Default::default();
    let mut calls = Vec::new();
    for r in rows {
        let c = &r.contributors;
        for (kind, list) in [
            ("bucket", &c.buckets),
            ("kms_key", &c.kms_keys),
            ("principal", &c.principals),
            ("caller", &c.callers),
        ] {
            for (name, n) in list {
                cells[0].push(r.account.clone());
                cells[1].push(r.region.clone());
                cells[2].push(
                    r.peak_seconds
                        .first()
                        .map(|&t| format_time(t))
                        .unwrap_or_default(),
                );
                cells[3].push(kind.to_string());
                cells[4].push(name.clone());
                calls.push(*n);
            }
        }
    }
    let [account, region, at, kind, name] = cells;
    let text = |name, v| Column {
        name,
        values: Values::Text(v),
    };
    Table {
        title: "At the peak seconds: who made the calls".into(),
        columns: vec![
            text("account", account),
            text("region", region),
            text("first_peak_second", at),
            text("kind", kind),
            text("name", name),
            Column {
                name: "calls",
                values: Values::Count(calls),
            },
        ],
        numeric: None,
        fit: Fit {
            importance: &["account", "region", "kind", "name", "calls"],
            essential: 5,
        },
    }
}

pub fn notes(r: &QuotaReport) -> Vec<String> {
    let mut v = vec![
        format!(
            "window: {} to {} ({} s); every symmetric KMS call counts (S3's and every other \
             caller's, failed ones too), in the caller's account and the call's Region",
            format_time(r.window.start),
            format_time(r.window.end),
            r.window.seconds()
        ),
        "percentiles are over every second of the window, quiet seconds included, by nearest \
         rank; quotas are AWS's defaults per Region unless given with --quota REGION=N"
            .to_string(),
        "what-if: the S3 traffic that ran without bucket keys replayed with them through the \
         envelope engine (a projection); other traffic unchanged"
            .to_string(),
    ];
    if r.cross_account_copies > 0 {
        v.push(format!(
            "{} calls logged in two accounts (same sharedEventID) were counted once",
            r.cross_account_copies
        ));
    }
    v
}

/// quota's answer: the account and Region closest to its quota, and its peak with bucket keys.
fn headline(r: &QuotaReport) -> Vec<String> {
    let Some(top) = r
        .rows
        .iter()
        .max_by(|a, b| a.peak_use().total_cmp(&b.peak_use()))
    else {
        return vec!["No KMS requests in the window.".into()];
    };
    let n = |v: u64| super::thousands(&v.to_string());
    let mut line = format!(
        "Highest peak: {} requests/s in account {} in {}, {} of its quota of {}/s.",
        n(top.stats.peak),
        top.account,
        top.region,
        super::format_percent(top.peak_use()),
        n(top.quota.per_second)
    );
    if let Some(w) = top.what_if.as_ref().filter(|w| w.peak != top.stats.peak) {
        line.push_str(&format!(
            " With bucket keys on for its S3 traffic: {}/s (a projection).",
            n(w.peak)
        ));
    }
    vec![line]
}

pub fn doc(r: &QuotaReport, summary: &Summary, warnings: &[String]) -> Doc {
    let lines = doc_lines(notes(r), summary, warnings);
    let json = json!({
        "schema": SCHEMA,
        "window": super::json::window_value(&r.window),
        "rows": r.rows.iter().map(row_json).collect::<Vec<_>>(),
        "cross_account_copies": r.cross_account_copies,
        "notes": notes(r),
        "input": super::json::input_value(summary),
        "warnings": warnings,
    });
    Doc {
        title: "keytrail quota: KMS requests per second against the quota".into(),
        headline: headline(r),
        about: Vec::new(),
        tables: vec![
            Table {
                title: "Requests per second by account and Region".into(),
                columns: display_columns(&r.rows),
                numeric: None,
                fit: Fit {
                    importance: &[
                        "account",
                        "region",
                        "peak/s",
                        "of quota",
                        "quota/s",
                        "peak/s with bucket keys",
                        "p99/s",
                        "KMS throttled",
                    ],
                    essential: 4,
                },
            },
            contributors(&r.rows),
        ],
        data: Some(Table {
            title: "Requests per second by account and Region".into(),
            columns: columns(&r.rows),
            numeric: None,
            fit: Fit::default(),
        }),
        lines,
        json,
        charts: vec![super::chart::quota(r)],
    }
}
