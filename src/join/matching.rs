//! Matching KMS calls to S3 requests.
//!
//! GenerateDataKey pairs with writes (PutObject, CreateMultipartUpload, the destination of
//! CopyObject); Decrypt with reads (GetObject, SelectObjectContent, UploadPart, UploadPartCopy,
//! the source of CopyObject); CompleteMultipartUpload, whose KMS use is undocumented, with either, last.
//! Among candidates the nearest in time wins; each S3 request side is used once. A request S3
//! refused is matched only by a KMS call that failed too (the refusal's cause, if any). Matching is
//! greedy in time order over canonically sorted events, so it is deterministic.

use crate::event::{Failure, KmsOp, Mode, S3Op};
use crate::intern::{HashMap, Sym};
use crate::trail::records::{KmsRec, S3Rec};

/// Which KMS operation a side of an S3 request can cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Write,
    Read,
    /// CompleteMultipartUpload: undocumented, so it takes either, after every other candidate.
    Either,
}

/// One side of an S3 request that a KMS call can match.
#[derive(Debug, Clone, Copy)]
struct Slot {
    time: i64,
    s3: u32,
    role: Role,
    head: Sym,
    bucket: Sym,
    key: Sym,
    requester: Sym,
    /// S3 refused the request (`errorCode`).
    refused: bool,
}

/// The KMS calls matched to one S3 request: at most two (a copy's Decrypt and
/// GenerateDataKey).
pub type Calls = smallvec::SmallVec<[u32; 2]>;

/// The outcome of matching.
pub struct Matches {
    /// For each KMS call, the S3 request it was matched to.
    pub kms_to_s3: Vec<Option<u32>>,
    /// For each S3 request, the KMS calls matched to it.
    pub s3_to_kms: Vec<Calls>,
    /// For each S3 request, its KMS key: its own, or the one of the PUT that wrote the object.
    pub s3_kms_key: Vec<Sym>,
    /// For each S3 request, the bucket-key setting of the PUT that wrote the object.
    pub s3_writer_bucket_key: Vec<Option<bool>>,
    /// For each S3 request, whether the object was written with DSSE-KMS (as far as the trail
    /// shows: a GET's response says nothing of it).
    pub s3_writer_dsse: Vec<bool>,
}

/// Per S3 request, what the trail's writes say of objects: the KMS key of its object (its own
/// header, or the last logged write of the object), the bucket-key setting and DSSE of the
/// object's last logged write, and for a copy the KMS key of its source object.
struct AsWritten {
    kms_key: Vec<Sym>,
    bucket_key: Vec<Option<bool>>,
    dsse: Vec<bool>,
    source_kms_key: Vec<Sym>,
}

fn objects_as_written(s3: &[S3Rec]) -> AsWritten {
    // What the writes of each object say (last one wins).
    let mut writers: HashMap<(Sym, Sym), (Sym, Option<bool>, bool)> = HashMap::default();
    for r in s3 {
        if r.op.writes() && r.failure == Failure::None {
            let w = writers
                .entry((r.bucket, r.key))
                .or_insert((Sym::NONE, None, false));
            if !r.kms_key.is_none() {
                w.0 = r.kms_key;
            }
            if r.bucket_key.is_some() {
                w.1 = r.bucket_key;
            }
            w.2 = r.dsse;
        }
    }
    let writer = |b: Sym, k: Sym| {
        writers
            .get(&(b, k))
            .copied()
            .unwrap_or((Sym::NONE, None, false))
    };
    let s3_kms_key: Vec<Sym> = s3
        .iter()
        .map(|r| {
            if r.kms_key.is_none() {
                writer(r.bucket, r.key).0
            } else {
                r.kms_key
            }
        })
        .collect();
    let s3_writer_bucket_key: Vec<Option<bool>> =
        s3.iter().map(|r| writer(r.bucket, r.key).1).collect();
    let s3_writer_dsse: Vec<bool> = s3.iter().map(|r| writer(r.bucket, r.key).2).collect();
    let source_kms_key = s3
        .iter()
        .map(|r| {
            if r.src_bucket.is_none() {
                Sym::NONE
            } else {
                writer(r.src_bucket, r.src_key).0
            }
        })
        .collect();
    AsWritten {
        kms_key: s3_kms_key,
        bucket_key: s3_writer_bucket_key,
        dsse: s3_writer_dsse,
        source_kms_key,
    }
}

/// The slots of the S3 requests, grouped by each mode's join key, in time order within a
/// group; `s3` must be in time order.
fn slot_groups(s3: &[S3Rec]) -> (ByObject, ByBucket) {
    let mut slots: Vec<Slot> = Vec::with_capacity(s3.len());
    for (i, r) in s3.iter().enumerate() {
        let mut add = |bucket: Sym, key: Sym, role: Role| {
            slots.push(Slot {
                time: r.time,
                s3: i as u32,
                role,
                head: r.head,
                bucket,
                key,
                requester: r.requester,
                refused: r.failure != Failure::None,
            });
        };
        match r.op {
            S3Op::PutObject | S3Op::CreateMultipartUpload => add(r.bucket, r.key, Role::Write),
            S3Op::GetObject
            | S3Op::UploadPart
            | S3Op::UploadPartCopy
            | S3Op::SelectObjectContent => add(r.bucket, r.key, Role::Read),
            S3Op::CopyObject => {
                add(r.bucket, r.key, Role::Write);
                if !r.src_bucket.is_none() {
                    add(r.src_bucket, r.src_key, Role::Read);
                }
            }
            S3Op::CompleteMultipartUpload => add(r.bucket, r.key, Role::Either),
        }
    }
    rayon::join(|| ByObject::new(&slots), || ByBucket::new(&slots))
}

/// Orders slots by group, `groups[i]` being slot `i`'s, from 0 to `count - 1`. Slots come in the
/// order of the S3 requests, which are sorted by time, and a counting sort is stable: each group
/// stays in time order (then request, then role) without comparing times. Returns the slots
/// in group order and where each group starts (and, last, where the last one ends).
fn counting_sort(slots: &[Slot], groups: &[u32], count: usize) -> (Vec<Slot>, Vec<u32>) {
    let mut starts = vec![0u32; count + 1];
    for &g in groups {
        starts[g as usize + 1] += 1;
    }
    for g in 0..count {
        starts[g + 1] += starts[g];
    }
    let mut next = starts.clone();
    let mut order = slots.to_vec();
    for (slot, &g) in slots.iter().zip(groups) {
        let at = &mut next[g as usize];
        order[*at as usize] = *slot;
        *at += 1;
    }
    (order, starts)
}

/// The slots by object (per-object calls name theirs): by key symbol, whose numbers are dense,
/// then by head, bucket and requester within a key, in time order within each.
struct ByObject {
    slots: Vec<Slot>,
    /// Where the slots of each key symbol start.
    starts: Vec<u32>,
}

impl ByObject {
    fn new(slots: &[Slot]) -> ByObject {
        // S3 requests always name their key; a slot that did not could not be found by it.
        let named: Vec<Slot>;
        let slots = if slots.iter().any(|s| s.key.is_none()) {
            named = slots.iter().filter(|s| !s.key.is_none()).copied().collect();
            &named
        } else {
            slots
        };
        let keys: Vec<u32> = slots.iter().map(|s| s.key.0).collect();
        let count = keys.iter().max().map_or(0, |&k| k as usize + 1);
        let (mut order, starts) = counting_sort(slots, &keys, count);
        for w in starts.windows(2) {
            let run = &mut order[w[0] as usize..w[1] as usize];
            if run.len() > 1 {
                // Stable: time order stays within each group.
                run.sort_by_key(|s| (s.head, s.bucket, s.requester));
            }
        }
        ByObject {
            slots: order,
            starts,
        }
    }

    /// The slots of one object and requester, in time order.
    fn group(&self, head: Sym, bucket: Sym, key: Sym, requester: Sym) -> &[Slot] {
        let k = key.0 as usize;
        if k + 1 >= self.starts.len() {
            return &[]; // no slot has this key (or the call names none)
        }
        let run = &self.slots[self.starts[k] as usize..self.starts[k + 1] as usize];
        let want = (head, bucket, requester);
        let from = run.partition_point(|s| (s.head, s.bucket, s.requester) < want);
        let to = run.partition_point(|s| (s.head, s.bucket, s.requester) <= want);
        &run[from..to]
    }
}

/// The slots by bucket and requester (bucket-key calls name no object), in time order
/// within each.
struct ByBucket {
    slots: Vec<Slot>,
    ranges: HashMap<(Sym, Sym), (u32, u32)>,
}

impl ByBucket {
    fn new(slots: &[Slot]) -> ByBucket {
        // Number the groups as first seen; there are few (buckets times requesters).
        let mut numbers: HashMap<(Sym, Sym), u32> = HashMap::default();
        let of_slot: Vec<u32> = slots
            .iter()
            .map(|s| {
                let next = numbers.len() as u32;
                *numbers.entry((s.bucket, s.requester)).or_insert(next)
            })
            .collect();
        let (order, starts) = counting_sort(slots, &of_slot, numbers.len());
        let ranges = numbers
            .into_iter()
            .map(|(key, g)| (key, (starts[g as usize], starts[g as usize + 1])))
            .collect();
        ByBucket {
            slots: order,
            ranges,
        }
    }

    fn group(&self, bucket: Sym, requester: Sym) -> &[Slot] {
        match self.ranges.get(&(bucket, requester)) {
            Some(&(from, to)) => &self.slots[from as usize..to as usize],
            None => &[],
        }
    }
}

/// Joins KMS calls to S3 requests. Both lists must be sorted.
pub fn match_events(kms: &[KmsRec], s3: &[S3Rec], window: i64, object_window: i64) -> Matches {
    // What each S3 request's object says about its key and bucket-key setting, and the
    // requests' slots grouped for matching: independent, so built side by side.
    let (written, (by_object, by_bucket)) =
        rayon::join(|| objects_as_written(s3), || slot_groups(s3));
    let AsWritten {
        kms_key: s3_kms_key,
        bucket_key: s3_writer_bucket_key,
        dsse: s3_writer_dsse,
        source_kms_key: s3_source_kms_key,
    } = written;
    // Whether each slot is taken: one bit per role of each S3 request.
    let mut used: Vec<u8> = vec![0; s3.len()];

    let mut kms_to_s3 = vec![None; kms.len()];
    let mut s3_to_kms = vec![Calls::new(); s3.len()];
    // Per-object calls name their object, so they are matched first; bucket-key calls, which
    // name only the bucket, then take from what is left.
    let per_object_first = kms
        .iter()
        .enumerate()
        .filter(|(_, k)| k.mode == Mode::PerObject)
        .chain(
            kms.iter()
                .enumerate()
                .filter(|(_, k)| k.mode != Mode::PerObject),
        );
    for (j, call) in per_object_first {
        let role = match call.op {
            KmsOp::GenerateDataKey => Role::Write,
            KmsOp::Decrypt => Role::Read,
            _ => continue,
        };
        // A per-object call names its object: the object and the requester identify the
        // request, within a window as wide as clock skew and long requests need.
        let (group, window) = match call.mode {
            Mode::PerObject => (
                by_object.group(call.head, call.bucket, call.key, call.requester),
                object_window,
            ),
            _ => (by_bucket.group(call.bucket, call.requester), window),
        };
        let first = group.partition_point(|s| s.time < call.time - window);
        let mut best: Option<(u8, i64, u32)> = None;
        for (n, slot) in group.iter().enumerate().skip(first) {
            if slot.time > call.time + window {
                break;
            }
            if used[slot.s3 as usize] & (1 << slot.role as u8) != 0 {
                continue;
            }
            let priority = match slot.role {
                r if r == role => 0,
                Role::Either => 1,
                _ => continue,
            };
            // A request S3 refused (NoSuchKey, AccessDenied, ...) caused no KMS call that
            // succeeded; a failed call (throttled, denied) can be the cause of its refusal.
            if slot.refused && call.failure == Failure::None {
                continue;
            }
            if call.mode == Mode::BucketKey {
                let i = slot.s3 as usize;
                // A copy's read side is the source object, under the source's key.
                let key = match (s3[i].op, slot.role) {
                    (S3Op::CopyObject, Role::Read) => s3_source_kms_key[i],
                    _ => s3_kms_key[i],
                };
                if !key.is_none() && !call.kms_key.is_none() && key != call.kms_key {
                    continue;
                }
                // A request known to go without a bucket key (its own header for a write, the
                // object's logged write for a read) did not cause a bucket-key call.
                let known = match (s3[i].op, slot.role) {
                    (S3Op::CopyObject, Role::Read) => None,
                    (_, Role::Read) => s3_writer_bucket_key[i],
                    _ => s3[i].bucket_key,
                };
                if known == Some(false) {
                    continue;
                }
            }
            let score = (priority, (slot.time - call.time).abs(), n as u32);
            if best.is_none_or(|b| score < b) {
                best = Some(score);
            }
        }
        if let Some((_, _, n)) = best {
            let slot = group[n as usize];
            used[slot.s3 as usize] |= 1 << slot.role as u8;
            let i = slot.s3;
            kms_to_s3[j] = Some(i);
            s3_to_kms[i as usize].push(j as u32);
        }
    }
    Matches {
        kms_to_s3,
        s3_to_kms,
        s3_kms_key,
        s3_writer_bucket_key,
        s3_writer_dsse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_groups_hold_exactly_their_slots_in_time_order() {
        // Slots in time order, with few distinct symbols so that groups share keys, buckets
        // and requesters in every combination.
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % n) as u32
        };
        let roles = [Role::Write, Role::Read, Role::Either];
        let slots: Vec<Slot> = (0..3000)
            .map(|i| Slot {
                time: i as i64 / 3,
                s3: i,
                role: roles[next(3) as usize],
                head: Sym(next(2)),
                bucket: Sym(next(3)),
                key: Sym(next(40)),
                requester: Sym(next(3)),
                refused: false,
            })
            .collect();
        let ids = |group: &[Slot]| {
            group
                .iter()
                .map(|s| (s.s3, s.role as u8))
                .collect::<Vec<_>>()
        };
        let (by_object, by_bucket) = (ByObject::new(&slots), ByBucket::new(&slots));
        for head in 0..3 {
            for bucket in 0..4 {
                for requester in 0..4 {
                    let (h, b, r) = (Sym(head), Sym(bucket), Sym(requester));
                    let want: Vec<Slot> = slots
                        .iter()
                        .filter(|s| (s.bucket, s.requester) == (b, r))
                        .copied()
                        .collect();
                    assert_eq!(ids(by_bucket.group(b, r)), ids(&want));
                    for key in (0..42).chain([u32::MAX]) {
                        let k = Sym(key);
                        let want: Vec<Slot> = slots
                            .iter()
                            .filter(|s| (s.head, s.bucket, s.key, s.requester) == (h, b, k, r))
                            .copied()
                            .collect();
                        assert_eq!(ids(by_object.group(h, b, k, r)), ids(&want));
                    }
                }
            }
        }
    }
}
