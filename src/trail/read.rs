//! Reading one input: its stored bytes inflated in chunks, framed into records, each parsed,
//! classified and filtered into the worker's [`Batch`].

use super::config::AnalyzeConfig;
use super::filter;
use super::records::{CallRec, KmsRec, NonKms, S3Rec};
use super::Batch;
use crate::event::{self, Event, NotUsed};
use crate::intern::{Field, Interner, Sym};
use crate::reason;
use crate::source::frame::{self, Item, Wrapping};
use crate::source::{decode, Input};
use crate::summary::Problem;

/// Bytes of text inflated at a time: small enough to stay in L2 while it is framed and parsed.
pub const CHUNK_BYTES: usize = 512 << 10;

/// How much of a plain (not compressed) input is framed between two progress reports.
const PLAIN_WINDOW_BYTES: usize = 8 << 20;

/// Room kept in front of each inflated chunk for the end of the previous one that did not make a
/// whole record: it is copied there, and the chunk itself never moves. (A longer rest is joined
/// to the chunk by a copy.)
pub(super) const CARRY_BYTES: usize = 64 << 10;

/// A worker's text buffers, reused from input to input: while one chunk of an input is framed
/// and parsed, the next is inflated into the other buffer.
#[derive(Default)]
pub struct Windows([Vec<u8>; 2]);

thread_local! {
    /// Each worker's buffers for the stored bytes and the text of the input at hand.
    static SCRATCH: std::cell::RefCell<(Vec<u8>, Windows)> = std::cell::RefCell::default();
}

/// Reads one input into `batch`: its bytes, records and problems.
pub fn read_input(
    input: &Input,
    cfg: &AnalyzeConfig,
    batch: &mut Batch,
    poll: &dyn Fn(u64) -> bool,
) {
    // Taken out of the thread-local rather than borrowed: a worker waiting for the other half of
    // a `rayon::join` may start another input meanwhile (which then gets fresh buffers).
    let (mut raw, mut windows) = SCRATCH.take();
    let name = input.display();
    match input.read_into(&mut raw) {
        Ok(()) => read_bytes(&name, &raw, cfg, batch, &mut windows, poll),
        Err(e) => {
            batch.summary.file_problem(reason::UNREADABLE);
            batch.summary.add_problem(Problem {
                file: name,
                location: String::new(),
                reason: reason::UNREADABLE.into(),
                message: format!("cannot read: {e}"),
            });
        }
    }
    SCRATCH.set((raw, windows));
}

/// Reads one S3 object's bytes (as fetched) into `batch`, or counts why it could not be read:
/// a problem named by its `s3://` URL, as an unreadable local file is.
pub fn read_object(
    object: &crate::source::s3::S3Object,
    got: &Result<bytes::Bytes, String>,
    cfg: &AnalyzeConfig,
    batch: &mut Batch,
    poll: &dyn Fn(u64) -> bool,
) {
    let name = object.to_string();
    match got {
        Ok(raw) => {
            let (r, mut windows) = SCRATCH.take();
            read_bytes(&name, raw, cfg, batch, &mut windows, poll);
            SCRATCH.set((r, windows));
        }
        Err(message) => {
            batch.summary.file_problem(reason::UNREADABLE);
            batch.summary.add_problem(Problem {
                file: name,
                location: String::new(),
                reason: reason::UNREADABLE.into(),
                message: format!("cannot read: {message}"),
            });
        }
    }
}

/// Reads one input's stored bytes into `batch`: decoding, framing, parsing, every problem
/// named by `name`. `windows` is scratch space, reused between inputs. `poll` is called between
/// chunks with the stored bytes consumed so far (progress); `true` stops the read. The fuzz
/// targets drive this function.
pub fn read_bytes(
    name: &str,
    raw: &[u8],
    cfg: &AnalyzeConfig,
    batch: &mut Batch,
    windows: &mut Windows,
    poll: &dyn Fn(u64) -> bool,
) {
    let name = name.to_string();
    batch.summary.files.read += 1;
    batch.summary.bytes.read += raw.len() as u64;
    let mut reader = RecordReader {
        cfg,
        batch,
        name: &name,
        index: 0,
        kept: 0,
        prefiltered: 0,
        finder: memchr::memmem::Finder::new(event::EVENT_SOURCE_NEEDLE),
        keys: Keys::default(),
    };
    let mut framer = frame::Framer::default();
    let (decoded, problem) = match decode::sniff(raw) {
        decode::Kind::Plain => {
            // Framed a window at a time (the framer resumes where it stopped), so a large file
            // moves the progress bar and Ctrl-C stops it between windows, as a gzipped one does.
            let (mut start, mut end) = (0, 0);
            loop {
                end = (end + PLAIN_WINDOW_BYTES).min(raw.len());
                let eof = end == raw.len();
                start += framer.feed(&raw[start..end], eof, &mut |item| reader.item(item));
                if eof || poll(end as u64) {
                    break;
                }
            }
            (raw.len() as u64, None)
        }
        decode::Kind::Unsupported(p) => (0, Some(p)),
        decode::Kind::Gzip => {
            // Delivered files fit in memory: inflated in one go, then framed whole. Larger or
            // damaged ones stream, a chunk at a time.
            let whole = decode::with_whole(raw, cfg.limits, |text, members| {
                framer.feed(text, true, &mut |item| reader.item(item));
                (text.len() as u64, members)
            });
            match whole {
                Some((produced, members)) => {
                    poll(raw.len() as u64);
                    reader.batch.summary.files.gzip_members += u64::from(members);
                    (produced, None)
                }
                None => {
                    let mut inflater = decode::Inflater::new(raw, cfg.limits);
                    let problem =
                        inflate_and_frame(&mut inflater, &mut framer, &mut reader, windows, poll);
                    reader.batch.summary.files.gzip_members += inflater.members() as u64;
                    (inflater.produced(), problem)
                }
            }
        }
    };
    reader.intern_keys();
    let summary = &mut reader.batch.summary;
    crate::summary::bump(
        &mut summary.records.filtered_out,
        crate::reason::OTHER_SERVICE,
        reader.prefiltered,
    );
    summary.bytes.decoded += decoded;
    if let Some(problem) = &problem {
        summary.file_problem(problem.reason());
        let location = match problem {
            decode::DecodeProblem::Truncated { at }
            | decode::DecodeProblem::Corrupt { at, .. }
            | decode::DecodeProblem::TrailingGarbage { at, .. } => {
                format!("compressed byte {at}")
            }
            decode::DecodeProblem::RecordTooLarge { at, .. } => format!("byte {at}"),
            _ => String::new(),
        };
        summary.add_problem(Problem {
            file: name.clone(),
            location,
            reason: problem.reason().into(),
            message: problem.to_string(),
        });
    }
    if decoded == 0 && problem.is_none() {
        summary.file_problem(reason::EMPTY);
        summary.add_problem(Problem {
            file: name.clone(),
            location: String::new(),
            reason: reason::EMPTY.into(),
            message: "the file is empty".into(),
        });
    }
}

/// Inflates a gzip input chunk by chunk and frames each chunk's records, inflating the next
/// chunk while this one is framed and parsed: in a `rayon::join`, so a worker with nothing
/// else to do (at the end of a run, when the inputs left are fewer than the workers) takes the
/// inflating, and otherwise the same worker does both in turn. Returns the input's problem.
fn inflate_and_frame(
    inflater: &mut decode::Inflater<'_>,
    framer: &mut frame::Framer,
    reader: &mut RecordReader<'_, '_, '_>,
    windows: &mut Windows,
    poll: &dyn Fn(u64) -> bool,
) -> Option<decode::DecodeProblem> {
    let [window, spare] = &mut windows.0;
    let fill = |inflater: &mut decode::Inflater<'_>, buf: &mut Vec<u8>| {
        // The chunk goes after the carry room; what the room holds is never read.
        buf.resize(CARRY_BYTES, 0);
        match inflater.fill(buf, CHUNK_BYTES) {
            Ok(more) => (more, None),
            Err(p) => (false, Some(p)),
        }
    };
    // The text not framed yet is `window[start..]`.
    let mut start = CARRY_BYTES;
    let (mut more, mut problem) = fill(inflater, window);
    loop {
        if matches!(problem, Some(decode::DecodeProblem::TooLarge { .. })) {
            return problem; // nothing more of a refused input is read
        }
        let text = &window[start..];
        if !more {
            framer.feed(text, true, &mut |item| reader.item(item));
            return problem;
        }
        let text_end = inflater.produced();
        let (consumed, next) = rayon::join(
            || framer.feed(text, false, &mut |item| reader.item(item)),
            || fill(inflater, spare),
        );
        let rest = text.len() - consumed;
        if rest as u64 > reader.cfg.limits.max_record_bytes {
            // One value that never ends: stop rather than hold it all.
            return Some(decode::DecodeProblem::RecordTooLarge {
                at: text_end - rest as u64,
                limit: reader.cfg.limits.max_record_bytes,
            });
        }
        if poll(inflater.consumed()) {
            return None;
        }
        // The rest goes in front of the next chunk.
        let rest_at = window.len() - rest;
        if rest <= CARRY_BYTES {
            start = CARRY_BYTES - rest;
            spare[start..CARRY_BYTES].copy_from_slice(&window[rest_at..]);
            std::mem::swap(window, spare);
        } else {
            window.drain(..rest_at);
            window.extend_from_slice(&spare[CARRY_BYTES..]);
            start = 0;
        }
        (more, problem) = next;
    }
}

struct RecordReader<'c, 'b, 'n> {
    cfg: &'c AnalyzeConfig,
    batch: &'b mut Batch,
    name: &'n str,
    /// Index of the next record in this input, for messages.
    index: u64,
    /// Problems this input has stored.
    kept: usize,
    /// Records the text prefilter set aside (other services), added to the summary at the end
    /// of the input rather than looked up there once per record.
    prefiltered: u64,
    finder: memchr::memmem::Finder<'static>,
    /// Object keys of the records kept, not interned yet.
    keys: Keys,
}

/// Object keys waiting to be interned. A record's other strings are interned as it is read
/// (they are mostly the record before's: `Interner::intern_field`), its object keys
/// [`KEYS_AT_ONCE`] at a time with [`Interner::intern_many`]: a busy trail has a million
/// distinct ones, and looked up one by one each cost two or three cache misses in a row
/// (docs/speed.md).
#[derive(Default)]
struct Keys {
    /// The keys, end to end.
    text: String,
    /// Each key's end in `text`, and the event whose symbol it is.
    ends: Vec<(usize, KeyOf)>,
}

/// Keys interned together: enough for [`Interner::intern_many`]'s prefetching to run ahead.
const KEYS_AT_ONCE: usize = 64;

/// Which event's key: its index in the batch's events of that kind.
#[derive(Debug, Clone, Copy)]
enum KeyOf {
    Kms(usize),
    S3(usize),
    /// A copy's source key.
    Source(usize),
    NonKms(usize),
}

impl Keys {
    fn push(&mut self, key: &str, of: KeyOf) {
        self.text.push_str(key);
        self.ends.push((self.text.len(), of));
    }
}

impl RecordReader<'_, '_, '_> {
    /// Interns the keys waiting, and gives each its event.
    fn intern_keys(&mut self) {
        let Keys { text, ends } = &mut self.keys;
        if ends.is_empty() {
            return;
        }
        let mut start = 0;
        let keys: Vec<&str> = ends
            .iter()
            .map(|&(end, _)| {
                let key = &text[start..end];
                start = end;
                key
            })
            .collect();
        let Batch {
            strings, events, ..
        } = &mut *self.batch;
        strings.intern_many(&keys, |i, sym| match ends[i].1 {
            KeyOf::Kms(at) => events.kms[at].key = sym,
            KeyOf::S3(at) => events.s3[at].key = sym,
            KeyOf::Source(at) => events.s3[at].src_key = sym,
            KeyOf::NonKms(at) => events.non_kms[at].key = sym,
        });
        text.clear();
        ends.clear();
    }

    fn item(&mut self, item: Item<'_>) {
        if self.keys.ends.len() >= KEYS_AT_ONCE {
            self.intern_keys();
        }
        match item {
            Item::Document { kind, .. } => {
                crate::summary::bump(&mut self.batch.summary.documents_skipped, kind, 1);
            }
            Item::Problem { offset, problem } => {
                self.batch.summary.records.read += 1;
                self.index += 1;
                self.reject(
                    problem.reason(),
                    format!("byte {offset}"),
                    problem.to_string(),
                );
            }
            Item::Record {
                text,
                offset,
                wrapping,
            } => {
                self.batch.summary.records.read += 1;
                self.index += 1;
                match wrapping {
                    Wrapping::Plain => {
                        if !event::prefilter(text, &self.finder) {
                            self.prefiltered += 1;
                            return;
                        }
                        self.record(text, offset);
                    }
                    Wrapping::InString(field) => match unwrap_string_field(text, field) {
                        Ok(Some(inner)) => self.record(inner.as_bytes(), offset),
                        Ok(None) => self.record(text, offset),
                        Err(message) => {
                            self.reject(reason::NOT_CLOUDTRAIL, format!("byte {offset}"), message)
                        }
                    },
                }
            }
        }
    }

    fn record(&mut self, text: &[u8], offset: usize) {
        match event::parse_with(text, self.cfg.keep_calls) {
            Ok(ev) => self.event(ev),
            Err(NotUsed::Filtered(reason)) => self.batch.summary.filter(reason),
            // Counted as filtered in the join, once deduplicated.
            Err(NotUsed::NotSseKms {
                time,
                bucket,
                key,
                write,
                event_id: id,
                shared_event_id,
            }) => {
                let strings = &mut self.batch.strings;
                let request = NonKms {
                    time,
                    bucket: bucket.map_or(Sym::NONE, |b| strings.intern(&b)),
                    key: Sym::NONE, // interned with the next keys
                    write,
                    id: event_id(&id),
                    shared: shared_event_id.as_deref().map_or(0, event_id),
                };
                let non_kms = &mut self.batch.events.non_kms;
                if let Some(key) = key {
                    self.keys.push(&key, KeyOf::NonKms(non_kms.len()));
                }
                non_kms.push(request);
            }
            Err(NotUsed::Rejected(reason, message)) => {
                let location = format!("record {} at byte {offset}", self.index);
                self.reject(reason, location, message)
            }
        }
    }

    fn reject(&mut self, reason: &str, location: String, message: String) {
        self.batch.summary.reject(reason);
        // Every problem is counted; an input full of them keeps only its first few.
        self.kept += 1;
        if self.kept > crate::summary::PROBLEMS_KEPT_PER_INPUT {
            self.batch.summary.problems_total += 1;
            return;
        }
        self.batch.summary.add_problem(Problem {
            file: self.name.to_string(),
            location,
            reason: reason.to_string(),
            message,
        });
    }

    fn event(&mut self, ev: Event<'_>) {
        let common = ev.common();
        self.batch.summary.saw_time(common.time);
        if let Err(reason) = filter::record_passes(&self.cfg.filters, common) {
            self.batch.summary.filter(reason);
            return;
        }
        let strings = &mut self.batch.strings;
        if self.cfg.keep_calls {
            if let Some(call) = call_rec(&ev, strings) {
                self.batch.events.calls.push(call);
            }
        }
        match ev {
            Event::OtherKms(_) => {}
            Event::Kms(k) => {
                let ctx = &self.cfg.filters.context;
                let pairs = || k.context.iter().map(|(a, b)| (a.as_ref(), b.as_ref()));
                let ctx_pass = filter::context_matches(ctx, pairs());
                let ctx_value = match &self.cfg.group_by {
                    crate::trail::config::GroupBy::Context(key) => {
                        strings.intern_opt(pairs().find(|(k, _)| k == key).map(|(_, v)| v))
                    }
                    _ => Sym::NONE,
                };
                let head_len = k.bucket_arn.len() - k.bucket.len();
                let rec = KmsRec {
                    time: k.common.time,
                    id: event_id(&k.common.event_id),
                    shared: k.common.shared_event_id.as_deref().map_or(0, event_id),
                    op: k.op,
                    mode: k.mode,
                    failure: k.common.failure,
                    ctx_pass,
                    head: strings.intern_field(Field::Partition, &k.bucket_arn[..head_len]),
                    account: strings.intern_field(Field::Account, &k.common.account),
                    region: strings.intern_field(Field::Region, &k.common.region),
                    requester: strings.intern_field(Field::Requester, &k.common.requester),
                    bucket: strings.intern_field(Field::Bucket, &k.bucket),
                    key: Sym::NONE, // interned with the next keys
                    kms_key: strings.intern_field_opt(Field::KmsKey, k.kms_key.as_deref()),
                    ctx_value,
                };
                let kms = &mut self.batch.events.kms;
                if let Some(key) = k.key.as_deref() {
                    self.keys.push(key, KeyOf::Kms(kms.len()));
                }
                kms.push(rec);
            }
            Event::S3(s) => {
                let src_bucket = match &s.source {
                    Some((b, _)) => strings.intern(b),
                    None => Sym::NONE,
                };
                let rec = S3Rec {
                    time: s.common.time,
                    id: event_id(&s.common.event_id),
                    shared: s.common.shared_event_id.as_deref().map_or(0, event_id),
                    op: s.op,
                    failure: s.common.failure,
                    bucket_key: s.bucket_key,
                    dsse: s.dsse,
                    head: strings.intern_field(Field::Partition, s.partition),
                    account: strings.intern_field(Field::Account, &s.common.account),
                    region: strings.intern_field(Field::Region, &s.common.region),
                    requester: strings.intern_field(Field::Requester, &s.common.requester),
                    bucket: strings.intern_field(Field::Bucket, &s.bucket),
                    key: Sym::NONE, // interned with the next keys, as is src_key
                    kms_key: strings.intern_field_opt(Field::KmsKey, s.kms_key.as_deref()),
                    src_bucket,
                    src_key: Sym::NONE,
                };
                let at = self.batch.events.s3.len();
                self.keys.push(&s.key, KeyOf::S3(at));
                if let Some((_, k)) = &s.source {
                    self.keys.push(k, KeyOf::Source(at));
                }
                self.batch.events.s3.push(rec);
            }
        }
    }
}

/// The compact record of a KMS call, of S3's or another caller's, for cost and quota.
fn call_rec(ev: &Event<'_>, strings: &mut Interner) -> Option<CallRec> {
    let (op, kms_key, bucket, mode, purpose, aws_managed) = match ev {
        Event::Kms(k) => (
            k.op,
            k.kms_key.as_deref(),
            Some(&*k.bucket),
            k.mode,
            "s3",
            k.aws_managed,
        ),
        Event::OtherKms(o) => (
            o.op,
            o.kms_key.as_deref(),
            None,
            crate::event::Mode::Unknown,
            o.context_key
                .as_deref()
                .unwrap_or("(no encryption context)"),
            o.aws_managed,
        ),
        Event::S3(_) => return None,
    };
    let c = ev.common();
    Some(CallRec {
        time: c.time,
        id: event_id(&c.event_id),
        shared: c.shared_event_id.as_deref().map_or(0, event_id),
        op,
        mode,
        failure: c.failure,
        aws_managed,
        account: strings.intern_field(Field::Account, &c.caller_account),
        region: strings.intern_field(Field::Region, &c.region),
        requester: strings.intern_field(Field::Requester, &c.requester),
        caller: strings.intern_field(Field::Caller, c.invoked_by.as_deref().unwrap_or("(direct)")),
        kms_key: strings.intern_field_opt(Field::KmsKey, kms_key),
        bucket: strings.intern_field_opt(Field::Bucket, bucket),
        purpose: strings.intern_field(Field::Purpose, purpose),
    })
}

/// Reads `field` of a wrapper object as a string (lookup-events' `CloudTrailEvent`, CloudWatch's
/// `message`). `Ok(None)`: the element is a record itself (`lookup-events --event-category
/// insight` lists Insights records directly).
fn unwrap_string_field(text: &[u8], field: &str) -> Result<Option<String>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("invalid JSON: {e}"))?;
    match value.get(field) {
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{field} is not a string")),
        None if value.get("eventVersion").is_some() || value.get("eventCategory").is_some() => {
            Ok(None)
        }
        None => Err(format!("an element without {field}")),
    }
}

/// A compact event ID: a UUID's 128 bits, or a hash of any other text. `0` means none, and
/// records without an ID are never taken for duplicates.
pub fn event_id(s: &str) -> u128 {
    if s.is_empty() {
        return 0;
    }
    // Where a UUID's dashes are.
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    let b = s.as_bytes();
    if b.len() == 36 && DASHES.iter().all(|&i| b[i] == b'-') {
        // The 32 hex digits of a UUID, in two halves; any other byte sends it to the hash.
        let hex = |range: std::ops::Range<usize>| {
            range
                .filter(|i| !DASHES.contains(i))
                .try_fold(0u64, |v, i| {
                    let d = (b[i] as char).to_digit(16)?;
                    Some((v << 4) | d as u64)
                })
        };
        if let (Some(hi), Some(lo)) = (hex(0..18), hex(18..36)) {
            return (((hi as u128) << 64) | lo as u128).max(1);
        }
    }
    // FNV-1a, twice with different offsets: stable across runs and platforms.
    let fnv = |offset: u64| {
        s.bytes().fold(offset, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
        })
    };
    let v = ((fnv(0xcbf2_9ce4_8422_2325) as u128) << 64) | fnv(0x8422_2325_cbf2_9ce4) as u128;
    v.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trail::config::AnalyzeConfig;

    #[test]
    fn a_file_that_vanished_after_the_walk_is_named_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.json.gz");
        std::fs::write(&path, b"{}").unwrap();
        let input = Input {
            origin: crate::source::Origin::File(path.clone()),
            size: 2,
        };
        std::fs::remove_file(&path).unwrap();
        let cfg = AnalyzeConfig::new(Vec::new());
        let mut batch = Batch::default();
        read_input(&input, &cfg, &mut batch, &|_| false);
        assert_eq!(
            batch.summary.files.with_problems.get("unreadable"),
            Some(&1)
        );
        let p = &batch.summary.problems[0];
        assert!(
            p.file.ends_with("gone.json.gz") && p.message.starts_with("cannot read"),
            "{p}"
        );
        assert_eq!(batch.summary.records.read, 0);
    }

    /// The records of the `two-buckets` fixture, in file order.
    fn fixture_records() -> Vec<serde_json::Value> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/two-buckets/AWSLogs");
        let mut records: Vec<serde_json::Value> = Vec::new();
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let path = entry.unwrap().into_path();
            if path.to_string_lossy().contains("CloudTrail/") && path.is_file() {
                let mut text = Vec::new();
                let raw = std::fs::read(&path).unwrap();
                std::io::Read::read_to_end(
                    &mut flate2::read::MultiGzDecoder::new(&raw[..]),
                    &mut text,
                )
                .unwrap();
                let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
                records.extend(doc["Records"].as_array().unwrap().iter().cloned());
            }
        }
        assert!(records.len() > 100);
        records
    }

    /// A trail document of `n` bytes or more: a fixture's records over and over, with records
    /// longer than the carry room between them (the first longer than a chunk), so that records
    /// straddle the inflated chunks.
    fn long_document(n: usize) -> Vec<u8> {
        let records = fixture_records();
        let mut out = b"{\"Records\":[".to_vec();
        let mut i = 0;
        while out.len() < n {
            if i > 0 {
                out.push(b',');
            }
            if i % 40 == 0 {
                // The first one is longer than a chunk: it is carried whole into the next.
                let len = if i == 0 {
                    CHUNK_BYTES * 3 / 2
                } else {
                    3 * CARRY_BYTES
                };
                let pad = "p".repeat(len + 1000 * (i % 7));
                let rec = format!(
                    r#"{{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","pad":"{pad}"}}"#
                );
                out.extend_from_slice(rec.as_bytes());
            } else {
                serde_json::to_writer(&mut out, &records[i % records.len()]).unwrap();
            }
            i += 1;
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// Settings under which an input of `text_len` bytes streams a chunk at a time (the
    /// one-shot inflater declines a text larger than --max-record-bytes), with every record of
    /// [`long_document`] still within the limit.
    fn streaming(text_len: usize) -> AnalyzeConfig {
        let mut cfg = AnalyzeConfig::new(Vec::new());
        cfg.limits.max_record_bytes = text_len as u64 - 1;
        cfg
    }

    /// Reads `raw` as one input and returns its rows and record counts.
    fn read_one(
        raw: &[u8],
        cfg: &AnalyzeConfig,
    ) -> (Vec<crate::reports::calls::Row>, crate::summary::Records) {
        let mut batch = Batch::default();
        read_bytes("t", raw, cfg, &mut batch, &mut Windows::default(), &|_| {
            false
        });
        assert!(
            batch.summary.problems.is_empty(),
            "{:?}",
            batch.summary.problems
        );
        let report = crate::reports::calls::rows(&crate::join::join(batch, cfg), cfg);
        (report.rows, report.summary.records)
    }

    /// A large input says how far it got between chunks (the progress bar moves within a file).
    #[test]
    fn a_large_input_reports_its_progress_between_chunks() {
        let text = long_document(5 * CHUNK_BYTES);
        let gz = crate::simulate::gzip(&text);
        let seen = std::cell::RefCell::new(Vec::new());
        let cfg = streaming(text.len());
        let mut batch = Batch::default();
        read_bytes(
            "t",
            &gz,
            &cfg,
            &mut batch,
            &mut Windows::default(),
            &|consumed| {
                seen.borrow_mut().push(consumed);
                false
            },
        );
        let seen = seen.into_inner();
        assert!(seen.len() >= 3, "{seen:?}");
        assert!(
            seen[0] > 0 && seen.windows(2).all(|w| w[0] <= w[1]),
            "{seen:?}"
        );
        assert!(*seen.last().unwrap() <= gz.len() as u64, "{seen:?}");
        // And `true` stops the read there.
        let mut stopped = Batch::default();
        read_bytes(
            "t",
            &gz,
            &cfg,
            &mut stopped,
            &mut Windows::default(),
            &|_| true,
        );
        assert!(stopped.summary.records.read < batch.summary.records.read);
    }

    /// A large plain input moves the bar too, and reads as it does whole.
    #[test]
    fn a_large_plain_input_reports_its_progress_between_windows() {
        let text = long_document(3 * PLAIN_WINDOW_BYTES);
        let seen = std::cell::RefCell::new(Vec::new());
        let cfg = AnalyzeConfig::new(Vec::new());
        let mut batch = Batch::default();
        read_bytes(
            "t",
            &text,
            &cfg,
            &mut batch,
            &mut Windows::default(),
            &|consumed| {
                seen.borrow_mut().push(consumed);
                false
            },
        );
        let seen = seen.into_inner();
        assert!(seen.len() >= 2, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert!(*seen.last().unwrap() < text.len() as u64, "{seen:?}");
        let mut whole = Batch::default();
        let mut framer = frame::Framer::default();
        let mut reader = RecordReader {
            cfg: &cfg,
            batch: &mut whole,
            name: "t",
            index: 0,
            kept: 0,
            prefiltered: 0,
            finder: memchr::memmem::Finder::new(event::EVENT_SOURCE_NEEDLE),
            keys: Keys::default(),
        };
        framer.feed(&text, true, &mut |item| reader.item(item));
        reader.intern_keys();
        assert!(batch.summary.records.read > 1000);
        assert_eq!(batch.summary.records.read, whole.summary.records.read);
        assert_eq!(
            batch.events.kms.len() + batch.events.s3.len(),
            whole.events.kms.len() + whole.events.s3.len()
        );
        // And `true` stops the read at the first window.
        let mut stopped = Batch::default();
        read_bytes(
            "t",
            &text,
            &cfg,
            &mut stopped,
            &mut Windows::default(),
            &|_| true,
        );
        assert!(stopped.summary.records.read < batch.summary.records.read);
    }

    #[test]
    fn records_across_inflated_chunks_read_as_in_plain_text() {
        let text = long_document(5 * CHUNK_BYTES);
        let plain = read_one(&text, &AnalyzeConfig::new(Vec::new()));
        assert!(plain.1.read > 200 && !plain.0.is_empty(), "{plain:?}");
        // The same text gzipped, in one member and in several, is read chunk by chunk while
        // the next chunk is inflated, on a pool of 2 so that the inflating may move.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let members: Vec<u8> = text
            .chunks(300_001)
            .flat_map(crate::simulate::gzip)
            .collect();
        for gz in [crate::simulate::gzip(&text), members] {
            // Streamed, and inflated whole: the same records either way.
            assert_eq!(
                pool.install(|| read_one(&gz, &streaming(text.len()))),
                plain
            );
            assert_eq!(read_one(&gz, &AnalyzeConfig::new(Vec::new())), plain);
        }
    }

    /// Object keys are interned many at a time ([`Keys`]), after their events are kept: each
    /// event still gets its own record's key (and a copy its source's), plain or gzipped.
    #[test]
    fn every_event_gets_its_own_records_object_key() {
        let texts: Vec<String> = std::iter::repeat_n(fixture_records(), 3)
            .flatten()
            .map(|r| r.to_string())
            .collect();
        let cfg = AnalyzeConfig::new(Vec::new());
        let (mut kms, mut s3, mut sources, mut non_kms) = (vec![], vec![], vec![], vec![]);
        for text in &texts {
            let ev = event::parse_with(text.as_bytes(), cfg.keep_calls);
            if let Ok(ev) = &ev {
                if filter::record_passes(&cfg.filters, ev.common()).is_err() {
                    continue;
                }
            }
            match ev {
                Ok(Event::Kms(k)) => kms.push(k.key.as_deref().map(str::to_string)),
                Ok(Event::S3(r)) => {
                    s3.push(Some(r.key.to_string()));
                    sources.push(r.source.as_ref().map(|(_, k)| k.to_string()));
                }
                Err(NotUsed::NotSseKms { key, .. }) => non_kms.push(key),
                _ => {}
            }
        }
        assert!(
            kms.len() + s3.len() > 3 * KEYS_AT_ONCE,
            "{}",
            kms.len() + s3.len()
        );
        // Bucket-key calls name no object; every S3 request does.
        assert!(kms.iter().any(Option::is_some) && s3.iter().all(Option::is_some));
        let doc = format!("{{\"Records\":[{}]}}", texts.join(","));
        for raw in [
            doc.as_bytes().to_vec(),
            crate::simulate::gzip(doc.as_bytes()),
        ] {
            let mut batch = Batch::default();
            read_bytes(
                "t",
                &raw,
                &cfg,
                &mut batch,
                &mut Windows::default(),
                &|_| false,
            );
            let names = |syms: &mut dyn Iterator<Item = Sym>| -> Vec<Option<String>> {
                syms.map(|s| batch.strings.get_opt(s).map(str::to_string))
                    .collect()
            };
            let events = &batch.events;
            assert_eq!(names(&mut events.kms.iter().map(|k| k.key)), kms);
            assert_eq!(names(&mut events.s3.iter().map(|r| r.key)), s3);
            assert_eq!(names(&mut events.s3.iter().map(|r| r.src_key)), sources);
            assert_eq!(names(&mut events.non_kms.iter().map(|r| r.key)), non_kms);
        }
    }

    #[test]
    fn event_ids_are_compact_and_stable() {
        let a = event_id("80721262-21a5-49b9-8b63-28740e7ce9c9");
        assert_eq!(a, 0x8072126221a549b98b6328740e7ce9c9);
        assert_eq!(event_id("not-a-uuid"), event_id("not-a-uuid"));
        assert_ne!(event_id("a"), event_id("b"));
        assert_eq!(event_id(""), 0);
        // Dashes elsewhere, or a byte that is not hex: hashed, not read as a UUID.
        let odd = event_id("8072126-221a5-49b9-8b63-28740e7ce9c9");
        assert_ne!(odd, a);
        assert_eq!(odd, event_id("8072126-221a5-49b9-8b63-28740e7ce9c9"));
        assert_ne!(event_id("80721262-21a5-49b9-8b63-28740e7ce9cg"), a);
        assert_eq!(event_id("80721262-21A5-49B9-8B63-28740E7CE9C9"), a);
    }
}
