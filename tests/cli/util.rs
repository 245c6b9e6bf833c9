//! Helpers shared by the command tests: trails built record by record, running the binary,
//! reading its JSON.

pub use keytrail::envelope::Rng;
pub use keytrail::simulate::records::{self, Delivery, Identity, ObjectSse, S3Request, Sse};
pub use serde_json::Value;
pub use std::io::Write;
pub use std::path::{Path, PathBuf};
pub use std::process::{Command, Stdio};

pub const ACCOUNT: &str = "111122223333";
pub const KEY_A: &str =
    "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-4000-8000-000000000001";
pub const KEY_B: &str =
    "arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-0000-4000-8000-000000000002";

/// A trail directory under construction.
pub struct Trail {
    pub dir: tempfile::TempDir,
    pub rng: Rng,
}

impl Trail {
    pub fn new() -> Trail {
        Trail {
            dir: tempfile::tempdir().unwrap(),
            rng: Rng::new(42),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A delivered file: gzip of `{"Records":[...]}`.
    pub fn delivered(&self, rel: &str, records: &[Vec<u8>]) -> PathBuf {
        self.file(rel, &keytrail::simulate::gzip(&records_json(records)))
    }

    pub fn who(&self, name: &str) -> Identity {
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
    pub fn kms(&mut self, session: &str, t: u32, op: &str, arn: &str, key: &str) -> Vec<u8> {
        self.kms_ctx(session, t, op, arn, key, &[])
    }

    pub fn kms_ctx(
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
            Delivery::to(&who.account),
        );
        out
    }

    /// An S3 data event by `session` on `object` (`bucket/key`).
    pub fn s3(
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
            kind: ObjectSse::SseKms,
            kms_key: kms,
            bucket_key,
        };
        let request = S3Request {
            time: &time(t),
            region: "us-east-1",
            op,
            bucket,
            bucket_account: &who.account,
            key,
            partition_head: "arn:aws:s3:::",
            sse,
            copy_source: None,
            bytes: 100,
            failure: None,
            access_point: None,
        };
        records::s3_request(
            &mut out,
            &mut self.rng,
            &who,
            &request,
            Delivery::to(&who.account),
        );
        out
    }

    /// `keytrail analyze --quiet ARGS`, in JSON unless ARGS name a format.
    pub fn analyze(&self, args: &[&str]) -> Run {
        let mut full = vec!["analyze", "--quiet"];
        if !args.contains(&"--format") {
            full.extend_from_slice(&["--format", "json"]);
        }
        full.extend_from_slice(args);
        run(&full, self.dir.path(), None)
    }
}

pub fn time(t: u32) -> String {
    keytrail::event::format_time(1_709_287_200 + t as i64)
}

pub fn records_json(records: &[Vec<u8>]) -> Vec<u8> {
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

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr: {}", self.stderr))
    }
}

pub fn run(args: &[&str], cwd: &Path, stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(args)
        // No settings file of the machine's user changes what the tests see.
        .env("KEYTRAIL_CONFIG", "")
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
pub fn row<'a>(report: &'a Value, group: &str, mode: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group && g["mode"] == mode)
        .unwrap_or_else(|| panic!("no row {group}/{mode} in {:#}", report["groups"]))
}

pub fn kms_total(report: &Value, group: &str, mode: &str) -> u64 {
    row(report, group, mode)["kms_calls"]["total"]
        .as_u64()
        .unwrap()
}

/// read = used + filtered out + rejected, and return the records section.
pub fn balanced(report: &Value) -> &Value {
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
pub fn two_buckets(t: &mut Trail) -> Vec<Vec<u8>> {
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

pub fn run_in(t: &Trail, args: &[&str]) -> Run {
    run(args, t.dir.path(), None)
}

/// Runs `keytrail simulate --scenario SCENARIO --out OUT` (with `extra` arguments) from
/// `cwd`, and requires it to succeed.
pub fn simulate_scenario(cwd: &Path, scenario: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "simulate",
        "--scenario",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let r = run(&args, cwd, None);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// The decompressed bytes of a gzip file.
pub fn gunzip(path: &Path) -> Vec<u8> {
    let gz = std::fs::read(path).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut bytes).unwrap();
    bytes
}

/// Every file under `root`, by relative path.
pub fn tree(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
        .collect()
}

/// A random scenario: a few buckets (with and without bucket keys, DSSE, a key per prefix,
/// older objects), principals with sessions, overlapping phases of every operation, and every
/// trail option.
pub fn random_scenario(rng: &mut Rng, n: u64) -> String {
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
    // The shapes of organization trails: delivery to both accounts, skewed KMS records.
    toml = toml.replacen(
        "[engine]",
        &format!(
            "cross_account_delivery = {}\nkms_skew_secs = {}\n[engine]",
            coin(rng, 0.4),
            if coin(rng, 0.3) { rng.below(90) } else { 0 }
        ),
        1,
    );
    let buckets = 1 + rng.below(3);
    for b in 0..buckets {
        toml += &format!("[[buckets]]\nname = \"rt-bucket-{b}\"\n");
        // Another account's bucket, and mixed encryption.
        if coin(rng, 0.25) {
            toml += "account = \"444455556666\"\n";
        }
        match rng.below(10) {
            0 => toml += "encryption = \"sse-s3\"\n",
            1 => toml += "encryption = \"sse-c\"\n",
            _ => {}
        }
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
        // Refused requests, access points, copies from another bucket.
        if coin(rng, 0.3) {
            toml += &format!("error_rate = {:.2}\n", rng.unit() * 0.3);
        }
        if coin(rng, 0.2) {
            toml += "access_point = \"rt-ap\"\n";
        }
        if coin(rng, 0.2) {
            toml += &format!("copy_from = \"rt-bucket-{}\"\n", rng.below(buckets));
        }
    }
    toml
}

/// `keytrail COMMAND --quiet --format json ARGS` in the trail's directory.
pub fn report(t: &Trail, command: &str, args: &[&str]) -> Value {
    let mut full = vec![command, "--quiet", "--format", "json"];
    full.extend_from_slice(args);
    let r = run(&full, t.dir.path(), None);
    assert_eq!(r.code, 0, "{command} failed: {}", r.stderr);
    r.json()
}

pub fn line<'a>(cost: &'a Value, scope: &str, name: &str) -> &'a Value {
    cost["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["scope"] == scope && l["name"] == name)
        .unwrap_or_else(|| panic!("no {scope} line {name} in {:#}", cost["lines"]))
}

/// Whether a reported figure is `b`: within half a millionth, the precision dollars are
/// reported to (`text::round_usd`), far below any figure the tests compute.
pub fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap_or(f64::NAN) - b).abs() <= 5e-7 + 1e-12
}

/// 100 per-object PUTs (KEY_A), 20 per-object GETs with no data events (KEY_B, which the user
/// says is AWS managed) and 50 Lambda Decrypts, in one hour.
pub fn cost_trail(t: &mut Trail) {
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

/// Two calls a second for 900 s, twenty a second for ten of them, and a burst of 300 per-object
/// Decrypts (5 throttled) in one second; then 100 quiet seconds.
pub fn burst_trail(t: &mut Trail) {
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
            Delivery::to(&reader.account),
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

/// A record (as the simulator writes it) with some of its fields changed: how the tests write
/// the shapes real trails have (a copy delivered to a second account, a failed request, ...).
pub fn edited(record: &[u8], edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(record).unwrap();
    edit(v.as_object_mut().unwrap());
    serde_json::to_vec(&v).unwrap()
}

/// The copy of `record` that an organization trail delivers to `account` as well: a new
/// eventID, the other recipient, the same sharedEventID.
pub fn delivered_to(record: &[u8], account: &str, shared: &str, copy: u32) -> [Vec<u8>; 2] {
    let original = edited(record, |r| {
        r.insert("sharedEventID".into(), shared.into());
    });
    let copy = edited(&original, |r| {
        r.insert(
            "eventID".into(),
            format!("00000000-0000-4000-8000-{copy:012}").into(),
        );
        r.insert("recipientAccountId".into(), account.into());
    });
    [original, copy]
}

/// `records.filtered_out[reason]` of a JSON report (0 when absent).
pub fn filtered(report: &Value, reason: &str) -> u64 {
    balanced(report)["filtered_out"][reason]
        .as_u64()
        .unwrap_or(0)
}

/// `files` delivered files under `big/`, each the [`two_buckets`] trail 400 times: a run long
/// enough to interrupt.
pub fn big_two_bucket_files(t: &mut Trail, files: usize) {
    let recs = two_buckets(t);
    let mut many = Vec::new();
    for _ in 0..400 {
        many.extend(recs.iter().cloned());
    }
    for f in 0..files {
        t.delivered(&format!("big/{f}.json.gz"), &many);
    }
}

/// A trail of many shapes in `dir`: a simulated organization trail (accounts, Regions,
/// cross-account copies between buckets delivered to both accounts, refusals and throttling,
/// SSE-S3, clock skew) in `sim/`, beside bundled fixtures (both bucket-key modes, multipart
/// uploads, keys switched on mid-trail).
pub fn many_shapes(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sim = dir.join("sim");
    let r = run(
        &[
            "simulate",
            "--builtin",
            "org-trail",
            "--scale",
            "2",
            "--seed",
            "7",
            "--out",
            sim.to_str().unwrap(),
        ],
        root,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for fixture in ["two-buckets", "datalake", "mixed-age"] {
        let from = root.join("fixtures").join(fixture);
        for file in tree(&from) {
            let to = dir.join(fixture).join(&file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from.join(&file), &to).unwrap();
        }
    }
}

/// Presses Ctrl-C `signals` times (SIGINT) `delay_ms` after `child` started, and waits for it.
pub fn interrupt(
    child: std::process::Child,
    delay_ms: u64,
    signals: usize,
) -> std::process::Output {
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    for _ in 0..signals {
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
    }
    child.wait_with_output().unwrap()
}
