//! The Spark job `keytrail emit spark` writes, run on a real Spark (PySpark 3.5.9 in local mode,
//! pinned and installed by tests/engines/engines.sh), and its output read back with `--from`:
//! every report equals the one keytrail makes of the same trail. Spark's JVM start dominates, so
//! every job runs in one session (tests/engines/run_jobs.py).

use crate::util::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the emitted jobs, each `[job, input, output, options...]`, in one Spark session.
fn spark(runs: &[Vec<String>]) {
    let mut args: Vec<String> = vec![
        root()
            .join("tests/engines/engines.sh")
            .display()
            .to_string(),
        "spark-submit".into(),
        // Parts past 64 KiB written by several tasks (the job rebalances its output by part),
        // as a bucket of billions of requests is on a cluster at 64 MB.
        "--conf".into(),
        "spark.sql.adaptive.advisoryPartitionSizeInBytes=64k".into(),
        root()
            .join("tests/engines/run_jobs.py")
            .display()
            .to_string(),
    ];
    for (n, run) in runs.iter().enumerate() {
        if n > 0 {
            args.push("---".into());
        }
        args.extend(run.iter().cloned());
    }
    let out = Command::new("bash")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run tests/engines/engines.sh");
    assert!(
        out.status.success(),
        "the Spark jobs failed (tests/engines/engines.sh installs PySpark and needs Java 17):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A report with what says how the input was listed left out (the job prunes whole folders it
/// never lists, where a local walk counts each file it skips, as an S3 listing does), and, with
/// `messages`, the problems' wording (a parser's message differs between serde and Python's
/// json; the problem, its file, place and reason do not).
fn figures(mut v: Value, messages: bool) -> Value {
    fn walk(v: &mut Value, messages: bool) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(files)) = m.get_mut("files") {
                    files.remove("skipped");
                }
                if !messages {
                    m.remove("message");
                }
                for (_, x) in m.iter_mut() {
                    walk(x, messages);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, messages)),
            _ => {}
        }
    }
    walk(&mut v, messages);
    v
}

/// Where two JSON values first differ, and how.
fn difference(got: &Value, want: &Value, at: &str) -> Option<String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for k in g.keys().chain(w.keys()) {
                let here = format!("{at}.{k}");
                match (g.get(k), w.get(k)) {
                    (Some(a), Some(b)) => {
                        if let Some(d) = difference(a, b, &here) {
                            return Some(d);
                        }
                    }
                    (a, b) => return Some(format!("{here}: {a:?} where keytrail has {b:?}")),
                }
            }
            None
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => g
            .iter()
            .zip(w)
            .enumerate()
            .find_map(|(i, (a, b))| difference(a, b, &format!("{at}[{i}]"))),
        _ if got == want => None,
        _ => Some(format!("{at}: {got} where keytrail has {want}")),
    }
}

fn json_of(args: &[&str]) -> Value {
    let r = run(args, root(), None);
    assert!(
        r.code == 0 || r.code == 6,
        "keytrail {args:?} exited {}: {}",
        r.code,
        r.stderr
    );
    r.json()
}

/// A DSSE-KMS bucket beside an SSE-KMS one: DSSE-KMS traffic is its own mode (no bucket key).
const DSSE_SCENARIO: &str = r#"
name = "dsse-beside-sse-kms"
description = "A DSSE-KMS bucket beside an SSE-KMS one without bucket keys, one role's sessions."
start = "2024-03-02T09:00:00Z"

[[buckets]]
name = "vault-dsse"
dsse = true

[[buckets]]
name = "vault-sse-kms"
bucket_key = false

[[principals]]
name = "etl"
sessions = 2

[[phases]]
principal = "etl"
bucket = "vault-dsse"
end_secs = 180
put_rate = 0.5
get_rate = 1.0

[[phases]]
principal = "etl"
bucket = "vault-sse-kms"
end_secs = 180
put_rate = 0.5
get_rate = 1.0
"#;

/// Simulates [`DSSE_SCENARIO`] into `out`.
fn simulate_dsse(work: &Path, out: &Path) {
    let scenario = work.join("dsse.toml");
    std::fs::write(&scenario, DSSE_SCENARIO).unwrap();
    simulate_scenario(root(), &scenario, out, &["--seed", "19"]);
}

#[test]
fn the_spark_jobs_output_gives_every_report_of_the_trail_itself() {
    let work = tempfile::tempdir().unwrap();
    let w = |p: &str| work.path().join(p).display().to_string();
    // A clean trail of many shapes (`util::many_shapes`): a simulated organization trail
    // beside bundled fixtures.
    many_shapes(&work.path().join("clean"));
    // Three days of an organization trail, with digests: folders by day to prune.
    crate::s3::simulated_tree(&work.path().join("clean/days"));
    simulate_dsse(work.path(), &work.path().join("clean/dsse"));
    let real = root().join("fixtures/real-trails").display().to_string();
    let job = w("job.py");
    let filtered_job = w("filtered_job.py");
    for (path, extra) in [
        (&job, vec![]),
        (
            &filtered_job,
            vec!["--bucket-arn-prefix", "arn:aws:s3:::east-lake/"],
        ),
    ] {
        let mut args = vec!["emit", "spark", "-o", path];
        args.extend(extra);
        let r = run(&args, root(), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // The record filters, given to the job when it runs: a day of the three (the others'
    // folders pruned), one account.
    let (since, until, account) = (
        "2026-11-02T00:00:00Z",
        "2026-11-03T00:00:00Z",
        "111122223333",
    );
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    spark(&[
        s(&[&job, &w("clean"), &w("out-clean")]),
        s(&[&job, &real, &w("out-real")]),
        // The deduplication as for a trail read twice: every record with an ID shuffled by it,
        // where it otherwise hands the few shared IDs to every task.
        s(&[
            &job,
            &w("clean"),
            &w("out-shuffled"),
            "--broadcast-duplicates",
            "0",
        ]),
        s(&[
            &filtered_job,
            &w("clean"),
            &w("out-filtered"),
            "--since",
            since,
            "--until",
            until,
            "--account",
            account,
        ]),
    ]);

    // The clean trail repeats events by eventID and by sharedEventID (copies delivered to two
    // accounts): both deduplications have records to pick between.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(work.path().join("out-clean/_keytrail.json")).unwrap(),
    )
    .unwrap();
    for reason in ["duplicate_event_id", "duplicate_shared_event_id"] {
        let n = &manifest["summary"]["analyze"]["records"]["filtered_out"][reason];
        assert!(n.as_u64() > Some(0), "no {reason} in the clean trail: {n}");
    }

    // The clean trail's largest parts were split between tasks: a part of several files.
    let split = ["kms", "s3", "calls"].iter().any(|table| {
        std::fs::read_dir(work.path().join("out-clean").join(table))
            .unwrap()
            .filter_map(Result::ok)
            .any(|part| {
                std::fs::read_dir(part.path()).is_ok_and(|files| {
                    files
                        .filter_map(Result::ok)
                        .filter(|f| f.file_name().to_string_lossy().ends_with(".parquet"))
                        .count()
                        > 1
                })
            })
    });
    assert!(
        split,
        "no part of the output was written by more than one task"
    );

    let clean = w("clean");
    let cases: [(&str, Vec<&str>, String, bool); 4] = [
        (&clean, vec![], w("out-clean"), true),
        (&clean, vec![], w("out-shuffled"), true),
        (&real, vec![], w("out-real"), false),
        (
            &clean,
            vec![
                "--since",
                since,
                "--until",
                until,
                "--account",
                account,
                "--bucket-arn-prefix",
                "arn:aws:s3:::east-lake/",
            ],
            w("out-filtered"),
            true,
        ),
    ];
    for (input, filters, out, messages) in &cases {
        for command in ["analyze", "cost", "quota"] {
            // cost and quota take no report filters: the job's are analyze's.
            let filters: Vec<&str> = if command == "analyze" {
                filters.clone()
            } else {
                filters
                    .chunks(2)
                    .filter(|p| p[0] != "--bucket-arn-prefix")
                    .flatten()
                    .copied()
                    .collect()
            };
            let mut local = vec![command, input, "--format", "json", "--quiet"];
            local.extend(filters.iter().copied());
            let want = json_of(&local);
            let from = json_of(&[command, "--from", out, "--format", "json", "--quiet"]);
            if let Some(at) = difference(
                &figures(from.clone(), *messages),
                &figures(want.clone(), *messages),
                "",
            ) {
                panic!(
                    "keytrail {command} --from {out} differs from keytrail {}: {at}",
                    local.join(" ")
                );
            }
            // Within a tiny memory budget the output is read a group of parts at a time:
            // the same report, which says so.
            let mut parted = json_of(&[
                command,
                "--from",
                out,
                "--format",
                "json",
                "--quiet",
                "--memory-limit",
                "4KiB",
            ]);
            let read_in = parted["input"]
                .as_object_mut()
                .and_then(|i| i.remove("from_parts"))
                .unwrap_or_else(|| {
                    panic!("{command} --from {out} --memory-limit 4KiB: no from_parts")
                });
            let n = |k: &str| read_in[k].as_u64().unwrap();
            assert!(n("rows") > 2 && n("groups") >= 1, "{read_in}");
            // The clean trail's many buckets are read a group at a time.
            if *out == w("out-clean") {
                assert!(
                    n("groups") > 1 && n("largest_group_rows") < n("rows"),
                    "{read_in}"
                );
            }
            if let Some(at) = difference(&parted, &from, "") {
                panic!("keytrail {command} --from {out}, read in parts, differs: {at}");
            }
            // Not an empty comparison.
            if command == "analyze" {
                assert!(want["input"]["records"]["read"].as_u64().unwrap() > 100);
                assert!(want["input"]["records"]["used"].as_u64().unwrap() > 0);
            }
        }
    }
    // check: the same verdicts and exit code.
    for gate in [
        vec!["--max-calls-per-object", "0.5"],
        vec!["--max-calls-per-object", "5", "--max-quota-use", "50%"],
    ] {
        let mut local = vec!["check", clean.as_str(), "--quiet"];
        local.extend(gate.iter().copied());
        let from_out = w("out-clean");
        let mut from = vec!["check", "--from", from_out.as_str(), "--quiet"];
        from.extend(gate.iter().copied());
        let (l, f) = (run(&local, root(), None), run(&from, root(), None));
        assert_eq!(
            (f.code, &f.stdout),
            (l.code, &l.stdout),
            "check {gate:?}: {}",
            f.stderr
        );
        // Pass, fail, or a check that cannot be evaluated (a bucket without objects): all
        // verdicts, printed.
        assert!(
            matches!(l.code, 0 | 5 | 6) && !l.stdout.is_empty(),
            "{}",
            l.stderr
        );
    }

    // The output read where the job wrote it, in S3 (here the S3-compatible test server): the
    // same reports as from a local copy.
    let bucket = "keytrail-engine-output";
    assert!(crate::s3::upload(&work.path().join("out-clean"), bucket) > 3);
    let endpoint = &crate::s3::server().endpoint;
    for command in ["analyze", "cost", "quota"] {
        let local = json_of(&[command, "--from", &w("out-clean"), "--format", "json", "-q"]);
        let url = format!("s3://{bucket}/");
        let remote = crate::s3::keytrail(
            &[command, "--from", &url, "--format", "json", "-q"],
            endpoint,
            work.path(),
        );
        assert_eq!(remote.code, 0, "{}", remote.stderr);
        assert_eq!(remote.json(), local, "{command} --from {url}");
        // A group of parts at a time, from S3 too.
        let parted = crate::s3::keytrail(
            &[
                command,
                "--from",
                &url,
                "--format",
                "json",
                "-q",
                "--memory-limit",
                "4KiB",
            ],
            endpoint,
            work.path(),
        );
        assert_eq!(parted.code, 0, "{}", parted.stderr);
        let mut parted = parted.json();
        assert!(parted["input"]
            .as_object_mut()
            .unwrap()
            .remove("from_parts")
            .is_some());
        assert_eq!(parted, local, "{command} --from {url} --memory-limit 4KiB");
    }
    let missing = crate::s3::keytrail(
        &["analyze", "--from", &format!("s3://{bucket}/nothing-here/")],
        endpoint,
        work.path(),
    );
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("_keytrail.json"),
        "{}",
        missing.stderr
    );

    // The job's filters are the report's: a contradicting one is refused, not ignored.
    let r = run(
        &[
            "analyze",
            "--from",
            &w("out-filtered"),
            "--since",
            "2026-11-02T06:00:00Z",
        ],
        root(),
        None,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("the job applied"), "{}", r.stderr);
    // A part holding a bucket keytrail puts in another part (a job of another keytrail) is
    // refused, with the file named: read alone, the part would miss some of its buckets' rows.
    let moved = work.path().join("out-moved");
    let cp = std::process::Command::new("cp")
        .args(["-r", &w("out-clean"), &moved.display().to_string()])
        .status()
        .unwrap();
    assert!(cp.success());
    // A part the manifest's layout leaves out is read all the same (never dropped unseen).
    let manifest_path = moved.join("_keytrail.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let rows = manifest["layout"]["rows"].as_array_mut().unwrap();
    let busiest = (0..rows.len())
        .max_by_key(|&i| rows[i]["s3"].as_u64().unwrap())
        .unwrap();
    rows.remove(busiest);
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let report = |out: &str| {
        let mut v = json_of(&[
            "analyze",
            "--from",
            out,
            "--format",
            "json",
            "-q",
            "--memory-limit",
            "4KiB",
        ]);
        v["input"].as_object_mut().unwrap().remove("from_parts");
        v
    };
    assert_eq!(
        report(&moved.display().to_string()),
        report(&w("out-clean"))
    );
    let parts: Vec<String> = std::fs::read_dir(moved.join("kms"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("part="))
        .collect();
    let free = (0..256)
        .map(|p| format!("part={p}"))
        .find(|p| !parts.contains(p))
        .unwrap();
    std::fs::rename(
        moved.join("kms").join(&parts[0]),
        moved.join("kms").join(&free),
    )
    .unwrap();
    let r = run(
        &["analyze", "--from", &moved.display().to_string()],
        root(),
        None,
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&free) && r.stderr.contains("where this keytrail puts it in"),
        "{}",
        r.stderr
    );
    // A folder that is not a job's output is named, with what it should be.
    let r = run(&["analyze", "--from", &clean], root(), None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("_keytrail.json"), "{}", r.stderr);
}

/// Runs emitted Athena SQL on DuckDB (transpiled from Trino by sqlglot) over a table shaped as
/// the Athena guide's, loaded from `trail`; returns each query's rows.
fn duckdb(trail: &Path, queries: &[&Path]) -> Value {
    let install = Command::new("bash")
        .arg(root().join("tests/engines/engines.sh"))
        .arg("install")
        .stdin(Stdio::null())
        .output()
        .expect("run tests/engines/engines.sh");
    assert!(
        install.status.success(),
        "installing the engines failed: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    let venv = String::from_utf8_lossy(&install.stdout).trim().to_string();
    let out = Command::new(Path::new(&venv).join("bin/python"))
        .arg(root().join("tests/engines/athena.py"))
        .arg(trail)
        .arg("cloudtrail_logs")
        .args(queries)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the SQL failed on DuckDB: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn athena_sql_run_on_duckdb_gives_keytrails_figures() {
    let work = tempfile::tempdir().unwrap();
    let trail = work.path().join("trail");
    // Five simulated trails (the fifth, DSSE-KMS beside SSE-KMS, below), each with its own
    // seed (so no two share an eventID, as no two events of a real trail do).
    for (scenario, seed, scale) in [
        ("org-trail", "7", "2"),
        ("mixed-age", "11", "1"),
        ("datalake", "13", "0.5"),
        ("two-buckets", "17", "1"),
    ] {
        let out = trail.join(scenario).display().to_string();
        let r = run(
            &[
                "simulate",
                "--builtin",
                scenario,
                "--seed",
                seed,
                "--scale",
                scale,
                "--out",
                &out,
            ],
            root(),
            None,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    crate::s3::simulated_tree(&trail.join("days"));
    simulate_dsse(work.path(), &trail.join("dsse"));
    let t = trail.display().to_string();
    let (since, until, account, prefix) = (
        "2024-03-01T10:04:00Z",
        "2024-03-01T10:20:00Z",
        "111122223333",
        "arn:aws:s3:::mixed-",
    );
    let filtered = ["--since", since, "--account", account];
    let sql = |name: &str, args: &[&str]| -> PathBuf {
        let path = work.path().join(name);
        let mut all = vec!["emit", "athena"];
        all.extend(args);
        all.extend(["-o", path.to_str().unwrap()]);
        let r = run(&all, root(), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
        path
    };
    let queries = [
        sql("analyze.sql", &["analyze"]),
        sql("quota.sql", &["quota"]),
        sql(
            "analyze-filtered.sql",
            &[
                "analyze",
                filtered[0],
                filtered[1],
                filtered[2],
                filtered[3],
                "--bucket-arn-prefix",
                prefix,
            ],
        ),
        sql(
            "quota-filtered.sql",
            &["quota", filtered[0], filtered[1], filtered[2], filtered[3]],
        ),
        sql("cost.sql", &["cost"]),
        sql(
            "cost-window.sql",
            &[
                "cost",
                "--since",
                since,
                "--until",
                until,
                "--price-per-10k",
                "0.05",
            ],
        ),
    ];
    // A role's sessions (in another account, too) and a user ARN, as keytrail's --principal.
    let principals = [
        "--principal",
        "arn:aws:iam::111122223333:role/etl",
        "--principal",
        "arn:aws:iam::444455556666:role/service-b",
        "--principal",
        "arn:aws:iam::111122223333:user/nobody",
    ];
    let mut analyze_principals = vec!["analyze"];
    analyze_principals.extend(principals);
    // keytrail's report filters: a key by its ID (one of the data lake's two prefixes') and
    // one by its ARN (mixed-age's, both modes), and the bucket-key contexts of two buckets.
    let kms_keys = [
        "--kms-key",
        "aaaa0000-0000-4000-8000-00000000000a",
        "--kms-key",
        "arn:aws:kms:us-east-1:111122223333:key/c73abef2-0817-4635-9d64-6af894be55ea",
    ];
    let contexts = [
        "--context",
        "aws:s3:arn=arn:aws:s3:::lake-raw",
        "--context",
        "aws:s3:arn=arn:aws:s3:::org-east-bucket",
    ];
    let mut analyze_keys = vec!["analyze"];
    analyze_keys.extend(kms_keys);
    let mut analyze_contexts = vec!["analyze"];
    analyze_contexts.extend(contexts);
    let queries: Vec<PathBuf> = queries
        .into_iter()
        .chain([
            sql("analyze-principals.sql", &analyze_principals),
            sql("analyze-kms-keys.sql", &analyze_keys),
            sql("analyze-contexts.sql", &analyze_contexts),
        ])
        .collect();
    let got = duckdb(
        &trail,
        &queries.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    let rows = |q: &Path| got[q.display().to_string()].as_array().unwrap().clone();
    let n = |v: &Value| v.as_u64().unwrap();

    let mut with_prefix = filtered.to_vec();
    with_prefix.extend(["--bucket-arn-prefix", prefix]);
    // Whether the query's S3 requests per bucket are exact: with --kms-key and --context,
    // which keytrail applies to a request through the calls it matched, they are approximate.
    for (query, extra, exact_per_bucket) in [
        (&queries[0], vec![], true),
        (&queries[2], with_prefix, true),
        (&queries[6], principals.to_vec(), true),
        (&queries[7], kms_keys.to_vec(), false),
        (&queries[8], contexts.to_vec(), false),
    ] {
        let mut args = vec!["analyze", t.as_str(), "--format", "json", "--quiet"];
        args.extend(extra.iter().copied());
        let want = json_of(&args);
        let ours: std::collections::BTreeMap<(String, String), &Value> = want["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    (
                        g["bucket"].as_str().unwrap().to_string(),
                        g["mode"].as_str().unwrap().to_string(),
                    ),
                    g,
                )
            })
            .collect();
        let sql_rows = rows(query);
        assert!(!sql_rows.is_empty());
        let theirs: std::collections::BTreeMap<(String, String), &Value> = sql_rows
            .iter()
            .map(|r| {
                (
                    (
                        r["bucket"].as_str().unwrap().to_string(),
                        r["mode"].as_str().unwrap().to_string(),
                    ),
                    r,
                )
            })
            .collect();
        // Exact: the KMS side of every row, and S3 requests per bucket.
        let zero = serde_json::json!(null);
        let mut per_bucket: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        let (mut strayed, mut total) = ([0u64; 2], [0u64; 2]);
        for key in ours.keys().chain(theirs.keys()) {
            let g = ours.get(key).copied().unwrap_or(&zero);
            let r = theirs.get(key).copied().unwrap_or(&zero);
            let k = |v: &Value| v.as_u64().unwrap_or(0);
            let context = format!("{query:?} row {key:?}: keytrail {g}, SQL {r}");
            assert_eq!(
                k(&g["kms_calls"]["GenerateDataKey"]),
                k(&r["generate_data_key"]),
                "{context}"
            );
            assert_eq!(k(&g["kms_calls"]["Decrypt"]), k(&r["decrypt"]), "{context}");
            assert_eq!(k(&g["kms_calls"]["total"]), k(&r["kms_calls"]), "{context}");
            let b = per_bucket.entry(key.0.clone()).or_default();
            b.0 += k(&g["s3_requests"]["total"]);
            b.1 += k(&r["s3_requests"]);
            for (i, (a, s)) in [
                (k(&g["s3_requests"]["total"]), k(&r["s3_requests"])),
                (k(&g["objects"]), k(&r["objects"])),
            ]
            .into_iter()
            .enumerate()
            {
                strayed[i] += a.abs_diff(s);
                total[i] += a;
            }
            if let Some(r) = theirs.get(key) {
                assert_eq!(r["attribution"], "approximate");
            }
        }
        if exact_per_bucket {
            for (bucket, (a, s)) in &per_bucket {
                assert_eq!(a, s, "{query:?}: S3 requests of bucket {bucket}");
            }
        } else {
            assert!(
                per_bucket.values().filter(|(a, _)| *a > 0).count() >= 2,
                "{query:?}: filters left fewer than two buckets: {per_bucket:?}"
            );
        }
        // Approximate: which row a request and its object fall in, within the bound the SQL
        // states (2 % of the column).
        for (i, column) in ["s3_requests", "objects"].iter().enumerate() {
            assert!(
                strayed[i] * 50 <= total[i],
                "{query:?}: {column} strays by {} of {}",
                strayed[i],
                total[i]
            );
        }
        assert!(total[0] > 1000, "not an empty comparison");
    }

    for (query, extra) in [(&queries[1], false), (&queries[3], true)] {
        let mut args = vec!["quota", t.as_str(), "--format", "json", "--quiet"];
        if extra {
            args.extend(filtered);
        }
        let want = json_of(&args);
        let ours: Vec<(String, String, u64, u64, u64, u64)> = want["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["account"].as_str().unwrap().to_string(),
                    r["region"].as_str().unwrap().to_string(),
                    n(&r["kms_requests"]),
                    n(&r["per_second"]["peak"]),
                    n(&r["peak_seconds"]["count"]),
                    n(&r["throttled"]),
                )
            })
            .collect();
        let theirs: Vec<(String, String, u64, u64, u64, u64)> = rows(query)
            .iter()
            .map(|r| {
                (
                    r["account"].as_str().unwrap().to_string(),
                    r["region"].as_str().unwrap().to_string(),
                    n(&r["kms_requests"]),
                    n(&r["peak"]),
                    n(&r["peak_seconds"]),
                    n(&r["throttled"]),
                )
            })
            .collect();
        assert!(!ours.is_empty());
        assert_eq!(theirs, ours, "{query:?}: quota per account and Region");
    }

    // Cost: the account and key lines, requests exact, dollars to keytrail's printed precision.
    for (query, extra) in [
        (&queries[4], vec![]),
        (
            &queries[5],
            vec![
                "--since",
                since,
                "--until",
                until,
                "--price-per-10k",
                "0.05",
            ],
        ),
    ] {
        let mut args = vec!["cost", t.as_str(), "--format", "json", "--quiet"];
        args.extend(extra.iter().copied());
        let want = json_of(&args);
        type Line = (String, String, String, u64, [f64; 3]);
        let line = |l: &Value| -> Line {
            (
                l["scope"].as_str().unwrap().to_string(),
                l["account"].as_str().unwrap().to_string(),
                l["name"].as_str().unwrap().to_string(),
                n(&l["kms_requests"]),
                [
                    l["monthly_requests"].as_f64().unwrap(),
                    l["request_usd"].as_f64().unwrap(),
                    l["key_usd"].as_f64().unwrap(),
                ],
            )
        };
        let key = |l: &Line| (l.0.clone(), l.1.clone(), l.2.clone(), l.3);
        let mut ours: Vec<Line> = want["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| matches!(l["scope"].as_str(), Some("account" | "kms_key")))
            .map(line)
            .collect();
        let mut theirs: Vec<Line> = rows(query).iter().map(line).collect();
        ours.sort_by_key(key);
        theirs.sort_by_key(key);
        assert!(ours.len() > 3);
        assert_eq!(
            ours.iter().map(key).collect::<Vec<_>>(),
            theirs.iter().map(key).collect::<Vec<_>>(),
            "{query:?}: cost lines"
        );
        for (o, t) in ours.iter().zip(&theirs) {
            for (a, b) in o.4.iter().zip(t.4) {
                assert!(
                    (a - b).abs() <= 1e-6 * a.abs().max(1.0),
                    "{query:?}: {t:?} where keytrail has {o:?}"
                );
            }
        }
    }
}
