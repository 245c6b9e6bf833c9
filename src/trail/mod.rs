//! The trail: the parallel pass from inputs to compact, filtered events.
//!
//! inputs -> decoded text -> records -> lean events ([`crate::event`]) -> filtered
//! ([`filter`]) -> compact records ([`records`]). Each rayon worker folds whole inputs into a
//! [`Batch`] (interner, compact events, summary) of its own while it reads them, taken from a
//! [`BatchPool`] that holds about one per worker, whatever the number of inputs; batches are
//! merged without locks, and everything order-dependent happens after the merge, at the barrier
//! ([`crate::join`]). So the same inputs give the same report on any number of threads.
//!
//! This layer knows the sources and the event model below it, and nothing above it: what is
//! done with the merged batch is the caller's (`run_with`'s `then`).

pub mod batch;
pub mod config;
pub mod filter;
pub mod read;
pub mod records;
pub mod spill;

pub use batch::{Batch, BatchPool, Events};
pub use read::{read_bytes, read_input, read_object, Windows, CHUNK_BYTES};

use crate::source::s3::{S3Error, S3Reader, S3Url};
use crate::source::{self, Input, InputSpec, Origin, Prune};
use crate::summary::{Problem, Summary};
use config::AnalyzeConfig;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A run that stopped before its report.
#[derive(Debug, thiserror::Error)]
pub enum Stopped {
    /// `--strict`, and this problem.
    #[error("{0}")]
    Strict(Problem),
    /// The observer asked to stop (Ctrl-C, in the CLI).
    #[error("interrupted")]
    Interrupted,
    /// An `s3://` input could not be listed (or its client configured).
    #[error(transparent)]
    S3(#[from] crate::source::s3::S3Error),
    /// An input that is not a trail (another engine's output) could not be read.
    #[error("{0}")]
    Input(String),
}

/// Something that watches the run (the progress bar, in the CLI), and may cancel it.
pub trait Observer: Sync {
    fn started(&self, _total_bytes: u64, _files: u64) {}
    /// An input is done; `stored_bytes` of it not yet reported by [`Observer::read_progress`].
    fn input_done(&self, _stored_bytes: u64) {}
    /// Part of a large input was read (stored bytes): progress within a file.
    fn read_progress(&self, _stored_bytes: u64) {}
    fn problem(&self, _problem: &Problem) {}
    fn finished(&self) {}
    /// A stage after reading began (correlating, ...): nothing to count, something to say.
    fn stage(&self, _what: &str) {}
    /// Listing S3 goes on: folders listed so far, and the objects found to read.
    fn listing(&self, _folders: u64, _objects: u64) {}
    /// Polled between inputs and between chunks of an input: `true` stops the run.
    fn cancelled(&self) -> bool {
        false
    }
}

/// What the pass hands to the barrier.
pub enum Pass {
    /// Every kept event, in memory.
    Whole(Box<Batch>),
    /// The kept events passed the memory budget (`memory_limit`): they are in the spill's
    /// partitions, and `summary` accounts for the input.
    Spilled {
        summary: Box<Summary>,
        spill: std::sync::Arc<spill::Spill>,
    },
}

/// Reads one input into a batch, calling the poll (progress, cancellation) between chunks.
type ReadOne<'a> = dyn Fn(&mut Batch, &dyn Fn(u64) -> bool) + 'a;

/// An observer that does nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// Reads the inputs into one merged [`Batch`] (or, past the memory budget, a spill of
/// them), then hands it to `then` (the barrier: joining, reports), in the run's thread pool, so
/// `--threads` bounds every stage.
pub fn run_with<T: Send>(
    cfg: &AnalyzeConfig,
    observer: &dyn Observer,
    then: impl FnOnce(Pass) -> T + Send,
) -> Result<T, Stopped> {
    let mut discovered = Summary::default();
    let prune = Prune {
        since: cfg.filters.since,
        until: cfg.filters.until,
        accounts: cfg.filters.accounts.clone(),
        regions: cfg.filters.regions.clone(),
    };
    let mut inputs = source::discover(&cfg.inputs, &prune, &mut discovered);
    // S3 prefixes are listed before reading, so the progress bar knows the bytes to come.
    let urls: Vec<&S3Url> = cfg
        .inputs
        .iter()
        .filter_map(|i| match i {
            InputSpec::S3(u) => Some(u),
            _ => None,
        })
        .collect();
    let reader = if urls.is_empty() {
        None
    } else {
        observer.stage("listing S3 objects");
        let reader = S3Reader::new(cfg.s3.clone())?;
        for url in urls {
            // A prefix that cannot be listed is a problem of that input, as a directory that
            // cannot be walked is; the run goes on with the others.
            let listed = |folders, objects| observer.listing(folders, objects);
            match reader.list(url, &prune, &mut discovered, &listed, &|| {
                observer.cancelled()
            }) {
                Ok(objects) => inputs.extend(objects.into_iter().map(|(object, size)| Input {
                    origin: Origin::S3(object),
                    size,
                })),
                Err(S3Error::List { url, message }) => {
                    discovered.file_problem(crate::reason::UNREADABLE);
                    discovered.add_problem(Problem {
                        file: url,
                        location: String::new(),
                        reason: crate::reason::UNREADABLE.into(),
                        message: format!("cannot list: {message}"),
                    });
                }
                Err(S3Error::Cancelled) => return Err(Stopped::Interrupted),
                Err(e) => return Err(e.into()),
            }
        }
        Some(reader)
    };
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
    let (mut by_size, remote): (Vec<&Input>, Vec<&Input>) = inputs
        .iter()
        .partition(|i| !matches!(i.origin, Origin::S3(_)));
    by_size.sort_by_key(|i| std::cmp::Reverse(i.size));
    let halted = || stop.load(Ordering::Relaxed) || observer.cancelled();
    // The memory budget: a worker's batch past its share is written out (spill.rs); the
    // folder is made when first needed.
    let spill: std::sync::OnceLock<Result<std::sync::Arc<spill::Spill>, String>> =
        std::sync::OnceLock::new();
    let spill_failed: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let spill_dir = || -> Result<&std::sync::Arc<spill::Spill>, String> {
        let limit = cfg.memory_limit.expect("spilling only under a budget");
        let s = spill.get_or_init(|| {
            spill::Spill::new(limit).map(Into::into).map_err(|e| {
                format!(
                    "cannot make a folder for the events past --memory-limit in {}: {e} (set \
                     TMPDIR to a folder keytrail can write)",
                    std::env::temp_dir().display()
                )
            })
        });
        s.as_ref().map_err(Clone::clone)
    };
    // What the events kept so far weigh (their bytes in memory, strings aside), added up input
    // by input: the same whichever worker read which input. A run spills only once it passes a
    // quarter of the budget, so whether it spills depends on its input and budget alone, never
    // on how the inputs fell between workers (and every event is spilled then, the rest at
    // the barrier: the summary's spill section is the same from run to run).
    let kept = AtomicU64::new(0);
    let past_quarter = || {
        cfg.memory_limit
            .is_some_and(|limit| kept.load(Ordering::Relaxed) > limit / 4)
    };
    // Past that, a worker whose batch passes its share writes it out. The workers are the
    // run's pool, which this runs in.
    let over_budget = |batch: &mut Batch| {
        let share = cfg
            .memory_limit
            .map(|limit| spill::batch_budget(limit, rayon::current_num_threads()));
        if share.is_some_and(|b| batch.held_bytes() > b) && past_quarter() {
            if let Err(e) = spill_dir().and_then(|s| s.write(batch)) {
                spill_failed.lock().expect("not poisoned").get_or_insert(e);
                stop.store(true, Ordering::Relaxed);
            }
        }
    };
    // One input into a batch, its problems reported as they are met.
    let fold_one = |batch: &mut Batch, size: u64, read: &ReadOne<'_>| {
        let before = batch.summary.problems.len();
        // Progress within the input as its chunks are read, then the rest when it is done.
        let reported = std::cell::Cell::new(0u64);
        let poll = |consumed: u64| {
            let consumed = consumed.min(size);
            if consumed > reported.get() {
                observer.read_progress(consumed - reported.get());
                reported.set(consumed);
            }
            observer.cancelled()
        };
        let weight = spill::weight_of(&batch.events);
        read(batch, &poll);
        let added = spill::weight_of(&batch.events).saturating_sub(weight);
        kept.fetch_add(added, Ordering::Relaxed);
        for p in &batch.summary.problems[before..] {
            observer.problem(p);
            if cfg.strict {
                stop.store(true, Ordering::Relaxed);
            }
        }
        observer.input_done(size - reported.get());
        batch.summary.prune_problems();
    };
    let local = || {
        let batches = BatchPool::default();
        by_size
            .par_iter()
            // One input per task, so an idle worker can take any input not yet started: an
            // input cannot be split, and a worker left with two at the end doubles the tail.
            .with_max_len(1)
            .for_each(|&input| {
                if !halted() {
                    batches.with(|batch| {
                        fold_one(batch, input.size, &|b, poll| {
                            read_input(input, cfg, b, poll)
                        });
                        over_budget(batch);
                    });
                }
            });
        batches.merged()
    };
    // S3 objects arrive as their GETs complete, many in flight; any worker decodes the next.
    let s3 = |reader: &S3Reader| {
        let objects: Vec<(source::s3::S3Object, u64)> = remote
            .iter()
            .filter_map(|i| match &i.origin {
                Origin::S3(o) => Some((o.clone(), i.size)),
                _ => None,
            })
            .collect();
        let (tx, rx) = std::sync::mpsc::sync_channel(cfg.s3.concurrency.max(1));
        std::thread::scope(|scope| {
            scope.spawn(|| reader.fetch(objects, &halted, tx));
            let batches = BatchPool::default();
            rx.into_iter().par_bridge().for_each(|fetched| {
                if !halted() {
                    batches.with(|batch| {
                        fold_one(batch, fetched.size, &|b, poll| {
                            read_object(&fetched.object, &fetched.got, cfg, b, poll)
                        });
                        over_budget(batch);
                    });
                }
            });
            batches.merged()
        })
    };
    let work = || match &reader {
        None => local(),
        Some(reader) => {
            let (a, b) = rayon::join(local, || s3(reader));
            let mut batch = Batch::merge(a, b);
            // The listing's counts join these at the barrier.
            batch.summary.s3 = Some(crate::summary::S3Summary {
                get_requests: reader.counters.get_requests.load(Ordering::Relaxed),
                ..Default::default()
            });
            batch
        }
    };
    // The barrier runs in the same pool, so --threads bounds it too.
    let finish = |mut batch: Batch| -> Result<T, Stopped> {
        observer.finished();
        if observer.cancelled() {
            return Err(Stopped::Interrupted);
        }
        if let Some(e) = spill_failed.lock().expect("not poisoned").take() {
            return Err(Stopped::Input(e));
        }
        batch.summary.merge(discovered);
        batch.summary.problems.sort();
        batch.summary.prune_problems();
        if cfg.strict {
            if let Some(p) = batch.summary.problems.first() {
                return Err(Stopped::Strict(p.clone()));
            }
        }
        if past_quarter() {
            // The rest joins the spilled events, so the join reads every bucket from disk.
            observer.stage("writing the rest of the events past --memory-limit");
            let s = spill_dir().map_err(Stopped::Input)?;
            s.write(&mut batch)
                .and_then(|()| s.finish_writing())
                .map_err(Stopped::Input)?;
            let mut summary = std::mem::take(&mut batch.summary);
            summary.spill = Some(s.spilled(cfg.memory_limit.unwrap_or(0)));
            let spill = std::sync::Arc::clone(s);
            Ok(then(Pass::Spilled {
                summary: Box::new(summary),
                spill,
            }))
        } else {
            // Nothing was written out: a batch is spilled only past the quarter.
            Ok(then(Pass::Whole(Box::new(batch))))
        }
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
