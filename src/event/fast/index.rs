//! Stage 1: the structural index. One pass over the record classifies 64 bytes at a time
//! ([`crate::source::classify`]), works out which bytes lie inside strings, and writes the
//! positions of the structural characters outside strings and of every quote: a bit at a time
//! ([`write_bits`]), or with AVX-512 sixteen at a time (`write_compressed`), each quarter of a
//! block's bits compressing a vector of places.

use crate::source::classify;

/// Larger records go to serde, so the index (four bytes per byte of record, kept per thread)
/// stays small. CloudTrail records are a few KB.
pub(super) const MAX_BYTES: usize = 1 << 20;

/// The masks the index reads of a block.
pub(super) struct Masks {
    quote: u64,
    backslash: u64,
    /// `{ } [ ] : ,`
    structural: u64,
    /// Bytes below 0x20.
    control: u64,
    /// Bytes of 0x80 and above (not ASCII).
    high: u64,
}

/// What the index asks the classifier for.
pub(super) const CHARS: [u8; 8] = *b"\"\\{}[]:,";

impl Masks {
    #[inline(always)]
    pub(super) fn of(m: classify::Masks<8>) -> Masks {
        let [quote, backslash, a, b, c, d, e, f] = m.eq;
        Masks {
            quote,
            backslash,
            structural: a | b | c | d | e | f,
            control: m.control,
            high: m.high,
        }
    }
}

/// Writes to the start of `tape` the positions of the structural characters outside strings and
/// of every quote, in order, and returns how many, and whether every byte is ASCII. `None` when
/// the record has a backslash, a control character inside a string or an unterminated string,
/// or is larger than [`MAX_BYTES`].
pub(super) fn index(text: &[u8], tape: &mut Vec<u32>) -> Option<(usize, bool)> {
    if text.len() > MAX_BYTES {
        return None;
    }
    // At most one position per byte: grown, never shrunk, so the loop writes without growing it
    // and nothing is cleared from record to record.
    if tape.len() < text.len() + 64 {
        tape.resize(text.len() + 64, 0);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if classify::has_avx512() {
            // SAFETY: the CPU has what `index_avx512` is compiled for, checked just above.
            return unsafe { index_avx512(text, tape) };
        }
        if classify::has_simd() {
            // SAFETY: the CPU has what `index_avx2` is compiled for, checked just above.
            return unsafe { index_avx2(text, tape) };
        }
        index_sse2(text, tape)
    }
    #[cfg(not(target_arch = "x86_64"))]
    index_portable(text, tape)
}

/// The positions a version of the index wrote and whether every byte is ASCII, or `None`.
#[cfg(test)]
pub(super) type Indexed = Option<(Vec<u32>, bool)>;

/// The index of `text` by every version this CPU can run (portable, then SSE2, AVX2 and
/// AVX-512 where it has them), by name: the positions and whether every byte is ASCII, or
/// `None`. What the tests compare, so a machine with AVX-512 still checks the AVX2 version.
#[cfg(test)]
pub(super) fn index_each(text: &[u8]) -> Vec<(&'static str, Indexed)> {
    type Version = fn(&[u8], &mut [u32]) -> Option<(usize, bool)>;
    #[allow(unused_mut)]
    let mut versions: Vec<(&'static str, Version)> = vec![("portable", index_portable)];
    #[cfg(target_arch = "x86_64")]
    {
        versions.push(("sse2", index_sse2));
        if classify::has_simd() {
            // SAFETY: checked just above.
            versions.push(("avx2", |t, tape| unsafe { index_avx2(t, tape) }));
        }
        if classify::has_avx512() {
            // SAFETY: checked just above.
            versions.push(("avx512", |t, tape| unsafe { index_avx512(t, tape) }));
        }
    }
    versions
        .into_iter()
        .map(|(name, version)| {
            let mut tape = vec![0; text.len() + 64];
            let found = (text.len() <= MAX_BYTES)
                .then(|| version(text, &mut tape))
                .flatten()
                .map(|(n, ascii)| (tape[..n].to_vec(), ascii));
            (name, found)
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
fn index_sse2(text: &[u8], tape: &mut [u32]) -> Option<(usize, bool)> {
    index_with(
        text,
        tape,
        |b| Masks::of(classify::sse2(b, CHARS)),
        classify::prefix_xor,
        write_bits,
    )
}

/// [`index`] with the portable classifier: what targets without a SIMD version run, compiled
/// and tested on every target (on x86_64 only the tests call it).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(super) fn index_portable(text: &[u8], tape: &mut [u32]) -> Option<(usize, bool)> {
    index_with(
        text,
        tape,
        |b| Masks::of(classify::portable(b, CHARS)),
        classify::prefix_xor,
        write_bits,
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt")]
unsafe fn index_avx2(text: &[u8], tape: &mut [u32]) -> Option<(usize, bool)> {
    // SAFETY: only called where the CPU has these features.
    index_with(
        text,
        tape,
        |b| Masks::of(unsafe { classify::avx2(b, CHARS) }),
        |x| unsafe { classify::prefix_xor_clmul(x) },
        write_bits,
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,pclmulqdq,popcnt")]
unsafe fn index_avx512(text: &[u8], tape: &mut [u32]) -> Option<(usize, bool)> {
    // SAFETY: only called where the CPU has these features.
    index_with(
        text,
        tape,
        |b| Masks::of(unsafe { classify::avx512(b, CHARS) }),
        |x| unsafe { classify::prefix_xor_clmul(x) },
        |tape, len, bits, base| unsafe { write_compressed(tape, len, bits, base) },
    )
}

/// Writes at `tape[len..]` `base` plus the place of each set bit of `bits`, lowest first, and
/// returns the new length: a bit at a time.
#[inline(always)]
fn write_bits(tape: &mut [u32], mut len: usize, mut bits: u64, base: u32) -> usize {
    while bits != 0 {
        tape[len] = base + bits.trailing_zeros();
        len += 1;
        bits &= bits - 1;
    }
    len
}

/// [`write_bits`] sixteen places at a time: the block's positions compressed into a vector by
/// each quarter of `bits` and stored whole (at most 16 past `len`, which the tape's 64 spare
/// entries hold: at most one position per byte was written before).
///
/// # Safety
///
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn write_compressed(tape: &mut [u32], mut len: usize, bits: u64, base: u32) -> usize {
    use std::arch::x86_64::*;
    let mut places = _mm512_add_epi32(
        _mm512_set1_epi32(base as i32),
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    );
    for quarter in 0..4 {
        let set = (bits >> (16 * quarter)) as u16;
        let out = &mut tape[len..len + 16];
        _mm512_storeu_si512(
            out.as_mut_ptr().cast(),
            _mm512_maskz_compress_epi32(set, places),
        );
        len += set.count_ones() as usize;
        places = _mm512_add_epi32(places, _mm512_set1_epi32(16));
    }
    len
}

/// The index, for a given way of classifying a block and writing positions (inlined into each
/// caller, so the AVX2 and AVX-512 versions are compiled with those instructions throughout). Returns how many positions it wrote, and whether
/// every byte is ASCII.
#[inline(always)]
pub(super) fn index_with(
    text: &[u8],
    tape: &mut [u32],
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
    write: impl Fn(&mut [u32], usize, u64, u32) -> usize,
) -> Option<(usize, bool)> {
    let mut len = 0;
    let mut high = 0u64;
    // All ones when the previous block ended inside a string.
    let mut inside_before = 0u64;
    let mut block_at = |block: &[u8; 64], base: u32| -> Option<()> {
        let m = classify(block);
        if m.backslash != 0 {
            return None;
        }
        high |= m.high;
        // Set from an opening quote up to, not including, its closing quote.
        let inside = prefix_xor(m.quote) ^ inside_before;
        inside_before = ((inside as i64) >> 63) as u64;
        if m.control & inside != 0 {
            return None;
        }
        len = write(tape, len, (m.structural & !inside) | m.quote, base);
        Some(())
    };
    let mut blocks = text.chunks_exact(64);
    let mut base = 0u32;
    for block in blocks.by_ref() {
        block_at(block.try_into().expect("64 bytes"), base)?;
        base += 64;
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padded with spaces: whitespace, neither structural nor control.
        let mut last = [b' '; 64];
        last[..rest.len()].copy_from_slice(rest);
        block_at(&last, base)?;
    }
    (inside_before == 0).then_some((len, high == 0))
}
