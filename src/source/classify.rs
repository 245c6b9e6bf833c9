//! The one byte classifier behind both SIMD passes (framing in [`super::scan`], the record
//! index in `event::fast`): which bytes of a 64-byte block are each of a few given characters,
//! which are control bytes (below 0x20) and which are not ASCII, as bitmasks (bit `i` for byte
//! `i`), plus the prefix XOR that turns quote bits into "inside a string" bits.
//!
//! The same function exists four times: [`portable`], compiled on every target and used where
//! no SIMD version exists (ARM today); [`sse2`], the x86_64 baseline; [`avx2`] and [`avx512`]
//! (AVX-512BW: one comparison into a mask register per character and block), chosen at run
//! time where the CPU has them ([`has_simd`], [`has_avx512`]). Tests and the fuzz targets check
//! that every version the CPU runs agrees on the same bytes. Each is `#[inline(always)]`, so a
//! caller compiled for AVX2 or AVX-512 gets those instructions throughout, and masks a caller
//! does not read are never computed.

/// The classes of one 64-byte block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks<const N: usize> {
    /// For each character asked for, the bytes equal to it.
    pub eq: [u64; N],
    /// Bytes below 0x20.
    pub control: u64,
    /// Bytes of 0x80 and above.
    pub high: u64,
}

/// Byte by byte, on any target.
#[inline(always)]
pub fn portable<const N: usize>(block: &[u8; 64], chars: [u8; N]) -> Masks<N> {
    let mut m = Masks {
        eq: [0; N],
        control: 0,
        high: 0,
    };
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        for (mask, &c) in m.eq.iter_mut().zip(&chars) {
            if b == c {
                *mask |= bit;
            }
        }
        if b < 0x20 {
            m.control |= bit;
        }
        if b >= 0x80 {
            m.high |= bit;
        }
    }
    m
}

/// 16 bytes at a time, with SSE2 (part of every x86_64 CPU).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn sse2<const N: usize>(block: &[u8; 64], chars: [u8; N]) -> Masks<N> {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline, and the loads are unaligned loads of 16 bytes
    // each from a 64-byte array.
    unsafe {
        let below = _mm_set1_epi8(0x1f);
        let mut m = Masks {
            eq: [0; N],
            control: 0,
            high: 0,
        };
        for i in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * i) as *const __m128i);
            let shift = 16 * i;
            let bits = |x: __m128i| (_mm_movemask_epi8(x) as u32 as u64) << shift;
            for (mask, &c) in m.eq.iter_mut().zip(&chars) {
                *mask |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8)));
            }
            // v <= 0x1f, unsigned.
            m.control |= bits(_mm_cmpeq_epi8(_mm_max_epu8(v, below), below));
            m.high |= bits(v);
        }
        m
    }
}

/// 32 bytes at a time, with AVX2.
///
/// # Safety
///
/// The CPU must have AVX2 (see [`has_simd`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn avx2<const N: usize>(block: &[u8; 64], chars: [u8; N]) -> Masks<N> {
    use std::arch::x86_64::*;
    let lo = _mm256_loadu_si256(block.as_ptr() as *const __m256i);
    let hi = _mm256_loadu_si256(block.as_ptr().add(32) as *const __m256i);
    let mask = |lo: __m256i, hi: __m256i| {
        (_mm256_movemask_epi8(lo) as u32 as u64) | ((_mm256_movemask_epi8(hi) as u32 as u64) << 32)
    };
    let mut eq = [0; N];
    for (mask_of, &c) in eq.iter_mut().zip(&chars) {
        let c = _mm256_set1_epi8(c as i8);
        *mask_of = mask(_mm256_cmpeq_epi8(lo, c), _mm256_cmpeq_epi8(hi, c));
    }
    // v <= 0x1f, unsigned.
    let below = |v: __m256i| {
        let b = _mm256_set1_epi8(0x1f);
        _mm256_cmpeq_epi8(_mm256_max_epu8(v, b), b)
    };
    Masks {
        eq,
        control: mask(below(lo), below(hi)),
        high: mask(lo, hi),
    }
}

/// 64 bytes at a time, with AVX-512BW: one comparison into a mask register per character.
///
/// # Safety
///
/// The CPU must have AVX-512F and AVX-512BW (see [`has_avx512`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn avx512<const N: usize>(block: &[u8; 64], chars: [u8; N]) -> Masks<N> {
    use std::arch::x86_64::*;
    let v = _mm512_loadu_si512(block.as_ptr().cast());
    let mut eq = [0; N];
    for (mask_of, &c) in eq.iter_mut().zip(&chars) {
        *mask_of = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8));
    }
    Masks {
        eq,
        control: _mm512_cmplt_epu8_mask(v, _mm512_set1_epi8(0x20)),
        high: _mm512_movepi8_mask(v),
    }
}

/// Whether the CPU has what the AVX-512 passes are compiled for: [`has_simd`]'s features, and
/// AVX-512F and AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx512() -> bool {
    has_simd()
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

/// Whether the CPU has what the AVX2 passes are compiled for: AVX2, carry-less multiplication
/// (the prefix XOR in one instruction) and POPCNT (otherwise `count_ones` is a dozen).
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_simd() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
        && std::arch::is_x86_feature_detected!("popcnt")
}

/// Bit `i` set when an odd number of bits are set at or below `i`: applied to quote bits, the
/// "inside a string" mask.
#[inline(always)]
pub fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// [`prefix_xor`] as one carry-less multiplication by all ones.
///
/// # Safety
///
/// The CPU must have PCLMULQDQ (see [`has_simd`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::*;
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every byte value, in runs and scattered.
    fn blocks() -> Vec<[u8; 64]> {
        let mut out = Vec::new();
        for start in (0..=255u16).step_by(64) {
            out.push(std::array::from_fn(|i| (start as usize + i) as u8));
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            out.push(std::array::from_fn(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly JSON punctuation and text, now and then anything.
                const JSON: &[u8] = b"{}[]:,\"\\ ae0\n\t\x1f\x7f\x80\xc3\xa9";
                if x.is_multiple_of(4) {
                    (x >> 8) as u8
                } else {
                    JSON[(x >> 8) as usize % JSON.len()]
                }
            }));
        }
        out
    }

    const CHARS: [u8; 8] = *b"\"\\{}[]:,";

    #[test]
    fn the_portable_classifier_is_right_byte_by_byte() {
        for block in blocks() {
            let m = portable(&block, CHARS);
            for (i, &b) in block.iter().enumerate() {
                for (k, &c) in CHARS.iter().enumerate() {
                    assert_eq!(m.eq[k] >> i & 1 == 1, b == c);
                }
                assert_eq!(m.control >> i & 1 == 1, b < 0x20);
                assert_eq!(m.high >> i & 1 == 1, b >= 0x80);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_simd_classifiers_agree_with_the_portable_one() {
        for block in blocks() {
            let want = portable(&block, CHARS);
            assert_eq!(sse2(&block, CHARS), want);
            if has_simd() {
                // SAFETY: checked just above.
                assert_eq!(unsafe { avx2(&block, CHARS) }, want);
            }
            if has_avx512() {
                // SAFETY: checked just above.
                assert_eq!(unsafe { avx512(&block, CHARS) }, want);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_carry_less_prefix_xor_is_the_prefix_xor() {
        if !has_simd() {
            return;
        }
        let mut x: u64 = 1;
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // SAFETY: checked just above.
            assert_eq!(unsafe { prefix_xor_clmul(x) }, prefix_xor(x));
        }
    }
}
