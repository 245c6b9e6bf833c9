//! Finding the records in a decoded text, whatever its framing.
//!
//! The text is read as a sequence of top-level JSON values, which covers every framing met in
//! practice with one loop:
//! - a delivered file, `{"Records":[...]}` (the key may come anywhere in the object);
//! - `aws cloudtrail lookup-events` output, `{"Events":[{"CloudTrailEvent":"<record as a string>"}]}`;
//! - a CloudWatch Logs subscription envelope, `{"logEvents":[{"message":"<record as a string>"}]}`;
//! - a bare JSON array of records;
//! - one record per line, or a single record;
//! - a digest file, recognised by its keys and skipped.
//!
//! Only the keys of top-level objects are read here; record boundaries come from
//! [`scan::find_value_end`], and records are handed out as byte ranges for the event stage to
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
            FrameProblem::NotJson { .. } => "not_json",
            FrameProblem::Truncated { .. } => "truncated",
            FrameProblem::NotCloudTrail { .. } => "not_cloudtrail",
        }
    }
}

/// Keys whose presence makes a top-level object a record.
const RECORD_KEYS: &[&[u8]] = &[
    b"eventVersion",
    b"eventTime",
    b"eventSource",
    b"eventName",
    b"eventID",
    b"userIdentity",
    b"eventCategory",
];

/// Keys whose presence makes a top-level object a digest file.
const DIGEST_KEYS: &[&[u8]] = &[
    b"digestStartTime",
    b"digestEndTime",
    b"digestS3Object",
    b"digestSignatureAlgorithm",
    b"previousDigestSignature",
];

/// Calls `sink` with every item of `text`, in order.
pub fn frame<'a>(text: &'a [u8], sink: &mut dyn FnMut(Item<'a>)) {
    let mut f = Framer { text, sink };
    f.top_level();
}

struct Framer<'a, 's> {
    text: &'a [u8],
    sink: &'s mut dyn FnMut(Item<'a>),
}

/// The framing ran into something it cannot get past.
struct Stop;

impl<'a> Framer<'a, '_> {
    fn top_level(&mut self) {
        let mut pos = 0;
        if self.text.starts_with(b"\xEF\xBB\xBF") {
            pos = 3;
        }
        loop {
            pos = self.skip_ws(pos);
            let Some(&b) = self.text.get(pos) else { return };
            let next = match b {
                b'{' => self.object(pos),
                b'[' => self.array(pos, Wrapping::Plain),
                _ => Err(self.not_json(pos)),
            };
            match next {
                Ok(end) => pos = end,
                Err(Stop) => return,
            }
        }
    }

    fn not_json(&mut self, offset: usize) -> Stop {
        let found = describe_byte(self.text.get(offset).copied());
        self.problem(FrameProblem::NotJson { offset, found });
        Stop
    }

    fn problem(&mut self, problem: FrameProblem) {
        let offset = match &problem {
            FrameProblem::NotJson { offset, .. }
            | FrameProblem::Truncated { offset }
            | FrameProblem::NotCloudTrail { offset, .. } => *offset,
        };
        (self.sink)(Item::Problem { offset, problem });
    }

    /// A top-level object: a container of records, a record, or a digest.
    fn object(&mut self, start: usize) -> Result<usize, Stop> {
        let mut pos = start + 1;
        let mut found_container = false;
        let mut keys: Vec<String> = Vec::new();
        loop {
            pos = self.skip_ws(pos);
            match self.text.get(pos) {
                Some(b'}') => break,
                Some(b'"') => {}
                Some(_) => return Err(self.not_json(pos)),
                None => return Err(self.truncated(start)),
            }
            let key_end = self.string_end(pos).ok_or_else(|| self.truncated(start))?;
            let key = &self.text[pos + 1..key_end - 1];
            pos = self.skip_ws(key_end);
            match self.text.get(pos) {
                Some(b':') => pos = self.skip_ws(pos + 1),
                Some(_) => return Err(self.not_json(pos)),
                None => return Err(self.truncated(start)),
            }
            let value_is_array = self.text.get(pos) == Some(&b'[');
            if RECORD_KEYS.contains(&key) {
                let end = self.value_end(start)?;
                (self.sink)(Item::Record {
                    text: &self.text[start..end],
                    offset: start,
                    wrapping: Wrapping::Plain,
                });
                return Ok(end);
            }
            if DIGEST_KEYS.contains(&key) {
                let end = self.value_end(start)?;
                (self.sink)(Item::Document {
                    offset: start,
                    kind: "digest",
                });
                return Ok(end);
            }
            if key == b"schema" && self.text[pos..].starts_with(b"\"keytrail.") {
                let end = self.value_end(start)?;
                (self.sink)(Item::Document {
                    offset: start,
                    kind: "keytrail_document",
                });
                return Ok(end);
            }
            let container = match key {
                b"Records" => Some(Wrapping::Plain),
                b"Events" => Some(Wrapping::InString("CloudTrailEvent")),
                b"logEvents" => Some(Wrapping::InString("message")),
                _ => None,
            };
            pos = match container {
                Some(wrapping) if value_is_array => {
                    found_container = true;
                    self.array(pos, wrapping)?
                }
                _ => {
                    if keys.len() < 5 {
                        keys.push(String::from_utf8_lossy(key).into_owned());
                    }
                    self.value_end(pos)?
                }
            };
            pos = self.skip_ws(pos);
            match self.text.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => break,
                Some(_) => return Err(self.not_json(pos)),
                None => return Err(self.truncated(start)),
            }
        }
        if !found_container {
            let what = if keys.is_empty() {
                "an empty object".to_string()
            } else {
                format!("an object with keys {}", keys.join(", "))
            };
            self.problem(FrameProblem::NotCloudTrail {
                offset: start,
                what,
            });
        }
        Ok(pos + 1)
    }

    /// An array whose elements are records (or wrap them).
    fn array(&mut self, start: usize, wrapping: Wrapping) -> Result<usize, Stop> {
        let mut pos = self.skip_ws(start + 1);
        if self.text.get(pos) == Some(&b']') {
            return Ok(pos + 1);
        }
        loop {
            pos = self.skip_ws(pos);
            match self.text.get(pos) {
                Some(b'{') => {
                    let Some(end) = find_value_end(self.text, pos) else {
                        return Err(self.truncated(pos));
                    };
                    (self.sink)(Item::Record {
                        text: &self.text[pos..end],
                        offset: pos,
                        wrapping,
                    });
                    pos = end;
                }
                Some(_) => {
                    let end = self.value_end(pos)?;
                    let what = format!(
                        "an array element that is not an object: {}",
                        describe_byte(self.text.get(pos).copied())
                    );
                    self.problem(FrameProblem::NotCloudTrail { offset: pos, what });
                    pos = end;
                }
                None => return Err(self.truncated(start)),
            }
            pos = self.skip_ws(pos);
            match self.text.get(pos) {
                Some(b',') => pos += 1,
                Some(b']') => return Ok(pos + 1),
                Some(_) => return Err(self.not_json(pos)),
                None => return Err(self.truncated(start)),
            }
        }
    }

    fn truncated(&mut self, offset: usize) -> Stop {
        self.problem(FrameProblem::Truncated { offset });
        Stop
    }

    /// One past the end of the value starting at `pos`.
    fn value_end(&mut self, pos: usize) -> Result<usize, Stop> {
        let end = match self.text.get(pos) {
            Some(b'{' | b'[') => find_value_end(self.text, pos),
            Some(b'"') => self.string_end(pos),
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => Some(
                self.text[pos..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                    .map_or(self.text.len(), |n| pos + n),
            ),
            Some(_) => return Err(self.not_json(pos)),
            None => None,
        };
        end.ok_or_else(|| self.truncated(pos))
    }

    /// One past the closing quote of the string starting at `pos`.
    fn string_end(&self, pos: usize) -> Option<usize> {
        let mut i = pos + 1;
        loop {
            i += memchr::memchr2(b'"', b'\\', &self.text[i..])?;
            if self.text[i] == b'\\' {
                i += 2;
                if i > self.text.len() {
                    return None;
                }
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

    fn items(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        frame(text.as_bytes(), &mut |item| {
            out.push(match item {
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
            })
        });
        out
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

    #[test]
    fn json_lines_and_bare_arrays_and_single_records() {
        assert_eq!(
            items("{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n").len(),
            2
        );
        assert_eq!(items(r#"[{"eventName":"A"},{"eventName":"B"}]"#).len(), 2);
        assert_eq!(items(r#"  {"eventVersion":"1.08","x":[]}"#).len(), 1);
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
