//! `keytrail analyze s3://...` against the same tree on local disk, on a real S3-compatible
//! server on loopback (SeaweedFS, `tests/s3/server.sh`): objects/s, MB/s, records/s, peak
//! memory, the ratio of the S3 run to the local run, and of both to the fastest inflate-only
//! pass over the same files.
//!
//! The tree is what CloudTrail really writes for an organization: many small files (one per
//! account, Region and minute here, most of a few KB), at least 20,000 of them. It is generated
//! once under `target/bench-corpus/`, and uploaded through the S3 API on each run.
//!
//! Loopback answers in microseconds, S3 in milliseconds: with `KEYTRAIL_BENCH_RTT_MS` set, the
//! S3 runs go through a proxy that adds that round trip to every request (each chunk either way
//! is passed on half of it later, in order), and are made once per `--s3-requests` value in
//! `KEYTRAIL_BENCH_S3_REQUESTS` (a comma-separated list): how many GETs in flight a network's
//! latency needs.
//!
//! ```text
//! cargo bench --bench s3                                  # 20,000 objects, 2 threads
//! KEYTRAIL_BENCH_OBJECTS=5000 KEYTRAIL_BENCH_THREADS=1 cargo bench --bench s3
//! KEYTRAIL_BENCH_RTT_MS=20 KEYTRAIL_BENCH_S3_REQUESTS=32,128,512 cargo bench --bench s3
//! ```

mod common;

use common::{env_or, run_measured, simulated_corpus};
use futures::StreamExt;
use keytrail::source::decode::{self, Limits};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use rayon::prelude::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 3;
const ENDPOINT: &str = "http://127.0.0.1:8333";
const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "KEYTRAILTESTKEY"),
    ("AWS_SECRET_ACCESS_KEY", "keytrail-test-secret"),
];

fn main() {
    let objects: usize = env_or("KEYTRAIL_BENCH_OBJECTS", 20_000);
    let threads: usize = env_or("KEYTRAIL_BENCH_THREADS", 2);
    let rtt_ms: u64 = env_or("KEYTRAIL_BENCH_RTT_MS", 0);
    let requests: Vec<String> = std::env::var("KEYTRAIL_BENCH_S3_REQUESTS")
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_else(|_| vec![keytrail::source::s3::DEFAULT_CONCURRENCY.to_string()]);
    let file_minutes: usize = env_or("KEYTRAIL_BENCH_FILE_MINUTES", 1);
    let tree = corpus(objects, file_minutes);
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&tree)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.path().extension() == Some(OsStr::new("gz")))
        .map(|e| e.into_path())
        .collect();
    let stored: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    let mut sizes: Vec<u64> = files.iter().map(|f| f.metadata().unwrap().len()).collect();
    sizes.sort_unstable();

    let _server = start_server();
    let t = Instant::now();
    upload(&tree, &files);
    let upload_secs = t.elapsed().as_secs_f64();

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let inflate = best(|| {
        let t = Instant::now();
        pool.install(|| {
            files.par_iter().for_each(|f| {
                let raw = std::fs::read(f).unwrap();
                let mut inflater = decode::Inflater::new(&raw, Limits::default());
                let mut out = Vec::with_capacity(keytrail::trail::CHUNK_BYTES * 2);
                loop {
                    out.clear();
                    if !inflater
                        .fill(&mut out, keytrail::trail::CHUNK_BYTES)
                        .unwrap()
                    {
                        break;
                    }
                }
            })
        });
        t.elapsed()
    });

    let threads_arg = threads.to_string();
    let proxy = (rtt_ms > 0).then(|| latency_proxy(Duration::from_millis(rtt_ms)));
    let endpoint = match &proxy {
        Some(addr) => format!("http://{addr}"),
        None => ENDPOINT.to_string(),
    };
    let measure = |input: &str, in_flight: &str| {
        let mut records = 0;
        let mut peak = 0;
        let mut lists = 0;
        let wall = best(|| {
            let strings = [
                "analyze",
                input,
                "--format",
                "json",
                "--quiet",
                "-j",
                &threads_arg,
                "--endpoint-url",
                &endpoint,
                "--s3-requests",
                in_flight,
            ];
            let args: Vec<&OsStr> = strings.iter().map(OsStr::new).collect();
            let (stdout, wall, kib) = run_measured(&args, &KEYS);
            let report: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
            records = report["input"]["records"]["read"].as_u64().unwrap();
            lists = report["input"]["s3"]["list_requests"].as_u64().unwrap_or(0);
            peak = peak.max(kib);
            wall
        });
        (wall, records, peak, lists)
    };
    let (local, records, local_peak, _) = measure(&tree.join("AWSLogs").to_string_lossy(), "1");
    let mut lists = 0;
    let remote: Vec<(&str, Duration, u64)> = requests
        .iter()
        .map(|n| {
            let (wall, s3_records, peak, l) = measure("s3://bench-trail/AWSLogs/", n);
            assert_eq!(records, s3_records, "the S3 run read other records");
            lists = l;
            (n.as_str(), wall, peak)
        })
        .collect();

    println!(
        "tree: {} objects, {:.1} MB stored (median {:.1} KB, 90th percentile {:.1} KB), {records} records, {lists} LIST requests, {threads} threads; uploaded in {upload_secs:.1} s",
        files.len(),
        stored as f64 / 1e6,
        sizes[sizes.len() / 2] as f64 / 1e3,
        sizes[sizes.len() * 9 / 10] as f64 / 1e3,
    );
    println!();
    println!("| pass | wall (best of {RUNS}) | objects/s | MB/s stored | records/s | peak memory | vs inflate-only |");
    println!("|---|---|---|---|---|---|---|");
    let row = |name: &str, d: Duration, peak_kib: Option<u64>| {
        let s = d.as_secs_f64();
        println!(
            "| {name} | {s:.2} s | {:.0} | {:.1} | {:.0} | {} | {:.2}x |",
            files.len() as f64 / s,
            stored as f64 / 1e6 / s,
            records as f64 / s,
            peak_kib.map_or("-".to_string(), |k| format!("{:.0} MB", k as f64 / 1024.0)),
            s / inflate.as_secs_f64()
        );
    };
    row("inflate only, local files", inflate, None);
    row("keytrail analyze, local tree", local, Some(local_peak));
    let network = match rtt_ms {
        0 => "on loopback".to_string(),
        ms => format!("on loopback + {ms} ms round trip"),
    };
    for (n, wall, peak) in &remote {
        row(
            &format!("keytrail analyze, s3:// {network}, {n} GETs in flight"),
            *wall,
            Some(*peak),
        );
    }
    println!();
    for (n, wall, _) in &remote {
        println!(
            "s3:// ({n} in flight) / local: {:.2}x (goal: 1.5x or less; memory goal: under 300 MB)",
            wall.as_secs_f64() / local.as_secs_f64()
        );
    }
}

/// A TCP proxy on loopback to the S3 server that adds `rtt` to each round trip: every chunk read
/// from either side is written to the other `rtt / 2` later, in order, so the bytes a second
/// are the server's and only the latency is added. It runs until the benchmark ends.
fn latency_proxy(rtt: Duration) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let half = rtt / 2;
    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        half: Duration,
    ) {
        let (tx, mut rx) =
            tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
        let writer = tokio::spawn(async move {
            while let Some((at, data)) = rx.recv().await {
                tokio::time::sleep_until(at).await;
                if to.write_all(&data).await.is_err() {
                    break;
                }
            }
            let _ = to.shutdown().await;
        });
        let mut buf = vec![0; 64 << 10];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            if tx
                .send((tokio::time::Instant::now() + half, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
        drop(tx);
        let _ = writer.await;
    }
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&ENDPOINT[7..]).await else {
                        return;
                    };
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, half), pump(sr, cw, half));
                });
            }
        });
    });
    addr
}

fn best(mut f: impl FnMut() -> Duration) -> Duration {
    (0..RUNS).map(|_| f()).min().unwrap()
}

/// A delivered tree of about `objects` small files: twenty (account, Region) places, one file
/// every `file_minutes` each (so the tree spans more days, and more day folders to list, as it
/// grows), a few KB apiece.
fn corpus(objects: usize, file_minutes: usize) -> PathBuf {
    let name = match file_minutes {
        1 => format!("s3-{objects}-v1"),
        m => format!("s3-{objects}-{m}m-v1"),
    };
    let places = 20;
    let minutes = objects.div_ceil(places) * file_minutes;
    let per_minute = 1.0 / file_minutes as f64;
    let mut toml = format!(
        "name = \"s3-bench\"\n[trail]\nfile_minutes = {file_minutes}\nnoise_share = 0.5\norganization = \"o-benchmark01\"\ncloudtrail_log_encryption = false\n"
    );
    let regions = ["us-east-1", "eu-west-1"];
    for p in 0..places {
        toml += &format!(
            "[[buckets]]\nname = \"bench-{p}\"\naccount = \"{:012}\"\nregion = \"{}\"\nbucket_key = {}\n",
            100_000_000_000u64 + (p / 2) as u64,
            regions[p % 2],
            p % 3 == 0
        );
        toml += &format!(
            "[[principals]]\nname = \"app-{p}\"\naccount = \"{:012}\"\n",
            100_000_000_000u64 + (p / 2) as u64
        );
        toml += &format!(
            "[[phases]]\nprincipal = \"app-{p}\"\nbucket = \"bench-{p}\"\nend_secs = {}\nput_rate = {}\nget_rate = {}\n",
            minutes * 60,
            0.05 * per_minute,
            0.1 * per_minute
        );
    }
    simulated_corpus(&name, &toml, 3)
}

/// The S3 server (`tests/s3/server.sh serve-for`) and its data folder.
struct Server {
    serve_for: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    /// Stops the server before its folder goes: SeaweedFS whose data folder was removed ignores
    /// SIGTERM (measured: still running 5 s later), so `serve-for`, stopping it when this process
    /// ends, waited for ever and held the caller's output open. SIGTERM makes `serve-for` stop it
    /// and wait for it.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.serve_for.id().to_string())
            .status();
        let _ = self.serve_for.wait();
    }
}

/// The server, until the returned value is dropped (or this process ends).
fn start_server() -> Server {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("bash")
        .arg(root.join("tests/s3/server.sh"))
        .arg("serve-for")
        .arg(std::process::id().to_string())
        .arg(dir.path())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect("127.0.0.1:8333").is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the S3 server did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    Server {
        serve_for: child,
        _dir: dir,
    }
}

fn upload(root: &Path, files: &[PathBuf]) {
    let store = Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(ENDPOINT)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name("bench-trail")
            .with_access_key_id(KEYS[0].1)
            .with_secret_access_key(KEYS[1].1)
            .build()
            .unwrap(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        futures::stream::iter(files.iter().cloned())
            .map(|f| {
                let store = store.clone();
                let key = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                async move {
                    let bytes = std::fs::read(&f).unwrap();
                    store
                        .put(&StorePath::from(key.as_str()), PutPayload::from(bytes))
                        .await
                        .unwrap();
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
    });
}
