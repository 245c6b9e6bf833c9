//! The simulator: a scenario -> S3 requests -> the envelope engine -> CloudTrail files in the
//! delivered layout, plus `manifest.json`, the true figures `keytrail analyze` must report.
//!
//! Everything is drawn from one seeded [`Rng`] in a fixed order, and files are compressed
//! independently (in parallel), so the same scenario and seed give byte-identical trees on any
//! number of threads.

pub mod builtin;
pub mod expect;
pub mod manifest;
pub mod records;
pub mod scenario;

use crate::envelope::{self, Encryption, Engine, KmsCall, Op, Params, Rng, Sharing};
use crate::event::partition_of;
use records::{Identity, Sse};
use scenario::{Bucket, Phase, Scenario};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A bucket with everything resolved.
#[derive(Debug, Clone)]
pub struct BucketInfo {
    pub name: String,
    pub account: String,
    pub region: String,
    pub head: &'static str,
    pub kms_key: String,
    pub prefix_keys: Vec<(String, String)>,
    pub spec: Bucket,
}

impl BucketInfo {
    /// The KMS key of an object: the longest matching prefix's, else the bucket default.
    pub fn key_for(&self, object: &str) -> &str {
        self.prefix_keys
            .iter()
            .filter(|(p, _)| object.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map_or(&self.kms_key, |(_, k)| k)
    }

    fn bucket_key_at(&self, offset: i64) -> bool {
        match self.spec.bucket_key_from_secs {
            Some(from) => offset >= from,
            None => self.spec.bucket_key,
        }
    }
}

/// One S3 request the scenario makes.
#[derive(Debug, Clone)]
pub struct Planned {
    pub time: i64,
    pub session: usize,
    pub bucket: usize,
    pub key: String,
    pub op: Op,
    pub source: Option<(usize, String)>,
    pub encryption: Encryption,
    pub context: Vec<(String, String)>,
    pub bytes: u64,
    /// Truth: whether the request went through a bucket-level key.
    pub bucket_key_path: bool,
}

/// A session that makes requests.
#[derive(Debug, Clone)]
pub struct Session {
    pub identity: Identity,
    pub role: String,
    pub policy: String,
}

/// Where a simulation's scenario came from, for the manifest.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `builtin:NAME` or the scenario file's path.
    pub source: String,
    /// The scenario's TOML, as read.
    pub toml: String,
    /// The `--scale` applied to it.
    pub scale: f64,
}

/// A simulated trail, before it is written.
pub struct Simulation {
    pub scenario: Scenario,
    pub origin: Origin,
    pub seed: u64,
    pub params: Params,
    pub start: i64,
    pub end: i64,
    pub buckets: Vec<BucketInfo>,
    pub sessions: Vec<Session>,
    pub requests: Vec<Planned>,
    pub calls: Vec<KmsCall>,
}

fn kms_arn(id: &str, account: &str, region: &str) -> String {
    if id.starts_with("arn:") {
        id.to_string()
    } else {
        format!("arn:aws:kms:{region}:{account}:key/{id}")
    }
}

fn name_uuid(name: &str) -> String {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    records::uuid(&mut Rng::new(h))
}

/// Plans the requests and runs the engine.
pub fn simulate(scenario: &Scenario, seed: u64) -> Simulation {
    let mut rng = Rng::new(seed);
    let start = crate::event::parse_time(&scenario.start).expect("validated");
    let buckets: Vec<BucketInfo> = scenario
        .buckets
        .iter()
        .map(|b| {
            let spec = b.get_ref().clone();
            let account = spec
                .account
                .clone()
                .unwrap_or_else(|| scenario.account.clone());
            let region = spec
                .region
                .clone()
                .unwrap_or_else(|| scenario.region.clone());
            let default_id = spec
                .kms_key
                .clone()
                .unwrap_or_else(|| name_uuid(&spec.name));
            BucketInfo {
                name: spec.name.clone(),
                head: partition_of(&region),
                kms_key: kms_arn(&default_id, &account, &region),
                prefix_keys: spec
                    .prefix_kms_keys
                    .iter()
                    .map(|(p, k)| (p.clone(), kms_arn(k, &account, &region)))
                    .collect(),
                account,
                region,
                spec,
            }
        })
        .collect();
    let mut sessions = Vec::new();
    let mut principal_sessions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for p in &scenario.principals {
        let p = p.get_ref();
        let account = p
            .account
            .clone()
            .unwrap_or_else(|| scenario.account.clone());
        let role_id = format!(
            "AROA{}",
            &name_uuid(&p.name).replace('-', "")[..17].to_uppercase()
        );
        for i in 0..p.sessions {
            let (arn, role, principal_id) = if p.kind == "user" {
                let arn = format!("arn:aws:iam::{account}:user/{}", p.name);
                (arn.clone(), arn, format!("AIDA{}", &role_id[4..]))
            } else {
                let session = if p.sessions == 1 {
                    p.name.clone()
                } else {
                    format!("{}-{i:03}", p.name)
                };
                (
                    format!("arn:aws:sts::{account}:assumed-role/{}/{session}", p.name),
                    format!("arn:aws:iam::{account}:role/{}", p.name),
                    format!("{role_id}:{session}"),
                )
            };
            principal_sessions
                .entry(p.name.clone())
                .or_default()
                .push(sessions.len());
            sessions.push(Session {
                identity: Identity {
                    account: account.clone(),
                    arn,
                    role_arn: (p.kind != "user").then(|| role.clone()),
                    principal_id,
                    access_key: format!("ASIA{:016X}", rng.next_u64()),
                    user_agent: "[aws-sdk-java/2.25.1 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.9]"
                        .into(),
                    source_ip: format!("10.0.{}.{}", rng.below(256), 1 + rng.below(254)),
                },
                role,
                policy: p.session_policy.clone(),
            });
        }
    }
    let params = engine_params(scenario);
    let mut engine = Engine::new(params.clone(), seed);
    // Objects each phase can read, per bucket, in the order written.
    let mut objects: Vec<Vec<String>> = vec![Vec::new(); buckets.len()];
    for (bi, b) in buckets.iter().enumerate() {
        for n in 0..b.spec.preexisting_objects {
            let key = format!("old/{n:06}.parquet");
            engine.preexisting(&b.name, &key, false);
            objects[bi].push(key);
        }
    }
    let phases: Vec<(&Phase, usize, Vec<usize>)> = scenario
        .phases
        .iter()
        .map(|p| {
            let p = p.get_ref();
            let bi = buckets
                .iter()
                .position(|b| b.name == p.bucket)
                .expect("validated");
            (p, bi, principal_sessions[&p.principal].clone())
        })
        .collect();
    let end_offset = phases.iter().map(|(p, _, _)| p.end_secs).max().unwrap_or(0);
    let first_offset = phases
        .iter()
        .map(|(p, _, _)| p.start_secs)
        .min()
        .unwrap_or(0);
    let mut requests: Vec<Planned> = Vec::new();
    let mut calls: Vec<KmsCall> = Vec::new();
    let mut seq = vec![0u64; phases.len()];
    let mut rr = vec![0usize; phases.len()];
    let draws = |rng: &mut Rng, rate: f64| -> u64 {
        let whole = rate.floor();
        whole as u64 + u64::from(rng.unit() < rate - whole)
    };
    for offset in first_offset..end_offset {
        let time = start + offset;
        for (pi, (phase, bi, phase_sessions)) in phases.iter().enumerate() {
            if offset < phase.start_secs || offset >= phase.end_secs {
                continue;
            }
            let b = &buckets[*bi];
            let encryption = if b.spec.dsse {
                Encryption::DsseKms
            } else {
                Encryption::SseKms {
                    bucket_key: phase.bucket_key_header.unwrap_or(b.bucket_key_at(offset)),
                }
            };
            let context: Vec<(String, String)> = phase
                .context
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut emit = |rng: &mut Rng,
                            engine: &mut Engine,
                            op: Op,
                            key: String,
                            source: Option<(usize, String)>| {
                let session = phase_sessions[rr[pi] % phase_sessions.len()];
                rr[pi] += 1;
                let s = &sessions[session];
                let bucket_key_path = match op {
                    Op::GetObject | Op::UploadPart | Op::HeadObject => {
                        engine.under_bucket_key(&b.name, &key).unwrap_or(false)
                    }
                    _ => matches!(encryption, Encryption::SseKms { bucket_key: true }),
                };
                let kms_key = b.key_for(&key).to_string();
                let request = envelope::Request {
                    time,
                    session: s.identity.arn.clone(),
                    role: s.role.clone(),
                    session_policy: s.policy.clone(),
                    bucket: b.name.clone(),
                    key: key.clone(),
                    kms_key,
                    op,
                    encryption,
                    source: source.as_ref().map(|(sb, sk)| {
                        (
                            buckets[*sb].name.clone(),
                            sk.clone(),
                            buckets[*sb].key_for(sk).to_string(),
                        )
                    }),
                    destination: None,
                };
                engine.request(&request, &mut calls);
                requests.push(Planned {
                    time,
                    session,
                    bucket: *bi,
                    key,
                    op,
                    source,
                    encryption,
                    context: context.clone(),
                    bytes: 1024 + rng.below(64 << 20),
                    bucket_key_path,
                });
            };
            let prefix = |rng: &mut Rng| {
                phase.prefixes[rng.below(phase.prefixes.len() as u64) as usize].clone()
            };
            for _ in 0..draws(&mut rng, phase.put_rate) {
                seq[pi] += 1;
                let key = format!("{}p{pi}-{:07}.parquet", prefix(&mut rng), seq[pi]);
                emit(&mut rng, &mut engine, Op::PutObject, key.clone(), None);
                objects[*bi].push(key);
            }
            for _ in 0..draws(&mut rng, phase.multipart_rate) {
                seq[pi] += 1;
                let key = format!("{}p{pi}-{:07}.mpu.parquet", prefix(&mut rng), seq[pi]);
                emit(
                    &mut rng,
                    &mut engine,
                    Op::CreateMultipartUpload,
                    key.clone(),
                    None,
                );
                for _ in 0..phase.parts {
                    emit(&mut rng, &mut engine, Op::UploadPart, key.clone(), None);
                }
                emit(
                    &mut rng,
                    &mut engine,
                    Op::CompleteMultipartUpload,
                    key.clone(),
                    None,
                );
                objects[*bi].push(key);
            }
            let readable: Vec<usize> = objects[*bi]
                .iter()
                .enumerate()
                .filter(|(_, k)| phase.prefixes.iter().any(|p| k.starts_with(p.as_str())))
                .map(|(i, _)| i)
                .collect();
            if !readable.is_empty() {
                let n = readable.len() as u64;
                let pick = |rng: &mut Rng| -> String {
                    let i = match phase.read.as_str() {
                        "recent" => n - 1 - rng.below(n.min(100)),
                        "skewed" => ((n as f64) * rng.unit().powi(3)) as u64,
                        _ => rng.below(n),
                    };
                    objects[*bi][readable[i.min(n - 1) as usize]].clone()
                };
                for _ in 0..draws(&mut rng, phase.get_rate) {
                    let key = pick(&mut rng);
                    for _ in 0..phase.ranged_gets {
                        emit(&mut rng, &mut engine, Op::GetObject, key.clone(), None);
                    }
                }
                for _ in 0..draws(&mut rng, phase.head_rate) {
                    let key = pick(&mut rng);
                    emit(&mut rng, &mut engine, Op::HeadObject, key, None);
                }
                let mut copies = Vec::new();
                for _ in 0..draws(&mut rng, phase.copy_rate) {
                    let src = pick(&mut rng);
                    seq[pi] += 1;
                    let key = format!("{}p{pi}-{:07}.copy.parquet", prefix(&mut rng), seq[pi]);
                    emit(
                        &mut rng,
                        &mut engine,
                        Op::CopyObject,
                        key.clone(),
                        Some((*bi, src)),
                    );
                    copies.push(key);
                }
                objects[*bi].extend(copies);
            }
        }
    }
    Simulation {
        scenario: scenario.clone(),
        origin: Origin {
            source: scenario.name.clone(),
            toml: String::new(),
            scale: 1.0,
        },
        seed,
        params,
        start: start + first_offset,
        end: start + end_offset.max(first_offset + 1),
        buckets,
        sessions,
        requests,
        calls,
    }
}

fn engine_params(s: &Scenario) -> Params {
    let d = Params::default();
    let e = &s.engine;
    Params {
        bucket_key_ttl_secs: e.bucket_key_ttl_secs.unwrap_or(d.bucket_key_ttl_secs),
        max_front_end_caches: e.max_front_end_caches.unwrap_or(d.max_front_end_caches),
        requests_per_cache: e.requests_per_cache.unwrap_or(d.requests_per_cache),
        complete_multipart_calls_kms: e
            .complete_multipart_calls_kms
            .unwrap_or(d.complete_multipart_calls_kms),
        sharing: match e.sharing.as_deref() {
            Some("role") => Sharing::RoleAndPolicy,
            _ => Sharing::PerSession,
        },
    }
}

/// A file of the tree: its path relative to the output directory, and its bytes.
pub struct TreeFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// The records of one file as rendered: their bytes back to back, and where each one is. The
/// file's JSON is written from it in the (shuffled) order of `spans`, without another copy.
#[derive(Default)]
pub struct FileBuf {
    data: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

impl FileBuf {
    /// Appends one record written by `render`.
    fn push_with(&mut self, render: impl FnOnce(&mut Vec<u8>)) {
        let start = self.data.len();
        render(&mut self.data);
        self.spans
            .push((start as u32, (self.data.len() - start) as u32));
    }

    /// A whole document (a digest) as the file.
    fn document(text: Vec<u8>) -> FileBuf {
        let len = text.len() as u32;
        FileBuf {
            data: text,
            spans: vec![(0, len)],
        }
    }

    /// Records in the file.
    pub fn records(&self) -> usize {
        self.spans.len()
    }

    /// Bytes of the file's JSON.
    pub fn json_len(&self) -> usize {
        self.data.len() + self.spans.len() + 16
    }

    /// Writes the file's JSON: `{"Records":[...]}`, or the single document.
    pub fn write_json(&self, out: &mut impl Write, document: bool) -> std::io::Result<()> {
        if document {
            return out.write_all(&self.data);
        }
        out.write_all(b"{\"Records\":[")?;
        for (i, &(start, len)) in self.spans.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(&self.data[start as usize..(start + len) as usize])?;
        }
        out.write_all(b"]}")
    }
}

/// What a record in the trail is, before it is rendered.
#[derive(Clone, Copy)]
enum Source {
    Request(u32),
    Call(u32),
    /// An unrelated event: its session and bucket (for account and Region).
    Noise {
        session: u32,
        bucket: u32,
    },
    /// A KMS call by another service, on behalf of the session.
    OtherKms {
        session: u32,
        bucket: u32,
    },
}

/// Renders the simulation as the files of a delivered trail tree, in time order, calling
/// `sink` with each file's path and uncompressed JSON as soon as no later record can land in
/// it (late delivery moves a record one file on, no more). Digest files come last. Memory
/// holds a few files' worth of records, whatever the length of the trail.
pub fn render_stream(sim: &Simulation, sink: &mut dyn FnMut(PathBuf, FileBuf, bool)) {
    let trail = &sim.scenario.trail;
    let mut rng = Rng::new(sim.seed ^ 0x7472_6169_6c00);
    let ts = |t: i64| crate::event::format_time(t);
    // Records are written in time order: most share the previous one's timestamp text.
    let mut last_time = (i64::MIN, String::new());
    let mut time_text = move |t: i64| -> String {
        if last_time.0 != t {
            last_time = (t, ts(t));
        }
        last_time.1.clone()
    };
    // Each bucket's (account, Region), by index, for the file map's keys.
    let places: Vec<(String, String)> = {
        let mut p: Vec<(String, String)> = sim
            .buckets
            .iter()
            .map(|b| (b.account.clone(), b.region.clone()))
            .collect();
        p.sort();
        p.dedup();
        p
    };
    let place_of: Vec<u32> = sim
        .buckets
        .iter()
        .map(|b| {
            places
                .binary_search(&(b.account.clone(), b.region.clone()))
                .expect("listed") as u32
        })
        .collect();
    let mut events: Vec<(i64, Source)> = Vec::new();
    if trail.s3_data_events {
        for (i, r) in sim.requests.iter().enumerate() {
            if r.op != Op::Replicate {
                events.push((r.time, Source::Request(i as u32)));
            }
        }
    }
    if trail.kms_events {
        events.extend(
            sim.calls
                .iter()
                .enumerate()
                .map(|(i, c)| (c.time, Source::Call(i as u32))),
        );
    }
    let unrelated = trail.noise_share + trail.other_kms_share;
    if unrelated > 0.0 && !sim.sessions.is_empty() {
        let total = events.len() as f64 / (1.0 - unrelated);
        let span = (sim.end - sim.start).max(1) as u64;
        for (share, other_kms) in [(trail.noise_share, false), (trail.other_kms_share, true)] {
            for _ in 0..(total * share).round() as u64 {
                let session = rng.below(sim.sessions.len() as u64) as u32;
                let bucket = rng.below(sim.buckets.len() as u64) as u32;
                let time = sim.start + rng.below(span) as i64;
                events.push((
                    time,
                    if other_kms {
                        Source::OtherKms { session, bucket }
                    } else {
                        Source::Noise { session, bucket }
                    },
                ));
            }
        }
    }
    // A stable order: by time, then requests, calls and noise as generated.
    events.sort_by_key(|(t, src)| {
        let (kind, i) = match *src {
            Source::Request(i) => (0, i as u64),
            Source::Call(i) => (1, i as u64),
            Source::Noise { session, bucket } => (2, ((session as u64) << 32) | bucket as u64),
            Source::OtherKms { session, bucket } => (3, ((session as u64) << 32) | bucket as u64),
        };
        (*t, kind, i)
    });
    let window = trail.file_minutes as i64 * 60;
    let mut open: BTreeMap<(i64, u32), FileBuf> = BTreeMap::new();
    let mut digest_hours: BTreeMap<(String, String, i64), u32> = BTreeMap::new();
    let mut finish = |rng: &mut Rng, (w, place): (i64, u32), mut recs: FileBuf| {
        let (account, region) = places[place as usize].clone();
        let delivered = (w + 1) * window + 60 + rng.below(240) as i64;
        if trail.kms_events && trail.cloudtrail_log_encryption {
            let key = kms_arn(&name_uuid("cloudtrail"), &account, &region);
            let stamp = ts(delivered - 30);
            recs.push_with(|out| {
                records::cloudtrail_log_encryption(
                    out,
                    rng,
                    &account,
                    &stamp,
                    &region,
                    "trail-logs",
                    &key,
                )
            });
        }
        // Records in a delivered file are in no particular order.
        for i in (1..recs.spans.len()).rev() {
            recs.spans.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let d = chrono::DateTime::from_timestamp(delivered, 0).expect("in range");
        let suffix: String = (0..16)
            .map(|_| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rng.below(36) as usize] as char)
            .collect();
        let path = base_dir(trail, &account)
            .join("CloudTrail")
            .join(&region)
            .join(d.format("%Y/%m/%d").to_string())
            .join(format!(
                "{account}_CloudTrail_{region}_{}_{suffix}.json.gz",
                d.format("%Y%m%dT%H%MZ")
            ));
        *digest_hours
            .entry((account, region, delivered / 3600))
            .or_default() += 1;
        sink(path, recs, false);
    };
    for (time, src) in events {
        let w_now = time.div_euclid(window);
        // Files of earlier windows can receive nothing more.
        while let Some(entry) = open.first_entry() {
            if entry.key().0 >= w_now {
                break;
            }
            let (key, recs) = entry.remove_entry();
            finish(&mut rng, key, recs);
        }
        let place = match src {
            Source::Request(i) => place_of[sim.requests[i as usize].bucket],
            Source::Call(i) => {
                let c = &sim.calls[i as usize];
                let bi = sim.buckets.iter().position(|b| b.name == c.bucket);
                place_of[bi.unwrap_or(sim.requests[c.request].bucket)]
            }
            Source::Noise { bucket, .. } | Source::OtherKms { bucket, .. } => {
                place_of[bucket as usize]
            }
        };
        let w = w_now + i64::from(rng.unit() < trail.late_delivery_rate);
        let duplicate = rng.unit() < trail.duplicate_rate;
        let stamp = time_text(time);
        let file = open.entry((w, place)).or_default();
        file.push_with(|out| match src {
            Source::Request(i) => {
                let r = &sim.requests[i as usize];
                let b = &sim.buckets[r.bucket];
                let s = &sim.sessions[r.session];
                let copy_source = r
                    .source
                    .as_ref()
                    .map(|(sb, sk)| format!("{}/{}", sim.buckets[*sb].name, sk));
                let sse = Sse {
                    kms_key: b.key_for(&r.key),
                    bucket_key: r.bucket_key_path
                        && !matches!(r.op, Op::GetObject | Op::UploadPart | Op::HeadObject),
                    dsse: b.spec.dsse,
                };
                records::s3_request(
                    out,
                    &mut rng,
                    &s.identity,
                    &stamp,
                    &b.region,
                    r.op.name(),
                    &b.name,
                    &r.key,
                    b.head,
                    sse,
                    copy_source.as_deref(),
                    r.bytes,
                );
            }
            Source::Call(i) => {
                let c = &sim.calls[i as usize];
                let r = &sim.requests[c.request];
                let b = sim
                    .buckets
                    .iter()
                    .find(|b| b.name == c.bucket)
                    .unwrap_or(&sim.buckets[r.bucket]);
                let s = &sim.sessions[r.session];
                let arn = match &c.key {
                    Some(k) => format!("{}{}/{}", b.head, c.bucket, k),
                    None => format!("{}{}", b.head, c.bucket),
                };
                let op = c.op.name();
                records::kms_call(
                    out,
                    &mut rng,
                    &s.identity,
                    &stamp,
                    &b.region,
                    op,
                    &arn,
                    &r.context,
                    &c.kms_key,
                    None,
                );
            }
            Source::Noise { session, bucket } => {
                let b = &sim.buckets[bucket as usize];
                records::noise(
                    out,
                    &mut rng,
                    &sim.sessions[session as usize].identity,
                    &stamp,
                    &b.region,
                );
            }
            Source::OtherKms { session, bucket } => {
                let b = &sim.buckets[bucket as usize];
                let who = &sim.sessions[session as usize].identity;
                records::other_service_kms(out, &mut rng, who, &stamp, &b.region);
            }
        });
        if duplicate {
            let f = &open[&(w, place)];
            let (start, len) = *f.spans.last().expect("just written");
            let copy = f.data[start as usize..(start + len) as usize].to_vec();
            open.entry((w + 1, place))
                .or_default()
                .push_with(|out| out.extend_from_slice(&copy));
        }
    }
    while let Some((key, recs)) = open.pop_first() {
        finish(&mut rng, key, recs);
    }
    if trail.digests {
        for ((account, region, hour), n) in digest_hours {
            let end = (hour + 1) * 3600;
            let d = chrono::DateTime::from_timestamp(end, 0).expect("in range");
            let text = format!(
                "{{\"awsAccountId\":\"{account}\",\"digestStartTime\":\"{}\",\"digestEndTime\":\"{}\",\"digestS3Bucket\":\"trail-logs\",\"digestS3Object\":\"AWSLogs/{account}/CloudTrail-Digest/{region}/{}\",\"digestPublicKeyFingerprint\":\"{:032x}\",\"digestSignatureAlgorithm\":\"SHA256withRSA\",\"newestEventTime\":\"{}\",\"oldestEventTime\":\"{}\",\"previousDigestS3Bucket\":null,\"previousDigestS3Object\":null,\"previousDigestHashValue\":null,\"previousDigestHashAlgorithm\":null,\"previousDigestSignature\":null,\"logFiles\":[],\"fileCount\":{n}}}",
                ts(end - 3600), ts(end), d.format("%Y/%m/%d"), rng.next_u64(), ts(end - 1), ts(end - 3600)
            );
            let path = base_dir(trail, &account)
                .join("CloudTrail-Digest")
                .join(&region)
                .join(d.format("%Y/%m/%d").to_string())
                .join(format!(
                    "{account}_CloudTrail-Digest_{region}_management_{region}_{}.json.gz",
                    d.format("%Y%m%dT%H%M%SZ")
                ));
            sink(path, FileBuf::document(text.into_bytes()), true);
        }
    }
}

fn base_dir(trail: &scenario::Trail, account: &str) -> PathBuf {
    let mut p = PathBuf::from("AWSLogs");
    if let Some(org) = &trail.organization {
        p.push(org);
    }
    p.push(account);
    p
}

/// gzip at the default level, with a fixed header (no name, no time), so output is stable.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = gzip_encoder(data.len());
    e.write_all(data).expect("writing to a Vec cannot fail");
    e.finish().expect("writing to a Vec cannot fail")
}

/// A gzip encoder into memory, for about `json_len` bytes of JSON: level 6, as CloudTrail
/// writes, and a fixed header (no name, no time) so the same input gives the same bytes.
fn gzip_encoder(json_len: usize) -> flate2::write::GzEncoder<Vec<u8>> {
    flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(json_len / 6),
        flate2::Compression::default(),
    )
}

/// What can stop a simulated trail from being written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The output directory holds files already, and `force` was not given.
    #[error("{} is not empty: give --force to write into it anyway", .0.display())]
    NotEmpty(PathBuf),
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to write {} outside {}", .path.display(), .dir.display())]
    Outside { path: PathBuf, dir: PathBuf },
    #[error("cannot start the threads that compress the files")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Writes a simulation into `dir`: the tree first, `manifest.json` last, so a tree with a
/// manifest is complete. Refuses a non-empty directory unless `force`. Files are compressed in
/// parallel batches on `threads` threads (0: one per core); each on its own, so the bytes do
/// not depend on the thread count. Returns the number of files written.
pub fn write(
    sim: &Simulation,
    dir: &Path,
    force: bool,
    threads: usize,
) -> Result<usize, WriteError> {
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir)
            .map_err(|source| WriteError::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(WriteError::NotEmpty(dir.to_path_buf()));
        }
        // An old manifest would vouch for a tree being rewritten.
        let _ = std::fs::remove_file(dir.join("manifest.json"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let written = std::sync::atomic::AtomicUsize::new(0);
    let failure: std::sync::Mutex<Option<WriteError>> = std::sync::Mutex::new(None);
    let compress_and_write = |path: PathBuf, file: FileBuf, document: bool| {
        let result = (|| -> Result<(), WriteError> {
            // Validation keeps names to what AWS allows; this is the last line of defence.
            let inside = path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !inside {
                return Err(WriteError::Outside {
                    path,
                    dir: dir.to_path_buf(),
                });
            }
            let path = dir.join(&path);
            let failed = |source| WriteError::Write {
                path: path.clone(),
                source,
            };
            let mut e = gzip_encoder(file.json_len());
            file.write_json(&mut e, document).map_err(failed)?;
            let bytes = e.finish().map_err(failed)?;
            std::fs::create_dir_all(path.parent().expect("a file in a folder")).map_err(failed)?;
            crate::output::write_atomically(&path, &bytes).map_err(failed)?;
            Ok(())
        })();
        match result {
            Ok(()) => {
                written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                failure.lock().expect("not poisoned").get_or_insert(e);
            }
        }
    };
    // Files are compressed and written by the pool while rendering goes on; when as many files
    // as threads are in flight, the rendering thread compresses the next one itself. Each file
    // is compressed on its own, so the bytes do not depend on the thread count, and the order
    // files are written in does not matter: the manifest, written last, marks the tree done.
    let in_flight = std::sync::atomic::AtomicUsize::new(0);
    let limit = pool.current_num_threads();
    pool.scope(|scope| {
        render_stream(sim, &mut |path, file, document| {
            use std::sync::atomic::Ordering::SeqCst;
            if in_flight.load(SeqCst) >= limit {
                compress_and_write(path, file, document);
            } else {
                in_flight.fetch_add(1, SeqCst);
                let (compress_and_write, in_flight) = (&compress_and_write, &in_flight);
                scope.spawn(move |_| {
                    compress_and_write(path, file, document);
                    in_flight.fetch_sub(1, SeqCst);
                });
            }
        });
    });
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let manifest = manifest::manifest(sim);
    let mut text = serde_json::to_vec_pretty(&manifest).expect("a JSON value serialises");
    text.push(b'\n');
    let path = dir.join("manifest.json");
    crate::output::write_atomically(&path, &text)
        .map_err(|source| WriteError::Write { path, source })?;
    Ok(written.into_inner())
}
