//! `manifest.json`: the true figures of a simulated trail.
//!
//! `expected.groups` holds, per bucket and mode, what `keytrail analyze` must report from the
//! trail as logged (the figures it observes: S3 requests by operation, KMS calls by operation,
//! distinct objects); `expected.by_principal` and `expected.by_kms_key` the same per principal
//! and per KMS key within each bucket, as `--group-by principal` and `--group-by kms-key` give. `truth.prefixes` holds what the analyzer can only estimate: which key
//! prefix (first segment) each KMS call served, bucket-key calls included.

use super::Simulation;
use crate::envelope::{Encryption, Op};
use crate::reports::calls::key_prefix;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The versioned name of the manifest schema.
pub const SCHEMA: &str = "keytrail.manifest/v1";

#[derive(Default)]
struct Group {
    s3: BTreeMap<&'static str, u64>,
    kms: BTreeMap<&'static str, u64>,
    objects: BTreeSet<String>,
}

fn is_write(op: Op) -> bool {
    matches!(
        op,
        Op::PutObject | Op::CopyObject | Op::CreateMultipartUpload | Op::CompleteMultipartUpload
    )
}

fn mode(bucket_key: bool) -> &'static str {
    if bucket_key {
        "bucket_key"
    } else {
        "per_object"
    }
}

/// How a manifest section groups rows within a bucket, as `analyze --group-by` does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Bucket,
    Principal,
    KmsKey,
}

/// The expected rows of one grouping, keyed by (bucket, group, mode).
fn expected(
    sim: &Simulation,
    grouping: Grouping,
) -> BTreeMap<(String, String, &'static str), Group> {
    let trail = &sim.scenario.trail;
    let mut groups: BTreeMap<(String, String, &'static str), Group> = BTreeMap::new();
    // A request's mode (and KMS key) is observable when the trail holds evidence of it: a KMS
    // call it caused, its own SSE response headers (writes), or the logged write of the object
    // it reads. Otherwise the analyzer rightly reports `unknown`.
    let caused_call: BTreeSet<usize> = if trail.kms_events {
        sim.calls.iter().map(|c| c.request).collect()
    } else {
        BTreeSet::new()
    };
    let written: BTreeSet<(usize, &str)> = sim
        .requests
        .iter()
        .filter(|r| is_write(r.op))
        .map(|r| (r.bucket, r.key.as_str()))
        .collect();
    let principal = |session: usize| sim.sessions[session].identity.arn.clone();
    // DSSE-KMS shows only in a write's SSE headers: a request is known to be DSSE-KMS when it
    // is such a write, or its object's write is logged (the analyzer's `dsse` mode).
    let dsse_known = |r: &super::Planned| {
        trail.s3_data_events
            && matches!(r.encryption, Encryption::DsseKms)
            && !matches!(r.op, Op::HeadObject | Op::Replicate)
            && (is_write(r.op) || written.contains(&(r.bucket, r.key.as_str())))
    };
    if trail.s3_data_events {
        for (i, r) in sim.requests.iter().enumerate() {
            if matches!(r.op, Op::HeadObject | Op::Replicate) {
                continue;
            }
            let b = &sim.buckets[r.bucket];
            let observable = caused_call.contains(&i)
                || is_write(r.op)
                || written.contains(&(r.bucket, r.key.as_str()));
            let mode = if dsse_known(r) {
                "dsse"
            } else if observable {
                mode(r.bucket_key_path)
            } else {
                "unknown"
            };
            let group = match grouping {
                Grouping::Bucket => b.name.clone(),
                Grouping::Principal => principal(r.session),
                Grouping::KmsKey if observable => b.key_for(&r.key).to_string(),
                Grouping::KmsKey => "(unknown)".to_string(),
            };
            let g = groups.entry((b.name.clone(), group, mode)).or_default();
            *g.s3.entry(r.op.name()).or_default() += 1;
            g.objects.insert(r.key.clone());
        }
    }
    if trail.kms_events {
        for c in &sim.calls {
            let group = match grouping {
                Grouping::Bucket => c.bucket.clone(),
                Grouping::Principal => principal(sim.requests[c.request].session),
                Grouping::KmsKey => c.kms_key.clone(),
            };
            let call_mode = if dsse_known(&sim.requests[c.request]) {
                "dsse"
            } else {
                mode(c.key.is_none())
            };
            let g = groups
                .entry((c.bucket.clone(), group, call_mode))
                .or_default();
            *g.kms.entry(c.op.name()).or_default() += 1;
            if let Some(k) = &c.key {
                g.objects.insert(k.clone());
            }
        }
    }
    groups
}

pub fn manifest(sim: &Simulation) -> Value {
    let trail = &sim.scenario.trail;
    let mut prefixes: BTreeMap<(String, String, &'static str), u64> = BTreeMap::new();
    for c in &sim.calls {
        let request = &sim.requests[c.request];
        let served = c.key.as_deref().unwrap_or(&request.key);
        *prefixes
            .entry((
                c.bucket.clone(),
                key_prefix(served, 1),
                mode(c.key.is_none()),
            ))
            .or_default() += 1;
    }
    let count_map = |m: &BTreeMap<&'static str, u64>| -> Value {
        let mut out: Map<String, Value> =
            m.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        out.insert("total".into(), json!(m.values().sum::<u64>()));
        Value::Object(out)
    };
    let section = |grouping: Grouping| -> Vec<Value> {
        expected(sim, grouping)
            .iter()
            .map(|((bucket, group, mode), g)| {
                json!({
                    "bucket": bucket,
                    "group": group,
                    "mode": mode,
                    "s3_requests": count_map(&g.s3),
                    "kms_calls": count_map(&g.kms),
                    "objects": g.objects.len(),
                })
            })
            .collect()
    };
    let p = &sim.params;
    json!({
        "schema": SCHEMA,
        "scenario": {
            "name": sim.scenario.name,
            "source": sim.origin.source,
            "scale": sim.origin.scale,
            "toml": sim.origin.toml,
        },
        "seed": sim.seed,
        "engine": {
            "bucket_key_ttl_secs": p.bucket_key_ttl_secs,
            "max_front_end_caches": p.max_front_end_caches,
            "requests_per_cache": p.requests_per_cache,
            "complete_multipart_calls_kms": p.complete_multipart_calls_kms,
            "sharing": match p.sharing {
                crate::envelope::Sharing::PerSession => "session",
                crate::envelope::Sharing::RoleAndPolicy => "role",
            },
        },
        "trail": {
            "s3_data_events": trail.s3_data_events,
            "kms_events": trail.kms_events,
            "start": crate::event::format_time(sim.start),
            "end": crate::event::format_time(sim.end),
        },
        "expected": {
            "groups": section(Grouping::Bucket),
            "by_principal": section(Grouping::Principal),
            "by_kms_key": section(Grouping::KmsKey),
        },
        "truth": {
            "s3_requests": sim.requests.len(),
            "kms_calls": sim.calls.len(),
            "prefixes": prefixes.iter().map(|((bucket, prefix, mode), n)| json!({
                "bucket": bucket, "prefix": prefix, "mode": mode, "kms_calls": n,
            })).collect::<Vec<_>>(),
        },
    })
}
