//! Validated settings for a run, built from the command line (or by a library user directly).
//!
//! Nothing here reads the clock or the environment: what a run depends on is a field.

use crate::source::decode::Limits;
pub use crate::source::InputSpec;

/// How report rows are grouped (within each bucket, and split by mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Bucket,
    /// The first N `/`-separated segments of the object key.
    Prefix(usize),
    KmsKey,
    Principal,
    /// The value of one encryption-context key.
    Context(String),
}

/// A `--group-by` value that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GroupByError(pub String);

impl GroupBy {
    pub fn parse(s: &str) -> Result<GroupBy, GroupByError> {
        Ok(match s {
            "bucket" => GroupBy::Bucket,
            "kms-key" => GroupBy::KmsKey,
            "principal" => GroupBy::Principal,
            _ => {
                if let Some(n) = s.strip_prefix("prefix:") {
                    let n: usize = n.parse().map_err(|_| {
                        GroupByError(format!("prefix:N needs a number of segments, got {n:?}"))
                    })?;
                    if n == 0 {
                        return Err(GroupByError(
                            "prefix:N needs N >= 1 (use bucket for N = 0)".into(),
                        ));
                    }
                    GroupBy::Prefix(n)
                } else if let Some(key) = s.strip_prefix("context:") {
                    if key.is_empty() {
                        return Err(GroupByError(
                            "context:KEY needs an encryption-context key".into(),
                        ));
                    }
                    GroupBy::Context(key.to_string())
                } else {
                    return Err(GroupByError(format!(
                        "unknown grouping {s:?}: use bucket, prefix:N, kms-key, principal or context:KEY"
                    )));
                }
            }
        })
    }

    /// The name used in reports.
    pub fn name(&self) -> String {
        match self {
            GroupBy::Bucket => "bucket".into(),
            GroupBy::Prefix(n) => format!("prefix:{n}"),
            GroupBy::KmsKey => "kms-key".into(),
            GroupBy::Principal => "principal".into(),
            GroupBy::Context(k) => format!("context:{k}"),
        }
    }
}

/// Record filters. All combine with AND; the values within one list combine with OR. Empty
/// lists keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Keep records at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Keep records before this time (Unix seconds).
    pub until: Option<i64>,
    /// Object or bucket ARN prefixes (`arn:aws:s3:::bucket/prefix/`).
    pub bucket_arn_prefixes: Vec<String>,
    /// Encryption-context pairs.
    pub context: Vec<(String, String)>,
    /// Event names (`GetObject`, `Decrypt`, ...).
    pub event_names: Vec<String>,
    /// KMS key ARNs or key IDs.
    pub kms_keys: Vec<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// IAM ARNs of requesters; a role ARN also matches the role's sessions.
    pub principals: Vec<String>,
}

/// Default correlation window for bucket-key calls, which name only their bucket: a KMS call is
/// logged within a second or two of the S3 request that caused it (both carry one-second
/// `eventTime`s, from different services' clocks), and a wider window would pair a call with
/// another request of the same bucket.
pub const DEFAULT_WINDOW_SECS: i64 = 5;

/// Default window for per-object calls, which name their object in `aws:s3:arn`: the object
/// and the requester identify the request, so the window only has to cover real clock skew
/// between S3's and KMS's records and long requests (a multipart upload's parts, a slow
/// GET), minutes rather than seconds. Five minutes, CloudTrail's own delivery granularity.
pub const DEFAULT_OBJECT_WINDOW_SECS: i64 = 300;

/// Everything `analyze` needs.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    pub inputs: Vec<InputSpec>,
    pub filters: Filters,
    pub group_by: GroupBy,
    /// Largest gap, in seconds, between an S3 request and the bucket-key call it caused.
    pub window_secs: i64,
    /// Largest gap, in seconds, between an S3 request and a per-object call naming its object.
    pub object_window_secs: i64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Stop at the first input problem.
    pub strict: bool,
    pub limits: Limits,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Print each input problem on stderr as it is met.
    pub print_problems: bool,
    /// Keep every symmetric KMS call, other callers' too, for cost and quota reports.
    pub keep_calls: bool,
    /// How `s3://` inputs are reached.
    pub s3: crate::source::s3::S3Settings,
    /// Read the joined trail another engine wrote in this folder (`keytrail.engine/v1`)
    /// instead of the inputs.
    pub engine_output: Option<std::path::PathBuf>,
    /// The bytes the kept events may hold before they are spilled to temporary files and
    /// joined a group of buckets at a time (`None`: all in memory, whatever they take).
    pub memory_limit: Option<u64>,
}

impl AnalyzeConfig {
    /// A configuration with defaults for everything but the inputs.
    pub fn new(inputs: Vec<InputSpec>) -> AnalyzeConfig {
        AnalyzeConfig {
            inputs,
            filters: Filters::default(),
            group_by: GroupBy::Bucket,
            window_secs: DEFAULT_WINDOW_SECS,
            object_window_secs: DEFAULT_OBJECT_WINDOW_SECS,
            threads: 0,
            strict: false,
            limits: Limits::default(),
            progress: false,
            print_problems: false,
            keep_calls: false,
            memory_limit: None,
            s3: Default::default(),
            engine_output: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groupings_parse_and_bad_ones_say_what_is_allowed() {
        assert_eq!(GroupBy::parse("prefix:2"), Ok(GroupBy::Prefix(2)));
        assert_eq!(
            GroupBy::parse("context:username_owner"),
            Ok(GroupBy::Context("username_owner".into()))
        );
        assert!(GroupBy::parse("prefix:x").unwrap_err().0.contains("number"));
        assert!(GroupBy::parse("owner").unwrap_err().0.contains("kms-key"));
    }
}
