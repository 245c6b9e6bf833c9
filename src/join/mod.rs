//! The join: the barrier after the parallel pass, and the seam every report reads.
//!
//! [`join`] takes the merged [`Batch`], numbers its symbols canonically, sorts and dedups its
//! events, and matches each KMS call S3 made to the S3 request that caused it
//! ([`matching`]). The result, [`Joined`], is what `analyze`, `cost`, `quota`, `check` and the
//! what-if read ([`crate::reports`]); nothing above this layer reads the trail itself.
//!
//! No request ID links a KMS call to its S3 request (docs/domain.md), so a call is matched to a
//! request of the same requester within the time window:
//! - per-object mode (the context is an object ARN): on the object ARN;
//! - bucket-key mode (the context is the bucket ARN): on the bucket, and on the KMS key when
//!   both sides know it (an S3 request knows its key from its SSE headers, or from the PUT that
//!   wrote the object).
//!
//! An S3 request that caused no KMS call is a bucket-key cache hit or traffic whose KMS event
//! was not logged; a KMS call with no S3 request is one whose data event was not logged (or
//! another caller's, such as replication's Encrypt). Both are counted, per row.

pub mod engine;
pub mod matching;
pub mod wire;

pub use matching::{match_events, Calls, Matches};

use crate::event::{Failure, KmsOp, Mode, S3Op};
use crate::intern::{HashMap, HashSet, Sym};
use crate::summary::Summary;
use crate::trail::config::AnalyzeConfig;
use crate::trail::records::{CallRec, KmsRec, NonKms, S3Rec};
use crate::trail::{Batch, Events, Observer, Pass, Stopped};

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
    /// How many of `calls` were dropped as copies of a call delivered to two accounts (the
    /// same sharedEventID).
    pub shared_calls: u64,
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
    /// Whether S3 request `i` is DSSE-KMS: its own SSE headers, or its object's logged write.
    pub fn is_dsse(&self, i: usize) -> bool {
        self.s3[i].dsse || self.m.s3_writer_dsse[i]
    }

    /// The KMS key and mode of S3 request `i`.
    pub fn resolve(&self, i: usize) -> Resolved {
        let (kms, m, r) = (&self.kms, &self.m, &self.s3[i]);
        let calls = &m.s3_to_kms[i];
        // A write's mode is its destination's: the GenerateDataKey it caused, else its own
        // SSE response header. (A copy's source Decrypt says only how the source was written.)
        let writes = r.op.writes();
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
        let mode = if self.is_dsse(i) {
            Mode::Dsse
        } else if let Some(c) = own_call {
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

/// Reads the inputs ([`crate::trail::run_with`]), joins them, and hands the joined trail to
/// `then`, all in the run's thread pool. The trail is joined whole, even when the pass spilled
/// it ([`run_parts`] joins a part at a time).
pub fn run<T: Send>(
    cfg: &AnalyzeConfig,
    observer: &dyn Observer,
    then: impl FnOnce(Joined) -> T + Send,
) -> Result<T, Stopped> {
    if let Some(dir) = &cfg.engine_output {
        return Ok(then(engine_output(dir, cfg, observer)?));
    }
    crate::trail::run_with(cfg, observer, |pass| {
        let batch = match pass {
            Pass::Whole(batch) => *batch,
            Pass::Spilled { summary, spill } => {
                let mut all = Batch {
                    summary: *summary,
                    ..Batch::default()
                };
                for group in spill.groups() {
                    all = all.merge(spill.read_group(&group).map_err(Stopped::Input)?);
                }
                all
            }
        };
        observer.stage("matching KMS calls to S3 requests");
        Ok(then(join(batch, cfg)))
    })?
}

/// The joined trail a part at a time. Within the memory budget (or without one) the whole
/// trail is one part; past it, each group of the spill's partitions is one (`trail::spill`): a
/// set of buckets closed under copies, which the join matches and the reports count as they
/// would in the whole trail. The first part's summary accounts for the input; the others' hold
/// only what their own join counted (duplicates, ...), so the parts' summaries add up to the
/// whole's.
pub struct Parts<'a> {
    cfg: &'a AnalyzeConfig,
    observer: &'a dyn Observer,
    trail: PartsOf,
}

enum PartsOf {
    Whole(Box<Joined>),
    Spilled {
        summary: Box<Summary>,
        spill: std::sync::Arc<crate::trail::spill::Spill>,
    },
    /// An engine's output (`--from`) past the budget: read a group of its parts at a time.
    Engine {
        output: Box<engine::Output>,
        groups: Vec<Vec<usize>>,
    },
}

impl Parts<'_> {
    /// Runs `each` on every part in turn and returns what it made of them, in order. It can
    /// be called again: past the budget, each group is read back and joined again.
    pub fn each<P>(&self, mut each: impl FnMut(&Joined) -> P) -> Result<Vec<P>, Stopped> {
        match &self.trail {
            PartsOf::Whole(j) => Ok(vec![each(j)]),
            PartsOf::Spilled { summary, spill } => self.groups(
                spill,
                "matching KMS calls to S3 requests",
                |i, mut batch| {
                    if i == 0 {
                        batch.summary = Summary::clone(summary);
                    }
                    each(&join(batch, self.cfg))
                },
            ),
            PartsOf::Engine { output, groups } => {
                self.engine_groups(output, groups, "reading the engine's output", false, |j| {
                    each(&j)
                })
            }
        }
    }

    /// Runs `each` on every part's symmetric calls (deduplicated, in the part's strings), in
    /// turn: a second look that needs nothing else (quota's callers of its peak seconds)
    /// reads the spilled groups back without joining them again. `what` says what it does, on
    /// the progress line.
    pub fn each_calls<P>(
        &self,
        what: &str,
        mut each: impl FnMut(&crate::intern::Interner, &[CallRec]) -> P,
    ) -> Result<Vec<P>, Stopped> {
        match &self.trail {
            PartsOf::Whole(j) => Ok(vec![each(&j.strings, &j.calls)]),
            PartsOf::Spilled { spill, .. } => self.groups(spill, what, |_, batch| {
                let (strings, calls) = calls_only(batch);
                each(&strings, &calls)
            }),
            PartsOf::Engine { output, groups } => {
                self.engine_groups(output, groups, what, true, |j| each(&j.strings, &j.calls))
            }
        }
    }

    /// Reads each group of an engine output's parts in turn (with `calls_only`, every caller's
    /// calls alone) and hands it to `f`.
    fn engine_groups<P>(
        &self,
        output: &engine::Output,
        groups: &[Vec<usize>],
        what: &str,
        calls_only: bool,
        mut f: impl FnMut(Joined) -> P,
    ) -> Result<Vec<P>, Stopped> {
        self.in_turn(
            groups.len(),
            |i| format!("{what}: part {i} of {}", groups.len()),
            |i| {
                let mut joined = output
                    .read(&groups[i], self.cfg, i == 0, calls_only)
                    .map_err(|e| Stopped::Input(e.to_string()))?;
                if i == 0 {
                    joined.summary.from_parts = Some(output.read_in_parts(self.cfg, groups));
                    strict(&joined, self.cfg)?;
                }
                Ok(f(joined))
            },
        )
    }

    /// Runs `f` on each of `n` groups in turn, saying `label` (of the group's number from 1)
    /// on the progress line; stops when the run is cancelled.
    fn in_turn<P>(
        &self,
        n: usize,
        label: impl Fn(usize) -> String,
        mut f: impl FnMut(usize) -> Result<P, Stopped>,
    ) -> Result<Vec<P>, Stopped> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if self.observer.cancelled() {
                return Err(Stopped::Interrupted);
            }
            self.observer.stage(&label(i + 1));
            out.push(f(i)?);
        }
        Ok(out)
    }

    /// Reads each group of the spill back in turn and hands it to `f` with its number.
    fn groups<P>(
        &self,
        spill: &crate::trail::spill::Spill,
        what: &str,
        mut f: impl FnMut(usize, Batch) -> P,
    ) -> Result<Vec<P>, Stopped> {
        let groups = spill.groups();
        self.in_turn(
            groups.len(),
            |i| {
                format!(
                    "{what}: part {i} of {} ({} MB read back)",
                    groups.len(),
                    spill.group_bytes(&groups[i - 1]) >> 20
                )
            },
            |i| Ok(f(i, spill.read_group(&groups[i]).map_err(Stopped::Input)?)),
        )
    }
}

/// Reads the inputs and hands the joined trail, in [`Parts`], to `then`, in the run's
/// thread pool.
pub fn run_in_parts<T: Send>(
    cfg: &AnalyzeConfig,
    observer: &dyn Observer,
    then: impl FnOnce(&Parts) -> Result<T, Stopped> + Send,
) -> Result<T, Stopped> {
    let parts = |trail| Parts {
        cfg,
        observer,
        trail,
    };
    if let Some(dir) = &cfg.engine_output {
        observer.stage("reading the engine's output");
        let output = engine::Output::open(dir, cfg).map_err(|e| Stopped::Input(e.to_string()))?;
        let Some(groups) = output.groups(cfg) else {
            let all: Vec<usize> = (0..engine::PARTS).collect();
            let joined = output
                .read(&all, cfg, true, false)
                .map_err(|e| Stopped::Input(e.to_string()))?;
            strict(&joined, cfg)?;
            return then(&parts(PartsOf::Whole(Box::new(joined))));
        };
        return then(&parts(PartsOf::Engine {
            output: Box::new(output),
            groups,
        }));
    }
    crate::trail::run_with(cfg, observer, |pass| match pass {
        Pass::Whole(batch) => {
            observer.stage("matching KMS calls to S3 requests");
            then(&parts(PartsOf::Whole(Box::new(join(*batch, cfg)))))
        }
        Pass::Spilled { summary, spill } => then(&parts(PartsOf::Spilled { summary, spill })),
    })?
}

/// Reads and joins the trail a part at a time ([`Parts`]), handing each joined part to `each`
/// and returning what it made of them, in order.
pub fn run_parts<P: Send>(
    cfg: &AnalyzeConfig,
    observer: &dyn Observer,
    each: impl Fn(&Joined) -> P + Sync + Send,
) -> Result<Vec<P>, Stopped> {
    run_in_parts(cfg, observer, |parts| parts.each(&each))
}

/// The joined trail another engine wrote (`--from`).
fn engine_output(
    dir: &std::path::Path,
    cfg: &AnalyzeConfig,
    observer: &dyn Observer,
) -> Result<Joined, Stopped> {
    // Another engine read and joined the trail: its output is the joined trail.
    observer.stage("reading the engine's output");
    let joined = engine::read(dir, cfg).map_err(|e| Stopped::Input(e.to_string()))?;
    strict(&joined, cfg)?;
    Ok(joined)
}

/// With `--strict`, the first problem the engine's job met stops the run.
fn strict(joined: &Joined, cfg: &AnalyzeConfig) -> Result<(), Stopped> {
    match joined.summary.problems.first() {
        Some(p) if cfg.strict => Err(Stopped::Strict(p.clone())),
        _ => Ok(()),
    }
}

/// The barrier: canonicalize, sort, dedup, match.
pub fn join(batch: Batch, cfg: &AnalyzeConfig) -> Joined {
    let (strings, events, mut summary) = batch.into_events();
    let Events {
        mut kms,
        mut s3,
        mut calls,
        mut non_kms,
    } = events;
    // One event, counted once, for every report: by eventID (a file read twice), then by
    // sharedEventID (one call or request delivered to two accounts).
    let ((kms_ids, kms_shared), (s3_ids, s3_shared)) = rayon::join(
        || {
            (
                dedup_by(&mut kms, |k| k.id),
                dedup_by(&mut kms, |k| k.shared),
            )
        },
        || (dedup_by(&mut s3, |s| s.id), dedup_by(&mut s3, |s| s.shared)),
    );
    let (mut by_id, mut by_shared) = (kms_ids + s3_ids, kms_shared + s3_shared);
    // Requests that are not SSE-KMS are counted once too.
    by_id += dedup_by(&mut non_kms, |w| w.id);
    by_shared += dedup_by(&mut non_kms, |w| w.shared);
    let not_sse_kms = non_kms.len() as u64;
    let CallsDedup {
        others_by_id,
        others_by_shared,
        others_kept,
        shared_calls,
    } = dedup_calls(&mut calls);
    by_id += others_by_id;
    by_shared += others_by_shared;
    summary.records.used += others_kept;
    // Reads of objects the trail shows were not written with SSE-KMS are no SSE-KMS traffic.
    let non_kms_reads = drop_reads_of_non_kms_objects(&mut s3, &non_kms);
    for (reason, n) in [
        (crate::reason::DUPLICATE, by_id),
        (crate::reason::DUPLICATE_SHARED, by_shared),
        (crate::reason::S3_NOT_SSE_KMS, not_sse_kms),
        (crate::reason::S3_READ_OF_NON_KMS_OBJECT, non_kms_reads),
    ] {
        *summary
            .records
            .filtered_out
            .entry(reason.to_string())
            .or_default() += n;
    }
    summary.records.filtered_out.retain(|_, n| *n > 0);

    let m = match_events(&kms, &s3, cfg.window_secs, cfg.object_window_secs);
    let bucket_modes = bucket_modes(&kms);
    Joined {
        strings,
        kms,
        s3,
        calls,
        m,
        summary,
        shared_calls,
        bucket_modes,
    }
}

/// What deduplicating the symmetric calls dropped and kept.
struct CallsDedup {
    /// Other callers' calls dropped as copies by eventID, then by sharedEventID, and kept. (S3's
    /// calls are in `kms` too, and counted there.)
    others_by_id: u64,
    others_by_shared: u64,
    others_kept: u64,
    /// Calls of any caller dropped as delivered to two accounts.
    shared_calls: u64,
}

/// Keeps each symmetric call once: by eventID (a file read twice), then by sharedEventID (one
/// call delivered to two accounts). `calls` must be sorted.
fn dedup_calls(calls: &mut Vec<CallRec>) -> CallsDedup {
    let others = |c: &[CallRec]| c.iter().filter(|c| c.bucket.is_none()).count() as u64;
    let others_read = others(calls);
    dedup_by(calls, |c| c.id);
    let others_unique_ids = others(calls);
    let shared_calls = dedup_by(calls, |c| c.shared);
    let others_kept = others(calls);
    CallsDedup {
        others_by_id: others_read - others_unique_ids,
        others_by_shared: others_unique_ids - others_kept,
        others_kept,
        shared_calls,
    }
}

/// A batch's symmetric calls only, deduplicated as [`join`] does, without matching anything:
/// for a report that needs nothing else of a part it has joined once already.
pub fn calls_only(mut batch: Batch) -> (crate::intern::Interner, Vec<CallRec>) {
    // Nothing but the calls is renumbered and sorted.
    let parts = std::iter::once(&mut batch.events).chain(batch.absorbed.iter_mut().map(|(_, e)| e));
    for e in parts {
        (e.kms, e.s3, e.non_kms) = Default::default();
    }
    let (strings, events, _) = batch.into_events();
    let mut calls = events.calls;
    dedup_calls(&mut calls);
    (strings, calls)
}

/// Removes the GETs (and UploadParts) of objects whose last logged write at or before them was
/// not SSE-KMS (SSE-S3, SSE-C); returns how many.
fn drop_reads_of_non_kms_objects(s3: &mut Vec<S3Rec>, non_kms: &[NonKms]) -> u64 {
    if !non_kms.iter().any(|w| w.write) {
        return 0;
    }
    // Per object, its logged writes in time order, each SSE-KMS or not.
    let mut writes: HashMap<(Sym, Sym), Vec<(i64, bool)>> = HashMap::default();
    for w in non_kms.iter().filter(|w| w.write) {
        writes
            .entry((w.bucket, w.key))
            .or_default()
            .push((w.time, false));
    }
    for r in s3.iter() {
        if r.op.writes() && r.failure == Failure::None {
            if let Some(w) = writes.get_mut(&(r.bucket, r.key)) {
                w.push((r.time, true));
            }
        }
    }
    writes.values_mut().for_each(|w| w.sort_unstable());
    let before = s3.len();
    s3.retain(|r| {
        // A read, or a part of an upload whose CreateMultipartUpload was not SSE-KMS.
        if !matches!(
            r.op,
            S3Op::GetObject | S3Op::SelectObjectContent | S3Op::UploadPart
        ) {
            return true;
        }
        let Some(w) = writes.get(&(r.bucket, r.key)) else {
            return true;
        };
        let at = w.partition_point(|&(t, _)| t <= r.time);
        at == 0 || w[at - 1].1
    });
    (before - s3.len()) as u64
}

/// Per bucket: whether it has bucket-key calls, and per-object calls.
fn bucket_modes(kms: &[KmsRec]) -> HashMap<Sym, (bool, bool)> {
    let mut modes: HashMap<Sym, (bool, bool)> = HashMap::default();
    for k in kms {
        let e = modes.entry(k.bucket).or_default();
        match k.mode {
            Mode::BucketKey => e.0 = true,
            _ => e.1 = true,
        }
    }
    modes
}

/// Keeps the first record of each `id` (0, absent, never matches); returns how many it
/// dropped.
fn dedup_by<T>(v: &mut Vec<T>, id: impl Fn(&T) -> u128) -> u64 {
    let before = v.len();
    let mut seen = HashSet::with_capacity_and_hasher(v.len(), Default::default());
    v.retain(|r| {
        let id = id(r);
        id == 0 || seen.insert(id)
    });
    (before - v.len()) as u64
}
