//! The fields keytrail reads, walked into the same [`RawRecord`] serde would give.

use super::super::{Additional, Context, Identity, Pairs, Params, RawRecord, Resources};
use super::walk::{Value, Walker};
use serde::de::IgnoredAny;
use std::borrow::Cow;

/// Marks field `bit` as seen; `None` (serde reports a duplicate field) when it already was.
#[inline]
pub(super) fn first(seen: &mut u32, bit: u32) -> Option<()> {
    let was = *seen & (1 << bit) != 0;
    *seen |= 1 << bit;
    (!was).then_some(())
}

/// A string field, or null.
pub(super) fn opt_str(v: Value<'_>) -> Option<Option<Cow<'_, str>>> {
    match v {
        Value::Str(s) => Some(Some(Cow::Borrowed(s))),
        Value::Null => Some(None),
        _ => None,
    }
}

/// A nested object, or null; anything else is serde's to report.
pub(super) fn opt_object<'a, T>(
    w: &mut Walker<'a, '_>,
    v: Value<'a>,
    read: impl FnOnce(&mut Walker<'a, '_>) -> Option<T>,
) -> Option<Option<T>> {
    match v {
        Value::Object => read(w).map(Some),
        Value::Null => Some(None),
        _ => None,
    }
}

/// Walks a record's fields into `r` (a default record: a field the record lacks stays unset).
pub(super) fn record<'a>(w: &mut Walker<'a, '_>, r: &mut RawRecord<'a>) -> Option<()> {
    let mut seen = 0;
    w.members(|w, key, v| {
        match key {
            "eventTime" => {
                first(&mut seen, 0)?;
                r.event_time = opt_str(v)?;
            }
            "@timestamp" => {
                first(&mut seen, 1)?;
                r.logstash_time = opt_str(v)?;
            }
            "eventSource" => {
                first(&mut seen, 2)?;
                r.event_source = opt_str(v)?;
            }
            "eventName" => {
                first(&mut seen, 3)?;
                r.event_name = opt_str(v)?;
            }
            "awsRegion" => {
                first(&mut seen, 4)?;
                r.region = opt_str(v)?;
            }
            "eventID" => {
                first(&mut seen, 5)?;
                r.event_id = opt_str(v)?;
            }
            "errorCode" => {
                first(&mut seen, 6)?;
                r.error_code = opt_str(v)?;
            }
            "sharedEventID" => {
                first(&mut seen, 7)?;
                r.shared_event_id = opt_str(v)?;
            }
            "recipientAccountId" => {
                first(&mut seen, 8)?;
                r.recipient_account = opt_str(v)?;
            }
            "eventCategory" => {
                first(&mut seen, 9)?;
                r.category = opt_str(v)?;
            }
            "userIdentity" => {
                first(&mut seen, 10)?;
                r.identity = opt_object(w, v, identity)?;
            }
            "requestParameters" => {
                first(&mut seen, 11)?;
                r.request = opt_object(w, v, params)?;
            }
            "responseElements" => {
                first(&mut seen, 12)?;
                r.response = opt_object(w, v, params)?;
            }
            "additionalEventData" => {
                first(&mut seen, 13)?;
                r.additional = opt_object(w, v, additional)?;
            }
            "resources" => {
                first(&mut seen, 14)?;
                r.resources = match v {
                    Value::Array => Some(resources(w)?),
                    Value::Null => None,
                    _ => return None,
                };
            }
            "insightDetails" => {
                first(&mut seen, 15)?;
                r.insight_details = match v {
                    Value::Null => None,
                    v => {
                        w.skip(v)?;
                        Some(IgnoredAny)
                    }
                };
            }
            _ => w.skip(v)?,
        }
        Some(())
    })?;
    Some(())
}

pub(super) fn identity<'a>(w: &mut Walker<'a, '_>) -> Option<Identity<'a>> {
    let mut id = Identity::default();
    let mut seen = 0;
    w.members(|w, key, v| {
        match key {
            "arn" => {
                first(&mut seen, 0)?;
                id.arn = opt_str(v)?;
            }
            "accountId" => {
                first(&mut seen, 1)?;
                id.account_id = opt_str(v)?;
            }
            "principalId" => {
                first(&mut seen, 2)?;
                id.principal_id = opt_str(v)?;
            }
            "invokedBy" => {
                first(&mut seen, 3)?;
                id.invoked_by = opt_str(v)?;
            }
            "type" => {
                first(&mut seen, 4)?;
                id.kind = opt_str(v)?;
            }
            _ => w.skip(v)?,
        }
        Some(())
    })?;
    Some(id)
}

pub(super) fn params<'a>(w: &mut Walker<'a, '_>) -> Option<Params<'a>> {
    let mut p = Params::default();
    let mut seen = 0;
    w.members(|w, key, v| {
        match key {
            "encryptionContext" => {
                first(&mut seen, 0)?;
                p.encryption_context = opt_object(w, v, context)?;
            }
            "keyId" => {
                first(&mut seen, 1)?;
                p.key_id = opt_str(v)?;
            }
            "bucketName" => {
                first(&mut seen, 2)?;
                p.bucket_name = opt_str(v)?;
            }
            "key" => {
                first(&mut seen, 3)?;
                p.key = opt_str(v)?;
            }
            "x-amz-server-side-encryption" => {
                first(&mut seen, 4)?;
                p.sse = opt_str(v)?;
            }
            "x-amz-server-side-encryption-aws-kms-key-id" => {
                first(&mut seen, 5)?;
                p.sse_kms_key = opt_str(v)?;
            }
            "x-amz-server-side-encryption-bucket-key-enabled" => {
                first(&mut seen, 6)?;
                // As `bool_or_string` reads it.
                p.bucket_key_enabled = match v {
                    Value::Bool(b) => Some(b),
                    Value::Str(s) => Some(s.eq_ignore_ascii_case("true")),
                    Value::Null => None,
                    _ => return None,
                };
            }
            "x-amz-copy-source" => {
                first(&mut seen, 7)?;
                p.copy_source = opt_str(v)?;
            }
            "x-amz-server-side-encryption-customer-algorithm" => {
                first(&mut seen, 8)?;
                p.sse_customer_algorithm = opt_str(v)?;
            }
            _ => w.skip(v)?,
        }
        Some(())
    })?;
    Some(p)
}

pub(super) fn context<'a>(w: &mut Walker<'a, '_>) -> Option<Context<'a>> {
    let mut pairs = Pairs::new();
    w.members(|_, key, v| match v {
        Value::Str(s) => {
            pairs.push((Cow::Borrowed(key), Cow::Borrowed(s)));
            Some(())
        }
        _ => None,
    })?;
    Some(Context(pairs))
}

pub(super) fn additional<'a>(w: &mut Walker<'a, '_>) -> Option<Additional<'a>> {
    let mut a = Additional::default();
    let mut seen = 0;
    w.members(|w, key, v| {
        match key {
            "SSEApplied" => {
                first(&mut seen, 0)?;
                a.sse_applied = opt_str(v)?;
            }
            _ => w.skip(v)?,
        }
        Some(())
    })?;
    Some(a)
}

pub(super) fn resources<'a>(w: &mut Walker<'a, '_>) -> Option<Resources<'a>> {
    let mut out = Resources::default();
    w.elements(|w, v| {
        if !matches!(v, Value::Object) {
            return None;
        }
        let (mut kind, mut arn) = (None, None);
        let mut seen = 0;
        w.members(|w, key, v| {
            match key {
                "type" => {
                    first(&mut seen, 0)?;
                    kind = opt_str(v)?;
                }
                "ARN" => {
                    first(&mut seen, 1)?;
                    arn = opt_str(v)?;
                }
                _ => w.skip(v)?,
            }
            Some(())
        })?;
        out.add(kind.as_deref(), arn);
        Some(())
    })?;
    Some(out)
}
