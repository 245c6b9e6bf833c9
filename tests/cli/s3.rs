//! `s3://` inputs, against a real S3-compatible server on loopback (SeaweedFS, started by
//! `tests/s3/server.sh`, checking SigV4 for real), never a mock: the same reports as the local
//! tree, pruning by the delivered layout, and faults (a forbidden object, one deleted during the
//! run, throttling) injected by a proxy in front of the real server.
//!
//! The server is started once for the test binary. When it cannot start, these tests fail:
//! they never skip. `KEYTRAIL_S3_ENDPOINT` points them at a server already running instead
//! (with the keys of `tests/s3/identities.json`).

use crate::util::*;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "KEYTRAILTESTKEY";
const SECRET_KEY: &str = "keytrail-test-secret";

pub(crate) struct Server {
    pub(crate) endpoint: String,
    _child: Option<Mutex<Child>>,
    _dir: Option<tempfile::TempDir>,
}

/// The server every test here shares.
pub(crate) fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start_server)
}

fn start_server() -> Server {
    if let Ok(endpoint) = std::env::var("KEYTRAIL_S3_ENDPOINT") {
        return Server {
            endpoint,
            _child: None,
            _dir: None,
        };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        TcpStream::connect("127.0.0.1:8333").is_err(),
        "127.0.0.1:8333 is taken: stop the server listening there, or point the tests at it \
         with KEYTRAIL_S3_ENDPOINT=http://127.0.0.1:8333"
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("weed.log");
    // The server lives as long as this test process, however the tests end.
    let child = Command::new("bash")
        .arg(root.join("tests/s3/server.sh"))
        .arg("serve-for")
        .arg(std::process::id().to_string())
        .arg(dir.path())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the S3 test server (tests/s3/server.sh)");
    let endpoint = "http://127.0.0.1:8333".to_string();
    let started = Instant::now();
    loop {
        if http_status(&endpoint).is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the S3 test server did not start in 60 s; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Server {
        endpoint,
        _child: Some(Mutex::new(child)),
        _dir: Some(dir),
    }
}

/// The status of `GET /` on `endpoint`, if it answers.
fn http_status(endpoint: &str) -> Option<u16> {
    let addr = endpoint.strip_prefix("http://")?;
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn store(bucket: &str) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(&server().endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(bucket)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .build()
        .unwrap()
}

/// Uploads every file under `dir` to `bucket`, keys as relative paths, through the S3 API.
pub(crate) fn upload(dir: &Path, bucket: &str) -> usize {
    let store = Arc::new(store(bucket));
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    let n = files.len();
    runtime().block_on(async {
        use futures::StreamExt;
        futures::stream::iter(files)
            .map(|f| {
                let store = store.clone();
                let key = f
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                async move {
                    let bytes = std::fs::read(&f).unwrap();
                    store
                        .put(&StorePath::from(key.as_str()), PutPayload::from(bytes))
                        .await
                        .unwrap_or_else(|e| panic!("upload {key}: {e}"));
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    });
    n
}

/// A simulated organization trail: two accounts, two Regions, three days, digests.
pub(crate) fn simulated_tree(dir: &Path) {
    use keytrail::simulate::{self, scenario::Scenario};
    let toml = r#"
name = "s3-tree"
start = "2026-11-01T06:00:00Z"
[trail]
organization = "o-exampleorg1"
digests = true
file_minutes = 60
noise_share = 0.2
cross_account_delivery = true
[[buckets]]
name = "east-lake"
region = "us-east-1"
bucket_key = true
[[buckets]]
name = "west-lake"
account = "444455556666"
region = "eu-west-1"
[[principals]]
name = "etl"
[[principals]]
name = "reader"
account = "444455556666"
[[phases]]
principal = "etl"
bucket = "east-lake"
end_secs = 216000
put_rate = 0.004
get_rate = 0.006
[[phases]]
principal = "reader"
bucket = "west-lake"
end_secs = 216000
put_rate = 0.003
get_rate = 0.005
[[phases]]
principal = "reader"
bucket = "east-lake"
start_secs = 90000
end_secs = 120000
get_rate = 0.01
"#;
    let scenario = Scenario::parse(toml, "s3-tree").unwrap();
    let sim = simulate::simulate(&scenario, 11);
    simulate::write(&sim, dir, true, 2, &|_| {}).unwrap();
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
}

/// One tree, uploaded once, for the tests that only read it.
struct Tree {
    dir: tempfile::TempDir,
    bucket: &'static str,
    objects: usize,
}

fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        simulated_tree(dir.path());
        let bucket = "org-trail-bucket";
        let objects = upload(dir.path(), bucket);
        Tree {
            dir,
            bucket,
            objects,
        }
    })
}

/// `keytrail ARGS` with the test server's credentials in the environment.
pub(crate) fn keytrail(args: &[&str], endpoint: &str, cwd: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(args)
        .args(["--endpoint-url", endpoint])
        .current_dir(cwd)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("HOME", cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A report without what says how the input was reached (files skipped by name locally,
/// prefixes never listed in S3): everything else must be the same.
pub(crate) fn figures(mut report: serde_json::Value) -> serde_json::Value {
    let input = report["input"].as_object_mut().unwrap();
    input.remove("s3");
    input["files"].as_object_mut().unwrap().remove("skipped");
    report
}

pub(crate) fn json(r: &Run, what: &str) -> serde_json::Value {
    assert_eq!(r.code, 0, "{what} failed: {}", r.stderr);
    r.json()
}

#[test]
fn reports_from_s3_equal_the_reports_of_the_local_tree() {
    let t = tree();
    let endpoint = &server().endpoint;
    let url = format!("s3://{}/AWSLogs/", t.bucket);
    for command in ["analyze", "cost", "quota"] {
        let args = |input: &str| -> Vec<String> {
            vec![
                command.into(),
                input.into(),
                "--format".into(),
                "json".into(),
                "--quiet".into(),
            ]
        };
        let local_args = args(&t.dir.path().join("AWSLogs").to_string_lossy());
        let s3_args = args(&url);
        fn refs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let local = json(
            &keytrail(&refs(&local_args), endpoint, t.dir.path()),
            command,
        );
        let remote = json(&keytrail(&refs(&s3_args), endpoint, t.dir.path()), command);
        assert_eq!(
            figures(remote.clone()),
            figures(local),
            "{command}: s3:// and the local tree differ"
        );
        let s3 = &remote["input"]["s3"];
        // Every log object is read; digest folders are never listed.
        let digests = s3["prefixes_pruned"]["digest_file"].as_u64().unwrap();
        assert!(digests >= 2, "{s3:#}");
        assert_eq!(
            s3["get_requests"], s3["objects"],
            "one GET per object: {s3:#}"
        );
        assert!(s3["objects"].as_u64().unwrap() > 100, "{s3:#}");
        assert!(remote["input"]["records"]["used"].as_u64().unwrap() > 1000);
        assert!(t.objects as u64 > s3["objects"].as_u64().unwrap());
    }
}

#[test]
fn account_region_and_dates_prune_whole_prefixes_before_listing_them() {
    let t = tree();
    let endpoint = &server().endpoint;
    // The reader's account has two Regions: its own bucket's, and the copies of its requests to
    // the other account's bucket.
    let filters = [
        "--account",
        "444455556666",
        "--region",
        "eu-west-1",
        "--since",
        "2026-11-03T12:00:00Z",
        "--until",
        "2026-11-04T00:00:00Z",
    ];
    let run = |input: &str| {
        let mut args = vec!["analyze", input, "--format", "json", "--quiet"];
        args.extend(filters);
        json(&keytrail(&args, endpoint, t.dir.path()), "analyze")
    };
    let local = run(&t.dir.path().join("AWSLogs").to_string_lossy());
    let remote = run(&format!("s3://{}/", t.bucket));
    assert_eq!(figures(remote.clone()), figures(local.clone()));
    assert!(remote["input"]["records"]["used"].as_u64().unwrap() > 0);
    let s3 = &remote["input"]["s3"];
    let pruned = &s3["prefixes_pruned"];
    assert_eq!(pruned["path_account_not_asked_for"], 1, "{s3:#}");
    assert_eq!(pruned["path_region_not_asked_for"], 1, "{s3:#}");
    assert!(
        pruned["path_date_outside_since_until"].as_u64().unwrap() >= 1,
        "{s3:#}"
    );
    // Listed: the root, AWSLogs/, the organization, one account, its CloudTrail/ and
    // CloudTrail-Digest/ parents, one Region, its year and month, and the days kept (with a
    // day of margin each side): a dozen folders, not the whole tree.
    let lists = s3["list_requests"].as_u64().unwrap();
    assert!((8..=12).contains(&lists), "{lists} LIST requests: {s3:#}");
    // The local walk skipped the same files by path.
    let local_skipped = &local["input"]["files"]["skipped"];
    assert!(
        local_skipped["path_account_not_asked_for"]
            .as_u64()
            .unwrap()
            > 0,
        "{local_skipped:#}"
    );
    assert_eq!(
        remote["input"]["files"]["read"], local["input"]["files"]["read"],
        "the same files are read"
    );
}

#[test]
fn s3_and_local_inputs_mix_and_a_bad_url_is_a_usage_error() {
    let t = tree();
    let endpoint = &server().endpoint;
    let url = format!("s3://{}/AWSLogs/o-exampleorg1/111122223333/", t.bucket);
    let other = t.dir.path().join("AWSLogs/o-exampleorg1/444455556666");
    let mixed = json(
        &keytrail(
            &[
                "analyze",
                &url,
                &other.to_string_lossy(),
                "--format",
                "json",
                "-q",
            ],
            endpoint,
            t.dir.path(),
        ),
        "analyze",
    );
    let whole = json(
        &keytrail(
            &[
                "analyze",
                &t.dir.path().join("AWSLogs").to_string_lossy(),
                "--format",
                "json",
                "-q",
            ],
            endpoint,
            t.dir.path(),
        ),
        "analyze",
    );
    assert_eq!(mixed["groups"], whole["groups"]);
    let bad = keytrail(&["analyze", "s3://No_Such/x"], endpoint, t.dir.path());
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("is not a bucket name"),
        "{}",
        bad.stderr
    );
}

/// A proxy in front of the real server that injects faults: 503 SlowDown for the first GETs,
/// 403 AccessDenied for one key, and deletes another key (on the real server) just before its
/// GET goes through; with `stall`, every GET of an object is held unanswered (counted in
/// `slowdowns_sent`). Everything else is forwarded as is, one request per connection.
struct FaultProxy {
    endpoint: String,
    slowdowns_sent: Arc<AtomicUsize>,
    /// GETs of objects being answered now, and the most at once.
    gets: Arc<Gauge>,
    /// The same of LIST requests.
    lists: Arc<Gauge>,
}

#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// What the fault proxy does to the GETs of objects.
#[derive(Clone, Default)]
struct Faults {
    /// This key's GET is refused with 403 AccessDenied.
    forbidden: String,
    /// This key is deleted on the real server just before its GET goes through.
    vanishing: String,
    /// The first this many GETs get 503 SlowDown.
    slowdowns: usize,
    /// Every GET is held unanswered.
    stall: bool,
}

fn fault_proxy(bucket: &str, faults: Faults) -> FaultProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let upstream = server().endpoint.trim_start_matches("http://").to_string();
    let sent = Arc::new(AtomicUsize::new(0));
    let (gets, lists) = (Arc::new(Gauge::default()), Arc::new(Gauge::default()));
    let (counter, gauge) = (sent.clone(), [gets.clone(), lists.clone()]);
    let bucket = bucket.to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (upstream, faults, bucket, counter, gauge) = (
                upstream.clone(),
                faults.clone(),
                bucket.clone(),
                counter.clone(),
                gauge.clone(),
            );
            std::thread::spawn(move || {
                let _ = proxy_one(conn, &upstream, &bucket, &faults, &counter, &gauge);
            });
        }
    });
    FaultProxy {
        endpoint,
        slowdowns_sent: sent,
        gets,
        lists,
    }
}

fn proxy_one(
    mut client: TcpStream,
    upstream: &str,
    bucket: &str,
    faults: &Faults,
    sent: &AtomicUsize,
    [gets, lists]: &[Arc<Gauge>; 2],
) -> std::io::Result<()> {
    let Faults {
        forbidden,
        vanishing,
        slowdowns,
        stall,
    } = faults;
    let (slowdowns, stall) = (*slowdowns, *stall);
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        // One request per connection: the client opens a new one for the next.
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        if line == "\r\n" {
            head.push_str("Connection: close\r\n\r\n");
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request_line = head.lines().next().unwrap_or("").to_string();
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let is_get_object = request_line.starts_with("GET ") && !path.contains('?');
    let error = |code: u16, status: &str, s3_code: &str| {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{s3_code}</Code><Message>injected by the test proxy</Message></Error>"
        );
        format!(
            "HTTP/1.1 {code} {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
            xml.len()
        )
    };
    if is_get_object {
        if stall {
            sent.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(600));
            return Ok(());
        }
        if !forbidden.is_empty() && path.ends_with(forbidden.as_str()) {
            client.write_all(error(403, "Forbidden", "AccessDenied").as_bytes())?;
            return Ok(());
        }
        if sent.load(Ordering::SeqCst) < slowdowns
            && sent.fetch_add(1, Ordering::SeqCst) < slowdowns
        {
            client.write_all(error(503, "Slow Down", "SlowDown").as_bytes())?;
            return Ok(());
        }
        if !vanishing.is_empty() && path.ends_with(vanishing.as_str()) {
            let key = vanishing.to_string();
            let bucket = bucket.to_string();
            runtime().block_on(async move {
                store(&bucket)
                    .delete(&StorePath::from(key.as_str()))
                    .await
                    .unwrap()
            });
        }
    }
    struct Answering<'a>(&'a Gauge, bool);
    impl Drop for Answering<'_> {
        fn drop(&mut self) {
            if self.1 {
                self.0.now.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
    let is_list = request_line.starts_with("GET ") && path.contains("list-type=");
    let gauge = if is_get_object { gets } else { lists };
    let answering = Answering(gauge, is_get_object || is_list);
    if is_get_object || is_list {
        let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.most.fetch_max(now, Ordering::SeqCst);
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(head.as_bytes())?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    // Counted out before the client can have the answer (and send the next request), so a
    // request it sends after this one's answer is never counted beside it.
    drop(answering);
    client.write_all(&response)?;
    Ok(())
}

/// `keytrail analyze` of the shared tree as JSON, with `extra` arguments, through a fault proxy
/// that injects nothing: the report, and the proxy with its counts.
fn analyze_through_proxy(extra: &[&str]) -> (serde_json::Value, FaultProxy) {
    let t = tree();
    let proxy = fault_proxy(t.bucket, Faults::default());
    let url = format!("s3://{}/AWSLogs/", t.bucket);
    let mut args = vec!["analyze", &url, "--format", "json", "-q"];
    args.extend_from_slice(extra);
    let report = json(&keytrail(&args, &proxy.endpoint, t.dir.path()), "analyze");
    (report, proxy)
}

#[test]
fn the_buffer_budget_bounds_the_gets_in_flight_and_changes_no_figure() {
    let run = |budget: &str| {
        let (report, proxy) =
            analyze_through_proxy(&["--s3-requests", "64", "--s3-buffer", budget]);
        (report, proxy.gets.most.load(Ordering::SeqCst))
    };
    let (roomy, most_roomy) = run("256MiB");
    // Every object is larger than a KiB: each waits until the one before it is decoded.
    let (tight, most_tight) = run("1KiB");
    assert!(most_roomy > 1, "GETs overlap with room to: {most_roomy}");
    assert_eq!(most_tight, 1, "one object at a time within 1 KiB");
    assert_eq!(figures(tight), figures(roomy));
    let t = tree();
    let url = format!("s3://{}/AWSLogs/", t.bucket);
    let bad = keytrail(
        &["analyze", &url, "--s3-buffer", "lots"],
        &server().endpoint,
        t.dir.path(),
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn folders_are_listed_many_at_a_time_and_list_the_same_objects() {
    let run = |requests: &str| {
        let (report, proxy) = analyze_through_proxy(&["--s3-requests", requests]);
        (report, proxy.lists.most.load(Ordering::SeqCst))
    };
    let (many, most) = run("32");
    let (one, most_one) = run("1");
    // Two accounts' folders, two Regions' and three days' are there to list side by side.
    assert!(most > 1, "LISTs overlap: at most {most} at once");
    assert_eq!(most_one, 1, "--s3-requests 1 lists one folder at a time");
    assert_eq!(many["input"]["s3"], one["input"]["s3"]);
    assert_eq!(figures(many), figures(one));
}

#[test]
fn forbidden_vanished_and_throttled_objects_are_named_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    simulated_tree(dir.path());
    let bucket = "faulty-trail";
    upload(dir.path(), bucket);
    let logs: Vec<String> = walkdir::WalkDir::new(dir.path())
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains("Digest"))
        .map(|e| {
            e.path()
                .strip_prefix(dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let (forbidden, vanishing) = (logs[3].clone(), logs[7].clone());
    let proxy = fault_proxy(
        bucket,
        Faults {
            forbidden: forbidden.clone(),
            vanishing: vanishing.clone(),
            slowdowns: 5,
            stall: false,
        },
    );
    let url = format!("s3://{bucket}/");
    let run = keytrail(
        &["analyze", &url, "--format", "json", "--quiet"],
        &proxy.endpoint,
        dir.path(),
    );
    let report = json(&run, "analyze");
    assert!(
        proxy.slowdowns_sent.load(Ordering::SeqCst) >= 5,
        "503s were injected"
    );
    let problems = report["input"]["problems"]["listed"].to_string();
    assert!(
        problems.contains(&format!("s3://{bucket}/{forbidden}"))
            && problems.contains("access denied"),
        "the forbidden object is named: {problems}"
    );
    assert!(
        problems.contains(&format!("s3://{bucket}/{vanishing}"))
            && problems.contains("no such object"),
        "the deleted object is named: {problems}"
    );
    assert_eq!(report["input"]["problems"]["total"], 2, "{problems}");
    // Every other object was read, the throttled ones after their retries.
    let s3 = &report["input"]["s3"];
    assert_eq!(
        report["input"]["files"]["read"].as_u64().unwrap() + 2,
        s3["objects"].as_u64().unwrap(),
        "{s3:#}"
    );
    // --strict makes the first of them fatal.
    let strict = keytrail(
        &["analyze", &url, "--format", "json", "--quiet", "--strict"],
        &proxy.endpoint,
        dir.path(),
    );
    assert_eq!(strict.code, 3, "{}", strict.stderr);
    assert!(
        strict.stderr.contains(&format!("s3://{bucket}/")),
        "{}",
        strict.stderr
    );
}

#[test]
fn credentials_come_from_a_named_profile_and_broken_profiles_say_what_to_do() {
    let t = tree();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!("[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n\n[audit]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    )
    .unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        "[profile audit]\nregion = us-east-1\n\n[profile corp]\nsso_session = corp\n",
    )
    .unwrap();
    let url = format!("s3://{}/AWSLogs/o-exampleorg1/444455556666/", t.bucket);
    let run = |profile: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keytrail"));
        cmd.args(["analyze", &url, "--format", "json", "-q"])
            .args(["--endpoint-url", &server().endpoint])
            .env("HOME", home.path())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE");
        if let Some(p) = profile {
            cmd.args(["--profile", p]);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.stdout,
        )
    };
    let (code, stderr, stdout) = run(Some("audit"));
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert!(report["input"]["files"]["read"].as_u64().unwrap() > 0);
    // The default profile's keys are wrong: the server refuses the listing, and says so; with
    // no file read there is nothing to report (exit 6), the report still written.
    let (code, stderr, stdout) = run(None);
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("nothing to report: no input file was read: 1 problem (first: s3://"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert!(
        report["input"]["problems"]["listed"]
            .to_string()
            .contains("cannot list"),
        "{:#}",
        report["input"]["problems"]
    );
    // An SSO profile whose session is not in the config file (profiles that work are tested
    // against moto, tests/cli/s3_profiles.rs).
    let (code, stderr, _) = run(Some("corp"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no [sso-session corp] section"), "{stderr}");
    let (code, stderr, _) = run(Some("nobody"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no profile \"nobody\""), "{stderr}");
}

/// Sends Ctrl-C to `child` once `waiting` says it waits on S3, and requires it to stop at once
/// with exit 130 (not after the client's timeouts and retries).
fn interrupt_while_waiting(mut child: Child, waiting: &dyn Fn() -> bool) {
    let started = Instant::now();
    while !waiting() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no request reached the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended though S3 never answered"
    );
    let signalled = Instant::now();
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("still waiting on S3 20 s after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let waited = signalled.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        waited < Duration::from_secs(3),
        "Ctrl-C took {waited:?} to stop the run"
    );
}

/// `keytrail analyze URL` against `endpoint`, with the test's credentials, output piped.
fn spawn_analyze(url: &str, endpoint: &str, home: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(["analyze", url, "-q"])
        .args(["--endpoint-url", endpoint])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("KEYTRAIL_CONFIG", "")
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Ctrl-C stops a run promptly while S3 does not answer, listing or reading: a server on
/// loopback that accepts connections and never replies holds the listing, and the fault proxy
/// in front of the real server holds every GET, as a stalled network or a server backing off
/// does.
#[test]
fn ctrl_c_stops_a_run_waiting_on_s3() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    let holder = held.clone();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            holder.lock().unwrap().push(c);
        }
    });
    let home = tempfile::tempdir().unwrap();
    let child = spawn_analyze("s3://stalled-bucket/AWSLogs/", &endpoint, home.path());
    interrupt_while_waiting(child, &|| !held.lock().unwrap().is_empty());

    simulated_tree(home.path());
    let bucket = "stalled-gets";
    upload(home.path(), bucket);
    let proxy = fault_proxy(
        bucket,
        Faults {
            stall: true,
            ..Faults::default()
        },
    );
    let child = spawn_analyze(&format!("s3://{bucket}/"), &proxy.endpoint, home.path());
    interrupt_while_waiting(child, &|| proxy.slowdowns_sent.load(Ordering::SeqCst) > 0);
}
