//! The lean CloudTrail record the analyzer reads, and its classification.
//!
//! [`RawRecord`] names only the fields keytrail uses, borrowing strings from the decoded text
//! whenever they hold no escapes. [`fast::parse`] reads most records into it without serde;
//! serde reads the rest, with the same result. [`classify`] turns one into an [`Event`]: a KMS
//! call made for S3 object traffic, an S3 object request, or a reason why the record is not one
//! of those. The cheap [`prefilter`] decides, without parsing, which records can possibly be
//! either, so the other 70 % of a typical trail is never parsed at all.

pub mod fast;

use crate::reason;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// A record as far as keytrail reads it. Unknown fields are ignored; fields it reads must have
/// the documented type, or the record is rejected with serde's message.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct RawRecord<'a> {
    #[serde(rename = "eventTime", borrow, deserialize_with = "opt_str", default)]
    pub event_time: Option<Cow<'a, str>>,
    /// Records shipped through Logstash lose `eventTime` to this.
    #[serde(rename = "@timestamp", borrow, deserialize_with = "opt_str", default)]
    pub logstash_time: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow, deserialize_with = "opt_str", default)]
    pub event_source: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow, deserialize_with = "opt_str", default)]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow, deserialize_with = "opt_str", default)]
    pub region: Option<Cow<'a, str>>,
    #[serde(rename = "eventID", borrow, deserialize_with = "opt_str", default)]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(rename = "errorCode", borrow, deserialize_with = "opt_str", default)]
    pub error_code: Option<Cow<'a, str>>,
    /// The same call logged in two accounts (cross-account key use) shares this.
    #[serde(
        rename = "sharedEventID",
        borrow,
        deserialize_with = "opt_str",
        default
    )]
    pub shared_event_id: Option<Cow<'a, str>>,
    #[serde(
        rename = "recipientAccountId",
        borrow,
        deserialize_with = "opt_str",
        default
    )]
    pub recipient_account: Option<Cow<'a, str>>,
    #[serde(
        rename = "eventCategory",
        borrow,
        deserialize_with = "opt_str",
        default
    )]
    pub category: Option<Cow<'a, str>>,
    #[serde(rename = "userIdentity", borrow)]
    pub identity: Option<Identity<'a>>,
    #[serde(rename = "requestParameters", borrow)]
    pub request: Option<Params<'a>>,
    #[serde(rename = "responseElements", borrow)]
    pub response: Option<Params<'a>>,
    #[serde(rename = "additionalEventData", borrow)]
    pub additional: Option<Additional<'a>>,
    #[serde(borrow)]
    pub resources: Option<Resources<'a>>,
    #[serde(rename = "insightDetails")]
    pub insight_details: Option<IgnoredAny>,
}

/// `userIdentity`.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct Identity<'a> {
    #[serde(borrow, deserialize_with = "opt_str", default)]
    pub arn: Option<Cow<'a, str>>,
    #[serde(rename = "accountId", borrow, deserialize_with = "opt_str", default)]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(rename = "principalId", borrow, deserialize_with = "opt_str", default)]
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(rename = "invokedBy", borrow, deserialize_with = "opt_str", default)]
    pub invoked_by: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, deserialize_with = "opt_str", default)]
    pub kind: Option<Cow<'a, str>>,
}

/// The union of the `requestParameters` and `responseElements` fields keytrail reads, for KMS
/// and S3 alike.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct Params<'a> {
    #[serde(rename = "encryptionContext", borrow)]
    pub encryption_context: Option<Context<'a>>,
    #[serde(rename = "keyId", borrow, deserialize_with = "opt_str", default)]
    pub key_id: Option<Cow<'a, str>>,
    #[serde(rename = "bucketName", borrow, deserialize_with = "opt_str", default)]
    pub bucket_name: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_str", default)]
    pub key: Option<Cow<'a, str>>,
    #[serde(
        rename = "x-amz-server-side-encryption",
        borrow,
        deserialize_with = "opt_str",
        default
    )]
    pub sse: Option<Cow<'a, str>>,
    #[serde(
        rename = "x-amz-server-side-encryption-aws-kms-key-id",
        borrow,
        deserialize_with = "opt_str",
        default
    )]
    pub sse_kms_key: Option<Cow<'a, str>>,
    #[serde(
        rename = "x-amz-server-side-encryption-bucket-key-enabled",
        default,
        deserialize_with = "bool_or_string"
    )]
    pub bucket_key_enabled: Option<bool>,
    #[serde(
        rename = "x-amz-copy-source",
        borrow,
        deserialize_with = "opt_str",
        default
    )]
    pub copy_source: Option<Cow<'a, str>>,
}

/// `additionalEventData`.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct Additional<'a> {
    #[serde(rename = "SSEApplied", borrow, deserialize_with = "opt_str", default)]
    pub sse_applied: Option<Cow<'a, str>>,
}

/// One entry of `resources[]`; `type` is missing in some records.
#[derive(Debug, Deserialize)]
pub struct Resource<'a> {
    #[serde(rename = "type", borrow, deserialize_with = "opt_str", default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(rename = "ARN", borrow, deserialize_with = "opt_str", default)]
    pub arn: Option<Cow<'a, str>>,
}

/// What keytrail needs of `resources[]`: the KMS key's ARN. Read without collecting the list.
#[derive(Debug, Default, PartialEq)]
pub struct Resources<'a> {
    pub kms_key: Option<Cow<'a, str>>,
}

impl<'a> Resources<'a> {
    /// Takes in one entry of the list: the first KMS key's ARN is kept.
    pub fn add(&mut self, kind: Option<&str>, arn: Option<Cow<'a, str>>) {
        let Some(arn) = arn else { return };
        let is_key = kind == Some("AWS::KMS::Key")
            || (kind.is_none() && arn.contains(":kms:") && arn.contains(":key/"));
        if is_key && self.kms_key.is_none() {
            self.kms_key = Some(arn);
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Resources<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Resources<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of resources")
            }
            fn visit_seq<S: de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<Resources<'a>, S::Error> {
                let mut out = Resources::default();
                while let Some(r) = seq.next_element::<Resource<'a>>()? {
                    out.add(r.kind.as_deref(), r.arn);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// Encryption-context pairs, in the order logged (one or two, almost always).
pub type Pairs<'a> = smallvec::SmallVec<[(Cow<'a, str>, Cow<'a, str>); 2]>;

/// An encryption context: string pairs, in the order logged.
#[derive(Debug, Default, PartialEq)]
pub struct Context<'a>(pub Pairs<'a>);

impl<'a> Context<'a> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Context<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Context<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string pairs")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Context<'a>, M::Error> {
                let mut pairs = Pairs::new();
                while let Some((k, v)) = map.next_entry::<Borrowed<'a>, Borrowed<'a>>()? {
                    pairs.push((k.0, v.0));
                }
                Ok(Context(pairs))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A string that borrows when it can (`Cow` alone always copies inside maps).
struct Borrowed<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Borrowed<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Borrowed<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Borrowed(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Borrowed(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// An optional string that borrows from the text when it holds no escapes. (serde's own
/// `Option<Cow<str>>` always copies, even with `#[serde(borrow)]`.)
fn opt_str<'de: 'a, 'a, D: de::Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<Borrowed<'a>>::deserialize(d)?.map(|b| b.0))
}

/// `x-amz-server-side-encryption-bucket-key-enabled` is logged as `true` or as `"true"`.
fn bool_or_string<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean, or \"true\" or \"false\"")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.eq_ignore_ascii_case("true")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
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
    /// The symmetric cryptographic operations that share the request quota (docs/domain.md 6).
    fn from_event_name(name: &str) -> Option<KmsOp> {
        Some(match name {
            "GenerateDataKey" => KmsOp::GenerateDataKey,
            "Decrypt" => KmsOp::Decrypt,
            "Encrypt" => KmsOp::Encrypt,
            "GenerateDataKeyWithoutPlaintext"
            | "ReEncrypt"
            | "ReEncryptFrom"
            | "ReEncryptTo"
            | "GenerateDataKeyPair"
            | "GenerateDataKeyPairWithoutPlaintext" => KmsOp::Other,
            _ => return None,
        })
    }
}

/// S3 object operations that can cause KMS calls.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum S3Op {
    PutObject,
    GetObject,
    CopyObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
}

impl S3Op {
    pub const ALL: [S3Op; 7] = [
        S3Op::PutObject,
        S3Op::GetObject,
        S3Op::CopyObject,
        S3Op::CreateMultipartUpload,
        S3Op::UploadPart,
        S3Op::UploadPartCopy,
        S3Op::CompleteMultipartUpload,
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
        }
    }
    fn from_event_name(name: &str) -> Option<S3Op> {
        Some(match name {
            // A browser POST upload is a PutObject as far as KMS is concerned.
            "PutObject" | "PostObject" => S3Op::PutObject,
            "GetObject" => S3Op::GetObject,
            "CopyObject" => S3Op::CopyObject,
            "CreateMultipartUpload" => S3Op::CreateMultipartUpload,
            "UploadPart" => S3Op::UploadPart,
            "UploadPartCopy" => S3Op::UploadPartCopy,
            "CompleteMultipartUpload" => S3Op::CompleteMultipartUpload,
            _ => return None,
        })
    }
}

/// How a failed request failed; failed requests still count, since they still spend quota.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Failure {
    #[default]
    None,
    Throttled,
    AccessDenied,
    Other,
}

impl Failure {
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
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Mode {
    BucketKey,
    PerObject,
    /// An S3 request with no KMS call and nothing else in the trail that tells its mode.
    #[default]
    Unknown,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::BucketKey => "bucket_key",
            Mode::PerObject => "per_object",
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
}

/// Parses and classifies one record's JSON text.
pub fn parse(text: &[u8]) -> Result<Event<'_>, NotUsed> {
    parse_with(text, false)
}

/// [`parse`], keeping KMS calls made for anything but S3 as [`Event::OtherKms`] when
/// `other_kms` (quota and cost count every caller).
pub fn parse_with(text: &[u8], other_kms: bool) -> Result<Event<'_>, NotUsed> {
    let raw = match fast::parse(text) {
        Some(raw) => raw,
        None => {
            // One UTF-8 check of the whole record (ASCII runs at memory speed) lets serde skip
            // its check of every key and string, which cost more than the rest of the parse.
            let text = std::str::from_utf8(text).map_err(|e| {
                NotUsed::Rejected(
                    reason::INVALID_JSON,
                    format!("not UTF-8 at byte {} of the record", e.valid_up_to()),
                )
            })?;
            serde_json::from_str(text).map_err(|e| {
                let kind = if e.is_data() {
                    reason::WRONG_FIELD_TYPE
                } else {
                    reason::INVALID_JSON
                };
                NotUsed::Rejected(kind, e.to_string())
            })?
        }
    };
    classify_with(raw, other_kms)
}

/// Classifies a parsed record.
pub fn classify(raw: RawRecord<'_>) -> Result<Event<'_>, NotUsed> {
    classify_with(raw, false)
}

/// [`classify`], keeping other KMS calls when `other_kms` (see [`parse_with`]).
pub fn classify_with(raw: RawRecord<'_>, other_kms: bool) -> Result<Event<'_>, NotUsed> {
    if raw.insight_details.is_some() || raw.category.as_deref() == Some("Insight") {
        return Err(NotUsed::Filtered(reason::INSIGHTS_RECORD));
    }
    if raw.category.as_deref() == Some("NetworkActivity") {
        return Err(NotUsed::Filtered(reason::NETWORK_ACTIVITY));
    }
    let source = raw.event_source.as_deref().ok_or_else(|| {
        NotUsed::Rejected(
            reason::MISSING_FIELD,
            "the record has no eventSource".into(),
        )
    })?;
    let is_kms = source == "kms.amazonaws.com";
    if !is_kms && source != "s3.amazonaws.com" {
        return Err(NotUsed::Filtered(reason::OTHER_SERVICE));
    }
    let name = raw.event_name.clone().ok_or_else(|| {
        NotUsed::Rejected(reason::MISSING_FIELD, "the record has no eventName".into())
    })?;
    if is_kms {
        classify_kms(raw, name, other_kms)
    } else {
        classify_s3(raw, name)
    }
}

fn common<'a>(raw: &RawRecord<'a>, name: Cow<'a, str>) -> Result<Common<'a>, NotUsed> {
    let time_text = raw
        .event_time
        .as_deref()
        .or(raw.logstash_time.as_deref())
        .ok_or_else(|| {
            NotUsed::Rejected(reason::MISSING_FIELD, "the record has no eventTime".into())
        })?;
    let time = parse_time(time_text).ok_or_else(|| {
        NotUsed::Rejected(
            reason::BAD_EVENT_TIME,
            format!("eventTime {time_text:?} is not a time"),
        )
    })?;
    let identity = raw.identity.as_ref();
    let requester = identity
        .and_then(|i| {
            i.arn
                .clone()
                .or_else(|| i.invoked_by.clone())
                .or_else(|| i.principal_id.clone())
        })
        .unwrap_or(Cow::Borrowed("(unknown)"));
    let account = raw
        .recipient_account
        .clone()
        .or_else(|| identity.and_then(|i| i.account_id.clone()))
        .unwrap_or(Cow::Borrowed("(unknown)"));
    let caller_account = identity
        .and_then(|i| i.account_id.clone())
        .unwrap_or_else(|| account.clone());
    Ok(Common {
        time,
        event_id: raw.event_id.clone().unwrap_or(Cow::Borrowed("")),
        event_name: name,
        caller_account,
        shared_event_id: raw.shared_event_id.clone(),
        invoked_by: identity.and_then(|i| i.invoked_by.clone()),
        account,
        region: raw.region.clone().unwrap_or(Cow::Borrowed("(unknown)")),
        requester,
        failure: Failure::from_code(raw.error_code.as_deref()),
    })
}

fn classify_kms<'a>(
    raw: RawRecord<'a>,
    name: Cow<'a, str>,
    other_kms: bool,
) -> Result<Event<'a>, NotUsed> {
    let op = KmsOp::from_event_name(&name).ok_or(NotUsed::Filtered(reason::KMS_OTHER_OPERATION))?;
    let common = common(&raw, name)?;
    let mut request = raw.request.unwrap_or_default();
    let context = request.encryption_context.take().unwrap_or_default();
    let aws_managed = request
        .key_id
        .as_deref()
        .is_some_and(|k| k.starts_with("alias/aws/") || k.contains(":alias/aws/"));
    let kms_key = request
        .key_id
        .take()
        .filter(|k| k.starts_with("arn:") && k.contains(":key/"))
        .or_else(|| raw.resources.and_then(|r| r.kms_key));
    let s3_arn = match context.0.iter().find(|(k, _)| k == "aws:s3:arn") {
        Some((_, arn)) if context.get("aws:cloudtrail:arn").is_none() => arn,
        _ => {
            let why = if context.get("aws:cloudtrail:arn").is_some() {
                reason::CLOUDTRAIL_LOG_ENCRYPTION
            } else {
                reason::KMS_NOT_S3
            };
            if !other_kms {
                return Err(NotUsed::Filtered(why));
            }
            return Ok(Event::OtherKms(OtherKmsCall {
                common,
                op,
                kms_key,
                context_key: context.0.first().map(|(k, _)| k.clone()),
                reason: why,
                aws_managed,
            }));
        }
    };
    let Some(after) = s3_arn.find(":::").map(|i| i + 3) else {
        return Err(NotUsed::Rejected(
            reason::BAD_S3_ARN,
            format!("aws:s3:arn {s3_arn:?} is not an S3 ARN"),
        ));
    };
    // Slices of the context value: no copies unless it held escapes.
    let (bucket, key, bucket_arn) = match s3_arn[after..].find('/') {
        Some(slash) => (
            sub(s3_arn, after..after + slash),
            Some(sub(s3_arn, after + slash + 1..s3_arn.len())),
            sub(s3_arn, 0..after + slash),
        ),
        None => (sub(s3_arn, after..s3_arn.len()), None, s3_arn.clone()),
    };
    Ok(Event::Kms(KmsCall {
        common,
        op,
        mode: if key.is_some() {
            Mode::PerObject
        } else {
            Mode::BucketKey
        },
        bucket_arn,
        bucket,
        key,
        kms_key,
        context: context.0,
        aws_managed,
    }))
}

fn classify_s3<'a>(raw: RawRecord<'a>, name: Cow<'a, str>) -> Result<Event<'a>, NotUsed> {
    let Some(op) = S3Op::from_event_name(&name) else {
        let data = raw.category.as_deref() == Some("Data") || is_object_level(&name);
        return Err(NotUsed::Filtered(if data {
            reason::S3_DATA_NO_KMS
        } else {
            reason::S3_MANAGEMENT
        }));
    };
    let common = common(&raw, name)?;
    let request = raw.request.unwrap_or_default();
    let response = raw.response.unwrap_or_default();
    let sse = response.sse.as_deref().or(request.sse.as_deref());
    let applied = raw
        .additional
        .as_ref()
        .and_then(|a| a.sse_applied.as_deref());
    let not_kms = matches!(sse, Some(s) if !s.starts_with("aws:kms"))
        || matches!(applied, Some(a) if !a.ends_with("SSE_KMS"));
    if not_kms {
        return Err(NotUsed::Filtered(reason::S3_NOT_SSE_KMS));
    }
    let (Some(bucket), Some(key)) = (request.bucket_name, request.key) else {
        return Err(NotUsed::Rejected(
            reason::MISSING_FIELD,
            "an S3 object request without requestParameters.bucketName and key".into(),
        ));
    };
    let partition = partition_of(&common.region);
    let source = request.copy_source.as_deref().and_then(parse_copy_source);
    Ok(Event::S3(S3Request {
        common,
        op,
        bucket,
        key,
        partition,
        kms_key: response.sse_kms_key.or(request.sse_kms_key),
        // S3 answers a write with the bucket-key header only when a bucket key was used, and
        // DSSE-KMS never uses one.
        bucket_key: if response.sse.as_deref() == Some("aws:kms:dsse") {
            Some(false)
        } else {
            response
                .bucket_key_enabled
                .or(request.bucket_key_enabled)
                .or(response.sse.as_ref().map(|_| false))
        },
        source,
    }))
}

/// A part of a string that borrows when the whole does.
fn sub<'a>(s: &Cow<'a, str>, range: std::ops::Range<usize>) -> Cow<'a, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(&b[range]),
        Cow::Owned(o) => Cow::Owned(o[range].to_string()),
    }
}

/// S3 data-event names of old records that carry no `eventCategory`.
fn is_object_level(name: &str) -> bool {
    name.ends_with("Object")
        || name.ends_with("Objects")
        || name.ends_with("ObjectV2")
        || name.contains("MultipartUpload")
        || name.starts_with("GetObject")
        || name.starts_with("PutObject")
}

/// The account in an ARN: an IAM or STS one (`arn:aws:sts::111122223333:assumed-role/R/s`),
/// a KMS key's (`arn:aws:kms:us-east-1:111122223333:key/...`). `None` without a 12-digit
/// account.
pub fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    let account = parts.nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The ARN prefix of S3 in a Region's partition.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "arn:aws-cn:s3:::"
    } else if region.starts_with("us-gov-") {
        "arn:aws-us-gov:s3:::"
    } else {
        "arn:aws:s3:::"
    }
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=...]`, percent-encoded as a URL path is
/// (so a `+` is a plus sign, not a space).
fn parse_copy_source(s: &str) -> Option<(String, String)> {
    let s = s.strip_prefix('/').unwrap_or(s);
    let s = s.split_once("?versionId=").map_or(s, |(p, _)| p);
    let (bucket, key) = s.split_once('/')?;
    Some((bucket.to_string(), percent_decode(key)))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

    #[test]
    fn a_field_of_the_wrong_type_is_rejected_naming_it() {
        let text = S3_GDK.replace(r#""awsRegion":"us-east-1""#, r#""awsRegion":7"#);
        let NotUsed::Rejected(kind, msg) = parse(text.as_bytes()).unwrap_err() else {
            panic!()
        };
        assert_eq!(kind, reason::WRONG_FIELD_TYPE);
        assert!(msg.contains("invalid type"), "{msg}");
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

    #[test]
    fn copy_sources_are_decoded() {
        assert_eq!(
            parse_copy_source("/src-bkt/dir/a%20b.txt?versionId=1"),
            Some(("src-bkt".into(), "dir/a b.txt".into()))
        );
        // A path is not a form: `+` is a plus sign, and only `%2B` encodes one too.
        assert_eq!(
            parse_copy_source("src-bkt/c%2B%2B/a+b.txt"),
            Some(("src-bkt".into(), "c++/a+b.txt".into()))
        );
    }
}
