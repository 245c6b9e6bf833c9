//! The memory budget (`--memory-limit`): past it, the kept events go to temporary files and are
//! joined a group of buckets at a time, and every report is the one the whole trail in memory
//! gives.

use crate::util::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs keytrail with `TMPDIR` set to `tmp`.
fn run_with_tmp(args: &[&str], tmp: &Path) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(args)
        .env("KEYTRAIL_CONFIG", "")
        .env("TMPDIR", tmp)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_trail_spilled_past_the_budget_gives_the_report_it_gives_in_memory() {
    let work = tempfile::tempdir().unwrap();
    let trail = work.path().join("trail");
    many_shapes(&trail);
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let trail = trail.to_str().unwrap();
    let cases: [&[&str]; 6] = [
        &[],
        &["--group-by", "prefix:1"],
        &["--group-by", "principal", "-j", "1"],
        &["--group-by", "kms-key"],
        &["--bucket-arn-prefix", "arn:aws:s3:::org-east-bucket/"],
        &["--account", "111122223333", "--event-name", "GetObject"],
    ];
    for extra in cases {
        let mut args = vec!["analyze", trail, "--format", "json", "--quiet"];
        args.extend(extra);
        let whole = run(&args, root(), None);
        assert_eq!(whole.code, 0, "{}", whole.stderr);
        let whole = whole.json();
        // A budget of a few KiB: every input's events are written out as soon as it is read.
        args.extend(["--memory-limit", "4KiB"]);
        let (code, out, stderr) = run_with_tmp(&args, &tmp);
        assert_eq!(code, 0, "{stderr}");
        let mut spilled: Value = serde_json::from_slice(&out).unwrap();
        let spill = spilled["input"]["spill"].take();
        assert_eq!(
            whole["input"]["spill"],
            Value::Null,
            "{extra:?}: no spill in memory"
        );
        assert_eq!(spill["limit"], 4096);
        let (partitions, groups) = (spill["partitions"].as_u64(), spill["groups"].as_u64());
        assert!(groups.unwrap() > 1, "{extra:?}: several groups: {spill}");
        if extra.is_empty() {
            // Copies between buckets of different partitions put them in one group.
            assert!(groups < partitions, "copies link partitions: {spill}");
        }
        assert!(spill["event_bytes"].as_u64().unwrap() > 0);
        assert_eq!(spilled, whole, "{extra:?}: the spilled report differs");
        balanced(&spilled);
        // The temporary files are gone with the run.
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "{extra:?}: left in TMPDIR: {left:?}");
    }
    // check's verdicts (calls per object and quota use) are the whole trail's.
    let gate = [
        "check",
        trail,
        "--json",
        "--max-calls-per-object",
        "1.5",
        "--max-quota-use",
        "0.001%",
    ];
    let whole = run(&gate, root(), None);
    let (code, out, stderr) =
        run_with_tmp(&[&gate[..], &["--memory-limit", "4KiB"]].concat(), &tmp);
    assert_eq!(code, whole.code, "{stderr}");
    assert_eq!(code, 5, "some bucket passes 1.5 calls per object: {stderr}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        String::from_utf8(whole.stdout).unwrap()
    );
    // What the summary says of the spill does not depend on how the threads split the input.
    let spill_of = |threads: &str| {
        let (code, out, stderr) = run_with_tmp(
            &[
                "analyze",
                trail,
                "--format",
                "json",
                "--quiet",
                "--memory-limit",
                "64KiB",
                "-j",
                threads,
            ],
            &tmp,
        );
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_slice::<Value>(&out).unwrap()
    };
    let one = spill_of("1");
    assert!(one["input"]["spill"]["groups"].as_u64() > Some(1));
    assert_eq!(one, spill_of("3"));
    // cost and quota: counts by account, key and bucket, and per-second series, added up over
    // the parts; the callers of the peak seconds counted in a second look at them.
    for command in ["cost", "quota"] {
        let args = ["--format", "json", "--quiet"];
        let whole = run(&[&[command, trail][..], &args].concat(), root(), None);
        assert_eq!(whole.code, 0, "{}", whole.stderr);
        let whole = whole.json();
        let (code, out, stderr) = run_with_tmp(
            &[&[command, trail][..], &args, &["--memory-limit", "4KiB"]].concat(),
            &tmp,
        );
        assert_eq!(code, 0, "{stderr}");
        let mut spilled: Value = serde_json::from_slice(&out).unwrap();
        let spill = spilled["input"]["spill"].take();
        assert!(spill["groups"].as_u64().unwrap() > 1, "{command}: {spill}");
        assert_eq!(spilled, whole, "{command}: the spilled report differs");
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    }
    // The chart's what-if, part by part, is the whole trail's too (HTML carries the chart;
    // leave out what differs: the command line, the time it was made, the spill's line).
    let html = |extra: &[&str]| {
        let mut args = vec!["analyze", trail, "--format", "html", "--quiet"];
        args.extend(extra);
        let (code, out, stderr) = run_with_tmp(&args, &tmp);
        assert_eq!(code, 0, "{stderr}");
        String::from_utf8(out)
            .unwrap()
            .lines()
            .filter(|l| {
                !["command: ", "<li>made ", "memory: "]
                    .iter()
                    .any(|s| l.contains(s))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (whole, spilled) = (html(&[]), html(&["--memory-limit", "4KiB"]));
    assert!(whole.contains("<svg"), "the report has its chart");
    for (a, b) in whole.lines().zip(spilled.lines()) {
        assert_eq!(a, b, "the spilled HTML report differs");
    }
    assert_eq!(whole.lines().count(), spilled.lines().count());
}

#[test]
fn the_summary_says_what_was_spilled_and_a_folder_it_cannot_write_is_an_error() {
    let work = tempfile::tempdir().unwrap();
    let trail = root().join("fixtures/two-buckets");
    let trail = trail.to_str().unwrap();
    let (code, out, stderr) =
        run_with_tmp(&["analyze", trail, "--memory-limit", "1KiB"], work.path());
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("spilled past --memory-limit") && text.contains("joined in"),
        "{text}"
    );
    // A bucket larger than a group may hold is joined whole, and the summary says so.
    assert!(text.contains("a group may hold"), "{text}");
    // Within the budget, nothing is said (nor written).
    let (code, out, _) = run_with_tmp(&["analyze", trail], work.path());
    assert_eq!(code, 0);
    assert!(!String::from_utf8(out).unwrap().contains("memory:"));
    // A temporary folder that is not there: the run stops and says what to do.
    let gone = work.path().join("no-such-folder");
    let (code, _, stderr) = run_with_tmp(&["analyze", trail, "--memory-limit", "1KiB"], &gone);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("TMPDIR") && stderr.contains("no-such-folder"),
        "{stderr}"
    );
    // A budget of nothing is a usage error.
    let (code, _, stderr) = run_with_tmp(&["analyze", trail, "--memory-limit", "0"], work.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--memory-limit"), "{stderr}");
}

#[test]
fn ctrl_c_removes_the_temporary_files_once_or_twice() {
    let mut t = Trail::new();
    big_two_bucket_files(&mut t, 6);
    let tmp = t.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // One Ctrl-C stops the run between chunks; a second exits at once (no destructor runs,
    // the handler removes the folder). Early, late, once, twice.
    for (delay_ms, signals) in [(30, 1), (200, 1), (30, 2), (200, 2)] {
        let child = Command::new(env!("CARGO_BIN_EXE_keytrail"))
            .args([
                "analyze",
                "big",
                "-q",
                "--threads",
                "1",
                "--memory-limit",
                "4KiB",
            ])
            .env("KEYTRAIL_CONFIG", "")
            .env("TMPDIR", &tmp)
            .current_dir(t.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = interrupt(child, delay_ms, signals);
        // 130: interrupted; 0: the run was done first; no code: the signal came before the
        // handler was set (a loaded machine), before any folder was made.
        assert!(
            matches!(out.status.code(), Some(130) | Some(0) | None),
            "exit {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(
            left.is_empty(),
            "after {signals} Ctrl-C at {delay_ms} ms, left in TMPDIR: {left:?}"
        );
    }
}

#[test]
fn whether_a_run_spills_depends_on_its_input_and_budget_not_on_the_threads() {
    // Whether a run spills, and what its summary says of it, used to depend on how the inputs
    // fell between the workers' batches near the budget: it spills now once the events kept
    // weigh more than a quarter of the budget, the same sum whoever read what.
    let tmp = tempfile::tempdir().unwrap();
    let report = |limit: &str, threads: &str| {
        let args = [
            "cost",
            "fixtures/org-trail",
            "--format",
            "json",
            "--quiet",
            "--memory-limit",
            limit,
            "-j",
            threads,
        ];
        let (code, out, stderr) = run_with_tmp(&args, tmp.path());
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_slice::<Value>(&out).unwrap()
    };
    // What the events weigh: all of them are spilled past a tiny budget.
    let weight = report("4KiB", "1")["input"]["spill"]["event_bytes"]
        .as_u64()
        .unwrap();
    assert!(weight > 16 << 10, "a trail of some size: {weight} bytes");
    for (limit, spills) in [(4 * weight + 4096, false), (4 * weight - 4096, true)] {
        let limit = limit.to_string();
        let one = report(&limit, "1");
        let spill = &one["input"]["spill"];
        assert_eq!(!spill.is_null(), spills, "--memory-limit {limit}: {spill}");
        if spills {
            assert_eq!(spill["event_bytes"].as_u64(), Some(weight));
        }
        for threads in ["2", "3", "3", "4"] {
            assert_eq!(report(&limit, threads), one, "{limit}, {threads} threads");
        }
    }
}
