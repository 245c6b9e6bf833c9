#![allow(dead_code)] // each benchmark uses part of it
//! What the benchmarks share: settings from the environment, and running `keytrail` with its
//! wall time and peak memory measured.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `keytrail ARGS` with `env` added, returning its stdout, its wall time and its peak resident memory in
/// KiB. `KEYTRAIL_BENCH_BIN` names another keytrail binary to measure (an older build, for a
/// before and after in the same conditions); else the one cargo built.
///
/// The peak is the child's own `VmHWM` (a high-water mark, so a sample after the peak still
/// sees it), read from /proc by a second thread while it runs (`ru_maxrss` of a child also
/// counts what its parent had resident before `exec`). The wall time runs from the spawn to the
/// end of a blocking wait, so the sampling does not round it.
pub fn run_measured(args: &[&OsStr], env: &[(&str, &str)]) -> (Vec<u8>, Duration, u64) {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let bin = std::env::var_os("KEYTRAIL_BENCH_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_keytrail").into());
    let t = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).unwrap();
        buf
    });
    let (done, peak) = (AtomicBool::new(false), AtomicU64::new(0));
    let status_path = format!("/proc/{}/status", child.id());
    let (status, wall) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(&status_path) {
                    let hwm = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
                    peak.fetch_max(hwm.unwrap_or(0), Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let status = child.wait().unwrap();
        let wall = t.elapsed();
        done.store(true, Ordering::Relaxed);
        (status, wall)
    });
    assert!(status.success(), "keytrail {args:?} failed");
    (reader.join().unwrap(), wall, peak.into_inner())
}

/// The corpus `target/bench-corpus/NAME`, written by `keytrail simulate --seed SEED` from
/// `scenario` (TOML, kept beside it as NAME.toml) unless its manifest is already there. In a
/// child process, so the benchmark's own memory stays small.
pub fn simulated_corpus(name: &str, scenario: &str, seed: u64) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-corpus")
        .join(name);
    if dir.join("manifest.json").exists() {
        return dir;
    }
    eprintln!("generating {} ...", dir.display());
    let t = Instant::now();
    let scenario_file = dir.with_extension("toml");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&scenario_file, scenario).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args([
            "simulate",
            "--force",
            "--seed",
            &seed.to_string(),
            "--scenario",
        ])
        .arg(&scenario_file)
        .arg("--out")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());
    dir
}
