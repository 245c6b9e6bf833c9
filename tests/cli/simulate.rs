//! `keytrail simulate` and `--expect`: generated trails analyze to their manifests.

use crate::util::*;

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

/// Two scenarios simulated with the same (default) seed share no eventID: read together, every
/// record of each is used, none is taken for a copy of the other's.
#[test]
fn two_scenarios_with_one_seed_read_together_lose_nothing_as_duplicates() {
    let t = Trail::new();
    for name in ["two-buckets", "poc"] {
        let out = t.path(name);
        let r = run_in(
            &t,
            &[
                "simulate",
                "--builtin",
                name,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let used = |dirs: &[&str]| -> (u64, Value) {
        let mut args = vec!["analyze", "--quiet", "--format", "json"];
        args.extend(dirs);
        let r = run_in(&t, &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = r.json();
        let records = v["input"]["records"].clone();
        (records["used"].as_u64().unwrap(), records)
    };
    let (a, _) = used(&["two-buckets"]);
    let (b, _) = used(&["poc"]);
    let (both, records) = used(&["two-buckets", "poc"]);
    assert!(a > 0 && b > 0);
    assert_eq!(both, a + b, "{records}");
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

/// `--force` over an older tree replaces its files, and a link where a file goes is replaced,
/// never written through.
#[cfg(unix)]
#[test]
fn force_replaces_files_and_links_without_following_them() {
    let t = Trail::new();
    // A log file and a digest.
    let args = [
        "simulate",
        "--builtin",
        "two-buckets",
        "--out",
        "tree",
        "--seed",
        "5",
    ];
    assert_eq!(run_in(&t, &args).code, 0);
    let files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(t.path("tree"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "gz"))
        .map(|e| e.into_path())
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    let (linked, stale) = (&files[0], &files[files.len() - 1]);
    let (first, last) = (
        std::fs::read(linked).unwrap(),
        std::fs::read(stale).unwrap(),
    );
    let outside = t.path("outside.txt");
    std::fs::write(&outside, b"not the simulator's").unwrap();
    std::fs::remove_file(linked).unwrap();
    std::os::unix::fs::symlink(&outside, linked).unwrap();
    std::fs::write(stale, b"an older tree's file").unwrap();
    let mut forced = args.to_vec();
    forced.push("--force");
    let r = run_in(&t, &forced);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&outside).unwrap(), b"not the simulator's");
    assert!(std::fs::symlink_metadata(linked).unwrap().is_file());
    assert_eq!(std::fs::read(linked).unwrap(), first);
    assert_eq!(std::fs::read(stale).unwrap(), last);
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
        simulate::write(&sim, dir.path(), true, 1, &|_| {}).unwrap();
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
        // Grouped by principal and by KMS key too, on a third of the scenarios each.
        let grouping = match n % 3 {
            1 => Some(GroupBy::Principal),
            2 => Some(GroupBy::KmsKey),
            _ => None,
        };
        if let Some(g) = grouping {
            cfg.group_by = g;
            let report = keytrail::reports::calls::analyze(&cfg, &keytrail::trail::Quiet).unwrap();
            let diffs = keytrail::simulate::expect::differences(&report, &manifest).unwrap();
            assert!(
                diffs.is_empty(),
                "scenario {n}, by {}:\n{}\n{toml}",
                report.settings.group_by,
                diffs.join("\n")
            );
        }

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

/// docs/simulate.md's calibration table quotes what `simulate --builtin seed-10k` writes: 10
/// GenerateDataKey and 100 Decrypt with bucket keys, 10,000 of each without.
#[test]
fn the_seed_10k_figures_readme_quotes_are_the_simulators() {
    use keytrail::envelope::KmsOp;
    use keytrail::simulate::{self, builtin, scenario::Scenario};
    let text = builtin::get("seed-10k").unwrap();
    let scenario = Scenario::parse(text, "builtin:seed-10k").unwrap();
    let sim = simulate::simulate(&scenario, 7);
    let calls: Vec<_> = sim.plan().flat_map(|second| second.calls).collect();
    let count = |bucket: &str, op: KmsOp| {
        calls
            .iter()
            .filter(|c| c.op == op && c.bucket == bucket)
            .count()
    };
    let figures = (
        count("seed-bucket-key", KmsOp::GenerateDataKey),
        count("seed-bucket-key", KmsOp::Decrypt),
        count("seed-per-object", KmsOp::GenerateDataKey),
        count("seed-per-object", KmsOp::Decrypt),
    );
    assert_eq!(figures, (10, 100, 10_000, 10_000));
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/simulate.md"))
            .unwrap();
    assert!(
        page.contains("10 GDK, 100 Decrypt in `simulate --builtin seed-10k`"),
        "docs/simulate.md's calibration table no longer quotes the simulator's figures"
    );
}

/// A busy account and Region's minutes go out in several files, as CloudTrail delivers them
/// (`trail.max_file_mib`): each file stays under the size, and the trail reads to the same
/// figures as one file a window, and to its manifest.
#[test]
fn a_busy_window_is_split_into_several_files_that_read_the_same() {
    let t = Trail::new();
    let scenario = |mib: u32| {
        format!(
            r#"
name = "busy"
start = "2026-11-01T00:00:00Z"
[trail]
file_minutes = 5
max_file_mib = {mib}
noise_share = 0.3
[[buckets]]
name = "busy-lake"
bucket_key = true
[[buckets]]
name = "busy-objects"
[[principals]]
name = "etl"
[[phases]]
principal = "etl"
bucket = "busy-lake"
end_secs = 600
put_rate = 6.0
get_rate = 6.0
[[phases]]
principal = "etl"
bucket = "busy-objects"
end_secs = 600
put_rate = 2.0
get_rate = 4.0
"#
        )
    };
    let gz_files = |dir: &Path| -> Vec<PathBuf> {
        tree(dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "gz"))
            .map(|p| dir.join(p))
            .collect()
    };
    let mut reports = Vec::new();
    let mut files = Vec::new();
    for mib in [1, 64] {
        let name = format!("busy-{mib}");
        let toml = t.file(&format!("{name}.toml"), scenario(mib).as_bytes());
        let out = t.path(&name);
        simulate_scenario(t.dir.path(), &toml, &out, &[]);
        let expect = out.join("manifest.json");
        let r = run_in(
            &t,
            &[
                "analyze",
                &name,
                "--quiet",
                "--format",
                "json",
                "--expect",
                expect.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 0, "max_file_mib = {mib}: {}", r.stderr);
        let mut report = r.json();
        report.as_object_mut().unwrap().remove("input");
        reports.push(report);
        files.push(gz_files(&out));
    }
    // Two 5-minute windows: one file each unsplit, many at 1 MiB, none much over it.
    assert_eq!(files[1].len(), 2, "{:?}", files[1]);
    assert!(files[0].len() >= 10, "{} files", files[0].len());
    for f in &files[0] {
        let json = gunzip(f);
        assert!(
            json.len() < (1 << 20) + 8192,
            "{}: {} bytes",
            f.display(),
            json.len()
        );
    }
    assert_eq!(reports[0], reports[1], "split files read differently");
}

/// Unrelated records (`noise_share`, `other_kms_share`) are their exact share of the trail's
/// records and go on through a stretch without traffic, spread over the run, as an account's
/// other activity does: the plan is made a second at a time, but their number is the whole
/// trail's.
#[test]
fn unrelated_records_are_their_exact_share_spread_over_the_whole_run() {
    let t = Trail::new();
    let toml = t.file(
        "gap.toml",
        br#"
name = "gap"
start = "2026-11-01T00:00:00Z"
[trail]
noise_share = 0.5
other_kms_share = 0.1
[[buckets]]
name = "gap-lake"
[[principals]]
name = "etl"
[[phases]]
principal = "etl"
bucket = "gap-lake"
end_secs = 60
put_rate = 3.0
[[phases]]
principal = "etl"
bucket = "gap-lake"
start_secs = 600
end_secs = 660
put_rate = 1.0
get_rate = 4.0
"#,
    );
    let out = t.path("gap");
    simulate_scenario(t.dir.path(), &toml, &out, &[]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let logged = manifest["truth"]["s3_requests"].as_u64().unwrap()
        + manifest["truth"]["kms_calls"].as_u64().unwrap();
    let total = logged as f64 / (1.0 - 0.6);
    let r = run_in(&t, &["analyze", "gap", "--quiet", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let filtered = &r.json()["input"]["records"]["filtered_out"];
    assert_eq!(filtered["other_service"], (total * 0.5).round() as u64);
    assert_eq!(
        filtered["kms_call_not_for_s3"],
        (total * 0.1).round() as u64
    );
    // Every record by second of the run: the nine idle minutes between the phases hold their
    // share of the unrelated records, and nothing else.
    let start = 1_793_491_200; // 2026-11-01T00:00:00Z
    let mut by_second = vec![0u64; 660];
    for rel in tree(&out) {
        if rel.extension().is_none_or(|e| e != "gz") || rel.to_string_lossy().contains("Digest") {
            continue;
        }
        let file: Value = serde_json::from_slice(&gunzip(&out.join(&rel))).unwrap();
        for record in file["Records"].as_array().unwrap() {
            if record["eventName"] == "GenerateDataKey"
                && record["requestParameters"]["encryptionContext"]
                    .get("aws:cloudtrail:arn")
                    .is_some()
            {
                continue; // CloudTrail's own, at delivery
            }
            let time = record["eventTime"].as_str().unwrap();
            let secs = chrono::DateTime::parse_from_rfc3339(time)
                .unwrap()
                .timestamp()
                - start;
            assert!((0..660).contains(&secs), "{time} is outside the run");
            by_second[secs as usize] += 1;
        }
    }
    let unrelated = (total * 0.6).round();
    let idle: u64 = by_second[60..600].iter().sum();
    let expected = unrelated * 540.0 / 660.0;
    assert!(
        (idle as f64 - expected).abs() < expected * 0.1,
        "{idle} records in the idle minutes, about {expected:.0} expected"
    );
    assert!(
        by_second[60..600]
            .chunks(60)
            .all(|minute| minute.iter().sum::<u64>() > 0),
        "a minute without records: {by_second:?}"
    );
}
