//! The record as keytrail reads it: only the fields it uses, borrowing strings from the decoded
//! text whenever they hold no escapes. serde reads into these types; `fast` reads into the
//! same types without serde, with the same result.

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
    /// SSE-C: the only SSE header a customer-key request carries.
    #[serde(
        rename = "x-amz-server-side-encryption-customer-algorithm",
        borrow,
        deserialize_with = "opt_str",
        default
    )]
    pub sse_customer_algorithm: Option<Cow<'a, str>>,
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
    /// The first `AWS::S3::Object` ARN (`arn:aws:s3:::bucket/key`): names the bucket even when
    /// the request went through an access point, and the key when `requestParameters` lacks it.
    pub s3_object: Option<Cow<'a, str>>,
    /// The first `AWS::S3::Bucket` ARN.
    pub s3_bucket: Option<Cow<'a, str>>,
}

impl<'a> Resources<'a> {
    /// Takes in one entry of the list: the first KMS key's, S3 object's and S3 bucket's ARNs
    /// are kept.
    pub fn add(&mut self, kind: Option<&str>, arn: Option<Cow<'a, str>>) {
        let Some(arn) = arn else { return };
        let is_key = kind == Some("AWS::KMS::Key")
            || (kind.is_none() && arn.contains(":kms:") && arn.contains(":key/"));
        let slot = if is_key {
            &mut self.kms_key
        } else {
            match kind {
                Some("AWS::S3::Object") => &mut self.s3_object,
                Some("AWS::S3::Bucket") => &mut self.s3_bucket,
                _ => return,
            }
        };
        if slot.is_none() {
            *slot = Some(arn);
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
