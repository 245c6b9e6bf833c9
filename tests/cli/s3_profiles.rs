//! Credentials from profiles, against moto's server (`tests/s3/moto.sh`): a real S3, IAM and
//! STS on loopback that checks every request's SigV4 signature and IAM policy once set up, and
//! the second S3 server keytrail's reports are checked on (AWS's byte-wise listing order).
//!
//! The trail is readable only by the role `trail-reader` and the user `reader`; the user
//! `assumer` may only assume the role. So a report equal to the local tree's proves keytrail
//! assumed the role (or ran the process, or asked SSO) and signed with what it got. No SSO portal
//! is pip-installable: a stand-in on loopback answers GetRoleCredentials, as the AWS API
//! reference documents it, with `reader`'s keys, which moto then checks.
//!
//! Like the SeaweedFS tests, these fail (never skip) when the server cannot start.

use crate::s3::{figures, json, simulated_tree};
use crate::util::*;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Requests moto takes unchecked: the setup script's IAM calls (it prints the number it made,
/// and the test checks they agree).
const SETUP_REQUESTS: u64 = 11;
const BUCKET: &str = "moto-trail";
const SSO_TOKEN: &str = "keytrail-test-sso-token";

struct Moto {
    endpoint: String,
    _child: Mutex<Child>,
    /// The trail, also in the bucket.
    tree: tempfile::TempDir,
    /// What the setup made: keys and the role.
    setup: Value,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = root.join("tests/s3/moto.sh");
        let install = Command::new("bash").arg(&script).arg("install").output();
        let install = install.expect("run tests/s3/moto.sh install");
        assert!(
            install.status.success(),
            "moto could not be installed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let port = free_port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new("bash")
            .arg(&script)
            .arg("serve-for")
            .arg(std::process::id().to_string())
            .arg(port.to_string())
            .env("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_REQUESTS.to_string())
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("start moto (tests/s3/moto.sh)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        // A connection, not a request: moto counts requests toward the unchecked ones.
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not start in 60 s; its log:\n{}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let tree = tempfile::tempdir().unwrap();
        simulated_tree(tree.path());
        let setup = Command::new("bash")
            .arg(&script)
            .arg("python")
            .arg(root.join("tests/s3/moto_setup.py"))
            .arg(&endpoint)
            .arg(BUCKET)
            .arg(tree.path())
            .output()
            .unwrap();
        assert!(
            setup.status.success(),
            "moto_setup.py failed: {}\nmoto's log:\n{}",
            String::from_utf8_lossy(&setup.stderr),
            std::fs::read_to_string(log.path()).unwrap_or_default()
        );
        let setup: Value = serde_json::from_slice(&setup.stdout).unwrap();
        assert_eq!(setup["setup_requests"], SETUP_REQUESTS);
        assert!(setup["uploaded"].as_u64().unwrap() > 100, "{setup}");
        Moto {
            endpoint,
            _child: Mutex::new(child),
            tree,
            setup,
        }
    })
}

/// A stand-in for the SSO portal's GetRoleCredentials: answers `GET /federation/credentials`
/// for the right token, account and role with `keys`; counts the requests.
struct SsoPortal {
    endpoint: String,
    asked: Arc<AtomicUsize>,
}

fn sso_portal(keys: &Value) -> SsoPortal {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(AtomicUsize::new(0));
    let (id, secret) = (
        keys["id"].as_str().unwrap().to_string(),
        keys["secret"].as_str().unwrap().to_string(),
    );
    let counter = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap_or_default();
            let mut token = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("x-amz-sso_bearer_token") {
                        token = Some(v.trim().to_string());
                    }
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let wanted =
                "GET /federation/credentials?account_id=123456789012&role_name=TrailReader ";
            let (status, body) = if !request.starts_with(wanted) {
                (
                    "404 Not Found",
                    r#"{"message":"no such resource"}"#.to_string(),
                )
            } else if token.as_deref() != Some(SSO_TOKEN) {
                (
                    "401 Unauthorized",
                    r#"{"message":"Session token not found or invalid"}"#.to_string(),
                )
            } else {
                let expires = chrono::Utc::now().timestamp_millis() + 3_600_000;
                (
                    "200 OK",
                    format!(
                        r#"{{"roleCredentials":{{"accessKeyId":"{id}","secretAccessKey":"{secret}","sessionToken":null,"expiration":{expires}}}}}"#
                    ),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    SsoPortal { endpoint, asked }
}

/// A home folder with the AWS config file `config` and, if `sso_expires` is given, the SSO token
/// `aws sso login` would have cached for the session `corp`.
fn home(config: &str, sso_expires: Option<&str>) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(aws.join("sso/cache")).unwrap();
    std::fs::write(aws.join("config"), config).unwrap();
    if let Some(expires) = sso_expires {
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"corp");
        let name: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let token = serde_json::json!({
            "startUrl": "https://example.awsapps.com/start",
            "region": "us-east-1",
            "accessToken": SSO_TOKEN,
            "expiresAt": expires,
        });
        std::fs::write(
            aws.join("sso/cache").join(format!("{name}.json")),
            token.to_string(),
        )
        .unwrap();
    }
    home
}

/// The profiles the tests use, with the setup's keys.
fn config(m: &Moto, process_output: &Path) -> String {
    let key = |who: &str, what: &str| m.setup[who][what].as_str().unwrap().to_string();
    format!(
        "[profile assumer]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
         [profile audit]\nrole_arn = {}\nsource_profile = assumer\nrole_session_name = keytrail-test\nregion = us-east-1\n\n\
         [profile via-process]\ncredential_process = cat \"{}\"\n\n\
         [profile tampered]\naws_access_key_id = {reader}\naws_secret_access_key = not-the-secret\n\n\
         [profile reader]\naws_access_key_id = {reader}\naws_secret_access_key = {}\n\n\
         [profile untrusted]\nrole_arn = {}\nsource_profile = reader\n\n\
         [profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = TrailReader\n\n\
         [sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://example.awsapps.com/start\n",
        key("assumer", "id"),
        key("assumer", "secret"),
        m.setup["role_arn"].as_str().unwrap(),
        process_output.display(),
        key("reader", "secret"),
        m.setup["role_arn"].as_str().unwrap(),
        reader = key("reader", "id"),
    )
}

/// `keytrail ARGS --profile PROFILE` against moto, with no credentials in the environment and
/// `home` as the home folder.
fn keytrail(args: &[&str], profile: &str, home: &Path, sso: Option<&str>) -> Run {
    let m = moto();
    let mut command = Command::new(env!("CARGO_BIN_EXE_keytrail"));
    command
        .args(args)
        .args(["--profile", profile, "--endpoint-url", &m.endpoint])
        .env("KEYTRAIL_CONFIG", "")
        .env("HOME", home)
        .env("AWS_ENDPOINT_URL_STS", &m.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_SSO",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        command.env_remove(var);
    }
    if let Some(sso) = sso {
        command.env("AWS_ENDPOINT_URL_SSO", sso);
    }
    let out = command.stdin(Stdio::null()).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_role_a_credential_process_and_sso_read_what_the_local_tree_says() {
    let m = moto();
    let process_output = m.tree.path().join("reader-credentials.json");
    std::fs::write(
        &process_output,
        serde_json::json!({
            "Version": 1,
            "AccessKeyId": m.setup["reader"]["id"],
            "SecretAccessKey": m.setup["reader"]["secret"],
        })
        .to_string(),
    )
    .unwrap();
    let config = config(m, &process_output);
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let home = home(&config, Some(&later));
    let portal = sso_portal(&m.setup["reader"]);
    let url = format!("s3://{BUCKET}/AWSLogs/");
    for command in ["analyze", "cost"] {
        let local = crate::util::run(
            &[
                command,
                &m.tree.path().join("AWSLogs").to_string_lossy(),
                "--format",
                "json",
                "--quiet",
            ],
            m.tree.path(),
            None,
        );
        let local = figures(json(&local, command));
        let args = [command, url.as_str(), "--format", "json", "--quiet"];
        for profile in ["audit", "via-process", "sso"] {
            let asked = portal.asked.load(Ordering::SeqCst);
            let remote = json(
                &keytrail(&args, profile, home.path(), Some(&portal.endpoint)),
                &format!("{command} --profile {profile}"),
            );
            let s3 = remote["input"]["s3"].clone();
            assert_eq!(
                figures(remote),
                local,
                "{command} --profile {profile}: moto and the local tree differ"
            );
            assert!(s3["objects"].as_u64().unwrap() > 100, "{s3:#}");
            if profile == "sso" {
                // One credential for the whole run, not one per GET.
                assert_eq!(portal.asked.load(Ordering::SeqCst), asked + 1);
            }
        }
    }
    assert_eq!(portal.asked.load(Ordering::SeqCst), 2);
}

#[test]
fn credentials_that_cannot_read_the_trail_are_named_with_what_to_do() {
    let m = moto();
    let no_process = m.tree.path().join("no-such-credentials.json");
    let config = config(m, &no_process);
    let url = format!("s3://{BUCKET}/AWSLogs/");
    let args = ["analyze", url.as_str(), "--format", "json", "--quiet"];
    let expired = home(&config, Some("2020-01-01T00:00:00Z"));
    let portal = sso_portal(&m.setup["reader"]);
    let cases = [
        // The role's source may only assume the role: moto checks its policy.
        ("assumer", "access denied"),
        // A wrong secret: moto checks the signature.
        ("tampered", "SignatureDoesNotMatch"),
        // The role does not trust `reader`: STS refuses, and says so.
        (
            "untrusted",
            "STS AssumeRole of arn:aws:iam::123456789012:role/trail-reader",
        ),
        ("via-process", "credential_process"),
        ("sso", "aws sso login --profile sso"),
        ("nobody", "no profile \"nobody\""),
    ];
    for (profile, says) in cases {
        let r = keytrail(&args, profile, expired.path(), Some(&portal.endpoint));
        assert_ne!(
            r.code, 0,
            "--profile {profile} read the trail: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(says),
            "--profile {profile}: the error does not say {says:?}:\n{}",
            r.stderr
        );
    }
    // An expired SSO session is found in the cache, before any request to the portal.
    assert_eq!(portal.asked.load(Ordering::SeqCst), 0);
}
