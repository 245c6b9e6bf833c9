//! The cost report as a document; JSON schema `keytrail.cost/v1` (documented in docs/).

use super::doc::{Doc, Fit, Table};
use super::{doc_lines, format_time, format_usd, Column, Columns};
use crate::reports::cost::{CostReport, Line, Scope};
use crate::summary::Summary;
use crate::text::{format_factor, round_usd};
use serde_json::{json, Value};

pub const SCHEMA: &str = "keytrail.cost/v1";

/// Every column of the cost lines: the table CSV and Parquet hold.
pub fn columns(lines: &[Line]) -> Vec<Column> {
    Columns::new(lines)
        .text("scope", |l| l.scope.name().to_string())
        .text("account", |l| l.account.clone())
        .text("name", |l| l.name.clone())
        .text("key_manager", |l| l.key_manager.unwrap_or("").to_string())
        .text("bucket_keys", |l| l.bucket_keys.unwrap_or("").to_string())
        .count("kms_requests", |l| l.requests)
        .number("monthly_requests", |l| Some(l.monthly_requests))
        .money("request_usd", |l| Some(l.request_usd))
        .money("key_usd", |l| Some(l.key_usd))
        .money("total_usd", |l| Some(l.total_usd()))
        .number("monthly_with_bucket_keys", |l| l.monthly_with_bucket_keys)
        .number("monthly_without_bucket_keys", |l| {
            l.monthly_without_bucket_keys
        })
        .money("turning_on_saves_usd", |l| l.turning_on_saves_usd)
        .money("turning_off_costs_usd", |l| l.turning_off_costs_usd)
        .done()
}

/// The tables the text formats show: one per scope, with the columns that mean something
/// there.
fn display_tables(lines: &[Line]) -> Vec<Table> {
    let of = |scope| -> Vec<Line> { lines.iter().filter(|l| l.scope == scope).cloned().collect() };
    let table = |title: &str, importance, columns| Table {
        title: title.into(),
        columns,
        numeric: None,
        fit: Fit {
            importance,
            essential: 2,
        },
    };
    fn what_if(c: Columns<'_, Line>) -> Columns<'_, Line> {
        c.number("req/month with bucket keys", |l| l.monthly_with_bucket_keys)
            .number("req/month without", |l| l.monthly_without_bucket_keys)
            .money("turning on saves $/month", |l| l.turning_on_saves_usd)
            .money("turning off costs $/month", |l| l.turning_off_costs_usd)
    }
    let accounts = of(Scope::Account);
    let keys = of(Scope::KmsKey);
    let buckets = of(Scope::Bucket);
    let others = of(Scope::OtherCaller);
    let mut tables = vec![
        table(
            "Accounts (per month, projected)",
            &[
                "account",
                "total $/month",
                "turning on saves $/month",
                "bucket keys",
                "req/month",
                "req/month with bucket keys",
                "req $/month",
                "keys $/month",
            ],
            what_if(
                Columns::new(&accounts)
                    .text("account", |l| l.account.clone())
                    .count("KMS requests", |l| l.requests)
                    .number("req/month", |l| Some(l.monthly_requests))
                    .money("req $/month", |l| Some(l.request_usd))
                    .money("keys $/month", |l| Some(l.key_usd))
                    .money("total $/month", |l| Some(l.total_usd()))
                    .text("bucket keys", |l| l.bucket_keys.unwrap_or("-").to_string()),
            )
            .done(),
        ),
        table(
            "KMS keys",
            &[
                "key",
                "req $/month",
                "key $/month",
                "req/month",
                "managed by",
            ],
            Columns::new(&keys)
                .text("account", |l| l.account.clone())
                .text("key", |l| l.name.clone())
                .text("managed by", |l| l.key_manager.unwrap_or("-").to_string())
                .count("KMS requests", |l| l.requests)
                .number("req/month", |l| Some(l.monthly_requests))
                .money("req $/month", |l| Some(l.request_usd))
                .money("key $/month", |l| Some(l.key_usd))
                .done(),
        ),
        table(
            "Buckets (what-if: the same S3 requests with bucket keys switched)",
            &[
                "bucket",
                "turning on saves $/month",
                "bucket keys",
                "req $/month",
                "req/month",
                "req/month with bucket keys",
                "account",
            ],
            what_if(
                Columns::new(&buckets)
                    .text("account", |l| l.account.clone())
                    .text("bucket", |l| l.name.clone())
                    .text("bucket keys", |l| l.bucket_keys.unwrap_or("-").to_string())
                    .count("KMS requests", |l| l.requests)
                    .number("req/month", |l| Some(l.monthly_requests))
                    .money("req $/month", |l| Some(l.request_usd)),
            )
            .done(),
        ),
    ];
    if !others.is_empty() {
        tables.push(table(
            "Other callers (by encryption-context key)",
            &["context", "req $/month", "req/month", "account"],
            Columns::new(&others)
                .text("account", |l| l.account.clone())
                .text("context", |l| l.name.clone())
                .count("KMS requests", |l| l.requests)
                .number("req/month", |l| Some(l.monthly_requests))
                .money("req $/month", |l| Some(l.request_usd))
                .done(),
        ));
    }
    tables
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
        "request_usd": round_usd(l.request_usd),
        "key_usd": round_usd(l.key_usd),
        "total_usd": round_usd(l.total_usd()),
        "what_if": l.monthly_with_bucket_keys.map(|with| json!({
            "monthly_with_bucket_keys": with,
            "monthly_without_bucket_keys": l.monthly_without_bucket_keys,
            "turning_on_saves_usd": l.turning_on_saves_usd.map(round_usd),
            "turning_off_costs_usd": l.turning_off_costs_usd.map(round_usd),
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
            "window: {} to {} ({} s, {}); monthly = observed x {} days x 86,400 s / {} s = x {}",
            format_time(w.start),
            format_time(w.end),
            w.seconds(),
            if w.from_flags { "from --since/--until" } else { "first to last record" },
            p.month_days,
            w.seconds(),
            format_factor(r.month_factor())
        ),
        format!(
            "prices: {} per 10,000 requests after {} free requests per account per month; {} per \
             customer managed key per month, charged to the account that owns it (AWS managed \
             keys: none), {}",
            format_usd(p.per_10k_requests),
            super::thousands(&p.free_requests_per_month.to_string()),
            format_usd(p.customer_key_per_month()),
            match p.key_rotations {
                0 => format!(
                    "assuming no key was rotated (--key-rotations: each of a key's first two \
                     rotations adds {} a month; a trail does not tell a key's history)",
                    format_usd(p.rotation_per_month)
                ),
                n => format!(
                    "assuming {n} rotation{} of each key (--key-rotations), {} a month for each \
                     of the first two",
                    if n == 1 { "" } else { "s" },
                    format_usd(p.rotation_per_month)
                ),
            }
        ),
        "key, bucket and other-caller lines carry their share of the account's request charge; \
         every call counts, failed ones too, in the caller's account"
            .to_string(),
        "what-if: the same S3 requests replayed through the envelope engine with bucket keys \
         switched (a projection, not an observation); savings are at list price per bucket and \
         after the free tier per account; objects read but not written in the window are \
         assumed written under one bucket-level key per bucket and KMS key (the steady state: \
         objects written before the switch keep per-object keys until rewritten)"
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

/// cost's answer, over every account: what the KMS requests cost a month, and what turning
/// bucket keys on where they are off would save (or what they save where they are on).
fn headline(r: &CostReport) -> Vec<String> {
    let accounts: Vec<&Line> = r
        .lines
        .iter()
        .filter(|l| l.scope == Scope::Account)
        .collect();
    let sum = |f: &dyn Fn(&Line) -> f64| accounts.iter().map(|l| f(l)).sum::<f64>();
    let requests = sum(&|l| l.monthly_requests);
    let mut lines = vec![format!(
        "KMS costs {} a month ({} requests a month, projected from the window).",
        format_usd(sum(&|l| l.total_usd())),
        super::thousands(&format!("{requests:.0}"))
    )];
    let saves = sum(&|l| l.turning_on_saves_usd.unwrap_or(0.0));
    let with = sum(&|l| l.monthly_with_bucket_keys.unwrap_or(l.monthly_requests));
    let without = sum(&|l| l.monthly_without_bucket_keys.unwrap_or(l.monthly_requests));
    if requests > with {
        lines.push(format!(
            "Turning bucket keys on where they are off would save {} a month ({} fewer \
             requests a month; a projection).",
            format_usd(saves),
            super::thousands(&format!("{:.0}", requests - with))
        ));
    }
    if without > requests {
        lines.push(format!(
            "Where they are on, bucket keys save {} requests a month (turning them off would \
             cost {} a month).",
            super::thousands(&format!("{:.0}", without - requests)),
            format_usd(sum(&|l| l.turning_off_costs_usd.unwrap_or(0.0)))
        ));
    }
    lines
}

pub fn doc(r: &CostReport, summary: &Summary, warnings: &[String]) -> Doc {
    let lines = doc_lines(notes(r), summary, warnings);
    let p = &r.prices;
    let mut window = super::json::window_value(&r.window);
    window["month_days"] = json!(p.month_days);
    window["month_factor"] = json!(r.month_factor());
    let json = json!({
        "schema": SCHEMA,
        "window": window,
        "prices": {
            "per_10k_requests_usd": p.per_10k_requests,
            "free_requests_per_month": p.free_requests_per_month,
            "key_per_month_usd": p.key_per_month,
            "key_rotations_assumed": p.key_rotations,
            "rotation_per_month_usd": p.rotation_per_month,
            "customer_key_per_month_usd": p.customer_key_per_month(),
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
        headline: headline(r),
        about: Vec::new(),
        tables: display_tables(&r.lines),
        data: Some(Table {
            title: "Cost by account, KMS key, bucket and other caller".into(),
            columns: columns(&r.lines),
            numeric: None,
            fit: Fit::default(),
        }),
        lines,
        json,
        charts: vec![super::chart::cost_by_bucket(r)],
    }
}
