//! The lean CloudTrail record the analyzer reads, and its classification.
//!
//! [`RawRecord`] names only the fields keytrail uses, borrowing strings from the decoded text
//! whenever they hold no escapes. [`fast::parse`] reads most records into it without serde;
//! serde reads the rest, with the same result. [`classify`] turns one into an [`Event`]: a KMS
//! call made for S3 object traffic, an S3 object request, or a reason why the record is not one
//! of those. The cheap [`prefilter`] decides, without parsing, which records can possibly be
//! either, so the other 70 % of a typical trail is never parsed at all.

mod classify;
pub mod fast;
mod raw;

pub use classify::{
    arn_account, classify, classify_with, partition_of, DEFAULT_PARTITION, PARTITIONS,
};
pub use raw::{Additional, Context, Identity, Pairs, Params, RawRecord, Resource, Resources};

use crate::reason;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The cheap text test run before parsing: can this record be a KMS or S3 event? It must never
/// say no to one that is: it answers yes unless every `"eventSource"` in the record has a plain
/// string value naming another service.
pub fn prefilter(record: &[u8], finder: &memchr::memmem::Finder) -> bool {
    let mut seen = false;
    for at in finder.find_iter(record) {
        seen = true;
        let mut i = at + finder.needle().len();
        while let Some(b' ' | b'\t' | b'\r' | b'\n' | b':') = record.get(i) {
            i += 1;
        }
        let value = &record[i.min(record.len())..];
        if value.starts_with(b"\"kms.amazonaws.com\"") || value.starts_with(b"\"s3.amazonaws.com\"")
        {
            return true;
        }
        let closing = value.get(1..).and_then(|v| memchr::memchr2(b'"', b'\\', v));
        match closing {
            Some(n) if value[0] == b'"' && value[1 + n] == b'"' => {}
            _ => return true, // not a plain string: let the parser decide
        }
    }
    // No eventSource at all: an Insights record, or not CloudTrail. The parser says which.
    !seen
}

/// The needle [`prefilter`] searches for.
pub const EVENT_SOURCE_NEEDLE: &[u8] = b"\"eventSource\"";

/// KMS operations in the report's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KmsOp {
    GenerateDataKey,
    Decrypt,
    Encrypt,
    /// ReEncrypt*, GenerateDataKeyWithoutPlaintext and the other symmetric operations.
    Other,
}

impl KmsOp {
    pub const ALL: [KmsOp; 4] = [
        KmsOp::GenerateDataKey,
        KmsOp::Decrypt,
        KmsOp::Encrypt,
        KmsOp::Other,
    ];
    pub fn name(self) -> &'static str {
        match self {
            KmsOp::GenerateDataKey => "GenerateDataKey",
            KmsOp::Decrypt => "Decrypt",
            KmsOp::Encrypt => "Encrypt",
            KmsOp::Other => "OtherKms",
        }
    }
    /// The CloudTrail event names of the symmetric cryptographic operations that share the
    /// request quota (docs/domain.md 6). GenerateDataKeyPair(WithoutPlaintext) is not here: it
    /// has request quotas of its own, per key pair spec, and is not S3's (KMS request quotas
    /// page).
    pub const EVENT_NAMES: [(&'static str, KmsOp); 10] = [
        ("GenerateDataKey", KmsOp::GenerateDataKey),
        ("Decrypt", KmsOp::Decrypt),
        ("Encrypt", KmsOp::Encrypt),
        ("GenerateDataKeyWithoutPlaintext", KmsOp::Other),
        ("ReEncrypt", KmsOp::Other),
        ("ReEncryptFrom", KmsOp::Other),
        ("ReEncryptTo", KmsOp::Other),
        ("GenerateMac", KmsOp::Other),
        ("VerifyMac", KmsOp::Other),
        ("GenerateRandom", KmsOp::Other),
    ];

    fn from_event_name(name: &str) -> Option<KmsOp> {
        Self::EVENT_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, op)| op)
    }
}

/// S3 object operations that can cause KMS calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum S3Op {
    PutObject,
    GetObject,
    CopyObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    /// S3 Select: S3 reads (decrypts) the object to filter it.
    SelectObjectContent,
}

impl S3Op {
    /// Whether the operation writes its object (and so its response names how it is
    /// encrypted): PutObject, CopyObject (its destination), CreateMultipartUpload,
    /// CompleteMultipartUpload.
    pub fn writes(self) -> bool {
        matches!(
            self,
            S3Op::PutObject
                | S3Op::CopyObject
                | S3Op::CreateMultipartUpload
                | S3Op::CompleteMultipartUpload
        )
    }

    pub const ALL: [S3Op; 8] = [
        S3Op::PutObject,
        S3Op::GetObject,
        S3Op::CopyObject,
        S3Op::CreateMultipartUpload,
        S3Op::UploadPart,
        S3Op::UploadPartCopy,
        S3Op::CompleteMultipartUpload,
        S3Op::SelectObjectContent,
    ];
    pub fn name(self) -> &'static str {
        match self {
            S3Op::PutObject => "PutObject",
            S3Op::GetObject => "GetObject",
            S3Op::CopyObject => "CopyObject",
            S3Op::CreateMultipartUpload => "CreateMultipartUpload",
            S3Op::UploadPart => "UploadPart",
            S3Op::UploadPartCopy => "UploadPartCopy",
            S3Op::CompleteMultipartUpload => "CompleteMultipartUpload",
            S3Op::SelectObjectContent => "SelectObjectContent",
        }
    }
    /// The CloudTrail event names of the operations. A browser POST upload is a PutObject as
    /// far as KMS is concerned. RestoreObject (an archived object restored in place) keeps the
    /// object's data key: S3 documents no KMS use for it, so it is a data event without KMS.
    pub const EVENT_NAMES: [(&'static str, S3Op); 9] = [
        ("PutObject", S3Op::PutObject),
        ("PostObject", S3Op::PutObject),
        ("GetObject", S3Op::GetObject),
        ("CopyObject", S3Op::CopyObject),
        ("CreateMultipartUpload", S3Op::CreateMultipartUpload),
        ("UploadPart", S3Op::UploadPart),
        ("UploadPartCopy", S3Op::UploadPartCopy),
        ("CompleteMultipartUpload", S3Op::CompleteMultipartUpload),
        ("SelectObjectContent", S3Op::SelectObjectContent),
    ];

    fn from_event_name(name: &str) -> Option<S3Op> {
        Self::EVENT_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, op)| op)
    }
}

/// How a failed request failed; failed requests still count, since they still spend quota.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum Failure {
    #[default]
    None,
    Throttled,
    AccessDenied,
    Other,
}

impl Failure {
    pub const ALL: [Failure; 4] = [
        Failure::None,
        Failure::Throttled,
        Failure::AccessDenied,
        Failure::Other,
    ];

    fn from_code(code: Option<&str>) -> Failure {
        match code {
            None | Some("") => Failure::None,
            Some(c) if c.contains("Throttl") || c == "SlowDown" => Failure::Throttled,
            Some(c) if c.contains("AccessDenied") => Failure::AccessDenied,
            Some(_) => Failure::Other,
        }
    }
}

/// Whether a KMS call's encryption context names an object (per-object key) or only its bucket
/// (bucket key). Read off the context's shape, never off the bucket's setting (docs/domain.md 3).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum Mode {
    BucketKey,
    PerObject,
    /// DSSE-KMS (`aws:kms:dsse`): two layers, a KMS call on every request, and S3 does not
    /// use bucket keys with it (S3 user guide, bucket keys).
    Dsse,
    /// An S3 request with no KMS call and nothing else in the trail that tells its mode.
    #[default]
    Unknown,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::BucketKey, Mode::PerObject, Mode::Dsse, Mode::Unknown];

    pub fn name(self) -> &'static str {
        match self {
            Mode::BucketKey => "bucket_key",
            Mode::PerObject => "per_object",
            Mode::Dsse => "dsse",
            Mode::Unknown => "unknown",
        }
    }
}

/// Fields common to both kinds of event.
#[derive(Debug, Clone)]
pub struct Common<'a> {
    /// Seconds since the Unix epoch.
    pub time: i64,
    pub event_id: Cow<'a, str>,
    pub event_name: Cow<'a, str>,
    /// The account the event was logged for (`recipientAccountId`, else the caller's).
    pub account: Cow<'a, str>,
    pub region: Cow<'a, str>,
    /// Who made the S3 request (for KMS calls S3 made, the S3 requester): an IAM ARN.
    pub requester: Cow<'a, str>,
    pub failure: Failure,
    /// The caller's own account (`userIdentity.accountId`, else [`Common::account`]): the
    /// account a KMS request is billed to and counts against.
    pub caller_account: Cow<'a, str>,
    /// `sharedEventID`: one call logged in two accounts.
    pub shared_event_id: Option<Cow<'a, str>>,
    /// The service that made the call for the requester (`userIdentity.invokedBy`).
    pub invoked_by: Option<Cow<'a, str>>,
}

/// A KMS call made for S3 object traffic.
#[derive(Debug, Clone)]
pub struct KmsCall<'a> {
    pub common: Common<'a>,
    pub op: KmsOp,
    pub mode: Mode,
    /// The bucket ARN (`arn:aws:s3:::bucket`).
    pub bucket_arn: Cow<'a, str>,
    pub bucket: Cow<'a, str>,
    /// The object key, in per-object mode.
    pub key: Option<Cow<'a, str>>,
    /// The KMS key ARN, from `keyId` when it is an ARN, else from `resources[]`.
    pub kms_key: Option<Cow<'a, str>>,
    /// The whole encryption context, for `--context` and `--group-by context:KEY`.
    pub context: Pairs<'a>,
    /// The request named the key by an AWS managed alias (`alias/aws/s3`).
    pub aws_managed: bool,
}

/// A symmetric KMS call made for anything but S3 objects (another service, an application,
/// CloudTrail's own log encryption). It spends the same request quota and is billed the same.
#[derive(Debug, Clone)]
pub struct OtherKmsCall<'a> {
    pub common: Common<'a>,
    pub op: KmsOp,
    pub kms_key: Option<Cow<'a, str>>,
    /// The first key of its encryption context (`aws:lambda:FunctionArn`, ...), if any.
    pub context_key: Option<Cow<'a, str>>,
    /// Why `analyze` leaves it out ([`reason::KMS_NOT_S3`] or
    /// [`reason::CLOUDTRAIL_LOG_ENCRYPTION`]).
    pub reason: &'static str,
    pub aws_managed: bool,
}

/// An S3 object request.
#[derive(Debug, Clone)]
pub struct S3Request<'a> {
    pub common: Common<'a>,
    pub op: S3Op,
    pub bucket: Cow<'a, str>,
    pub key: Cow<'a, str>,
    /// `arn:<partition>:s3:::`, so object and bucket ARNs can be written.
    pub partition: &'static str,
    /// The KMS key named by the request's or response's SSE headers.
    pub kms_key: Option<Cow<'a, str>>,
    /// `x-amz-server-side-encryption-bucket-key-enabled`, from the response or the request.
    pub bucket_key: Option<bool>,
    /// The SSE headers say DSSE-KMS (`aws:kms:dsse`).
    pub dsse: bool,
    /// For CopyObject and UploadPartCopy: the source bucket and key.
    pub source: Option<(String, String)>,
}

/// What a record turned out to be.
#[derive(Debug)]
pub enum Event<'a> {
    Kms(KmsCall<'a>),
    S3(S3Request<'a>),
    /// Only from [`parse_with`] with `other_kms`; otherwise filtered out with its reason.
    OtherKms(OtherKmsCall<'a>),
}

impl<'a> Event<'a> {
    pub fn common(&self) -> &Common<'a> {
        match self {
            Event::Kms(k) => &k.common,
            Event::S3(s) => &s.common,
            Event::OtherKms(o) => &o.common,
        }
    }
}

/// Why a record is not used. `Filtered` reasons are normal traffic; `Rejected` ones are bad
/// input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotUsed {
    Filtered(&'static str),
    Rejected(&'static str, String),
    /// An S3 request the trail shows is not SSE-KMS (SSE-S3, SSE-C), filtered as
    /// [`reason::S3_NOT_SSE_KMS`] once it is deduplicated (its IDs); a successful write names
    /// the object it wrote, so that later reads of it are set apart too
    /// ([`reason::S3_READ_OF_NON_KMS_OBJECT`]).
    NotSseKms {
        time: i64,
        bucket: Option<String>,
        key: Option<String>,
        write: bool,
        event_id: String,
        shared_event_id: Option<String>,
    },
}

/// Parses and classifies one record's JSON text.
pub fn parse(text: &[u8]) -> Result<Event<'_>, NotUsed> {
    parse_with(text, false)
}

/// [`parse`], keeping KMS calls made for anything but S3 as [`Event::OtherKms`] when
/// `other_kms` (quota and cost count every caller).
pub fn parse_with(text: &[u8], other_kms: bool) -> Result<Event<'_>, NotUsed> {
    // Filled where it lies, and classified by reference: a record is about a kilobyte.
    let mut raw = RawRecord::default();
    if fast::parse_into(text, &mut raw).is_none() {
        raw = {
            // One UTF-8 check of the whole record (ASCII runs at memory speed) lets serde skip
            // its check of every key and string, which cost more than the rest of the parse.
            let text = std::str::from_utf8(text).map_err(|e| {
                NotUsed::Rejected(
                    reason::INVALID_JSON,
                    format!("not UTF-8 at byte {} of the record", e.valid_up_to()),
                )
            })?;
            serde_json::from_str(text).map_err(|e| {
                if e.is_data() {
                    let msg = wrong_type(text).unwrap_or_else(|| e.to_string());
                    NotUsed::Rejected(reason::WRONG_FIELD_TYPE, msg)
                } else {
                    NotUsed::Rejected(reason::INVALID_JSON, e.to_string())
                }
            })?
        };
    }
    classify_with(&mut raw, other_kms)
}

/// The fields of a record keytrail reads, and the JSON type CloudTrail writes each as.
pub const FIELD_TYPES: &[(&str, &str)] = &[
    ("eventSource", "string"),
    ("eventName", "string"),
    ("eventTime", "string"),
    ("awsRegion", "string"),
    ("eventID", "string"),
    ("sharedEventID", "string"),
    ("recipientAccountId", "string"),
    ("errorCode", "string"),
    ("eventCategory", "string"),
    ("eventType", "string"),
    ("userIdentity", "object"),
    ("userIdentity.type", "string"),
    ("userIdentity.arn", "string"),
    ("userIdentity.accountId", "string"),
    ("userIdentity.principalId", "string"),
    ("userIdentity.invokedBy", "string"),
    ("requestParameters", "object"),
    ("requestParameters.bucketName", "string"),
    ("requestParameters.key", "string"),
    ("requestParameters.keyId", "string"),
    ("requestParameters.encryptionContext", "object"),
    ("additionalEventData", "object"),
    ("responseElements", "object"),
    ("resources", "array"),
];

/// For a record serde refused as the wrong shape: the first field keytrail reads whose JSON
/// type is not the one CloudTrail writes, said in the user's words ("eventTime is a number
/// (5), where CloudTrail writes a string").
fn wrong_type(text: &str) -> Option<String> {
    let record: serde_json::Value = serde_json::from_str(text).ok()?;
    if !record.is_object() {
        return Some(format!(
            "the record is {}, not an object",
            json_type(&record).1
        ));
    }
    for (path, want) in FIELD_TYPES {
        let Some(value) = path.split('.').try_fold(&record, |v, key| v.get(key)) else {
            continue;
        };
        let (got, shown) = json_type(value);
        if got != *want && got != "null" {
            return Some(format!(
                "{path} is {shown}, where CloudTrail writes {} {want}",
                if *want == "object" || *want == "array" {
                    "an"
                } else {
                    "a"
                }
            ));
        }
    }
    None
}

/// A JSON value's type, and the value described for a message.
fn json_type(v: &serde_json::Value) -> (&'static str, String) {
    use serde_json::Value as V;
    let short = |s: String| {
        if s.len() > 40 {
            format!("{}...", s.chars().take(40).collect::<String>())
        } else {
            s
        }
    };
    match v {
        V::Null => ("null", "null".into()),
        V::Bool(b) => ("boolean", format!("a boolean ({b})")),
        V::Number(n) => ("number", format!("a number ({n})")),
        V::String(s) => ("string", format!("a string ({})", short(format!("{s:?}")))),
        V::Array(_) => ("array", "an array".into()),
        V::Object(_) => ("object", "an object".into()),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// Parses `eventTime` (`2021-10-26T23:41:27Z`, or any RFC 3339 time) to Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() == 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[19] == b'Z' {
        let n = |r: std::ops::Range<usize>| -> Option<u32> {
            let t = s.get(r)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        let date = chrono::NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)?;
        let time = chrono::NaiveTime::from_hms_opt(n(11..13)?, n(14..16)?, n(17..19)?)?;
        return Some(date.and_time(time).and_utc().timestamp());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3_GDK: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole",
        "arn":"arn:aws:sts::111122223333:assumed-role/Admins/alice","accountId":"111122223333",
        "invokedBy":"s3.amazonaws.com"},"eventTime":"2024-03-01T10:00:00Z",
        "eventSource":"kms.amazonaws.com","eventName":"GenerateDataKey","awsRegion":"us-east-1",
        "requestParameters":{"encryptionContext":{"aws:s3:arn":"arn:aws:s3:::bkt/a/b.txt"},
        "keySpec":"AES_256","keyId":"alias/x"},"responseElements":null,"eventID":"e1",
        "resources":[{"accountId":"111122223333","type":"AWS::KMS::Key",
        "ARN":"arn:aws:kms:us-east-1:111122223333:key/k1"}],"recipientAccountId":"111122223333"}"#;

    #[test]
    fn an_s3_generate_data_key_is_a_per_object_kms_call_with_the_key_from_resources() {
        let Ok(Event::Kms(k)) = parse(S3_GDK.as_bytes()) else {
            panic!()
        };
        assert_eq!(k.op, KmsOp::GenerateDataKey);
        assert_eq!(k.mode, Mode::PerObject);
        assert_eq!(k.bucket, "bkt");
        assert_eq!(k.bucket_arn, "arn:aws:s3:::bkt");
        assert_eq!(k.key.as_deref(), Some("a/b.txt"));
        assert_eq!(
            k.kms_key.as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/k1")
        );
        assert_eq!(k.common.time, 1709287200);
        assert_eq!(
            k.common.requester,
            "arn:aws:sts::111122223333:assumed-role/Admins/alice"
        );
    }

    #[test]
    fn a_bucket_arn_context_is_a_bucket_key_call() {
        let text = S3_GDK.replace("arn:aws:s3:::bkt/a/b.txt", "arn:aws:s3:::bkt");
        let Ok(Event::Kms(k)) = parse(text.as_bytes()) else {
            panic!()
        };
        assert_eq!(k.mode, Mode::BucketKey);
        assert_eq!(k.key, None);
    }

    #[test]
    fn cloudtrail_log_encryption_is_filtered_with_its_own_reason() {
        let text = S3_GDK.replace(
            r#"{"aws:s3:arn""#,
            r#"{"aws:cloudtrail:arn":"arn:aws:cloudtrail:us-east-1:1:trail/t","aws:s3:arn""#,
        );
        assert_eq!(
            parse(text.as_bytes()).unwrap_err(),
            NotUsed::Filtered(reason::CLOUDTRAIL_LOG_ENCRYPTION)
        );
    }

    /// The quota page: GenerateDataKeyPair has request quotas of its own; GenerateMac, VerifyMac
    /// and GenerateRandom share the symmetric one.
    #[test]
    fn only_operations_of_the_symmetric_quota_are_kms_calls() {
        let named = |name: &str| {
            let text = S3_GDK.replace(
                r#""eventName":"GenerateDataKey""#,
                &format!(r#""eventName":"{name}""#),
            );
            assert!(text.contains(name), "the sample names GenerateDataKey");
            parse_with(text.as_bytes(), true).map(|e| match e {
                Event::Kms(k) => k.op,
                Event::OtherKms(o) => o.op,
                Event::S3(_) => unreachable!("a KMS record"),
            })
        };
        for pair in [
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "Sign",
        ] {
            assert_eq!(
                named(pair),
                Err(NotUsed::Filtered(reason::KMS_OTHER_OPERATION)),
                "{pair}"
            );
        }
        for other in ["GenerateMac", "VerifyMac", "GenerateRandom", "ReEncrypt"] {
            assert_eq!(named(other), Ok(KmsOp::Other), "{other}");
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_rejected_naming_it() {
        let text = S3_GDK.replace(r#""awsRegion":"us-east-1""#, r#""awsRegion":7"#);
        let NotUsed::Rejected(kind, msg) = parse(text.as_bytes()).unwrap_err() else {
            panic!()
        };
        assert_eq!(kind, reason::WRONG_FIELD_TYPE);
        assert_eq!(
            msg,
            "awsRegion is a number (7), where CloudTrail writes a string"
        );
        let text = S3_GDK.replace(
            r#""userIdentity":{"#,
            r#""userIdentity":{"principalId":["x"],"#,
        );
        let NotUsed::Rejected(_, msg) = parse(text.as_bytes()).unwrap_err() else {
            panic!()
        };
        assert_eq!(
            msg,
            "userIdentity.principalId is an array, where CloudTrail writes a string"
        );
    }

    #[test]
    fn the_prefilter_never_drops_a_kms_or_s3_record() {
        let f = memchr::memmem::Finder::new(EVENT_SOURCE_NEEDLE);
        assert!(prefilter(S3_GDK.as_bytes(), &f));
        assert!(prefilter(br#"{"eventSource" : "s3.amazonaws.com"}"#, &f));
        assert!(prefilter(
            br#"{"eventSource":"kms\u002eamazonaws.com"}"#,
            &f
        ));
        assert!(prefilter(br#"{"eventName":"x"}"#, &f));
        assert!(!prefilter(br#"{"eventSource":"ec2.amazonaws.com"}"#, &f));
        // A nested eventSource that names another service does not hide the record's own.
        let nested_first = br#"{"userIdentity":{"eventSource":"ec2.amazonaws.com"},"eventSource":"kms.amazonaws.com"}"#;
        assert!(prefilter(nested_first, &f));
        let in_a_string =
            br#"{"a":"\"eventSource\":\"ec2.amazonaws.com\"","eventSource":"s3.amazonaws.com"}"#;
        assert!(prefilter(in_a_string, &f));
    }

    #[test]
    fn bucket_key_enabled_is_read_as_bool_or_string() {
        for v in [r#"true"#, r#""true""#, r#""TRUE""#] {
            let text = format!(r#"{{"x-amz-server-side-encryption-bucket-key-enabled":{v}}}"#);
            let p: Params = serde_json::from_str(&text).unwrap();
            assert_eq!(p.bucket_key_enabled, Some(true));
        }
    }

    #[test]
    fn times_parse_fast_and_in_rfc3339() {
        assert_eq!(parse_time("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(parse_time("1970-01-01T00:00:10.5+00:00"), Some(10));
        assert_eq!(parse_time("2025-10-21TT00:52:27Z"), None);
        assert_eq!(parse_time("2025-13-01T00:00:00Z"), None);
    }
}
