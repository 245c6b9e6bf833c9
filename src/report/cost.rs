//! The cost report as a document; JSON schema `keytrail.cost/v1` (documented in README.md).

use super::doc::{Doc, Table};
use super::{format_time, format_usd, input_lines, Column, Values};
use crate::cost::{CostReport, Line, Scope};
use crate::summary::Summary;
use serde_json::{json, Value};

pub const SCHEMA: &str = "keytrail.cost/v1";

/// The columns of the cost table: the one definition every format uses.
pub fn columns(lines: &[Line]) -> Vec<Column> {
    let text = |name, f: &dyn Fn(&Line) -> String| Column {
        name,
        values: Values::Text(lines.iter().map(f).collect()),
    };
    let opt = |name, money: bool, f: &dyn Fn(&Line) -> Option<f64>| Column {
        name,
        values: if money {
            Values::Money(lines.iter().map(f).collect())
        } else {
            Values::Number(lines.iter().map(f).collect())
        },
    };
    vec![
        text("scope", &|l| l.scope.name().to_string()),
        text("account", &|l| l.account.clone()),
        text("name", &|l| l.name.clone()),
        text("key_manager", &|l| l.key_manager.unwrap_or("").to_string()),
        text("bucket_keys", &|l| l.bucket_keys.unwrap_or("").to_string()),
        Column {
            name: "kms_requests",
            values: Values::Count(lines.iter().map(|l| l.requests).collect()),
        },
        opt("monthly_requests", false, &|l| Some(l.monthly_requests)),
        opt("request_usd", true, &|l| Some(l.request_usd)),
        opt("key_usd", true, &|l| Some(l.key_usd)),
        opt("total_usd", true, &|l| Some(l.total_usd())),
        opt("monthly_with_bucket_keys", false, &|l| {
            l.monthly_with_bucket_keys
        }),
        opt("monthly_without_bucket_keys", false, &|l| {
            l.monthly_without_bucket_keys
        }),
        opt("bucket_keys_save_usd", true, &|l| l.saved_usd),
    ]
}

fn line_json(l: &Line) -> Value {
    json!({
        "scope": l.scope.name(),
        "account": l.account,
        "name": l.name,
        "key_manager": l.key_manager,
        "bucket_keys": l.bucket_keys,
        "kms_requests": l.requests,
        "monthly_requests": l.monthly_requests,
        "request_usd": l.request_usd,
        "key_usd": l.key_usd,
        "total_usd": l.total_usd(),
        "what_if": l.monthly_with_bucket_keys.map(|with| json!({
            "monthly_with_bucket_keys": with,
            "monthly_without_bucket_keys": l.monthly_without_bucket_keys,
            "bucket_keys_save_usd": l.saved_usd,
        })),
    })
}

/// The lines every format shows under the tables: how the figures were made.
pub fn notes(r: &CostReport) -> Vec<String> {
    let p = &r.prices;
    let w = &r.window;
    let mut v =
        vec![
        format!(
            "window: {} to {} ({} s, {}); monthly = observed x {} days x 86,400 s / {} s = x {:.1}",
            format_time(w.start),
            format_time(w.end),
            w.seconds(),
            if w.from_flags { "from --since/--until" } else { "first to last record" },
            p.month_days,
            w.seconds(),
            r.month_factor()
        ),
        format!(
            "prices: {} per 10,000 requests after {} free requests per account per month; {} per \
             customer managed key per month, charged to the account that owns it (AWS managed \
             keys: none)",
            format_usd(p.per_10k_requests),
            p.free_requests_per_month,
            format_usd(p.key_per_month)
        ),
        "key, bucket and other-caller lines carry their share of the account's request charge; \
         every call counts, failed ones too, in the caller's account"
            .to_string(),
        "what-if: the same S3 requests replayed through the envelope engine with bucket keys \
         switched (a projection, not an observation); bucket_keys_save_usd is what bucket keys \
         save (on) or would save (off), at list price per bucket and after the free tier per \
         account; objects read but not written in the window are assumed written under one \
         bucket-level key per bucket and KMS key"
            .to_string(),
    ];
    if r.cross_account_copies > 0 {
        v.push(format!(
            "{} calls logged in two accounts (same sharedEventID) were counted once",
            r.cross_account_copies
        ));
    }
    v.extend(r.notes.iter().cloned());
    v
}

pub fn doc(r: &CostReport, summary: &Summary, warnings: &[String]) -> Doc {
    let accounts: Vec<Line> = r
        .lines
        .iter()
        .filter(|l| l.scope == Scope::Account)
        .cloned()
        .collect();
    let mut lines = notes(r);
    lines.extend(input_lines(summary));
    lines.extend(warnings.iter().map(|w| format!("warning: {w}")));
    let p = &r.prices;
    let json = json!({
        "schema": SCHEMA,
        "window": {
            "start": format_time(r.window.start),
            "end": format_time(r.window.end),
            "seconds": r.window.seconds(),
            "from_flags": r.window.from_flags,
            "month_days": p.month_days,
            "month_factor": r.month_factor(),
        },
        "prices": {
            "per_10k_requests_usd": p.per_10k_requests,
            "free_requests_per_month": p.free_requests_per_month,
            "key_per_month_usd": p.key_per_month,
            "aws_managed_keys": p.aws_managed_keys,
        },
        "lines": r.lines.iter().map(line_json).collect::<Vec<_>>(),
        "cross_account_copies": r.cross_account_copies,
        "notes": notes(r),
        "input": super::json::input_value(summary),
        "warnings": warnings,
    });
    Doc {
        title: "keytrail cost: KMS requests and what they cost per month".into(),
        tables: vec![
            Table {
                title: "Cost by account, KMS key, bucket and other caller (monthly projection)"
                    .into(),
                columns: columns(&r.lines),
                numeric: None,
            },
            Table {
                title: "Accounts".into(),
                columns: columns(&accounts),
                numeric: None,
            },
        ],
        lines,
        json,
        charts: Vec::new(),
    }
}
