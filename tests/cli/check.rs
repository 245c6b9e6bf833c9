//! `keytrail check`: the CI gate.

use crate::util::*;

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
    // An empty trail does not pass: it says it checked nothing, and exits 6.
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
    assert_eq!(r.code, 6, "{}", r.stderr);
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(
        out.contains("N/A  no bucket in the trail") && out.contains("nothing spends the quota"),
        "{out}"
    );
    assert!(r.stderr.contains("not a pass"), "{}", r.stderr);
    let r = run(
        &["check", "empty", "--max-quota-use", "0.5", "--json"],
        dir,
        None,
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["passed"], false);
    assert_eq!(v["checks"][0]["verdict"], "not_checked");
}
