//! Turning a file's bytes into JSON text: gzip (one or several members) or plain, sniffed from
//! the content, never from the name.
//!
//! [`Inflater`] inflates a gzip input a chunk at a time into the caller's window, so the text is
//! framed while it is still in cache: on the 2-core machine inflating a 45 MB member into one
//! buffer took 67 ms, into a reused 256 KiB one 34 ms (512 KiB, the size used, is a little better
//! still). It enforces the decompression-bomb caps of [`Limits`] on the bytes actually produced.
//! A truncated or corrupt stream yields what was inflated before the damage, so the complete
//! records in it are still read, and reports where the damage starts.
//!
//! Files of the size CloudTrail delivers (a few KB to a few MB) are inflated whole instead, by
//! [`with_whole`] with libdeflate (the fastest inflater; 1.45x faster than the chunked zlib-rs
//! pass on such files, docs/speed.md), within the same caps; it declines anything larger or
//! damaged, which then streams as above, so both paths give the same records and problems.

use flate2::{Decompress, FlushDecompress, Status};
use std::cell::RefCell;

/// Largest text [`with_whole`] inflates in one go (per thread, the buffer is kept): CloudTrail's
/// delivered files are a few KB to a few MB of JSON; larger inputs stream in chunks.
pub const WHOLE_MAX_BYTES: usize = 32 << 20;

/// A libdeflate decompressor and the buffer it inflates into, one per thread, kept between
/// inputs.
struct Whole {
    decompressor: *mut libdeflate_sys::libdeflate_decompressor,
    buf: Vec<u8>,
}

impl Drop for Whole {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed once, here.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.decompressor) }
    }
}

thread_local! {
    static WHOLE: RefCell<Option<Whole>> = const { RefCell::new(None) };
}

/// Inflates a whole gzip input (every member) in one call per member with libdeflate, the
/// fastest inflater there is, and hands the text and the member count to `then`. `None` when
/// this path does not take the input: larger than [`WHOLE_MAX_BYTES`], than
/// `max_record_bytes` (so a value too large is refused exactly as when streaming) or than the
/// caps of [`Limits`], or damaged in any way (truncated, corrupt, trailing bytes). The caller
/// then streams it with [`Inflater`], which reads what can be read and names the problem, so
/// both paths give the same records and the same problems.
pub fn with_whole<R>(raw: &[u8], limits: Limits, then: impl FnOnce(&[u8], u32) -> R) -> Option<R> {
    let ratio_room = (raw.len() as u64)
        .saturating_mul(limits.max_ratio)
        .max(RATIO_GRACE_BYTES);
    let room = (WHOLE_MAX_BYTES as u64)
        .min(limits.max_bytes)
        .min(limits.max_record_bytes)
        .min(ratio_room) as usize;
    // A file's last member says its size in its last four bytes (mod 2^32): a first guess that
    // spares a call on files too large for this path.
    let isize_hint = raw
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes(raw[at..].try_into().expect("four bytes")) as usize)?;
    if isize_hint > room {
        return None;
    }
    WHOLE.with(|cell| {
        // Busy on this thread (a task `then` waits on may run here): stream instead.
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return None;
        };
        if slot.is_none() {
            // SAFETY: allocation has no preconditions; a null return is handled.
            let decompressor = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
            if decompressor.is_null() {
                return None;
            }
            *slot = Some(Whole {
                decompressor,
                // Zeroed pages are mapped lazily: only what inflating writes is resident.
                buf: vec![0; WHOLE_MAX_BYTES],
            });
        }
        let whole = slot.as_mut().expect("set just above");
        let (mut at, mut produced, mut members) = (0usize, 0usize, 0u32);
        while at < raw.len() {
            let rest = &raw[at..];
            if members > 0 && rest.iter().all(|&b| b == 0) {
                break; // zero padding after the last member, as the streaming path allows
            }
            if !rest.starts_with(&GZIP_MAGIC) {
                return None;
            }
            // A header CRC (FHCRC): libdeflate skips it unchecked, the streaming inflater checks
            // it. CloudTrail never writes one: leave such a file to the streaming path, so both
            // paths accept the same files (the `inflate` fuzz target found the difference).
            if rest.get(3).is_some_and(|flags| flags & GZIP_FHCRC != 0) {
                return None;
            }
            let out = &mut whole.buf[produced..room];
            let (mut used_in, mut used_out) = (0usize, 0usize);
            // SAFETY: the decompressor is live; `rest` and `out` are valid for their lengths and
            // do not overlap; libdeflate writes at most `out.len()` bytes and sets both counts.
            let result = unsafe {
                libdeflate_sys::libdeflate_gzip_decompress_ex(
                    whole.decompressor,
                    rest.as_ptr().cast(),
                    rest.len(),
                    out.as_mut_ptr().cast(),
                    out.len(),
                    &mut used_in,
                    &mut used_out,
                )
            };
            if result != libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS || used_in == 0 {
                return None;
            }
            at += used_in;
            produced += used_out;
            members += 1;
        }
        if members == 0 {
            return None;
        }
        Some(then(&whole.buf[..produced], members))
    })
}

/// Caps on what one input may decompress to. Checked on decompressed bytes, because the
/// compressed size says nothing about them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest decompressed size of one input, in bytes.
    pub max_bytes: u64,
    /// Largest ratio of decompressed to compressed size, applied once an input has produced more
    /// than [`RATIO_GRACE_BYTES`]. CloudTrail JSON compresses about 7-15:1.
    pub max_ratio: u64,
    /// Largest single value (a record, or a top-level object read whole) held in memory.
    pub max_record_bytes: u64,
}

/// Default for [`Limits::max_record_bytes`]: CloudTrail records are a few KB; the largest
/// (requestParameters of big API calls) stay well under a megabyte.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 64 << 20;

/// Default for [`Limits::max_bytes`]: 4 GiB, well above CloudTrail's 50 MB compressed files.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;
/// Default for [`Limits::max_ratio`]: gzip can reach about 1032:1 on degenerate input; real
/// trails stay near 10:1.
pub const DEFAULT_MAX_RATIO: u64 = 100;
/// Inputs that decompress to less than this are never refused for their ratio: small files of
/// repeated records compress very well and are harmless.
pub const RATIO_GRACE_BYTES: u64 = 16 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_ratio: DEFAULT_MAX_RATIO,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// What went wrong while decoding; the bytes before the problem are still returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeProblem {
    #[error("truncated gzip stream: it ends at byte {at} before the end of the member")]
    Truncated { at: u64 },
    #[error("corrupt gzip data at or after compressed byte {at}: {message}")]
    Corrupt { at: u64, message: String },
    #[error("{bytes} bytes of data after the last gzip member at byte {at}; ignored")]
    TrailingGarbage { at: u64, bytes: u64 },
    #[error(
        "decompressed size passed the cap ({limit}) after {produced} bytes; raise it with \
         --max-decompressed-bytes or --max-ratio if the file is genuine"
    )]
    TooLarge { produced: u64, limit: String },
    #[error("{0}; keytrail reads gzip or plain JSON")]
    UnsupportedCompression(&'static str),
    #[error(
        "a single value starting at byte {at} is larger than {limit} bytes; the rest of the \
         file is not read (raise --max-record-bytes if it is genuine)"
    )]
    RecordTooLarge { at: u64, limit: u64 },
}

impl DecodeProblem {
    /// The short reason used as a key in the summary's counts.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeProblem::Truncated { .. } => crate::reason::TRUNCATED_GZIP,
            DecodeProblem::Corrupt { .. } => crate::reason::CORRUPT_GZIP,
            DecodeProblem::TrailingGarbage { .. } => crate::reason::TRAILING_GARBAGE,
            DecodeProblem::TooLarge { .. } => crate::reason::DECOMPRESSION_CAP,
            DecodeProblem::UnsupportedCompression(_) => crate::reason::UNSUPPORTED_COMPRESSION,
            DecodeProblem::RecordTooLarge { .. } => crate::reason::RECORD_TOO_LARGE,
        }
    }
}

/// What kind of input the first bytes show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Gzip,
    Plain,
    Unsupported(DecodeProblem),
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The gzip header flag that says a CRC16 of the header follows it.
const GZIP_FHCRC: u8 = 0x02;

/// The first bytes of compressed formats keytrail does not read, and what each is.
pub const UNSUPPORTED_MAGIC: [(&[u8], &str); 4] = [
    (b"PK\x03\x04", "a zip archive (unzip it first)"),
    (b"BZh", "bzip2-compressed"),
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd-compressed"),
    (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz-compressed"),
];

/// Sniffs an input from its first bytes.
pub fn sniff(raw: &[u8]) -> Kind {
    if raw.starts_with(&GZIP_MAGIC) {
        return Kind::Gzip;
    }
    let Some(&(_, unsupported)) = UNSUPPORTED_MAGIC
        .iter()
        .find(|(magic, _)| raw.starts_with(magic))
    else {
        return Kind::Plain;
    };
    Kind::Unsupported(DecodeProblem::UnsupportedCompression(unsupported))
}

/// Inflates the gzip members of an input in turn, a chunk at a time.
pub struct Inflater<'a> {
    raw: &'a [u8],
    /// Where the current member starts in `raw`.
    member_start: usize,
    current: Option<Decompress>,
    members: u32,
    produced: u64,
    limits: Limits,
    done: bool,
}

impl<'a> Inflater<'a> {
    pub fn new(raw: &'a [u8], limits: Limits) -> Inflater<'a> {
        Inflater {
            raw,
            member_start: 0,
            current: None,
            members: 0,
            produced: 0,
            limits,
            done: false,
        }
    }

    /// Members inflated to their end so far.
    pub fn members(&self) -> u32 {
        self.members
    }

    /// Bytes of the input (compressed) consumed so far.
    pub fn consumed(&self) -> u64 {
        let current = self.current.as_ref().map_or(0, |d| d.total_in());
        (self.member_start as u64 + current).min(self.raw.len() as u64)
    }

    /// Bytes of text produced so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Appends about `chunk` more bytes of text to `out`. `Ok(true)`: more may follow;
    /// `Ok(false)`: the input is done. After an `Err`, the input is done too.
    pub fn fill(&mut self, out: &mut Vec<u8>, chunk: usize) -> Result<bool, DecodeProblem> {
        if self.done {
            return Ok(false);
        }
        let result = self.fill_inner(out, chunk);
        if !matches!(result, Ok(true)) {
            self.done = true;
        }
        result
    }

    fn fill_inner(&mut self, out: &mut Vec<u8>, chunk: usize) -> Result<bool, DecodeProblem> {
        let target = out.len() + chunk;
        while out.len() < target {
            let Some(inflater) = self.current.as_mut() else {
                let rest = &self.raw[self.member_start..];
                if rest.is_empty() || (self.members > 0 && rest.iter().all(|&b| b == 0)) {
                    return Ok(false); // the end, or zero padding as some tools write
                }
                if !rest.starts_with(&GZIP_MAGIC) {
                    return Err(DecodeProblem::TrailingGarbage {
                        at: self.member_start as u64,
                        bytes: rest.len() as u64,
                    });
                }
                self.current = Some(Decompress::new_gzip(15));
                continue;
            };
            let input = &self.raw[self.member_start..];
            let (in_before, out_before) = (inflater.total_in() as usize, out.len());
            out.reserve(target - out.len());
            let status = inflater.decompress_vec(&input[in_before..], out, FlushDecompress::None);
            let produced = (out.len() - out_before) as u64;
            self.produced += produced;
            check_caps(self.produced, self.raw.len() as u64, &self.limits)?;
            match status {
                Ok(Status::StreamEnd) => {
                    self.members += 1;
                    self.member_start += inflater.total_in() as usize;
                    self.current = None;
                }
                Ok(Status::Ok | Status::BufError) => {
                    let consumed = inflater.total_in() as usize - in_before;
                    if produced == 0 && consumed == 0 {
                        // No progress with room to write: the member's end is missing.
                        return Err(DecodeProblem::Truncated {
                            at: (self.member_start + inflater.total_in() as usize) as u64,
                        });
                    }
                }
                Err(e) => {
                    return Err(DecodeProblem::Corrupt {
                        at: (self.member_start + inflater.total_in() as usize) as u64,
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(true)
    }
}

/// The decompression-bomb caps, on `produced` bytes of text from `compressed` stored bytes.
fn check_caps(produced: u64, compressed: u64, limits: &Limits) -> Result<(), DecodeProblem> {
    if produced > limits.max_bytes {
        return Err(DecodeProblem::TooLarge {
            produced,
            limit: format!("--max-decompressed-bytes {}", limits.max_bytes),
        });
    }
    if produced > RATIO_GRACE_BYTES && produced / compressed.max(1) > limits.max_ratio {
        return Err(DecodeProblem::TooLarge {
            produced,
            limit: format!("--max-ratio {}", limits.max_ratio),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    /// The one-shot path gives the streaming path's text, or declines: on gzip of every
    /// shape and damage, and on every bundled fixture.
    #[test]
    fn inflating_whole_equals_streaming_or_declines() {
        let streamed = |raw: &[u8], limits: Limits| {
            let mut inf = Inflater::new(raw, limits);
            let mut out = Vec::new();
            while let Ok(true) = inf.fill(&mut out, 1 << 16) {}
            (out, inf.members())
        };
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{{\"eventID\":\"{i}\"}}\n").into_bytes())
            .collect();
        let one = gz(&text);
        let mut two = gz(&text[..1000]);
        two.extend(gz(&text[1000..]));
        let mut padded = one.clone();
        padded.extend([0; 16]);
        let limits = Limits::default();
        for raw in [&one, &two, &padded] {
            let whole = with_whole(raw, limits, |t, m| (t.to_vec(), m)).expect("taken");
            assert_eq!(whole, streamed(raw, limits));
        }
        // Damaged or refused inputs are left to the streaming path.
        let truncated = &one[..one.len() - 9];
        assert!(with_whole(truncated, limits, |_, _| ()).is_none());
        let mut garbage = one.clone();
        garbage.extend(b"garbage!");
        assert!(with_whole(&garbage, limits, |_, _| ()).is_none());
        let mut corrupt = one.clone();
        let mid = corrupt.len() / 2;
        corrupt[mid] ^= 0x55;
        assert!(with_whole(&corrupt, limits, |_, _| ()).is_none());
        let small = Limits {
            max_record_bytes: 1000,
            ..limits
        };
        assert!(with_whole(&one, small, |_, _| ()).is_none());
        // A header CRC (FHCRC), right or wrong: libdeflate does not check it, so the file is
        // the streaming path's, which reads the right one and refuses the wrong one (found by
        // the `inflate` fuzz target).
        let mut header = vec![0x1f, 0x8b, 8, GZIP_FHCRC, 0, 0, 0, 0, 0, 0xff];
        let mut crc = flate2::Crc::new();
        crc.update(&header);
        let right = (crc.sum() & 0xffff) as u16;
        header.extend(right.to_le_bytes());
        let mut with_hcrc = header;
        with_hcrc.extend(&one[10..]);
        assert!(with_whole(&with_hcrc, limits, |_, _| ()).is_none());
        assert_eq!(streamed(&with_hcrc, limits), (text.clone(), 1));
        with_hcrc[11] ^= 0xff;
        assert!(with_whole(&with_hcrc, limits, |_, _| ()).is_none());
        let mut inf = Inflater::new(&with_hcrc, limits);
        let mut out = Vec::new();
        let refused = loop {
            match inf.fill(&mut out, 1 << 16) {
                Ok(true) => {}
                Ok(false) => break false,
                Err(_) => break true,
            }
        };
        assert!(refused, "a wrong header CRC is damage");
        // Every gzip file the project carries.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let mut seen = 0;
        for entry in walkdir::WalkDir::new(root) {
            let path = entry.unwrap().into_path();
            if path.extension().is_some_and(|e| e == "gz") {
                let raw = std::fs::read(&path).unwrap();
                let whole = with_whole(&raw, limits, |t, m| (t.to_vec(), m));
                assert_eq!(whole, Some(streamed(&raw, limits)), "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen > 10, "{seen} fixtures");
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Decodes a whole input into `out` (cleared first), as the analyzer does chunk by chunk.
    fn decode_all(raw: &[u8], limits: &Limits, out: &mut Vec<u8>) -> (u32, Option<DecodeProblem>) {
        out.clear();
        match sniff(raw) {
            Kind::Plain => {
                out.extend_from_slice(raw);
                (0, None)
            }
            Kind::Unsupported(p) => (0, Some(p)),
            Kind::Gzip => {
                let mut inflater = Inflater::new(raw, *limits);
                let problem = loop {
                    match inflater.fill(out, 1 << 20) {
                        Ok(true) => {}
                        Ok(false) => break None,
                        Err(p) => break Some(p),
                    }
                };
                if matches!(problem, Some(DecodeProblem::TooLarge { .. })) {
                    out.clear();
                }
                (inflater.members(), problem)
            }
        }
    }

    fn decode(raw: Vec<u8>, limits: &Limits) -> (u32, Option<DecodeProblem>, Vec<u8>) {
        let mut out = b"left over from the previous input".to_vec();
        let (members, problem) = decode_all(&raw, limits, &mut out);
        (members, problem, out)
    }

    #[test]
    fn plain_text_passes_through() {
        let (members, problem, text) = decode(b"{\"Records\":[]}".to_vec(), &Limits::default());
        assert_eq!(text, b"{\"Records\":[]}");
        assert_eq!(members, 0);
        assert!(problem.is_none());
    }

    #[test]
    fn several_gzip_members_are_concatenated() {
        let mut raw = gz(b"first ");
        raw.extend(gz(b"second"));
        raw.extend([0, 0, 0]);
        let (members, problem, text) = decode(raw, &Limits::default());
        assert_eq!(text, b"first second");
        assert_eq!(members, 2);
        assert!(problem.is_none());
    }

    #[test]
    fn chunks_add_up_to_the_whole_text() {
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let raw = gz(&text);
        let mut inflater = Inflater::new(&raw, Limits::default());
        let (mut window, mut all) = (Vec::new(), Vec::new());
        let mut chunks = 0;
        loop {
            window.clear();
            let more = inflater.fill(&mut window, 4096).unwrap();
            assert!(window.len() < 64 << 10, "a chunk is about the size asked");
            all.extend_from_slice(&window);
            chunks += 1;
            if !more {
                break;
            }
        }
        assert!(chunks > 10);
        assert_eq!(all, text);
    }

    #[test]
    fn a_truncated_member_keeps_what_came_before_and_says_where() {
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let raw = gz(&text);
        let cut = raw.len() / 2;
        let (_, problem, got) = decode(raw[..cut].to_vec(), &Limits::default());
        assert!(
            matches!(problem, Some(DecodeProblem::Truncated { .. })),
            "{problem:?}"
        );
        assert!(!got.is_empty() && got.len() < text.len());
        assert_eq!(&text[..got.len()], &got[..]);
    }

    #[test]
    fn a_decompression_bomb_is_refused_on_decompressed_bytes() {
        let raw = gz(&vec![b' '; 64 << 20]);
        let (_, problem, text) = decode(raw, &Limits::default());
        assert!(matches!(problem, Some(DecodeProblem::TooLarge { .. })));
        assert!(text.is_empty());
        let limits = Limits {
            max_bytes: 1 << 20,
            max_ratio: u64::MAX,
            ..Limits::default()
        };
        let (_, problem, _) = decode(gz(&vec![b'a'; 2 << 20]), &limits);
        assert!(matches!(problem, Some(DecodeProblem::TooLarge { .. })));
    }

    #[test]
    fn garbage_after_the_last_member_is_reported() {
        let mut raw = gz(b"ok");
        raw.extend(b"junk");
        let (_, problem, text) = decode(raw, &Limits::default());
        assert_eq!(text, b"ok");
        assert!(matches!(
            problem,
            Some(DecodeProblem::TrailingGarbage { bytes: 4, .. })
        ));
    }

    #[test]
    fn a_zip_archive_is_named_as_such() {
        let (_, problem, _) = decode(b"PK\x03\x04rest".to_vec(), &Limits::default());
        assert_eq!(
            problem.unwrap().reason(),
            crate::reason::UNSUPPORTED_COMPRESSION
        );
    }
}
