//! CloudTrail records as S3 and KMS write them (docs/domain.md section 4), serialised with
//! serde from typed shapes whose fields are in the order CloudTrail delivers them: every string
//! is escaped as JSON requires, and the bytes are written straight into the file's buffer (the
//! simulator produces hundreds of thousands of records a second).
//!
//! Shapes follow delivered records: S3-invoked KMS calls carry the S3 requester as
//! `userIdentity` with `invokedBy`, the object or bucket ARN as `aws:s3:arn`, `keyId` on
//! GenerateDataKey only and the key ARN in `resources[]`; S3 data events carry the SSE headers
//! on writes and a null `responseElements` on GetObject.

mod digest;
mod kms;
mod noise;
mod s3;

pub use digest::{digest, Digest};
pub use kms::{cloudtrail_log_encryption, kms_call, other_service_kms};
pub use noise::noise;
pub use s3::{s3_request, AccessPoint, ObjectSse, S3Request, Sse};

use crate::envelope::Rng;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// Who made a request.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: String,
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` or `arn:aws:iam::ACCT:user/NAME`.
    pub arn: String,
    /// The role's ARN for sessions, `None` for users.
    pub role_arn: Option<String>,
    pub principal_id: String,
    pub access_key: String,
    pub user_agent: String,
    pub source_ip: String,
}

impl Identity {
    /// The `userIdentity` block of a record this identity made (`invoked_by` when a service
    /// made it on the identity's behalf; `created` is the session's creation time).
    fn user_identity<'a>(
        &'a self,
        invoked_by: Option<&'a str>,
        created: &'a str,
    ) -> UserIdentity<'a> {
        let mut out = UserIdentity {
            kind: "IAMUser",
            principal_id: Some(&self.principal_id),
            arn: Some(&self.arn),
            account_id: Some(&self.account),
            access_key_id: Some(&self.access_key),
            session_context: None,
            user_name: None,
            invoked_by,
        };
        match &self.role_arn {
            Some(role) => {
                out.kind = "AssumedRole";
                out.session_context = Some(SessionContext {
                    session_issuer: SessionIssuer {
                        kind: "Role",
                        principal_id: self.principal_id.split(':').next().unwrap_or(""),
                        arn: role,
                        account_id: &self.account,
                        user_name: role.rsplit('/').next().unwrap_or(role),
                    },
                    attributes: Attributes {
                        creation_date: created,
                        mfa_authenticated: "false",
                    },
                });
            }
            None => out.user_name = Some(self.arn.rsplit('/').next().unwrap_or("")),
        }
        out
    }
}

// The shapes of a record, field by field in delivered order. Optional fields are left out when
// absent, as CloudTrail leaves them out.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a, P, R, A> {
    event_version: &'a str,
    user_identity: UserIdentity<'a>,
    event_time: &'a str,
    event_source: &'a str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    user_agent: &'a str,
    request_parameters: P,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    response_elements: R,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_event_data: Option<A>,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    resources: &'a [Resource<'a>],
    event_type: &'a str,
    management_event: bool,
    recipient_account_id: &'a str,
    #[serde(rename = "sharedEventID", skip_serializing_if = "Option::is_none")]
    shared_event_id: Option<&'a str>,
    event_category: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_details: Option<Tls<'a>>,
}

/// Which account's trail a record is delivered to, and the `sharedEventID` that ties it to its
/// copy in the other account's (a cross-account request is logged in both).
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub recipient: &'a str,
    pub shared_event_id: Option<&'a str>,
    /// Mixed into the record's eventID: the scenario's, so two scenarios simulated with the
    /// same seed share no eventID (read together, keytrail would take them for copies).
    pub id_salt: u64,
}

impl<'a> Delivery<'a> {
    /// Delivered to `recipient`'s trail only.
    pub fn to(recipient: &'a str) -> Delivery<'a> {
        Delivery {
            recipient,
            shared_event_id: None,
            id_salt: 0,
        }
    }
}

impl<P: Serialize, R: Serialize, A: Serialize> Record<'_, P, R, A> {
    fn write(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self).expect("a record serialises into a Vec");
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<SessionContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    session_issuer: SessionIssuer<'a>,
    attributes: Attributes<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    principal_id: &'a str,
    arn: &'a str,
    account_id: &'a str,
    user_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attributes<'a> {
    creation_date: &'a str,
    mfa_authenticated: &'a str,
}

#[derive(Serialize)]
struct Resource<'a> {
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "ARN")]
    arn: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tls<'a> {
    tls_version: &'a str,
    cipher_suite: &'a str,
    client_provided_host_header: &'a str,
}

fn tls(host: &str) -> Option<Tls<'_>> {
    Some(Tls {
        tls_version: "TLSv1.3",
        cipher_suite: "TLS_AES_128_GCM_SHA256",
        client_provided_host_header: host,
    })
}

/// An encryption context: `first` then `rest`, in that order (a JSON object).
struct Context<'a> {
    first: &'a [(&'a str, &'a str)],
    rest: &'a [(String, String)],
}

impl Serialize for Context<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.first.len() + self.rest.len()))?;
        for (k, v) in self.first {
            map.serialize_entry(k, v)?;
        }
        for (k, v) in self.rest {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A random UUID (version 4 layout) from the simulator's RNG.
pub fn uuid(rng: &mut Rng) -> String {
    salted_uuid(rng, 0)
}

/// A random UUID with `salt` mixed in: the same draws from `rng` as [`uuid`], so every other
/// field of a trail stays as it was.
pub fn salted_uuid(rng: &mut Rng, salt: u64) -> String {
    let a = rng.next_u64() ^ salt;
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Random text over an alphabet of 16, 32 or 64 characters, for the opaque tokens real records
/// are full of: each 64-bit draw gives ten to sixteen characters.
fn token(rng: &mut Rng, len: usize, alphabet: &[u8]) -> String {
    debug_assert!(alphabet.len().is_power_of_two() && alphabet.len() <= 64);
    let bits = alphabet.len().trailing_zeros();
    let per_draw = (64 / bits) as usize;
    let mask = (1u64 << bits) - 1;
    let mut out = String::with_capacity(len);
    let mut word = 0;
    for i in 0..len {
        if i % per_draw == 0 {
            word = rng.next_u64();
        }
        out.push(alphabet[(word & mask) as usize] as char);
        word >>= bits;
    }
    out
}

const HEX: &[u8] = b"0123456789abcdef";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{self, Event, Mode};

    fn who() -> Identity {
        Identity {
            account: "111122223333".into(),
            arn: "arn:aws:sts::111122223333:assumed-role/etl/s1".into(),
            role_arn: Some("arn:aws:iam::111122223333:role/etl".into()),
            principal_id: "AROAEXAMPLE:s1".into(),
            access_key: "ASIAEXAMPLE".into(),
            user_agent: "[aws-sdk-java/2.25.1]".into(),
            source_ip: "10.0.0.1".into(),
        }
    }

    #[test]
    fn written_records_are_json_the_analyzer_classifies_as_intended() {
        let mut rng = Rng::new(1);
        let key = "arn:aws:kms:us-east-1:111122223333:key/k";
        let mut out = Vec::new();
        kms_call(
            &mut out,
            &mut rng,
            &who(),
            "2024-03-01T10:00:00Z",
            "us-east-1",
            "Decrypt",
            "arn:aws:s3:::b",
            &[("team".into(), "a\"b".into())],
            key,
            None,
            Delivery::to("111122223333"),
        );
        serde_json::from_slice::<serde_json::Value>(&out).unwrap();
        let Ok(Event::Kms(k)) = event::parse(&out) else {
            panic!()
        };
        assert_eq!(k.mode, Mode::BucketKey);
        assert_eq!(k.kms_key.as_deref(), Some(key));

        let mut out = Vec::new();
        let sse = Sse {
            kind: ObjectSse::SseKms,
            kms_key: key,
            bucket_key: true,
        };
        let put = S3Request {
            time: "2024-03-01T10:00:00Z",
            region: "us-east-1",
            op: "PutObject",
            bucket: "b",
            bucket_account: "111122223333",
            key: "dir/ü \"q\".txt",
            partition_head: "arn:aws:s3:::",
            sse,
            copy_source: None,
            bytes: 10,
            failure: None,
            access_point: None,
        };
        s3_request(
            &mut out,
            &mut rng,
            &who(),
            &put,
            Delivery::to("111122223333"),
        );
        let Ok(Event::S3(s)) = event::parse(&out) else {
            panic!()
        };
        assert_eq!(s.key, "dir/ü \"q\".txt");
        assert_eq!(s.bucket_key, Some(true));

        let mut out = Vec::new();
        noise(
            &mut out,
            &mut rng,
            &who(),
            "2024-03-01T10:00:00Z",
            "us-east-1",
        );
        assert!(!event::prefilter(
            &out,
            &memchr::memmem::Finder::new(event::EVENT_SOURCE_NEEDLE)
        ));

        let mut out = Vec::new();
        cloudtrail_log_encryption(
            &mut out,
            &mut rng,
            "1",
            "2024-03-01T10:00:00Z",
            "us-east-1",
            "t",
            key,
        );
        assert_eq!(
            event::parse(&out).unwrap_err(),
            event::NotUsed::Filtered(crate::reason::CLOUDTRAIL_LOG_ENCRYPTION)
        );
    }

    /// The shapes of organization trails: each is read as the analyzer must read it.
    #[test]
    fn refused_non_kms_access_point_and_shared_records_classify_as_intended() {
        let mut rng = Rng::new(2);
        let key = "arn:aws:kms:us-east-1:111122223333:key/k";
        let base = S3Request {
            time: "2024-03-01T10:00:00Z",
            region: "us-east-1",
            op: "PutObject",
            bucket: "lake",
            bucket_account: "444455556666",
            key: "a/b.parquet",
            partition_head: "arn:aws:s3:::",
            sse: Sse {
                kind: ObjectSse::SseKms,
                kms_key: key,
                bucket_key: false,
            },
            copy_source: None,
            bytes: 10,
            failure: None,
            access_point: None,
        };
        let write = |rng: &mut Rng, r: S3Request<'_>, d: Delivery<'_>| {
            let mut out = Vec::new();
            s3_request(&mut out, rng, &who(), &r, d);
            serde_json::from_slice::<serde_json::Value>(&out).expect("valid JSON");
            out
        };
        // Refused: an S3 request with its error, no object written.
        let refused = S3Request {
            failure: Some("AccessDenied"),
            ..base
        };
        let out = write(&mut rng, refused, Delivery::to("111122223333"));
        let Ok(Event::S3(s)) = event::parse(&out) else {
            panic!()
        };
        assert_ne!(s.common.failure, crate::event::Failure::None);
        // SSE-S3 and SSE-C writes are no SSE-KMS objects.
        for kind in [ObjectSse::SseS3, ObjectSse::SseC] {
            let r = S3Request {
                sse: Sse { kind, ..base.sse },
                ..base
            };
            let out = write(&mut rng, r, Delivery::to("111122223333"));
            assert!(
                matches!(
                    event::parse(&out),
                    Err(event::NotUsed::NotSseKms { write: true, .. })
                ),
                "{kind:?}"
            );
        }
        // Through an access point: the bucket comes from resources[].
        let via = S3Request {
            access_point: Some(AccessPoint {
                name: "lake-ap",
                alias: "lake-ap-0123456789ab-s3alias",
            }),
            ..base
        };
        let out = write(&mut rng, via, Delivery::to("111122223333"));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("\"bucketName\":\"lake-ap-0123456789ab-s3alias\""));
        assert!(text.contains("arn:aws:s3:us-east-1:444455556666:accesspoint/lake-ap"));
        let Ok(Event::S3(s)) = event::parse(&out) else {
            panic!()
        };
        assert_eq!(s.bucket, "lake");
        // Delivered to two accounts: the same sharedEventID, each its own recipient.
        let shared = Delivery {
            recipient: "444455556666",
            shared_event_id: Some("5e1f0000-0000-4000-8000-000000000001"),
            id_salt: 0,
        };
        let out = write(&mut rng, base, shared);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["recipientAccountId"], "444455556666");
        assert_eq!(v["sharedEventID"], "5e1f0000-0000-4000-8000-000000000001");
    }

    #[test]
    fn uuids_have_the_canonical_shape() {
        let u = uuid(&mut Rng::new(3));
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
    }
}
