//! `keytrail analyze`: rows per bucket and mode, filters, formats, usage errors.

use crate::util::*;

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
        // A filter that keeps nothing leaves nothing to report (exit 6), the report still made.
        assert!(matches!(run.code, 0 | 6), "{args:?}: {}", run.stderr);
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
        records::Delivery::to(&who.account),
    );
    recs.push(throttled);
    t.delivered("f.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let plain = row(&report, "plain", "per_object");
    assert_eq!(plain["kms_calls"]["total"], 5);
    assert_eq!(plain["kms_errors"]["throttled"], 1);
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
        (
            &["check", ".", "--max-quota-use", "half"][..],
            "a percentage (50%)",
        ),
        (&["check", ".", "--max-quota-use", "50"][..], "ambiguous"),
        (
            &["analyze", ".", "--max-decompressed-bytes", "4XB"][..],
            "unknown unit",
        ),
        (
            &["emit", "athena", "analyze", "--context", "a\"b=c"][..],
            "cannot be named in Athena's JSON path",
        ),
        (
            &[
                "emit",
                "athena",
                "analyze",
                "--since",
                "2026-11-02",
                "--until",
                "2026-11-01",
            ][..],
            "--since must be before --until",
        ),
    ] {
        let r = run_in(&t, args);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // A trail with no KMS or S3 events has no window to project a month from.
    t.file("empty/a.json", b"{\"Records\":[]}");
    let r = run_in(&t, &["cost", "empty"]);
    assert_eq!(r.code, 6);
    assert!(
        r.stderr
            .contains("nothing to report: the 1 file read holds no CloudTrail records"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("records: 0 read = 0 used"),
        "{}",
        r.stderr
    );
}

/// The charts docs/ shows, drawn from the bundled fixtures: regenerated and compared byte for
/// byte, so the pictures stay the tool's output (`KEYTRAIL_BLESS=1 cargo test charts`).
#[test]
fn documented_charts_regenerate_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let bless = std::env::var_os("KEYTRAIL_BLESS").is_some();
    for (name, args) in [
        ("quota-poc.svg", ["quota", "fixtures/poc"]),
        ("cost-datalake.svg", ["cost", "fixtures/datalake"]),
        ("analyze-datalake.svg", ["analyze", "fixtures/datalake"]),
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

/// The bars of a chart: per group, its label's lines, and each bar's printed value and whether
/// it is drawn as projected (lighter, dashed) or observed.
type Group = (Vec<String>, Vec<(String, bool)>);

fn chart_bars(svg: &str) -> Vec<Group> {
    let text_of = |line: &str| {
        let end = line.rfind("</text>").unwrap();
        let start = line[..end].rfind('>').unwrap() + 1;
        line[start..end].to_string()
    };
    let tspans = |line: &str| -> Vec<String> {
        line.split("<tspan")
            .skip(1)
            .map(|t| {
                let start = t.find('>').unwrap() + 1;
                t[start..t.find("</tspan>").unwrap()].to_string()
            })
            .collect()
    };
    let mut groups = Vec::new();
    let mut bars = Vec::new();
    for line in svg.lines() {
        // (The legend's swatches come after the last label: never a group's.)
        if line.starts_with("<rect x=") && line.contains("<text") {
            bars.push((text_of(line), line.contains("stroke-dasharray")));
        } else if line.contains("rotate(-25)") {
            groups.push((tspans(line), std::mem::take(&mut bars)));
        }
    }
    groups
}

/// analyze's chart sets each bucket against its own what-if, on the same objects: the side
/// that ran is the table's KMS calls per object, drawn solid; the other is the replay, drawn
/// dashed, in the same proportion to it as cost's monthly what-if. On a data lake (keys on and
/// off) and an organization trail (refusals, throttling, buckets read from two accounts).
#[test]
fn the_analyze_chart_sets_each_bucket_against_its_own_what_if() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let (chart, report, cost) = (
        out.path().join("a.svg"),
        out.path().join("a.json"),
        out.path().join("c.json"),
    );
    for (fixture, checked) in [("fixtures/datalake", 2), ("fixtures/org-trail", 1)] {
        let r = run(
            &[
                "analyze",
                fixture,
                "-q",
                "-o",
                report.to_str().unwrap(),
                "--chart",
                chart.to_str().unwrap(),
            ],
            root,
            None,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = run(
            &["cost", fixture, "-q", "-o", cost.to_str().unwrap()],
            root,
            None,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let cost: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cost).unwrap()).unwrap();
        let rows = report["groups"].as_array().unwrap();
        let lines = cost["lines"].as_array().unwrap();
        let mut seen = 0;
        let groups = chart_bars(&std::fs::read_to_string(&chart).unwrap());
        if fixture.ends_with("org-trail") {
            // A bucket read from two accounts: each label names its account, whole.
            for account in ["111122223333", "444455556666"] {
                assert!(
                    groups
                        .iter()
                        .any(|(l, _)| l[1] == format!("{account}, keys on (&gt;=)")),
                    "{account}: {groups:?}"
                );
            }
        }
        for (label, bars) in groups {
            // The bucket's name, then its account if it is read from two, and its keys.
            let [bucket, detail] = &label[..] else {
                panic!("{fixture}: a label of two lines, not {label:?}");
            };
            // with bucket keys, then without: the side that ran is observed.
            assert_eq!(bars.len(), 2, "{fixture} {label:?}: {bars:?}");
            let keys_on = detail.contains("keys on");
            if keys_on || detail.contains("keys off") {
                assert_eq!(bars[0].1, !keys_on, "{fixture} {label:?}: {bars:?}");
                assert_eq!(bars[1].1, keys_on, "{fixture} {label:?}: {bars:?}");
            }
            // A bucket of one row, read from one account: the table's figure and cost's.
            if detail != "keys on" && detail != "keys off" {
                continue;
            }
            let bucket = bucket.as_str();
            let row: Vec<_> = rows.iter().filter(|r| r["bucket"] == bucket).collect();
            let line: Vec<_> = lines
                .iter()
                .filter(|l| l["scope"] == "bucket" && l["name"] == bucket)
                .collect();
            if row.len() != 1 || line.len() != 1 {
                continue;
            }
            let observed = if keys_on { &bars[0].0 } else { &bars[1].0 };
            let ratio = row[0]["kms_calls_per_object"].as_f64().unwrap();
            assert_eq!(observed, &format!("{ratio:.3}"), "{fixture} {label:?}");
            let monthly = |k: &str| line[0]["what_if"][k].as_f64().unwrap();
            let cost_ratio =
                monthly("monthly_without_bucket_keys") / monthly("monthly_with_bucket_keys");
            let value = |i: usize| bars[i].0.parse::<f64>().unwrap();
            let chart_ratio = value(1) / value(0);
            assert!(
                (chart_ratio / cost_ratio - 1.0).abs() < 0.01,
                "{fixture} {label:?}: chart {chart_ratio}, cost {cost_ratio}"
            );
            seen += 1;
        }
        assert_eq!(seen, checked, "{fixture}: buckets checked");
    }
}

#[test]
fn an_output_whose_extension_says_another_format_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/two-buckets");
    let fixture = fixture.to_str().unwrap();
    let png = run(&["analyze", fixture, "-o", "report.png"], dir.path(), None);
    assert_eq!(png.code, 2, "{}", png.stderr);
    assert!(png.stderr.contains("--chart report.png"), "{}", png.stderr);
    let clash = run(
        &["analyze", fixture, "-o", "r.json", "--format", "csv"],
        dir.path(),
        None,
    );
    assert_eq!(clash.code, 2, "{}", clash.stderr);
    assert!(
        clash.stderr.contains("names JSON output"),
        "{}",
        clash.stderr
    );
    assert!(!dir.path().join("report.png").exists() && !dir.path().join("r.json").exists());
    // .txt is the table, as on a terminal.
    let txt = run(&["analyze", fixture, "-q", "-o", "r.txt"], dir.path(), None);
    assert_eq!(txt.code, 0, "{}", txt.stderr);
    let text = std::fs::read_to_string(dir.path().join("r.txt")).unwrap();
    assert!(text.contains("KMS/object"), "{text}");
}

#[test]
fn a_filter_that_matches_nothing_says_how_it_matches() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/two-buckets");
    let r = run(
        &[
            "analyze",
            fixture.to_str().unwrap(),
            "-q",
            "--format",
            "json",
            "--principal",
            "alice",
        ],
        dir.path(),
        None,
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    let warnings = r.json()["input"]["warnings"].to_string();
    assert!(
        warnings.contains("--principal matched none of the 317 events")
            && warnings.contains("arn:aws:iam::ACCOUNT:role/ROLE"),
        "{warnings}"
    );
}

/// `--context aws:s3:arn=BUCKET` keeps a bucket's bucket-key traffic whole: a read that another
/// session of the role served from the cached bucket-level key caused no KMS call, and passes
/// with the bucket's calls (a bucket-level key's context is its bucket's, whoever fetched it).
#[test]
fn a_context_filter_keeps_the_cache_hits_of_a_buckets_other_sessions() {
    let mut t = Trail::new();
    let records = vec![
        t.s3("a", 0, "GetObject", "keyed/x", KEY_A, true),
        t.kms("a", 0, "Decrypt", "arn:aws:s3:::keyed", KEY_A),
        t.s3("b", 1, "GetObject", "keyed/y", KEY_A, true),
        t.s3("b", 2, "GetObject", "keyed/z", KEY_A, true),
        t.s3("a", 3, "GetObject", "other/x", KEY_A, true),
        t.kms("a", 3, "Decrypt", "arn:aws:s3:::other", KEY_A),
        t.s3("b", 4, "GetObject", "other/y", KEY_A, true),
    ];
    t.delivered("trail/a.json.gz", &records);
    let s3 = |args: &[&str]| -> Vec<(String, u64)> {
        let mut all = vec!["trail"];
        all.extend_from_slice(args);
        let report = t.analyze(&all).json();
        balanced(&report);
        report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let n = g["s3_requests"]["total"].as_u64().unwrap();
                (g["bucket"].as_str().unwrap().to_string(), n)
            })
            .collect()
    };
    assert_eq!(
        s3(&[]),
        vec![("keyed".to_string(), 3), ("other".to_string(), 2)]
    );
    assert_eq!(
        s3(&["--context", "aws:s3:arn=arn:aws:s3:::keyed"]),
        vec![("keyed".to_string(), 3)]
    );
    assert_eq!(
        s3(&["--context", "aws:s3:arn=arn:aws:s3:::other"]),
        vec![("other".to_string(), 2)]
    );
}
