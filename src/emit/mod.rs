//! keytrail's analysis as code for other engines: the Spark job (`keytrail emit spark`) and
//! Athena SQL ([`athena`], `keytrail emit athena`).
//!
//! The job (`spark_job.py`, a PySpark script for Spark 3.5) is the pipeline of `source`,
//! `event`, `trail` and `join` written for a cluster: it reads delivered files, classifies,
//! deduplicates and matches as keytrail does, and writes what [`crate::join::engine`] reads
//! back (`keytrail.engine/v1`), so every report keytrail makes of a trail it makes of the job's
//! output. Everything the two must agree on and that is data (event names, operations, modes,
//! failures, reasons, the record order, the folders skipped by path, partitions, the windows,
//! the filters) is written into the script from the definitions the Rust pipeline uses
//! ([`definitions`]); the logic is the script's own, and the tests run it on Spark and require
//! its output to give reports equal to keytrail's on the same trail.

pub mod athena;

use crate::event::{Failure, KmsOp, Mode, S3Op};
use crate::join::engine::{EngineFilters, SCHEMA};
use serde::Serialize;
use serde_json::{json, Value};

/// The job's code, with `@@DEFS@@` and `@@VERSION@@` to fill.
const SPARK_JOB: &str = include_str!("spark_job.py");

/// The settings written into a job.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub filters: EngineFilters,
    pub window_secs: i64,
    pub object_window_secs: i64,
}

/// The serde name of an enum value, as `keytrail.joined/v1` and the engine output write it.
fn name_of<E: Serialize>(e: E) -> String {
    match serde_json::to_value(e) {
        Ok(Value::String(s)) => s,
        _ => unreachable!("the enums keytrail writes serialize as strings"),
    }
}

fn names<E: Serialize + Copy>(all: &[E]) -> Vec<String> {
    all.iter().map(|&e| name_of(e)).collect()
}

fn text(keys: &[&[u8]]) -> Vec<String> {
    keys.iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect()
}

/// The record orders: each record type's fields in the order its `Ord` compares them, and how
/// each compares (`sym`: a string, absent last; `int`; `bool`; `opt_bool`: absent, false,
/// true; or the enum it is). A test keeps these equal to the structs' field order.
pub fn orders() -> Value {
    json!({
        "kms": [["time", "int"], ["requester", "sym"], ["bucket", "sym"], ["key", "sym"],
                ["op", "KmsOp"], ["mode", "Mode"], ["kms_key", "sym"], ["head", "sym"],
                ["account", "sym"], ["region", "sym"], ["failure", "Failure"],
                ["ctx_pass", "bool"], ["ctx_value", "sym"], ["id", "int"], ["shared", "int"]],
        "s3": [["time", "int"], ["requester", "sym"], ["bucket", "sym"], ["key", "sym"],
               ["op", "S3Op"], ["kms_key", "sym"], ["bucket_key", "opt_bool"], ["dsse", "bool"],
               ["head", "sym"], ["account", "sym"], ["region", "sym"], ["failure", "Failure"],
               ["src_bucket", "sym"], ["src_key", "sym"], ["id", "int"], ["shared", "int"]],
        "calls": [["time", "int"], ["account", "sym"], ["region", "sym"], ["op", "KmsOp"],
                  ["failure", "Failure"], ["kms_key", "sym"], ["requester", "sym"],
                  ["caller", "sym"], ["bucket", "sym"], ["purpose", "sym"], ["mode", "Mode"],
                  ["aws_managed", "bool"], ["id", "int"], ["shared", "int"]],
    })
}

/// Everything the job takes from keytrail's own definitions, as one JSON object.
pub fn definitions(s: &JobSettings) -> Value {
    let kms_ops: serde_json::Map<String, Value> = KmsOp::EVENT_NAMES
        .iter()
        .map(|&(n, op)| (n.to_string(), Value::String(name_of(op))))
        .collect();
    let s3_ops: serde_json::Map<String, Value> = S3Op::EVENT_NAMES
        .iter()
        .map(|&(n, op)| (n.to_string(), Value::String(name_of(op))))
        .collect();
    let reasons: serde_json::Map<String, Value> = crate::reason::BY_CONSTANT
        .iter()
        .map(|&(c, n)| (c.to_string(), Value::String(n.to_string())))
        .collect();
    json!({
        "schema": SCHEMA,
        "version": env!("CARGO_PKG_VERSION"),
        "kms_ops": kms_ops,
        "s3_ops": s3_ops,
        "s3_writes": S3Op::ALL.iter().filter(|op| op.writes()).map(|&op| name_of(op)).collect::<Vec<_>>(),
        "enums": {
            "KmsOp": names(&KmsOp::ALL),
            "Mode": names(&Mode::ALL),
            "Failure": names(&Failure::ALL),
            "S3Op": names(&S3Op::ALL),
        },
        "order": orders(),
        "reasons": reasons,
        "record_keys": text(crate::source::frame::RECORD_KEYS),
        "digest_keys": text(crate::source::frame::DIGEST_KEYS),
        "containers": crate::source::frame::CONTAINERS,
        "lookup_event_field": crate::source::frame::LOOKUP_EVENT_FIELD,
        "unsupported_magic": crate::source::decode::UNSUPPORTED_MAGIC,
        "field_types": crate::event::FIELD_TYPES,
        "skipped_folders": crate::source::SKIPPED_FOLDERS.iter().map(|&(f, r)| (f, r)).collect::<std::collections::BTreeMap<_, _>>(),
        "partitions": crate::event::PARTITIONS,
        "output_parts": crate::join::engine::PARTS,
        "output_rows_per_file": crate::join::engine::ROWS_PER_FILE,
        "output_other_calls_per_part": crate::join::engine::OTHER_CALLS_PER_PART,
        "default_partition": crate::event::DEFAULT_PARTITION,
        "problems_kept": crate::summary::PROBLEMS_KEPT,
        "problems_kept_per_input": crate::summary::PROBLEMS_KEPT_PER_INPUT,
        "window_secs": s.window_secs,
        "object_window_secs": s.object_window_secs,
        "filters": s.filters,
    })
}

/// The PySpark job, with `settings` written in.
pub fn spark_job(settings: &JobSettings) -> String {
    // A JSON string literal is a Python string literal too (JSON's escapes are Python's).
    let defs = serde_json::to_string(&definitions(settings).to_string()).expect("a string");
    SPARK_JOB
        .replace("@@DEFS@@", &defs)
        .replace("@@VERSION@@", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::Sym;
    use crate::trail::records::{CallRec, KmsRec, S3Rec};

    /// The orders the job sorts by name every field of each record, in the order the structs
    /// declare them (which their derived `Ord` compares in).
    #[test]
    fn the_jobs_record_orders_are_the_structs_field_orders() {
        let kms = KmsRec {
            time: 0,
            requester: Sym(0),
            bucket: Sym(0),
            key: Sym(0),
            op: KmsOp::Decrypt,
            mode: Mode::BucketKey,
            kms_key: Sym(0),
            head: Sym(0),
            account: Sym(0),
            region: Sym(0),
            failure: Failure::None,
            ctx_pass: true,
            ctx_value: Sym(0),
            id: 0,
            shared: 0,
        };
        let s3 = S3Rec {
            time: 0,
            requester: Sym(0),
            bucket: Sym(0),
            key: Sym(0),
            op: S3Op::GetObject,
            kms_key: Sym(0),
            bucket_key: None,
            dsse: false,
            head: Sym(0),
            account: Sym(0),
            region: Sym(0),
            failure: Failure::None,
            src_bucket: Sym(0),
            src_key: Sym(0),
            id: 0,
            shared: 0,
        };
        let call = CallRec {
            time: 0,
            account: Sym(0),
            region: Sym(0),
            op: KmsOp::Decrypt,
            failure: Failure::None,
            kms_key: Sym(0),
            requester: Sym(0),
            caller: Sym(0),
            bucket: Sym(0),
            purpose: Sym(0),
            mode: Mode::BucketKey,
            aws_managed: false,
            id: 0,
            shared: 0,
        };
        // Serialising a struct writes its fields in declaration order: read them off the text.
        let fields = |text: String| -> Vec<String> {
            let obj: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
            let mut keys: Vec<(usize, String)> = obj
                .keys()
                .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.clone()))
                .collect();
            keys.sort();
            keys.into_iter().map(|(_, k)| k).collect()
        };
        let order = orders();
        let named = |t: &str| -> Vec<String> {
            order[t]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f[0].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(named("kms"), fields(serde_json::to_string(&kms).unwrap()));
        assert_eq!(named("s3"), fields(serde_json::to_string(&s3).unwrap()));
        assert_eq!(
            named("calls"),
            fields(serde_json::to_string(&call).unwrap())
        );
    }

    #[test]
    fn the_job_is_python_with_every_definition_written_in() {
        let job = spark_job(&JobSettings {
            filters: EngineFilters {
                bucket_arn_prefix: vec!["arn:aws:s3:::datalake/\"quoted\"".into()],
                ..Default::default()
            },
            window_secs: 5,
            object_window_secs: 300,
        });
        assert!(!job.contains("@@"), "a placeholder left");
        let line = job
            .lines()
            .find(|l| l.starts_with("DEFS = json.loads("))
            .unwrap();
        let literal = &line["DEFS = json.loads(".len()..line.len() - 1];
        let inner: String = serde_json::from_str(literal).unwrap();
        let defs: Value = serde_json::from_str(&inner).unwrap();
        assert_eq!(defs["kms_ops"]["ReEncryptFrom"], "Other");
        assert_eq!(defs["s3_ops"]["PostObject"], "PutObject");
        assert_eq!(defs["reasons"]["DIGEST_FILE"], crate::reason::DIGEST_FILE);
        assert_eq!(
            defs["filters"]["bucket_arn_prefix"][0],
            "arn:aws:s3:::datalake/\"quoted\""
        );
        assert_eq!(defs["enums"]["Failure"][0], "None");
        // Every reason the job names is registered.
        for name in regex_lite_names(&job) {
            assert!(
                defs["reasons"].get(&name).is_some(),
                "the job names reason {name}, which keytrail does not define"
            );
        }
    }

    /// The job's own port of `source::path_skip` (its listing prunes folders and skips files
    /// with it) says what keytrail's says, on paths built from the layout's words with every
    /// kind of filter. Runs the emitted job's function in python3 (the engine tests need it
    /// too).
    #[test]
    fn the_jobs_path_rule_is_keytrails() {
        use crate::source::{path_skip, Prune};
        const WORDS: [&str; 14] = [
            "AWSLogs",
            "CloudTrail",
            "CloudTrail-Digest",
            "o-abc123",
            "111122223333",
            "444455556666",
            "us-east-1",
            "eu-west-1",
            "2024",
            "0000",
            "02",
            "13",
            "29",
            "f.json.gz",
        ];
        let day = |d: i64| 1_704_067_200 + d * 86_400;
        let prunes = [
            Prune::default(),
            Prune {
                since: Some(day(40)),
                until: Some(day(70)),
                accounts: vec!["111122223333".into()],
                regions: vec!["eu-west-1".into()],
            },
            Prune {
                until: Some(day(-400)),
                ..Prune::default()
            },
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut cases: Vec<(Vec<&str>, bool, Option<&str>)> = Vec::new();
        let mut input = String::new();
        for _ in 0..4000 {
            let len = 1 + next(9);
            let mut parts: Vec<&str> = (0..len).map(|_| WORDS[next(WORDS.len())]).collect();
            if next(2) == 0 {
                // The delivered layout, once or twice, with words changed, and cut short.
                let layout = |org: bool| {
                    let mut l = vec!["AWSLogs"];
                    if org {
                        l.push("o-abc123");
                    }
                    l.extend([
                        "111122223333",
                        "CloudTrail",
                        "us-east-1",
                        "2024",
                        "02",
                        "29",
                    ]);
                    l
                };
                parts = layout(next(2) == 0);
                if next(3) == 0 {
                    let at = next(parts.len());
                    parts.splice(at..at, layout(next(2) == 0));
                }
                for _ in 0..next(4) {
                    let at = next(parts.len());
                    parts[at] = WORDS[next(WORDS.len())];
                }
                parts.truncate(1 + next(parts.len()));
                parts.push("f.json.gz");
            }
            let (prune, dir) = (&prunes[next(prunes.len())], next(2) == 1);
            let f = serde_json::json!({
                "since": prune.since, "until": prune.until,
                "account": prune.accounts, "region": prune.regions,
            });
            input.push_str(&serde_json::json!([parts, dir, f]).to_string());
            input.push('\n');
            let rust = path_skip(&parts, prune, dir);
            cases.push((parts, dir, rust));
        }
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("job.py");
        let settings = JobSettings {
            filters: EngineFilters::default(),
            window_secs: 5,
            object_window_secs: 300,
        };
        std::fs::write(&job, spark_job(&settings)).unwrap();
        let script = "import importlib.util, json, sys\n\
            spec = importlib.util.spec_from_file_location('job', sys.argv[1])\n\
            job = importlib.util.module_from_spec(spec)\n\
            spec.loader.exec_module(job)\n\
            for line in sys.stdin:\n\
            \x20   parts, is_dir, f = json.loads(line)\n\
            \x20   print(json.dumps(job.path_skip(parts, f, is_dir)))\n";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script, job.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the emitted job's functions");
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(input.as_bytes()).unwrap();
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        let said: Vec<Option<String>> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(said.len(), cases.len());
        for (python, (parts, dir, rust)) in said.iter().zip(&cases) {
            assert_eq!(python.as_deref(), *rust, "{parts:?} (a folder: {dir})");
        }
    }

    /// The names in `R["..."]` in the job's code.
    fn regex_lite_names(job: &str) -> Vec<String> {
        job.split("R[\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().to_string())
            .collect()
    }
}
