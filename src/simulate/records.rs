//! CloudTrail records as S3 and KMS write them (docs/domain.md section 4), written by hand into a
//! byte buffer: the simulator must produce hundreds of thousands of records a second.
//!
//! Shapes follow delivered records: S3-invoked KMS calls carry the S3 requester as
//! `userIdentity` with `invokedBy`, the object or bucket ARN as `aws:s3:arn`, `keyId` on
//! GenerateDataKey only and the key ARN in `resources[]`; S3 data events carry the SSE headers
//! on writes and a null `responseElements` on GetObject.

use crate::envelope::Rng;
use std::io::Write;

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
    fn write_json(&self, out: &mut Vec<u8>, invoked_by: Option<&str>, created: &str) {
        match &self.role_arn {
            Some(role) => {
                let role_name = role.rsplit('/').next().unwrap_or(role);
                let role_id = self.principal_id.split(':').next().unwrap_or("");
                out.extend_from_slice(b"{\"type\":\"AssumedRole\",\"principalId\":");
                string(out, &self.principal_id);
                out.extend_from_slice(b",\"arn\":");
                string(out, &self.arn);
                write!(out, ",\"accountId\":\"{}\",\"accessKeyId\":", self.account).unwrap();
                string(out, &self.access_key);
                out.extend_from_slice(
                    b",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":",
                );
                string(out, role_id);
                out.extend_from_slice(b",\"arn\":");
                string(out, role);
                write!(out, ",\"accountId\":\"{}\",\"userName\":", self.account).unwrap();
                string(out, role_name);
                write!(
                    out,
                    "}},\"attributes\":{{\"creationDate\":\"{created}\",\"mfaAuthenticated\":\"false\"}}}}"
                )
                .unwrap();
            }
            None => {
                let name = self.arn.rsplit('/').next().unwrap_or("");
                out.extend_from_slice(b"{\"type\":\"IAMUser\",\"principalId\":");
                string(out, &self.principal_id);
                out.extend_from_slice(b",\"arn\":");
                string(out, &self.arn);
                write!(out, ",\"accountId\":\"{}\",\"accessKeyId\":", self.account).unwrap();
                string(out, &self.access_key);
                out.extend_from_slice(b",\"userName\":");
                string(out, name);
            }
        }
        if let Some(by) = invoked_by {
            write!(out, ",\"invokedBy\":\"{by}\"").unwrap();
        }
        out.push(b'}');
    }
}

/// A JSON string, escaped as JSON requires.
pub fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
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

const TLS: &str = ",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":";

/// The fields every record has, in delivered order, up to `requestParameters`.
#[allow(clippy::too_many_arguments)]
fn head(
    out: &mut Vec<u8>,
    version: &str,
    who: &Identity,
    invoked_by: Option<&str>,
    time: &str,
    source: &str,
    name: &str,
    region: &str,
    source_ip: &str,
    user_agent: &str,
) {
    write!(out, "{{\"eventVersion\":\"{version}\",\"userIdentity\":").unwrap();
    who.write_json(out, invoked_by, time);
    write!(
        out,
        ",\"eventTime\":\"{time}\",\"eventSource\":\"{source}\",\"eventName\":\"{name}\",\"awsRegion\":\"{region}\",\"sourceIPAddress\":"
    )
    .unwrap();
    string(out, source_ip);
    out.extend_from_slice(b",\"userAgent\":");
    string(out, user_agent);
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
) {
    let invoker = "s3.amazonaws.com";
    head(
        out,
        "1.10",
        who,
        Some(invoker),
        time,
        "kms.amazonaws.com",
        op,
        region,
        invoker,
        invoker,
    );
    out.extend_from_slice(b",\"requestParameters\":{\"encryptionContext\":{\"aws:s3:arn\":");
    string(out, s3_arn);
    for (k, v) in custom_context {
        out.push(b',');
        string(out, k);
        out.push(b':');
        string(out, v);
    }
    out.push(b'}');
    match op {
        "GenerateDataKey" => {
            out.extend_from_slice(b",\"keySpec\":\"AES_256\",\"keyId\":");
            string(out, kms_key);
        }
        "Encrypt" => {
            out.extend_from_slice(b",\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\",\"keyId\":");
            string(out, kms_key);
        }
        _ => out.extend_from_slice(b",\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\""),
    }
    out.extend_from_slice(b"}");
    if let Some(code) = error {
        write!(
            out,
            ",\"errorCode\":\"{code}\",\"errorMessage\":\"Rate exceeded\""
        )
        .unwrap();
    }
    let key_material = rng.next_u64();
    write!(
        out,
        ",\"responseElements\":null,\"additionalEventData\":{{\"keyMaterialId\":\"{key_material:016x}{:016x}\"}},\"requestID\":\"{}\",\"eventID\":\"{}\",\"readOnly\":true,\"resources\":[{{\"accountId\":\"{}\",\"type\":\"AWS::KMS::Key\",\"ARN\":",
        key_material.rotate_left(17),
        uuid(rng),
        uuid(rng),
        key_account(kms_key).unwrap_or(&who.account),
    )
    .unwrap();
    string(out, kms_key);
    write!(
        out,
        "}}],\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"{}\",\"eventCategory\":\"Management\"{TLS}\"kms.{region}.amazonaws.com\"}}}}",
        who.account
    )
    .unwrap();
}

fn key_account(kms_key: &str) -> Option<&str> {
    kms_key.split(':').nth(4).filter(|a| !a.is_empty())
}

/// What an S3 data event says about encryption.
#[derive(Debug, Clone, Copy)]
pub struct Sse<'a> {
    pub kms_key: &'a str,
    pub bucket_key: bool,
    pub dsse: bool,
}

/// An S3 object request (a data event).
#[allow(clippy::too_many_arguments)]
pub fn s3_request(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    who: &Identity,
    time: &str,
    region: &str,
    op: &str,
    bucket: &str,
    key: &str,
    partition_head: &str,
    sse: Sse<'_>,
    copy_source: Option<&str>,
    bytes: u64,
) {
    head(
        out,
        "1.10",
        who,
        None,
        time,
        "s3.amazonaws.com",
        op,
        region,
        &who.source_ip,
        &who.user_agent,
    );
    let host = format!("{bucket}.s3.{region}.amazonaws.com");
    out.extend_from_slice(b",\"requestParameters\":{\"bucketName\":");
    string(out, bucket);
    out.extend_from_slice(b",\"Host\":");
    string(out, &host);
    out.extend_from_slice(b",\"key\":");
    string(out, key);
    if let Some(src) = copy_source {
        out.extend_from_slice(b",\"x-amz-copy-source\":");
        string(out, src);
    }
    if op == "UploadPart" || op == "UploadPartCopy" {
        write!(
            out,
            ",\"partNumber\":\"{}\",\"uploadId\":\"{:016x}\"",
            1 + rng.below(9),
            rng.next_u64()
        )
        .unwrap();
    }
    out.push(b'}');
    let algorithm = if sse.dsse { "aws:kms:dsse" } else { "aws:kms" };
    let writes = matches!(
        op,
        "PutObject" | "CopyObject" | "CompleteMultipartUpload" | "CreateMultipartUpload"
    );
    if writes {
        write!(out, ",\"responseElements\":{{\"x-amz-server-side-encryption\":\"{algorithm}\",\"x-amz-server-side-encryption-aws-kms-key-id\":").unwrap();
        string(out, sse.kms_key);
        if sse.bucket_key {
            out.extend_from_slice(b",\"x-amz-server-side-encryption-bucket-key-enabled\":\"true\"");
        }
        out.push(b'}');
    } else {
        out.extend_from_slice(b",\"responseElements\":null");
    }
    let (bytes_in, bytes_out) = if op == "GetObject" {
        (0, bytes)
    } else {
        (bytes, 0)
    };
    write!(
        out,
        ",\"additionalEventData\":{{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":{bytes_in},"
    )
    .unwrap();
    if writes {
        out.extend_from_slice(b"\"SSEApplied\":\"Default_SSE_KMS\",");
    }
    write!(
        out,
        "\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\"{}\",\"bytesTransferredOut\":{bytes_out}}},\"requestID\":\"{:016X}\",\"eventID\":\"{}\",\"readOnly\":{},\"resources\":[{{\"type\":\"AWS::S3::Object\",\"ARN\":",
        token(rng, 76, BASE64),
        rng.next_u64(),
        uuid(rng),
        !writes && op != "UploadPart" && op != "UploadPartCopy",
    )
    .unwrap();
    string(out, &format!("{partition_head}{bucket}/{key}"));
    write!(
        out,
        "}},{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":",
        who.account
    )
    .unwrap();
    string(out, &format!("{partition_head}{bucket}"));
    write!(
        out,
        "}}],\"eventType\":\"AwsApiCall\",\"managementEvent\":false,\"recipientAccountId\":\"{}\",\"eventCategory\":\"Data\"{TLS}"
    , who.account)
    .unwrap();
    string(out, &host);
    out.extend_from_slice(b"}}");
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

/// An unrelated management event, of the size and entropy of a real one.
pub fn noise(out: &mut Vec<u8>, rng: &mut Rng, who: &Identity, time: &str, region: &str) {
    let account = &who.account;
    let pick = rng.below(7);
    let (source, name, params, response) = match pick {
        0 => (
            "ec2.amazonaws.com",
            "DescribeInstances",
            format!(
                "{{\"instancesSet\":{{\"items\":[{{\"instanceId\":\"i-0{}\"}},{{\"instanceId\":\"i-0{}\"}}]}},\"filterSet\":{{}}}}",
                token(rng, 16, HEX),
                token(rng, 16, HEX)
            ),
            "null".to_string(),
        ),
        1 => (
            "sts.amazonaws.com",
            "AssumeRole",
            format!(
                "{{\"roleArn\":\"arn:aws:iam::{account}:role/deploy-{}\",\"roleSessionName\":\"ci-{}\",\"durationSeconds\":3600}}",
                rng.below(40),
                token(rng, 12, HEX)
            ),
            format!(
                "{{\"credentials\":{{\"accessKeyId\":\"ASIA{}\",\"sessionToken\":\"{}\",\"expiration\":\"Mar 1, 2024, 11:00:00 AM\"}},\"assumedRoleUser\":{{\"assumedRoleId\":\"AROA{}:ci\",\"arn\":\"arn:aws:sts::{account}:assumed-role/deploy/ci\"}}}}",
                token(rng, 16, UPPER),
                token(rng, 360, BASE64),
                token(rng, 17, UPPER)
            ),
        ),
        2 => (
            "lambda.amazonaws.com",
            "GetFunction20150331v2",
            format!(
                "{{\"functionName\":\"arn:aws:lambda:{region}:{account}:function:ingest-{}\"}}",
                token(rng, 8, HEX)
            ),
            "null".to_string(),
        ),
        3 => (
            "logs.amazonaws.com",
            "CreateLogStream",
            format!(
                "{{\"logGroupName\":\"/aws/lambda/ingest-{}\",\"logStreamName\":\"2024/03/01/[$LATEST]{}\"}}",
                rng.below(50),
                token(rng, 32, HEX)
            ),
            "null".to_string(),
        ),
        4 => (
            "dynamodb.amazonaws.com",
            "DescribeTable",
            format!("{{\"tableName\":\"orders-{}\"}}", token(rng, 6, HEX)),
            "null".to_string(),
        ),
        5 => (
            "ssm.amazonaws.com",
            "GetParameters",
            format!(
                "{{\"names\":[\"/app/{}/db-password\",\"/app/{}/api-key\"],\"withDecryption\":true}}",
                token(rng, 10, HEX),
                token(rng, 10, HEX)
            ),
            "null".to_string(),
        ),
        _ => (
            "ecr.amazonaws.com",
            "GetAuthorizationToken",
            "{\"registryIds\":[]}".to_string(),
            format!("{{\"authorizationData\":[{{\"proxyEndpoint\":\"https://{account}.dkr.ecr.{region}.amazonaws.com\",\"expiresAt\":\"Mar 2, 2024, 10:00:00 PM\"}}]}}"),
        ),
    };
    let agent = AGENTS[rng.below(AGENTS.len() as u64) as usize];
    let ip = format!(
        "{}.{}.{}.{}",
        3 + rng.below(200),
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    head(
        out, "1.09", who, None, time, source, name, region, &ip, agent,
    );
    out.extend_from_slice(b",\"requestParameters\":");
    out.extend_from_slice(params.as_bytes());
    write!(
        out,
        ",\"responseElements\":{response},\"requestID\":\"{}\",\"eventID\":\"{}\",\"readOnly\":true,\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"{account}\",\"eventCategory\":\"Management\"{TLS}\"{}.{region}.amazonaws.com\"}}}}",
        uuid(rng),
        uuid(rng),
        source.split('.').next().unwrap_or(source),
    )
    .unwrap();
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
    head(
        out,
        "1.09",
        who,
        Some(lambda),
        time,
        "kms.amazonaws.com",
        "Decrypt",
        region,
        lambda,
        lambda,
    );
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
    out.extend_from_slice(
        b",\"requestParameters\":{\"encryptionContext\":{\"aws:lambda:FunctionArn\":",
    );
    string(out, &function);
    write!(
        out,
        "}},\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}},\"responseElements\":null,\"requestID\":\"{}\",\"eventID\":\"{}\",\"readOnly\":true,\"resources\":[{{\"accountId\":\"{}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"{key}\"}}],\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"{}\",\"eventCategory\":\"Management\"}}",
        uuid(rng),
        uuid(rng),
        who.account,
        who.account
    )
    .unwrap();
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
    write!(
        out,
        "{{\"eventVersion\":\"1.09\",\"userIdentity\":{{\"type\":\"AWSService\",\"invokedBy\":\"{ct}\"}},\"eventTime\":\"{time}\",\"eventSource\":\"kms.amazonaws.com\",\"eventName\":\"GenerateDataKey\",\"awsRegion\":\"{region}\",\"sourceIPAddress\":\"{ct}\",\"userAgent\":\"{ct}\",\"requestParameters\":{{\"encryptionContext\":{{\"aws:cloudtrail:arn\":\"arn:aws:cloudtrail:{region}:{account}:trail/management\",\"aws:s3:arn\":\"arn:aws:s3:::{trail_bucket}/AWSLogs/{account}/\"}},\"keySpec\":\"AES_256\",\"keyId\":"
    )
    .unwrap();
    string(out, kms_key);
    write!(
        out,
        "}},\"responseElements\":null,\"requestID\":\"{}\",\"eventID\":\"{}\",\"readOnly\":true,\"resources\":[{{\"accountId\":\"{account}\",\"type\":\"AWS::KMS::Key\",\"ARN\":",
        uuid(rng),
        uuid(rng)
    )
    .unwrap();
    string(out, kms_key);
    write!(
        out,
        "}}],\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"{account}\",\"eventCategory\":\"Management\"}}"
    )
    .unwrap();
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
        );
        serde_json::from_slice::<serde_json::Value>(&out).unwrap();
        let Ok(Event::Kms(k)) = event::parse(&out) else {
            panic!()
        };
        assert_eq!(k.mode, Mode::BucketKey);
        assert_eq!(k.kms_key.as_deref(), Some(key));

        let mut out = Vec::new();
        let sse = Sse {
            kms_key: key,
            bucket_key: true,
            dsse: false,
        };
        s3_request(
            &mut out,
            &mut rng,
            &who(),
            "2024-03-01T10:00:00Z",
            "us-east-1",
            "PutObject",
            "b",
            "dir/ü \"q\".txt",
            "arn:aws:s3:::",
            sse,
            None,
            10,
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

    #[test]
    fn uuids_have_the_canonical_shape() {
        let u = uuid(&mut Rng::new(3));
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
    }
}
