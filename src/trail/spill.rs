//! The memory budget: kept events written out of memory when they pass it, by partition of
//! their bucket, and read back a group of partitions at a time for the join.
//!
//! Once the events read weigh more than a quarter of the budget (summed input by input, so the
//! same whichever worker read which: `trail::run_with`), a worker whose batch holds more than
//! its share writes the batch's events to temporary files, one per partition, and starts
//! afresh; at the end of the pass the batches still in memory are written too. The join then
//! reads one group of partitions at a time ([`Spill::groups`]): the join matches a KMS call
//! only to an S3 request of its own bucket, except a copy, whose source object is in another
//! bucket, so a group is a set of partitions closed under the copies between them (a
//! union-find fed by every copy's two buckets), and every report of a group is the report of
//! its buckets in the whole trail (docs/speed.md).
//!
//! The files hold chunks, one per partition and write: the chunk's strings, then its events in
//! those strings' numbering, little-endian, fixed-size fields. They live in a folder of the
//! system's temporary folder (`TMPDIR`), removed when the [`Spill`] is dropped, and by
//! [`remove_all`] (the CLI's second Ctrl-C, which exits without unwinding).

use super::batch::{Batch, Events};
use super::records::{CallRec, KmsRec, NonKms, S3Rec};
use crate::event::{Failure, KmsOp, Mode, S3Op};
use crate::intern::{Interner, Sym};
use crate::summary::SpillSummary;
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The partitions events are spread over by the hash of their bucket. A partition is read back
/// whole, so there are enough of them for a trail many times the budget: with 256, a trail of
/// 100 GB of kept events spread over many buckets gives partitions of about 400 MB.
pub const PARTITIONS: usize = 256;

/// Starts every chunk: a damaged or foreign file is found, not misread.
const CHUNK_MAGIC: u32 = u32::from_le_bytes(*b"KTS1");

/// The folders of spills alive in this process, for [`remove_all`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every spill folder of this process: for an exit that drops nothing (a second Ctrl-C).
pub fn remove_all() {
    if let Ok(live) = LIVE.lock() {
        for dir in live.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The memory budget when none is given: 2 GiB, or half the machine's memory when that is
/// less (the rest is the reader's buffers, the report's and the system's).
pub const DEFAULT_BUDGET: u64 = 2 << 30;

/// [`DEFAULT_BUDGET`], or half the memory `/proc/meminfo` gives when that is less.
pub fn default_budget() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    total.map_or(DEFAULT_BUDGET, |t| DEFAULT_BUDGET.min(t / 2))
}

/// The held bytes past which a worker's batch is written out, for a run whose events may hold
/// `budget` bytes, read by `workers` threads. While reading, the batches hold a quarter of the
/// budget; the join of a group, a quarter of it in events ([`Spill::group_budget`]).
pub fn batch_budget(budget: u64, workers: usize) -> usize {
    (budget / 4 / workers.max(1) as u64).max(1) as usize
}

/// The temporary files of one run.
pub struct Spill {
    dir: tempfile::TempDir,
    files: Vec<Mutex<Option<BufWriter<File>>>>,
    /// Bytes written to each partition's file.
    sizes: Vec<AtomicU64>,
    /// The bytes each partition's events take in memory, strings aside: what groups are
    /// packed by, the same however the pass split the input between threads (the files'
    /// bytes are not: each chunk carries its own strings).
    weights: Vec<AtomicU64>,
    /// Pairs of partitions a copy links (its bucket's and its source bucket's).
    links: Mutex<BTreeSet<(u32, u32)>>,
    events: AtomicU64,
    /// The bytes of events (in memory, strings aside) a group should hold at most: the join's
    /// share of the budget (a quarter: the join holds about twice that with the strings, its
    /// sorts, matches and the reports' maps). A partition larger than it is a group of its
    /// own all the same.
    pub group_budget: u64,
}

impl Spill {
    /// A spill in a new folder of `std::env::temp_dir()` (`TMPDIR`), for a run whose events
    /// may hold `budget` bytes.
    pub fn new(budget: u64) -> std::io::Result<Spill> {
        let dir = tempfile::Builder::new()
            .prefix("keytrail-spill-")
            .tempdir()?;
        if let Ok(mut live) = LIVE.lock() {
            live.push(dir.path().to_path_buf());
        }
        Ok(Spill {
            dir,
            files: (0..PARTITIONS).map(|_| Mutex::new(None)).collect(),
            sizes: (0..PARTITIONS).map(|_| AtomicU64::new(0)).collect(),
            weights: (0..PARTITIONS).map(|_| AtomicU64::new(0)).collect(),
            links: Mutex::new(BTreeSet::new()),
            events: AtomicU64::new(0),
            group_budget: (budget / 4).max(1),
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `batch`'s events (its own and those it absorbed) out, and empties it but for
    /// its summary.
    pub fn write(&self, batch: &mut Batch) -> Result<(), String> {
        let strings = std::mem::take(&mut batch.strings);
        let mut parts = vec![std::mem::take(&mut batch.events)];
        for (remap, mut events) in std::mem::take(&mut batch.absorbed) {
            events.remap(&remap);
            parts.push(events);
        }
        for events in parts {
            self.write_events(&strings, events)
                .map_err(|e| self.write_error(e))?;
        }
        Ok(())
    }

    fn write_error(&self, e: std::io::Error) -> String {
        format!(
            "cannot write the events that passed --memory-limit to {}: {e} (set TMPDIR to a \
             folder with room, or raise --memory-limit)",
            self.dir().display()
        )
    }

    fn write_events(&self, strings: &Interner, events: Events) -> std::io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut of_bucket: HashMap<Sym, usize> = HashMap::new();
        let mut part = |bucket: Sym| {
            *of_bucket
                .entry(bucket)
                .or_insert_with(|| partition_of(strings.get(bucket)))
        };
        let mut parts: Vec<Events> = (0..PARTITIONS).map(|_| Events::default()).collect();
        let mut links = Vec::new();
        for k in events.kms {
            parts[part(k.bucket)].kms.push(k);
        }
        for r in events.s3 {
            let p = part(r.bucket);
            if !r.src_bucket.is_none() {
                let q = part(r.src_bucket);
                if q != p {
                    links.push((p.min(q) as u32, p.max(q) as u32));
                }
            }
            parts[p].s3.push(r);
        }
        for c in events.calls {
            // Other callers' calls have no bucket: spread by their ID, which both copies of a
            // call delivered to two accounts share (sharedEventID), as duplicates do (eventID).
            let p = if c.bucket.is_none() {
                let id = if c.shared != 0 { c.shared } else { c.id };
                ((id ^ (id >> 64)) as u64 % PARTITIONS as u64) as usize
            } else {
                part(c.bucket)
            };
            parts[p].calls.push(c);
        }
        for w in events.non_kms {
            parts[part(w.bucket)].non_kms.push(w);
        }
        if !links.is_empty() {
            self.links.lock().expect("not poisoned").extend(links);
        }
        for (p, events) in parts.into_iter().enumerate() {
            if events.is_empty() {
                continue;
            }
            let n = events.kms.len() + events.s3.len() + events.calls.len() + events.non_kms.len();
            let weight = weight_of(&events);
            let chunk = encode(strings, &events);
            let mut file = self.files[p].lock().expect("not poisoned");
            if file.is_none() {
                let f = File::create(self.part_path(p))?;
                *file = Some(BufWriter::with_capacity(64 << 10, f));
            }
            let w = file.as_mut().expect("opened");
            w.write_all(&(chunk.len() as u64).to_le_bytes())?;
            w.write_all(&chunk)?;
            self.sizes[p].fetch_add(chunk.len() as u64 + 8, Ordering::Relaxed);
            self.weights[p].fetch_add(weight, Ordering::Relaxed);
            self.events.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    fn part_path(&self, p: usize) -> PathBuf {
        self.dir().join(format!("part-{p:03}.bin"))
    }

    /// Flushes and closes every file: the pass is over.
    pub fn finish_writing(&self) -> Result<(), String> {
        for f in &self.files {
            if let Some(mut w) = f.lock().expect("not poisoned").take() {
                w.flush().map_err(|e| self.write_error(e))?;
            }
        }
        Ok(())
    }

    /// The groups of partitions the join reads together: closed under copies, then small
    /// neighbours packed together up to [`Spill::group_budget`]; in order of their first
    /// partition, so the same trail gives the same groups.
    pub fn groups(&self) -> Vec<Vec<usize>> {
        let weights: Vec<u64> = self
            .weights
            .iter()
            .map(|w| w.load(Ordering::Relaxed))
            .collect();
        let links: Vec<(u32, u32)> = self
            .links
            .lock()
            .expect("not poisoned")
            .iter()
            .copied()
            .collect();
        groups_of(&weights, &links, self.group_budget)
    }

    /// The bytes written for `group`'s partitions.
    pub fn group_bytes(&self, group: &[usize]) -> u64 {
        group
            .iter()
            .map(|&p| self.sizes[p].load(Ordering::Relaxed))
            .sum()
    }

    /// The bytes `group`'s events take in memory, strings aside.
    fn group_weight(&self, group: &[usize]) -> u64 {
        group
            .iter()
            .map(|&p| self.weights[p].load(Ordering::Relaxed))
            .sum()
    }

    /// What the spill did, for the summary: the same however the pass split the input
    /// between threads.
    pub fn spilled(&self, limit: u64) -> SpillSummary {
        let groups = self.groups();
        SpillSummary {
            limit,
            events: self.events.load(Ordering::Relaxed),
            event_bytes: self.weights.iter().map(|s| s.load(Ordering::Relaxed)).sum(),
            partitions: self
                .weights
                .iter()
                .filter(|s| s.load(Ordering::Relaxed) > 0)
                .count() as u64,
            groups: groups.len() as u64,
            largest_group_bytes: groups
                .iter()
                .map(|g| self.group_weight(g))
                .max()
                .unwrap_or(0),
            group_budget: self.group_budget,
        }
    }

    /// The events of `group`'s partitions, read back into one batch (with an empty summary).
    pub fn read_group(&self, group: &[usize]) -> Result<Batch, String> {
        let mut batch = Batch::default();
        for &p in group {
            let path = self.part_path(p);
            let fail = |what: String| format!("cannot read back {}: {what}", path.display());
            let file = File::open(&path).map_err(|e| fail(e.to_string()))?;
            let mut r = BufReader::with_capacity(256 << 10, file);
            let mut chunk = Vec::new();
            let mut at = 0u64;
            loop {
                let mut len = [0u8; 8];
                match r.read_exact(&mut len) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(fail(e.to_string())),
                }
                let len = u64::from_le_bytes(len) as usize;
                chunk.clear();
                chunk.resize(len, 0);
                r.read_exact(&mut chunk)
                    .map_err(|e| fail(format!("chunk at byte {at}: {e}")))?;
                let (strings, events) =
                    decode(&chunk).map_err(|e| fail(format!("chunk at byte {at}: {e}")))?;
                batch = batch.merge(Batch {
                    strings,
                    events,
                    ..Batch::default()
                });
                at += len as u64 + 8;
            }
        }
        Ok(batch)
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|d| d != self.dir.path());
        }
    }
}

/// The groups of partitions to read together, given each partition's weight (0: nothing in
/// it) and the pairs of partitions copies link: closed under the links, then neighbours packed
/// together up to `budget`, in order of their first partition (a larger closed set is a group
/// of its own all the same).
pub fn groups_of(weights: &[u64], links: &[(u32, u32)], budget: u64) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..weights.len()).collect();
    fn root(parent: &mut [usize], mut p: usize) -> usize {
        while parent[p] != p {
            parent[p] = parent[parent[p]];
            p = parent[p];
        }
        p
    }
    for &(a, b) in links {
        let (a, b) = (a as usize, b as usize);
        if a >= weights.len() || b >= weights.len() {
            continue;
        }
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut closed: Vec<Vec<usize>> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for (p, &w) in weights.iter().enumerate() {
        if w == 0 {
            continue;
        }
        let r = root(&mut parent, p);
        let i = *slot.entry(r).or_insert_with(|| {
            closed.push(Vec::new());
            closed.len() - 1
        });
        closed[i].push(p);
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut held = 0u64;
    for g in closed {
        let bytes: u64 = g.iter().map(|&p| weights[p]).sum();
        match groups.last_mut() {
            Some(last) if held + bytes <= budget => {
                last.extend(g);
                held += bytes;
            }
            _ => {
                groups.push(g);
                held = bytes;
            }
        }
    }
    groups
}

/// The bytes events take in memory, strings aside.
pub(super) fn weight_of(e: &Events) -> u64 {
    use std::mem::size_of;
    (e.kms.len() * size_of::<KmsRec>()
        + e.s3.len() * size_of::<S3Rec>()
        + e.calls.len() * size_of::<CallRec>()
        + e.non_kms.len() * size_of::<NonKms>()) as u64
}

/// The partition of a bucket: FNV-1a of its name, then MurmurHash3's finalizer, the same on
/// every run and machine. (FNV alone spreads names that differ in their last characters,
/// `lake-000` to `lake-063`, by a pattern: its low byte put them in 64 partitions with no
/// collision, its high bits all in one.)
pub fn partition_of(bucket: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bucket.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h % PARTITIONS as u64) as usize
}

/// A chunk: magic, the strings its events use (renumbered from 0), then the events.
fn encode(strings: &Interner, events: &Events) -> Vec<u8> {
    let mut local: HashMap<Sym, u32> = HashMap::new();
    let mut order: Vec<Sym> = Vec::new();
    let mut sym = |s: Sym| -> u32 {
        if s.is_none() {
            return u32::MAX;
        }
        *local.entry(s).or_insert_with(|| {
            order.push(s);
            order.len() as u32 - 1
        })
    };
    let mut body = Vec::with_capacity(
        events.kms.len() * 76
            + events.s3.len() * 80
            + events.calls.len() * 72
            + events.non_kms.len() * 49
            + 32,
    );
    let mut e = Enc(&mut body);
    e.u64(events.kms.len() as u64);
    for k in &events.kms {
        e.i64(k.time);
        for s in [
            k.requester,
            k.bucket,
            k.key,
            k.kms_key,
            k.head,
            k.account,
            k.region,
            k.ctx_value,
        ] {
            e.u32(sym(s));
        }
        e.bytes(&[k.op as u8, k.mode as u8, k.failure as u8, k.ctx_pass as u8]);
        e.u128(k.id);
        e.u128(k.shared);
    }
    e.u64(events.s3.len() as u64);
    for r in &events.s3 {
        e.i64(r.time);
        for s in [
            r.requester,
            r.bucket,
            r.key,
            r.kms_key,
            r.head,
            r.account,
            r.region,
            r.src_bucket,
            r.src_key,
        ] {
            e.u32(sym(s));
        }
        let bucket_key = match r.bucket_key {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        e.bytes(&[r.op as u8, bucket_key, r.dsse as u8, r.failure as u8]);
        e.u128(r.id);
        e.u128(r.shared);
    }
    e.u64(events.calls.len() as u64);
    for c in &events.calls {
        e.i64(c.time);
        for s in [
            c.account,
            c.region,
            c.kms_key,
            c.requester,
            c.caller,
            c.bucket,
            c.purpose,
        ] {
            e.u32(sym(s));
        }
        e.bytes(&[
            c.op as u8,
            c.failure as u8,
            c.mode as u8,
            c.aws_managed as u8,
        ]);
        e.u128(c.id);
        e.u128(c.shared);
    }
    e.u64(events.non_kms.len() as u64);
    for w in &events.non_kms {
        e.i64(w.time);
        e.u32(sym(w.bucket));
        e.u32(sym(w.key));
        e.bytes(&[w.write as u8]);
        e.u128(w.id);
        e.u128(w.shared);
    }
    let text: usize = order.iter().map(|&s| strings.get(s).len() + 4).sum();
    let mut chunk = Vec::with_capacity(8 + text + body.len());
    let mut e = Enc(&mut chunk);
    e.u32(CHUNK_MAGIC);
    e.u32(order.len() as u32);
    for s in order {
        let s = strings.get(s);
        e.u32(s.len() as u32);
        e.bytes(s.as_bytes());
    }
    chunk.extend_from_slice(&body);
    chunk
}

struct Enc<'a>(&'a mut Vec<u8>);

impl Enc<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    fn u128(&mut self, v: u128) {
        self.bytes(&v.to_le_bytes());
    }
}

/// Reads a chunk back, checking every length, symbol and enumeration.
fn decode(chunk: &[u8]) -> Result<(Interner, Events), String> {
    let mut d = Dec { buf: chunk, at: 0 };
    if d.u32()? != CHUNK_MAGIC {
        return Err("not a keytrail spill chunk".into());
    }
    let n = d.u32()? as usize;
    let mut texts = Vec::with_capacity(n.min(chunk.len()));
    for _ in 0..n {
        let len = d.u32()? as usize;
        let b = d.take(len)?;
        texts.push(std::str::from_utf8(b).map_err(|_| "a string is not UTF-8".to_string())?);
    }
    let strings = Interner::from_strings(texts).ok_or("a string is given twice")?;
    let count = strings.len() as u32;
    let mut events = Events::default();
    let n = d.len(76)?;
    events.kms.reserve(n);
    for _ in 0..n {
        let time = d.i64()?;
        let [requester, bucket, key, kms_key, head, account, region, ctx_value] = d.syms(count)?;
        let [op, mode, failure, ctx_pass] = d.array()?;
        events.kms.push(KmsRec {
            time,
            requester,
            bucket,
            key,
            op: pick(&KmsOp::ALL, op)?,
            mode: pick(&Mode::ALL, mode)?,
            kms_key,
            head,
            account,
            region,
            failure: pick(&Failure::ALL, failure)?,
            ctx_pass: flag(ctx_pass)?,
            ctx_value,
            id: d.u128()?,
            shared: d.u128()?,
        });
    }
    let n = d.len(80)?;
    events.s3.reserve(n);
    for _ in 0..n {
        let time = d.i64()?;
        let [requester, bucket, key, kms_key, head, account, region, src_bucket, src_key] =
            d.syms(count)?;
        let [op, bucket_key, dsse, failure] = d.array()?;
        events.s3.push(S3Rec {
            time,
            requester,
            bucket,
            key,
            op: pick(&S3Op::ALL, op)?,
            kms_key,
            bucket_key: match bucket_key {
                0 => None,
                1 => Some(false),
                2 => Some(true),
                _ => return Err("a bucket-key setting out of range".into()),
            },
            dsse: flag(dsse)?,
            head,
            account,
            region,
            failure: pick(&Failure::ALL, failure)?,
            src_bucket,
            src_key,
            id: d.u128()?,
            shared: d.u128()?,
        });
    }
    let n = d.len(72)?;
    events.calls.reserve(n);
    for _ in 0..n {
        let time = d.i64()?;
        let [account, region, kms_key, requester, caller, bucket, purpose] = d.syms(count)?;
        let [op, failure, mode, aws_managed] = d.array()?;
        events.calls.push(CallRec {
            time,
            account,
            region,
            op: pick(&KmsOp::ALL, op)?,
            failure: pick(&Failure::ALL, failure)?,
            kms_key,
            requester,
            caller,
            bucket,
            purpose,
            mode: pick(&Mode::ALL, mode)?,
            aws_managed: flag(aws_managed)?,
            id: d.u128()?,
            shared: d.u128()?,
        });
    }
    let n = d.len(49)?;
    events.non_kms.reserve(n);
    for _ in 0..n {
        let time = d.i64()?;
        let [bucket, key] = d.syms(count)?;
        let [write] = d.array()?;
        events.non_kms.push(NonKms {
            time,
            bucket,
            key,
            write: flag(write)?,
            id: d.u128()?,
            shared: d.u128()?,
        });
    }
    if d.at != chunk.len() {
        return Err(format!("{} bytes after the events", chunk.len() - d.at));
    }
    Ok((strings, events))
}

fn pick<T: Copy>(all: &[T], i: u8) -> Result<T, String> {
    all.get(i as usize)
        .copied()
        .ok_or_else(|| format!("an enumeration value {i} out of range"))
}

fn flag(b: u8) -> Result<bool, String> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(format!("a flag of {b}")),
    }
}

struct Dec<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| format!("cut short at byte {}", self.at))?;
        let b = &self.buf[self.at..end];
        self.at = end;
        Ok(b)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn u128(&mut self) -> Result<u128, String> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    /// A record count, checked against the bytes left for records of `size` bytes.
    fn len(&mut self, size: usize) -> Result<usize, String> {
        let n = u64::from_le_bytes(self.array()?) as usize;
        if n.checked_mul(size)
            .is_none_or(|b| b > self.buf.len() - self.at)
        {
            return Err(format!("{n} records cannot fit in what is left"));
        }
        Ok(n)
    }
    /// `N` symbols, each below `count` or none.
    fn syms<const N: usize>(&mut self, count: u32) -> Result<[Sym; N], String> {
        let mut out = [Sym::NONE; N];
        for s in &mut out {
            let v = self.u32()?;
            if v != u32::MAX && v >= count {
                return Err(format!("symbol {v} of {count} strings"));
            }
            *s = Sym(v);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(strings: &mut Interner) -> Events {
        let mut s = |t: &str| strings.intern(t);
        let (b1, b2, k, r) = (s("bucket-a"), s("bucket-b"), s("key/1"), s("arn:role"));
        let kms = KmsRec {
            time: 1_700_000_000,
            requester: r,
            bucket: b1,
            key: k,
            op: KmsOp::Decrypt,
            mode: Mode::PerObject,
            kms_key: Sym::NONE,
            head: b1,
            account: s("111122223333"),
            region: s("eu-west-1"),
            failure: Failure::Throttled,
            ctx_pass: true,
            ctx_value: Sym::NONE,
            id: u128::MAX - 7,
            shared: 0,
        };
        let s3 = S3Rec {
            time: -5,
            requester: r,
            bucket: b2,
            key: k,
            op: S3Op::CopyObject,
            kms_key: Sym::NONE,
            bucket_key: Some(true),
            dsse: true,
            head: b2,
            account: Sym::NONE,
            region: Sym::NONE,
            failure: Failure::None,
            src_bucket: b1,
            src_key: k,
            id: 3,
            shared: 9,
        };
        let call = CallRec {
            time: 7,
            account: r,
            region: r,
            op: KmsOp::Other,
            failure: Failure::Other,
            kms_key: k,
            requester: r,
            caller: r,
            bucket: Sym::NONE,
            purpose: k,
            mode: Mode::Unknown,
            aws_managed: true,
            id: 1 << 100,
            shared: 0,
        };
        let w = NonKms {
            time: 8,
            bucket: b1,
            key: k,
            write: true,
            id: 4,
            shared: 0,
        };
        Events {
            kms: vec![kms],
            s3: vec![s3],
            calls: vec![call],
            non_kms: vec![w],
        }
    }

    #[test]
    fn a_chunk_reads_back_as_written_and_damage_is_an_error() {
        let mut strings = Interner::default();
        strings.intern("unused");
        let events = sample(&mut strings);
        let chunk = encode(&strings, &events);
        let (back, got) = decode(&chunk).unwrap();
        assert!(back.lookup("unused").is_none(), "only the strings used");
        let name = |i: &Interner, s: Sym| i.get_opt(s).map(str::to_string);
        assert_eq!(name(&back, got.s3[0].src_bucket), Some("bucket-a".into()));
        assert_eq!(got.kms.len() + got.s3.len() + got.calls.len(), 3);
        let (mut a, mut b) = (got.kms[0].clone(), events.kms[0].clone());
        (a.requester, a.bucket, a.key, a.head, a.account, a.region) =
            (Sym(0), Sym(0), Sym(0), Sym(0), Sym(0), Sym(0));
        (b.requester, b.bucket, b.key, b.head, b.account, b.region) =
            (Sym(0), Sym(0), Sym(0), Sym(0), Sym(0), Sym(0));
        assert_eq!(a, b);
        assert_eq!(got.non_kms[0].id, 4);
        assert_eq!(got.calls[0].id, 1 << 100);
        assert!(got.s3[0].dsse && got.s3[0].bucket_key == Some(true));
        for cut in [0, 3, 9, chunk.len() / 2, chunk.len() - 1] {
            assert!(decode(&chunk[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = chunk.clone();
        bad[0] ^= 1;
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn damaged_chunks_are_errors_never_panics() {
        let mut strings = Interner::default();
        let events = sample(&mut strings);
        let chunk = encode(&strings, &events);
        let mut rng = crate::envelope::Rng::new(5);
        for _ in 0..5_000 {
            let mut bad = chunk.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bad.len() as u64) as usize;
                bad[at] = rng.below(256) as u8;
            }
            let cut = bad.len() - rng.below(4) as usize;
            // Either read back, every symbol in range (checked by use), or an error.
            if let Ok((s, e)) = decode(&bad[..cut]) {
                for k in &e.kms {
                    let _ = (s.get(k.bucket), s.get(k.key), s.get(k.ctx_value));
                }
                for r in &e.s3 {
                    let _ = (s.get(r.src_bucket), s.get(r.src_key));
                }
            }
        }
    }

    #[test]
    fn copies_put_their_two_buckets_in_one_group_and_the_folder_goes_with_the_spill() {
        let spill = Spill::new(1 << 20).unwrap();
        let dir = spill.dir().to_path_buf();
        let mut batch = Batch::default();
        batch.events = sample(&mut batch.strings);
        spill.write(&mut batch).unwrap();
        assert!(batch.events.is_empty() && batch.strings.is_empty());
        spill.finish_writing().unwrap();
        let (a, b) = (partition_of("bucket-a"), partition_of("bucket-b"));
        assert_ne!(a, b, "the test needs the two buckets apart");
        let groups = spill.groups();
        let with_a = groups.iter().find(|g| g.contains(&a)).unwrap();
        assert!(with_a.contains(&b));
        let back = spill.read_group(with_a).unwrap();
        let (_, events, _) = back.into_events();
        assert_eq!((events.kms.len(), events.s3.len()), (1, 1));
        let s = spill.spilled(1 << 20);
        assert_eq!(s.events, 4);
        assert!(s.event_bytes > 0 && s.partitions >= 2);
        drop(spill);
        assert!(!dir.exists());
    }
}
