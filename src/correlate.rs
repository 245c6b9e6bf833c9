//! The barrier stage: join KMS calls to the S3 requests that caused them, then build the rows.
//!
//! No request ID links the two (DOMAIN.md 4), so a KMS call is matched to an S3 request of the
//! same requester within the time window:
//! - per-object mode (the context is an object ARN): on the object ARN;
//! - bucket-key mode (the context is the bucket ARN): on the bucket, and on the KMS key when
//!   both sides know it (an S3 request knows its key from its SSE headers, or from the PUT that
//!   wrote the object).
//!
//! GenerateDataKey pairs with writes (PutObject, CreateMultipartUpload, the destination of
//! CopyObject); Decrypt with reads (GetObject, UploadPart, UploadPartCopy, the source of
//! CopyObject); CompleteMultipartUpload, whose KMS use is undocumented, with either, last.
//! Among candidates the nearest in time wins; each S3 request side is used once. Matching is
//! greedy in time order over canonically sorted events, so it is deterministic.
//!
//! An S3 request that caused no KMS call is a bucket-key cache hit or traffic whose KMS event
//! was not logged; a KMS call with no S3 request is one whose data event was not logged (or
//! another caller's, such as replication's Encrypt). Both are counted, per row.

use crate::analyze::Batch;
use crate::config::{AnalyzeConfig, GroupBy};
use crate::event::{Failure, KmsOp, Mode, S3Op};
use crate::filter::{self, PrefixMatch};
use crate::intern::{Remap, Sym};
use crate::report::{Report, Row, Settings};
use crate::summary::Summary;
use std::collections::BTreeMap;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// A KMS call kept for correlation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KmsRec {
    pub time: i64,
    pub requester: Sym,
    pub bucket: Sym,
    pub key: Sym,
    pub op: KmsOp,
    pub mode: Mode,
    pub kms_key: Sym,
    pub head: Sym,
    pub account: Sym,
    pub region: Sym,
    pub failure: Failure,
    pub ctx_pass: bool,
    pub ctx_value: Sym,
    pub id: u128,
}

/// An S3 object request kept for correlation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct S3Rec {
    pub time: i64,
    pub requester: Sym,
    pub bucket: Sym,
    pub key: Sym,
    pub op: S3Op,
    pub kms_key: Sym,
    pub bucket_key: Option<bool>,
    pub head: Sym,
    pub account: Sym,
    pub region: Sym,
    pub failure: Failure,
    pub src_bucket: Sym,
    pub src_key: Sym,
    pub id: u128,
}

impl KmsRec {
    /// Renumbers its symbols through `r`.
    pub fn remap(&mut self, r: &Remap) {
        for s in [
            &mut self.requester,
            &mut self.bucket,
            &mut self.key,
            &mut self.kms_key,
            &mut self.head,
            &mut self.account,
            &mut self.region,
            &mut self.ctx_value,
        ] {
            *s = r.apply(*s);
        }
    }
}

impl S3Rec {
    /// Renumbers its symbols through `r`.
    pub fn remap(&mut self, r: &Remap) {
        for s in [
            &mut self.requester,
            &mut self.bucket,
            &mut self.key,
            &mut self.kms_key,
            &mut self.head,
            &mut self.account,
            &mut self.region,
            &mut self.src_bucket,
            &mut self.src_key,
        ] {
            *s = r.apply(*s);
        }
    }
}

/// A symmetric KMS call of any caller, kept for cost and quota (which count every caller).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallRec {
    pub time: i64,
    /// The caller's account: the one billed, and whose quota the call spends.
    pub account: Sym,
    pub region: Sym,
    pub op: KmsOp,
    pub failure: Failure,
    pub kms_key: Sym,
    pub requester: Sym,
    /// The service that called for the requester (`invokedBy`), or `(direct)`.
    pub caller: Sym,
    /// The bucket, for calls S3 made for objects; else `Sym::NONE`.
    pub bucket: Sym,
    /// `s3`, or the first encryption-context key of another caller's call.
    pub purpose: Sym,
    /// For S3's calls: bucket key or per object.
    pub mode: Mode,
    /// The request named the key by an AWS managed alias.
    pub aws_managed: bool,
    pub id: u128,
    /// `sharedEventID`: the same call logged in a second account.
    pub shared: u128,
}

impl CallRec {
    /// Renumbers its symbols through `r`.
    pub fn remap(&mut self, r: &Remap) {
        for s in [
            &mut self.account,
            &mut self.region,
            &mut self.kms_key,
            &mut self.requester,
            &mut self.caller,
            &mut self.bucket,
            &mut self.purpose,
        ] {
            *s = r.apply(*s);
        }
    }
}

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
}

/// Per S3 request: the KMS key of its object (its own header, or the last logged write of the
/// object), and the bucket-key setting of the object's last logged write.
fn objects_as_written(s3: &[S3Rec]) -> (Vec<Sym>, Vec<Option<bool>>) {
    // What the writes of each object say (last one wins).
    let mut writers: HashMap<(Sym, Sym), (Sym, Option<bool>)> = HashMap::default();
    for r in s3 {
        if matches!(
            r.op,
            S3Op::PutObject
                | S3Op::CopyObject
                | S3Op::CreateMultipartUpload
                | S3Op::CompleteMultipartUpload
        ) && r.failure == Failure::None
        {
            let w = writers
                .entry((r.bucket, r.key))
                .or_insert((Sym::NONE, None));
            if !r.kms_key.is_none() {
                w.0 = r.kms_key;
            }
            if r.bucket_key.is_some() {
                w.1 = r.bucket_key;
            }
        }
    }
    let writer = |b: Sym, k: Sym| writers.get(&(b, k)).copied().unwrap_or((Sym::NONE, None));
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
    (s3_kms_key, s3_writer_bucket_key)
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
            });
        };
        match r.op {
            S3Op::PutObject | S3Op::CreateMultipartUpload => add(r.bucket, r.key, Role::Write),
            S3Op::GetObject | S3Op::UploadPart | S3Op::UploadPartCopy => {
                add(r.bucket, r.key, Role::Read)
            }
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
pub fn match_events(kms: &[KmsRec], s3: &[S3Rec], window: i64) -> Matches {
    // What each S3 request's object says about its key and bucket-key setting, and the
    // requests' slots grouped for matching: independent, so built side by side.
    let ((s3_kms_key, s3_writer_bucket_key), (by_object, by_bucket)) =
        rayon::join(|| objects_as_written(s3), || slot_groups(s3));
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
        let group = match call.mode {
            Mode::PerObject => by_object.group(call.head, call.bucket, call.key, call.requester),
            _ => by_bucket.group(call.bucket, call.requester),
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
            if call.mode == Mode::BucketKey {
                let i = slot.s3 as usize;
                let key = s3_kms_key[i];
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
    }
}

/// The rows of one pass over the events, found by symbols: an event finds its row with one
/// hash lookup, and each row's group label is made once, at the end.
struct RowMap<'a> {
    group_by: &'a GroupBy,
    strings: &'a crate::intern::Interner,
    rows: HashMap<(Sym, u32, Mode), RowAcc>,
    /// For `prefix:N`: each key's prefix, as a symbol of `prefixes`.
    prefix_of: HashMap<Sym, Sym>,
    prefixes: crate::intern::Interner,
}

impl<'a> RowMap<'a> {
    fn new(group_by: &'a GroupBy, strings: &'a crate::intern::Interner) -> RowMap<'a> {
        RowMap {
            group_by,
            strings,
            rows: HashMap::default(),
            prefix_of: HashMap::default(),
            prefixes: crate::intern::Interner::default(),
        }
    }

    /// The group of an event, as a number [`RowMap::label`] turns into its label.
    fn group(&mut self, key: Sym, requester: Sym, kms_key: Sym, ctx: Sym) -> u32 {
        match self.group_by {
            GroupBy::Bucket => 0,
            GroupBy::Prefix(n) => {
                if key.is_none() {
                    return Sym::NONE.0; // no label: a call that names no object
                }
                let (strings, prefixes) = (self.strings, &mut self.prefixes);
                let prefix = self
                    .prefix_of
                    .entry(key)
                    .or_insert_with(|| prefixes.intern(&key_prefix(strings.get(key), *n)));
                prefix.0
            }
            GroupBy::KmsKey => kms_key.0,
            GroupBy::Principal => requester.0,
            GroupBy::Context(_) => ctx.0,
        }
    }

    fn label(&self, group: u32) -> Option<String> {
        let strings = self.strings;
        Some(match self.group_by {
            GroupBy::Bucket => String::new(),
            GroupBy::Prefix(_) => self.prefixes.get_opt(Sym(group))?.to_string(),
            GroupBy::KmsKey => strings
                .get_opt(Sym(group))
                .unwrap_or("(unknown)")
                .to_string(),
            GroupBy::Principal => strings.get(Sym(group)).to_string(),
            GroupBy::Context(_) => strings.get_opt(Sym(group)).unwrap_or("(none)").to_string(),
        })
    }

    fn row(&mut self, bucket: Sym, group: u32, mode: Mode) -> &mut RowAcc {
        self.rows.entry((bucket, group, mode)).or_default()
    }

    /// The rows by bucket, label and mode; groups without a label take `unlabelled`.
    fn labelled(mut self, unlabelled: &str) -> BTreeMap<(Sym, String, Mode), RowAcc> {
        use std::collections::btree_map::Entry;
        let mut out: BTreeMap<(Sym, String, Mode), RowAcc> = BTreeMap::new();
        for ((bucket, group, mode), acc) in std::mem::take(&mut self.rows) {
            let label = self.label(group).unwrap_or_else(|| unlabelled.to_string());
            match out.entry((bucket, label, mode)) {
                Entry::Vacant(v) => {
                    v.insert(acc);
                }
                Entry::Occupied(o) => o.into_mut().absorb(acc),
            }
        }
        out
    }
}

/// Per-row accumulator.
#[derive(Default)]
struct RowAcc {
    row: Row,
    objects: HashSet<(Sym, Sym, Sym)>,
}

impl RowAcc {
    fn absorb(&mut self, other: RowAcc) {
        let (a, b) = (&mut self.row, other.row);
        for (x, y) in a.s3.iter_mut().zip(b.s3) {
            *x += y;
        }
        for (x, y) in a.kms.iter_mut().zip(b.kms) {
            *x += y;
        }
        a.s3_errors += b.s3_errors;
        a.kms_attributed += b.kms_attributed;
        a.kms_throttled += b.kms_throttled;
        a.kms_access_denied += b.kms_access_denied;
        a.kms_other_errors += b.kms_other_errors;
        a.unmatched_s3 += b.unmatched_s3;
        a.unmatched_kms += b.unmatched_kms;
        self.objects.extend(other.objects);
    }
}

/// The merged batch after the barrier's first half: canonical symbols, sorted and deduplicated
/// events, and the matches between them. `analyze` groups it into rows; cost and quota read
/// it too.
pub struct Joined {
    pub strings: crate::intern::Interner,
    pub kms: Vec<KmsRec>,
    pub s3: Vec<S3Rec>,
    /// Every symmetric KMS call (only when the config keeps them), deduplicated.
    pub calls: Vec<CallRec>,
    pub m: Matches,
    pub summary: Summary,
    /// Per bucket: whether it has bucket-key calls, and per-object calls.
    pub bucket_modes: HashMap<Sym, (bool, bool)>,
}

/// How an S3 request ran, as far as the trail tells.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// Its KMS key: its own, the writer's, or its call's.
    pub kms_key: Sym,
    pub mode: Mode,
    /// The call that says its mode: a write's GenerateDataKey, a read's Decrypt.
    pub own_call: Option<u32>,
    /// Its first matched call.
    pub first_call: Option<u32>,
}

impl Joined {
    /// The KMS key and mode of S3 request `i`.
    pub fn resolve(&self, i: usize) -> Resolved {
        let (kms, m, r) = (&self.kms, &self.m, &self.s3[i]);
        let calls = &m.s3_to_kms[i];
        // A write's mode is its destination's: the GenerateDataKey it caused, else its own
        // SSE response header. (A copy's source Decrypt says only how the source was written.)
        let writes = matches!(
            r.op,
            S3Op::PutObject
                | S3Op::CopyObject
                | S3Op::CreateMultipartUpload
                | S3Op::CompleteMultipartUpload
        );
        let own_call = calls
            .iter()
            .copied()
            .find(|&j| !writes || kms[j as usize].op == KmsOp::GenerateDataKey);
        let first_call = own_call.or_else(|| calls.first().copied());
        let kms_key = if m.s3_kms_key[i].is_none() {
            first_call.map_or(Sym::NONE, |c| kms[c as usize].kms_key)
        } else {
            m.s3_kms_key[i]
        };
        let header = |b: bool| if b { Mode::BucketKey } else { Mode::PerObject };
        let mode = if let Some(c) = own_call {
            kms[c as usize].mode
        } else if let Some(b) = r.bucket_key.or(m.s3_writer_bucket_key[i]) {
            header(b)
        } else if let Some(c) = first_call {
            kms[c as usize].mode
        } else {
            match self.bucket_modes.get(&r.bucket) {
                Some((true, false)) => Mode::BucketKey,
                Some((false, true)) => Mode::PerObject,
                _ => Mode::Unknown,
            }
        };
        Resolved {
            kms_key,
            mode,
            own_call,
            first_call,
        }
    }
}

/// Dedups, matches, filters and groups the merged batch into the report.
pub fn correlate(batch: Batch, cfg: &AnalyzeConfig) -> Report {
    let joined = join(batch, cfg);
    rows(&joined, cfg)
}

/// The first half of the barrier: canonicalize, sort, dedup, match.
pub fn join(batch: Batch, cfg: &AnalyzeConfig) -> Joined {
    let (strings, events, mut summary) = batch.into_events();
    let crate::analyze::Events {
        mut kms,
        mut s3,
        mut calls,
    } = events;
    let before = kms.len() + s3.len();
    rayon::join(|| dedup(&mut kms, |k| k.id), || dedup(&mut s3, |s| s.id));
    let mut duplicates = (before - kms.len() - s3.len()) as u64;
    if !calls.is_empty() {
        // S3's calls are in `kms` too, and counted there; other callers' are counted here.
        let others = |c: &[CallRec]| c.iter().filter(|c| c.bucket.is_none()).count() as u64;
        let before = others(&calls);
        dedup(&mut calls, |c| c.id);
        let after = others(&calls);
        duplicates += before - after;
        summary.records.used += after;
    }
    summary
        .records
        .filtered_out
        .entry(filter::reason::DUPLICATE.to_string())
        .and_modify(|n| *n += duplicates)
        .or_insert(duplicates);
    summary.records.filtered_out.retain(|_, n| *n > 0);

    let m = match_events(&kms, &s3, cfg.window_secs);
    let mut bucket_modes: HashMap<Sym, (bool, bool)> = HashMap::default();
    for k in &kms {
        let e = bucket_modes.entry(k.bucket).or_default();
        match k.mode {
            Mode::BucketKey => e.0 = true,
            _ => e.1 = true,
        }
    }
    Joined {
        strings,
        kms,
        s3,
        calls,
        m,
        summary,
        bucket_modes,
    }
}

/// The second half of the barrier for `analyze`: filter and group into rows.
pub fn rows(j: &Joined, cfg: &AnalyzeConfig) -> Report {
    let (strings, kms, s3, m) = (&j.strings, &j.kms, &j.s3, &j.m);
    let f = &cfg.filters;
    let bucket_modes = &j.bucket_modes;
    let mut summary = j.summary.clone();
    // Which bucket-key streams pass the context filter.
    let mut ctx_streams: HashSet<(Sym, Sym, Sym)> = HashSet::default();
    for k in kms {
        if k.mode == Mode::BucketKey && k.ctx_pass {
            ctx_streams.insert((k.bucket, k.requester, k.kms_key));
        }
    }

    // The KMS side and the S3 side of the rows are built in parallel, each with its own
    // counts, and merged.
    let kms_pass = || {
        let mut rows = RowMap::new(&cfg.group_by, strings);
        let mut summary = Summary::default();
        let mut used = 0u64;
        for (j, k) in kms.iter().enumerate() {
            if !filter::kms_key_matches(&f.kms_keys, strings.get_opt(k.kms_key)) {
                summary.filter(filter::reason::KMS_KEY);
                continue;
            }
            if !k.ctx_pass {
                summary.filter(filter::reason::CONTEXT);
                continue;
            }
            let matched = m.kms_to_s3[j].map(|i| &s3[i as usize]);
            let head = strings.get(k.head);
            let bucket = strings.get(k.bucket);
            let mut attributed = false;
            match filter::prefix_match(&f.bucket_arn_prefixes, head, bucket, strings.get_opt(k.key))
            {
                PrefixMatch::Yes => {}
                PrefixMatch::No => {
                    summary.filter(filter::reason::PREFIX);
                    continue;
                }
                PrefixMatch::BelowBucket => {
                    let hit = matched.is_some_and(|r| {
                        f.bucket_arn_prefixes.iter().any(|p| {
                            filter::arn_starts_with(p, head, bucket, Some(strings.get(r.key)))
                        })
                    });
                    if !hit {
                        summary.filter(filter::reason::PREFIX);
                        continue;
                    }
                    attributed = true;
                }
            }
            // A bucket-key call names no object: its prefix comes from the request it matched.
            let (key_for_group, by_correlation) = match (k.mode, matched) {
                (Mode::BucketKey, Some(r)) => (r.key, true),
                _ => (k.key, false),
            };
            let group = rows.group(key_for_group, k.requester, k.kms_key, k.ctx_value);
            if by_correlation && matches!(cfg.group_by, GroupBy::Prefix(_)) {
                attributed = true;
            }
            let acc = rows.row(k.bucket, group, k.mode);
            acc.row.kms[k.op as usize] += 1;
            if attributed {
                acc.row.kms_attributed += 1;
            }
            match k.failure {
                Failure::None => {}
                Failure::Throttled => acc.row.kms_throttled += 1,
                Failure::AccessDenied => acc.row.kms_access_denied += 1,
                Failure::Other => acc.row.kms_other_errors += 1,
            }
            if matched.is_none() {
                acc.row.unmatched_kms += 1;
            }
            if k.mode == Mode::PerObject {
                acc.objects.insert((k.head, k.bucket, k.key));
            }
            used += 1;
        }
        (rows.labelled("(unattributed)"), summary, used)
    };
    let s3_pass = || {
        let mut rows = RowMap::new(&cfg.group_by, strings);
        let mut summary = Summary::default();
        let mut used = 0u64;
        for (i, r) in s3.iter().enumerate() {
            let calls = &m.s3_to_kms[i];
            let Resolved {
                kms_key,
                mode,
                first_call,
                ..
            } = j.resolve(i);
            let first_call = first_call.map(|c| &kms[c as usize]);
            if !filter::kms_key_matches(&f.kms_keys, strings.get_opt(kms_key)) {
                summary.filter(filter::reason::KMS_KEY);
                continue;
            }
            if !f.context.is_empty() {
                let pass = if calls.is_empty() {
                    mode == Mode::BucketKey
                        && ctx_streams.contains(&(r.bucket, r.requester, kms_key))
                } else {
                    calls.iter().any(|&j| kms[j as usize].ctx_pass)
                };
                if !pass {
                    summary.filter(filter::reason::CONTEXT);
                    continue;
                }
            }
            let head = strings.get(r.head);
            if !f.bucket_arn_prefixes.is_empty()
                && !f.bucket_arn_prefixes.iter().any(|p| {
                    filter::arn_starts_with(
                        p,
                        head,
                        strings.get(r.bucket),
                        Some(strings.get(r.key)),
                    )
                })
            {
                summary.filter(filter::reason::PREFIX);
                continue;
            }
            let ctx = first_call.map_or(Sym::NONE, |c| c.ctx_value);
            let group = rows.group(r.key, r.requester, kms_key, ctx);
            let acc = rows.row(r.bucket, group, mode);
            acc.row.s3[r.op as usize] += 1;
            if r.failure != Failure::None {
                acc.row.s3_errors += 1;
            }
            if calls.is_empty() {
                acc.row.unmatched_s3 += 1;
            }
            acc.objects.insert((r.head, r.bucket, r.key));
            used += 1;
        }
        (rows.labelled(""), summary, used)
    };
    let ((mut rows, kms_summary, kms_used), (s3_rows, s3_summary, s3_used)) =
        rayon::join(kms_pass, s3_pass);
    for (key, acc) in s3_rows {
        rows.entry(key).or_default().absorb(acc);
    }
    summary.merge(kms_summary);
    summary.merge(s3_summary);
    let summary = &mut summary;
    summary.records.used += kms_used + s3_used;

    let mut warnings = Vec::new();
    let kms_read = kms.len();
    let s3_data_events = s3.len() as u64
        + summary.filtered(crate::event::reason::S3_NOT_SSE_KMS)
        + summary.filtered(crate::event::reason::S3_DATA_NO_KMS);
    if kms_read == 0 {
        warnings.push(
            "no KMS calls made for S3 objects were found: the trail may exclude KMS events \
             (trails have an option for that), or the filters removed them"
                .to_string(),
        );
    }
    if s3_data_events == 0 {
        warnings.push(
            "no S3 data events were found (trails log them only with data-event selectors, and \
             lookup-events never has them): objects are counted from per-object KMS contexts \
             only, and bucket-key calls cannot be tied to objects or prefixes"
                .to_string(),
        );
    }
    for (bucket, (bk, po)) in bucket_modes {
        if *bk && *po {
            warnings.push(format!(
                "bucket {} has both bucket-key and per-object KMS calls (objects written before \
                 bucket keys were enabled, or a per-request bucket-key header)",
                strings.get(*bucket)
            ));
        }
    }
    warnings.sort();

    let rows = rows
        .into_iter()
        .map(|((bucket, group, mode), mut acc)| {
            acc.row.bucket = strings.get(bucket).to_string();
            acc.row.group = if matches!(cfg.group_by, GroupBy::Bucket) {
                acc.row.bucket.clone()
            } else {
                group
            };
            acc.row.mode = mode;
            acc.row.objects = acc.objects.len() as u64;
            acc.row
        })
        .collect();

    Report {
        settings: Settings::from_config(cfg),
        summary: summary.clone(),
        rows,
        warnings,
        s3_data_events,
    }
}

/// Keeps the first record of each event ID (records without one are all kept).
fn dedup<T>(v: &mut Vec<T>, id: impl Fn(&T) -> u128) {
    let mut seen = HashSet::with_capacity_and_hasher(v.len(), Default::default());
    v.retain(|r| {
        let id = id(r);
        id == 0 || seen.insert(id)
    });
}

/// The first `n` `/`-separated segments of an object key, with their trailing `/`; objects
/// with fewer segments give their whole directory, and root objects `/`.
pub fn key_prefix(key: &str, n: usize) -> String {
    let mut end = 0;
    for (count, (i, _)) in key.match_indices('/').enumerate() {
        end = i + 1;
        if count + 1 == n {
            break;
        }
    }
    if end == 0 {
        "/".to_string()
    } else {
        key[..end].to_string()
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

    #[test]
    fn key_prefixes_take_whole_segments() {
        assert_eq!(key_prefix("user-1/2024/a.txt", 1), "user-1/");
        assert_eq!(key_prefix("user-1/2024/a.txt", 2), "user-1/2024/");
        assert_eq!(key_prefix("user-1/a.txt", 3), "user-1/");
        assert_eq!(key_prefix("a.txt", 1), "/");
    }
}
