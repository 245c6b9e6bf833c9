//! Finding where a JSON value ends, at close to memory speed.
//!
//! Framing a delivered file means finding the boundaries of every record in a `Records` array that
//! can be hundreds of megabytes long, most of whose records are then thrown away unparsed. A
//! byte-at-a-time state machine runs at about 1 GB/s; this module instead classifies 64 bytes at a
//! time into bitmasks (quotes, backslashes, brackets), works out which bytes lie inside strings
//! with the carry-less prefix-XOR trick of simdjson's first stage, and only then walks the
//! brackets that are outside strings. Blocks whose brackets cannot bring the depth back to zero
//! are skipped with two popcounts.
//!
//! The classifying is [`super::classify`]'s, shared with the record index. [`find_value_end`]
//! is the entry point (AVX-512, AVX2 or SSE2 on x86_64, chosen at run time; the portable
//! classifier elsewhere); [`find_value_end_portable`] is what other targets run, and
//! [`find_value_end_scalar`] the obvious byte-at-a-time version, kept as the reference every
//! version ([`find_value_end_each`]) is tested against, here and in the `scan` fuzz target.

use super::classify;

const EVEN_BITS: u64 = 0x5555_5555_5555_5555;

/// The opening and closing bracket of the value being scanned: `{}` or `[]`.
type Pair = [u8; 2];

/// The bracket pair of a value that starts with `first`. Only that kind is counted: in valid
/// JSON each kind is balanced on its own.
fn pair_of(first: u8) -> Pair {
    if first == b'[' {
        *b"[]"
    } else {
        *b"{}"
    }
}

/// The four masks the scan reads of a block.
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

impl Masks {
    /// What to ask the classifier for, for a bracket pair.
    #[inline(always)]
    fn chars([open, close]: Pair) -> [u8; 4] {
        [b'"', b'\\', open, close]
    }

    #[inline(always)]
    fn of(m: classify::Masks<4>) -> Masks {
        let [quote, backslash, open, close] = m.eq;
        Masks {
            quote,
            backslash,
            open,
            close,
        }
    }
}

/// Carries between blocks.
#[derive(Default)]
struct Carry {
    /// The last byte of the previous block was an escaping backslash.
    escaped: bool,
    /// The previous block ended inside a string.
    in_string: bool,
}

/// Marks the characters escaped by a backslash (simdjson's `find_escaped`).
#[inline(always)]
fn escaped_chars(backslash: u64, carry: &mut Carry) -> u64 {
    let prev = carry.escaped as u64;
    let backslash = backslash & !prev;
    let follows_escape = (backslash << 1) | prev;
    let odd_starts = backslash & !EVEN_BITS & !follows_escape;
    let (sequences_on_even, overflow) = odd_starts.overflowing_add(backslash);
    carry.escaped = overflow;
    let invert = sequences_on_even << 1;
    (EVEN_BITS ^ invert) & follows_escape
}

/// Given `buf[start]` is the first byte of a JSON object or array (`{` or `[`), returns the index
/// one past its matching closing bracket, or `None` when the buffer ends first.
///
/// Only brackets of the kind the value starts with are counted (each kind is balanced on its own
/// in valid JSON), so `{[}` "matches"; the records found this way are parsed afterwards, which
/// rejects such input. Only framing relies on this function.
pub fn find_value_end(buf: &[u8], start: usize) -> Option<usize> {
    debug_assert!(matches!(buf.get(start), Some(b'{' | b'[')));
    #[cfg(target_arch = "x86_64")]
    {
        if classify::has_avx512() {
            // SAFETY: the CPU has AVX-512BW, PCLMULQDQ and POPCNT, checked just above.
            return unsafe { find_value_end_avx512(buf, start) };
        }
        if classify::has_simd() {
            // SAFETY: the CPU has AVX2, PCLMULQDQ and POPCNT, checked just above.
            return unsafe { find_value_end_avx2(buf, start) };
        }
        find_value_end_sse2(buf, start)
    }
    #[cfg(not(target_arch = "x86_64"))]
    find_value_end_portable(buf, start)
}

/// [`find_value_end`] by every version this CPU can run (portable, then SSE2, AVX2 and
/// AVX-512 where it has them), by name: what the tests and the `scan` fuzz target compare with
/// the reference, so a machine with AVX-512 still checks the AVX2 version it would not use.
pub fn find_value_end_each(buf: &[u8], start: usize) -> Vec<(&'static str, Option<usize>)> {
    #[allow(unused_mut)]
    let mut each = vec![("portable", find_value_end_portable(buf, start))];
    #[cfg(target_arch = "x86_64")]
    {
        each.push(("sse2", find_value_end_sse2(buf, start)));
        if classify::has_simd() {
            // SAFETY: checked just above.
            each.push(("avx2", unsafe { find_value_end_avx2(buf, start) }));
        }
        if classify::has_avx512() {
            // SAFETY: checked just above.
            each.push(("avx512", unsafe { find_value_end_avx512(buf, start) }));
        }
    }
    each
}

#[cfg(target_arch = "x86_64")]
fn find_value_end_sse2(buf: &[u8], start: usize) -> Option<usize> {
    let chars = Masks::chars(pair_of(buf[start]));
    find_end(
        buf,
        start,
        |b| Masks::of(classify::sse2(b, chars)),
        classify::prefix_xor,
    )
}

/// [`find_value_end`] with the portable classifier: what targets without a SIMD version run,
/// compiled and tested on every target.
pub fn find_value_end_portable(buf: &[u8], start: usize) -> Option<usize> {
    let chars = Masks::chars(pair_of(buf[start]));
    find_end(
        buf,
        start,
        |b| Masks::of(classify::portable(b, chars)),
        classify::prefix_xor,
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt")]
unsafe fn find_value_end_avx2(buf: &[u8], start: usize) -> Option<usize> {
    let chars = Masks::chars(pair_of(buf[start]));
    // SAFETY: only called where the CPU has these features.
    find_end(
        buf,
        start,
        |b| Masks::of(unsafe { classify::avx2(b, chars) }),
        |x| unsafe { classify::prefix_xor_clmul(x) },
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,pclmulqdq,popcnt")]
unsafe fn find_value_end_avx512(buf: &[u8], start: usize) -> Option<usize> {
    let chars = Masks::chars(pair_of(buf[start]));
    // SAFETY: only called where the CPU has these features.
    find_end(
        buf,
        start,
        |b| Masks::of(unsafe { classify::avx512(b, chars) }),
        |x| unsafe { classify::prefix_xor_clmul(x) },
    )
}

/// The scan, for a given way of classifying a block (inlined into each caller, so the AVX2 and
/// AVX-512 versions are compiled with those instructions throughout).
#[inline(always)]
fn find_end(
    buf: &[u8],
    start: usize,
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> Option<usize> {
    let mut depth: u64 = 0;
    let mut carry = Carry::default();
    let mut pos = start;
    while pos + 64 <= buf.len() {
        let block: &[u8; 64] = buf[pos..pos + 64].try_into().expect("64 bytes");
        if let Some(end) = step(classify(block), pos, &mut depth, &mut carry, &prefix_xor) {
            return Some(end);
        }
        pos += 64;
    }
    if pos < buf.len() {
        // The tail is padded with spaces, which are neither structural nor string delimiters.
        let mut block = [b' '; 64];
        block[..buf.len() - pos].copy_from_slice(&buf[pos..]);
        if let Some(end) = step(classify(&block), pos, &mut depth, &mut carry, &prefix_xor) {
            return (end <= buf.len()).then_some(end);
        }
    }
    None
}

#[inline(always)]
fn step(
    m: Masks,
    base: usize,
    depth: &mut u64,
    carry: &mut Carry,
    prefix_xor: impl Fn(u64) -> u64,
) -> Option<usize> {
    // Most blocks hold no backslash: then nothing is escaped, and nothing carries over.
    let quote = if m.backslash == 0 && !carry.escaped {
        m.quote
    } else {
        m.quote & !escaped_chars(m.backslash, carry)
    };
    let in_string = prefix_xor(quote) ^ if carry.in_string { u64::MAX } else { 0 };
    carry.in_string = in_string >> 63 == 1;
    let open = m.open & !in_string;
    let close = m.close & !in_string;
    let closes = close.count_ones() as u64;
    if *depth > closes {
        // The depth cannot reach zero inside this block.
        *depth = *depth + open.count_ones() as u64 - closes;
        return None;
    }
    let mut brackets = open | close;
    while brackets != 0 {
        let i = brackets.trailing_zeros();
        let bit = 1u64 << i;
        if open & bit != 0 {
            *depth += 1;
        } else {
            *depth = depth.saturating_sub(1);
            if *depth == 0 {
                return Some(base + i as usize + 1);
            }
        }
        brackets &= brackets - 1;
    }
    None
}

/// The byte-at-a-time reference for [`find_value_end`].
pub fn find_value_end_scalar(buf: &[u8], start: usize) -> Option<usize> {
    let [open, close] = pair_of(buf[start]);
    let mut depth = 0u64;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in buf.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
        } else if b == open {
            depth += 1;
        } else if b == close {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i + 1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so the comparison covers many shapes without a
    /// dependency.
    struct SplitMix(u64);
    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn finds_the_end_of_a_simple_record() {
        let s = br#"{"a":"}{\"","b":[1,{"c":"\\"}]} trailing"#;
        assert_eq!(find_value_end(s, 0), Some(31));
        assert_eq!(find_value_end_scalar(s, 0), Some(31));
    }

    #[test]
    fn an_unterminated_value_has_no_end() {
        let s = br#"{"a":"}}}}"#;
        assert_eq!(find_value_end(s, 0), None);
    }

    /// Random JSON-shaped text: brackets and separators outside strings, and strings full of
    /// brackets, escaped quotes and runs of escaped backslashes, which is what the carry logic
    /// can get wrong.
    fn random_json(rng: &mut SplitMix) -> Vec<u8> {
        let mut buf = vec![b'{'];
        let len = (rng.next() % 60) as usize + 1;
        for _ in 0..len {
            match rng.next() % 4 {
                0 => buf.push(b"{}[],: "[(rng.next() % 7) as usize]),
                _ => {
                    buf.push(b'"');
                    for _ in 0..rng.next() % 12 {
                        match rng.next() % 6 {
                            0 => buf.extend_from_slice(b"\\\""),
                            1 => {
                                for _ in 0..rng.next() % 4 + 1 {
                                    buf.extend_from_slice(b"\\\\");
                                }
                            }
                            2 => buf.extend_from_slice(b"\\u00e9"),
                            _ => buf.push(b"{}[]a:,"[(rng.next() % 7) as usize]),
                        }
                    }
                    buf.push(b'"');
                }
            }
        }
        buf
    }

    #[test]
    fn strings_that_span_block_boundaries_and_long_backslash_runs_agree_with_the_reference() {
        let mut rng = SplitMix(7);
        for case in 0..20_000 {
            let buf = random_json(&mut rng);
            let expected = find_value_end_scalar(&buf, 0);
            assert_eq!(
                find_value_end(&buf, 0),
                expected,
                "case {case}: {}",
                String::from_utf8_lossy(&buf)
            );
            for (version, end) in find_value_end_each(&buf, 0) {
                assert_eq!(end, expected, "{version}, case {case}");
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_in_bounds() {
        let mut rng = SplitMix(11);
        for _ in 0..20_000 {
            let len = (rng.next() % 300) as usize + 1;
            let mut buf: Vec<u8> = (0..len)
                .map(|_| b"{}[]\\\"a\n\xff"[(rng.next() % 9) as usize])
                .collect();
            buf[0] = b'[';
            let each = find_value_end_each(&buf, 0);
            for (version, end) in &each {
                // Every version finds the same end, even of what is not JSON.
                assert_eq!(*end, each[0].1, "{version}");
                if let Some(end) = *end {
                    assert!(end <= buf.len());
                    assert!(matches!(buf[end - 1], b'}' | b']'));
                }
            }
        }
    }

    #[test]
    fn start_offsets_inside_a_buffer_are_honoured() {
        let s = br#"xx[{"k":"v"},{"k":"]"}]yy"#;
        assert_eq!(find_value_end(s, 2), Some(23));
        assert_eq!(find_value_end(s, 3), Some(12));
    }
}
