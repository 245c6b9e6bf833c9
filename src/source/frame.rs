//! Finding the records in a decoded text, whatever its framing.
//!
//! The text is read as a sequence of top-level JSON values, which covers every framing met in
//! practice with one loop:
//! - a delivered file, `{"Records":[...]}` (the key may come anywhere in the object);
//! - `aws cloudtrail lookup-events` output, `{"Events":[{"CloudTrailEvent":"<record as a string>"}]}`;
//! - a CloudWatch Logs subscription envelope, `{"logEvents":[{"message":"<record as a string>"}]}`;
//! - a bare JSON array of records;
//! - one record per line, or a single record; lookup-events' Event objects one per line (`jq -c
//!   '.Events[]'`), each with its `CloudTrailEvent` string;
//! - a digest file, recognised by its keys and skipped.
//!
//! Only the keys of top-level objects are read here; record boundaries come from
//! [`super::scan::find_value_end`], and records are handed out as byte ranges for the event stage to
//! parse (or to skip unparsed).

use super::scan::find_value_end;

/// How a record is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// The record object itself.
    Plain,
    /// An object whose string field holds the record as JSON text.
    InString(&'static str),
}

/// One thing found in a text.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A record (or the object that wraps one); `offset` is its byte offset in the text.
    Record {
        text: &'a [u8],
        offset: usize,
        wrapping: Wrapping,
    },
    /// A document that holds no records, skipped: a CloudTrail digest (`"digest"`) or a
    /// keytrail manifest or report (`"keytrail_document"`).
    Document { offset: usize, kind: &'static str },
    /// Something that is not a record where one was expected.
    Problem {
        offset: usize,
        problem: FrameProblem,
    },
}

/// What can be wrong with the framing. Each counts as one rejected record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameProblem {
    #[error("not JSON: unexpected {found} at byte {offset}")]
    NotJson { offset: usize, found: String },
    #[error("the text ends inside a value that starts at byte {offset} (truncated input?)")]
    Truncated { offset: usize },
    #[error("JSON that is not CloudTrail at byte {offset}: {what}")]
    NotCloudTrail { offset: usize, what: String },
}

impl FrameProblem {
    /// The short reason used as a key in the summary's counts.
    pub fn reason(&self) -> &'static str {
        match self {
            FrameProblem::NotJson { .. } => crate::reason::NOT_JSON,
            FrameProblem::Truncated { .. } => crate::reason::TRUNCATED,
            FrameProblem::NotCloudTrail { .. } => crate::reason::NOT_CLOUDTRAIL,
        }
    }
}

/// Keys whose presence makes a top-level object a record.
pub const RECORD_KEYS: &[&[u8]] = &[
    b"eventVersion",
    b"eventTime",
    b"eventSource",
    b"eventName",
    b"eventID",
    b"userIdentity",
    b"eventCategory",
];

/// Keys whose presence makes a top-level object a digest file.
pub const DIGEST_KEYS: &[&[u8]] = &[
    b"digestStartTime",
    b"digestEndTime",
    b"digestS3Object",
    b"digestSignatureAlgorithm",
    b"previousDigestSignature",
];

/// Calls `sink` with every item of a whole text, in order.
pub fn frame<'a>(text: &'a [u8], sink: &mut dyn FnMut(Item<'a>)) {
    Framer::default().feed(text, true, sink);
}

/// Frames a whole text fed `size` bytes at a time, keeping what the framer leaves, as a
/// streaming reader does: for tests and fuzzing, which check it equals [`frame`].
pub fn frame_in_windows(text: &[u8], size: usize, sink: &mut dyn FnMut(Item<'_>)) {
    let mut framer = Framer::default();
    let mut window: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        let take = size.max(1).min(text.len() - fed);
        window.extend_from_slice(&text[fed..fed + take]);
        fed += take;
        let eof = fed == text.len();
        let consumed = framer.feed(&window, eof, sink);
        assert!(
            consumed <= window.len(),
            "the framer consumed more than it was given"
        );
        window.drain(..consumed);
        if eof {
            assert!(window.is_empty(), "the framer left text at the end");
            return;
        }
    }
}

/// A resumable framer: feed it a window of the text at a time.
///
/// [`Framer::feed`] frames what it can and returns how many bytes of the window it has done
/// with; the caller drops those, appends more text, and feeds again. The framer only stops
/// between records (or between the members of a top-level object after its records), so a
/// record cut by the end of a window is scanned again, whole, in the next one. Offsets in items
/// are from the start of the whole text.
#[derive(Debug, Default)]
pub struct Framer {
    state: State,
    /// Offset in the whole text of the current window's first byte.
    base: usize,
    /// A problem the framing cannot get past was met: the rest is not read.
    stopped: bool,
}

#[derive(Debug, Clone, Copy, Default)]
enum State {
    /// Between top-level values.
    #[default]
    Top,
    /// Inside an array of records; `after_element` when a `,` or `]` comes next. `parent` is
    /// the offset of the top-level object holding the array, if any.
    Array {
        wrapping: Wrapping,
        after_element: bool,
        parent: Option<usize>,
    },
    /// Inside a top-level object, after its array of records: a `,` or `}` comes next.
    AfterContainer { start: usize },
}

/// Why framing paused.
enum Halt {
    /// The window ends inside the value at hand: feed more.
    NeedMore,
    /// A problem framing cannot get past; already reported.
    Stop,
}

type Step<T> = Result<T, Halt>;

impl Framer {
    /// Frames `window` (the text following what earlier calls consumed) and returns how many of
    /// its bytes are done with. `eof` says no text follows; then everything is consumed, and an
    /// unfinished value is reported as truncated.
    pub fn feed<'a>(
        &mut self,
        window: &'a [u8],
        eof: bool,
        sink: &mut dyn FnMut(Item<'a>),
    ) -> usize {
        if self.stopped {
            return window.len();
        }
        let mut w = Window {
            text: window,
            base: self.base,
            eof,
            sink,
        };
        let mut pos = 0;
        if self.base == 0 {
            // A UTF-8 byte-order mark, which the first window may hold only part of.
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if window.len() < BOM.len() && !eof && BOM.starts_with(window) {
                return 0;
            }
            if window.starts_with(BOM) {
                pos = BOM.len();
            }
        }
        let consumed = loop {
            let checkpoint = pos;
            match self.step(&mut w, pos) {
                Ok(Some(next)) => pos = next,
                Ok(None) if eof => break window.len(),
                Ok(None) => break checkpoint,
                Err(Halt::NeedMore) if !eof => break checkpoint,
                Err(Halt::NeedMore) => {
                    let at = w.base + w.skip_ws(checkpoint);
                    w.problem(FrameProblem::Truncated { offset: at });
                    self.stopped = true;
                    break window.len();
                }
                Err(Halt::Stop) => {
                    self.stopped = true;
                    break window.len();
                }
            }
        };
        self.base += consumed;
        consumed
    }

    /// One step from `pos`: `Ok(Some(next))` after progress, `Ok(None)` at a clean end of the
    /// window.
    fn step(&mut self, w: &mut Window<'_, '_>, pos: usize) -> Step<Option<usize>> {
        let pos = w.skip_ws(pos);
        if pos == w.text.len() {
            return match self.state {
                State::Top => Ok(None),
                _ if w.eof => Err(Halt::NeedMore),
                _ => Ok(None),
            };
        }
        match self.state {
            State::Top => match w.text[pos] {
                b'{' => {
                    let (state, next) = w.object(pos)?;
                    self.state = state;
                    Ok(Some(next))
                }
                b'[' => {
                    self.state = State::Array {
                        wrapping: Wrapping::Plain,
                        after_element: false,
                        parent: None,
                    };
                    Ok(Some(pos + 1))
                }
                _ => Err(w.not_json(pos)),
            },
            State::Array {
                wrapping,
                after_element,
                parent,
            } => {
                let close = |state: &mut State| {
                    *state = match parent {
                        Some(start) => State::AfterContainer { start },
                        None => State::Top,
                    }
                };
                match (after_element, w.text[pos]) {
                    (true, b',') => {
                        self.state = State::Array {
                            wrapping,
                            after_element: false,
                            parent,
                        };
                        Ok(Some(pos + 1))
                    }
                    (_, b']') => {
                        close(&mut self.state);
                        Ok(Some(pos + 1))
                    }
                    (true, _) => Err(w.not_json(pos)),
                    (false, b'{') => {
                        let end = find_value_end(w.text, pos).ok_or(Halt::NeedMore)?;
                        (w.sink)(Item::Record {
                            text: &w.text[pos..end],
                            offset: w.base + pos,
                            wrapping,
                        });
                        self.state = State::Array {
                            wrapping,
                            after_element: true,
                            parent,
                        };
                        Ok(Some(end))
                    }
                    (false, b) => {
                        let end = w.value_end(pos)?;
                        let what = format!(
                            "an array element that is not an object: {}",
                            describe_byte(Some(b))
                        );
                        w.problem(FrameProblem::NotCloudTrail {
                            offset: w.base + pos,
                            what,
                        });
                        self.state = State::Array {
                            wrapping,
                            after_element: true,
                            parent,
                        };
                        Ok(Some(end))
                    }
                }
            }
            State::AfterContainer { start } => match w.text[pos] {
                b'}' => {
                    self.state = State::Top;
                    Ok(Some(pos + 1))
                }
                b',' => {
                    let (key, value) = w.member(pos + 1)?;
                    if let (Some(wrapping), Some(b'[')) =
                        (container(&w.text[key]), w.text.get(value))
                    {
                        self.state = State::Array {
                            wrapping,
                            after_element: false,
                            parent: Some(start),
                        };
                        return Ok(Some(value + 1));
                    }
                    Ok(Some(w.value_end(value)?))
                }
                _ => Err(w.not_json(pos)),
            },
        }
    }
}

/// The field of a lookup-events Event that holds the record as JSON text.
pub const LOOKUP_EVENT_FIELD: &str = "CloudTrailEvent";

/// Keys of arrays that hold records, and the string field of each element that holds the
/// record as JSON text (`None`: the elements are records).
pub const CONTAINERS: [(&str, Option<&str>); 3] = [
    ("Records", None),
    ("Events", Some(LOOKUP_EVENT_FIELD)),
    ("logEvents", Some("message")),
];

/// What an array under this key holds, if it holds records.
fn container(key: &[u8]) -> Option<Wrapping> {
    CONTAINERS
        .iter()
        .find(|(k, _)| k.as_bytes() == key)
        .map(|&(_, field)| field.map_or(Wrapping::Plain, Wrapping::InString))
}

/// One window of text being framed.
struct Window<'a, 's> {
    text: &'a [u8],
    base: usize,
    eof: bool,
    sink: &'s mut dyn FnMut(Item<'a>),
}

impl<'a> Window<'a, '_> {
    fn not_json(&mut self, pos: usize) -> Halt {
        let found = describe_byte(self.text.get(pos).copied());
        self.problem(FrameProblem::NotJson {
            offset: self.base + pos,
            found,
        });
        Halt::Stop
    }

    fn problem(&mut self, problem: FrameProblem) {
        let offset = match &problem {
            FrameProblem::NotJson { offset, .. }
            | FrameProblem::Truncated { offset }
            | FrameProblem::NotCloudTrail { offset, .. } => *offset,
        };
        (self.sink)(Item::Problem { offset, problem });
    }

    /// `"key" : ` from `pos` (after optional whitespace): the key's range and where the value
    /// starts.
    fn member(&mut self, pos: usize) -> Step<(std::ops::Range<usize>, usize)> {
        let pos = self.skip_ws(pos);
        match self.text.get(pos) {
            Some(b'"') => {}
            Some(_) => return Err(self.not_json(pos)),
            None => return Err(Halt::NeedMore),
        }
        let key_end = self.string_end(pos).ok_or(Halt::NeedMore)?;
        let colon = self.skip_ws(key_end);
        match self.text.get(colon) {
            Some(b':') => {}
            Some(_) => return Err(self.not_json(colon)),
            None => return Err(Halt::NeedMore),
        }
        let value = self.skip_ws(colon + 1);
        if value == self.text.len() {
            return Err(Halt::NeedMore);
        }
        Ok((pos + 1..key_end - 1, value))
    }

    /// A top-level object from its `{`: a container of records (the state to go on in), a
    /// record, a document, or something else (reported). Needs the object's keys up to the
    /// deciding one in the window.
    fn object(&mut self, start: usize) -> Step<(State, usize)> {
        let mut pos = start + 1;
        let mut keys: Vec<String> = Vec::new();
        let first = self.skip_ws(pos);
        if self.text.get(first) == Some(&b'}') {
            return Ok((self.not_cloudtrail(start, &keys), first + 1));
        }
        loop {
            let (key, value) = self.member(pos)?;
            let key = &self.text[key];
            let document = if DIGEST_KEYS.contains(&key) {
                Some(crate::reason::DIGEST_DOCUMENT)
            } else if key == b"schema" && self.text[value..].starts_with(b"\"keytrail.") {
                Some(crate::reason::KEYTRAIL_DOCUMENT)
            } else {
                None
            };
            // One Event of lookup-events output on its own (`jq -c '.Events[]'`): the record
            // is the string in its CloudTrailEvent.
            let lookup_event =
                key == LOOKUP_EVENT_FIELD.as_bytes() && self.text.get(value) == Some(&b'"');
            if RECORD_KEYS.contains(&key) || document.is_some() || lookup_event {
                let end = find_value_end(self.text, start).ok_or(Halt::NeedMore)?;
                let offset = self.base + start;
                (self.sink)(match document {
                    Some(kind) => Item::Document { offset, kind },
                    None => Item::Record {
                        text: &self.text[start..end],
                        offset,
                        wrapping: if lookup_event {
                            Wrapping::InString(LOOKUP_EVENT_FIELD)
                        } else {
                            Wrapping::Plain
                        },
                    },
                });
                return Ok((State::Top, end));
            }
            if let (Some(wrapping), Some(b'[')) = (container(key), self.text.get(value)) {
                let parent = Some(self.base + start);
                let state = State::Array {
                    wrapping,
                    after_element: false,
                    parent,
                };
                return Ok((state, value + 1));
            }
            if keys.len() < 5 {
                keys.push(String::from_utf8_lossy(key).into_owned());
            }
            let end = self.value_end(value)?;
            pos = self.skip_ws(end);
            match self.text.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => return Ok((self.not_cloudtrail(start, &keys), pos + 1)),
                Some(_) => return Err(self.not_json(pos)),
                None => return Err(Halt::NeedMore),
            }
        }
    }

    fn not_cloudtrail(&mut self, start: usize, keys: &[String]) -> State {
        let what = if keys.is_empty() {
            "an empty object".to_string()
        } else {
            format!("an object with keys {}", keys.join(", "))
        };
        self.problem(FrameProblem::NotCloudTrail {
            offset: self.base + start,
            what,
        });
        State::Top
    }

    /// One past the end of the value starting at `pos`.
    fn value_end(&mut self, pos: usize) -> Step<usize> {
        let end = match self.text.get(pos) {
            Some(b'{' | b'[') => find_value_end(self.text, pos),
            Some(b'"') => self.string_end(pos),
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => self.text[pos..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                .map(|n| pos + n)
                .or(self.eof.then_some(self.text.len())),
            Some(_) => return Err(self.not_json(pos)),
            None => None,
        };
        end.ok_or(Halt::NeedMore)
    }

    /// One past the closing quote of the string starting at `pos`.
    fn string_end(&self, pos: usize) -> Option<usize> {
        let mut i = pos + 1;
        loop {
            i += memchr::memchr2(b'"', b'\\', self.text.get(i..)?)?;
            if self.text[i] == b'\\' {
                i += 2;
            } else {
                return Some(i + 1);
            }
        }
    }

    fn skip_ws(&self, mut pos: usize) -> usize {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.text.get(pos) {
            pos += 1;
        }
        pos
    }
}

fn describe_byte(b: Option<u8>) -> String {
    match b {
        None => "end of input".into(),
        Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
        Some(b) => format!("byte 0x{b:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The items of `text`, framed whole; checks that feeding it in windows of every size
    /// from 1 byte up gives the same.
    fn items(text: &str) -> Vec<String> {
        let whole = items_in_windows(text.as_bytes(), usize::MAX);
        for size in 1..text.len().min(70) {
            assert_eq!(
                items_in_windows(text.as_bytes(), size),
                whole,
                "windows of {size}"
            );
        }
        whole
    }

    fn items_in_windows(text: &[u8], size: usize) -> Vec<String> {
        let mut out = Vec::new();
        frame_in_windows(text, size, &mut |item| out.push(describe(item)));
        out
    }

    fn describe(item: Item<'_>) -> String {
        {
            match item {
                Item::Record {
                    text,
                    offset,
                    wrapping,
                } => format!(
                    "record@{offset}{}:{}",
                    match wrapping {
                        Wrapping::Plain => String::new(),
                        Wrapping::InString(f) => format!("[{f}]"),
                    },
                    String::from_utf8_lossy(text)
                ),
                Item::Document { offset, kind } => format!("{kind}@{offset}"),
                Item::Problem { problem, .. } => format!("problem:{problem}"),
            }
        }
    }

    #[test]
    fn a_delivered_file_yields_each_record() {
        assert_eq!(
            items(r#"{"Records":[{"eventName":"A"},{"eventName":"B"}]}"#),
            [
                "record@12:{\"eventName\":\"A\"}",
                "record@30:{\"eventName\":\"B\"}"
            ]
        );
    }

    #[test]
    fn records_may_follow_other_keys() {
        assert_eq!(
            items(r#"{"x":{"Records":1}, "Records" : [ {"a":1} ] }"#),
            ["record@34:{\"a\":1}"]
        );
    }

    #[test]
    fn lookup_events_output_wraps_records_in_strings() {
        let got = items(r#"{"NextToken":"t","Events":[{"EventId":"1","CloudTrailEvent":"{}"}]}"#);
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("record@27[CloudTrailEvent]"), "{got:?}");
    }

    /// `aws cloudtrail lookup-events ... | jq -c '.Events[]'`: each line one Event object.
    #[test]
    fn lookup_events_one_per_line_are_records_in_strings_too() {
        let got = items(concat!(
            r#"{"EventId":"1","EventName":"Decrypt","CloudTrailEvent":"{}"}"#,
            "\n",
            r#"{"EventId":"2","CloudTrailEvent":"{\"a\":1}","Username":"u"}"#,
            "\n"
        ));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("record@0[CloudTrailEvent]"), "{got:?}");
        assert!(got[1].starts_with("record@61[CloudTrailEvent]"), "{got:?}");
        // A CloudTrailEvent that is not a string is not this shape.
        let got = items(r#"{"EventId":"1","CloudTrailEvent":5}"#);
        assert!(got[0].starts_with("problem"), "{got:?}");
    }

    #[test]
    fn json_lines_and_bare_arrays_and_single_records() {
        assert_eq!(
            items("{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n").len(),
            2
        );
        assert_eq!(items(r#"[{"eventName":"A"},{"eventName":"B"}]"#).len(), 2);
        assert_eq!(items(r#"  {"eventVersion":"1.08","x":[]}"#).len(), 1);
    }

    /// Found by the `framer` fuzz target: a byte-order mark cut by the first window.
    #[test]
    fn a_byte_order_mark_is_skipped_even_split_across_windows() {
        assert_eq!(
            items("\u{feff}{\"eventName\":\"A\"}"),
            ["record@3:{\"eventName\":\"A\"}"]
        );
        assert_eq!(
            items("\u{feff}*"),
            ["problem:not JSON: unexpected '*' at byte 3"]
        );
    }

    #[test]
    fn a_digest_is_recognised() {
        assert_eq!(
            items(r#"{"awsAccountId":"1","digestStartTime":"x","logFiles":[]}"#),
            ["digest@0"]
        );
    }

    #[test]
    fn keytrail_manifests_are_not_mistaken_for_bad_input() {
        assert_eq!(
            items(r#"{"schema":"keytrail.manifest/v1","expected":{}}"#),
            ["keytrail_document@0"]
        );
    }

    #[test]
    fn a_truncated_records_array_keeps_the_complete_records() {
        let got = items(r#"{"Records":[{"eventName":"A"},{"eventName":"#);
        assert_eq!(got.len(), 2);
        assert!(
            got[1].contains("ends inside a value that starts at byte 30"),
            "{got:?}"
        );
    }

    #[test]
    fn other_json_is_named_not_cloudtrail() {
        let got = items(r#"{"hello":"world"}"#);
        assert_eq!(
            got,
            ["problem:JSON that is not CloudTrail at byte 0: an object with keys hello"]
        );
        assert_eq!(
            items("not json"),
            ["problem:not JSON: unexpected 'n' at byte 0"]
        );
        assert!(items("").is_empty());
    }
}
