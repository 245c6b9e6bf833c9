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

use super::{ObjectSse, Planned, Second, Simulation};
use crate::envelope::{Encryption, KmsCall, Op};
use crate::reports::calls::key_prefix;
use roaring::RoaringBitmap;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The versioned name of the manifest schema.
pub const SCHEMA: &str = "keytrail.manifest/v1";

#[derive(Default)]
struct Group {
    s3: BTreeMap<&'static str, u64>,
    kms: BTreeMap<&'static str, u64>,
    /// The objects, by their number in the group's bucket ([`Planned::object`]).
    objects: RoaringBitmap,
    /// Requests S3 refused: no object, not in the ratio.
    s3_errors: u64,
}

impl Group {
    /// Counts an object of the group's bucket, by its number (a group can hold millions: a
    /// few bits each).
    fn object(&mut self, object: u32) {
        self.objects.insert(object);
    }

    fn add(&mut self, other: Group) {
        for (op, n) in other.s3 {
            *self.s3.entry(op).or_default() += n;
        }
        for (op, n) in other.kms {
            *self.kms.entry(op).or_default() += n;
        }
        self.objects |= other.objects;
        self.s3_errors += other.s3_errors;
    }
}

/// Whether a request's object is in one of the per-bucket sets.
fn among(sets: &[RoaringBitmap], r: &Planned) -> bool {
    r.object
        .is_some_and(|object| sets[r.bucket].contains(object))
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

/// The mode of a request nothing in the trail tells: its bucket's, once the whole trail's KMS
/// calls are known (see [`Tally::finish`]).
const INFERRED: &str = "(inferred)";

/// How a manifest section groups rows within a bucket, as `analyze --group-by` does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Bucket,
    Principal,
    KmsKey,
}

const GROUPINGS: [Grouping; 3] = [Grouping::Bucket, Grouping::Principal, Grouping::KmsKey];

type Rows = BTreeMap<(String, String, &'static str), Group>;

/// The true figures of a simulation, added up a second at a time as it is planned
/// ([`super::render_stream`]'s `planned`): what the manifest says, from state that grows with
/// the objects written, not with the requests made.
pub struct Tally<'s> {
    sim: &'s Simulation,
    /// Per grouping, the expected rows, keyed by (bucket, group, mode).
    rows: [Rows; 3],
    /// Per bucket, the objects whose successful write is logged.
    written: Vec<RoaringBitmap>,
    /// Per bucket, the objects of SSE-S3 buckets whose successful write is logged: reads (and
    /// upload parts) after it are known not to be SSE-KMS.
    written_not_kms: Vec<RoaringBitmap>,
    /// Per bucket: whether its logged KMS calls include bucket-key ones, per-object ones.
    bucket_modes: HashMap<String, (bool, bool)>,
    prefixes: BTreeMap<(String, String, &'static str), u64>,
    requests: u64,
    calls: u64,
    not_sse_kms: u64,
    non_kms_reads: u64,
    shared: u64,
}

impl<'s> Tally<'s> {
    pub fn new(sim: &'s Simulation) -> Tally<'s> {
        Tally {
            sim,
            rows: Default::default(),
            written: vec![RoaringBitmap::new(); sim.buckets.len()],
            written_not_kms: vec![RoaringBitmap::new(); sim.buckets.len()],
            bucket_modes: HashMap::new(),
            prefixes: BTreeMap::new(),
            requests: 0,
            calls: 0,
            not_sse_kms: 0,
            non_kms_reads: 0,
            shared: 0,
        }
    }

    /// S3 requests and KMS calls planned so far.
    pub fn planned(&self) -> (u64, u64) {
        (self.requests, self.calls)
    }

    /// Adds a second of the plan. Seconds come in order, and an object is written before it
    /// is read: what the trail shows of a request (its object's logged write) is known by then.
    pub fn add(&mut self, second: &Second) {
        let sim = self.sim;
        let trail = &sim.scenario.trail;
        self.requests += second.requests.len() as u64;
        self.calls += second.calls.len() as u64;
        for c in &second.calls {
            let request = second.request_of(c);
            let served = c.key.as_deref().unwrap_or(&request.key);
            *self
                .prefixes
                .entry((
                    c.bucket.clone(),
                    key_prefix(served, 1),
                    mode(c.key.is_none()),
                ))
                .or_default() += 1;
            if trail.kms_events {
                let e = self.bucket_modes.entry(c.bucket.clone()).or_default();
                if c.key.is_none() {
                    e.0 = true;
                } else {
                    e.1 = true;
                }
            }
        }
        // A request's mode (and KMS key) is observable when the trail holds evidence of it: a
        // KMS call it caused, its own SSE response headers (writes), or the logged write of
        // the object it reads. Otherwise the analyzer rightly reports `unknown`.
        let caused_call: HashSet<usize> = if trail.kms_events {
            second.calls.iter().map(|c| c.request).collect()
        } else {
            HashSet::new()
        };
        for (k, r) in second.requests.iter().enumerate() {
            if let (true, None, Some(object)) = (is_write(r.op), r.failure, r.object) {
                self.written[r.bucket].insert(object);
            }
            let counted = self.counted_in_rows(r);
            self.filtered(r, counted);
            if let (ObjectSse::SseS3, true, None, Some(object)) = (
                sim.buckets[r.bucket].sse,
                is_write(r.op),
                r.failure,
                r.object,
            ) {
                self.written_not_kms[r.bucket].insert(object);
            }
            if trail.s3_data_events && !matches!(r.op, Op::HeadObject | Op::Replicate) && counted {
                self.request_rows(r, caused_call.contains(&(second.first_request + k)));
            }
        }
        for c in &second.calls {
            let r = second.request_of(c);
            if trail.kms_events {
                self.call_rows(c, r);
            }
            if trail.kms_events && trail.cross_account_delivery {
                let owner = c.kms_key.split(':').nth(4).unwrap_or("");
                if !owner.is_empty() && owner != sim.sessions[r.session].identity.account {
                    self.shared += 1;
                }
            }
        }
    }

    /// DSSE-KMS shows only in a write's SSE headers: a request is known to be DSSE-KMS when it
    /// is such a write, or its object's write is logged (the analyzer's `dsse` mode).
    fn dsse_known(&self, r: &Planned) -> bool {
        self.sim.scenario.trail.s3_data_events
            && r.failure.is_none()
            && matches!(r.encryption, Encryption::DsseKms)
            && !matches!(r.op, Op::HeadObject | Op::Replicate)
            && (is_write(r.op) || among(&self.written, r))
    }

    fn principal(&self, session: usize) -> String {
        self.sim.sessions[session].identity.arn.clone()
    }

    /// A request's row in each grouping: its mode (and KMS key) told once, by what the trail
    /// shows of it.
    fn request_rows(&mut self, r: &Planned, caused_call: bool) {
        let b = &self.sim.buckets[r.bucket];
        let (mode, observable) = if r.failure.is_some() {
            (INFERRED, false)
        } else {
            let observable = caused_call || is_write(r.op) || among(&self.written, r);
            let mode = if self.dsse_known(r) {
                "dsse"
            } else if observable {
                mode(r.bucket_key_path)
            } else {
                INFERRED
            };
            (mode, observable)
        };
        for grouping in GROUPINGS {
            let group = match grouping {
                Grouping::Bucket => b.name.clone(),
                Grouping::Principal => self.principal(r.session),
                Grouping::KmsKey if observable => b.key_for(&r.key).to_string(),
                Grouping::KmsKey => "(unknown)".to_string(),
            };
            let g = self.rows[grouping as usize]
                .entry((b.name.clone(), group, mode))
                .or_default();
            if r.failure.is_some() {
                g.s3_errors += 1;
            } else {
                *g.s3.entry(r.op.name()).or_default() += 1;
                if let Some(object) = r.object {
                    g.object(object);
                }
            }
        }
    }

    /// A call's row in each grouping, and the object it names (the request's, or a copy's
    /// source), by its number.
    fn call_rows(&mut self, c: &KmsCall, r: &Planned) {
        let call_mode = if self.dsse_known(r) {
            "dsse"
        } else {
            mode(c.key.is_none())
        };
        // The object a per-object call names: the copy's source (which it decrypts) or the
        // request's own.
        let object = c.key.as_ref().and_then(|k| match &r.source {
            Some((sb, sk, object)) if self.sim.buckets[*sb].name == c.bucket && **sk == **k => {
                Some(*object)
            }
            _ => r.object,
        });
        for grouping in GROUPINGS {
            let group = match grouping {
                Grouping::Bucket => c.bucket.clone(),
                Grouping::Principal => self.principal(r.session),
                Grouping::KmsKey => c.kms_key.clone(),
            };
            let g = self.rows[grouping as usize]
                .entry((c.bucket.clone(), group, call_mode))
                .or_default();
            *g.kms.entry(c.op.name()).or_default() += 1;
            if let Some(object) = object {
                g.object(object);
            }
        }
    }

    /// Whether the analyzer counts a (non-HEAD) request in its rows: not when the trail shows
    /// it is not SSE-KMS (an SSE-C request carries its header; an SSE-S3 write its response),
    /// nor when it reads, or uploads a part of, an object whose logged write was not SSE-KMS.
    fn counted_in_rows(&self, r: &Planned) -> bool {
        match self.sim.buckets[r.bucket].sse {
            ObjectSse::SseKms | ObjectSse::DsseKms => true,
            ObjectSse::SseC => false,
            ObjectSse::SseS3 if is_write(r.op) => r.failure.is_some(),
            ObjectSse::SseS3 => {
                !matches!(r.op, Op::GetObject | Op::UploadPart) || !among(&self.written_not_kms, r)
            }
        }
    }

    /// The summary's filtered counts the simulation fixes: requests that are not SSE-KMS
    /// (each counted once), reads set apart for reading such objects, and records delivered
    /// to a second account (one per cross-account request or call).
    fn filtered(&mut self, r: &Planned, counted: bool) {
        let sim = self.sim;
        let trail = &sim.scenario.trail;
        if !trail.s3_data_events || matches!(r.op, Op::HeadObject | Op::Replicate) {
            return;
        }
        let b = &sim.buckets[r.bucket];
        match b.sse {
            ObjectSse::SseC => self.not_sse_kms += 1,
            ObjectSse::SseS3 if is_write(r.op) && r.failure.is_none() => self.not_sse_kms += 1,
            ObjectSse::SseS3 if !counted => self.non_kms_reads += 1,
            _ => {}
        }
        if trail.cross_account_delivery && b.account != sim.sessions[r.session].identity.account {
            self.shared += 1;
        }
    }

    /// The manifest: the rows whose mode the trail does not tell take their bucket's, when
    /// all its logged KMS calls are of one mode (as the analyzer infers it).
    pub fn finish(self) -> Value {
        let sim = self.sim;
        let trail = &sim.scenario.trail;
        let inferred = |bucket: &str| match self.bucket_modes.get(bucket) {
            Some((true, false)) => "bucket_key",
            Some((false, true)) => "per_object",
            _ => "unknown",
        };
        let count_map = |m: &BTreeMap<&'static str, u64>| -> Value {
            let mut out: Map<String, Value> =
                m.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            out.insert("total".into(), json!(m.values().sum::<u64>()));
            Value::Object(out)
        };
        let [by_bucket, by_principal, by_kms_key] = self.rows.map(|rows| {
            let mut resolved = Rows::new();
            for ((bucket, group, mode), g) in rows {
                let mode = if mode == INFERRED {
                    inferred(&bucket)
                } else {
                    mode
                };
                resolved.entry((bucket, group, mode)).or_default().add(g);
            }
            resolved
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
                .collect::<Vec<_>>()
        });
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
                "groups": by_bucket,
                "by_principal": by_principal,
                "by_kms_key": by_kms_key,
                "filtered": {
                    "s3_not_sse_kms": self.not_sse_kms,
                    "s3_read_of_non_kms_object": self.non_kms_reads,
                    "duplicate_shared_event_id": self.shared,
                },
            },
            "truth": {
                "s3_requests": self.requests,
                "kms_calls": self.calls,
                "prefixes": self.prefixes.iter().map(|((bucket, prefix, mode), n)| json!({
                    "bucket": bucket, "prefix": prefix, "mode": mode, "kms_calls": n,
                })).collect::<Vec<_>>(),
            },
        })
    }
}
