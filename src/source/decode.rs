//! Turning a file's bytes into JSON text: gzip (one or several members) or plain, sniffed from
//! the content, never from the name.
//!
//! A member is inflated in one call into a buffer sized from its gzip trailer (`ISIZE`), which
//! is about 40 % faster than a streaming reader. Every inflation goes through [`decompress`],
//! which enforces the decompression-bomb caps of [`Limits`] on the bytes actually produced.
//! A truncated or corrupt stream keeps what was inflated before the damage, so the complete
//! records in it are still read, and reports where the damage starts.

use flate2::{Decompress, FlushDecompress, Status};

/// Caps on what one input may decompress to. Checked on decompressed bytes, because the
/// compressed size says nothing about them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest decompressed size of one input, in bytes.
    pub max_bytes: u64,
    /// Largest ratio of decompressed to compressed size, applied once an input has produced more
    /// than [`RATIO_GRACE_BYTES`]. CloudTrail JSON compresses about 7-15:1.
    pub max_ratio: u64,
}

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
}

impl DecodeProblem {
    /// The short reason used as a key in the summary's counts.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeProblem::Truncated { .. } => "truncated_gzip",
            DecodeProblem::Corrupt { .. } => "corrupt_gzip",
            DecodeProblem::TrailingGarbage { .. } => "trailing_garbage",
            DecodeProblem::TooLarge { .. } => "decompression_cap",
            DecodeProblem::UnsupportedCompression(_) => "unsupported_compression",
        }
    }
}

/// The text of one input.
#[derive(Debug, Default)]
pub struct Decoded {
    pub text: Vec<u8>,
    pub gzip_members: u32,
    pub problem: Option<DecodeProblem>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decodes `raw`, whatever it is: gzip members are inflated, anything else is taken as text.
pub fn decode(raw: Vec<u8>, limits: &Limits) -> Decoded {
    if raw.starts_with(&GZIP_MAGIC) {
        return decompress(&raw, limits);
    }
    let unsupported = if raw.starts_with(b"PK\x03\x04") {
        Some("a zip archive (unzip it first)")
    } else if raw.starts_with(b"BZh") {
        Some("bzip2-compressed")
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd-compressed")
    } else if raw.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz-compressed")
    } else {
        None
    };
    if let Some(what) = unsupported {
        return Decoded {
            problem: Some(DecodeProblem::UnsupportedCompression(what)),
            ..Decoded::default()
        };
    }
    Decoded {
        text: raw,
        gzip_members: 0,
        problem: None,
    }
}

/// Inflates every gzip member of `raw` in turn.
pub fn decompress(raw: &[u8], limits: &Limits) -> Decoded {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut members = 0u32;
    let compressed = raw.len() as u64;
    let cap = |produced: u64| -> Option<DecodeProblem> {
        if produced > limits.max_bytes {
            return Some(DecodeProblem::TooLarge {
                produced,
                limit: format!("--max-decompressed-bytes {}", limits.max_bytes),
            });
        }
        if produced > RATIO_GRACE_BYTES && produced / compressed.max(1) > limits.max_ratio {
            return Some(DecodeProblem::TooLarge {
                produced,
                limit: format!("--max-ratio {}", limits.max_ratio),
            });
        }
        None
    };
    let problem = loop {
        let rest = &raw[pos..];
        if rest.is_empty() {
            break None;
        }
        if !rest.starts_with(&GZIP_MAGIC) {
            if members > 0 && rest.iter().all(|&b| b == 0) {
                break None; // zero padding after the last member, as some tools write
            }
            break Some(DecodeProblem::TrailingGarbage {
                at: pos as u64,
                bytes: rest.len() as u64,
            });
        }
        // ISIZE is the member's size mod 2^32, and only trustworthy for the last member; it is
        // a hint for the first allocation, never a limit.
        let hint = if members == 0 && raw.len() >= 4 {
            let t = &raw[raw.len() - 4..];
            u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize
        } else {
            rest.len() * 8
        };
        let hint = (hint as u64).min(limits.max_bytes) as usize;
        out.reserve(hint.max(rest.len() * 2).max(4096) + 64);
        let mut inflater = Decompress::new_gzip(15);
        let result = loop {
            let before_in = inflater.total_in() as usize;
            let status =
                inflater.decompress_vec(&rest[before_in..], &mut out, FlushDecompress::Finish);
            match status {
                Ok(Status::StreamEnd) => break Ok(()),
                Ok(Status::Ok) | Ok(Status::BufError) => {
                    if let Some(p) = cap(out.len() as u64) {
                        break Err(p);
                    }
                    let consumed_all = inflater.total_in() as usize >= rest.len();
                    if out.len() < out.capacity() && consumed_all {
                        break Err(DecodeProblem::Truncated {
                            at: (pos + rest.len()) as u64,
                        });
                    }
                    if out.len() == out.capacity() {
                        out.reserve(out.capacity().max(1 << 16));
                    } else if inflater.total_in() as usize == before_in {
                        // No progress with room to spare and input left: the stream is stuck.
                        break Err(DecodeProblem::Truncated {
                            at: (pos + inflater.total_in() as usize) as u64,
                        });
                    }
                }
                Err(e) => {
                    break Err(DecodeProblem::Corrupt {
                        at: (pos + inflater.total_in() as usize) as u64,
                        message: e.to_string(),
                    })
                }
            }
        };
        if let Err(p) = result {
            break Some(p);
        }
        if let Some(p) = cap(out.len() as u64) {
            break Some(p);
        }
        members += 1;
        pos += inflater.total_in() as usize;
    };
    if let Some(DecodeProblem::TooLarge { .. }) = problem {
        // Nothing of a refused input is read: a partial bomb is still a bomb.
        out = Vec::new();
    }
    Decoded {
        text: out,
        gzip_members: members,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_text_passes_through() {
        let d = decode(b"{\"Records\":[]}".to_vec(), &Limits::default());
        assert_eq!(d.text, b"{\"Records\":[]}");
        assert_eq!(d.gzip_members, 0);
        assert!(d.problem.is_none());
    }

    #[test]
    fn several_gzip_members_are_concatenated() {
        let mut raw = gz(b"first ");
        raw.extend(gz(b"second"));
        let d = decode(raw, &Limits::default());
        assert_eq!(d.text, b"first second");
        assert_eq!(d.gzip_members, 2);
        assert!(d.problem.is_none());
    }

    #[test]
    fn a_truncated_member_keeps_what_came_before_and_says_where() {
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let raw = gz(&text);
        let cut = raw.len() / 2;
        let d = decode(raw[..cut].to_vec(), &Limits::default());
        assert!(
            matches!(d.problem, Some(DecodeProblem::Truncated { .. })),
            "{:?}",
            d.problem
        );
        assert!(!d.text.is_empty() && d.text.len() < text.len());
        assert_eq!(&text[..d.text.len()], &d.text[..]);
    }

    #[test]
    fn a_decompression_bomb_is_refused_on_decompressed_bytes() {
        let raw = gz(&vec![b' '; 64 << 20]);
        let d = decode(raw, &Limits::default());
        assert!(matches!(d.problem, Some(DecodeProblem::TooLarge { .. })));
        assert!(d.text.is_empty());
        let limits = Limits {
            max_bytes: 1 << 20,
            max_ratio: u64::MAX,
        };
        let d = decode(gz(&vec![b'a'; 2 << 20]), &limits);
        assert!(matches!(d.problem, Some(DecodeProblem::TooLarge { .. })));
    }

    #[test]
    fn garbage_after_the_last_member_is_reported() {
        let mut raw = gz(b"ok");
        raw.extend(b"junk");
        let d = decode(raw, &Limits::default());
        assert_eq!(d.text, b"ok");
        assert!(matches!(
            d.problem,
            Some(DecodeProblem::TrailingGarbage { bytes: 4, .. })
        ));
    }

    #[test]
    fn a_zip_archive_is_named_as_such() {
        let d = decode(b"PK\x03\x04rest".to_vec(), &Limits::default());
        assert_eq!(d.problem.unwrap().reason(), "unsupported_compression");
    }
}
