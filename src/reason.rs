//! The registry of reasons: every reason a file is skipped or has a problem, a document inside
//! a file is set aside, or a record is filtered out or rejected, with its one stable name.
//!
//! The summary counts by these names, the JSON reports print them, and `docs/reasons.md`
//! lists them (a test keeps that page equal to [`ALL`]). A name never changes meaning; a new
//! situation gets a new name.

/// Where a reason is counted in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file left out by its path alone, never opened (`input.files.skipped`).
    FileSkipped,
    /// A file that could not be read whole (`input.files.with_problems`, and a problem).
    FileProblem,
    /// A JSON document that is not a trail (`input.documents_skipped`).
    DocumentSkipped,
    /// A record read and not used, by design (`input.records.filtered_out`).
    RecordFiltered,
    /// A record that could not be read (`input.records.rejected`, and a problem).
    RecordRejected,
}

impl Kind {
    /// The heading `docs/reasons.md` lists the reasons of this kind under.
    pub fn title(self) -> &'static str {
        match self {
            Kind::FileSkipped => "Files skipped by path",
            Kind::FileProblem => "Files with a problem",
            Kind::DocumentSkipped => "Documents skipped",
            Kind::RecordFiltered => "Records filtered out",
            Kind::RecordRejected => "Records rejected",
        }
    }
}

/// One registered reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    pub name: &'static str,
    pub kind: Kind,
    /// What it means, for people.
    pub meaning: &'static str,
}

macro_rules! reasons {
    ($( $(#[doc = $doc:expr])+ $kind:ident $konst:ident = $name:literal; )*) => {
        $( $(#[doc = $doc])+ pub const $konst: &str = $name; )*
        /// Every reason, in the order of this file.
        pub const ALL: &[Reason] = &[
            $( Reason { name: $name, kind: Kind::$kind, meaning: concat!($($doc),+) }, )*
        ];
        /// Every reason by the name of its constant (`DIGEST_FILE` -> `digest_file`), for code
        /// keytrail writes for other engines.
        pub const BY_CONSTANT: &[(&str, &str)] = &[ $( (stringify!($konst), $name), )* ];
    };
}

reasons! {
    /// A CloudTrail digest file (`CloudTrail-Digest/`): hashes of log files, no records.
    FileSkipped DIGEST_FILE = "digest_file";
    /// A CloudTrail Insights file (`CloudTrail-Insight/`): Insights records only.
    FileSkipped INSIGHTS_FILE = "insights_file";
    /// A CloudTrail Lake query result (`CloudTrail-Lake/`).
    FileSkipped LAKE_RESULT = "cloudtrail_lake_result";
    /// A hidden file (its name starts with a dot).
    FileSkipped HIDDEN_FILE = "hidden_file";
    /// A FIFO, socket or device file met in a directory walk: never opened, since reading one
    /// can wait forever (one named on the command line is read: process substitution).
    FileSkipped NOT_REGULAR_FILE = "not_a_regular_file";
    /// A delivered file whose path date is two days or more outside `--since`/`--until` (a file holds events of the day before its date, and deliveries run late).
    FileSkipped OUT_OF_TIME_RANGE = "path_date_outside_since_until";
    /// A delivered file under an account's folder (`AWSLogs/[o-org/]ACCOUNT/CloudTrail/`) that
    /// `--account` does not name.
    FileSkipped PATH_ACCOUNT_NOT_ASKED = "path_account_not_asked_for";
    /// A delivered file under a Region's folder (`CloudTrail/REGION/`) that `--region` does not
    /// name.
    FileSkipped PATH_REGION_NOT_ASKED = "path_region_not_asked_for";

    /// The file or directory could not be opened or read.
    FileProblem UNREADABLE = "unreadable";
    /// A symbolic link that leads back into a directory being walked.
    FileProblem DIRECTORY_LOOP = "directory_loop";
    /// The file holds no bytes, or none once decompressed.
    FileProblem EMPTY = "empty";
    /// The gzip stream ends before its end: the records before the cut are read.
    FileProblem TRUNCATED_GZIP = "truncated_gzip";
    /// The gzip stream is damaged: the records before the damage are read.
    FileProblem CORRUPT_GZIP = "corrupt_gzip";
    /// Bytes after the last gzip member that are not another member.
    FileProblem TRAILING_GARBAGE = "trailing_garbage";
    /// Decompression passed `--max-decompressed-bytes` or `--max-ratio`: reading stopped.
    FileProblem DECOMPRESSION_CAP = "decompression_cap";
    /// A compression keytrail does not read (zstd, bzip2, ...).
    FileProblem UNSUPPORTED_COMPRESSION = "unsupported_compression";
    /// One JSON value longer than `--max-record-bytes`: the rest of the file is not read.
    FileProblem RECORD_TOO_LARGE = "record_too_large";

    /// A digest file's document, met where trail records were expected.
    DocumentSkipped DIGEST_DOCUMENT = "digest";
    /// A report or manifest keytrail wrote (its `schema` starts with `keytrail.`).
    DocumentSkipped KEYTRAIL_DOCUMENT = "keytrail_document";

    /// A record of a service other than KMS and S3.
    RecordFiltered OTHER_SERVICE = "other_service";
    /// A CloudTrail Insights record.
    RecordFiltered INSIGHTS_RECORD = "insights_record";
    /// A network activity event (`eventCategory` `NetworkActivity`, a VPC endpoint's view):
    /// it repeats a request logged as a data or management event, or records one the endpoint
    /// denied, which never reached S3 or KMS.
    RecordFiltered NETWORK_ACTIVITY = "network_activity_event";
    /// A KMS call whose encryption context names no S3 object or bucket (another caller's);
    /// `cost` and `quota` still count it.
    RecordFiltered KMS_NOT_S3 = "kms_call_not_for_s3";
    /// A KMS operation outside the shared quota for symmetric cryptographic operations
    /// (CreateKey, RotateKey, GenerateDataKeyPair, asymmetric Sign and Verify, ...): neither S3's
    /// nor counted by `quota` or priced by `cost`.
    RecordFiltered KMS_OTHER_OPERATION = "kms_non_cryptographic_operation";
    /// CloudTrail encrypting its own log files (`aws:cloudtrail:arn` in the context).
    RecordFiltered CLOUDTRAIL_LOG_ENCRYPTION = "cloudtrail_log_encryption";
    /// An S3 data event of an operation that causes no KMS call (HeadObject, ListObjects, ...).
    RecordFiltered S3_DATA_NO_KMS = "s3_data_event_without_kms";
    /// An S3 management event (bucket configuration, ListBuckets, ...).
    RecordFiltered S3_MANAGEMENT = "s3_management_event";
    /// An S3 request the trail shows is not SSE-KMS (SSE-S3, SSE-C).
    RecordFiltered S3_NOT_SSE_KMS = "s3_not_sse_kms";
    /// A read of an object whose last logged write before it was not SSE-KMS (or a part of an
    /// upload whose CreateMultipartUpload was not): no KMS call, and not in the
    /// calls-per-object ratio.
    RecordFiltered S3_READ_OF_NON_KMS_OBJECT = "s3_read_of_non_kms_object";
    /// An anonymous S3 request (`userIdentity.type` `AnonymousPrincipal`): S3 makes no KMS call
    /// for one (an SSE-KMS object cannot be read anonymously), so it is no SSE-KMS object
    /// request.
    RecordFiltered S3_ANONYMOUS = "s3_anonymous_request";
    /// Outside `--since`/`--until`.
    RecordFiltered FILTER_TIME = "filter_since_until";
    /// Not an account `--account` names.
    RecordFiltered FILTER_ACCOUNT = "filter_account";
    /// Not a Region `--region` names.
    RecordFiltered FILTER_REGION = "filter_region";
    /// Not an event name `--event-name` names.
    RecordFiltered FILTER_EVENT_NAME = "filter_event_name";
    /// Not a principal `--principal` names.
    RecordFiltered FILTER_PRINCIPAL = "filter_principal";
    /// Not under a `--bucket-arn-prefix`.
    RecordFiltered FILTER_PREFIX = "filter_bucket_arn_prefix";
    /// Not a KMS key `--kms-key` names.
    RecordFiltered FILTER_KMS_KEY = "filter_kms_key";
    /// Its encryption context does not match `--context`.
    RecordFiltered FILTER_CONTEXT = "filter_context";
    /// The same eventID read before (a file delivered or synced twice, a trail and
    /// `lookup-events` output of the same events).
    RecordFiltered DUPLICATE = "duplicate_event_id";
    /// The same sharedEventID read before: one call or request delivered to two accounts (an
    /// organization trail, or a trail in each account).
    RecordFiltered DUPLICATE_SHARED = "duplicate_shared_event_id";

    /// Not JSON where a record was expected.
    RecordRejected NOT_JSON = "not_json";
    /// The text ends inside a record.
    RecordRejected TRUNCATED = "truncated";
    /// JSON that is not a CloudTrail record, a container of records, or a known document.
    RecordRejected NOT_CLOUDTRAIL = "not_cloudtrail";
    /// A record that is not valid JSON (or not UTF-8).
    RecordRejected INVALID_JSON = "invalid_json";
    /// A field of the wrong type (a number where a string belongs, ...).
    RecordRejected WRONG_FIELD_TYPE = "wrong_field_type";
    /// A field every record needs (eventSource, eventName, eventTime, an S3 request's object).
    RecordRejected MISSING_FIELD = "missing_field";
    /// An eventTime that is not a time.
    RecordRejected BAD_EVENT_TIME = "bad_event_time";
    /// An `aws:s3:arn` context value that is not an S3 ARN.
    RecordRejected BAD_S3_ARN = "bad_s3_arn";
}

/// The registered reason of this name.
pub fn get(name: &str) -> Option<&'static Reason> {
    ALL.iter().find(|r| r.name == name)
}

/// `docs/reasons.md`: every reason, by kind.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Reasons\n\nEvery file, document and record keytrail reads ends in the summary: used, or \
         counted under one of these names (`src/reason.rs` is the registry; a test keeps this \
         page equal to it). JSON reports print the names as they are.\n",
    );
    let kinds = [
        Kind::FileSkipped,
        Kind::FileProblem,
        Kind::DocumentSkipped,
        Kind::RecordFiltered,
        Kind::RecordRejected,
    ];
    for kind in kinds {
        out.push_str(&format!(
            "\n## {}\n\n| name | meaning |\n|---|---|\n",
            kind.title()
        ));
        for r in ALL.iter().filter(|r| r.kind == kind) {
            out.push_str(&format!("| `{}` | {} |\n", r.name, r.meaning.trim()));
        }
    }
    out
}

/// The records a user's own filters (`--since`, `--account`, ...) set aside, as opposed to
/// those set aside for what they are (another service, a duplicate, no SSE-KMS object).
pub const USER_FILTERS: &[&str] = &[
    FILTER_TIME,
    FILTER_ACCOUNT,
    FILTER_REGION,
    FILTER_EVENT_NAME,
    FILTER_PRINCIPAL,
    FILTER_PREFIX,
    FILTER_KMS_KEY,
    FILTER_CONTEXT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_filters_are_the_filter_reasons() {
        let named: Vec<&str> = ALL
            .iter()
            .filter(|r| r.name.starts_with("filter_"))
            .map(|r| r.name)
            .collect();
        assert_eq!(named, USER_FILTERS);
    }

    #[test]
    fn names_are_unique_snake_case_and_explained() {
        let mut names: Vec<&str> = ALL.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a name is registered twice");
        for r in ALL {
            assert!(
                r.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                r.name
            );
            assert!(r.meaning.trim().len() > 10, "{} is not explained", r.name);
        }
    }

    #[test]
    fn the_docs_page_lists_every_reason() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reasons.md");
        let want = markdown();
        if std::env::var_os("KEYTRAIL_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/reasons.md differs from the registry: regenerate with \
             KEYTRAIL_BLESS=1 cargo test reason"
        );
    }
}
