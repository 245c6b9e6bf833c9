//! End-to-end tests of the `keytrail` binary, on trails the tests build themselves.

use keytrail::envelope::Rng;
use keytrail::simulate::records::{self, Identity, Sse};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ACCOUNT: &str = "111122223333";
const KEY_A: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-4000-8000-000000000001";
const KEY_B: &str = "arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-0000-4000-8000-000000000002";

/// A trail directory under construction.
struct Trail {
    dir: tempfile::TempDir,
    rng: Rng,
}

impl Trail {
    fn new() -> Trail {
        Trail {
            dir: tempfile::tempdir().unwrap(),
            rng: Rng::new(42),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A delivered file: gzip of `{"Records":[...]}`.
    fn delivered(&self, rel: &str, records: &[Vec<u8>]) -> PathBuf {
        self.file(rel, &keytrail::simulate::gzip(&records_json(records)))
    }

    fn who(&self, name: &str) -> Identity {
        Identity {
            account: ACCOUNT.into(),
            arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/{name}"),
            role_arn: Some(format!("arn:aws:iam::{ACCOUNT}:role/app")),
            principal_id: format!("AROAEXAMPLE:{name}"),
            access_key: "ASIAEXAMPLE".into(),
            user_agent: "[aws-cli/2.15.0]".into(),
            source_ip: "10.1.2.3".into(),
        }
    }

    /// A KMS call S3 made for `session`; `arn` is the aws:s3:arn context.
    fn kms(&mut self, session: &str, t: u32, op: &str, arn: &str, key: &str) -> Vec<u8> {
        self.kms_ctx(session, t, op, arn, key, &[])
    }

    fn kms_ctx(
        &mut self,
        session: &str,
        t: u32,
        op: &str,
        arn: &str,
        key: &str,
        ctx: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let ctx: Vec<(String, String)> = ctx
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let who = self.who(session);
        records::kms_call(
            &mut out,
            &mut self.rng,
            &who,
            &time(t),
            "us-east-1",
            op,
            arn,
            &ctx,
            key,
            None,
        );
        out
    }

    /// An S3 data event by `session` on `object` (`bucket/key`).
    fn s3(
        &mut self,
        session: &str,
        t: u32,
        op: &str,
        object: &str,
        kms: &str,
        bucket_key: bool,
    ) -> Vec<u8> {
        let (bucket, key) = object.split_once('/').unwrap();
        let mut out = Vec::new();
        let who = self.who(session);
        let sse = Sse {
            kms_key: kms,
            bucket_key,
            dsse: false,
        };
        records::s3_request(
            &mut out,
            &mut self.rng,
            &who,
            &time(t),
            "us-east-1",
            op,
            bucket,
            key,
            "arn:aws:s3:::",
            sse,
            None,
            100,
        );
        out
    }

    /// `keytrail analyze --quiet ARGS`, in JSON unless ARGS name a format.
    fn analyze(&self, args: &[&str]) -> Run {
        let mut full = vec!["analyze", "--quiet"];
        if !args.contains(&"--format") {
            full.extend_from_slice(&["--format", "json"]);
        }
        full.extend_from_slice(args);
        run(&full, self.dir.path(), None)
    }
}

fn time(t: u32) -> String {
    keytrail::event::format_time(1_709_287_200 + t as i64)
}

fn records_json(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"{\"Records\":[".to_vec();
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"]}");
    out
}

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr: {}", self.stderr))
    }
}

fn run(args: &[&str], cwd: &Path, stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The report row of a bucket (and group) in a mode.
fn row<'a>(report: &'a Value, group: &str, mode: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group && g["mode"] == mode)
        .unwrap_or_else(|| panic!("no row {group}/{mode} in {:#}", report["groups"]))
}

fn kms_total(report: &Value, group: &str, mode: &str) -> u64 {
    row(report, group, mode)["kms_calls"]["total"]
        .as_u64()
        .unwrap()
}

/// read = used + filtered out + rejected, and return the records section.
fn balanced(report: &Value) -> &Value {
    let r = &report["input"]["records"];
    let sum = |m: &Value| {
        m.as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        r["read"].as_u64().unwrap(),
        r["used"].as_u64().unwrap() + sum(&r["filtered_out"]) + sum(&r["rejected"]),
        "records do not balance: {r:#}"
    );
    r
}

/// One PUT and one GET per object in a per-object bucket, and the same in a bucket-key bucket
/// whose four requests cost one GenerateDataKey and one Decrypt.
fn two_buckets(t: &mut Trail) -> Vec<Vec<u8>> {
    let mut recs = Vec::new();
    for (i, obj) in ["a.csv", "b.csv"].iter().enumerate() {
        let t0 = i as u32 * 10;
        recs.push(t.s3(
            "alice",
            t0,
            "PutObject",
            &format!("plain/{}", obj),
            KEY_A,
            false,
        ));
        recs.push(t.kms(
            "alice",
            t0,
            "GenerateDataKey",
            &format!("arn:aws:s3:::plain/{obj}"),
            KEY_A,
        ));
        recs.push(t.s3(
            "alice",
            t0 + 1,
            "GetObject",
            &format!("plain/{}", obj),
            KEY_A,
            false,
        ));
        recs.push(t.kms(
            "alice",
            t0 + 1,
            "Decrypt",
            &format!("arn:aws:s3:::plain/{obj}"),
            KEY_A,
        ));
        recs.push(t.s3(
            "alice",
            t0,
            "PutObject",
            &format!("keyed/{}", obj),
            KEY_B,
            true,
        ));
        recs.push(t.s3(
            "alice",
            t0 + 1,
            "GetObject",
            &format!("keyed/{}", obj),
            KEY_B,
            true,
        ));
    }
    recs.push(t.kms("alice", 0, "GenerateDataKey", "arn:aws:s3:::keyed", KEY_B));
    recs.push(t.kms("alice", 1, "Decrypt", "arn:aws:s3:::keyed", KEY_B));
    recs
}

#[test]
fn a_bucket_key_bucket_and_a_per_object_bucket_are_reported_side_by_side() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    t.delivered(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/f.json.gz",
        &recs,
    );
    let run = t.analyze(&["."]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["schema"], "keytrail.analyze/v1");
    let plain = row(&report, "plain", "per_object");
    assert_eq!(plain["s3_requests"]["PutObject"], 2);
    assert_eq!(plain["s3_requests"]["GetObject"], 2);
    assert_eq!(plain["kms_calls"]["GenerateDataKey"], 2);
    assert_eq!(plain["kms_calls"]["Decrypt"], 2);
    assert_eq!(plain["objects"], 2);
    assert_eq!(plain["kms_calls_per_object"], 2.0);
    assert_eq!(plain["unmatched"]["s3_requests"], 0);
    let keyed = row(&report, "keyed", "bucket_key");
    assert_eq!(keyed["s3_requests"]["total"], 4);
    assert_eq!(keyed["kms_calls"]["total"], 2);
    assert_eq!(keyed["objects"], 2);
    assert_eq!(keyed["kms_calls_per_object"], 1.0);
    assert_eq!(keyed["unmatched"]["s3_requests"], 2, "two cache hits");
    assert_eq!(keyed["unmatched"]["kms_calls"], 0);
    let records = balanced(&report);
    assert_eq!(records["used"], 14);
}

#[test]
fn every_input_format_gives_the_same_report() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    let json = records_json(&recs);
    let lines: Vec<u8> = recs
        .iter()
        .flat_map(|r| r.iter().copied().chain([b'\n']))
        .collect();
    let mut array = b"[".to_vec();
    array.extend_from_slice(&recs.join(&b","[..]));
    array.push(b']');
    let lookup = serde_json::json!({
        "Events": recs.iter().map(|r| serde_json::json!({
            "EventId": "x", "EventName": "y", "CloudTrailEvent": String::from_utf8(r.clone()).unwrap()
        })).collect::<Vec<_>>(),
        "NextToken": "t"
    });
    let cloudwatch = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": "g", "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": recs.iter().map(|r| serde_json::json!({
            "id": "1", "timestamp": 0, "message": String::from_utf8(r.clone()).unwrap()
        })).collect::<Vec<_>>(),
    });
    let mut members = keytrail::simulate::gzip(&json[..json.len() / 2]);
    members.extend(keytrail::simulate::gzip(&json[json.len() / 2..]));
    let formats: Vec<(&str, Vec<u8>)> = vec![
        ("records.json", json.clone()),
        ("records.json.gz", keytrail::simulate::gzip(&json)),
        ("two-members.gz", members),
        ("lines.jsonl", lines),
        ("array.json", array),
        ("lookup.json", serde_json::to_vec_pretty(&lookup).unwrap()),
        ("cloudwatch.json", serde_json::to_vec(&cloudwatch).unwrap()),
    ];
    let reference = {
        let p = t.file("ref/records.json", &json);
        let run = t.analyze(&[p.to_str().unwrap()]);
        run.json()["groups"].clone()
    };
    for (name, bytes) in formats {
        // Named so the extension says nothing: formats are sniffed from content.
        let p = t.file(&format!("{name}/input.dat"), &bytes);
        let run = t.analyze(&[p.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let report = run.json();
        assert_eq!(report["groups"], reference, "{name}");
        assert_eq!(
            report["input"]["records"]["rejected"],
            serde_json::json!({}),
            "{name}"
        );
    }
    // And on stdin.
    let run = run(
        &["analyze", "--format", "json", "-"],
        t.dir.path(),
        Some(&keytrail::simulate::gzip(&json)),
    );
    assert_eq!(run.json()["groups"], reference);
}

#[test]
fn digest_and_insights_files_are_skipped_and_counted() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    t.delivered("AWSLogs/1/CloudTrail/us-east-1/2024/03/01/f.json.gz", &recs);
    t.file(
        "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/03/01/d.json.gz",
        &keytrail::simulate::gzip(b"{}"),
    );
    t.file(
        "AWSLogs/1/CloudTrail-Insight/us-east-1/2024/03/01/i.json.gz",
        b"{}",
    );
    // A digest and an Insights record where a walk cannot tell them by path.
    t.file(
        "loose/digest.json",
        br#"{"awsAccountId":"1","digestStartTime":"2024-03-01T00:00:00Z","logFiles":[]}"#,
    );
    t.file("loose/insight.json", br#"{"Records":[{"eventVersion":"1.07","eventTime":"2024-03-01T00:00:00Z","awsRegion":"us-east-1","eventID":"x","eventType":"AwsCloudTrailInsight","eventCategory":"Insight","insightDetails":{"state":"Start"}}]}"#);
    let report = t.analyze(&["."]).json();
    let input = &report["input"];
    assert_eq!(input["files"]["skipped"]["digest_file"], 1);
    assert_eq!(input["files"]["skipped"]["insights_file"], 1);
    assert_eq!(input["documents_skipped"]["digest"], 1);
    assert_eq!(balanced(&report)["filtered_out"]["insights_record"], 1);
    assert_eq!(input["problems"]["total"], 0);
}

#[test]
fn duplicate_deliveries_are_counted_once() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    t.delivered("a/f1.json.gz", &recs);
    t.delivered("b/f2.json.gz", &recs[..4]);
    let report = t.analyze(&["."]).json();
    assert_eq!(kms_total(&report, "plain", "per_object"), 4);
    assert_eq!(balanced(&report)["filtered_out"]["duplicate_event_id"], 4);
}

#[test]
fn a_trail_without_s3_data_events_still_reports_kms_calls_and_says_why_objects_are_few() {
    let mut t = Trail::new();
    let recs: Vec<Vec<u8>> = two_buckets(&mut t)
        .into_iter()
        .filter(|r| !String::from_utf8_lossy(r).contains("\"eventSource\":\"s3.amazonaws.com\""))
        .collect();
    t.delivered("f.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let plain = row(&report, "plain", "per_object");
    assert_eq!(plain["kms_calls"]["total"], 4);
    assert_eq!(
        plain["objects"], 2,
        "objects come from the object-ARN contexts"
    );
    assert_eq!(plain["unmatched"]["kms_calls"], 4);
    let keyed = row(&report, "keyed", "bucket_key");
    assert_eq!(keyed["kms_calls"]["total"], 2);
    assert_eq!(keyed["objects"], 0);
    let warnings = report["input"]["warnings"].to_string();
    assert!(warnings.contains("no S3 data events"), "{warnings}");
}

#[test]
fn a_trail_without_kms_events_warns() {
    let mut t = Trail::new();
    let recs = vec![t.s3(
        "alice",
        0,
        "PutObject",
        &format!("keyed/{}", "a"),
        KEY_B,
        true,
    )];
    t.delivered("f.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    assert!(report["input"]["warnings"]
        .to_string()
        .contains("no KMS calls"));
    assert_eq!(
        row(&report, "keyed", "bucket_key")["s3_requests"]["total"],
        1
    );
}

#[test]
fn filters_select_what_they_name() {
    let mut t = Trail::new();
    let mut recs = two_buckets(&mut t);
    recs.push(t.kms_ctx(
        "bob",
        5,
        "Decrypt",
        "arn:aws:s3:::plain/c.csv",
        KEY_A,
        &[("team", "red")],
    ));
    t.delivered("f.json.gz", &recs);
    let total = |args: &[&str]| -> u64 {
        let mut all = vec!["."];
        all.extend_from_slice(args);
        let run = t.analyze(&all);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let report = run.json();
        balanced(&report);
        report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["kms_calls"]["total"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(total(&[]), 7);
    assert_eq!(total(&["--bucket-arn-prefix", "arn:aws:s3:::plain/"]), 5);
    assert_eq!(total(&["--bucket-arn-prefix", "arn:aws:s3:::plain/a"]), 2);
    assert_eq!(total(&["--bucket-arn-prefix", "arn:aws:s3:::keyed"]), 2);
    assert_eq!(total(&["--context", "team=red"]), 1);
    assert_eq!(total(&["--context", "team=blue"]), 0);
    assert_eq!(total(&["--event-name", "Decrypt"]), 4);
    assert_eq!(
        total(&["--event-name", "Decrypt", "--event-name", "GenerateDataKey"]),
        7
    );
    assert_eq!(total(&["--kms-key", KEY_B]), 2);
    assert_eq!(
        total(&["--kms-key", "aaaaaaaa-0000-4000-8000-000000000001"]),
        5
    );
    assert_eq!(total(&["--account", ACCOUNT]), 7);
    assert_eq!(total(&["--account", "999999999999"]), 0);
    assert_eq!(total(&["--region", "us-east-1"]), 7);
    assert_eq!(total(&["--region", "eu-west-1"]), 0);
    assert_eq!(
        total(&[
            "--principal",
            &format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/bob")
        ]),
        1
    );
    assert_eq!(
        total(&["--principal", &format!("arn:aws:iam::{ACCOUNT}:role/app")]),
        7
    );
    assert_eq!(total(&["--since", &time(5)]), 3);
    assert_eq!(total(&["--until", &time(5)]), 4);
}

/// Seed 000's layout: one bucket with bucket keys, a prefix and a KMS key per user. A
/// bucket-key call names only the bucket; the prefix filter attributes it through the S3
/// request it matched, and says so.
#[test]
fn a_prefix_below_a_bucket_key_bucket_is_attributed_through_correlation() {
    let mut t = Trail::new();
    let mut recs = Vec::new();
    for (user, key) in [("user-1", KEY_A), ("user-2", KEY_B)] {
        for i in 0..5u32 {
            let obj = format!("{user}/file-{i}");
            recs.push(t.s3(user, i, "PutObject", &format!("shared/{}", &obj), key, true));
            recs.push(t.s3(
                user,
                100 + i,
                "GetObject",
                &format!("shared/{}", &obj),
                key,
                true,
            ));
        }
        recs.push(t.kms(user, 0, "GenerateDataKey", "arn:aws:s3:::shared", key));
        recs.push(t.kms(user, 100, "Decrypt", "arn:aws:s3:::shared", key));
    }
    t.delivered("f.json.gz", &recs);
    let report = t
        .analyze(&[".", "--bucket-arn-prefix", "arn:aws:s3:::shared/user-1/"])
        .json();
    let r = row(&report, "shared", "bucket_key");
    assert_eq!(r["kms_calls"]["total"], 2);
    assert_eq!(r["kms_calls_attributed"], 2);
    assert_eq!(r["s3_requests"]["total"], 10);
    assert_eq!(r["objects"], 5);
    let by_prefix = t.analyze(&[".", "--group-by", "prefix:1"]).json();
    assert_eq!(kms_total(&by_prefix, "user-1/", "bucket_key"), 2);
    assert_eq!(kms_total(&by_prefix, "user-2/", "bucket_key"), 2);
    let by_key = t.analyze(&[".", "--group-by", "kms-key"]).json();
    assert_eq!(
        row(&by_key, KEY_A, "bucket_key")["s3_requests"]["total"],
        10
    );
}

#[test]
fn failed_kms_calls_count_and_are_shown_apart() {
    let mut t = Trail::new();
    let mut recs = two_buckets(&mut t);
    let mut throttled = Vec::new();
    let who = t.who("alice");
    records::kms_call(
        &mut throttled,
        &mut t.rng,
        &who,
        &time(30),
        "us-east-1",
        "Decrypt",
        "arn:aws:s3:::plain/a.csv",
        &[],
        KEY_A,
        Some("ThrottlingException"),
    );
    recs.push(throttled);
    t.delivered("f.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let plain = row(&report, "plain", "per_object");
    assert_eq!(plain["kms_calls"]["total"], 5);
    assert_eq!(plain["kms_errors"]["throttled"], 1);
}

#[test]
fn bad_input_is_named_counted_and_does_not_stop_the_run() {
    let mut t = Trail::new();
    let good = two_buckets(&mut t);
    t.delivered("good.json.gz", &good);
    let gz = keytrail::simulate::gzip(&records_json(&good));
    t.file("truncated.json.gz", &gz[..gz.len() * 2 / 3]);
    t.file("not-gzip.gz", b"\x1f\x8bthis is not deflate data at all");
    t.file("not-json.json", b"hello, world\n");
    t.file("other.json", br#"{"hello":"world"}"#);
    t.file("empty.json", b"");
    let mut wrong = t.kms("alice", 0, "Decrypt", "arn:aws:s3:::plain/z", KEY_A);
    wrong = String::from_utf8(wrong)
        .unwrap()
        .replace("\"awsRegion\":\"us-east-1\"", "\"awsRegion\":42")
        .into_bytes();
    t.delivered("wrong-type.json.gz", &[wrong]);
    std::os::unix::fs::symlink(t.path("missing-target"), t.path("dangling.json")).unwrap();
    let run = t.analyze(&["."]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        kms_total(&report, "plain", "per_object"),
        4,
        "good.json.gz is read"
    );
    let records = balanced(&report);
    let rejected = &records["rejected"];
    assert_eq!(rejected["not_json"], 1, "{rejected}");
    assert_eq!(rejected["not_cloudtrail"], 1);
    assert_eq!(rejected["wrong_field_type"], 1);
    assert!(rejected["truncated"].as_u64().unwrap() >= 1);
    let files = &report["input"]["files"]["with_problems"];
    for reason in ["truncated_gzip", "corrupt_gzip", "empty", "unreadable"] {
        assert_eq!(files[reason], 1, "{reason}: {files}");
    }
    let problems: Vec<String> = report["input"]["problems"]["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}: {}: {}", p["file"], p["location"], p["message"]))
        .collect();
    let has = |file: &str, what: &str| {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(file) && p.contains(what)),
            "no problem with {file} saying {what:?}: {problems:#?}"
        )
    };
    has("truncated.json.gz", "compressed byte");
    has("truncated.json.gz", "truncated");
    has("wrong-type.json.gz", "record 1 at byte");
    has("wrong-type.json.gz", "invalid type: integer `42`");
    has("not-json.json", "byte 0");
    has("other.json", "not CloudTrail");
    has("empty.json", "empty");
    has("dangling.json", "cannot read");
    // The same problems on stderr, one line each, naming the file.
    let loud = run_in(&t, &["analyze", ".", "--format", "json"]);
    let lines: Vec<&str> = loud
        .stderr
        .lines()
        .filter(|l| l.contains("warning"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("truncated.json.gz") && l.contains("compressed byte")),
        "{lines:#?}"
    );
    // --strict makes them fatal.
    let strict = t.analyze(&[".", "--strict"]);
    assert_eq!(strict.code, 3);
    assert!(strict.stderr.contains("--strict"), "{}", strict.stderr);
}

fn run_in(t: &Trail, args: &[&str]) -> Run {
    run(args, t.dir.path(), None)
}

#[test]
fn every_public_sample_is_used_or_rejected_with_a_reason() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/real-trails");
    assert!(samples.is_dir(), "{} is missing", samples.display());
    let run = run(
        &[
            "analyze",
            "--format",
            "json",
            "--quiet",
            samples.to_str().unwrap(),
        ],
        Path::new("."),
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let records = balanced(&report);
    assert!(records["read"].as_u64().unwrap() > 400);
    // The two S3-invoked KMS calls of the KMS guide are read as one per-object object.
    assert_eq!(kms_total(&report, "example_bucket", "per_object"), 2);
    for p in report["input"]["problems"]["listed"].as_array().unwrap() {
        assert!(!p["reason"].as_str().unwrap().is_empty());
        assert!(!p["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn outputs_render_in_every_format() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    t.delivered("f.json.gz", &recs);
    let csv = t.analyze(&[".", "--format", "csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("bucket,group,mode,PutObject"), "{text}");
    assert_eq!(text.lines().count(), 3);
    let md = String::from_utf8(t.analyze(&[".", "--format", "markdown"]).stdout).unwrap();
    assert!(md.contains("| keyed | bucket_key |"), "{md}");
    let table = String::from_utf8(t.analyze(&[".", "--format", "table"]).stdout).unwrap();
    assert!(
        table.contains("bucket_key") && table.contains("records: 14 read = 14 used"),
        "{table}"
    );
    // The format follows the extension of --output.
    let out = t.path("report.parquet");
    let run = run_in(&t, &["analyze", ".", "--output", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"PAR1");
    let out = t.path("report.json");
    t.analyze(&[".", "--output", out.to_str().unwrap(), "--format", "json"]);
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written["schema"], "keytrail.analyze/v1");
}

#[test]
fn log_strings_cannot_drive_the_terminal_or_the_spreadsheet() {
    let mut t = Trail::new();
    let evil = "=cmd|'calc'!A0\u{1b}[2J/report.csv";
    let recs = vec![t.s3(
        "alice",
        0,
        "PutObject",
        &format!("plain/{}", evil),
        KEY_A,
        false,
    )];
    t.delivered("f.json.gz", &recs);
    let table = t.analyze(&[".", "--format", "table", "--group-by", "prefix:1"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("\\u{1b}[2J"), "{text}");
    let csv = String::from_utf8(
        t.analyze(&[".", "--format", "csv", "--group-by", "prefix:1"])
            .stdout,
    )
    .unwrap();
    assert!(csv.contains("\"'=cmd|") || csv.contains(",'=cmd|"), "{csv}");
}

#[test]
fn usage_errors_exit_2_with_a_message_that_says_what_to_do() {
    let t = Trail::new();
    let r = run_in(&t, &["analyze", "does-not-exist"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("does-not-exist: no such file"),
        "{}",
        r.stderr
    );
    let r = run_in(&t, &["analyze", ".", "--group-by", "owner"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("prefix:N"), "{}", r.stderr);
    let r = run_in(&t, &["analyze", ".", "--bucket-arn-prefix", "datalake/"]);
    assert_eq!(r.code, 2);
    let help = run_in(&t, &["analyze", "--help"]);
    assert!(help.stdout.len() > 1000);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit codes"));
    for (args, says) in [
        (&["cost", ".", "--month-days", "0"][..], "days in a month"),
        (&["cost", ".", "--price-per-10k=-1"][..], "dollars"),
        (
            &["quota", ".", "--quota", "us-east-1=lots"][..],
            "whole number",
        ),
        (&["quota", ".", "--quota", "us-east-1"][..], "REGION=N"),
        (&["check", ".", "--max-quota-use", "half"][..], "a number"),
    ] {
        let r = run_in(&t, args);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // A trail with no KMS or S3 events has no window to project a month from.
    t.file("empty/a.json", b"{\"Records\":[]}");
    let r = run_in(&t, &["cost", "empty"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no window"), "{}", r.stderr);
    assert!(
        r.stderr.contains("records: 0 read = 0 used"),
        "{}",
        r.stderr
    );
}

#[test]
fn expect_reports_differences_with_exit_code_4() {
    let t = Trail::new();
    let out = t.path("trail");
    run_in(
        &t,
        &[
            "simulate",
            "--builtin",
            "poc",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let manifest_path = out.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["expected"]["groups"][0]["kms_calls"]["Decrypt"] = 999.into();
    let edited = t.file("edited.json", &serde_json::to_vec(&manifest).unwrap());
    let r = run_in(
        &t,
        &[
            "analyze",
            "trail",
            "--quiet",
            "--format",
            "json",
            "--expect",
            edited.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("Decrypt: expected 999"), "{}", r.stderr);
}

#[test]
fn simulate_refuses_a_non_empty_directory_without_force() {
    let t = Trail::new();
    t.file("busy/keep.txt", b"x");
    let r = run_in(&t, &["simulate", "--builtin", "poc", "--out", "busy"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(
        run_in(
            &t,
            &["simulate", "--builtin", "poc", "--out", "busy", "--force"]
        )
        .code,
        0
    );
}

#[test]
fn the_same_seed_gives_the_same_tree_on_any_thread_count() {
    let t = Trail::new();
    let a = t.path("a");
    let b = t.path("b");
    run_in(
        &t,
        &[
            "simulate",
            "--builtin",
            "org-trail",
            "--out",
            a.to_str().unwrap(),
            "-j",
            "1",
        ],
    );
    run_in(
        &t,
        &[
            "simulate",
            "--builtin",
            "org-trail",
            "--out",
            b.to_str().unwrap(),
            "-j",
            "4",
        ],
    );
    let files = |root: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    };
    let (fa, fb) = (files(&a), files(&b));
    assert!(fa.len() > 3);
    assert!(fa == fb, "the trees differ");
}

/// Every file under `root`, by relative path.
fn tree(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
        .collect()
}

/// Every built-in scenario is committed under `fixtures/<name>/` at a small scale: a change to
/// the engine or the record shapes shows up as a fixture diff, and each tree must analyze to
/// exactly its manifest. Regenerate them all with `KEYTRAIL_BLESS=1 cargo test fixtures`.
#[test]
fn committed_fixtures_regenerate_byte_for_byte_and_analyze_to_their_manifests() {
    let t = Trail::new();
    let bless = std::env::var_os("KEYTRAIL_BLESS").is_some();
    for (name, scale) in keytrail::simulate::builtin::FIXTURE_SCALES {
        let fresh = t.path(name);
        let sim = run_in(
            &t,
            &[
                "simulate",
                "--builtin",
                name,
                "--scale",
                &scale.to_string(),
                "--out",
                fresh.to_str().unwrap(),
            ],
        );
        assert_eq!(sim.code, 0, "{name}: {}", sim.stderr);
        let manifest = fresh.join("manifest.json");
        let check = run_in(
            &t,
            &[
                "analyze",
                fresh.to_str().unwrap(),
                "--quiet",
                "--format",
                "json",
                "--expect",
                manifest.to_str().unwrap(),
            ],
        );
        assert_eq!(check.code, 0, "{name}: {}", check.stderr);
        balanced(&check.json());
        let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name);
        if bless {
            let _ = std::fs::remove_dir_all(&committed);
            for rel in tree(&fresh) {
                let to = committed.join(&rel);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(fresh.join(&rel), to).unwrap();
            }
            continue;
        }
        assert_eq!(
            tree(&committed),
            tree(&fresh),
            "{name}: regenerate with KEYTRAIL_BLESS=1 if intended"
        );
        for rel in tree(&fresh) {
            assert!(
                std::fs::read(committed.join(&rel)).unwrap() == std::fs::read(fresh.join(&rel)).unwrap(),
                "fixtures/{name}/{} differs: regenerate with KEYTRAIL_BLESS=1 if the change is intended",
                rel.display()
            );
        }
    }
}

/// A random scenario: a few buckets (with and without bucket keys, DSSE, a key per prefix,
/// older objects), principals with sessions, overlapping phases of every operation, and every
/// trail option.
fn random_scenario(rng: &mut Rng, n: u64) -> String {
    let coin = |rng: &mut Rng, p: f64| rng.unit() < p;
    let mut toml = format!("name = \"random-{n}\"\n[trail]\n");
    toml += &format!(
        "s3_data_events = {}\nkms_events = {}\nduplicate_rate = {:.2}\nlate_delivery_rate = {:.2}\nnoise_share = {:.2}\nother_kms_share = {:.2}\nfile_minutes = {}\ndigests = {}\n",
        coin(rng, 0.85),
        coin(rng, 0.9),
        rng.unit() * 0.1,
        rng.unit() * 0.1,
        rng.unit() * 0.4,
        rng.unit() * 0.1,
        1 + rng.below(5),
        coin(rng, 0.3)
    );
    toml += &format!(
        "[engine]\nsharing = \"{}\"\nbucket_key_ttl_secs = {}\n",
        if coin(rng, 0.5) { "role" } else { "session" },
        30 + rng.below(200)
    );
    let buckets = 1 + rng.below(3);
    for b in 0..buckets {
        toml += &format!("[[buckets]]\nname = \"rt-bucket-{b}\"\n");
        match rng.below(4) {
            0 => toml += "bucket_key = true\n",
            1 => toml += &format!("bucket_key_from_secs = {}\n", rng.below(100)),
            2 if coin(rng, 0.3) => toml += "dsse = true\nbucket_key = true\n",
            _ => {}
        }
        if coin(rng, 0.5) {
            toml += "prefix_kms_keys = { \"p1/\" = \"1111aaaa-0000-4000-8000-000000000001\" }\n";
        }
        toml += &format!("preexisting_objects = {}\n", rng.below(6));
    }
    let principals = 1 + rng.below(3);
    for p in 0..principals {
        toml += &format!(
            "[[principals]]\nname = \"app-{p}\"\nkind = \"{}\"\nsessions = {}\n",
            if coin(rng, 0.8) { "role" } else { "user" },
            1 + rng.below(3)
        );
    }
    for _ in 0..1 + rng.below(4) {
        let start = rng.below(100);
        let prefixes =
            ["[\"p0/\"]", "[\"p1/\"]", "[\"p0/\", \"p1/\"]", "[\"\"]"][rng.below(4) as usize];
        toml += &format!(
            "[[phases]]\nprincipal = \"app-{}\"\nbucket = \"rt-bucket-{}\"\nstart_secs = {start}\nend_secs = {}\nprefixes = {prefixes}\nput_rate = {:.2}\nget_rate = {:.2}\nhead_rate = {:.2}\ncopy_rate = {:.2}\nmultipart_rate = {:.2}\nparts = {}\nranged_gets = {}\nread = \"{}\"\n",
            rng.below(principals),
            rng.below(buckets),
            start + 10 + rng.below(150),
            rng.unit() * 3.0,
            rng.unit() * 3.0,
            rng.unit() * 0.5,
            rng.unit() * 0.3,
            rng.unit() * 0.2,
            1 + rng.below(3),
            1 + rng.below(2),
            ["uniform", "recent", "skewed"][rng.below(3) as usize],
        );
        if coin(rng, 0.15) {
            toml += &format!("bucket_key_header = {}\n", coin(rng, 0.5));
        }
    }
    toml
}

/// The project's correctness oracle: for many random scenarios, analyzing the simulated trail
/// gives exactly the manifest's figures; and bucket-key calls, which name no object, are
/// attributed to their true key prefix at least `ATTRIBUTION_FLOOR` of the time.
#[test]
fn random_scenarios_analyze_to_their_manifests() {
    /// The share of bucket-key KMS calls the analyzer must attribute to their true prefix
    /// (README states it). Misses are calls whose nearest request, within the window and under
    /// the same KMS key, was to another prefix.
    const ATTRIBUTION_FLOOR: f64 = 0.85;
    use keytrail::simulate::{self, scenario::Scenario};
    use keytrail::trail::config::{AnalyzeConfig, GroupBy, InputSpec};
    let mut rng = Rng::new(2024);
    let (mut right, mut total) = (0u64, 0u64);
    for n in 0..60 {
        let toml = random_scenario(&mut rng, n);
        let scenario = Scenario::parse(&toml, "random").unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let sim = simulate::simulate(&scenario, n);
        let dir = tempfile::tempdir().unwrap();
        simulate::write(&sim, dir.path(), true, 1).unwrap();
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap())
                .unwrap();
        let mut cfg = AnalyzeConfig::new(vec![InputSpec::Path(dir.path().to_path_buf())]);
        cfg.threads = 2;
        let report = keytrail::reports::calls::analyze(&cfg, &keytrail::trail::Quiet).unwrap();
        assert!(report.summary.records_balance());
        let diffs = keytrail::simulate::expect::differences(&report, &manifest).unwrap();
        assert!(
            diffs.is_empty(),
            "scenario {n}:\n{}\n{toml}",
            diffs.join("\n")
        );

        if !(scenario.trail.s3_data_events && scenario.trail.kms_events) {
            continue;
        }
        cfg.group_by = GroupBy::Prefix(1);
        let by_prefix = keytrail::reports::calls::analyze(&cfg, &keytrail::trail::Quiet).unwrap();
        for truth in manifest["truth"]["prefixes"].as_array().unwrap() {
            if truth["mode"] != "bucket_key" {
                continue;
            }
            let expected = truth["kms_calls"].as_u64().unwrap();
            let analyzed: u64 = by_prefix
                .rows
                .iter()
                .filter(|r| {
                    r.bucket == truth["bucket"]
                        && r.group == truth["prefix"]
                        && r.mode.name() == "bucket_key"
                })
                .map(|r| r.kms_total())
                .sum();
            right += expected.min(analyzed);
            total += expected;
        }
    }
    assert!(
        total > 50,
        "too few bucket-key calls to judge attribution: {total}"
    );
    let share = right as f64 / total as f64;
    eprintln!(
        "bucket-key calls attributed to their true prefix: {right} of {total} ({:.1} %)",
        share * 100.0
    );
    assert!(share >= ATTRIBUTION_FLOOR, "{right} of {total}");
}

#[test]
fn a_symlink_loop_is_reported_and_the_rest_is_read() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    t.delivered("logs/f.json.gz", &recs);
    std::os::unix::fs::symlink(t.path("logs"), t.path("logs/loop")).unwrap();
    let report = t.analyze(&["."]).json();
    assert_eq!(
        report["input"]["files"]["with_problems"]["directory_loop"],
        1
    );
    assert_eq!(kms_total(&report, "plain", "per_object"), 4);
}

#[test]
fn a_path_that_is_not_utf8_is_read_and_named_visibly() {
    use std::os::unix::ffi::OsStrExt;
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    let name = std::ffi::OsStr::from_bytes(b"odd-\xff-name.json.gz");
    let gz = keytrail::simulate::gzip(&records_json(&recs));
    std::fs::write(t.dir.path().join(name), &gz).unwrap();
    std::fs::write(
        t.dir
            .path()
            .join(std::ffi::OsStr::from_bytes(b"bad-\xfe.json")),
        b"nope",
    )
    .unwrap();
    let run = run_in(&t, &["analyze", ".", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(kms_total(&run.json(), "plain", "per_object"), 4);
    assert!(run.stderr.contains("bad-\u{fffd}.json"), "{}", run.stderr);
}

#[test]
fn the_same_inputs_in_any_order_on_any_thread_count_give_byte_identical_json() {
    let mut t = Trail::new();
    for f in 0..6u32 {
        let mut recs = two_buckets(&mut t);
        recs.push(t.kms(
            "bob",
            f,
            "Decrypt",
            &format!("arn:aws:s3:::plain/f{f}"),
            KEY_A,
        ));
        t.delivered(&format!("d{f}/f.json.gz"), &recs);
    }
    let forward: Vec<String> = (0..6).map(|f| format!("d{f}")).collect();
    let backward: Vec<String> = (0..6).rev().map(|f| format!("d{f}")).collect();
    let run = |dirs: &[String], threads: &str| {
        let mut args = vec!["--threads", threads];
        args.extend(dirs.iter().map(|d| d.as_str()));
        t.analyze(&args)
    };
    let one = run(&forward, "1");
    assert_eq!(one.code, 0);
    assert!(one.stdout.len() > 1000);
    for (dirs, threads) in [(&backward, "2"), (&forward, "4"), (&backward, "8")] {
        assert_eq!(one.stdout, run(dirs, threads).stdout, "{threads} threads");
    }
}

#[test]
fn a_reader_that_goes_away_is_not_an_error_and_a_full_disk_is() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    t.delivered("f.json.gz", &recs);
    let exe = env!("CARGO_BIN_EXE_keytrail");
    let dir = t.dir.path().to_str().unwrap();
    let piped = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{exe}' analyze '{dir}' --format json | head -c 1 >/dev/null"
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&piped.stderr).is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let full = Command::new(exe)
        .args(["analyze", dir, "--format", "json"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&full.stderr).contains("No space left"),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
}

#[test]
fn a_single_value_past_the_record_cap_stops_that_file_with_a_message() {
    let mut t = Trail::new();
    let mut recs = two_buckets(&mut t);
    let huge = format!(
        "{{\"eventVersion\":\"1.08\",\"junk\":\"{}\"}}",
        "x".repeat(3 << 20)
    );
    recs.push(huge.into_bytes());
    t.delivered("big.json.gz", &recs);
    let report = t.analyze(&[".", "--max-record-bytes", "1000000"]).json();
    assert_eq!(
        report["input"]["files"]["with_problems"]["record_too_large"],
        1
    );
    let problems = report["input"]["problems"]["listed"].to_string();
    assert!(problems.contains("larger than 1000000 bytes"), "{problems}");
    balanced(&report);
}

#[test]
fn deeply_nested_json_is_rejected_not_a_crash() {
    let mut t = Trail::new();
    let mut rec =
        String::from("{\"eventVersion\":\"1.08\",\"eventSource\":\"kms.amazonaws.com\",\"x\":");
    rec += &"[".repeat(100_000);
    rec += &"]".repeat(100_000);
    rec += "}";
    let recs = vec![
        rec.into_bytes(),
        t.kms("alice", 0, "Decrypt", "arn:aws:s3:::plain/a", KEY_A),
    ];
    t.delivered("deep.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    // serde skips unknown values without recursing: the record is refused for what it lacks.
    assert_eq!(
        balanced(&report)["rejected"]["missing_field"],
        1,
        "{:#}",
        report["input"]
    );
    assert_eq!(kms_total(&report, "plain", "per_object"), 1);
}

/// Run with `cargo test --release -- --ignored stress`: 10,000 small files and one large file
/// (500 MB of JSON by default; `KEYTRAIL_STRESS_MB` changes it) in one run, with the analyzer's
/// peak memory checked against the 300 MB the analyze issue sets.
#[test]
#[ignore]
fn stress_ten_thousand_small_files_and_one_large_one() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    let small = keytrail::simulate::gzip(&records_json(&recs));
    for i in 0..10_000 {
        t.file(&format!("small/{:02}/{i:05}.json.gz", i % 100), &small);
    }
    let mb: usize = std::env::var("KEYTRAIL_STRESS_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let one = records_json(&recs);
    let mut big = b"{\"Records\":[".to_vec();
    let body = &one[12..one.len() - 2];
    while big.len() < mb << 20 {
        if big.len() > 12 {
            big.push(b',');
        }
        big.extend_from_slice(body);
    }
    big.extend_from_slice(b"]}");
    t.file("large/big.json.gz", &keytrail::simulate::gzip(&big));
    drop(big);
    // One record repeated compresses far past the bomb cap: raise it, to read the file.
    let out = Command::new("/usr/bin/time")
        .args([
            "-f",
            "%M",
            env!("CARGO_BIN_EXE_keytrail"),
            "analyze",
            ".",
            "--format",
            "json",
            "-q",
            "--max-ratio",
            "1000000",
            "-o",
            "r.json",
        ])
        .current_dir(t.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak_kb: u64 = String::from_utf8_lossy(&out.stderr)
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("peak resident memory: {} MB", peak_kb / 1024);
    assert!(peak_kb < 300 * 1024, "{peak_kb} KB");
    let report: Value = serde_json::from_slice(&std::fs::read(t.path("r.json")).unwrap()).unwrap();
    assert_eq!(report["input"]["files"]["read"], 10_001);
    assert_eq!(
        report["input"]["files"]["with_problems"],
        serde_json::json!({}),
        "{:#}",
        report["input"]["problems"]
    );
    let records = balanced(&report)["read"].as_u64().unwrap();
    let per_copy = recs.len() as u64;
    let copies = ((mb << 20) / records_json(&recs).len()) as u64;
    assert!(
        records >= 10_000 * per_copy + copies * per_copy,
        "{records} records read"
    );
    eprintln!("{records} records read");
}

/// Ctrl-C at any moment leaves either the whole report (the run had finished) or nothing: never
/// a partial file, never a temporary one.
#[test]
fn an_interrupted_run_leaves_no_partial_output() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    let mut many = Vec::new();
    for _ in 0..400 {
        many.extend(recs.iter().cloned());
    }
    for f in 0..4 {
        t.delivered(&format!("big/{f}.json.gz"), &many);
    }
    let out_dir = t.path("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    for delay_ms in [20, 150] {
        let report = out_dir.join(format!("report-{delay_ms}.json"));
        let child = Command::new(env!("CARGO_BIN_EXE_keytrail"))
            .args([
                "analyze",
                "big",
                "-q",
                "--threads",
                "1",
                "-o",
                report.to_str().unwrap(),
            ])
            .current_dir(t.dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
        match out.status.code() {
            Some(130) => assert!(
                !report.exists(),
                "an interrupted run wrote {}",
                report.display()
            ),
            Some(0) => {
                let written: Value =
                    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
                assert_eq!(written["schema"], "keytrail.analyze/v1");
            }
            other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".keytrail-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_file_full_of_bad_records_is_counted_whole_and_listed_in_part() {
    let mut t = Trail::new();
    let bad = String::from_utf8(t.kms("alice", 0, "Decrypt", "arn:aws:s3:::plain/a", KEY_A))
        .unwrap()
        .replace("\"awsRegion\":\"us-east-1\"", "\"awsRegion\":7");
    let lines: String = (0..300).map(|_| format!("{bad}\n")).collect();
    t.file("bad.jsonl", lines.as_bytes());
    let report = t.analyze(&["."]).json();
    assert_eq!(balanced(&report)["rejected"]["wrong_field_type"], 300);
    assert_eq!(report["input"]["problems"]["total"], 300);
    let listed = report["input"]["problems"]["listed"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, keytrail::summary::PROBLEMS_KEPT_PER_INPUT);
}

/// `keytrail COMMAND --quiet --format json ARGS` in the trail's directory.
fn report(t: &Trail, command: &str, args: &[&str]) -> Value {
    let mut full = vec![command, "--quiet", "--format", "json"];
    full.extend_from_slice(args);
    let r = run(&full, t.dir.path(), None);
    assert_eq!(r.code, 0, "{command} failed: {}", r.stderr);
    r.json()
}

fn line<'a>(cost: &'a Value, scope: &str, name: &str) -> &'a Value {
    cost["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["scope"] == scope && l["name"] == name)
        .unwrap_or_else(|| panic!("no {scope} line {name} in {:#}", cost["lines"]))
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap_or(f64::NAN) - b).abs() < 1e-9
}

/// 100 per-object PUTs (KEY_A), 20 per-object GETs with no data events (KEY_B, which the user
/// says is AWS managed) and 50 Lambda Decrypts, in one hour.
fn cost_trail(t: &mut Trail) {
    let mut records = Vec::new();
    for i in 0..100u32 {
        let object = format!("po/in/{i}.csv");
        records.push(t.s3("w", i, "PutObject", &object, KEY_A, false));
        records.push(t.kms(
            "w",
            i,
            "GenerateDataKey",
            &format!("arn:aws:s3:::{object}"),
            KEY_A,
        ));
    }
    for i in 0..20u32 {
        let arn = format!("arn:aws:s3:::po2/old/{i}.csv");
        records.push(t.kms("r", 200 + i, "Decrypt", &arn, KEY_B));
    }
    let who = t.who("fn");
    for i in 0..50u32 {
        let mut out = Vec::new();
        records::other_service_kms(&mut out, &mut t.rng, &who, &time(300 + i), "us-east-1");
        records.push(out);
    }
    t.delivered("AWSLogs/a.json.gz", &records);
}

#[test]
fn the_cost_of_a_known_trail_is_the_hand_computed_figure() {
    let mut t = Trail::new();
    cost_trail(&mut t);
    let (since, until) = (time(0), time(3600));
    let cost = report(
        &t,
        "cost",
        &[
            "AWSLogs",
            "--since",
            &since,
            "--until",
            &until,
            "--aws-managed-key",
            KEY_B,
        ],
    );
    assert_eq!(cost["schema"], "keytrail.cost/v1");
    assert!(close(&cost["window"]["month_factor"], 720.0)); // 30 days / 1 hour
    let a = line(&cost, "account", ACCOUNT);
    // 170 requests in an hour: 122,400 a month; 102,400 past the free tier at $0.03 per 10k.
    assert_eq!(a["kms_requests"], 170);
    assert!(close(&a["monthly_requests"], 122_400.0));
    assert!(close(&a["request_usd"], 0.3072), "{a:#}");
    // Two customer managed keys (KEY_A and Lambda's); KEY_B is AWS managed.
    assert!(close(&a["key_usd"], 2.0), "{a:#}");
    assert!(close(&a["total_usd"], 2.3072));
    // Turning bucket keys on: 52 requests an hour (one per bucket, Lambda's 50) are 37,440 a
    // month, 17,440 past the free tier.
    assert!(
        close(&a["what_if"]["monthly_with_bucket_keys"], 37_440.0),
        "{a:#}"
    );
    assert!(
        close(&a["what_if"]["turning_on_saves_usd"], 0.3072 - 0.05232),
        "{a:#}"
    );
    assert!(close(&a["what_if"]["turning_off_costs_usd"], 0.0), "{a:#}");
    assert_eq!(line(&cost, "kms_key", KEY_B)["key_manager"], "aws");
    assert_eq!(line(&cost, "kms_key", KEY_A)["key_manager"], "customer");
    let po = line(&cost, "bucket", "po");
    assert!(close(&po["request_usd"], 0.3072 * 100.0 / 170.0));
    assert_eq!(po["bucket_keys"], "off");
    // With bucket keys, one writer at one request a second makes one GenerateDataKey.
    assert!(
        close(&po["what_if"]["monthly_with_bucket_keys"], 720.0),
        "{po:#}"
    );
    assert!(close(
        &po["what_if"]["monthly_without_bucket_keys"],
        72_000.0
    ));
    assert!(close(
        &po["what_if"]["turning_on_saves_usd"],
        99.0 * 720.0 / 10_000.0 * 0.03
    ));
    // Reads of objects older than the trail, with no data events: one Decrypt with bucket keys.
    assert!(close(
        &line(&cost, "bucket", "po2")["what_if"]["monthly_with_bucket_keys"],
        720.0
    ));
    assert_eq!(
        line(&cost, "other_caller", "aws:lambda:FunctionArn")["kms_requests"],
        50
    );
    // Every record is accounted for.
    let records = &cost["input"]["records"];
    assert_eq!(records["read"], 270);
    assert_eq!(records["used"], 270);

    // Prices are the user's to set.
    let cost = report(
        &t,
        "cost",
        &[
            "AWSLogs",
            "--since",
            &since,
            "--until",
            &until,
            "--free-tier",
            "0",
            "--price-per-10k",
            "1",
            "--key-month",
            "0",
            "--month-days",
            "15",
        ],
    );
    let a = line(&cost, "account", ACCOUNT);
    assert!(close(&a["monthly_requests"], 61_200.0));
    assert!(close(&a["total_usd"], 6.12), "{a:#}");
}

/// Two calls a second for 900 s, twenty a second for ten of them, and a burst of 300 per-object
/// Decrypts (5 throttled) in one second; then 100 quiet seconds.
fn burst_trail(t: &mut Trail) {
    let who = t.who("fn");
    let mut records = Vec::new();
    for s in 0..900u32 {
        let n = match s {
            100..=109 => 20,
            500 => 0,
            _ => 2,
        };
        for _ in 0..n {
            let mut out = Vec::new();
            records::other_service_kms(&mut out, &mut t.rng, &who, &time(s), "us-east-1");
            records.push(out);
        }
    }
    for i in 0..300u32 {
        let arn = format!("arn:aws:s3:::hot/{i}.parquet");
        let mut out = Vec::new();
        let reader = t.who("reader");
        let error = (i < 5).then_some("ThrottlingException");
        records::kms_call(
            &mut out,
            &mut t.rng,
            &reader,
            &time(500),
            "us-east-1",
            "Decrypt",
            &arn,
            &[],
            KEY_A,
            error,
        );
        records.push(out);
    }
    // Three of the burst's GETs are logged, answered 503 SlowDown.
    for i in 0..3u32 {
        let mut r = t.s3(
            "reader",
            500,
            "GetObject",
            &format!("hot/{i}.parquet"),
            KEY_A,
            false,
        );
        r.splice(1..1, br#""errorCode":"SlowDown","#.iter().copied());
        records.push(r);
    }
    t.delivered("AWSLogs/burst.json.gz", &records);
}

#[test]
fn the_quota_peak_and_percentiles_of_a_known_burst_are_exact() {
    let mut t = Trail::new();
    burst_trail(&mut t);
    let (since, until) = (time(0), time(1000));
    let q = report(
        &t,
        "quota",
        &[
            "AWSLogs",
            "--since",
            &since,
            "--until",
            &until,
            "--quota",
            "us-east-1=30",
        ],
    );
    assert_eq!(q["schema"], "keytrail.quota/v1");
    let r = &q["rows"][0];
    assert_eq!(r["quota"]["per_second"], 30);
    assert_eq!(r["quota"]["source"], "--quota");
    assert_eq!(r["kms_requests"], 889 * 2 + 10 * 20 + 300);
    // 1,000 seconds sorted: 100 zeros, 889 twos, 10 twenties, one 300.
    assert_eq!(r["per_second"]["peak"], 300);
    assert_eq!(r["per_second"]["p99"], 20);
    assert_eq!(r["per_second"]["p99_9"], 20);
    assert_eq!(r["per_second"]["seconds_above_50_percent"], 11);
    assert_eq!(r["per_second"]["seconds_above_80_percent"], 1);
    assert!(close(&r["peak_quota_use"], 10.0));
    assert_eq!(r["peak_seconds"]["first"][0], time(500));
    assert_eq!(r["throttled"], 5);
    assert_eq!(r["s3_throttled"], 3);
    assert_eq!(r["at_peak"]["buckets"][0]["name"], "hot");
    assert_eq!(r["at_peak"]["buckets"][0]["calls"], 300);
    assert_eq!(r["at_peak"]["callers"][0]["name"], "s3.amazonaws.com");
    // With bucket keys the burst's 300 Decrypts fall to at most one per front-end cache, so
    // the peak becomes the ten busy seconds.
    assert_eq!(r["what_if_bucket_keys_on"]["peak"], 20);
    // The default quota of us-east-1 applies without --quota.
    let q = report(
        &t,
        "quota",
        &["AWSLogs", "--since", &since, "--until", &until],
    );
    assert_eq!(q["rows"][0]["quota"]["per_second"], 100_000);
    assert_eq!(q["rows"][0]["quota"]["source"], "default");
}

#[test]
fn charts_and_html_are_produced_and_valid() {
    let mut t = Trail::new();
    burst_trail(&mut t);
    let recs = two_buckets(&mut t);
    t.delivered("AWSLogs/two.json.gz", &recs);
    let dir = t.dir.path();
    let r = run(
        &[
            "quota", "-q", "AWSLogs", "--chart", "q.svg", "--format", "html", "-o", "q.html",
        ],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        &[
            "analyze", "-q", "AWSLogs", "--chart", "a.svg", "-o", "a.html",
        ],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (file, must) in [("q.svg", "quota 100k/s"), ("a.svg", "bucket key")] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(text.contains(must), "{file} lacks {must:?}");
    }
    for file in ["q.html", "a.html"] {
        let html = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.contains("<svg"),
            "{file}"
        );
        // Self-contained: no scripts, nothing fetched.
        for never in ["<script", "src=", "href=", "@import", "url("] {
            assert!(!html.contains(never), "{file} has {never}");
        }
    }
    let r = run(
        &["cost", "-q", "AWSLogs", "-o", "c.html", "--chart", "c.svg"],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(dir.join("c.svg")).unwrap();
    roxmltree::Document::parse(&text).unwrap();
    assert!(
        text.contains("without bucket keys") && text.contains("plain (off)"),
        "{text}"
    );
    assert!(std::fs::read_to_string(dir.join("c.html"))
        .unwrap()
        .contains("<svg"));
    // PNG, drawn with the bundled font.
    let r = run(
        &["quota", "-q", "AWSLogs", "-o", "q.json", "--chart", "q.png"],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let png = std::fs::read(dir.join("q.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let r = run(&["quota", "-q", "AWSLogs", "--chart", "q.gif"], dir, None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("SVG or PNG"), "{}", r.stderr);
}

#[test]
fn check_passes_within_thresholds_and_exits_5_past_them() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    t.delivered("AWSLogs/two.json.gz", &recs);
    let dir = t.dir.path();
    let ok = run(
        &[
            "check",
            "-q",
            "AWSLogs",
            "--max-calls-per-object",
            "1.5",
            "--bucket",
            "keyed",
            "--max-quota-use",
            "0.5",
        ],
        dir,
        None,
    );
    assert_eq!(
        ok.code,
        0,
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        ok.stderr
    );
    let bad = run(
        &["check", "-q", "AWSLogs", "--max-calls-per-object", "1.5"],
        dir,
        None,
    );
    assert_eq!(bad.code, 5, "{}", bad.stderr);
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(
        out.contains("FAIL bucket plain: 2.000 KMS calls per object"),
        "{out}"
    );
    assert!(out.contains("ok   bucket keyed: 1.000"), "{out}");
    // Thresholds from a file; a typo in a bucket name fails rather than passes.
    t.file(
        "gate.toml",
        b"max_quota_use = 0.000001\nmax_calls_per_object = 2\nbuckets = [\"keyed-typo\"]\n",
    );
    let r = run(
        &[
            "check",
            "-q",
            "AWSLogs",
            "--thresholds",
            "gate.toml",
            "--json",
        ],
        dir,
        None,
    );
    assert_eq!(r.code, 5);
    let v = r.json();
    assert_eq!(v["schema"], "keytrail.check/v1");
    assert_eq!(v["passed"], false);
    let kinds: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["calls_per_object", "quota_use"]);
    t.file("typo.toml", b"max_calls_per_objekt = 1\n");
    let r = run(
        &["check", "AWSLogs", "--thresholds", "typo.toml"],
        dir,
        None,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown field"), "{}", r.stderr);
    let r = run(&["check", "AWSLogs"], dir, None);
    assert_eq!(r.code, 2);
    // An empty trail passes, and says it checked nothing.
    t.file("empty/a.json", b"{\"Records\":[]}");
    let r = run(
        &[
            "check",
            "empty",
            "--max-calls-per-object",
            "1",
            "--max-quota-use",
            "0.5",
        ],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(
        out.contains("nothing to check") && out.contains("nothing spends the quota"),
        "{out}"
    );
}

#[test]
fn the_what_if_for_seed_10k_without_bucket_keys_matches_the_simulation_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trail");
    let out_s = out.to_str().unwrap();
    let r = run(
        &[
            "simulate",
            "--builtin",
            "seed-10k",
            "--scale",
            "0.2",
            "--out",
            out_s,
        ],
        dir.path(),
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let full = vec!["cost", "--quiet", "--format", "json", out_s];
    let r = run(&full, dir.path(), None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cost = r.json();
    let without = line(&cost, "bucket", "seed-per-object");
    let with = line(&cost, "bucket", "seed-bucket-key");
    assert_eq!(
        (
            without["bucket_keys"].as_str(),
            with["bucket_keys"].as_str()
        ),
        (Some("off"), Some("on"))
    );
    // The same traffic ran through both buckets: the projection of the one without bucket
    // keys must land where the simulation of the one with them did, within the calibration
    // bands of the envelope engine's tests (a factor of 2).
    let projected = without["what_if"]["monthly_with_bucket_keys"]
        .as_f64()
        .unwrap();
    let simulated = with["monthly_requests"].as_f64().unwrap();
    let ratio = projected / simulated;
    assert!(
        (0.5..=2.0).contains(&ratio),
        "projected {projected}, simulated {simulated}"
    );
    // And the other way: the bucket with bucket keys, replayed without, costs what the one
    // without them did.
    let back = with["what_if"]["monthly_without_bucket_keys"]
        .as_f64()
        .unwrap();
    let observed = without["monthly_requests"].as_f64().unwrap();
    assert!(
        (back / observed - 1.0).abs() < 0.05,
        "replayed {back}, observed {observed}"
    );
}

/// The charts README.md shows, drawn from the bundled fixtures: regenerated and compared byte
/// for byte, so the pictures stay the tool's output (`KEYTRAIL_BLESS=1 cargo test charts`).
#[test]
fn readme_charts_regenerate_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let bless = std::env::var_os("KEYTRAIL_BLESS").is_some();
    for (name, args) in [
        ("quota-poc.svg", ["quota", "fixtures/poc"]),
        (
            "analyze-two-buckets.svg",
            ["analyze", "fixtures/two-buckets"],
        ),
    ] {
        let fresh = out.path().join(name);
        let report = out.path().join("report.json");
        let mut full = args.to_vec();
        full.extend([
            "-q",
            "-o",
            report.to_str().unwrap(),
            "--chart",
            fresh.to_str().unwrap(),
        ]);
        let r = run(&full, root, None);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let committed = root.join("fixtures/charts").join(name);
        if bless {
            std::fs::create_dir_all(committed.parent().unwrap()).unwrap();
            std::fs::copy(&fresh, &committed).unwrap();
            continue;
        }
        assert!(
            std::fs::read(&committed).ok() == std::fs::read(&fresh).ok(),
            "fixtures/charts/{name} differs: regenerate with KEYTRAIL_BLESS=1 if intended"
        );
    }
}

#[test]
fn cost_and_quota_are_the_same_on_any_thread_count_and_guard_spreadsheets() {
    let mut t = Trail::new();
    cost_trail(&mut t);
    burst_trail(&mut t);
    // Another caller's call whose encryption-context key is a formula.
    let formula = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/x","accountId":"111122223333"},"eventTime":"2024-03-01T10:00:05Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","awsRegion":"us-east-1","requestParameters":{"encryptionContext":{"=HYPERLINK(\"http://x\")":"1"}},"eventID":"f0000000-0000-4000-8000-000000000001"}"#;
    t.file(
        "AWSLogs/formula.json",
        format!("{{\"Records\":[{formula}]}}").as_bytes(),
    );
    let dir = t.dir.path();
    for command in ["cost", "quota"] {
        let outputs: Vec<Vec<u8>> = ["1", "3"]
            .iter()
            .map(|j| {
                let r = run(
                    &[command, "-q", "AWSLogs", "-j", j, "--format", "json"],
                    dir,
                    None,
                );
                assert_eq!(r.code, 0, "{}", r.stderr);
                r.stdout
            })
            .collect();
        assert!(
            outputs[0] == outputs[1],
            "{command} differs between 1 and 3 threads"
        );
    }
    let r = run(&["cost", "-q", "AWSLogs", "--format", "csv"], dir, None);
    let csv = String::from_utf8(r.stdout).unwrap();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(!csv
        .lines()
        .any(|l| l.split(',').any(|c| c.trim_matches('"').starts_with('='))));
    let r = run(
        &[
            "quota",
            "-q",
            "AWSLogs",
            "--format",
            "parquet",
            "-o",
            "q.parquet",
        ],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(&std::fs::read(dir.join("q.parquet")).unwrap()[..4], b"PAR1");
    let r = run(
        &["cost", "-q", "AWSLogs", "--format", "markdown"],
        dir,
        None,
    );
    assert!(String::from_utf8(r.stdout).unwrap().contains("## Buckets"));
}

#[test]
fn cross_account_copies_count_once_and_aws_managed_keys_cost_nothing() {
    let t = Trail::new();
    let owner_key = "arn:aws:kms:us-east-1:999988887777:key/cccccccc-0000-4000-8000-000000000003";
    let aws_key = "arn:aws:kms:us-east-1:111122223333:key/dddddddd-0000-4000-8000-000000000004";
    let copy = |id: &str, recipient: &str| {
        format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/x","accountId":"111122223333"}},"eventTime":"2024-03-01T10:00:05Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","awsRegion":"us-east-1","requestParameters":{{"encryptionContext":{{"aws:lambda:FunctionArn":"arn:aws:lambda:us-east-1:111122223333:function:f"}}}},"resources":[{{"type":"AWS::KMS::Key","ARN":"{owner_key}"}}],"eventID":"{id}","sharedEventID":"a0000000-0000-4000-8000-00000000000a","recipientAccountId":"{recipient}"}}"#
        )
    };
    let aws_managed = format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/x","accountId":"111122223333","invokedBy":"s3.amazonaws.com"}},"eventTime":"2024-03-01T10:00:06Z","eventSource":"kms.amazonaws.com","eventName":"GenerateDataKey","awsRegion":"us-east-1","requestParameters":{{"encryptionContext":{{"aws:s3:arn":"arn:aws:s3:::b/k"}},"keyId":"alias/aws/s3","keySpec":"AES_256"}},"resources":[{{"type":"AWS::KMS::Key","ARN":"{aws_key}"}}],"eventID":"b0000000-0000-4000-8000-00000000000b","recipientAccountId":"111122223333"}}"#
    );
    let records = [
        copy("e0000000-0000-4000-8000-000000000001", "111122223333"),
        copy("e0000000-0000-4000-8000-000000000002", "999988887777"),
        aws_managed,
    ];
    t.file(
        "AWSLogs/x.json",
        format!("{{\"Records\":[{}]}}", records.join(",")).as_bytes(),
    );
    let q = report(&t, "quota", &["AWSLogs"]);
    assert_eq!(q["cross_account_copies"], 1);
    let rows = q["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["account"], ACCOUNT);
    assert_eq!(rows[0]["kms_requests"], 2);
    let cost = report(&t, "cost", &["AWSLogs"]);
    let aws = line(&cost, "kms_key", aws_key);
    assert_eq!(aws["key_manager"], "aws");
    assert!(close(&aws["key_usd"], 0.0));
    // The key's monthly fee goes to the account that owns it, not the caller's.
    let owner = line(&cost, "account", "999988887777");
    assert_eq!(owner["kms_requests"], 0);
    assert!(close(&owner["key_usd"], 1.0), "{owner:#}");
    assert!(close(&line(&cost, "account", ACCOUNT)["key_usd"], 0.0));
}

#[test]
fn traffic_whose_kms_events_are_missing_gets_no_what_if_and_a_note() {
    let mut t = Trail::new();
    // Per-object PUTs logged as data events, but their GenerateDataKey calls are not; one
    // Lambda call gives the account a KMS event.
    let mut records: Vec<Vec<u8>> = (0..5u32)
        .map(|i| t.s3("w", i, "PutObject", &format!("nokms/{i}"), KEY_A, false))
        .collect();
    let who = t.who("fn");
    let mut out = Vec::new();
    records::other_service_kms(&mut out, &mut t.rng, &who, &time(3), "us-east-1");
    records.push(out);
    t.delivered("AWSLogs/a.json.gz", &records);
    let cost = report(&t, "cost", &["AWSLogs"]);
    let notes = cost["notes"].to_string();
    assert!(
        notes.contains("bucket nokms: S3 requests that ran per object but no KMS"),
        "{notes}"
    );
    assert!(line(&cost, "account", ACCOUNT)["what_if"].is_null());
}
