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

#[test]
fn the_spark_jobs_output_gives_every_report_of_the_trail_itself() {
    let work = tempfile::tempdir().unwrap();
    let w = |p: &str| work.path().join(p).display().to_string();
    // A clean trail of many shapes: a simulated organization trail (accounts, Regions,
    // cross-account copies delivered to both accounts, refusals and throttling, SSE-S3, clock
    // skew) beside bundled fixtures (both bucket-key modes, multipart uploads, keys switched on
    // mid-trail).
    let sim = run(
        &[
            "simulate",
            "--builtin",
            "org-trail",
            "--scale",
            "2",
            "--seed",
            "7",
            "--out",
            &w("clean/sim"),
        ],
        root(),
        None,
    );
    assert_eq!(sim.code, 0, "{}", sim.stderr);
    for fixture in ["two-buckets", "datalake", "mixed-age"] {
        let from = root().join("fixtures").join(fixture);
        for file in tree(&from) {
            let to = work.path().join("clean").join(fixture).join(&file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from.join(&file), &to).unwrap();
        }
    }
    let real = root().join("fixtures/real-trails").display().to_string();
    let job = w("job.py");
    let filtered_job = w("filtered_job.py");
    for (path, extra) in [
        (&job, vec![]),
        (
            &filtered_job,
            vec!["--bucket-arn-prefix", "arn:aws:s3:::reports-bucket-key/"],
        ),
    ] {
        let mut args = vec!["emit", "spark", "-o", path];
        args.extend(extra);
        let r = run(&args, root(), None);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // The record filters, given to the job when it runs.
    let (since, account) = ("2024-03-01T10:02:00Z", "111122223333");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    spark(&[
        s(&[&job, &w("clean"), &w("out-clean")]),
        s(&[&job, &real, &w("out-real")]),
        s(&[
            &filtered_job,
            &w("clean"),
            &w("out-filtered"),
            "--since",
            since,
            "--account",
            account,
        ]),
    ]);

    let clean = w("clean");
    let cases: [(&str, Vec<&str>, String, bool); 3] = [
        (&clean, vec![], w("out-clean"), true),
        (&real, vec![], w("out-real"), false),
        (
            &clean,
            vec![
                "--since",
                since,
                "--account",
                account,
                "--bucket-arn-prefix",
                "arn:aws:s3:::reports-bucket-key/",
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
            // Not an empty comparison.
            if command == "analyze" {
                assert!(want["input"]["records"]["read"].as_u64().unwrap() > 100);
            }
        }
    }
    // The job's filters are the report's: a contradicting one is refused, not ignored.
    let r = run(
        &[
            "analyze",
            "--from",
            &w("out-filtered"),
            "--since",
            "2024-03-01T10:05:00Z",
        ],
        root(),
        None,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("the job applied"), "{}", r.stderr);
    // A folder that is not a job's output is named, with what it should be.
    let r = run(&["analyze", "--from", &clean], root(), None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("_keytrail.json"), "{}", r.stderr);
}
