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

mod fields;
mod index;
mod walk;

use super::RawRecord;
use index::index;
use std::cell::RefCell;
use walk::{is_whitespace, Value, Walker};

/// Parses a record without serde, or returns `None` for serde to do it (see the module doc).
pub fn parse(bytes: &[u8]) -> Option<RawRecord<'_>> {
    let mut record = RawRecord::default();
    parse_into(bytes, &mut record)?;
    Some(record)
}

/// [`parse`] into `record`, a default one (left part-filled when this returns `None`). A
/// record is about a kilobyte: filled where it lies, it is not copied on its way out, which
/// cost more than the walk of most of its fields.
///
/// The index looks at every byte, so it also tells whether the record is all ASCII, and only a
/// record that is not gets a separate UTF-8 check.
pub fn parse_into<'a>(bytes: &'a [u8], record: &mut RawRecord<'a>) -> Option<()> {
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
        fields::record(&mut w, record)?;
        // Nothing but whitespace may follow.
        (w.next == tape.len() && is_whitespace(&text.as_bytes()[w.pos..])).then_some(())
    })
}

#[cfg(test)]
mod tests {
    use super::index::{index_each, MAX_BYTES};
    use super::walk::is_number;
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
                        let each = index_each(record.as_bytes());
                        for (version, found) in &each {
                            assert_eq!(*found, each[0].1, "{version}: {record}");
                        }
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
            // Every version of the index this CPU runs agrees with the portable one, and so
            // does the one in use.
            let each = index_each(&text);
            for (version, found) in &each {
                assert_eq!(*found, each[0].1, "{version}");
            }
            let mut tape = Vec::new();
            let fast = index(&text, &mut tape).map(|(n, ascii)| (tape[..n].to_vec(), ascii));
            assert_eq!(fast, each[0].1);
        }
        // Many mutations land in strings and keep the record valid.
        assert!(accepted > 1_000, "{accepted}");
    }
}
