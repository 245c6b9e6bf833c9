//! Unrelated management events, of the size and entropy of real ones.

use super::*;

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
