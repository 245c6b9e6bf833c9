//! The JSON report, schema `keytrail.analyze/v1` (documented in docs/).

use super::{format_time, SCHEMA};
use crate::event::{KmsOp, S3Op};
use crate::reports::calls::{Report, Row};
use serde_json::{json, Map, Value};

/// Problems listed in full in the JSON; the total is always given.
pub const MAX_PROBLEMS_LISTED: usize = 1000;

pub fn render(report: &Report) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(&value(report)).expect("a JSON value serialises");
    out.push(b'\n');
    out
}

pub fn value(report: &Report) -> Value {
    let s = &report.summary;
    let f = &report.settings.filters;
    let time = |t: Option<i64>| t.map(format_time);
    let mut v = json!({
        "schema": SCHEMA,
        "settings": {
            "group_by": report.settings.group_by,
            "window_seconds": report.settings.window_secs,
            "object_window_seconds": report.settings.object_window_secs,
            "filters": {
                "since": time(f.since),
                "until": time(f.until),
                "bucket_arn_prefix": f.bucket_arn_prefixes,
                "context": f.context.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                "event_name": f.event_names,
                "kms_key": f.kms_keys,
                "account": f.accounts,
                "region": f.regions,
                "principal": f.principals,
            },
        },
        "input": {
            "files": s.files,
            "bytes": s.bytes,
            "records": s.records,
            "documents_skipped": s.documents_skipped,
            "s3": s.s3,
            "spill": s.spill,
            "s3_data_events": report.s3_data_events,
            "time_span": {"first": time(s.first_time), "last": time(s.last_time)},
            "warnings": report.warnings,
            "problems": {
                "total": s.problems_total,
                "listed": s.problems.iter().take(MAX_PROBLEMS_LISTED).collect::<Vec<_>>(),
            },
        },
        "groups": report.rows.iter().map(row).collect::<Vec<_>>(),
    });
    with_from_parts(&mut v["input"], s);
    v
}

/// An engine's output read a group of parts at a time (`--from` past the memory budget) says
/// so beside `spill`; otherwise the key is absent.
fn with_from_parts(input: &mut Value, s: &crate::summary::Summary) {
    if let (Some(p), Value::Object(m)) = (&s.from_parts, input) {
        m.insert("from_parts".into(), json!(p));
    }
}

/// The window of a cost or quota report.
pub fn window_value(w: &crate::reports::cost::Window) -> Value {
    json!({
        "start": format_time(w.start),
        "end": format_time(w.end),
        "seconds": w.seconds(),
        "from_flags": w.from_flags,
    })
}

/// The input accounting of any report: files, bytes, records, problems.
pub fn input_value(s: &crate::summary::Summary) -> Value {
    let time = |t: Option<i64>| t.map(format_time);
    let mut v = json!({
        "files": s.files,
        "bytes": s.bytes,
        "records": s.records,
        "documents_skipped": s.documents_skipped,
        "s3": s.s3,
        "spill": s.spill,
        "time_span": {"first": time(s.first_time), "last": time(s.last_time)},
        "problems": {
            "total": s.problems_total,
            "listed": s.problems.iter().take(MAX_PROBLEMS_LISTED).collect::<Vec<_>>(),
        },
    });
    with_from_parts(&mut v, s);
    v
}

fn row(r: &Row) -> Value {
    let mut s3 = Map::new();
    for op in S3Op::ALL {
        s3.insert(op.name().into(), r.s3_count(op).into());
    }
    s3.insert("total".into(), r.s3_total().into());
    let mut kms = Map::new();
    for op in KmsOp::ALL {
        kms.insert(op.name().into(), r.kms_count(op).into());
    }
    kms.insert("total".into(), r.kms_total().into());
    json!({
        "bucket": r.bucket,
        "group": r.group,
        "mode": r.mode.name(),
        "s3_requests": s3,
        "s3_errors": r.s3_errors,
        "objects": r.objects,
        "kms_calls": kms,
        "kms_calls_attributed": r.kms_attributed,
        "kms_errors": {
            "throttled": r.kms_throttled,
            "access_denied": r.kms_access_denied,
            "other": r.kms_other_errors,
        },
        "kms_calls_per_object": r.kms_per_object(),
        "kms_calls_per_s3_request": r.kms_per_s3_request(),
        "unmatched": {"s3_requests": r.unmatched_s3, "kms_calls": r.unmatched_kms},
    })
}
