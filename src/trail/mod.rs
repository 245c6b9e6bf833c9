//! The trail: the parallel pass from inputs to compact, filtered events.
//!
//! inputs -> decoded text -> records -> lean events ([`crate::event`]) -> filtered
//! ([`filter`]) -> compact records ([`records`]). Each rayon worker folds whole inputs into its
//! own [`Batch`] (interner, compact events, summary); batches are merged without locks, and
//! everything order-dependent happens after the merge, at the barrier ([`crate::join`]). So the
//! same inputs give the same report on any number of threads.
//!
//! This layer knows the sources and the event model below it, and nothing above it: what is
//! done with the merged batch is the caller's (`run_with`'s `then`).

pub mod batch;
pub mod config;
pub mod filter;
pub mod read;
pub mod records;

pub use batch::{Batch, Events};
pub use read::{read_bytes, read_input, Windows, CHUNK_BYTES};

use crate::source::{self, Input};
use crate::summary::{Problem, Summary};
use config::AnalyzeConfig;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// A run that stopped before its report.
#[derive(Debug, thiserror::Error)]
pub enum Stopped {
    /// `--strict`, and this problem.
    #[error("{0}")]
    Strict(Problem),
    /// The observer asked to stop (Ctrl-C, in the CLI).
    #[error("interrupted")]
    Interrupted,
}

/// Something that watches the run (the progress bar, in the CLI), and may cancel it.
pub trait Observer: Sync {
    fn started(&self, _total_bytes: u64, _files: u64) {}
    fn input_done(&self, _stored_bytes: u64) {}
    fn problem(&self, _problem: &Problem) {}
    fn finished(&self) {}
    /// A stage after reading began (correlating, ...): nothing to count, something to say.
    fn stage(&self, _what: &str) {}
    /// Polled between inputs and between chunks of an input: `true` stops the run.
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that does nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// Reads the inputs into one merged [`Batch`], then hands it to `then` (the barrier: joining,
/// reports), in the run's thread pool, so `--threads` bounds every stage.
pub fn run_with<T: Send>(
    cfg: &AnalyzeConfig,
    observer: &dyn Observer,
    then: impl FnOnce(Batch) -> T + Send,
) -> Result<T, Stopped> {
    let mut discovered = Summary::default();
    let inputs = source::discover(
        &cfg.inputs,
        cfg.filters.since,
        cfg.filters.until,
        &mut discovered,
    );
    if cfg.strict {
        if let Some(p) = discovered.problems.first() {
            return Err(Stopped::Strict(p.clone()));
        }
    }
    for p in &discovered.problems {
        observer.problem(p);
    }
    let total: u64 = inputs.iter().map(|i| i.size).sum();
    observer.started(total, inputs.len() as u64);
    let stop = AtomicBool::new(false);
    // Largest inputs first, so the last ones a worker starts are small and the workers finish
    // together (an input is never split). The report does not depend on the order.
    let mut by_size: Vec<&Input> = inputs.iter().collect();
    by_size.sort_by_key(|i| std::cmp::Reverse(i.size));
    let work = || {
        by_size
            .par_iter()
            // One input per task, so an idle worker can take any input not yet started: an
            // input cannot be split, and a worker left with two at the end doubles the tail.
            .with_max_len(1)
            .fold(Batch::default, |mut batch, &input| {
                if !stop.load(Ordering::Relaxed) && !observer.cancelled() {
                    let before = batch.summary.problems.len();
                    read_input(input, cfg, &mut batch, &|| observer.cancelled());
                    for p in &batch.summary.problems[before..] {
                        observer.problem(p);
                        if cfg.strict {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    observer.input_done(input.size);
                    batch.summary.prune_problems();
                }
                batch
            })
            .reduce(Batch::default, Batch::merge)
    };
    // The barrier runs in the same pool, so --threads bounds it too.
    let finish = |mut batch: Batch| -> Result<T, Stopped> {
        observer.finished();
        if observer.cancelled() {
            return Err(Stopped::Interrupted);
        }
        batch.summary.merge(discovered);
        batch.summary.problems.sort();
        batch.summary.prune_problems();
        if cfg.strict {
            if let Some(p) = batch.summary.problems.first() {
                return Err(Stopped::Strict(p.clone()));
            }
        }
        Ok(then(batch))
    };
    match build_pool(cfg.threads) {
        Some(pool) => pool.install(|| finish(work())),
        None => finish(work()),
    }
}

fn build_pool(threads: usize) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .ok()
}
