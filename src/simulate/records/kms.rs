//! KMS records: the calls S3 makes for a requester, the calls of other services (Lambda), and
//! CloudTrail encrypting its own log files.

use super::*;

/// A KMS call's `requestParameters`: `keySpec` (GenerateDataKey) and `encryptionAlgorithm`
/// (the others) never come together.
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
    let event_id = salted_uuid(rng, delivery.id_salt);
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
        request_parameters: KmsParameters {
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
        request_parameters: KmsParameters {
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
