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

use crate::correlate::Joined;
use crate::envelope::{Encryption, Engine, Op, Params, Request};
use crate::event::{KmsOp, Mode, S3Op};
use crate::intern::Sym;
use std::collections::{BTreeMap, HashSet};

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
}

impl BucketWhatIf {
    /// KMS calls of all this bucket's traffic with bucket keys on.
    pub fn with_bucket_keys(&self) -> u64 {
        self.bucket_key_calls + self.per_object_traffic_with_bucket_keys
    }
    /// KMS calls of all this bucket's traffic without bucket keys (a lower bound when
    /// [`BucketWhatIf::unreplayed_bucket_key_calls`] is not zero).
    pub fn without_bucket_keys(&self) -> u64 {
        self.per_object_calls + self.bucket_key_traffic_without + self.unreplayed_bucket_key_calls
    }
    /// Whether anything here was projected rather than observed.
    pub fn projected(&self) -> bool {
        self.per_object_requests + self.bucket_key_requests > 0
    }
    /// The observed state of the bucket: `on`, `off`, `mixed`.
    pub fn bucket_keys(&self) -> &'static str {
        match (
            self.bucket_key_calls + self.bucket_key_requests > 0,
            self.per_object_calls + self.per_object_requests > 0,
        ) {
            (true, true) => "mixed",
            (true, false) => "on",
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
}

/// The account in an IAM or STS ARN (`arn:aws:sts::111122223333:assumed-role/R/s`).
pub fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    let account = parts.nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
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
        S3Op::GetObject => Op::GetObject,
        S3Op::CopyObject => Op::CopyObject,
        S3Op::CreateMultipartUpload => Op::CreateMultipartUpload,
        S3Op::UploadPart => Op::UploadPart,
        S3Op::UploadPartCopy => Op::UploadPartCopy,
        S3Op::CompleteMultipartUpload => Op::CompleteMultipartUpload,
    }
}

/// Where each replayed request came from.
struct Origin {
    account: Sym,
    region: Sym,
    bucket: Sym,
    /// It ran per object (so it is replayed with bucket keys).
    was_per_object: bool,
}

/// Projects the joined trail both ways. Buckets are keyed by the account of their requesters
/// (the caller's account, as cost and quota count it).
pub fn project(j: &Joined, params: &Params) -> WhatIf {
    let strings = &j.strings;
    let mut out = WhatIf::default();
    let account_of = |requester: Sym, fallback: Sym| -> Sym {
        arn_account(strings.get(requester))
            .and_then(|a| strings.lookup(a))
            .unwrap_or(fallback)
    };
    // Observed calls per bucket and mode, and the per-object calls no S3 request explains.
    let mut unexplained: Vec<usize> = Vec::new();
    for (idx, k) in j.kms.iter().enumerate() {
        let account = account_of(k.requester, k.account);
        let b = out.buckets.entry((account, k.bucket)).or_default();
        let matched = j.m.kms_to_s3[idx].is_some();
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
                    unexplained.push(idx);
                }
            }
        }
    }
    // The traffic to replay, in time order.
    let mut replay: Vec<(Request, Origin)> = Vec::new();
    for (i, r) in j.s3.iter().enumerate() {
        let resolved = j.resolve(i);
        let was_per_object = match resolved.mode {
            Mode::PerObject => true,
            Mode::BucketKey => false,
            Mode::Unknown => continue,
        };
        let kms_key = strings.get_opt(resolved.kms_key).unwrap_or("(unknown)");
        let requester = strings.get(r.requester);
        let source = (!r.src_bucket.is_none()).then(|| {
            (
                strings.get(r.src_bucket).to_string(),
                strings.get(r.src_key).to_string(),
                kms_key.to_string(),
            )
        });
        replay.push((
            Request {
                time: r.time,
                session: requester.to_string(),
                role: role_of(requester),
                session_policy: String::new(),
                bucket: strings.get(r.bucket).to_string(),
                key: strings.get(r.key).to_string(),
                kms_key: kms_key.to_string(),
                op: engine_op(r.op),
                encryption: Encryption::SseKms {
                    bucket_key: was_per_object,
                },
                source,
                destination: None,
            },
            Origin {
                account: account_of(r.requester, r.account),
                region: r.region,
                bucket: r.bucket,
                was_per_object,
            },
        ));
    }
    for idx in unexplained {
        let k = &j.kms[idx];
        let requester = strings.get(k.requester);
        replay.push((
            Request {
                time: k.time,
                session: requester.to_string(),
                role: role_of(requester),
                session_policy: String::new(),
                bucket: strings.get(k.bucket).to_string(),
                key: strings.get(k.key).to_string(),
                kms_key: strings
                    .get_opt(k.kms_key)
                    .unwrap_or("(unknown)")
                    .to_string(),
                op: if k.op == KmsOp::GenerateDataKey {
                    Op::PutObject
                } else {
                    Op::GetObject
                },
                encryption: Encryption::SseKms { bucket_key: true },
                source: None,
                destination: None,
            },
            Origin {
                account: account_of(k.requester, k.account),
                region: k.region,
                bucket: k.bucket,
                was_per_object: true,
            },
        ));
    }
    // Stable: S3 requests and stand-ins keep their canonical order within a second.
    replay.sort_by_key(|(r, _)| r.time);

    let mut engine = Engine::new(params.clone(), PROJECTION_SEED);
    // Objects read before the trail writes them existed before it: under bucket keys, one
    // bucket-level key per bucket and KMS key (see the module's assumptions).
    let mut written: HashSet<(&str, &str)> = HashSet::new();
    for (r, o) in &replay {
        let (bucket, key) = (r.bucket.as_str(), r.key.as_str());
        match r.op {
            Op::PutObject | Op::CreateMultipartUpload | Op::CopyObject => {
                written.insert((bucket, key));
            }
            _ if o.was_per_object && !written.contains(&(bucket, key)) => {
                engine.preexisting_shared(bucket, key, &r.kms_key);
                written.insert((bucket, key));
            }
            _ => {}
        }
    }
    let mut calls = Vec::new();
    for (r, o) in &replay {
        calls.clear();
        engine.request(r, &mut calls);
        let b = out.buckets.entry((o.account, o.bucket)).or_default();
        if o.was_per_object {
            b.per_object_requests += 1;
            b.per_object_traffic_with_bucket_keys += calls.len() as u64;
            out.with_bucket_keys_calls
                .extend(calls.iter().map(|c| (o.account, o.region, c.time)));
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
}
