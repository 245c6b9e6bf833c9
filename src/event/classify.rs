//! One record -> an [`Event`], or the reason it is not one: the shape of the encryption context
//! says whether a KMS call was made for an S3 object or its bucket (bucket key); the SSE
//! headers and `SSEApplied` say whether an S3 request is SSE-KMS.

use super::raw::RawRecord;
use super::{
    parse_time, Common, Event, Failure, KmsCall, KmsOp, Mode, NotUsed, OtherKmsCall, S3Op,
    S3Request,
};
use crate::reason;
use std::borrow::Cow;

/// Classifies a parsed record.
pub fn classify(mut raw: RawRecord<'_>) -> Result<Event<'_>, NotUsed> {
    classify_with(&mut raw, false)
}

/// [`classify`], keeping other KMS calls when `other_kms` (see [`super::parse_with`]).
/// Takes what the event keeps out of `raw`.
pub fn classify_with<'a>(raw: &mut RawRecord<'a>, other_kms: bool) -> Result<Event<'a>, NotUsed> {
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
    // Who made the request: its IAM ARN; else its principal ID (another account's caller, some
    // federated identities), which the S3 request and the KMS call S3 made for it both carry;
    // else, for a service's own call, the service. A call S3 made names S3 in `invokedBy`, so
    // that comes after the caller's own identity.
    let requester = identity
        .and_then(|i| {
            i.arn
                .clone()
                .or_else(|| i.principal_id.clone())
                .or_else(|| i.invoked_by.clone())
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
    raw: &mut RawRecord<'a>,
    name: Cow<'a, str>,
    other_kms: bool,
) -> Result<Event<'a>, NotUsed> {
    let op = KmsOp::from_event_name(&name).ok_or(NotUsed::Filtered(reason::KMS_OTHER_OPERATION))?;
    let common = common(raw, name)?;
    let mut request = raw.request.take().unwrap_or_default();
    let context = request.encryption_context.take().unwrap_or_default();
    let aws_managed = request
        .key_id
        .as_deref()
        .is_some_and(|k| k.starts_with("alias/aws/") || ALIAS_AWS.find(k.as_bytes()).is_some());
    let kms_key = request
        .key_id
        .take()
        .filter(|k| k.starts_with("arn:") && KEY.find(k.as_bytes()).is_some())
        .or_else(|| raw.resources.take().and_then(|r| r.kms_key));
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
    let Some(after) = resource_start(s3_arn) else {
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

fn classify_s3<'a>(raw: &mut RawRecord<'a>, name: Cow<'a, str>) -> Result<Event<'a>, NotUsed> {
    let Some(op) = S3Op::from_event_name(&name) else {
        let data = raw.category.as_deref() == Some("Data") || is_object_level(&name);
        return Err(NotUsed::Filtered(if data {
            reason::S3_DATA_NO_KMS
        } else {
            reason::S3_MANAGEMENT
        }));
    };
    if raw
        .identity
        .as_ref()
        .is_some_and(|i| i.kind.as_deref() == Some("AnonymousPrincipal"))
    {
        return Err(NotUsed::Filtered(reason::S3_ANONYMOUS));
    }
    let common = common(raw, name)?;
    let request = raw.request.take().unwrap_or_default();
    let response = raw.response.take().unwrap_or_default();
    let sse = response.sse.as_deref().or(request.sse.as_deref());
    let applied = raw
        .additional
        .as_ref()
        .and_then(|a| a.sse_applied.as_deref());
    // SSE-C shows as its customer-algorithm header alone.
    let customer_key =
        request.sse_customer_algorithm.is_some() || response.sse_customer_algorithm.is_some();
    let not_kms = matches!(sse, Some(s) if !s.starts_with("aws:kms"))
        || matches!(applied, Some(a) if !a.ends_with("SSE_KMS"))
        || (customer_key && sse.is_none());
    // The bucket and key as the resources name them: a request through an access point names
    // the access point (alias or ARN) in `bucketName`, and some records carry the object only
    // in `resources[]`.
    let resources = raw.resources.take().unwrap_or_default();
    let from_object = resources.s3_object.as_ref().and_then(|arn| {
        let after = resource_start(arn)?;
        let slash = after + arn[after..].find('/')?;
        Some((sub(arn, after..slash), sub(arn, slash + 1..arn.len())))
    });
    let from_bucket = resources.s3_bucket.as_ref().and_then(|arn| {
        let after = resource_start(arn)?;
        (!arn[after..].contains('/')).then(|| sub(arn, after..arn.len()))
    });
    let bucket = from_object
        .as_ref()
        .map(|(b, _)| b.clone())
        .or(from_bucket)
        .or(request.bucket_name);
    let key = request.key.or(from_object.map(|(_, k)| k));
    if not_kms {
        let writes = op.writes();
        return Err(NotUsed::NotSseKms {
            time: common.time,
            bucket: bucket.map(Cow::into_owned),
            key: key.map(Cow::into_owned),
            write: writes && common.failure == Failure::None,
            event_id: common.event_id.into_owned(),
            shared_event_id: common.shared_event_id.map(Cow::into_owned),
        });
    }
    let (Some(bucket), Some(key)) = (bucket, key) else {
        return Err(NotUsed::Rejected(
            reason::MISSING_FIELD,
            "an S3 object request that names no object: neither requestParameters.bucketName \
             and key nor an AWS::S3::Object ARN in resources"
                .into(),
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
        dsse: sse == Some("aws:kms:dsse"),
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

/// Where an S3 ARN's resource starts: just past its `:::` (`arn:aws:s3:::bucket/key`). A byte
/// scan, where `str::find` built a two-way searcher on every call (0.7 % of a read's CPU).
fn resource_start(arn: &str) -> Option<usize> {
    arn.as_bytes()
        .windows(3)
        .position(|w| w == b":::")
        .map(|i| i + 3)
}

/// Searchers for the parts of a KMS key's name, built once (`str::contains` builds one per
/// call).
static ALIAS_AWS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(":alias/aws/"));
static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(":key/"));

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

/// The ARN prefix of S3 by the start of a Region's name, for the partitions other than
/// `aws` ([`DEFAULT_PARTITION`]).
pub const PARTITIONS: [(&str, &str); 2] = [
    ("cn-", "arn:aws-cn:s3:::"),
    ("us-gov-", "arn:aws-us-gov:s3:::"),
];

/// The ARN prefix of S3 in the `aws` partition.
pub const DEFAULT_PARTITION: &str = "arn:aws:s3:::";

/// The ARN prefix of S3 in a Region's partition.
pub fn partition_of(region: &str) -> &'static str {
    PARTITIONS
        .iter()
        .find(|(start, _)| region.starts_with(start))
        .map_or(DEFAULT_PARTITION, |&(_, head)| head)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_arns_resource_starts_after_its_triple_colon() {
        assert_eq!(resource_start("arn:aws:s3:::bkt/k"), Some(13));
        assert_eq!(resource_start("arn:aws-cn:s3:::bkt"), Some(16));
        assert_eq!(resource_start(":::"), Some(3));
        assert_eq!(resource_start("arn:aws:s3::bkt"), None);
        assert_eq!(resource_start(""), None);
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
