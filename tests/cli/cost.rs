//! `keytrail cost` and the what-if: hand-computed figures.

use crate::util::*;

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

#[test]
fn the_first_two_rotations_of_each_customer_managed_key_are_charged_as_assumed() {
    let mut t = Trail::new();
    cost_trail(&mut t);
    let key_usd = |rotations: &str| {
        let cost = report(
            &t,
            "cost",
            &[
                "AWSLogs",
                "--aws-managed-key",
                KEY_B,
                "--key-rotations",
                rotations,
            ],
        );
        assert_eq!(
            cost["prices"]["key_rotations_assumed"],
            rotations.parse::<u64>().unwrap()
        );
        let notes = cost["notes"].to_string();
        assert!(notes.contains("--key-rotations"), "{notes}");
        (
            line(&cost, "account", ACCOUNT)["key_usd"].as_f64().unwrap(),
            line(&cost, "kms_key", KEY_A)["key_usd"].as_f64().unwrap(),
            line(&cost, "kms_key", KEY_B)["key_usd"].as_f64().unwrap(),
        )
    };
    // Two customer managed keys: $1 each, plus $1 for each of the first two rotations; the
    // AWS managed key costs nothing however often it rotates.
    assert_eq!(key_usd("0"), (2.0, 1.0, 0.0));
    assert_eq!(key_usd("1"), (4.0, 2.0, 0.0));
    assert_eq!(key_usd("2"), (6.0, 3.0, 0.0));
    assert_eq!(key_usd("7"), (6.0, 3.0, 0.0));
}

/// Settings set once live in the environment (`KEYTRAIL_*`); a flag given on the command line
/// wins over its variable, and `--help` names the variable.
#[test]
fn prices_and_quotas_come_from_keytrail_variables_unless_a_flag_is_given() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cost = |env: &[(&str, &str)], extra: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_keytrail"))
            .args(["cost", "-q", "fixtures/two-buckets", "--format", "json"])
            .args(extra)
            .env("KEYTRAIL_CONFIG", "")
            .envs(env.iter().copied())
            .current_dir(root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let env = [
        ("KEYTRAIL_PRICE_PER_10K", "0.06"),
        ("KEYTRAIL_FREE_TIER", "0"),
        ("KEYTRAIL_THREADS", "1"),
    ];
    let from_env = cost(&env, &[]);
    assert_eq!(from_env["prices"]["per_10k_requests_usd"], 0.06);
    assert_eq!(from_env["prices"]["free_requests_per_month"], 0);
    let flag_wins = cost(&env, &["--price-per-10k", "0.01"]);
    assert_eq!(flag_wins["prices"]["per_10k_requests_usd"], 0.01);
    let plain = cost(&[], &[]);
    assert_eq!(plain["prices"]["per_10k_requests_usd"], 0.03);
    // A settings file sets the same variables, below the environment; `keytrail config` says
    // where each value came from.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "# team defaults\nprice_per_10k = 0.05\nfree_tier = 7\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let from_file = cost(&[("KEYTRAIL_CONFIG", file)], &[]);
    assert_eq!(from_file["prices"]["per_10k_requests_usd"], 0.05);
    let env_wins = cost(
        &[("KEYTRAIL_CONFIG", file), ("KEYTRAIL_FREE_TIER", "3")],
        &[],
    );
    assert_eq!(env_wins["prices"]["free_requests_per_month"], 3);
    assert_eq!(env_wins["prices"]["per_10k_requests_usd"], 0.05);
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .arg("config")
        .env("KEYTRAIL_CONFIG", file)
        .env("KEYTRAIL_FREE_TIER", "3")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    for line in [
        "price_per_10k = 0.05 (settings file, line 2)",
        "free_tier = 3 (environment: KEYTRAIL_FREE_TIER)",
        "window = 5 (default)",
    ] {
        assert!(shown.contains(line), "{line} not in\n{shown}");
    }
    std::fs::write(dir.path().join("config.toml"), "price_per_10K = 1\n").unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(["cost", "fixtures/two-buckets"])
        .env("KEYTRAIL_CONFIG", file)
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line 1: unknown setting `price_per_10K`"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    for (command, var) in [
        ("cost", "KEYTRAIL_PRICE_PER_10K"),
        ("cost", "KEYTRAIL_THREADS"),
        ("quota", "KEYTRAIL_QUOTAS"),
        ("check", "KEYTRAIL_THRESHOLDS"),
    ] {
        let help = run(&[command, "--help"], root, None);
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} not in\n{help}"
        );
    }
}

/// A bucket's projection is its own traffic's: the same role busy in another bucket in the
/// same seconds (another scenario's trail, read beside it) changes none of its figures.
/// (With one rate per role over all buckets and one random stream, as before December 3rd,
/// bucket-a's projection with bucket keys went from 25 calls alone to 36 beside bucket-0.)
#[test]
fn a_buckets_projection_is_the_same_beside_another_buckets_traffic() {
    use keytrail::envelope::Params;
    use keytrail::reports::whatif::project;
    use keytrail::simulate::{self, scenario::Scenario};
    use keytrail::source::InputSpec;
    use keytrail::trail::config::AnalyzeConfig;
    let trail = |bucket: &str| {
        let toml = format!(
            "name = \"{bucket}\"\n[[buckets]]\nname = \"{bucket}\"\nbucket_key = false\n\
             [[principals]]\nname = \"etl\"\n[[phases]]\nprincipal = \"etl\"\n\
             bucket = \"{bucket}\"\nend_secs = 60\nput_rate = 5.0\nget_rate = 40.0\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let sim = simulate::simulate(&Scenario::parse(&toml, bucket).unwrap(), 3);
        simulate::write(&sim, dir.path(), true, 1, &|_| {}).unwrap();
        dir
    };
    // The other bucket sorts first, so its requests of a second are replayed before ours.
    let (a, b) = (trail("bucket-a"), trail("bucket-0"));
    let project_of = |dirs: &[&std::path::Path]| {
        let inputs = dirs
            .iter()
            .map(|d| InputSpec::Path(d.to_path_buf()))
            .collect();
        keytrail::join::run(&AnalyzeConfig::new(inputs), &keytrail::trail::Quiet, |j| {
            let w = project(&j, &Params::default());
            let bucket = j.strings.lookup("bucket-a").unwrap();
            let mut of_a = w.buckets.into_iter().filter(|((_, b), _)| *b == bucket);
            let (_, figures) = of_a.next().unwrap();
            assert!(of_a.next().is_none());
            figures
        })
        .unwrap()
    };
    let alone = project_of(&[a.path()]);
    let beside = project_of(&[a.path(), b.path()]);
    assert!(
        alone.projected() && alone.per_object_traffic_with_bucket_keys > 0,
        "{alone:?}"
    );
    assert_eq!(beside, alone);
}
