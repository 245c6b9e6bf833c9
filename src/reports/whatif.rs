//! What-if projections: the KMS calls the same S3 traffic would have made with bucket keys
//! switched the other way, through the envelope engine the simulator uses.
//!
//! Per bucket, traffic that ran **without** bucket keys (S3 requests whose mode resolved to per
//! object, plus per-object KMS calls with no S3 data event, read back as the PUT or GET they
//! imply) is replayed with bucket keys on; traffic that ran **with** them (S3 requests in
//! bucket-key mode) is replayed without. Both directions go through one engine run, in time
//! order, so front-end caches and their TTLs see the traffic as it came.
//!
//! Assumptions, stated in every report that shows a projection:
//! - objects read but not written in the trail are taken as written under one bucket-level key
//!   per bucket and KMS key (the steady state after the switch; objects written before it keep
//!   per-object keys until rewritten, so the first weeks save less);
//! - bucket-key calls with no S3 data events cannot be replayed without bucket keys (how many
//!   requests they served is unknown): such a bucket's "without" figure is a lower bound.

use crate::envelope::{Encryption, Engine, Op, Params, Request};
use crate::event::{arn_account, Failure, KmsOp, Mode, S3Op};
use crate::intern::{HashMap, HashSet, Sym};
use crate::join::Joined;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// The engine seed of projections: fixed, so a report does not change between runs.
pub const PROJECTION_SEED: u64 = 0x6b65_7974_7261_696c;

/// One bucket's projection (within the account of its requesters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketWhatIf {
    /// S3 requests (and per-object calls standing for unlogged ones) that ran per object.
    pub per_object_requests: u64,
    /// S3 requests that ran with bucket keys.
    pub bucket_key_requests: u64,
    /// KMS calls observed in each mode.
    pub per_object_calls: u64,
    pub bucket_key_calls: u64,
    /// The engine's calls for the per-object traffic with bucket keys on.
    pub per_object_traffic_with_bucket_keys: u64,
    /// The engine's calls for the bucket-key traffic without bucket keys.
    pub bucket_key_traffic_without: u64,
    /// Bucket-key calls that no S3 request explains: carried over unchanged.
    pub unreplayed_bucket_key_calls: u64,
    /// DSSE-KMS requests and the KMS calls matched to them: S3 uses no bucket key with
    /// DSSE-KMS, so they are the same either way and never replayed.
    pub dsse_requests: u64,
    pub dsse_calls: u64,
    /// Distinct objects, as analyze counts them (of per-object KMS calls and of successful S3
    /// requests): what both sides' calls are per.
    pub objects: u64,
}

impl BucketWhatIf {
    /// KMS calls per object with bucket keys on, and off; `None` without objects.
    pub fn per_object(&self) -> Option<(f64, f64)> {
        (self.objects > 0).then(|| {
            let n = self.objects as f64;
            (
                self.with_bucket_keys() as f64 / n,
                self.without_bucket_keys() as f64 / n,
            )
        })
    }
    /// KMS calls of all this bucket's traffic with bucket keys on.
    pub fn with_bucket_keys(&self) -> u64 {
        self.bucket_key_calls + self.per_object_traffic_with_bucket_keys + self.dsse_calls
    }
    /// KMS calls of all this bucket's traffic without bucket keys (a lower bound when
    /// [`BucketWhatIf::unreplayed_bucket_key_calls`] is not zero).
    pub fn without_bucket_keys(&self) -> u64 {
        self.per_object_calls
            + self.bucket_key_traffic_without
            + self.unreplayed_bucket_key_calls
            + self.dsse_calls
    }
    /// Whether there is a projection to show: traffic was replayed, and the calls it is set
    /// against were logged.
    pub fn projected(&self) -> bool {
        self.per_object_requests + self.bucket_key_requests > 0 && !self.kms_events_missing()
    }
    /// Per-object requests with not one per-object call logged: every such request makes a
    /// call, so the trail lacks this traffic's KMS events, and "observed" would read as zero.
    /// (Bucket-key traffic can make no call at all: a warm cache.)
    pub fn kms_events_missing(&self) -> bool {
        self.per_object_requests > 0 && self.per_object_calls == 0
    }
    /// The observed state of the bucket: `on`, `off`, `mixed`.
    pub fn bucket_keys(&self) -> &'static str {
        match (
            self.bucket_key_calls + self.bucket_key_requests > 0,
            self.per_object_calls + self.per_object_requests > 0,
        ) {
            (true, true) => "mixed",
            (true, false) => "on",
            _ if self.dsse_requests > 0 => "n/a (DSSE-KMS)",
            _ => "off",
        }
    }
}

/// The projection of a whole trail.
#[derive(Debug, Clone, Default)]
pub struct WhatIf {
    /// By (account, bucket).
    pub buckets: BTreeMap<(Sym, Sym), BucketWhatIf>,
    /// The engine's calls for the per-object traffic with bucket keys on: (account, Region,
    /// time), for the quota's what-if peak.
    pub with_bucket_keys_calls: Vec<(Sym, Sym, i64)>,
    /// The event IDs of KMS calls made for DSSE-KMS requests: the same either way, so the
    /// quota's what-if keeps them.
    pub dsse_call_ids: HashSet<u128>,
}

impl WhatIf {
    /// Its buckets by the names of their account and bucket (an account the trail does not
    /// name is `""`).
    pub fn by_name(
        &self,
        strings: &crate::intern::Interner,
    ) -> BTreeMap<(String, String), BucketWhatIf> {
        self.buckets
            .iter()
            .map(|((a, b), w)| {
                let name = |s: Sym| strings.get(s).to_string();
                ((name(*a), name(*b)), w.clone())
            })
            .collect()
    }
}

/// One bucket's KMS calls per object as its traffic ran and with bucket keys switched the
/// other way (analyze's chart): the same objects on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Counterpart {
    /// The account of the bucket's requesters (a bucket read from two accounts is two).
    pub account: String,
    pub bucket: String,
    /// `on`, `off` or `mixed`: which side ran (the other is the engine's replay).
    pub bucket_keys: &'static str,
    pub objects: u64,
    /// KMS calls per object, and in all, each way.
    pub with_bucket_keys: f64,
    pub without_bucket_keys: f64,
    pub calls_with_bucket_keys: u64,
    pub calls_without_bucket_keys: u64,
    /// The "without" side is a lower bound (bucket-key calls no S3 request explains).
    pub without_is_lower_bound: bool,
}

/// The buckets of `wanted` (all when `None`) that have a projection, as [`Counterpart`]s, in
/// (account, bucket) order.
pub fn counterparts(
    j: &Joined,
    what_if: &WhatIf,
    wanted: Option<&std::collections::BTreeSet<String>>,
) -> Vec<Counterpart> {
    let mut out: Vec<Counterpart> = what_if
        .buckets
        .iter()
        .filter(|(_, b)| b.projected())
        .filter_map(|((account, bucket), b)| {
            let bucket = j.strings.get(*bucket).to_string();
            if wanted.is_some_and(|w| !w.contains(&bucket)) {
                return None;
            }
            let (with, without) = b.per_object()?;
            Some(Counterpart {
                account: j.strings.get_opt(*account).unwrap_or("").to_string(),
                bucket,
                bucket_keys: b.bucket_keys(),
                objects: b.objects,
                with_bucket_keys: with,
                without_bucket_keys: without,
                calls_with_bucket_keys: b.with_bucket_keys(),
                calls_without_bucket_keys: b.without_bucket_keys(),
                without_is_lower_bound: b.unreplayed_bucket_key_calls > 0,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.account, &a.bucket).cmp(&(&b.account, &b.bucket)));
    out
}

/// The role ARN of an assumed-role session ARN; other ARNs are their own role.
fn role_of(requester: &str) -> String {
    if let Some((head, rest)) = requester.split_once(":assumed-role/") {
        let role = rest.split('/').next().unwrap_or(rest);
        let account = head.rsplit(':').next().unwrap_or("");
        let partition = head.split(':').nth(1).unwrap_or("aws");
        return format!("arn:{partition}:iam::{account}:role/{role}");
    }
    requester.to_string()
}

fn engine_op(op: S3Op) -> Op {
    match op {
        S3Op::PutObject => Op::PutObject,
        // S3 Select reads the object as a GET does: the engine models both alike.
        S3Op::GetObject | S3Op::SelectObjectContent => Op::GetObject,
        S3Op::CopyObject => Op::CopyObject,
        S3Op::CreateMultipartUpload => Op::CreateMultipartUpload,
        S3Op::UploadPart => Op::UploadPart,
        S3Op::UploadPartCopy => Op::UploadPartCopy,
        S3Op::CompleteMultipartUpload => Op::CompleteMultipartUpload,
    }
}

/// One request to replay, all symbols: the strings are written into one reused engine
/// request only as it is replayed.
#[derive(Debug, Clone, Copy)]
struct Replay {
    time: i64,
    requester: Sym,
    bucket: Sym,
    key: Sym,
    kms_key: Sym,
    op: Op,
    /// A copy's source object (its KMS key is taken as the destination's).
    source: Option<(Sym, Sym)>,
    account: Sym,
    region: Sym,
    /// It ran per object (so it is replayed with bucket keys).
    was_per_object: bool,
}

/// Projects the joined trail both ways. Buckets are keyed by the account of their requesters
/// (the caller's account, as cost and quota count it).
pub fn project(j: &Joined, params: &Params) -> WhatIf {
    let strings = &j.strings;
    let mut out = WhatIf::default();
    // The account of a requester's ARN, looked up once per requester (and fallback).
    let mut accounts: HashMap<(Sym, Sym), Sym> = HashMap::default();
    let mut account_of = |requester: Sym, fallback: Sym| -> Sym {
        *accounts.entry((requester, fallback)).or_insert_with(|| {
            arn_account(strings.get(requester))
                .and_then(|a| strings.lookup(a))
                .unwrap_or(fallback)
        })
    };
    // Observed calls per bucket and mode, and the per-object calls no S3 request explains.
    let mut replay: Vec<Replay> = Vec::new();
    let mut objects: HashSet<(Sym, Sym, Sym)> = HashSet::default();
    let mut stand_ins: Vec<Replay> = Vec::new();
    for (idx, k) in j.kms.iter().enumerate() {
        let account = account_of(k.requester, k.account);
        // Objects as analyze counts them: of per-object calls and successful requests.
        if k.mode != Mode::BucketKey {
            objects.insert((account, k.bucket, k.key));
        }
        let b = out.buckets.entry((account, k.bucket)).or_default();
        let matched = j.m.kms_to_s3[idx].is_some();
        if j.m.kms_to_s3[idx].is_some_and(|i| j.is_dsse(i as usize)) {
            b.dsse_calls += 1;
            out.dsse_call_ids.insert(k.id);
            continue;
        }
        match k.mode {
            Mode::BucketKey => {
                b.bucket_key_calls += 1;
                if !matched {
                    b.unreplayed_bucket_key_calls += 1;
                }
            }
            _ => {
                b.per_object_calls += 1;
                if !matched && k.op != KmsOp::Encrypt {
                    stand_ins.push(Replay {
                        time: k.time,
                        requester: k.requester,
                        bucket: k.bucket,
                        key: k.key,
                        kms_key: k.kms_key,
                        op: if k.op == KmsOp::GenerateDataKey {
                            Op::PutObject
                        } else {
                            Op::GetObject
                        },
                        source: None,
                        account,
                        region: k.region,
                        was_per_object: true,
                    });
                }
            }
        }
    }
    for (i, r) in j.s3.iter().enumerate() {
        let resolved = j.resolve(i);
        let was_per_object = match resolved.mode {
            Mode::PerObject => true,
            Mode::BucketKey => false,
            Mode::Dsse => {
                let account = account_of(r.requester, r.account);
                if r.failure == Failure::None {
                    objects.insert((account, r.bucket, r.key));
                }
                out.buckets
                    .entry((account, r.bucket))
                    .or_default()
                    .dsse_requests += 1;
                continue;
            }
            Mode::Unknown => continue,
        };
        if r.failure == Failure::None {
            objects.insert((account_of(r.requester, r.account), r.bucket, r.key));
        }
        replay.push(Replay {
            time: r.time,
            requester: r.requester,
            bucket: r.bucket,
            key: r.key,
            kms_key: resolved.kms_key,
            op: engine_op(r.op),
            source: (!r.src_bucket.is_none()).then_some((r.src_bucket, r.src_key)),
            account: account_of(r.requester, r.account),
            region: r.region,
            was_per_object,
        });
    }
    // S3 requests, then stand-ins, in time order (stable: canonical order within a second).
    replay.append(&mut stand_ins);
    replay.sort_by_key(|r| r.time);

    // A bucket's calls are a function of its own traffic and of its copies' sources (the
    // engine's state and random streams are per bucket), so buckets closed under copies
    // replay in engines of their own, in parallel, each in time order: the same calls as one
    // engine over the whole trail.
    let replayed: Vec<Replayed> = replay_groups(&replay)
        .par_iter()
        .map(|group| replay_group(&replay, group, strings, params))
        .collect();
    let mut projected_calls: Vec<(Sym, Sym, Sym, i64)> = Vec::new();
    for g in replayed {
        for (slot, c) in g.buckets {
            let b = out.buckets.entry(slot).or_default();
            b.per_object_requests += c.per_object_requests;
            b.per_object_traffic_with_bucket_keys += c.per_object_traffic_with_bucket_keys;
            b.bucket_key_requests += c.bucket_key_requests;
            b.bucket_key_traffic_without += c.bucket_key_traffic_without;
        }
        projected_calls.extend(g.calls);
    }
    for (account, bucket, _) in objects {
        out.buckets.entry((account, bucket)).or_default().objects += 1;
    }
    // A bucket whose KMS events are missing has nothing to set its projection against.
    out.with_bucket_keys_calls = projected_calls
        .into_iter()
        .filter(|(a, b, _, _)| out.buckets[&(*a, *b)].projected())
        .map(|(a, _, r, t)| (a, r, t))
        .collect();
    out
}

/// The requests to replay (their positions in `replay`) split into groups of buckets closed
/// under copies (a copy reads its source bucket's state), each in the order of `replay`; small
/// groups packed together so that there are a few per thread.
fn replay_groups(replay: &[Replay]) -> Vec<Vec<u32>> {
    // Each bucket's number, in order of first appearance, and its requests.
    let mut index: HashMap<Sym, u32> = HashMap::default();
    let mut weights: Vec<u64> = Vec::new();
    let mut dense = |s: Sym| -> u32 {
        let n = index.len() as u32;
        *index.entry(s).or_insert_with(|| {
            weights.push(0);
            n
        })
    };
    let mut links: Vec<(u32, u32)> = Vec::new();
    let mut of_request: Vec<u32> = Vec::with_capacity(replay.len());
    for r in replay {
        let b = dense(r.bucket);
        if let Some((source, _)) = r.source {
            links.push((b, dense(source)));
        }
        of_request.push(b);
    }
    for &b in &of_request {
        weights[b as usize] += 1;
    }
    let pack = (replay.len() as u64 / (4 * rayon::current_num_threads() as u64)).max(1);
    let groups = crate::trail::spill::groups_of(&weights, &links, pack);
    let mut group_of = vec![0usize; weights.len()];
    for (g, members) in groups.iter().enumerate() {
        for &b in members {
            group_of[b] = g;
        }
    }
    let mut out: Vec<Vec<u32>> = groups.iter().map(|_| Vec::new()).collect();
    for (i, b) in of_request.into_iter().enumerate() {
        out[group_of[b as usize]].push(i as u32);
    }
    out
}

/// What one group's replay found: each (account, bucket)'s replayed requests and calls, and
/// the calls with bucket keys on as (account, bucket, Region, time).
#[derive(Default)]
struct Replayed {
    buckets: HashMap<(Sym, Sym), BucketWhatIf>,
    calls: Vec<(Sym, Sym, Sym, i64)>,
}

/// Replays one group of buckets (`group`, positions in `replay`), in order, through an engine
/// of its own.
fn replay_group(
    replay: &[Replay],
    group: &[u32],
    strings: &crate::intern::Interner,
    params: &Params,
) -> Replayed {
    let replay = || group.iter().map(|&i| &replay[i as usize]);
    let mut out = Replayed::default();
    let mut engine = Engine::new(params.clone(), PROJECTION_SEED);
    // Objects read before the trail writes them existed before it: under bucket keys, one
    // bucket-level key per bucket and KMS key (see the module's assumptions).
    let unknown_key = "(unknown)";
    let kms_key_of = |s: Sym| strings.get_opt(s).unwrap_or(unknown_key);
    let mut written: HashSet<(Sym, Sym)> = HashSet::default();
    for r in replay() {
        match r.op {
            Op::PutObject | Op::CreateMultipartUpload | Op::CopyObject => {
                written.insert((r.bucket, r.key));
            }
            _ if r.was_per_object && written.insert((r.bucket, r.key)) => {
                let (bucket, key) = (strings.get(r.bucket), strings.get(r.key));
                engine.preexisting_shared(bucket, key, Some(r.key.0), kms_key_of(r.kms_key));
            }
            _ => {}
        }
    }
    let mut roles: HashMap<Sym, String> = HashMap::default();
    let mut request = Request {
        time: 0,
        session: String::new(),
        role: String::new(),
        session_policy: String::new(),
        bucket: String::new(),
        key: String::new(),
        object: None,
        kms_key: String::new(),
        op: Op::HeadObject,
        encryption: Encryption::SseKms { bucket_key: false },
        source: None,
        source_object: None,
        destination: None,
    };
    let set = |field: &mut String, value: &str| {
        field.clear();
        field.push_str(value);
    };
    let mut calls = Vec::new();
    for r in replay() {
        let session = strings.get(r.requester);
        let role = roles.entry(r.requester).or_insert_with(|| role_of(session));
        request.time = r.time;
        set(&mut request.session, session);
        set(&mut request.role, role);
        set(&mut request.bucket, strings.get(r.bucket));
        set(&mut request.key, strings.get(r.key));
        // Objects by their key's symbol: one number per key, so the engine keeps no copy of
        // the keys (the same calls as by key: the engine's tests require it).
        request.object = Some(r.key.0);
        set(&mut request.kms_key, kms_key_of(r.kms_key));
        request.op = r.op;
        request.encryption = Encryption::SseKms {
            bucket_key: r.was_per_object,
        };
        request.source = r.source.map(|(b, k)| {
            (
                strings.get(b).to_string(),
                strings.get(k).to_string(),
                kms_key_of(r.kms_key).to_string(),
            )
        });
        request.source_object = r.source.map(|(_, k)| k.0);
        calls.clear();
        engine.request(&request, &mut calls);
        let b = out.buckets.entry((r.account, r.bucket)).or_default();
        if r.was_per_object {
            b.per_object_requests += 1;
            b.per_object_traffic_with_bucket_keys += calls.len() as u64;
            out.calls.extend(
                calls
                    .iter()
                    .map(|c| (r.account, r.bucket, r.region, c.time)),
            );
        } else {
            b.bucket_key_requests += 1;
            b.bucket_key_traffic_without += calls.len() as u64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_roles_come_from_arns() {
        let s = "arn:aws:sts::111122223333:assumed-role/etl/i-0abc";
        assert_eq!(arn_account(s), Some("111122223333"));
        assert_eq!(role_of(s), "arn:aws:iam::111122223333:role/etl");
        assert_eq!(arn_account("s3.amazonaws.com"), None);
        assert_eq!(
            role_of("arn:aws:iam::111122223333:user/alice"),
            "arn:aws:iam::111122223333:user/alice"
        );
    }
    /// Many buckets' traffic, one requester across all of them, busy enough to spread over
    /// front-end caches, with copies linking some buckets: replayed in groups, in parallel,
    /// it must give what one engine over the whole trail gives.
    #[test]
    fn groups_of_buckets_replay_as_one_engine_does() {
        let mut strings = crate::intern::Interner::default();
        let requester = strings.intern("arn:aws:sts::111122223333:assumed-role/etl/i-1");
        let (account, region) = (strings.intern("111122223333"), strings.intern("eu-west-1"));
        let kms_key = strings.intern("arn:aws:kms:eu-west-1:111122223333:key/k");
        let buckets: Vec<Sym> = (0..12)
            .map(|b| strings.intern(&format!("bucket-{b}")))
            .collect();
        let keys: Vec<Sym> = (0..40)
            .map(|k| strings.intern(&format!("data/{k}")))
            .collect();
        let mut replay = Vec::new();
        let mut rng = crate::envelope::Rng::new(3);
        for i in 0..6_000u64 {
            let b = rng.below(buckets.len() as u64) as usize;
            let op = match rng.below(10) {
                0..=2 => Op::PutObject,
                3 if b.is_multiple_of(3) => Op::CopyObject,
                _ => Op::GetObject,
            };
            let key = keys[rng.below(keys.len() as u64) as usize];
            replay.push(Replay {
                time: 1_700_000_000 + (i / 40) as i64,
                requester,
                bucket: buckets[b],
                key,
                kms_key,
                op,
                // Bucket 0 copies from 1, 3 from 4, ...: groups of two.
                source: (op == Op::CopyObject).then(|| (buckets[b + 1], key)),
                account,
                region,
                was_per_object: rng.below(4) != 0,
            });
        }
        let groups = replay_groups(&replay);
        assert!(groups.len() > 1, "{} groups", groups.len());
        let mut seen: Vec<u32> = groups.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..replay.len() as u32).collect::<Vec<_>>());
        for g in &groups {
            assert!(g.windows(2).all(|w| w[0] < w[1]), "a group out of order");
        }
        let group_of = |bucket: Sym| {
            groups
                .iter()
                .position(|g| g.iter().any(|&i| replay[i as usize].bucket == bucket))
        };
        for r in &replay {
            if let Some((source, _)) = r.source {
                assert_eq!(group_of(r.bucket), group_of(source));
            }
        }

        let params = Params::default();
        let whole: Vec<u32> = (0..replay.len() as u32).collect();
        let one = replay_group(&replay, &whole, &strings, &params);
        let mut buckets_of_groups: HashMap<(Sym, Sym), BucketWhatIf> = HashMap::default();
        let mut calls_of_groups = Vec::new();
        for g in &groups {
            let part = replay_group(&replay, g, &strings, &params);
            for (slot, b) in part.buckets {
                assert!(
                    buckets_of_groups.insert(slot, b).is_none(),
                    "a bucket in two groups"
                );
            }
            calls_of_groups.extend(part.calls);
        }
        assert_eq!(buckets_of_groups, one.buckets);
        let mut calls_of_one = one.calls;
        calls_of_one.sort_unstable();
        calls_of_groups.sort_unstable();
        assert_eq!(calls_of_groups, calls_of_one);
        // Bucket keys made a difference somewhere, so the caches were exercised.
        assert!(one
            .buckets
            .values()
            .any(|b| b.per_object_traffic_with_bucket_keys < b.per_object_requests));
    }
}
