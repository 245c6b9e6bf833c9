//! Credentials from a profile, where `object_store` has none of its own: an assumed role
//! (`role_arn` with `source_profile`, `credential_source` or `web_identity_token_file`), IAM
//! Identity Center (`sso_session`, or the older `sso_start_url`, with the token `aws sso login`
//! cached), and `credential_process`; static keys as they are. The order is the AWS CLI's: a
//! role first, then SSO, then keys, then a process.
//!
//! Each becomes an `object_store` [`CredentialProvider`] that fetches on first use and again
//! five minutes before what it fetched expires. STS requests are signed by `object_store`'s own
//! SigV4 ([`AwsAuthorizer`]) and sent by its HTTP client: nothing here signs or speaks HTTP by
//! hand.
//!
//! Endpoints are the AWS CLI's: `AWS_ENDPOINT_URL_STS` (STS) and `AWS_ENDPOINT_URL_SSO` (the SSO
//! portal), else `AWS_ENDPOINT_URL`, else the Region's public endpoint.

use super::profile::{Files, Profile};
use super::S3Error;
use chrono::{DateTime, Utc};
use object_store::aws::{AwsAuthorizer, AwsCredential, AwsCredentialProvider};
use object_store::client::{HttpClient, HttpConnector, HttpRequestBody, ReqwestConnector};
use object_store::{ClientOptions, CredentialProvider, StaticCredentialProvider};
use std::sync::Arc;

/// A fetched credential is used until this long before it expires.
const REFRESH_BEFORE: chrono::Duration = chrono::Duration::minutes(5);

/// Profiles a role's `source_profile` may chain through before keytrail calls it a loop.
const MAX_CHAIN: usize = 8;

/// The provider for `profile`'s credentials, or `None` when it holds none (its Region only,
/// say): then the environment's chain applies.
pub fn for_profile(
    files: &Files,
    profile: &Profile,
) -> Result<Option<AwsCredentialProvider>, S3Error> {
    let client = ReqwestConnector::default()
        .connect(&ClientOptions::new().with_allow_http(true))
        .map_err(|e| S3Error::Config(format!("cannot start the HTTP client: {e}")))?;
    let mut chain = Vec::new();
    resolve(files, profile, &client, &mut chain)
}

fn resolve(
    files: &Files,
    profile: &Profile,
    client: &HttpClient,
    chain: &mut Vec<String>,
) -> Result<Option<AwsCredentialProvider>, S3Error> {
    let name = &profile.name;
    if chain.contains(name) || chain.len() >= MAX_CHAIN {
        chain.push(name.clone());
        return Err(S3Error::Config(format!(
            "profiles {} refer to each other as source_profile in a loop",
            chain.join(" -> ")
        )));
    }
    chain.push(name.clone());
    let refuse = |why: String| Err(S3Error::Config(format!("profile {name:?}: {why}")));
    let sts = |role_arn: String| Sts {
        role_arn,
        session_name: profile
            .get("role_session_name")
            .unwrap_or_else(|| format!("keytrail-{}", Utc::now().timestamp())),
        external_id: profile.get("external_id"),
        duration_secs: profile.get("duration_seconds"),
        region: region(profile),
        client: client.clone(),
        profile: name.clone(),
    };
    if let Some(role_arn) = profile.get("role_arn") {
        if profile.get("mfa_serial").is_some() {
            return refuse(
                "the role asks for an MFA code (mfa_serial), which keytrail cannot prompt for: \
                 export the role's credentials first, e.g. `eval \"$(aws configure \
                 export-credentials --profile NAME --format env)\"`, and run without --profile"
                    .to_string(),
            );
        }
        let fetch = if let Some(source) = profile.get("source_profile") {
            let source = files.load(&source)?;
            // A source profile's own keys come first (the CLI's rule); else its own chain.
            let source = match source.keys() {
                Some(keys) => static_provider(keys),
                None => match resolve(files, &source, client, chain)? {
                    Some(p) => p,
                    None => {
                        return refuse(format!(
                            "its source_profile {:?} holds no credentials",
                            source.name
                        ))
                    }
                },
            };
            Fetch::AssumeRole(sts(role_arn), source)
        } else if let Some(from) = profile.get("credential_source") {
            let source = match from.as_str() {
                "Environment" => match env_keys() {
                    Some(keys) => static_provider(keys),
                    None => {
                        return refuse(
                            "credential_source = Environment, but AWS_ACCESS_KEY_ID and \
                             AWS_SECRET_ACCESS_KEY are not set"
                                .to_string(),
                        )
                    }
                },
                "Ec2InstanceMetadata" | "EcsContainer" => environment_chain()?,
                other => {
                    return refuse(format!(
                        "credential_source {other:?} is none of Environment, \
                         Ec2InstanceMetadata, EcsContainer"
                    ))
                }
            };
            Fetch::AssumeRole(sts(role_arn), source)
        } else if let Some(token_file) = profile.get("web_identity_token_file") {
            Fetch::WebIdentity(sts(role_arn), token_file)
        } else {
            return refuse(
                "role_arn needs source_profile, credential_source or web_identity_token_file"
                    .to_string(),
            );
        };
        return Ok(Some(refreshing(fetch)));
    }
    if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
        return Ok(Some(refreshing(Fetch::Sso(sso(files, profile, client)?))));
    }
    if let Some(keys) = profile.keys() {
        return Ok(Some(static_provider(keys)));
    }
    if let Some(command) = profile.get("credential_process") {
        return Ok(Some(refreshing(Fetch::Process {
            command,
            profile: name.clone(),
        })));
    }
    Ok(None)
}

/// A profile's Region, else the environment's, else us-east-1 (for STS's endpoint).
fn region(profile: &Profile) -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile.get("region"))
        .unwrap_or_else(|| "us-east-1".to_string())
}

fn env_keys() -> Option<(String, String, Option<String>)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Some((
        env("AWS_ACCESS_KEY_ID")?,
        env("AWS_SECRET_ACCESS_KEY")?,
        env("AWS_SESSION_TOKEN"),
    ))
}

fn static_provider(
    (key_id, secret_key, token): (String, String, Option<String>),
) -> AwsCredentialProvider {
    Arc::new(StaticCredentialProvider::new(AwsCredential {
        key_id,
        secret_key,
        token,
    }))
}

/// `object_store`'s own chain (container, then instance metadata, as the environment says).
fn environment_chain() -> Result<AwsCredentialProvider, S3Error> {
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name("keytrail-credentials")
        .with_region("us-east-1")
        .build()
        .map_err(|e| S3Error::Config(format!("cannot build the credential chain: {e}")))?;
    Ok(store.credentials().clone())
}

/// The endpoint of `service` (`STS`, `SSO`): the AWS CLI's variables, else `default`.
fn endpoint(service: &str, default: String) -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    env(&format!("AWS_ENDPOINT_URL_{service}"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

/// `amazonaws.com`, or the China Regions' domain.
fn domain(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// What an STS call needs.
#[derive(Debug)]
struct Sts {
    role_arn: String,
    session_name: String,
    external_id: Option<String>,
    duration_secs: Option<String>,
    region: String,
    client: HttpClient,
    profile: String,
}

/// What a profile's SSO settings name.
#[derive(Debug)]
struct Sso {
    profile: String,
    /// The token cache's key: the session's name, or the start URL of an older profile.
    cache_key: String,
    region: String,
    account_id: String,
    role_name: String,
    client: HttpClient,
}

fn sso(files: &Files, profile: &Profile, client: &HttpClient) -> Result<Sso, S3Error> {
    let name = &profile.name;
    let missing = |what: &str| {
        S3Error::Config(format!(
            "profile {name:?}: its SSO settings lack {what} (see `aws configure sso`)"
        ))
    };
    let (cache_key, region) = match profile.get("sso_session") {
        Some(session) => {
            let section = files.sso_session(&session).ok_or_else(|| {
                S3Error::Config(format!(
                    "profile {name:?} names sso_session {session:?}, but the config file has \
                     no [sso-session {session}] section"
                ))
            })?;
            let region = section
                .get("sso_region")
                .cloned()
                .ok_or_else(|| missing("sso_region"))?;
            (session, region)
        }
        None => (
            profile
                .get("sso_start_url")
                .ok_or_else(|| missing("sso_start_url"))?,
            profile
                .get("sso_region")
                .ok_or_else(|| missing("sso_region"))?,
        ),
    };
    Ok(Sso {
        profile: name.clone(),
        cache_key,
        region,
        account_id: profile
            .get("sso_account_id")
            .ok_or_else(|| missing("sso_account_id"))?,
        role_name: profile
            .get("sso_role_name")
            .ok_or_else(|| missing("sso_role_name"))?,
        client: client.clone(),
    })
}

/// How a credential is fetched.
#[derive(Debug)]
enum Fetch {
    AssumeRole(Sts, AwsCredentialProvider),
    WebIdentity(Sts, String),
    Sso(Sso),
    Process { command: String, profile: String },
}

/// A credential and when it expires.
type Expiring = (Arc<AwsCredential>, Option<DateTime<Utc>>);

/// Fetches on first use, and again when what it fetched is about to expire.
#[derive(Debug)]
struct Refreshing {
    fetch: Fetch,
    cached: tokio::sync::Mutex<Option<Expiring>>,
}

fn refreshing(fetch: Fetch) -> AwsCredentialProvider {
    Arc::new(Refreshing {
        fetch,
        cached: tokio::sync::Mutex::new(None),
    })
}

#[async_trait::async_trait]
impl CredentialProvider for Refreshing {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        // Held while fetching: the GETs in flight wait for one fetch, not make one each.
        let mut cached = self.cached.lock().await;
        if let Some((credential, expires)) = cached.as_ref() {
            if expires.is_none_or(|t| Utc::now() + REFRESH_BEFORE < t) {
                return Ok(credential.clone());
            }
        }
        let (credential, expires) =
            self.fetch
                .fetch()
                .await
                .map_err(|message| object_store::Error::Generic {
                    store: "S3",
                    source: message.into(),
                })?;
        let credential = Arc::new(credential);
        *cached = Some((credential.clone(), expires));
        Ok(credential)
    }
}

impl Fetch {
    async fn fetch(&self) -> Result<(AwsCredential, Option<DateTime<Utc>>), String> {
        match self {
            Fetch::AssumeRole(sts, source) => {
                let source = source.get_credential().await.map_err(|e| {
                    format!(
                        "profile {:?}: its source credentials: {}",
                        sts.profile,
                        generic(&e)
                    )
                })?;
                sts.call("AssumeRole", &[], Some(&source)).await
            }
            Fetch::WebIdentity(sts, file) => {
                let token = std::fs::read_to_string(file).map_err(|e| {
                    format!(
                        "profile {:?}: cannot read web_identity_token_file {file}: {e}",
                        sts.profile
                    )
                })?;
                let token = [("WebIdentityToken", token.trim())];
                sts.call("AssumeRoleWithWebIdentity", &token, None).await
            }
            Fetch::Sso(sso) => sso.fetch().await,
            Fetch::Process { command, profile } => {
                let (command, profile) = (command.clone(), profile.clone());
                tokio::task::spawn_blocking(move || run_process(&command, &profile))
                    .await
                    .map_err(|e| format!("credential_process did not finish: {e}"))?
            }
        }
    }
}

/// An object_store error's own message (its Generic wrapper says only "Generic S3 error").
pub(super) fn generic(e: &object_store::Error) -> String {
    match e {
        object_store::Error::Generic { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

impl Sts {
    /// Calls `action` (AssumeRole, signed with `source`; AssumeRoleWithWebIdentity, unsigned)
    /// and reads the credentials out of its answer.
    async fn call(
        &self,
        action: &str,
        extra: &[(&str, &str)],
        source: Option<&AwsCredential>,
    ) -> Result<(AwsCredential, Option<DateTime<Utc>>), String> {
        let url = endpoint(
            "STS",
            format!("https://sts.{}.{}", self.region, domain(&self.region)),
        );
        // The serializer is not Send: made and finished before the first await.
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action)
                .append_pair("Version", "2011-06-15")
                .append_pair("RoleArn", &self.role_arn)
                .append_pair("RoleSessionName", &self.session_name);
            if let Some(id) = &self.external_id {
                form.append_pair("ExternalId", id);
            }
            if let Some(secs) = &self.duration_secs {
                form.append_pair("DurationSeconds", secs);
            }
            for (k, v) in extra {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let failed = |why: String| {
            format!(
                "profile {:?}: STS {action} of {} at {url} failed: {why}",
                self.profile, self.role_arn
            )
        };
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!("{url}/"))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(HttpRequestBody::from(form))
            .map_err(|e| failed(e.to_string()))?;
        if let Some(credential) = source {
            AwsAuthorizer::new(credential, "sts", &self.region).authorize(&mut request, None);
        }
        let (status, text) = send(&self.client, request).await.map_err(failed)?;
        if !status.is_success() {
            return Err(failed(sts_error(status.as_u16(), &text)));
        }
        let credentials = sts_credentials(&text).ok_or_else(|| {
            failed(format!(
                "its answer holds no credentials: {}",
                first_line(&text)
            ))
        })?;
        Ok(credentials)
    }
}

/// Sends `request`; its status and body.
async fn send(
    client: &HttpClient,
    request: http::Request<HttpRequestBody>,
) -> Result<(http::StatusCode, String), String> {
    let response = client.execute(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .bytes()
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The credentials of an AssumeRole(WithWebIdentity) answer.
fn sts_credentials(xml: &str) -> Option<(AwsCredential, Option<DateTime<Utc>>)> {
    let credentials = element(xml, "Credentials")?;
    let expires = element(credentials, "Expiration")
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc));
    Some((
        AwsCredential {
            key_id: unescape(element(credentials, "AccessKeyId")?),
            secret_key: unescape(element(credentials, "SecretAccessKey")?),
            token: element(credentials, "SessionToken").map(unescape),
        },
        expires,
    ))
}

/// An STS error answer as `Code: Message`.
fn sts_error(status: u16, xml: &str) -> String {
    match (element(xml, "Code"), element(xml, "Message")) {
        (Some(code), Some(message)) => format!("{code}: {}", unescape(message)),
        (Some(code), None) => code.to_string(),
        _ => format!("HTTP {status}: {}", first_line(xml)),
    }
}

/// The text of the first `<name>` element in `xml` (STS answers are flat and small; element
/// names do not repeat at other depths).
pub(super) fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// XML's five entities, as an STS answer may hold them.
pub(super) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.chars().take(200).collect()
}

impl Sso {
    async fn fetch(&self) -> Result<(AwsCredential, Option<DateTime<Utc>>), String> {
        let login = format!(
            "run `aws sso login --profile {}` and try again",
            self.profile
        );
        let file =
            sso_cache_file(&self.cache_key).ok_or("no home folder to find the SSO token in")?;
        let text = std::fs::read_to_string(&file).map_err(|_| {
            format!(
                "profile {:?}: no SSO token cached at {} (not logged in?): {login}",
                self.profile,
                file.display()
            )
        })?;
        let token: SsoToken = serde_json::from_str(&text).map_err(|e| {
            format!(
                "profile {:?}: the SSO token cache {} cannot be read ({e}): {login}",
                self.profile,
                file.display()
            )
        })?;
        // The CLI writes `...Z`; older versions `...UTC`.
        let expires = token.expires_at.replace("UTC", "Z");
        match DateTime::parse_from_rfc3339(&expires) {
            Ok(t) if t.with_timezone(&Utc) > Utc::now() => {}
            Ok(t) => {
                return Err(format!(
                    "profile {:?}: the SSO session expired at {t}: {login}",
                    self.profile
                ))
            }
            Err(_) => {
                return Err(format!(
                    "profile {:?}: the SSO token's expiresAt {:?} is not a time: {login}",
                    self.profile, token.expires_at
                ))
            }
        }
        let base = endpoint(
            "SSO",
            format!(
                "https://portal.sso.{}.{}",
                self.region,
                domain(&self.region)
            ),
        );
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("account_id", &self.account_id)
            .append_pair("role_name", &self.role_name)
            .finish();
        let url = format!("{base}/federation/credentials?{query}");
        let failed = |why: String| {
            format!(
                "profile {:?}: SSO GetRoleCredentials (account {}, role {}) failed: {why}",
                self.profile, self.account_id, self.role_name
            )
        };
        let request = http::Request::builder()
            .method("GET")
            .uri(&url)
            .header("x-amz-sso_bearer_token", token.access_token)
            .body(HttpRequestBody::empty())
            .map_err(|e| failed(e.to_string()))?;
        let (status, text) = send(&self.client, request).await.map_err(failed)?;
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(failed(format!("HTTP {status}: {login}")));
        }
        if !status.is_success() {
            return Err(failed(format!("HTTP {status}: {}", first_line(&text))));
        }
        let answer: SsoAnswer = serde_json::from_str(&text)
            .map_err(|e| failed(format!("its answer cannot be read ({e})")))?;
        let c = answer.role_credentials;
        Ok((
            AwsCredential {
                key_id: c.access_key_id,
                secret_key: c.secret_access_key,
                token: c.session_token,
            },
            DateTime::from_timestamp_millis(c.expiration),
        ))
    }
}

/// Where `aws sso login` caches the token of a session (or start URL): the SHA-1 of its key.
fn sso_cache_file(key: &str) -> Option<std::path::PathBuf> {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Some(
        super::profile::home()?
            .join(".aws")
            .join("sso")
            .join("cache")
            .join(format!("{hex}.json")),
    )
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SsoToken {
    access_token: String,
    expires_at: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SsoAnswer {
    role_credentials: SsoCredentials,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SsoCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: i64,
}

/// What a `credential_process` prints (version 1 of the AWS CLI's format).
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessOutput {
    version: u32,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: Option<String>,
}

/// Runs a `credential_process` command line (split as a POSIX shell would, run without one, as
/// the AWS CLI does) and reads what it prints.
fn run_process(
    command: &str,
    profile: &str,
) -> Result<(AwsCredential, Option<DateTime<Utc>>), String> {
    let failed = |why: String| format!("profile {profile:?}: credential_process `{command}` {why}");
    let words = shlex::split(command).filter(|w| !w.is_empty());
    let Some(words) = words else {
        return Err(failed(
            "is not a command line (unbalanced quotes?)".to_string(),
        ));
    };
    let output = std::process::Command::new(&words[0])
        .args(&words[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(failed(format!(
            "failed ({}): {}",
            output.status,
            first_line(&stderr)
        )));
    }
    let out: ProcessOutput = serde_json::from_slice(&output.stdout).map_err(|e| {
        failed(format!(
            "printed no credentials as the AWS CLI reads them ({e}): a JSON object with \
             Version 1, AccessKeyId, SecretAccessKey, and SessionToken and Expiration if any"
        ))
    })?;
    if out.version != 1 {
        return Err(failed(format!("printed Version {}, not 1", out.version)));
    }
    let expires = match out.expiration {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(&t)
                .map_err(|_| failed(format!("printed an Expiration that is not a time: {t:?}")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    Ok((
        AwsCredential {
            key_id: out.access_key_id,
            secret_key: out.secret_access_key,
            token: out.session_token,
        },
        expires,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_answers_give_their_credentials_or_their_error() {
        let ok = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>a/b+c&amp;d</SecretAccessKey>
      <SessionToken>tok==</SessionToken>
      <Expiration>2026-12-02T23:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
</AssumeRoleResponse>"#;
        let (c, t) = sts_credentials(ok).unwrap();
        assert_eq!(c.key_id, "ASIAEXAMPLE");
        assert_eq!(c.secret_key, "a/b+c&d");
        assert_eq!(c.token.as_deref(), Some("tok=="));
        assert_eq!(t.unwrap().to_rfc3339(), "2026-12-02T23:00:00+00:00");
        let err = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                   <Message>User: x is not authorized to perform: sts:AssumeRole</Message>\
                   </Error></ErrorResponse>";
        assert_eq!(
            sts_error(403, err),
            "AccessDenied: User: x is not authorized to perform: sts:AssumeRole"
        );
        assert!(sts_credentials(err).is_none());
        assert_eq!(sts_error(502, "Bad gateway\n"), "HTTP 502: Bad gateway");
    }

    #[test]
    fn the_sso_cache_is_named_by_the_sha1_of_its_key() {
        // The AWS CLI's documented example: the SHA-1 of the session name.
        let file = sso_cache_file("my-sso").unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"my-sso");
        assert_eq!(name.len(), 45);
        assert!(name.starts_with(&format!("{:02x}", digest.as_ref()[0])));
        // SHA-1("abc"), FIPS 180's example.
        let abc = sso_cache_file("abc").unwrap();
        assert!(abc.ends_with("a9993e364706816aba3e25717850c26c9cd0d89d.json"));
    }

    #[test]
    fn profiles_resolve_by_the_cli_s_order_and_say_what_they_lack() {
        let config = "[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = keys\n\
                      [profile keys]\naws_access_key_id = A\naws_secret_access_key = S\n\
                      [profile loop-a]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = loop-b\n\
                      [profile loop-b]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = loop-a\n\
                      [profile mfa]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = keys\nmfa_serial = x\n\
                      [profile bare-role]\nrole_arn = arn:aws:iam::1:role/r\n\
                      [profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n\
                      [profile sso-no-section]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n\
                      [sso-session corp]\nsso_region = eu-west-1\nsso_start_url = https://x\n\
                      [profile process]\ncredential_process = /bin/echo hi\n\
                      [profile region-only]\nregion = eu-west-1\n";
        let files = Files::parse(config, "");
        let get = |name: &str| for_profile(&files, &files.load(name).unwrap());
        for name in ["role", "keys", "sso", "process"] {
            assert!(get(name).unwrap().is_some(), "{name}");
        }
        assert!(get("region-only").unwrap().is_none());
        let error = |name: &str| get(name).unwrap_err().to_string();
        assert!(error("loop-a").contains("loop-a -> loop-b -> loop-a"));
        assert!(error("mfa").contains("MFA"));
        assert!(error("bare-role").contains("source_profile"));
        assert!(error("sso-no-section").contains("[sso-session nope]"));
    }

    #[test]
    fn a_credential_process_s_output_is_read_or_its_failure_named() {
        let ok = r#"printf '{"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "SK", "SessionToken": "T", "Expiration": "2030-01-01T00:00:00Z"}'"#;
        let (c, t) = run_process(&format!("sh -c {}", shlex::try_quote(ok).unwrap()), "p").unwrap();
        assert_eq!((c.key_id.as_str(), c.token.as_deref()), ("AK", Some("T")));
        assert_eq!(t.unwrap().timestamp(), 1_893_456_000);
        let e = run_process("sh -c 'echo denied >&2; exit 3'", "p").unwrap_err();
        assert!(e.contains("denied") && e.contains("profile \"p\""), "{e}");
        let e = run_process("sh -c 'echo {}'", "p").unwrap_err();
        assert!(e.contains("AccessKeyId"), "{e}");
        let e = run_process("/no/such/command", "p").unwrap_err();
        assert!(e.contains("cannot run"), "{e}");
    }
}
