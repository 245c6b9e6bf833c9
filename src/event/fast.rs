//! The fast path of record parsing: a structural index of the record, then a walk over it.
//!
//! serde_json validates a record byte by byte, strings included, at about 1 GB/s, and a KMS or S3
//! record is mostly strings keytrail never reads (identities, user agents, TLS details). This
//! reads it the way simdjson does: one pass classifies 64 bytes at a time into bitmasks (quotes,
//! brackets, colons and commas, control characters, bytes that are not ASCII), works out which
//! bytes lie inside strings, and keeps the positions of the structural characters outside strings
//! and of every quote; a record that is all ASCII needs no UTF-8 check. A second pass walks those
//! positions only. A string's bytes are not looked at again, and skipping
//! a value costs one step per token.
//!
//! It reads the common case only, and says so by returning `None`: a backslash anywhere (so every
//! string can be borrowed as it stands), a control character in a string, a field keytrail reads
//! holding an unexpected type, a field it reads given twice, deep nesting, a record over 1 MiB, or
//! anything that is not JSON. The caller then parses with serde, which gives the same record or
//! the error to report. Whenever this returns a record, serde returns the same one: the tests
//! check that on every fixture and on thousands of mutated records, and the `record` fuzz target
//! on any input.

use super::{Additional, Context, Identity, Pairs, Params, RawRecord, Resources};
use crate::source::classify;
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::cell::RefCell;

/// Parses a record without serde, or returns `None` for serde to do it (see the module doc).
///
/// The index looks at every byte, so it also tells whether the record is all ASCII, and only a
/// record that is not gets a separate UTF-8 check.
pub fn parse(bytes: &[u8]) -> Option<RawRecord<'_>> {
    thread_local! {
        static TAPE: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    }
    TAPE.with(|tape| {
        let tape = &mut *tape.try_borrow_mut().ok()?;
        let (len, ascii) = index(bytes, tape)?;
        let text = if ascii {
            // SAFETY: the index saw every byte below 0x80, and ASCII is UTF-8.
            unsafe { std::str::from_utf8_unchecked(bytes) }
        } else {
            std::str::from_utf8(bytes).ok()?
        };
        let tape = &tape[..len];
        let mut w = Walker {
            text,
            tape,
            next: 0,
            pos: 0,
            depth: 0,
        };
        // A record is an object; `value` enters it (the walk leaves every container it enters).
        let Value::Object = w.value()? else {
            return None;
        };
        let record = record(&mut w)?;
        // Nothing but whitespace may follow.
        (w.next == tape.len() && is_whitespace(&text.as_bytes()[w.pos..])).then_some(record)
    })
}

/// Larger records go to serde, so the index (four bytes per byte of record, kept per thread)
/// stays small. CloudTrail records are a few KB.
const MAX_BYTES: usize = 1 << 20;

/// Deeper nesting goes to serde (whose own limit is 128), so both agree on what is too deep.
const MAX_DEPTH: u32 = 64;

// ---- Stage 1: the structural index ------------------------------------------------------------

/// The masks the index reads of a block.
struct Masks {
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
const CHARS: [u8; 8] = *b"\"\\{}[]:,";

impl Masks {
    #[inline(always)]
    fn of(m: classify::Masks<8>) -> Masks {
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
fn index(text: &[u8], tape: &mut Vec<u32>) -> Option<(usize, bool)> {
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
        if classify::has_simd() {
            // SAFETY: the CPU has what `index_avx2` is compiled for, checked just above.
            return unsafe { index_avx2(text, tape) };
        }
        index_with(
            text,
            tape,
            |b| Masks::of(classify::sse2(b, CHARS)),
            classify::prefix_xor,
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    index_portable(text, tape)
}

/// [`index`] with the portable classifier: what targets without a SIMD version run, compiled
/// and tested on every target (on x86_64 only the tests call it).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn index_portable(text: &[u8], tape: &mut [u32]) -> Option<(usize, bool)> {
    index_with(
        text,
        tape,
        |b| Masks::of(classify::portable(b, CHARS)),
        classify::prefix_xor,
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
    )
}

/// The index, for a given way of classifying a block (inlined into each caller so the AVX2
/// version is compiled with AVX2 throughout). Returns how many positions it wrote, and whether
/// every byte is ASCII.
#[inline(always)]
fn index_with(
    text: &[u8],
    tape: &mut [u32],
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
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
        let mut bits = (m.structural & !inside) | m.quote;
        while bits != 0 {
            tape[len] = base + bits.trailing_zeros();
            len += 1;
            bits &= bits - 1;
        }
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

// ---- Stage 2: the walk ------------------------------------------------------------------------

/// A value, as far as its first token tells.
#[derive(Clone, Copy)]
enum Value<'a> {
    Str(&'a str),
    Null,
    Bool(bool),
    Number,
    /// Its `{` is consumed; the reader must walk it to its `}`.
    Object,
    /// Its `[` is consumed; the reader must walk it to its `]`.
    Array,
}

struct Walker<'a, 't> {
    text: &'a str,
    tape: &'t [u32],
    /// The next position in `tape`.
    next: usize,
    /// The first byte of `text` not consumed.
    pos: usize,
    depth: u32,
}

impl<'a> Walker<'a, '_> {
    /// The next structural character or quote, when only whitespace comes before it.
    #[inline]
    fn token(&mut self) -> Option<u8> {
        let at = *self.tape.get(self.next)? as usize;
        let bytes = self.text.as_bytes();
        if !is_whitespace(&bytes[self.pos..at]) {
            return None;
        }
        self.next += 1;
        self.pos = at + 1;
        Some(bytes[at])
    }

    /// After an opening quote: the string up to its closing quote, which is the next position on
    /// the tape (positions inside strings are not on it).
    #[inline]
    fn string_rest(&mut self) -> Option<&'a str> {
        let close = *self.tape.get(self.next)? as usize;
        if self.text.as_bytes()[close] != b'"' {
            return None;
        }
        debug_assert!(self.pos <= close && self.text.is_char_boundary(self.pos));
        // SAFETY: `pos` follows the opening quote and `close` is the closing one: both are
        // char boundaries of the (valid UTF-8) text, and tape positions only increase.
        let s = unsafe { self.text.get_unchecked(self.pos..close) };
        self.next += 1;
        self.pos = close + 1;
        Some(s)
    }

    /// Reads the start of a value: scalars and strings whole, the bracket of a container.
    #[inline]
    fn value(&mut self) -> Option<Value<'a>> {
        let at = *self.tape.get(self.next)? as usize;
        let bytes = self.text.as_bytes();
        if self.pos < at {
            // Something before the next token: whitespace, then a string or a container, or
            // a scalar.
            return self.spaced_value(at);
        }
        self.next += 1;
        self.pos = at + 1;
        match bytes[at] {
            b'"' => Some(Value::Str(self.string_rest()?)),
            b'{' => self.enter(Value::Object),
            b'[' => self.enter(Value::Array),
            _ => None,
        }
    }

    /// [`Walker::value`] when bytes come before the next token (`at`).
    #[inline(never)]
    fn spaced_value(&mut self, at: usize) -> Option<Value<'a>> {
        let gap = &self.text.as_bytes()[self.pos..at];
        match gap.iter().position(|b| !is_whitespace_byte(*b)) {
            Some(start) => {
                // A scalar runs up to the separator at `at`, which stays for the caller.
                let end = gap.iter().rposition(|b| !is_whitespace_byte(*b))? + 1;
                self.pos = at;
                match &gap[start..end] {
                    b"null" => Some(Value::Null),
                    b"true" => Some(Value::Bool(true)),
                    b"false" => Some(Value::Bool(false)),
                    n if is_number(n) => Some(Value::Number),
                    _ => None,
                }
            }
            None => {
                // Only whitespace: skip it and read the token.
                self.pos = at;
                self.value()
            }
        }
    }

    fn enter(&mut self, v: Value<'a>) -> Option<Value<'a>> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(v)
    }

    /// Walks the members of an object whose `{` is consumed, handing each key and value to `f`,
    /// which must consume the value.
    fn members(
        &mut self,
        mut f: impl FnMut(&mut Self, &'a str, Value<'a>) -> Option<()>,
    ) -> Option<()> {
        let mut t = self.token()?;
        if t != b'}' {
            loop {
                if t != b'"' {
                    return None;
                }
                let key = self.string_rest()?;
                if self.token()? != b':' {
                    return None;
                }
                let v = self.value()?;
                f(self, key, v)?;
                match self.token()? {
                    b',' => t = self.token()?,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Walks the elements of an array whose `[` is consumed, handing each to `f`, which must
    /// consume it.
    fn elements(&mut self, mut f: impl FnMut(&mut Self, Value<'a>) -> Option<()>) -> Option<()> {
        // An empty array: `]` with only whitespace before it.
        let at = *self.tape.get(self.next)? as usize;
        let bytes = self.text.as_bytes();
        if bytes[at] == b']' && is_whitespace(&bytes[self.pos..at]) {
            self.next += 1;
            self.pos = at + 1;
        } else {
            loop {
                let v = self.value()?;
                f(self, v)?;
                match self.token()? {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Consumes a value keytrail does not read.
    fn skip(&mut self, v: Value<'a>) -> Option<()> {
        match v {
            Value::Object => self.members(|w, _, v| w.skip(v)),
            Value::Array => self.elements(|w, v| w.skip(v)),
            _ => Some(()),
        }
    }
}

#[inline(always)]
fn is_whitespace_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[inline(always)]
fn is_whitespace(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| is_whitespace_byte(b))
}

/// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_number(n: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = usize::from(n.first() == Some(&b'-'));
    match n.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(&n[i..]),
        _ => return false,
    }
    if n.get(i) == Some(&b'.') {
        let d = digits(&n[i + 1..]);
        if d == 0 {
            return false;
        }
        i += 1 + d;
    }
    if matches!(n.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(n.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let d = digits(&n[i..]);
        if d == 0 {
            return false;
        }
        i += d;
    }
    i == n.len()
}

// ---- The fields keytrail reads ----------------------------------------------------------------

/// Marks field `bit` as seen; `None` (serde reports a duplicate field) when it already was.
#[inline]
fn first(seen: &mut u32, bit: u32) -> Option<()> {
    let was = *seen & (1 << bit) != 0;
    *seen |= 1 << bit;
    (!was).then_some(())
}

/// A string field, or null.
fn opt_str(v: Value<'_>) -> Option<Option<Cow<'_, str>>> {
    match v {
        Value::Str(s) => Some(Some(Cow::Borrowed(s))),
        Value::Null => Some(None),
        _ => None,
    }
}

/// A nested object, or null; anything else is serde's to report.
fn opt_object<'a, T>(
    w: &mut Walker<'a, '_>,
    v: Value<'a>,
    read: impl FnOnce(&mut Walker<'a, '_>) -> Option<T>,
) -> Option<Option<T>> {
    match v {
        Value::Object => read(w).map(Some),
        Value::Null => Some(None),
        _ => None,
    }
}

fn record<'a>(w: &mut Walker<'a, '_>) -> Option<RawRecord<'a>> {
    let mut r = RawRecord::default();
    let mut seen = 0;
    w.members(|w, key, v| {
        match key {
            "eventTime" => {
                first(&mut seen, 0)?;
                r.event_time = opt_str(v)?;
            }
            "@timestamp" => {
                first(&mut seen, 1)?;
                r.logstash_time = opt_str(v)?;
            }
            "eventSource" => {
                first(&mut seen, 2)?;
                r.event_source = opt_str(v)?;
            }
            "eventName" => {
                first(&mut seen, 3)?;
                r.event_name = opt_str(v)?;
            }
            "awsRegion" => {
                first(&mut seen, 4)?;
                r.region = opt_str(v)?;
            }
            "eventID" => {
                first(&mut seen, 5)?;
                r.event_id = opt_str(v)?;
            }
            "errorCode" => {
                first(&mut seen, 6)?;
                r.error_code = opt_str(v)?;
            }
            "sharedEventID" => {
                first(&mut seen, 7)?;
                r.shared_event_id = opt_str(v)?;
            }
            "recipientAccountId" => {
                first(&mut seen, 8)?;
                r.recipient_account = opt_str(v)?;
            }
            "eventCategory" => {
                first(&mut seen, 9)?;
                r.category = opt_str(v)?;
            }
            "userIdentity" => {
                first(&mut seen, 10)?;
                r.identity = opt_object(w, v, identity)?;
            }
            "requestParameters" => {
                first(&mut seen, 11)?;
                r.request = opt_object(w, v, params)?;
            }
            "responseElements" => {
                first(&mut seen, 12)?;
                r.response = opt_object(w, v, params)?;
            }
            "additionalEventData" => {
                first(&mut seen, 13)?;
                r.additional = opt_object(w, v, additional)?;
            }
            "resources" => {
                first(&mut seen, 14)?;
                r.resources = match v {
                    Value::Array => Some(resources(w)?),
                    Value::Null => None,
                    _ => return None,
                };
            }
            "insightDetails" => {
                first(&mut seen, 15)?;
                r.insight_details = match v {
                    Value::Null => None,
                    v => {
                        w.skip(v)?;
                        Some(IgnoredAny)
                    }
                };
            }
            _ => w.skip(v)?,
        }
        Some(())
    })?;
    Some(r)
}

fn identity<'a>(w: &mut Walker<'a, '_>) -> Option<Identity<'a>> {
    let mut id = Identity::default();
    let mut seen = 0;
    w.members(|w, key, v| {
        match key {
            "arn" => {
                first(&mut seen, 0)?;
                id.arn = opt_str(v)?;
            }
            "accountId" => {
                first(&mut seen, 1)?;
                id.account_id = opt_str(v)?;
            }
            "principalId" => {
                first(&mut seen, 2)?;
                id.principal_id = opt_str(v)?;
            }
            "invokedBy" => {
                first(&mut seen, 3)?;
                id.invoked_by = opt_str(v)?;
            }
            "type" => {
                first(&mut seen, 4)?;
                id.kind = opt_str(v)?;
            }
            _ => w.skip(v)?,
        }
        Some(())
    })?;
    Some(id)
}

fn params<'a>(w: &mut Walker<'a, '_>) -> Option<Params<'a>> {
    let mut p = Params::default();
    let mut seen = 0;
    w.members(|w, key, v| {
        match key {
            "encryptionContext" => {
                first(&mut seen, 0)?;
                p.encryption_context = opt_object(w, v, context)?;
            }
            "keyId" => {
                first(&mut seen, 1)?;
                p.key_id = opt_str(v)?;
            }
            "bucketName" => {
                first(&mut seen, 2)?;
                p.bucket_name = opt_str(v)?;
            }
            "key" => {
                first(&mut seen, 3)?;
                p.key = opt_str(v)?;
            }
            "x-amz-server-side-encryption" => {
                first(&mut seen, 4)?;
                p.sse = opt_str(v)?;
            }
            "x-amz-server-side-encryption-aws-kms-key-id" => {
                first(&mut seen, 5)?;
                p.sse_kms_key = opt_str(v)?;
            }
            "x-amz-server-side-encryption-bucket-key-enabled" => {
                first(&mut seen, 6)?;
                // As `bool_or_string` reads it.
                p.bucket_key_enabled = match v {
                    Value::Bool(b) => Some(b),
                    Value::Str(s) => Some(s.eq_ignore_ascii_case("true")),
                    Value::Null => None,
                    _ => return None,
                };
            }
            "x-amz-copy-source" => {
                first(&mut seen, 7)?;
                p.copy_source = opt_str(v)?;
            }
            _ => w.skip(v)?,
        }
        Some(())
    })?;
    Some(p)
}

fn context<'a>(w: &mut Walker<'a, '_>) -> Option<Context<'a>> {
    let mut pairs = Pairs::new();
    w.members(|_, key, v| match v {
        Value::Str(s) => {
            pairs.push((Cow::Borrowed(key), Cow::Borrowed(s)));
            Some(())
        }
        _ => None,
    })?;
    Some(Context(pairs))
}

fn additional<'a>(w: &mut Walker<'a, '_>) -> Option<Additional<'a>> {
    let mut a = Additional::default();
    let mut seen = 0;
    w.members(|w, key, v| {
        match key {
            "SSEApplied" => {
                first(&mut seen, 0)?;
                a.sse_applied = opt_str(v)?;
            }
            _ => w.skip(v)?,
        }
        Some(())
    })?;
    Some(a)
}

fn resources<'a>(w: &mut Walker<'a, '_>) -> Option<Resources<'a>> {
    let mut out = Resources::default();
    w.elements(|w, v| {
        if !matches!(v, Value::Object) {
            return None;
        }
        let (mut kind, mut arn) = (None, None);
        let mut seen = 0;
        w.members(|w, key, v| {
            match key {
                "type" => {
                    first(&mut seen, 0)?;
                    kind = opt_str(v)?;
                }
                "ARN" => {
                    first(&mut seen, 1)?;
                    arn = opt_str(v)?;
                }
                _ => w.skip(v)?,
            }
            Some(())
        })?;
        out.add(kind.as_deref(), arn);
        Some(())
    })?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path's record, checked against serde's: equal whenever the fast path answers.
    fn check(text: &str) -> Option<RawRecord<'_>> {
        let fast = parse(text.as_bytes());
        if let Some(fast) = &fast {
            let slow: RawRecord = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("fast path accepted what serde rejects ({e}): {text}"));
            assert_eq!(fast, &slow, "{text}");
        }
        fast
    }

    const KMS: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"GenerateDataKey","awsRegion":"us-east-1","sourceIPAddress":"s3.amazonaws.com","userAgent":"s3.amazonaws.com","requestParameters":{"encryptionContext":{"aws:s3:arn":"arn:aws:s3:::b/k"},"keySpec":"AES_256","keyId":"arn:aws:kms:us-east-1:111122223333:key/k1"},"responseElements":null,"readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:key/k1"}],"eventID":"e1","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","sharedEventID":"s1","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3"},"bytes":[1,-2.5e3,true,false,null,{},[]]}"#;

    #[test]
    fn reads_a_record_as_serde_does() {
        let r = check(KMS).expect("the fast path reads a plain record");
        assert_eq!(r.event_name.as_deref(), Some("GenerateDataKey"));
        assert_eq!(
            r.resources.unwrap().kms_key.as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/k1")
        );
        let ctx = r.request.unwrap().encryption_context.unwrap();
        assert_eq!(ctx.get("aws:s3:arn"), Some("arn:aws:s3:::b/k"));
        // Whitespace anywhere JSON allows it.
        let mut spaced = String::new();
        let mut inside = false;
        for c in KMS.chars() {
            inside ^= c == '"';
            match c {
                ':' | ',' | '{' | '[' | '}' | ']' if !inside => {
                    spaced.push_str(" \r");
                    spaced.push(c);
                    spaced.push_str("\n\t ");
                }
                _ => spaced.push(c),
            }
        }
        assert!(check(&spaced).is_some());
    }

    #[test]
    fn reads_text_beyond_ascii_and_refuses_what_is_not_utf8() {
        let accented = KMS.replace("\"userAgent\"", "\"x\":\"café\",\"userAgent\"");
        assert_ne!(accented, KMS);
        assert!(check(&accented).is_some());
        let mut broken = accented.clone().into_bytes();
        let at = broken.iter().position(|&b| b == 0xc3).expect("the é");
        broken[at + 1] = b'e'; // a lead byte with no continuation
        assert!(std::str::from_utf8(&broken).is_err());
        assert!(parse(&broken).is_none());
    }

    #[test]
    fn hands_the_unusual_to_serde() {
        for text in [
            r#"{"eventName":"a\"b"}"#,              // an escape
            "{\"eventName\":\"a\tb\"}",             // a control character in a string
            r#"{"eventName":"a","eventName":"b"}"#, // a field read twice
            r#"{"eventName":5}"#,                   // the wrong type
            r#"{"userIdentity":[]}"#,               // a struct as a list
            r#"{"resources":[null]}"#,              // a resource that is not an object
            r#"{"a":01}"#,                          // not a JSON number
            r#"{"a":1,}"#,                          // a trailing comma
            r#"{"a":[1,]}"#,                        // a trailing comma in a list
            r#"{"a":tru}"#,                         // not a literal
            r#"{"a":"b"} x"#,                       // something after the record
            r#"{"a":"b""#,                          // unterminated
            r#"{"a" "b"}"#,                         // a missing colon
            r#"["a"]"#,                             // not an object
            r#"{"requestParameters":{"x-amz-server-side-encryption-bucket-key-enabled":1}}"#,
        ] {
            assert!(parse(text.as_bytes()).is_none(), "{text}");
            check(text);
        }
        let large = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BYTES));
        assert!(parse(large.as_bytes()).is_none());
        assert!(serde_json::from_str::<RawRecord>(&large).is_ok());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse(deep.as_bytes()).is_none());
        let fine = format!("{{\"a\":{}{}}}", "[".repeat(50), "]".repeat(50));
        assert!(check(&fine).is_some());
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        for n in ["0", "-0", "12", "1.5", "-1.5e10", "1E+2", "0.0e-0"] {
            assert!(is_number(n.as_bytes()), "{n}");
        }
        for n in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1.5.2", "0x10", "1 2",
        ] {
            assert!(!is_number(n.as_bytes()), "{n}");
        }
    }

    /// Every record of the bundled fixtures and of the public real trails, as the framer hands
    /// it over, reads the same both ways, and the fast path answers for most of them.
    #[test]
    fn fixtures_and_real_trails_read_the_same_both_ways() {
        use crate::source::frame::{Framer, Item, Wrapping};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut counts = Vec::new();
        let finder = memchr::memmem::Finder::new(super::super::EVENT_SOURCE_NEEDLE);
        let mut skipped = 0;
        for dir in [root.join("fixtures"), root.join("fixtures/real-trails")] {
            assert!(dir.is_dir(), "{} is missing", dir.display());
            let (mut records, mut fast) = (0, 0);
            for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
                let entry = entry.unwrap();
                if !entry.file_type().is_file() {
                    continue;
                }
                let raw = std::fs::read(entry.path()).unwrap();
                let mut text = Vec::new();
                if raw.starts_with(&[0x1f, 0x8b]) {
                    let mut d = flate2::read::MultiGzDecoder::new(&raw[..]);
                    if std::io::Read::read_to_end(&mut d, &mut text).is_err() {
                        continue; // a damaged-gzip fixture
                    }
                } else {
                    text = raw;
                }
                Framer::default().feed(&text, true, &mut |item| {
                    let Item::Record { text, wrapping, .. } = item else {
                        return;
                    };
                    let record = match wrapping {
                        Wrapping::Plain => String::from_utf8(text.to_vec()).ok(),
                        Wrapping::InString(field) => {
                            serde_json::from_slice::<serde_json::Value>(text)
                                .ok()
                                .and_then(|v| v.get(field)?.as_str().map(str::to_string))
                        }
                    };
                    if let Some(record) = record {
                        records += 1;
                        fast += usize::from(check(&record).is_some());
                        // What the prefilter sets aside is no KMS or S3 record (another
                        // service's, or an Insights record, whose eventSource is nested).
                        if !super::super::prefilter(record.as_bytes(), &finder) {
                            use super::super::NotUsed;
                            use crate::reason;
                            skipped += 1;
                            let parsed = super::super::parse_with(record.as_bytes(), true);
                            assert!(
                                matches!(
                                    parsed,
                                    Err(NotUsed::Filtered(
                                        reason::OTHER_SERVICE | reason::INSIGHTS_RECORD
                                    ))
                                ),
                                "{parsed:?}: {record}"
                            );
                        }
                    }
                });
            }
            counts.push((dir, records, fast));
        }
        assert!(
            skipped > 300,
            "the prefilter set aside only {skipped} records"
        );
        for (dir, records, fast) in counts {
            assert!(records > 400, "only {records} records in {}", dir.display());
            // Real trails have escapes now and then (user agents, policies); most records do not.
            assert!(
                fast * 10 > records * 6,
                "fast path read {fast} of {records} in {}",
                dir.display()
            );
        }
    }

    /// Mutated records: whenever the fast path accepts one, serde accepts it too and reads the
    /// same record.
    #[test]
    fn mutated_records_read_the_same_both_ways() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        // With the two bytes of a UTF-8 `é`, which make valid and invalid UTF-8.
        const ALPHABET: &[u8] = b"{}[]:,\" \t\n0123456789-+.eEtrufalsn\\x\xc3\xa9";
        let base = KMS.as_bytes();
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut text = base.to_vec();
            for _ in 0..1 + rand(3) {
                let at = rand(text.len());
                match rand(3) {
                    0 => {
                        text.remove(at);
                    }
                    1 => text.insert(at, ALPHABET[rand(ALPHABET.len())]),
                    _ => text[at] = ALPHABET[rand(ALPHABET.len())],
                }
            }
            match std::str::from_utf8(&text) {
                Ok(text) => accepted += usize::from(check(text).is_some()),
                Err(_) => assert!(parse(&text).is_none()),
            }
            // The portable index agrees with the one in use (AVX2 on most machines).
            let (mut a, mut b) = (vec![0; text.len() + 64], vec![0; text.len() + 64]);
            let fast = index(&text, &mut a).map(|(n, ascii)| (a[..n].to_vec(), ascii));
            let portable = index_portable(&text, &mut b);
            assert_eq!(fast, portable.map(|(n, ascii)| (b[..n].to_vec(), ascii)));
        }
        // Many mutations land in strings and keep the record valid.
        assert!(accepted > 1_000, "{accepted}");
    }
}
