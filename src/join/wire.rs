//! The joined trail written down: the seam's serialised form, `keytrail.joined/v1`.
//!
//! Everything a report reads of a [`Joined`], in one JSON document, so that a joined trail can
//! be saved, moved and read back (by keytrail, or by a tool of the user's) and every report
//! made from it is the one made from the trail itself. The document:
//!
//! | field | what |
//! |---|---|
//! | `schema` | `"keytrail.joined/v1"`; a change a reader would trip on bumps the version |
//! | `strings` | every string the records name, in symbol order: symbol `i` is `strings[i]` |
//! | `kms` | the KMS calls S3 made: `time` (Unix seconds), `requester`, `bucket`, `key`, `kms_key`, `head` (ARN prefix), `account`, `region`, `ctx_value` (symbols or `null`), `op`, `mode`, `failure`, `ctx_pass`, `id` and `shared` (eventID and sharedEventID as 32 hex digits, 0 for none) |
//! | `s3` | the S3 requests: `time`, the symbols `requester` `bucket` `key` `kms_key` `head` `account` `region` `src_bucket` `src_key`, `op`, `bucket_key` (the SSE header, or `null`), `dsse`, `failure`, `id`, `shared` |
//! | `calls` | every caller's symmetric KMS call (kept for `cost` and `quota`): `time`, the symbols `account` `region` `kms_key` `requester` `caller` `bucket` `purpose`, `op`, `failure`, `mode`, `aws_managed`, `id`, `shared` |
//! | `matches` | `kms_to_s3[j]`: the S3 request KMS call `j` was matched to, or `null`; `s3_to_kms[i]`: the calls matched to request `i`; `s3_kms_key[i]`, `s3_writer_bucket_key[i]`, `s3_writer_dsse[i]`: the key, bucket-key setting and DSSE of the request's object as written |
//! | `summary` | the accounting of the run: files, bytes, records by reason, problems |
//! | `shared_calls` | calls dropped as copies delivered to a second account |
//!
//! Records are sorted as the join sorts them, and symbols are numbered in string order, so the
//! same trail gives the same document on any thread count. Reading checks what a report relies
//! on (lengths, symbols and indices in range) and refuses a document that breaks it.

use super::{bucket_modes, Joined, Matches};
use crate::intern::{Interner, Sym};
use crate::summary::Summary;
use crate::trail::records::{CallRec, KmsRec, S3Rec};
use serde::{Deserialize, Serialize};

/// The versioned name of the document.
pub const SCHEMA: &str = "keytrail.joined/v1";

/// What is wrong with a document that is not a joined trail keytrail can read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a joined trail: {0}")]
    Json(#[from] serde_json::Error),
    #[error("schema {found:?}: this keytrail reads {SCHEMA}")]
    Schema { found: String },
    #[error("the strings are not distinct: string {0} is given twice")]
    DuplicateString(usize),
    #[error("{what} {index} names symbol {sym}, but there are {strings} strings")]
    Symbol {
        what: &'static str,
        index: usize,
        sym: u32,
        strings: usize,
    },
    #[error("matches: {0}")]
    Matches(String),
}

#[derive(Serialize, Deserialize)]
struct Document {
    schema: String,
    strings: Vec<String>,
    kms: Vec<KmsRec>,
    s3: Vec<S3Rec>,
    calls: Vec<CallRec>,
    matches: WireMatches,
    summary: Summary,
    shared_calls: u64,
}

#[derive(Serialize, Deserialize)]
struct WireMatches {
    kms_to_s3: Vec<Option<u32>>,
    s3_to_kms: Vec<Vec<u32>>,
    s3_kms_key: Vec<Sym>,
    s3_writer_bucket_key: Vec<Option<bool>>,
    /// Added within v1: absent in older documents, read as all `false`.
    #[serde(default)]
    s3_writer_dsse: Vec<bool>,
}

/// Writes `joined` as a `keytrail.joined/v1` document.
pub fn to_json(joined: &Joined) -> Vec<u8> {
    let m = &joined.m;
    let doc = Document {
        schema: SCHEMA.to_string(),
        strings: joined.strings.strings().map(str::to_string).collect(),
        kms: joined.kms.clone(),
        s3: joined.s3.clone(),
        calls: joined.calls.clone(),
        matches: WireMatches {
            kms_to_s3: m.kms_to_s3.clone(),
            s3_to_kms: m.s3_to_kms.iter().map(|c| c.to_vec()).collect(),
            s3_kms_key: m.s3_kms_key.clone(),
            s3_writer_bucket_key: m.s3_writer_bucket_key.clone(),
            s3_writer_dsse: m.s3_writer_dsse.clone(),
        },
        summary: joined.summary.clone(),
        shared_calls: joined.shared_calls,
    };
    let mut out = serde_json::to_vec(&doc).expect("a document of plain values serialises");
    out.push(b'\n');
    out
}

/// Reads a `keytrail.joined/v1` document.
pub fn from_json(bytes: &[u8]) -> Result<Joined, WireError> {
    // The schema first, so that another version is named as such, not as a shape error.
    #[derive(Deserialize)]
    struct Head {
        schema: String,
    }
    let head: Head = serde_json::from_slice(bytes)?;
    if head.schema != SCHEMA {
        return Err(WireError::Schema { found: head.schema });
    }
    let mut doc: Document = serde_json::from_slice(bytes)?;
    let strings =
        Interner::from_strings(doc.strings.iter().map(String::as_str)).ok_or_else(|| {
            let mut seen = std::collections::HashSet::new();
            let dup = doc
                .strings
                .iter()
                .position(|s| !seen.insert(s))
                .unwrap_or(0);
            WireError::DuplicateString(dup)
        })?;
    let n = doc.strings.len();
    let check = |what: &'static str, index: usize, syms: &mut dyn Iterator<Item = Sym>| {
        for sym in syms {
            if !sym.is_none() && sym.0 as usize >= n {
                return Err(WireError::Symbol {
                    what,
                    index,
                    sym: sym.0,
                    strings: n,
                });
            }
        }
        Ok(())
    };
    for (i, r) in doc.kms.iter_mut().enumerate() {
        check("KMS call", i, &mut r.symbols_mut().into_iter().map(|s| *s))?;
    }
    for (i, r) in doc.s3.iter_mut().enumerate() {
        check(
            "S3 request",
            i,
            &mut r.symbols_mut().into_iter().map(|s| *s),
        )?;
    }
    for (i, r) in doc.calls.iter_mut().enumerate() {
        check("call", i, &mut r.symbols_mut().into_iter().map(|s| *s))?;
    }
    let mut m = doc.matches;
    if m.s3_writer_dsse.is_empty() {
        m.s3_writer_dsse = vec![false; doc.s3.len()];
    }
    check(
        "an S3 request's KMS key",
        0,
        &mut m.s3_kms_key.iter().copied(),
    )?;
    let (kms, s3) = (doc.kms.len(), doc.s3.len());
    let bad = |what: String| Err(WireError::Matches(what));
    if m.kms_to_s3.len() != kms {
        return bad(format!(
            "{} entries in kms_to_s3 for {kms} KMS calls",
            m.kms_to_s3.len()
        ));
    }
    for (name, len) in [
        ("s3_to_kms", m.s3_to_kms.len()),
        ("s3_kms_key", m.s3_kms_key.len()),
        ("s3_writer_bucket_key", m.s3_writer_bucket_key.len()),
        ("s3_writer_dsse", m.s3_writer_dsse.len()),
    ] {
        if len != s3 {
            return bad(format!("{len} entries in {name} for {s3} S3 requests"));
        }
    }
    if let Some(i) = m.kms_to_s3.iter().flatten().find(|&&i| i as usize >= s3) {
        return bad(format!("a KMS call matched to S3 request {i} of {s3}"));
    }
    if let Some(j) = m.s3_to_kms.iter().flatten().find(|&&j| j as usize >= kms) {
        return bad(format!("an S3 request matched to KMS call {j} of {kms}"));
    }
    let bucket_modes = bucket_modes(&doc.kms);
    Ok(Joined {
        strings,
        kms: doc.kms,
        s3: doc.s3,
        calls: doc.calls,
        m: Matches {
            kms_to_s3: m.kms_to_s3,
            s3_to_kms: m.s3_to_kms.into_iter().map(Into::into).collect(),
            s3_kms_key: m.s3_kms_key,
            s3_writer_bucket_key: m.s3_writer_bucket_key,
            s3_writer_dsse: m.s3_writer_dsse,
        },
        summary: doc.summary,
        shared_calls: doc.shared_calls,
        bucket_modes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use crate::reports::{calls, cost, quota, whatif};
    use crate::source::InputSpec;
    use crate::trail::config::AnalyzeConfig;
    use crate::trail::Quiet;

    /// Every report made from the trail itself, as JSON.
    fn every_report(j: &Joined, cfg: &AnalyzeConfig) -> Vec<serde_json::Value> {
        let rows = calls::rows(j, cfg);
        let mut out = vec![serde_json::from_slice(
            &render::render(&rows, &[], render::Format::Json, Default::default()).unwrap(),
        )
        .unwrap()];
        let what_if = whatif::project(j, &Default::default());
        let (first, last) = (j.summary.first_time, j.summary.last_time);
        if let Some(w) = cost::Window::of(None, None, first, last) {
            let c = cost::cost(j, &what_if, &Default::default(), w);
            out.push(render::cost::doc(&c, &rows.summary, &rows.warnings).json);
            let q = quota::quota(j, &what_if, &Default::default(), w);
            out.push(render::quota::doc(&q, &rows.summary, &rows.warnings).json);
        }
        out
    }

    #[test]
    fn every_report_of_a_joined_trail_read_back_is_the_same() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut trails = 0;
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let mut cfg = AnalyzeConfig::new(vec![InputSpec::Path(dir.clone())]);
            cfg.keep_calls = true;
            let joined = crate::join::run(&cfg, &Quiet, |j| j).unwrap();
            let bytes = to_json(&joined);
            let back = from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            assert_eq!(to_json(&back), bytes, "{}", dir.display());
            assert_eq!(
                every_report(&back, &cfg),
                every_report(&joined, &cfg),
                "{}",
                dir.display()
            );
            trails += 1;
        }
        assert!(trails >= 7, "only {trails} fixture trails");
    }

    #[test]
    fn a_document_that_breaks_the_seam_is_refused_with_a_reason() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/poc");
        let mut cfg = AnalyzeConfig::new(vec![InputSpec::Path(dir)]);
        cfg.keep_calls = true;
        let joined = crate::join::run(&cfg, &Quiet, |j| j).unwrap();
        let good: serde_json::Value = serde_json::from_slice(&to_json(&joined)).unwrap();
        let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            edit(&mut v);
            from_json(&serde_json::to_vec(&v).unwrap())
                .err()
                .unwrap()
                .to_string()
        };
        assert!(refused(&|v| v["schema"] = "keytrail.joined/v2".into()).contains("v2"));
        assert!(refused(&|v| v["strings"][1] = v["strings"][0].clone()).contains("twice"));
        let strings = good["strings"].as_array().unwrap().len();
        assert!(
            refused(&|v| v["kms"][0]["bucket"] = strings.into()).contains("names symbol"),
            "a symbol past the strings"
        );
        assert!(
            refused(&|v| v["matches"]["kms_to_s3"][0] = 1_000_000.into())
                .contains("matched to S3 request")
        );
        assert!(refused(&|v| {
            v["matches"]["s3_kms_key"].as_array_mut().unwrap().pop();
        })
        .contains("s3_kms_key"));
        assert!(from_json(b"{\"Records\":[]}").is_err());
    }
}
