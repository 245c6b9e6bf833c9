//! Reading inputs: every format, skipped files, bad input, duplicates, paths, limits, determinism.

use crate::util::*;

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
    // `aws cloudtrail lookup-events ... | jq -c '.Events[]'`: one Event per line.
    let lookup_lines: Vec<u8> = lookup["Events"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| serde_json::to_vec(e).unwrap().into_iter().chain([b'\n']))
        .collect();
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
        ("lookup-lines.jsonl", lookup_lines),
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
    has(
        "wrong-type.json.gz",
        "awsRegion is a number (42), where CloudTrail writes a string",
    );
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
    // Every command that prints a document, into a pipe whose reader is gone before it writes:
    // a broken pipe is not a panic.
    for args in [
        "completions bash",
        "completions zsh",
        "man",
        "emit spark",
        "emit athena analyze",
        "simulate --print-scenario --builtin datalake",
        "simulate --list-builtins",
        "config",
        "analyze --help",
    ] {
        let piped = Command::new("sh")
            .arg("-c")
            .arg(format!("(sleep 0.2; '{exe}' {args}) | true"))
            .output()
            .unwrap();
        assert!(
            piped.stderr.is_empty(),
            "keytrail {args}: {}",
            String::from_utf8_lossy(&piped.stderr)
        );
    }
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
    big_two_bucket_files(&mut t, 4);
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
        let out = interrupt(child, delay_ms, 1);
        // Killed by the signal itself: Ctrl-C came before keytrail set its handler (a loaded
        // machine can take longer than the delay to start), before anything was written.
        let before_handler = {
            use std::os::unix::process::ExitStatusExt;
            out.status.signal() == Some(2)
        };
        match out.status.code() {
            Some(130) => assert!(
                !report.exists(),
                "an interrupted run wrote {}",
                report.display()
            ),
            None if before_handler => assert!(!report.exists()),
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

/// A FIFO in a synced tree would hang a walk that opened it: it is skipped and counted.
#[cfg(unix)]
#[test]
fn a_fifo_met_in_a_walk_is_skipped_not_waited_on() {
    let mut t = Trail::new();
    let recs = two_buckets(&mut t);
    t.delivered("AWSLogs/1/CloudTrail/us-east-1/2024/03/01/f.json.gz", &recs);
    let fifo = t.path("AWSLogs/1/CloudTrail/us-east-1/2024/03/01/pipe.json.gz");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let report = t.analyze(&["."]).json();
    assert_eq!(report["input"]["files"]["skipped"]["not_a_regular_file"], 1);
    assert_eq!(report["input"]["files"]["read"], 1);
}

/// The same situation gives the same exit code in every command: an input with no KMS call or
/// S3 request (no file, or every event filtered out) is "nothing to report" (6), with a message
/// that says which and what to try, never a success in one command and a failure in another.
#[test]
fn nothing_to_report_exits_6_in_every_command_and_says_why() {
    let empty = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = root.join("fixtures/two-buckets");
    let fixture = fixture.to_str().unwrap();
    let cases: [(&[&str], &str); 2] = [
        (
            &[empty.path().to_str().unwrap()],
            "no input file was read: check the paths",
        ),
        (
            // The day's folder is read; every event is before --until.
            &[fixture, "--until", "2024-03-01T10:00:00Z"],
            "every KMS and S3 event was filtered out or rejected (",
        ),
    ];
    for (input, why) in cases {
        for command in ["analyze", "cost", "quota", "check"] {
            let mut args = vec![command, "-q"];
            args.extend_from_slice(input);
            if command == "check" {
                args.extend(["--max-calls-per-object", "1"]);
            }
            let r = run(&args, root, None);
            assert_eq!(r.code, 6, "{args:?}: {}", r.stderr);
            assert!(r.stderr.contains("nothing to"), "{args:?}: {}", r.stderr);
            assert!(r.stderr.contains(why), "{args:?}: {}", r.stderr);
        }
    }
}
