//! What the parallel pass hands to the barrier: compact events in a worker's symbols, merged
//! without locks, then renumbered canonically and sorted ([`Batch::into_events`]).

use super::records::{CallRec, KmsRec, NonKms, S3Rec};
use crate::intern::{Interner, Remap, Sym};
use crate::summary::Summary;
use rayon::prelude::*;

/// Compact events, their symbols in one interner's numbering.
#[derive(Default)]
pub struct Events {
    pub kms: Vec<KmsRec>,
    pub s3: Vec<S3Rec>,
    /// Every symmetric KMS call, S3's and other callers', when the config keeps them.
    pub calls: Vec<CallRec>,
    /// Requests that are not SSE-KMS, counted once in the join, and their writes kept so that
    /// reads of their objects are set apart too.
    pub non_kms: Vec<NonKms>,
}

impl Events {
    pub fn is_empty(&self) -> bool {
        self.kms.is_empty()
            && self.s3.is_empty()
            && self.calls.is_empty()
            && self.non_kms.is_empty()
    }

    /// Renumbers every symbol through `remap`, in place.
    pub fn remap(&mut self, remap: &Remap) {
        self.kms.iter_mut().for_each(|k| k.remap(remap));
        self.s3.iter_mut().for_each(|s| s.remap(remap));
        self.calls.iter_mut().for_each(|c| c.remap(remap));
        self.non_kms.iter_mut().for_each(|w| w.remap(remap));
    }
}

/// What the parallel stage hands to the barrier.
#[derive(Default)]
pub struct Batch {
    pub strings: Interner,
    /// The events of the inputs read into this batch, in `strings`' symbols.
    pub events: Events,
    /// The events of batches merged into this one, each with the map from its symbols to
    /// `strings`': merging moves only strings, and each event is renumbered once, at the barrier
    /// ([`Batch::into_events`]).
    pub absorbed: Vec<(Remap, Events)>,
    pub summary: Summary,
}

impl Batch {
    /// The bytes its strings and events hold on the heap, about (the vectors' capacities).
    pub fn held_bytes(&self) -> usize {
        fn events(e: &Events) -> usize {
            use std::mem::size_of;
            e.kms.capacity() * size_of::<KmsRec>()
                + e.s3.capacity() * size_of::<S3Rec>()
                + e.calls.capacity() * size_of::<CallRec>()
                + e.non_kms.capacity() * size_of::<NonKms>()
        }
        self.strings.heap_bytes()
            + events(&self.events)
            + self.absorbed.iter().map(|(_, e)| events(e)).sum::<usize>()
    }

    /// Absorbs `other`: its strings now, its events as they are, with the map to renumber
    /// them. The smaller batch goes into the larger: which one absorbs which changes no
    /// result, since the barrier renumbers symbols in string order and sorts every event.
    pub fn merge(mut self, mut other: Batch) -> Batch {
        if other.strings.len() > self.strings.len() {
            std::mem::swap(&mut self, &mut other);
        }
        self.summary.merge(other.summary);
        if other.strings.is_empty() && other.events.is_empty() && other.absorbed.is_empty() {
            return self;
        }
        let remap = self.strings.absorb(other.strings);
        for (inner, events) in other.absorbed {
            self.absorbed.push((inner.then(&remap), events));
        }
        if !other.events.is_empty() {
            self.absorbed.push((remap, other.events));
        }
        self
    }

    /// Renumbers the strings in their own order (so that no later sort depends on how inputs
    /// were split between threads) and every event with them, in parallel; returns the events
    /// sorted.
    pub fn into_events(mut self) -> (Interner, Events, Summary) {
        let canonical = self.strings.canonicalize();
        let mut parts: Vec<(Remap, Events)> = std::mem::take(&mut self.absorbed)
            .into_par_iter()
            .map(|(remap, events)| (remap.then(&canonical), events))
            .collect();
        parts.push((canonical, std::mem::take(&mut self.events)));
        // Each part renumbered and sorted on its own, in parallel, in cache; then merged.
        parts
            .par_iter_mut()
            .with_max_len(1)
            .for_each(|(remap, events)| {
                events.remap(remap);
                sort_by_prefix(&mut events.kms, |k| {
                    (k.time, [k.requester, k.bucket, k.key])
                });
                sort_by_prefix(&mut events.s3, |s| (s.time, [s.requester, s.bucket, s.key]));
                sort_by_prefix(&mut events.calls, |c| {
                    (c.time, [c.account, c.region, Sym::NONE])
                });
                events.non_kms.sort_unstable();
            });
        let (mut kms, mut s3, mut calls, mut non_kms) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (_, events) in parts {
            kms.push(events.kms);
            s3.push(events.s3);
            calls.push(events.calls);
            non_kms.push(events.non_kms);
        }
        let (kms, (s3, calls)) = rayon::join(
            || merge_runs(kms),
            || rayon::join(|| merge_runs(s3), || merge_runs(calls)),
        );
        let all = Events {
            kms,
            s3,
            calls,
            non_kms: merge_runs(non_kms),
        };
        (self.strings, all, self.summary)
    }
}

/// Sorts records by their order (`Ord`), comparing first a prefix of it packed in two words:
/// `start` gives the time and the three symbols the order begins with.
pub(super) fn sort_by_prefix<T: Ord>(v: &mut [T], start: impl Fn(&T) -> (i64, [Sym; 3])) {
    let (min, max) = v.iter().fold((i64::MAX, i64::MIN), |(a, b), r| {
        let t = start(r).0;
        (a.min(t), b.max(t))
    });
    let pair = |x: Sym, y: Sym| (x.0 as u64) << 32 | y.0 as u64;
    if max
        .checked_sub(min)
        .is_some_and(|span| span <= u32::MAX as i64)
    {
        // 32 bits of time since the earliest, then three symbols.
        let prefix = |r: &T| {
            let (t, [a, b, c]) = start(r);
            [((t - min) as u64) << 32 | a.0 as u64, pair(b, c)]
        };
        v.sort_unstable_by(|x, y| prefix(x).cmp(&prefix(y)).then_with(|| x.cmp(y)));
    } else {
        v.sort_unstable();
    }
}

/// The batches workers fold inputs into. A worker takes one (a new one when every batch is in
/// use), folds an input into it and gives it back; so there are about as many batches as
/// workers, whatever the number of inputs. (A batch per input, as a rayon `fold` with one input
/// per task makes, held each input's own interner, vectors and summary until the barrier: on
/// 40,000 files of 25 records, `analyze` peaked at 115 MB and `quota` at 176 MB, against 79 and
/// 116 MB now, docs/speed.md.) A worker that steals another input while it waits inside a read
/// (rayon's `join`) takes another batch, never the one it holds.
#[derive(Default)]
pub struct BatchPool(std::sync::Mutex<Vec<Batch>>);

impl BatchPool {
    /// Runs `fold` on a batch no other worker holds.
    pub fn with<R>(&self, fold: impl FnOnce(&mut Batch) -> R) -> R {
        let taken = self.0.lock().expect("not poisoned").pop();
        let mut batch = taken.unwrap_or_default();
        let out = fold(&mut batch);
        self.0.lock().expect("not poisoned").push(batch);
        out
    }

    /// Every batch, merged into one.
    pub fn merged(self) -> Batch {
        self.0
            .into_inner()
            .expect("not poisoned")
            .into_par_iter()
            .reduce(Batch::default, Batch::merge)
    }
}

/// The sorted runs in one vector, sorted: neighbouring runs merged two at a time, the pairs in
/// parallel. Records order on every field, so records that tie are the same and the result does
/// not depend on how the runs were split.
pub(super) fn merge_runs<T: Ord + Send>(runs: Vec<Vec<T>>) -> Vec<T> {
    runs.into_par_iter()
        .reduce_with(merge_two)
        .unwrap_or_default()
}

/// Two sorted runs in one, each record moved once (where concatenating them and sorting moved
/// every record into the new vector, then the shorter run into the sort's scratch and back).
fn merge_two<T: Ord>(mut a: Vec<T>, mut b: Vec<T>) -> Vec<T> {
    // Inputs of stretches of time that do not overlap: one run follows the other.
    let (Some(a_first), Some(b_first)) = (a.first(), b.first()) else {
        return if a.is_empty() { b } else { a };
    };
    if a.last() <= Some(b_first) {
        a.extend(b);
        return a;
    }
    if b.last() <= Some(a_first) {
        b.extend(a);
        return b;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    let (mut x, mut y) = (a.next(), b.next());
    loop {
        match (x, y) {
            (Some(p), Some(q)) => {
                if q < p {
                    out.push(q);
                    (x, y) = (Some(p), b.next());
                } else {
                    out.push(p);
                    (x, y) = (a.next(), Some(q));
                }
            }
            (Some(p), None) => {
                out.push(p);
                out.extend(a);
                break;
            }
            (None, Some(q)) => {
                out.push(q);
                out.extend(b);
                break;
            }
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_holds_a_batch_per_worker_whatever_the_number_of_inputs() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let batches = BatchPool::default();
        pool.install(|| {
            (0..5_000u32)
                .into_par_iter()
                .with_max_len(1)
                .for_each(|i| batches.with(|b| b.summary.records.read += u64::from(i)));
        });
        let held = batches.0.lock().unwrap().len();
        assert!((1..=2).contains(&held), "{held} batches for 5,000 inputs");
        assert_eq!(batches.merged().summary.records.read, 5_000 * 4_999 / 2);
        // A worker that takes more inputs while it holds a batch (rayon's join steals) gets
        // another batch, never the one it holds.
        let batches = BatchPool::default();
        pool.install(|| {
            (0..200u32).into_par_iter().with_max_len(1).for_each(|i| {
                batches.with(|b| {
                    let ((), i) = rayon::join(
                        || batches.with(|inner| inner.summary.records.read += 1),
                        || u64::from(i),
                    );
                    b.summary.records.read += i;
                })
            });
        });
        let total = batches.merged().summary.records.read;
        assert_eq!(total, 200 + 200 * 199 / 2);
    }

    #[test]
    fn sorting_by_a_packed_prefix_gives_the_order_itself() {
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
        struct Rec(i64, Sym, Sym, Sym, u8);
        let mut seed = 11u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let sym = |n: u64| if n == 0 { Sym::NONE } else { Sym(n as u32) };
        // Times close together (the packed prefix holds 32 bits of them) and far apart (it
        // holds all 64), with ties on every field.
        for span in [100_000, i64::MAX / 2] {
            let runs: Vec<Vec<Rec>> = (0..5)
                .map(|_| {
                    let mut run: Vec<Rec> = (0..400)
                        .map(|_| {
                            let t = (next(1000) as i64 - 500) * (span / 500);
                            Rec(t, sym(next(4)), sym(next(4)), sym(next(4)), next(3) as u8)
                        })
                        .collect();
                    sort_by_prefix(&mut run, |r| (r.0, [r.1, r.2, r.3]));
                    assert!(run.is_sorted());
                    run
                })
                .collect();
            let mut want: Vec<Rec> = runs.concat();
            want.sort();
            assert_eq!(merge_runs(runs), want);
        }
        // Empty runs, runs that follow one another, a run inside another's span.
        let runs: Vec<Vec<u8>> = vec![vec![1, 2], vec![], vec![3, 5], vec![4], vec![], vec![5, 9]];
        assert_eq!(merge_runs(runs), vec![1u8, 2, 3, 4, 5, 5, 9]);
        // A run before the one it is merged with.
        let runs: Vec<Vec<u8>> = vec![vec![7, 8], vec![1, 7], vec![0], vec![9]];
        assert_eq!(merge_runs(runs), vec![0u8, 1, 7, 7, 8, 9]);
        assert!(merge_runs(Vec::<Vec<u8>>::new()).is_empty());
    }
}
