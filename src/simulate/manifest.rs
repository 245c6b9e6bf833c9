//! `manifest.json`: the true figures of a simulated trail.
//!
//! `expected.groups` holds, per bucket and mode, what `keytrail analyze` must report from the
//! trail as logged (the figures it observes: S3 requests by operation, KMS calls by operation,
//! distinct objects, refused requests); `expected.by_principal` and `expected.by_kms_key` the
//! same per principal and per KMS key within each bucket, as `--group-by principal` and
//! `--group-by kms-key` give; `expected.filtered` the records set apart that the simulation
//! fixes (requests that are not SSE-KMS, reads of such objects, copies delivered to a second
//! account). `truth.prefixes` holds what the analyzer can only estimate: which key prefix
//! (first segment) each KMS call served, bucket-key calls included.

use super::{ObjectSse, Simulation};
use crate::envelope::{Encryption, Op};
use crate::reports::calls::key_prefix;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The versioned name of the manifest schema.
pub const SCHEMA: &str = "keytrail.manifest/v1";

#[derive(Default)]
struct Group<'a> {
    s3: BTreeMap<&'static str, u64>,
    kms: BTreeMap<&'static str, u64>,
    /// The simulation's keys, borrowed: a group can hold millions.
    objects: BTreeSet<&'a str>,
    /// Requests S3 refused: no object, not in the ratio.
    s3_errors: u64,
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
) -> BTreeMap<(String, String, &'static str), Group<'_>> {
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
        .filter(|r| is_write(r.op) && r.failure.is_none())
        .map(|r| (r.bucket, &*r.key))
        .collect();
    // A request whose mode nothing in the trail tells takes its bucket's, when all the
    // bucket's logged KMS calls are of one mode (as the analyzer infers it).
    let mut bucket_modes: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    if trail.kms_events {
        for c in &sim.calls {
            let e = bucket_modes.entry(c.bucket.as_str()).or_default();
            if c.key.is_none() {
                e.0 = true;
            } else {
                e.1 = true;
            }
        }
    }
    let inferred = |bucket: &str| match bucket_modes.get(bucket) {
        Some((true, false)) => "bucket_key",
        Some((false, true)) => "per_object",
        _ => "unknown",
    };
    let principal = |session: usize| sim.sessions[session].identity.arn.clone();
    // DSSE-KMS shows only in a write's SSE headers: a request is known to be DSSE-KMS when it
    // is such a write, or its object's write is logged (the analyzer's `dsse` mode).
    let dsse_known = |r: &super::Planned| {
        trail.s3_data_events
            && r.failure.is_none()
            && matches!(r.encryption, Encryption::DsseKms)
            && !matches!(r.op, Op::HeadObject | Op::Replicate)
            && (is_write(r.op) || written.contains(&(r.bucket, &*r.key)))
    };
    if trail.s3_data_events {
        let first_writes = first_non_kms_writes(sim);
        for (i, r) in sim.requests.iter().enumerate() {
            if matches!(r.op, Op::HeadObject | Op::Replicate)
                || !counted_in_rows(sim, &first_writes, r)
            {
                continue;
            }
            let b = &sim.buckets[r.bucket];
            if r.failure.is_some() {
                let group = match grouping {
                    Grouping::Bucket => b.name.clone(),
                    Grouping::Principal => principal(r.session),
                    Grouping::KmsKey => "(unknown)".to_string(),
                };
                let mode = inferred(&b.name);
                groups
                    .entry((b.name.clone(), group, mode))
                    .or_default()
                    .s3_errors += 1;
                continue;
            }
            let observable = caused_call.contains(&i)
                || is_write(r.op)
                || written.contains(&(r.bucket, &*r.key));
            let mode = if dsse_known(r) {
                "dsse"
            } else if observable {
                mode(r.bucket_key_path)
            } else {
                inferred(&b.name)
            };
            let group = match grouping {
                Grouping::Bucket => b.name.clone(),
                Grouping::Principal => principal(r.session),
                Grouping::KmsKey if observable => b.key_for(&r.key).to_string(),
                Grouping::KmsKey => "(unknown)".to_string(),
            };
            let g = groups.entry((b.name.clone(), group, mode)).or_default();
            *g.s3.entry(r.op.name()).or_default() += 1;
            g.objects.insert(&r.key);
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
                g.objects.insert(k);
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
                    "s3_errors": g.s3_errors,
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
            "filtered": filtered(sim),
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

/// The first logged (successful) write of each object of an SSE-S3 bucket: reads (and upload
/// parts) at or after it are known not to be SSE-KMS.
fn first_non_kms_writes(sim: &Simulation) -> BTreeMap<(usize, &str), i64> {
    let mut first: BTreeMap<(usize, &str), i64> = BTreeMap::new();
    for w in &sim.requests {
        if sim.buckets[w.bucket].sse == ObjectSse::SseS3 && is_write(w.op) && w.failure.is_none() {
            let t = first.entry((w.bucket, &*w.key)).or_insert(w.time);
            *t = (*t).min(w.time);
        }
    }
    first
}

/// Whether the analyzer counts a (non-HEAD) request in its rows: not when the trail shows it
/// is not SSE-KMS (an SSE-C request carries its header; an SSE-S3 write its response), nor
/// when it reads, or uploads a part of, an object whose logged write was not SSE-KMS.
fn counted_in_rows(
    sim: &Simulation,
    first_writes: &BTreeMap<(usize, &str), i64>,
    r: &super::Planned,
) -> bool {
    match sim.buckets[r.bucket].sse {
        ObjectSse::SseKms | ObjectSse::DsseKms => true,
        ObjectSse::SseC => false,
        ObjectSse::SseS3 if is_write(r.op) => r.failure.is_some(),
        ObjectSse::SseS3 => {
            !matches!(r.op, Op::GetObject | Op::UploadPart)
                || first_writes
                    .get(&(r.bucket, &*r.key))
                    .is_none_or(|&t| t > r.time)
        }
    }
}

/// The summary's filtered counts the simulation fixes: requests that are not SSE-KMS (each
/// counted once), reads set apart for reading such objects, and records delivered to a
/// second account (one per cross-account request or call).
fn filtered(sim: &Simulation) -> Value {
    let trail = &sim.scenario.trail;
    let (mut not_sse_kms, mut non_kms_reads, mut shared) = (0u64, 0u64, 0u64);
    let first_writes = first_non_kms_writes(sim);
    let account = |session: usize| sim.sessions[session].identity.account.as_str();
    if trail.s3_data_events {
        for r in &sim.requests {
            if matches!(r.op, Op::HeadObject | Op::Replicate) {
                continue;
            }
            let b = &sim.buckets[r.bucket];
            match b.sse {
                ObjectSse::SseC => not_sse_kms += 1,
                ObjectSse::SseS3 if is_write(r.op) && r.failure.is_none() => not_sse_kms += 1,
                ObjectSse::SseS3 if !counted_in_rows(sim, &first_writes, r) => non_kms_reads += 1,
                _ => {}
            }
            if trail.cross_account_delivery && b.account != account(r.session) {
                shared += 1;
            }
        }
    }
    if trail.kms_events && trail.cross_account_delivery {
        for c in &sim.calls {
            let owner = c.kms_key.split(':').nth(4).unwrap_or("");
            if !owner.is_empty() && owner != account(sim.requests[c.request].session) {
                shared += 1;
            }
        }
    }
    json!({
        "s3_not_sse_kms": not_sse_kms,
        "s3_read_of_non_kms_object": non_kms_reads,
        "duplicate_shared_event_id": shared,
    })
}
