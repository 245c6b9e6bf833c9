//! The trails users really have: organization trails (one call delivered to two accounts),
//! network activity events, failed requests. Each figure exact, in every command it affects.

use crate::util::*;

const OTHER: &str = "444455556666";

/// A per-object bucket: one object written and read twice, every record also delivered to a
/// second account (an organization trail, or a trail in the key owner's account).
fn cross_account_trail(t: &mut Trail) -> Vec<Vec<u8>> {
    let mut recs = Vec::new();
    let mut n = 0;
    let mut both = |rec: Vec<u8>, recs: &mut Vec<Vec<u8>>| {
        n += 1;
        let shared = format!("5ead0000-0000-4000-8000-{n:012}");
        recs.extend(delivered_to(&rec, OTHER, &shared, n));
    };
    let arn = "arn:aws:s3:::lake/a.parquet";
    both(
        t.s3("etl", 0, "PutObject", "lake/a.parquet", KEY_A, false),
        &mut recs,
    );
    both(t.kms("etl", 0, "GenerateDataKey", arn, KEY_A), &mut recs);
    for s in [10, 20] {
        both(
            t.s3("etl", s, "GetObject", "lake/a.parquet", KEY_A, false),
            &mut recs,
        );
        both(t.kms("etl", s, "Decrypt", arn, KEY_A), &mut recs);
    }
    recs
}

#[test]
fn a_call_delivered_to_two_accounts_counts_once_in_every_report() {
    let mut t = Trail::new();
    let recs = cross_account_trail(&mut t);
    t.delivered("AWSLogs/both.json.gz", &recs);

    let report = t.analyze(&["."]).json();
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["s3_requests"]["PutObject"], 1, "{r:#}");
    assert_eq!(r["s3_requests"]["GetObject"], 2, "{r:#}");
    assert_eq!(r["kms_calls"]["total"], 3, "{r:#}");
    assert_eq!(r["objects"], 1, "{r:#}");
    assert_eq!(r["kms_calls_per_object"], 3.0, "{r:#}");
    // Six records were copies, each named by its reason.
    assert_eq!(filtered(&report, "duplicate_shared_event_id"), 6);
    assert_eq!(filtered(&report, "duplicate_event_id"), 0);

    // cost and quota count the three calls once too.
    let cost = run_in(&t, &["cost", ".", "--format", "json", "--quiet"]).json();
    assert_eq!(cost["cross_account_copies"], 3, "{cost:#}");
    let requests: u64 = cost["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["scope"] == "account")
        .map(|l| l["kms_requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 3, "{cost:#}");
    let quota = run_in(&t, &["quota", ".", "--format", "json", "--quiet"]).json();
    let total: u64 = quota["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kms_requests"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3, "{quota:#}");
}

#[test]
fn the_same_file_twice_and_a_copy_in_another_account_are_told_apart() {
    let mut t = Trail::new();
    let recs = cross_account_trail(&mut t);
    t.delivered("AWSLogs/both.json.gz", &recs);
    t.delivered("AWSLogs/resync/both.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    assert_eq!(kms_total(&report, "lake", "per_object"), 3);
    // The second file repeats 12 eventIDs; of the 12 left, 6 are second-account copies.
    assert_eq!(filtered(&report, "duplicate_event_id"), 12);
    assert_eq!(filtered(&report, "duplicate_shared_event_id"), 6);
}

#[test]
fn network_activity_events_are_neither_requests_nor_calls() {
    let mut t = Trail::new();
    let arn = "arn:aws:s3:::lake/a.parquet";
    let get = t.s3("etl", 10, "GetObject", "lake/a.parquet", KEY_A, false);
    let decrypt = t.kms("etl", 10, "Decrypt", arn, KEY_A);
    let vpce = |rec: &[u8], id: &str, denied: bool| {
        edited(rec, |r| {
            r.insert("eventCategory".into(), "NetworkActivity".into());
            r.insert("eventType".into(), "AwsVpceEvent".into());
            r.insert("eventID".into(), id.into());
            r.insert("recipientAccountId".into(), OTHER.into());
            if denied {
                r.insert("errorCode".into(), "VpceAccessDenied".into());
            }
        })
    };
    let recs = vec![
        get.clone(),
        decrypt.clone(),
        // The endpoint owner's view of the same two requests, and one the endpoint denied.
        vpce(&get, "aaaaaaaa-0000-4000-8000-000000000001", false),
        vpce(&decrypt, "aaaaaaaa-0000-4000-8000-000000000002", false),
        vpce(&get, "aaaaaaaa-0000-4000-8000-000000000003", true),
    ];
    t.delivered("AWSLogs/vpce.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["s3_requests"]["GetObject"], 1, "{r:#}");
    assert_eq!(r["s3_errors"], 0, "{r:#}");
    assert_eq!(r["kms_calls"]["total"], 1, "{r:#}");
    assert_eq!(filtered(&report, "network_activity_event"), 3);
    let quota = run_in(&t, &["quota", ".", "--format", "json", "--quiet"]).json();
    assert_eq!(quota["rows"][0]["kms_requests"], 1, "{quota:#}");
}

#[test]
fn failed_requests_are_counted_apart_and_do_not_dilute_the_ratio() {
    let mut t = Trail::new();
    let arn = "arn:aws:s3:::lake/a.parquet";
    let mut recs = vec![
        t.s3("etl", 0, "PutObject", "lake/a.parquet", KEY_A, false),
        t.kms("etl", 0, "GenerateDataKey", arn, KEY_A),
        t.s3("etl", 5, "GetObject", "lake/a.parquet", KEY_A, false),
        t.kms("etl", 5, "Decrypt", arn, KEY_A),
    ];
    // Eight reads of objects that are not there, or not for this caller.
    for (i, code) in ["NoSuchKey", "AccessDenied"].iter().enumerate() {
        for j in 0..4 {
            let rec = t.s3(
                "etl",
                20 + j,
                "GetObject",
                &format!("lake/missing-{i}-{j}.parquet"),
                KEY_A,
                false,
            );
            recs.push(edited(&rec, |r| {
                r.insert("errorCode".into(), (*code).into());
            }));
        }
    }
    t.delivered("AWSLogs/f.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["s3_requests"]["GetObject"], 1, "{r:#}");
    assert_eq!(r["s3_errors"], 8, "{r:#}");
    assert_eq!(r["objects"], 1, "{r:#}");
    assert_eq!(r["kms_calls_per_object"], 2.0, "{r:#}");
    // The gate sees the true ratio: 2 calls per object passes 2, fails 1.5.
    let check = |limit: &str| {
        run_in(
            &t,
            &["check", ".", "--quiet", "--max-calls-per-object", limit],
        )
        .code
    };
    assert_eq!(check("2"), 0);
    assert_eq!(check("1.5"), 5);
}

#[test]
fn a_per_object_call_logged_minutes_from_its_request_is_matched_by_its_object() {
    let mut t = Trail::new();
    let arn = |k: &str| format!("arn:aws:s3:::lake/{k}");
    let recs = vec![
        // The GenerateDataKey logged 40 s after its PutObject (clock skew, a slow upload) ...
        t.s3("etl", 0, "PutObject", "lake/a.parquet", KEY_A, false),
        t.kms("etl", 40, "GenerateDataKey", &arn("a.parquet"), KEY_A),
        // ... a Decrypt logged 2 minutes before its GET, and another object read on time.
        t.s3("etl", 300, "GetObject", "lake/a.parquet", KEY_A, false),
        t.kms("etl", 180, "Decrypt", &arn("a.parquet"), KEY_A),
        t.s3("etl", 301, "GetObject", "lake/b.parquet", KEY_A, false),
        t.kms("etl", 301, "Decrypt", &arn("b.parquet"), KEY_A),
    ];
    t.delivered("AWSLogs/skew.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["unmatched"]["s3_requests"], 0, "{r:#}");
    assert_eq!(r["unmatched"]["kms_calls"], 0, "{r:#}");
    assert_eq!(report["settings"]["object_window_seconds"], 300);
    // A window narrower than the skew leaves them unmatched, and says so per row.
    let narrow = t.analyze(&[".", "--object-window", "5"]).json();
    let r = row(&narrow, "lake", "per_object");
    assert_eq!(r["unmatched"]["s3_requests"], 2, "{r:#}");
    assert_eq!(r["unmatched"]["kms_calls"], 2, "{r:#}");
}

#[test]
fn access_points_and_key_less_records_are_read_from_their_resources() {
    let mut t = Trail::new();
    let arn = |k: &str| format!("arn:aws:s3:::lake/{k}");
    // Through an access point: bucketName is the access point's alias, or its ARN.
    let via_alias = edited(
        &t.s3("etl", 0, "PutObject", "lake/a.parquet", KEY_A, false),
        |r| {
            r["requestParameters"]["bucketName"] = "lake-ap-abcdefgh1234-s3alias".into();
        },
    );
    let via_arn = edited(
        &t.s3("etl", 10, "GetObject", "lake/a.parquet", KEY_A, false),
        |r| {
            r["requestParameters"]["bucketName"] =
                "arn:aws:s3:us-east-1:111122223333:accesspoint/lake-ap".into();
        },
    );
    // A PutObject whose requestParameters name no key, as real ones sometimes do.
    let key_less = edited(
        &t.s3("etl", 20, "PutObject", "lake/b.parquet", KEY_A, false),
        |r| {
            r["requestParameters"]
                .as_object_mut()
                .unwrap()
                .remove("key");
        },
    );
    let recs = vec![
        via_alias,
        t.kms("etl", 0, "GenerateDataKey", &arn("a.parquet"), KEY_A),
        via_arn,
        t.kms("etl", 10, "Decrypt", &arn("a.parquet"), KEY_A),
        key_less,
        t.kms("etl", 20, "GenerateDataKey", &arn("b.parquet"), KEY_A),
    ];
    t.delivered("AWSLogs/ap.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "one bucket, no phantom one: {groups:#?}");
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["s3_requests"]["PutObject"], 2, "{r:#}");
    assert_eq!(r["s3_requests"]["GetObject"], 1, "{r:#}");
    assert_eq!(r["objects"], 2, "{r:#}");
    assert_eq!(r["unmatched"]["s3_requests"], 0, "{r:#}");
    assert_eq!(balanced(&report)["rejected"].as_object().unwrap().len(), 0);
}

#[test]
fn sse_c_requests_shown_by_their_customer_algorithm_header_are_not_sse_kms() {
    let mut t = Trail::new();
    let sse_c = edited(
        &t.s3("etl", 0, "PutObject", "lake/secret.bin", KEY_A, false),
        |r| {
            r.insert("responseElements".into(), Value::Null);
            r["additionalEventData"]
                .as_object_mut()
                .unwrap()
                .remove("SSEApplied");
            r["requestParameters"]["x-amz-server-side-encryption-customer-algorithm"] =
                "AES256".into();
        },
    );
    let recs = vec![
        sse_c,
        t.s3("etl", 1, "PutObject", "lake/a.parquet", KEY_A, false),
        t.kms(
            "etl",
            1,
            "GenerateDataKey",
            "arn:aws:s3:::lake/a.parquet",
            KEY_A,
        ),
    ];
    t.delivered("AWSLogs/ssec.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["s3_requests"]["PutObject"], 1, "{r:#}");
    assert_eq!(r["objects"], 1, "{r:#}");
    assert_eq!(filtered(&report, "s3_not_sse_kms"), 1);
}

#[test]
fn dsse_kms_objects_are_their_own_mode_and_no_bucket_key_saving_is_promised() {
    let mut t = Trail::new();
    let arn = |k: &str| format!("arn:aws:s3:::vault/{k}");
    let dsse = |rec: Vec<u8>| {
        edited(&rec, |r| {
            r["responseElements"]["x-amz-server-side-encryption"] = "aws:kms:dsse".into();
        })
    };
    let mut recs = Vec::new();
    for (i, k) in ["a.bin", "b.bin"].iter().enumerate() {
        let s = i as u32 * 10;
        recs.push(dsse(t.s3(
            "etl",
            s,
            "PutObject",
            &format!("vault/{k}"),
            KEY_A,
            false,
        )));
        recs.push(t.kms("etl", s, "GenerateDataKey", &arn(k), KEY_A));
        // Reads: a GET's response says nothing of DSSE; the object's logged write does.
        recs.push(t.s3(
            "etl",
            s + 5,
            "GetObject",
            &format!("vault/{k}"),
            KEY_A,
            false,
        ));
        recs.push(t.kms("etl", s + 5, "Decrypt", &arn(k), KEY_A));
    }
    t.delivered("AWSLogs/dsse.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    let r = row(&report, "vault", "dsse");
    assert_eq!(r["kms_calls"]["total"], 4, "{r:#}");
    assert_eq!(r["s3_requests"]["total"], 4, "{r:#}");
    assert_eq!(r["objects"], 2, "{r:#}");

    let cost = run_in(&t, &["cost", ".", "--format", "json", "--quiet"]).json();
    let b = line(&cost, "bucket", "vault");
    assert_eq!(b["bucket_keys"], "n/a (DSSE-KMS)", "{b:#}");
    // No projection of any kind for a bucket whose traffic bucket keys cannot change.
    assert!(b["what_if"].is_null(), "{b:#}");
    let notes = cost["notes"].to_string();
    assert!(
        notes.contains("DSSE-KMS, which S3 uses no bucket keys with"),
        "{notes}"
    );
}

#[test]
fn a_copy_between_bucket_key_buckets_under_different_keys_matches_each_side_by_its_own_key() {
    let mut t = Trail::new();
    let copy = edited(
        &t.s3("etl", 100, "CopyObject", "dst/y.bin", KEY_A, true),
        |r| {
            // `+` in a copy source is a plus sign: the source is `src/x+1.bin`.
            r["requestParameters"]["x-amz-copy-source"] = "src/x+1.bin".into();
        },
    );
    let recs = vec![
        t.s3("etl", 0, "PutObject", "src/x+1.bin", KEY_B, true),
        t.kms("etl", 0, "GenerateDataKey", "arn:aws:s3:::src", KEY_B),
        copy,
        // The source side: a bucket-key Decrypt under the source's key ...
        t.kms("etl", 100, "Decrypt", "arn:aws:s3:::src", KEY_B),
        // ... the destination side: a GenerateDataKey under the destination's.
        t.kms("etl", 100, "GenerateDataKey", "arn:aws:s3:::dst", KEY_A),
    ];
    t.delivered("AWSLogs/copy.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    for bucket in ["src", "dst"] {
        let r = row(&report, bucket, "bucket_key");
        assert_eq!(r["unmatched"]["kms_calls"], 0, "{bucket}: {r:#}");
    }
    assert_eq!(kms_total(&report, "src", "bucket_key"), 2);
    assert_eq!(kms_total(&report, "dst", "bucket_key"), 1);
}

#[test]
fn reads_of_sse_s3_objects_and_anonymous_requests_stay_out_of_the_ratio() {
    let mut t = Trail::new();
    let sse_s3 = edited(
        &t.s3("etl", 0, "PutObject", "lake/plain.csv", KEY_A, false),
        |r| {
            r.insert(
                "responseElements".into(),
                serde_json::json!({"x-amz-server-side-encryption": "AES256"}),
            );
            r["additionalEventData"]["SSEApplied"] = "SSE_S3".into();
        },
    );
    let mut recs = vec![
        sse_s3,
        t.s3("etl", 1, "PutObject", "lake/a.parquet", KEY_A, false),
        t.kms(
            "etl",
            1,
            "GenerateDataKey",
            "arn:aws:s3:::lake/a.parquet",
            KEY_A,
        ),
        t.s3("etl", 2, "GetObject", "lake/a.parquet", KEY_A, false),
        t.kms("etl", 2, "Decrypt", "arn:aws:s3:::lake/a.parquet", KEY_A),
    ];
    // Five reads of the SSE-S3 object: a GET's response names no encryption at all.
    for s in 10..15 {
        recs.push(t.s3("etl", s, "GetObject", "lake/plain.csv", KEY_A, false));
    }
    // And an anonymous one.
    recs.push(edited(
        &t.s3("etl", 20, "GetObject", "lake/public.html", KEY_A, false),
        |r| {
            r.insert(
                "userIdentity".into(),
                serde_json::json!({"type": "AnonymousPrincipal", "principalId": "ANONYMOUS_PRINCIPAL"}),
            );
        },
    ));
    t.delivered("AWSLogs/mixed.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(
        groups.len(),
        1,
        "no unknown-mode row of SSE-S3 reads: {groups:#?}"
    );
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["objects"], 1, "{r:#}");
    assert_eq!(r["kms_calls_per_object"], 2.0, "{r:#}");
    assert_eq!(filtered(&report, "s3_not_sse_kms"), 1);
    assert_eq!(filtered(&report, "s3_read_of_non_kms_object"), 5);
    assert_eq!(filtered(&report, "s3_anonymous_request"), 1);
    let check = run_in(&t, &["check", ".", "-q", "--max-calls-per-object", "1.5"]);
    assert_eq!(check.code, 5, "2 calls per SSE-KMS object is over 1.5");
}

#[test]
fn callers_without_an_iam_arn_are_matched_by_principal_id_or_counted_unmatched_with_a_reason() {
    let mut t = Trail::new();
    let arn = |k: &str| format!("arn:aws:s3:::lake/{k}");
    // Another account's caller is logged by principal ID, without an ARN, in the S3 request
    // and in the KMS call S3 made for it (which names S3 in invokedBy).
    let other_account = |r: &mut serde_json::Map<String, Value>| {
        let invoked_by = r["userIdentity"].get("invokedBy").cloned();
        let mut who = serde_json::json!({
            "type": "AWSAccount",
            "principalId": "AIDAOTHERACCOUNTCALLER",
            "accountId": OTHER,
        });
        if let Some(by) = invoked_by {
            who["invokedBy"] = by;
        }
        r.insert("userIdentity".into(), who);
    };
    let get = edited(
        &t.s3("etl", 0, "GetObject", "lake/a.parquet", KEY_A, false),
        other_account,
    );
    let decrypt = edited(
        &t.kms("etl", 2, "Decrypt", &arn("a.parquet"), KEY_A),
        other_account,
    );
    // An Identity Center user's call: no ARN, no principal ID, and no S3 data event for it.
    let identity_center = edited(&t.kms("etl", 5, "Decrypt", &arn("b.parquet"), KEY_A), |r| {
        r.insert(
                "userIdentity".into(),
                serde_json::json!({
                    "type": "IdentityCenterUser",
                    "accountId": "111122223333",
                    "onBehalfOf": {"userId": "9067-example", "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-1234567890"},
                    "credentialId": "EXAMPLE",
                    "invokedBy": "s3.amazonaws.com",
                }),
            );
    });
    t.delivered("AWSLogs/f.json.gz", &[get, decrypt, identity_center]);
    let report = t.analyze(&["."]).json();
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["kms_calls"]["Decrypt"], 2, "both calls count: {r:#}");
    assert_eq!(r["s3_requests"]["GetObject"], 1, "{r:#}");
    assert_eq!(
        r["unmatched"]["s3_requests"], 0,
        "matched by principal ID: {r:#}"
    );
    assert_eq!(r["unmatched"]["kms_calls"], 1, "{r:#}");
    let warnings = report["input"]["warnings"].to_string();
    assert!(
        warnings.contains("1 KMS calls name no IAM principal"),
        "the unmatched call's reason is given: {warnings}"
    );
}

#[test]
fn s3_select_reads_its_object_and_a_restore_calls_no_kms() {
    let mut t = Trail::new();
    let arn = |k: &str| format!("arn:aws:s3:::lake/{k}");
    let renamed = |op: &'static str| {
        move |r: &mut serde_json::Map<String, Value>| {
            r.insert("eventName".into(), op.into());
        }
    };
    let recs = vec![
        t.s3("etl", 0, "PutObject", "lake/a.csv", KEY_A, false),
        t.kms("etl", 0, "GenerateDataKey", &arn("a.csv"), KEY_A),
        edited(
            &t.s3("etl", 10, "GetObject", "lake/a.csv", KEY_A, false),
            renamed("SelectObjectContent"),
        ),
        t.kms("etl", 10, "Decrypt", &arn("a.csv"), KEY_A),
        edited(
            &t.s3("etl", 20, "GetObject", "lake/a.csv", KEY_A, false),
            renamed("RestoreObject"),
        ),
    ];
    t.delivered("AWSLogs/f.json.gz", &recs);
    let report = t.analyze(&["."]).json();
    let r = row(&report, "lake", "per_object");
    assert_eq!(r["s3_requests"]["SelectObjectContent"], 1, "{r:#}");
    assert_eq!(r["s3_requests"]["total"], 2, "{r:#}");
    assert_eq!(
        r["unmatched"]["kms_calls"], 0,
        "the Decrypt is S3 Select's: {r:#}"
    );
    assert_eq!(r["unmatched"]["s3_requests"], 0, "{r:#}");
    assert_eq!(r["objects"], 1, "{r:#}");
    assert_eq!(
        report["input"]["records"]["filtered_out"]["s3_data_event_without_kms"], 1,
        "RestoreObject keeps the object's data key: {:#}",
        report["input"]["records"]
    );
}
