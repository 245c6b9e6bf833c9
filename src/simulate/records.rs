//! CloudTrail records as S3 and KMS write them (docs/domain.md section 4), serialised with
//! serde from typed shapes whose fields are in the order CloudTrail delivers them: every string
//! is escaped as JSON requires, and the bytes are written straight into the file's buffer (the
//! simulator produces hundreds of thousands of records a second).
//!
//! Shapes follow delivered records: S3-invoked KMS calls carry the S3 requester as
//! `userIdentity` with `invokedBy`, the object or bucket ARN as `aws:s3:arn`, `keyId` on
//! GenerateDataKey only and the key ARN in `resources[]`; S3 data events carry the SSE headers
//! on writes and a null `responseElements` on GetObject.

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
}

impl<'a> Delivery<'a> {
    /// Delivered to `recipient`'s trail only.
    pub fn to(recipient: &'a str) -> Delivery<'a> {
        Delivery {
            recipient,
            shared_event_id: None,
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KmsParameters<'a> {
    encryption_context: Context<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_spec: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyMaterial {
    key_material_id: String,
}

/// A random UUID (version 4 layout) from the simulator's RNG.
pub fn uuid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
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

/// A KMS call S3 made for a requester.
#[allow(clippy::too_many_arguments)]
pub fn kms_call(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    who: &Identity,
    time: &str,
    region: &str,
    op: &str,
    s3_arn: &str,
    custom_context: &[(String, String)],
    kms_key: &str,
    error: Option<&str>,
    delivery: Delivery<'_>,
) {
    let s3 = "s3.amazonaws.com";
    let (key_spec, encryption_algorithm, key_id) = match op {
        "GenerateDataKey" => (Some("AES_256"), None, Some(kms_key)),
        "Encrypt" => (None, Some("SYMMETRIC_DEFAULT"), Some(kms_key)),
        _ => (None, Some("SYMMETRIC_DEFAULT"), None),
    };
    let key_material = rng.next_u64();
    let request_id = uuid(rng);
    let event_id = uuid(rng);
    let host = format!("kms.{region}.amazonaws.com");
    Record {
        event_version: "1.10",
        user_identity: who.user_identity(Some(s3), time),
        event_time: time,
        event_source: "kms.amazonaws.com",
        event_name: op,
        aws_region: region,
        source_ip_address: s3,
        user_agent: s3,
        request_parameters: KmsParameters {
            encryption_context: Context {
                first: &[("aws:s3:arn", s3_arn)],
                rest: custom_context,
            },
            key_spec,
            encryption_algorithm,
            key_id,
        },
        error_code: error,
        error_message: error.map(|_| "Rate exceeded"),
        response_elements: None::<()>,
        additional_event_data: Some(KeyMaterial {
            key_material_id: format!("{key_material:016x}{:016x}", key_material.rotate_left(17)),
        }),
        request_id,
        event_id,
        read_only: true,
        resources: &[Resource {
            account_id: Some(key_account(kms_key).unwrap_or(&who.account)),
            kind: "AWS::KMS::Key",
            arn: kms_key,
        }],
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: delivery.recipient,
        shared_event_id: delivery.shared_event_id,
        event_category: "Management",
        tls_details: tls(&host),
    }
    .write(out);
}

fn key_account(kms_key: &str) -> Option<&str> {
    kms_key.split(':').nth(4).filter(|a| !a.is_empty())
}

/// How an object is encrypted, as its bucket's default encryption says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectSse {
    SseKms,
    DsseKms,
    /// SSE-S3: S3's own keys, no KMS call.
    SseS3,
    /// SSE-C: the customer's key, sent with every request; no KMS call.
    SseC,
}

impl ObjectSse {
    /// SSE-KMS or DSSE-KMS.
    pub fn is_kms(self) -> bool {
        matches!(self, ObjectSse::SseKms | ObjectSse::DsseKms)
    }
}

/// What an S3 data event says about encryption.
#[derive(Debug, Clone, Copy)]
pub struct Sse<'a> {
    pub kind: ObjectSse,
    pub kms_key: &'a str,
    pub bucket_key: bool,
}

/// An access point a request went through.
#[derive(Debug, Clone, Copy)]
pub struct AccessPoint<'a> {
    pub name: &'a str,
    /// Its alias (`NAME-<12 characters>-s3alias`), which `bucketName` carries.
    pub alias: &'a str,
}

/// One S3 object request, as its data event tells it.
#[derive(Debug, Clone, Copy)]
pub struct S3Request<'a> {
    pub time: &'a str,
    pub region: &'a str,
    pub op: &'a str,
    pub bucket: &'a str,
    /// The bucket owner's account.
    pub bucket_account: &'a str,
    pub key: &'a str,
    /// `arn:aws:s3:::` or the partition's.
    pub partition_head: &'a str,
    pub sse: Sse<'a>,
    pub copy_source: Option<&'a str>,
    pub bytes: u64,
    /// The error code S3 answered with.
    pub failure: Option<&'a str>,
    pub access_point: Option<AccessPoint<'a>>,
}

#[derive(Serialize)]
struct S3Parameters<'a> {
    #[serde(rename = "bucketName")]
    bucket_name: &'a str,
    #[serde(rename = "Host")]
    host: &'a str,
    key: &'a str,
    #[serde(rename = "x-amz-copy-source", skip_serializing_if = "Option::is_none")]
    copy_source: Option<&'a str>,
    #[serde(
        rename = "x-amz-server-side-encryption-customer-algorithm",
        skip_serializing_if = "Option::is_none"
    )]
    customer_algorithm: Option<&'a str>,
    #[serde(rename = "partNumber", skip_serializing_if = "Option::is_none")]
    part_number: Option<String>,
    #[serde(rename = "uploadId", skip_serializing_if = "Option::is_none")]
    upload_id: Option<String>,
}

#[derive(Serialize)]
struct SseResponse<'a> {
    #[serde(
        rename = "x-amz-server-side-encryption",
        skip_serializing_if = "Option::is_none"
    )]
    algorithm: Option<&'a str>,
    #[serde(
        rename = "x-amz-server-side-encryption-aws-kms-key-id",
        skip_serializing_if = "Option::is_none"
    )]
    kms_key: Option<&'a str>,
    #[serde(
        rename = "x-amz-server-side-encryption-customer-algorithm",
        skip_serializing_if = "Option::is_none"
    )]
    customer_algorithm: Option<&'a str>,
    #[serde(
        rename = "x-amz-server-side-encryption-bucket-key-enabled",
        skip_serializing_if = "Option::is_none"
    )]
    bucket_key: Option<&'a str>,
}

#[derive(Serialize)]
struct S3EventData<'a> {
    #[serde(rename = "SignatureVersion")]
    signature_version: &'a str,
    #[serde(rename = "CipherSuite")]
    cipher_suite: &'a str,
    #[serde(rename = "bytesTransferredIn")]
    bytes_in: u64,
    #[serde(rename = "SSEApplied", skip_serializing_if = "Option::is_none")]
    sse_applied: Option<&'a str>,
    #[serde(rename = "AuthenticationMethod")]
    authentication_method: &'a str,
    #[serde(rename = "x-amz-id-2")]
    amz_id_2: String,
    #[serde(rename = "bytesTransferredOut")]
    bytes_out: u64,
}

/// An S3 object request (a data event).
pub fn s3_request(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    who: &Identity,
    r: &S3Request<'_>,
    delivery: Delivery<'_>,
) {
    let op = r.op;
    let host = match r.access_point {
        Some(ap) => format!(
            "{}-{}.s3-accesspoint.{}.amazonaws.com",
            ap.name, r.bucket_account, r.region
        ),
        None => format!("{}.s3.{}.amazonaws.com", r.bucket, r.region),
    };
    let parts = op == "UploadPart" || op == "UploadPartCopy";
    let part_number = parts.then(|| (1 + rng.below(9)).to_string());
    let upload_id = parts.then(|| format!("{:016x}", rng.next_u64()));
    let writes = matches!(
        op,
        "PutObject" | "CopyObject" | "CompleteMultipartUpload" | "CreateMultipartUpload"
    );
    let ok = r.failure.is_none();
    let sse_c = r.sse.kind == ObjectSse::SseC;
    let response = (writes && ok).then_some(match r.sse.kind {
        ObjectSse::SseKms | ObjectSse::DsseKms => SseResponse {
            algorithm: Some(if r.sse.kind == ObjectSse::DsseKms {
                "aws:kms:dsse"
            } else {
                "aws:kms"
            }),
            kms_key: Some(r.sse.kms_key),
            customer_algorithm: None,
            bucket_key: r.sse.bucket_key.then_some("true"),
        },
        ObjectSse::SseS3 => SseResponse {
            algorithm: Some("AES256"),
            kms_key: None,
            customer_algorithm: None,
            bucket_key: None,
        },
        ObjectSse::SseC => SseResponse {
            algorithm: None,
            kms_key: None,
            customer_algorithm: Some("AES256"),
            bucket_key: None,
        },
    });
    let applied = match r.sse.kind {
        ObjectSse::SseKms | ObjectSse::DsseKms => "Default_SSE_KMS",
        ObjectSse::SseS3 => "Default_SSE_S3",
        ObjectSse::SseC => "SSE_C",
    };
    let (bytes_in, bytes_out) = match (ok, op == "GetObject") {
        (false, _) => (0, 0),
        (true, true) => (0, r.bytes),
        (true, false) => (r.bytes, 0),
    };
    let amz_id_2 = token(rng, 76, BASE64);
    let request_id = format!("{:016X}", rng.next_u64());
    let event_id = uuid(rng);
    let object_arn = format!("{}{}/{}", r.partition_head, r.bucket, r.key);
    let bucket_arn = format!("{}{}", r.partition_head, r.bucket);
    let object = Resource {
        account_id: None,
        kind: "AWS::S3::Object",
        arn: &object_arn,
    };
    let bucket = Resource {
        account_id: Some(&who.account),
        kind: "AWS::S3::Bucket",
        arn: &bucket_arn,
    };
    let access_point_arn = r.access_point.map(|ap| {
        let partition = r.partition_head.trim_end_matches(":::");
        format!(
            "{partition}:{}:{}:accesspoint/{}",
            r.region, r.bucket_account, ap.name
        )
    });
    let resources = match &access_point_arn {
        Some(arn) => vec![
            object,
            Resource {
                account_id: Some(r.bucket_account),
                kind: "AWS::S3::AccessPoint",
                arn,
            },
            bucket,
        ],
        None => vec![object, bucket],
    };
    Record {
        event_version: "1.10",
        user_identity: who.user_identity(None, r.time),
        event_time: r.time,
        event_source: "s3.amazonaws.com",
        event_name: op,
        aws_region: r.region,
        source_ip_address: &who.source_ip,
        user_agent: &who.user_agent,
        request_parameters: S3Parameters {
            bucket_name: r.access_point.map_or(r.bucket, |ap| ap.alias),
            host: &host,
            key: r.key,
            copy_source: r.copy_source,
            customer_algorithm: sse_c.then_some("AES256"),
            part_number,
            upload_id,
        },
        error_code: r.failure,
        error_message: r.failure.map(|code| match code {
            "NoSuchKey" => "The specified key does not exist.",
            "AccessDenied" => "Access Denied",
            _ => "We encountered an internal error. Please try again.",
        }),
        response_elements: response,
        additional_event_data: Some(S3EventData {
            signature_version: "SigV4",
            cipher_suite: "TLS_AES_128_GCM_SHA256",
            bytes_in,
            sse_applied: (writes && ok).then_some(applied),
            authentication_method: "AuthHeader",
            amz_id_2,
            bytes_out,
        }),
        request_id,
        event_id,
        read_only: !writes && !parts,
        resources: &resources,
        event_type: "AwsApiCall",
        management_event: false,
        recipient_account_id: delivery.recipient,
        shared_event_id: delivery.shared_event_id,
        event_category: "Data",
        tls_details: tls(&host),
    }
    .write(out);
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

const AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.2 cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/",
    "console.amazonaws.com",
    "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 aws-sdk-go-v2/1.26.0",
];

/// The `requestParameters` of an unrelated management event.
#[derive(Serialize)]
#[serde(untagged)]
enum NoiseParameters {
    Instances(DescribeInstances),
    AssumeRole(AssumeRole),
    Function(GetFunction),
    LogStream(CreateLogStream),
    Table(DescribeTable),
    Parameters(GetParameters),
    Registries(GetAuthorizationToken),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DescribeInstances {
    instances_set: InstanceItems,
    filter_set: Empty,
}

#[derive(Serialize)]
struct InstanceItems {
    items: [Instance; 2],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    instance_id: String,
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssumeRole {
    role_arn: String,
    role_session_name: String,
    duration_seconds: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetFunction {
    function_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateLogStream {
    log_group_name: String,
    log_stream_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DescribeTable {
    table_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetParameters {
    names: [String; 2],
    with_decryption: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetAuthorizationToken {
    registry_ids: [String; 0],
}

/// The `responseElements` of an unrelated management event that has them.
#[derive(Serialize)]
#[serde(untagged)]
enum NoiseResponse {
    Credentials(AssumedRole),
    Authorization(Authorization),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssumedRole {
    credentials: Credentials,
    assumed_role_user: AssumedRoleUser,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    access_key_id: String,
    session_token: String,
    expiration: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssumedRoleUser {
    assumed_role_id: String,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Authorization {
    authorization_data: [AuthorizationData; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizationData {
    proxy_endpoint: String,
    expires_at: &'static str,
}

/// An unrelated management event, of the size and entropy of a real one.
pub fn noise(out: &mut Vec<u8>, rng: &mut Rng, who: &Identity, time: &str, region: &str) {
    use NoiseParameters as P;
    let account = &who.account;
    let pick = rng.below(7);
    let (source, name, params, response) = match pick {
        0 => {
            let instance = |rng: &mut Rng| Instance {
                instance_id: format!("i-0{}", token(rng, 16, HEX)),
            };
            let items = [instance(rng), instance(rng)];
            let params = P::Instances(DescribeInstances {
                instances_set: InstanceItems { items },
                filter_set: Empty {},
            });
            ("ec2.amazonaws.com", "DescribeInstances", params, None)
        }
        1 => {
            let params = P::AssumeRole(AssumeRole {
                role_arn: format!("arn:aws:iam::{account}:role/deploy-{}", rng.below(40)),
                role_session_name: format!("ci-{}", token(rng, 12, HEX)),
                duration_seconds: 3600,
            });
            let credentials = Credentials {
                access_key_id: format!("ASIA{}", token(rng, 16, UPPER)),
                session_token: token(rng, 360, BASE64),
                expiration: "Mar 1, 2024, 11:00:00 AM",
            };
            let response = NoiseResponse::Credentials(AssumedRole {
                credentials,
                assumed_role_user: AssumedRoleUser {
                    assumed_role_id: format!("AROA{}:ci", token(rng, 17, UPPER)),
                    arn: format!("arn:aws:sts::{account}:assumed-role/deploy/ci"),
                },
            });
            ("sts.amazonaws.com", "AssumeRole", params, Some(response))
        }
        2 => {
            let params = P::Function(GetFunction {
                function_name: format!(
                    "arn:aws:lambda:{region}:{account}:function:ingest-{}",
                    token(rng, 8, HEX)
                ),
            });
            (
                "lambda.amazonaws.com",
                "GetFunction20150331v2",
                params,
                None,
            )
        }
        3 => {
            let params = P::LogStream(CreateLogStream {
                log_group_name: format!("/aws/lambda/ingest-{}", rng.below(50)),
                log_stream_name: format!("2024/03/01/[$LATEST]{}", token(rng, 32, HEX)),
            });
            ("logs.amazonaws.com", "CreateLogStream", params, None)
        }
        4 => {
            let params = P::Table(DescribeTable {
                table_name: format!("orders-{}", token(rng, 6, HEX)),
            });
            ("dynamodb.amazonaws.com", "DescribeTable", params, None)
        }
        5 => {
            let a = format!("/app/{}/db-password", token(rng, 10, HEX));
            let b = format!("/app/{}/api-key", token(rng, 10, HEX));
            let params = P::Parameters(GetParameters {
                names: [a, b],
                with_decryption: true,
            });
            ("ssm.amazonaws.com", "GetParameters", params, None)
        }
        _ => {
            let params = P::Registries(GetAuthorizationToken { registry_ids: [] });
            let response = NoiseResponse::Authorization(Authorization {
                authorization_data: [AuthorizationData {
                    proxy_endpoint: format!("https://{account}.dkr.ecr.{region}.amazonaws.com"),
                    expires_at: "Mar 2, 2024, 10:00:00 PM",
                }],
            });
            (
                "ecr.amazonaws.com",
                "GetAuthorizationToken",
                params,
                Some(response),
            )
        }
    };
    let agent = AGENTS[rng.below(AGENTS.len() as u64) as usize];
    let ip = format!(
        "{}.{}.{}.{}",
        3 + rng.below(200),
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    let request_id = uuid(rng);
    let event_id = uuid(rng);
    let host = format!(
        "{}.{region}.amazonaws.com",
        source.split('.').next().unwrap_or(source)
    );
    Record {
        event_version: "1.09",
        user_identity: who.user_identity(None, time),
        event_time: time,
        event_source: source,
        event_name: name,
        aws_region: region,
        source_ip_address: &ip,
        user_agent: agent,
        request_parameters: params,
        error_code: None,
        error_message: None,
        response_elements: response,
        additional_event_data: None::<()>,
        request_id,
        event_id,
        read_only: true,
        resources: &[],
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: account,
        shared_event_id: None,
        event_category: "Management",
        tls_details: tls(&host),
    }
    .write(out);
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceKmsParameters<'a> {
    encryption_context: Context<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_spec: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
}

/// A KMS call another service makes (Lambda decrypting a function's environment): it shares
/// the account's request quota, but is not S3 object traffic.
pub fn other_service_kms(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    who: &Identity,
    time: &str,
    region: &str,
) {
    let lambda = "lambda.amazonaws.com";
    let function = format!(
        "arn:aws:lambda:{region}:{}:function:ingest-{}",
        who.account,
        rng.below(20)
    );
    let key = format!(
        "arn:aws:kms:{region}:{}:key/{}",
        who.account,
        uuid(&mut Rng::new(7))
    );
    let request_id = uuid(rng);
    let event_id = uuid(rng);
    Record {
        event_version: "1.09",
        user_identity: who.user_identity(Some(lambda), time),
        event_time: time,
        event_source: "kms.amazonaws.com",
        event_name: "Decrypt",
        aws_region: region,
        source_ip_address: lambda,
        user_agent: lambda,
        request_parameters: ServiceKmsParameters {
            encryption_context: Context {
                first: &[("aws:lambda:FunctionArn", function.as_str())],
                rest: &[],
            },
            encryption_algorithm: Some("SYMMETRIC_DEFAULT"),
            key_spec: None,
            key_id: None,
        },
        error_code: None,
        error_message: None,
        response_elements: None::<()>,
        additional_event_data: None::<()>,
        request_id,
        event_id,
        read_only: true,
        resources: &[Resource {
            account_id: Some(&who.account),
            kind: "AWS::KMS::Key",
            arn: &key,
        }],
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: &who.account,
        shared_event_id: None,
        event_category: "Management",
        tls_details: None,
    }
    .write(out);
}

/// CloudTrail encrypting its own log file with SSE-KMS (not user traffic).
pub fn cloudtrail_log_encryption(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    account: &str,
    time: &str,
    region: &str,
    trail_bucket: &str,
    kms_key: &str,
) {
    let ct = "cloudtrail.amazonaws.com";
    let trail = format!("arn:aws:cloudtrail:{region}:{account}:trail/management");
    let logs = format!("arn:aws:s3:::{trail_bucket}/AWSLogs/{account}/");
    let request_id = uuid(rng);
    let event_id = uuid(rng);
    Record {
        event_version: "1.09",
        user_identity: UserIdentity {
            kind: "AWSService",
            principal_id: None,
            arn: None,
            account_id: None,
            access_key_id: None,
            session_context: None,
            user_name: None,
            invoked_by: Some(ct),
        },
        event_time: time,
        event_source: "kms.amazonaws.com",
        event_name: "GenerateDataKey",
        aws_region: region,
        source_ip_address: ct,
        user_agent: ct,
        request_parameters: ServiceKmsParameters {
            encryption_context: Context {
                first: &[
                    ("aws:cloudtrail:arn", trail.as_str()),
                    ("aws:s3:arn", logs.as_str()),
                ],
                rest: &[],
            },
            encryption_algorithm: None,
            key_spec: Some("AES_256"),
            key_id: Some(kms_key),
        },
        error_code: None,
        error_message: None,
        response_elements: None::<()>,
        additional_event_data: None::<()>,
        request_id,
        event_id,
        read_only: true,
        resources: &[Resource {
            account_id: Some(account),
            kind: "AWS::KMS::Key",
            arn: kms_key,
        }],
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: account,
        shared_event_id: None,
        event_category: "Management",
        tls_details: None,
    }
    .write(out);
}

/// What a digest file (`CloudTrail-Digest/`) says: the first of its chain, no log files listed
/// (keytrail skips digests by name and by shape, and never reads them).
pub struct Digest<'a> {
    pub account: &'a str,
    pub start_time: &'a str,
    pub end_time: &'a str,
    pub bucket: &'a str,
    pub object: &'a str,
    pub fingerprint: &'a str,
    pub newest_event_time: &'a str,
    pub oldest_event_time: &'a str,
    pub file_count: u32,
}

/// The JSON of a digest document, fields in delivered order.
pub fn digest(d: &Digest<'_>) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Document<'a> {
        aws_account_id: &'a str,
        digest_start_time: &'a str,
        digest_end_time: &'a str,
        #[serde(rename = "digestS3Bucket")]
        digest_s3_bucket: &'a str,
        #[serde(rename = "digestS3Object")]
        digest_s3_object: &'a str,
        digest_public_key_fingerprint: &'a str,
        digest_signature_algorithm: &'a str,
        newest_event_time: &'a str,
        oldest_event_time: &'a str,
        #[serde(rename = "previousDigestS3Bucket")]
        previous_digest_s3_bucket: Option<&'a str>,
        #[serde(rename = "previousDigestS3Object")]
        previous_digest_s3_object: Option<&'a str>,
        previous_digest_hash_value: Option<&'a str>,
        previous_digest_hash_algorithm: Option<&'a str>,
        previous_digest_signature: Option<&'a str>,
        log_files: [(); 0],
        file_count: u32,
    }
    serde_json::to_vec(&Document {
        aws_account_id: d.account,
        digest_start_time: d.start_time,
        digest_end_time: d.end_time,
        digest_s3_bucket: d.bucket,
        digest_s3_object: d.object,
        digest_public_key_fingerprint: d.fingerprint,
        digest_signature_algorithm: "SHA256withRSA",
        newest_event_time: d.newest_event_time,
        oldest_event_time: d.oldest_event_time,
        previous_digest_s3_bucket: None,
        previous_digest_s3_object: None,
        previous_digest_hash_value: None,
        previous_digest_hash_algorithm: None,
        previous_digest_signature: None,
        log_files: [],
        file_count: d.file_count,
    })
    .expect("a digest serialises")
}

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
