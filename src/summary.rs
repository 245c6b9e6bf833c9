//! The account of every file and record a run read, and of every problem met.
//!
//! Each record read ends in exactly one of: used, filtered out (with a reason), rejected (with a
//! reason). [`Summary::records_balance`] checks that identity; tests and the JSON report rely
//! on it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts by reason, in a stable order.
pub type Reasons = BTreeMap<String, u64>;

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Files {
    /// Inputs opened and decoded (including those with problems).
    pub read: u64,
    /// Inputs not read, by reason (digest, insights, out of the time range, ...).
    pub skipped: Reasons,
    /// Inputs with a problem (unreadable, truncated, ...), by reason. Their good records count.
    pub with_problems: Reasons,
    /// gzip members inflated.
    pub gzip_members: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Records {
    pub read: u64,
    pub used: u64,
    pub filtered_out: Reasons,
    pub rejected: Reasons,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bytes {
    /// Bytes read from files and stdin, as stored (compressed or not).
    pub read: u64,
    /// Bytes of JSON text after decompression.
    pub decoded: u64,
}

/// What reading from S3 took: the requests made, the objects listed, and the folders never
/// listed because their path ruled them out (by the reasons files are skipped by).
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct S3Summary {
    /// LIST calls, one a folder (a folder of more than 1,000 keys takes more than one page).
    pub list_requests: u64,
    /// GET requests that returned (retries of one GET are not counted apart).
    pub get_requests: u64,
    /// Objects listed to be read.
    pub objects: u64,
    pub prefixes_pruned: Reasons,
}

/// What the memory budget (`--memory-limit`) made the run do: the kept events it wrote to
/// temporary files, and how the join read them back.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SpillSummary {
    /// The budget, in bytes.
    pub limit: u64,
    /// Events written to the temporary files, and the bytes they take in memory (strings
    /// aside).
    pub events: u64,
    pub event_bytes: u64,
    /// Partitions (by the hash of the bucket) that received events, and the groups the join
    /// read them in (partitions linked by copies are one group).
    pub partitions: u64,
    pub groups: u64,
    /// The event bytes of the largest group: what the join held at once.
    pub largest_group_bytes: u64,
    /// The event bytes a group may hold within the budget: a larger one is a bucket (or
    /// buckets linked by copies) larger than that, joined whole all the same.
    pub group_budget: u64,
}

/// What reading an engine's output (`--from`) a group of its parts at a time, past the memory
/// budget, did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FromParts {
    /// The budget, in bytes.
    pub limit: u64,
    /// Parts that hold rows, the groups they were read in, and the rows of all and of the
    /// largest group.
    pub parts: u64,
    pub groups: u64,
    pub rows: u64,
    pub largest_group_rows: u64,
    /// The bytes a row is taken to need while read (`join::engine::READ_BYTES_PER_ROW`), and
    /// the bytes a group may need within the budget.
    pub row_bytes: u64,
    pub group_budget: u64,
}

/// One problem with the input, named by file and place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: String,
    /// `byte N` (in the decompressed text, unless it says compressed) or `record N`.
    pub location: String,
    pub reason: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.location, self.message)
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub files: Files,
    pub bytes: Bytes,
    pub records: Records,
    /// Documents that hold no records, by kind: digests met inside files read, keytrail
    /// manifests. (Digest files skipped by path are in `files.skipped`.)
    pub documents_skipped: Reasons,
    /// First and last eventTime of the KMS and S3 records read (Unix seconds).
    pub first_time: Option<i64>,
    pub last_time: Option<i64>,
    /// Every problem met, counted.
    pub problems_total: u64,
    /// The first [`PROBLEMS_KEPT`] problems in (file, location) order: the same ones whatever
    /// the thread count, and a bounded number whatever the input.
    pub problems: Vec<Problem>,
    /// Reading from S3, when an input was an `s3://` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Summary>,
    /// The kept events passed the memory budget and were spilled to temporary files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spill: Option<SpillSummary>,
    /// The engine's output (`--from`) passed the memory budget and was read a group of parts
    /// at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_parts: Option<FromParts>,
}

/// Problems kept in a summary (all are counted).
pub const PROBLEMS_KEPT: usize = 1000;
/// Problems kept from one input (all are counted).
pub const PROBLEMS_KEPT_PER_INPUT: usize = 100;

impl Summary {
    /// Counts a problem, and keeps it.
    pub fn add_problem(&mut self, p: Problem) {
        self.problems_total += 1;
        self.problems.push(p);
    }

    /// Keeps only the first [`PROBLEMS_KEPT`] problems, in order.
    pub fn prune_problems(&mut self) {
        if self.problems.len() > PROBLEMS_KEPT {
            self.problems.sort();
            self.problems.truncate(PROBLEMS_KEPT);
        }
    }

    pub fn filter(&mut self, reason: &str) {
        bump(&mut self.records.filtered_out, reason, 1);
    }

    pub fn reject(&mut self, reason: &str) {
        bump(&mut self.records.rejected, reason, 1);
    }

    pub fn skip_file(&mut self, reason: &str) {
        bump(&mut self.files.skipped, reason, 1);
    }

    pub fn file_problem(&mut self, reason: &str) {
        bump(&mut self.files.with_problems, reason, 1);
    }

    pub fn saw_time(&mut self, t: i64) {
        self.first_time = Some(self.first_time.map_or(t, |f| f.min(t)));
        self.last_time = Some(self.last_time.map_or(t, |l| l.max(t)));
    }

    pub fn merge(&mut self, other: Summary) {
        self.files.read += other.files.read;
        self.files.gzip_members += other.files.gzip_members;
        merge_reasons(&mut self.files.skipped, other.files.skipped);
        merge_reasons(&mut self.files.with_problems, other.files.with_problems);
        self.bytes.read += other.bytes.read;
        self.bytes.decoded += other.bytes.decoded;
        self.records.read += other.records.read;
        self.records.used += other.records.used;
        merge_reasons(&mut self.records.filtered_out, other.records.filtered_out);
        merge_reasons(&mut self.records.rejected, other.records.rejected);
        merge_reasons(&mut self.documents_skipped, other.documents_skipped);
        if let Some(t) = other.first_time {
            self.saw_time(t);
        }
        if let Some(t) = other.last_time {
            self.saw_time(t);
        }
        self.problems_total += other.problems_total;
        self.problems.extend(other.problems);
        self.prune_problems();
        if let Some(o) = other.s3 {
            let s = self.s3.get_or_insert_with(S3Summary::default);
            s.list_requests += o.list_requests;
            s.get_requests += o.get_requests;
            s.objects += o.objects;
            merge_reasons(&mut s.prefixes_pruned, o.prefixes_pruned);
        }
        if self.spill.is_none() {
            self.spill = other.spill;
        }
        if self.from_parts.is_none() {
            self.from_parts = other.from_parts;
        }
    }

    pub fn filtered_total(&self) -> u64 {
        self.records.filtered_out.values().sum()
    }

    pub fn rejected_total(&self) -> u64 {
        self.records.rejected.values().sum()
    }

    /// read = used + filtered out + rejected.
    pub fn records_balance(&self) -> bool {
        self.records.read == self.records.used + self.filtered_total() + self.rejected_total()
    }

    pub fn filtered(&self, reason: &str) -> u64 {
        self.records.filtered_out.get(reason).copied().unwrap_or(0)
    }
}

/// Adds `n` to `reason`'s count (a name from [`crate::reason`]).
pub fn bump(map: &mut Reasons, reason: &str, n: u64) {
    debug_assert!(
        crate::reason::get(reason).is_some(),
        "{reason:?} is not in the registry of reasons (src/reason.rs)"
    );
    if n == 0 {
        return;
    }
    match map.get_mut(reason) {
        Some(v) => *v += n,
        None => {
            map.insert(reason.to_string(), n);
        }
    }
}

fn merge_reasons(into: &mut Reasons, from: Reasons) {
    for (k, v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}
