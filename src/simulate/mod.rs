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
pub mod render;
pub mod scenario;
pub mod write;

pub use render::{render_stream, FileBuf, TreeFile};
pub use write::{gzip, write, WriteError, Written};

use crate::envelope::{self, Encryption, Engine, KmsCall, Op, Params, Rng, Sharing};
use crate::event::partition_of;
use records::Identity;
use scenario::{Bucket, Phase, Scenario};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use records::ObjectSse;

/// A bucket's default encryption, from its scenario entry.
fn object_sse(spec: &Bucket) -> ObjectSse {
    match spec.encryption.as_deref() {
        Some("sse-s3") => ObjectSse::SseS3,
        Some("sse-c") => ObjectSse::SseC,
        Some("dsse-kms") => ObjectSse::DsseKms,
        _ if spec.dsse => ObjectSse::DsseKms,
        _ => ObjectSse::SseKms,
    }
}

/// A bucket with everything resolved.
#[derive(Debug, Clone)]
pub struct BucketInfo {
    pub name: String,
    pub sse: ObjectSse,
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

/// One S3 request the scenario makes. A run plans millions: the strings it shares with other
/// requests (an object's key, read many times; a phase's context and access point) are shared,
/// not copied.
#[derive(Debug, Clone)]
pub struct Planned {
    pub time: i64,
    pub session: usize,
    pub bucket: usize,
    pub key: Arc<str>,
    /// The object's number in its bucket (the order the plan wrote them in), for the manifest's
    /// sets of objects; `None` for a key the bucket does not hold (a refused write's, a read's
    /// of a missing key).
    pub object: Option<u32>,
    pub op: Op,
    /// For copies: the source's bucket, key and number in its bucket.
    pub source: Option<(usize, Arc<str>, u32)>,
    pub encryption: Encryption,
    pub context: Arc<[(String, String)]>,
    pub bytes: u64,
    /// Truth: whether the request went through a bucket-level key.
    pub bucket_key_path: bool,
    /// The error S3 answered with (`NoSuchKey`, `AccessDenied`), if it refused the request.
    pub failure: Option<&'static str>,
    /// The access point the request went through.
    pub access_point: Option<Arc<str>>,
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

/// A simulated trail, before it is planned and written: the scenario with every bucket and
/// session resolved. Its requests are planned a second at a time ([`Simulation::plan`]) as the
/// files are written, so memory holds the seconds being rendered and what the plan keeps of
/// each object written, not the whole run's requests.
pub struct Simulation {
    pub scenario: Scenario,
    pub origin: Origin,
    pub seed: u64,
    pub params: Params,
    /// The first and last second (exclusive) of the traffic.
    pub start: i64,
    pub end: i64,
    pub buckets: Vec<BucketInfo>,
    pub sessions: Vec<Session>,
    /// The scenario's start, which phases count their seconds from.
    epoch: i64,
    /// Per phase: its bucket, and the sessions of its principal.
    phases: Vec<(usize, Vec<usize>)>,
    /// The draws after the sessions', where planning goes on.
    rng: Rng,
}

/// One second of the plan: the requests made in it and the KMS calls they caused, each
/// numbered in the whole run (a call's `request` is the run-wide number of its request).
#[derive(Debug, Default)]
pub struct Second {
    pub time: i64,
    /// The run-wide number of `requests[0]`.
    pub first_request: usize,
    pub requests: Vec<Planned>,
    /// The run-wide number of `calls[0]`.
    pub first_call: usize,
    pub calls: Vec<KmsCall>,
}

impl Second {
    /// The request a call of this second was caused by.
    pub fn request_of(&self, call: &KmsCall) -> &Planned {
        &self.requests[call.request - self.first_request]
    }
}

pub(crate) fn kms_arn(id: &str, account: &str, region: &str) -> String {
    if id.starts_with("arn:") {
        id.to_string()
    } else {
        format!("arn:aws:kms:{region}:{account}:key/{id}")
    }
}

/// A name's FNV-1a hash.
pub(crate) fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

pub(crate) fn name_uuid(name: &str) -> String {
    records::uuid(&mut Rng::new(name_hash(name)))
}

/// How many events of a `rate` per second happen in one second: its whole part, and one more
/// with the probability of its fraction.
pub(crate) fn draws(rng: &mut Rng, rate: f64) -> u64 {
    let whole = rate.floor();
    whole as u64 + u64::from(rng.unit() < rate - whole)
}

/// Resolves a scenario's buckets and sessions; [`Simulation::plan`] then plans its requests.
pub fn simulate(scenario: &Scenario, seed: u64) -> Simulation {
    let mut rng = Rng::new(seed);
    let epoch = crate::event::parse_time(&scenario.start).expect("validated");
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
                sse: object_sse(&spec),
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
    let phases: Vec<(usize, Vec<usize>)> = scenario
        .phases
        .iter()
        .map(|p| {
            let p = p.get_ref();
            let bi = buckets
                .iter()
                .position(|b| b.name == p.bucket)
                .expect("validated");
            (bi, principal_sessions[&p.principal].clone())
        })
        .collect();
    let (first_offset, end_offset) = offsets(scenario);
    Simulation {
        scenario: scenario.clone(),
        origin: Origin {
            source: scenario.name.clone(),
            toml: String::new(),
            scale: 1.0,
        },
        seed,
        params: engine_params(scenario),
        start: epoch + first_offset,
        end: epoch + end_offset.max(first_offset + 1),
        buckets,
        sessions,
        epoch,
        phases,
        rng,
    }
}

/// The seconds (after the scenario's start) of its first request and after its last.
fn offsets(scenario: &Scenario) -> (i64, i64) {
    let phases = || scenario.phases.iter().map(|p| p.get_ref());
    let first = phases().map(|p| p.start_secs).min().unwrap_or(0);
    let end = phases().map(|p| p.end_secs).max().unwrap_or(0);
    (first, end)
}

impl Simulation {
    /// The plan, a second at a time, from the first second of traffic to the last.
    pub fn plan(&self) -> Plan<'_> {
        let mut engine = Engine::new(self.params.clone(), self.seed);
        // Objects each phase can read, per bucket, in the order written.
        let mut objects: Vec<Vec<Arc<str>>> = vec![Vec::new(); self.buckets.len()];
        for (bi, b) in self.buckets.iter().enumerate() {
            for n in 0..b.spec.preexisting_objects {
                let key: Arc<str> = format!("old/{n:06}.parquet").into();
                if b.sse.is_kms() {
                    engine.preexisting(&b.name, &key, Some(n), false);
                } else {
                    engine.preexisting_not_kms(&b.name, &key, Some(n));
                }
                objects[bi].push(key);
            }
        }
        // What every request of a phase carries alike: its context, its access point.
        let shared = self
            .scenario
            .phases
            .iter()
            .map(|p| {
                let p = p.get_ref();
                let context: Vec<(String, String)> = p
                    .context
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (context.into(), p.access_point.as_deref().map(Arc::from))
            })
            .collect();
        let (first_offset, end_offset) = offsets(&self.scenario);
        let phases = self.phases.len();
        Plan {
            sim: self,
            rng: self.rng.clone(),
            refusals: Rng::new(self.seed ^ 0x7265_6675_7365),
            engine,
            objects,
            shared,
            seq: vec![0; phases],
            rr: vec![0; phases],
            readable_of: vec![(Vec::new(), 0); phases],
            offset: first_offset,
            end_offset,
            requests: 0,
            calls: 0,
        }
    }
}

/// What every request of a phase carries alike: its context, its access point.
type Shared = (Arc<[(String, String)]>, Option<Arc<str>>);

/// A simulation's requests being planned, in time order: an iterator over its [`Second`]s. It
/// holds what the scenario has built so far (each bucket's objects, the envelope engine's
/// keys), not the requests already planned.
pub struct Plan<'a> {
    sim: &'a Simulation,
    rng: Rng,
    /// Refusals draw from a stream of their own: scenarios without them are unchanged.
    refusals: Rng,
    engine: Engine,
    objects: Vec<Vec<Arc<str>>>,
    shared: Vec<Shared>,
    seq: Vec<u64>,
    /// Per phase: the next of its sessions to make a request (round robin).
    rr: Vec<usize>,
    /// Per phase: the indices of the objects it can read, and how many of its bucket's objects
    /// have been looked at.
    readable_of: Vec<(Vec<u32>, usize)>,
    offset: i64,
    end_offset: i64,
    /// Requests and calls planned so far.
    requests: usize,
    calls: usize,
}

impl Iterator for Plan<'_> {
    type Item = Second;

    fn next(&mut self) -> Option<Second> {
        if self.offset >= self.end_offset {
            return None;
        }
        let offset = self.offset;
        self.offset += 1;
        let mut out = Second {
            time: self.sim.epoch + offset,
            first_request: self.requests,
            first_call: self.calls,
            ..Second::default()
        };
        for pi in 0..self.sim.phases.len() {
            self.phase_second(pi, offset, &mut out);
        }
        self.requests += out.requests.len();
        self.calls += out.calls.len();
        Some(out)
    }
}

impl Plan<'_> {
    /// One phase's requests in one second.
    fn phase_second(&mut self, pi: usize, offset: i64, out: &mut Second) {
        let sim = self.sim;
        let phase: &Phase = sim.scenario.phases[pi].get_ref();
        if offset < phase.start_secs || offset >= phase.end_secs {
            return;
        }
        let bi = sim.phases[pi].0;
        let b = &sim.buckets[bi];
        let encryption = match b.sse {
            ObjectSse::DsseKms => Encryption::DsseKms,
            ObjectSse::SseS3 | ObjectSse::SseC => Encryption::NotKms,
            ObjectSse::SseKms => Encryption::SseKms {
                bucket_key: phase.bucket_key_header.unwrap_or(b.bucket_key_at(offset)),
            },
        };
        let emit = |plan: &mut Self, out: &mut Second, op, key, object, source, failure| {
            plan.emit(out, pi, encryption, op, (key, object), source, failure)
        };
        let refuse =
            |plan: &mut Self| phase.error_rate > 0.0 && plan.refusals.unit() < phase.error_rate;
        let prefix =
            |rng: &mut Rng| &phase.prefixes[rng.below(phase.prefixes.len() as u64) as usize];
        // A new key, next in the phase's numbering: `{prefix}{stem}{phase}-{number}{ext}`.
        let new_key = |plan: &mut Self, stem: &str, ext: &str| -> Arc<str> {
            plan.seq[pi] += 1;
            format!(
                "{}{stem}{pi}-{:07}{ext}",
                prefix(&mut plan.rng),
                plan.seq[pi]
            )
            .into()
        };
        for _ in 0..draws(&mut self.rng, phase.put_rate) {
            let key = new_key(self, "p", ".parquet");
            if refuse(self) {
                let denied = Some("AccessDenied");
                emit(self, out, Op::PutObject, key, None, None, denied);
                continue;
            }
            let object = Some(self.objects[bi].len() as u32);
            emit(self, out, Op::PutObject, key.clone(), object, None, None);
            self.objects[bi].push(key);
        }
        for _ in 0..draws(&mut self.rng, phase.multipart_rate) {
            let key = new_key(self, "p", ".mpu.parquet");
            let object = Some(self.objects[bi].len() as u32);
            let op = Op::CreateMultipartUpload;
            emit(self, out, op, key.clone(), object, None, None);
            for _ in 0..phase.parts {
                emit(self, out, Op::UploadPart, key.clone(), object, None, None);
            }
            let op = Op::CompleteMultipartUpload;
            emit(self, out, op, key.clone(), object, None, None);
            self.objects[bi].push(key);
        }
        // The objects this phase reads: its bucket's under its prefixes, in the order they
        // were written, kept up to date with the new ones only (a bucket's objects only
        // grow; scanning them all each second made long runs quadratic).
        let readable = &mut self.readable_of[pi];
        for (i, k) in self.objects[bi].iter().enumerate().skip(readable.1) {
            if phase.prefixes.iter().any(|p| k.starts_with(p.as_str())) {
                readable.0.push(i as u32);
            }
        }
        readable.1 = self.objects[bi].len();
        let n = readable.0.len() as u64;
        let pick = |plan: &mut Self| -> (Arc<str>, u32) {
            let i = match phase.read.as_str() {
                "recent" => n - 1 - plan.rng.below(n.min(100)),
                "skewed" => ((n as f64) * plan.rng.unit().powi(3)) as u64,
                _ => plan.rng.below(n),
            };
            let object = plan.readable_of[pi].0[i.min(n - 1) as usize];
            (plan.objects[bi][object as usize].clone(), object)
        };
        if n > 0 {
            for _ in 0..draws(&mut self.rng, phase.get_rate) {
                let (key, object) = pick(self);
                if refuse(self) {
                    let missing = new_key(self, "missing-", "");
                    let op = Op::GetObject;
                    emit(self, out, op, missing, None, None, Some("NoSuchKey"));
                    continue;
                }
                for _ in 0..phase.ranged_gets {
                    let op = Op::GetObject;
                    emit(self, out, op, key.clone(), Some(object), None, None);
                }
            }
            for _ in 0..draws(&mut self.rng, phase.head_rate) {
                let (key, object) = pick(self);
                emit(self, out, Op::HeadObject, key, Some(object), None, None);
            }
        }
        // Copies read their source from the phase's bucket as reads pick objects, or any
        // object of `copy_from`'s bucket.
        let from = phase.copy_from.as_ref().map_or(bi, |name| {
            sim.buckets
                .iter()
                .position(|b| &b.name == name)
                .expect("validated")
        });
        let sources = if from == bi {
            n
        } else {
            self.objects[from].len() as u64
        };
        if sources > 0 {
            let mut copies = Vec::new();
            for _ in 0..draws(&mut self.rng, phase.copy_rate) {
                let (src, src_object) = if from == bi {
                    pick(self)
                } else {
                    let object = self.rng.below(sources) as u32;
                    (self.objects[from][object as usize].clone(), object)
                };
                let key = new_key(self, "p", ".copy.parquet");
                let source = Some((from, src, src_object));
                let object = Some((self.objects[bi].len() + copies.len()) as u32);
                emit(self, out, Op::CopyObject, key.clone(), object, source, None);
                copies.push(key);
            }
            self.objects[bi].extend(copies);
        }
    }

    /// One request of phase `pi`: through the envelope engine (unless S3 refused it), into
    /// `out` with the calls it caused.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        out: &mut Second,
        pi: usize,
        encryption: Encryption,
        op: Op,
        (key, object): (Arc<str>, Option<u32>),
        source: Option<(usize, Arc<str>, u32)>,
        failure: Option<&'static str>,
    ) {
        let sim = self.sim;
        let (bi, phase_sessions) = &sim.phases[pi];
        let b = &sim.buckets[*bi];
        let session = phase_sessions[self.rr[pi] % phase_sessions.len()];
        self.rr[pi] += 1;
        let s = &sim.sessions[session];
        let bucket_key_path = failure.is_none()
            && match op {
                Op::GetObject | Op::UploadPart | Op::HeadObject => self
                    .engine
                    .under_bucket_key(&b.name, &key, object)
                    .unwrap_or(false),
                _ => matches!(encryption, Encryption::SseKms { bucket_key: true }),
            };
        let request = envelope::Request {
            time: out.time,
            session: s.identity.arn.clone(),
            role: s.role.clone(),
            session_policy: s.policy.clone(),
            bucket: b.name.clone(),
            key: key.to_string(),
            object,
            kms_key: b.key_for(&key).to_string(),
            op,
            encryption,
            source: source.as_ref().map(|(sb, sk, _)| {
                (
                    sim.buckets[*sb].name.clone(),
                    sk.to_string(),
                    sim.buckets[*sb].key_for(sk).to_string(),
                )
            }),
            source_object: source.as_ref().map(|(_, _, n)| *n),
            destination: None,
        };
        if failure.is_some() {
            self.engine.refused();
        } else {
            self.engine.request(&request, &mut out.calls);
        }
        let (context, access_point) = &self.shared[pi];
        out.requests.push(Planned {
            time: out.time,
            session,
            bucket: *bi,
            key,
            object,
            op,
            source,
            encryption,
            context: Arc::clone(context),
            bytes: 1024 + self.rng.below(64 << 20),
            bucket_key_path,
            failure,
            access_point: access_point.clone(),
        });
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
            Some("session") => Sharing::PerSession,
            _ => Sharing::RoleAndPolicy,
        },
    }
}
