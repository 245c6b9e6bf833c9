//! Throughput of `keytrail simulate`: records generated per second on one core (planning, the
//! envelope engine and rendering the JSON), and end to end with gzip on 1 and N threads; then
//! the same for a long, quiet run (`KEYTRAIL_BENCH_WEEKS`, default 4, of one-minute files at a
//! few requests a minute: the shape of the 40,000-file corpus in docs/speed.md), whose
//! records/s fall if planning grows faster than the run (it once rescanned a bucket's objects
//! every simulated second: 8.3 s for 20,000 files, 1.8 s now).
//!
//! The end to end is set against gzip level 6 alone on the same bytes (every file's JSON,
//! rendered beforehand and held in memory, compressed one file per task on the same threads,
//! nothing written): the goal is an end to end no slower than that.
//!
//! Last, memory as the trail grows: `keytrail simulate --builtin datalake --scale N` for each N
//! of `KEYTRAIL_BENCH_SIM_SCALES` (default `10,100,500`; 500 writes 930 MB of gzip), its wall
//! time and peak resident memory. The goal: under 1 GB at any scale.
//!
//! ```text
//! cargo bench --bench simulate
//! KEYTRAIL_BENCH_THREADS=2 KEYTRAIL_BENCH_SCALE=2 cargo bench --bench simulate
//! KEYTRAIL_BENCH_SIM_SCALES=100,1000 KEYTRAIL_BENCH_WEEKS=0 cargo bench --bench simulate
//! ```

mod common;

use common::{env_or, run_measured};
use keytrail::simulate::{self, builtin, scenario::Scenario};
use rayon::prelude::*;
use std::time::Instant;

fn main() {
    let threads: usize = env_or("KEYTRAIL_BENCH_THREADS", 2);
    let scale: f64 = env_or("KEYTRAIL_BENCH_SCALE", 1.0);
    // The datalake scenario (multipart, ranged reads, copies, half noise), stretched to about
    // 400,000 records.
    let scenario = Scenario::parse(builtin::get("datalake").unwrap(), "datalake")
        .unwrap()
        .scaled(12.0 * scale);

    measure(&scenario, threads);
    let weeks: f64 = env_or("KEYTRAIL_BENCH_WEEKS", 4.0);
    if weeks > 0.0 {
        quiet(weeks, threads);
    }
    let scales: String = env_or("KEYTRAIL_BENCH_SIM_SCALES", "10,100,500".to_string());
    println!();
    println!("Memory as the trail grows: keytrail simulate --builtin datalake --scale N, {threads} threads");
    println!();
    println!("| scale | S3 requests | KMS calls | files | gzip | wall | peak memory |");
    println!("|---|---|---|---|---|---|---|");
    for scale in scales.split(',').filter(|s| !s.is_empty()) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("trail");
        let threads = threads.to_string();
        let words = [
            "simulate",
            "--builtin",
            "datalake",
            "--scale",
            scale,
            "--threads",
            &threads,
            "--out",
        ];
        let args: Vec<&std::ffi::OsStr> = words
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([out.as_os_str()])
            .collect();
        let (_, wall, peak_kib) = run_measured(&args, &[]);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        let (mut files, mut bytes) = (0u64, 0u64);
        for entry in walkdir::WalkDir::new(&out) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "gz") {
                files += 1;
                bytes += entry.metadata().unwrap().len();
            }
        }
        println!(
            "| {scale} | {} | {} | {files} | {:.0} MB | {:.2} s | {:.0} MB |",
            manifest["truth"]["s3_requests"],
            manifest["truth"]["kms_calls"],
            bytes as f64 / 1e6,
            wall.as_secs_f64(),
            peak_kib as f64 / 1024.0
        );
    }
}

/// A long, quiet run: `weeks` of one-minute files at a few requests a minute.
fn quiet(weeks: f64, threads: usize) {
    let quiet = format!(
        r#"
name = "quiet"
[trail]
noise_share = 0.7
file_minutes = 1
[[buckets]]
name = "quiet-lake"
[[principals]]
name = "etl"
sessions = 4
[[phases]]
principal = "etl"
bucket = "quiet-lake"
end_secs = {}
prefixes = ["a/", "b/"]
put_rate = 0.03
get_rate = 0.03
"#,
        (weeks * 7.0 * 86_400.0) as i64
    );
    println!();
    println!("A long, quiet run: {weeks} weeks of one-minute files");
    measure(&Scenario::parse(&quiet, "quiet").unwrap(), threads);
}

fn measure(scenario: &Scenario, threads: usize) {
    let sim = simulate::simulate(scenario, 7);
    let (mut requests, mut calls) = (0usize, 0usize);
    let t = Instant::now();
    for second in sim.plan() {
        requests += second.requests.len();
        calls += second.calls.len();
    }
    let plan = t.elapsed();

    let (mut records, mut bytes, mut files) = (0u64, 0u64, 0u64);
    let t = Instant::now();
    simulate::render_stream(
        &sim,
        &mut |_, file, _| {
            records += file.records() as u64;
            bytes += file.json_len() as u64;
            files += 1;
        },
        &mut |_| {},
    );
    let generate = t.elapsed();
    // The same files' JSON, for the gzip-only pass.
    let mut texts: Vec<Vec<u8>> = Vec::new();
    simulate::render_stream(
        &sim,
        &mut |_, file, document| {
            let mut text = Vec::with_capacity(file.json_len());
            file.write_json(&mut text, document).unwrap();
            texts.push(text);
        },
        &mut |_| {},
    );

    println!(
        "{requests} S3 requests, {calls} KMS calls -> {records} records in {files} files, {:.2} GB of JSON",
        bytes as f64 / 1e9
    );
    println!();
    println!("| stage | threads | wall | records/s |");
    println!("|---|---|---|---|");
    let rate = |secs: f64| format!("{:.0}", records as f64 / secs);
    println!(
        "| plan + envelope engine | 1 | {:.3} s | {} |",
        plan.as_secs_f64(),
        rate(plan.as_secs_f64())
    );
    let gen = generate.as_secs_f64();
    println!(
        "| generate (plan, engine, render JSON) | 1 | {gen:.3} s | {} |",
        rate(gen)
    );
    let mut ratios = Vec::new();
    for n in [1, threads] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap();
        let t = Instant::now();
        let gz: usize = pool.install(|| texts.par_iter().map(|t| simulate::gzip(t).len()).sum());
        let alone = t.elapsed().as_secs_f64();
        println!(
            "| gzip level 6 alone, the same JSON ({:.0} MB of gzip), in memory | {n} | {alone:.3} s | {} |",
            gz as f64 / 1e6,
            rate(alone)
        );
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        simulate::write(&sim, dir.path(), true, n, &|_| {}).unwrap();
        let wall = t.elapsed().as_secs_f64();
        println!(
            "| end to end, gzip level 6 to disk | {n} | {wall:.3} s | {} |",
            rate(wall)
        );
        ratios.push((n, wall / alone));
    }
    println!();
    for (n, r) in ratios {
        println!("end to end / gzip alone, {n} threads: {r:.2}x (goal: 1.00x or less)");
    }
}
