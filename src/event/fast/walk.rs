//! Stage 2: the walk over the index's positions. A string's bytes are not looked at again, and
//! skipping a value costs one step per token.

/// Deeper nesting goes to serde (whose own limit is 128), so both agree on what is too deep.
pub(super) const MAX_DEPTH: u32 = 64;

/// A value, as far as its first token tells.
#[derive(Clone, Copy)]
pub(super) enum Value<'a> {
    Str(&'a str),
    Null,
    Bool(bool),
    Number,
    /// Its `{` is consumed; the reader must walk it to its `}`.
    Object,
    /// Its `[` is consumed; the reader must walk it to its `]`.
    Array,
}

pub(super) struct Walker<'a, 't> {
    pub(super) text: &'a str,
    pub(super) tape: &'t [u32],
    /// The next position in `tape`.
    pub(super) next: usize,
    /// The first byte of `text` not consumed.
    pub(super) pos: usize,
    pub(super) depth: u32,
}

impl<'a> Walker<'a, '_> {
    /// The next structural character or quote, when only whitespace comes before it.
    #[inline]
    pub(super) fn token(&mut self) -> Option<u8> {
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
    pub(super) fn string_rest(&mut self) -> Option<&'a str> {
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
    /// Inlined into its callers: returned from a call, the value (24 bytes) goes through
    /// memory and is read back before it is complete (a store-forwarding stall).
    #[inline(always)]
    pub(super) fn value(&mut self) -> Option<Value<'a>> {
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
    pub(super) fn spaced_value(&mut self, at: usize) -> Option<Value<'a>> {
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

    pub(super) fn enter(&mut self, v: Value<'a>) -> Option<Value<'a>> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(v)
    }

    /// Walks the members of an object whose `{` is consumed, handing each key and value to `f`,
    /// which must consume the value.
    pub(super) fn members(
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
    pub(super) fn elements(
        &mut self,
        mut f: impl FnMut(&mut Self, Value<'a>) -> Option<()>,
    ) -> Option<()> {
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
    pub(super) fn skip(&mut self, v: Value<'a>) -> Option<()> {
        match v {
            Value::Object => self.members(|w, _, v| w.skip(v)),
            Value::Array => self.elements(|w, v| w.skip(v)),
            _ => Some(()),
        }
    }
}

#[inline(always)]
pub(super) fn is_whitespace_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[inline(always)]
pub(super) fn is_whitespace(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| is_whitespace_byte(b))
}

/// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(super) fn is_number(n: &[u8]) -> bool {
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
