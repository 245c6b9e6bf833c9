//! S3 data events: object requests with their SSE headers, refusals, access points.

use super::*;

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
    let event_id = salted_uuid(rng, delivery.id_salt);
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
