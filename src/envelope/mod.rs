//! The envelope engine: which KMS calls an S3 request causes, with and without bucket keys.
//!
//! One model, shared by the simulator (which writes the calls it yields as CloudTrail records)
//! and by what-if projections. It follows docs/domain.md sections 2 and 3:
//!
//! - **Per-object keys** (SSE-KMS without a bucket key, and DSSE-KMS always): PutObject,
//!   CreateMultipartUpload -> GenerateDataKey; GetObject (each request, ranged ones too),
//!   UploadPart, UploadPartCopy -> Decrypt; CopyObject -> Decrypt of the source and
//!   GenerateDataKey for the destination; replication -> Decrypt of the source and Encrypt of
//!   the replica; HeadObject -> nothing. The context is the object ARN plus any custom pairs.
//! - **Bucket keys**: a bucket-level key belongs to (bucket, KMS key, requester), where the
//!   requester is the IAM session or, in the newer sharing mode, the role plus its session
//!   policy. S3 serves one requester's traffic from several front-end caches (more when the
//!   request rate is higher), each with its own cache of bucket-level keys kept for a TTL. A
//!   write that finds no live key in its cache calls GenerateDataKey with the bucket ARN as
//!   context and caches the new key; every object remembers the bucket-level key that derived
//!   it. A read needs that key in the reader's cache; a miss calls Decrypt and caches it.
//!
//! What AWS does not publish is a named parameter of [`Params`]; the defaults are calibrated to
//! the two published observations (seed 000, and aws-samples/s3-bucketkey-poc), each pinned by
//! a test.

/// The engine only looks keys up (it never iterates a map), so a fast fixed hasher changes no
/// output.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// Defaults of the unpublished parameters, calibrated (see the tests).
pub mod defaults {
    /// How long a front-end cache keeps a bucket-level key, in seconds. AWS says only
    /// "time-limited"; 120 s reproduces seed 000 (about 10 GenerateDataKey for 10,000 writes).
    pub const BUCKET_KEY_TTL_SECS: i64 = 120;
    /// The most front-end caches one requester's traffic spreads over. Seed 000's ratio of
    /// Decrypt to GenerateDataKey (about 60 to 10) suggests about 6.
    pub const MAX_FRONT_END_CACHES: u32 = 6;
    /// Requests per second one front-end cache serves before traffic spreads to another. With
    /// 10, a single Lambda session's quick burst (the aws-samples experiment) stays on one or
    /// two caches, and 4 calls, as observed.
    pub const REQUESTS_PER_CACHE: u32 = 10;
    /// Whether CompleteMultipartUpload calls KMS (undocumented): no.
    pub const COMPLETE_MULTIPART_CALLS_KMS: bool = false;
}

/// The engine's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub bucket_key_ttl_secs: i64,
    pub max_front_end_caches: u32,
    pub requests_per_cache: u32,
    pub complete_multipart_calls_kms: bool,
    pub sharing: Sharing,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            bucket_key_ttl_secs: defaults::BUCKET_KEY_TTL_SECS,
            max_front_end_caches: defaults::MAX_FRONT_END_CACHES,
            requests_per_cache: defaults::REQUESTS_PER_CACHE,
            complete_multipart_calls_kms: defaults::COMPLETE_MULTIPART_CALLS_KMS,
            sharing: Sharing::RoleAndPolicy,
        }
    }
}

/// Who shares a bucket-level key: who S3 treats as one requester.
///
/// The current S3 user guide (bucket-key page): unique bucket-level keys are fetched at least
/// once per requester, and callers are different requesters when they use different roles or
/// accounts, or the same role with different scoping (session) policies. So sessions of one
/// role with the same session policy share a key: [`Sharing::RoleAndPolicy`], the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Each IAM session is its own requester: the guide's earlier text, for trails from
    /// before the change.
    PerSession,
    /// Sessions of one role with the same session policy share keys (the current guide).
    RoleAndPolicy,
}

/// S3 operations the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    PutObject,
    GetObject,
    HeadObject,
    CopyObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    /// S3 replicating an object to an SSE-KMS replica.
    Replicate,
}

impl Op {
    /// The name CloudTrail logs for the operation.
    pub fn name(self) -> &'static str {
        match self {
            Op::PutObject => "PutObject",
            Op::GetObject => "GetObject",
            Op::HeadObject => "HeadObject",
            Op::CopyObject => "CopyObject",
            Op::CreateMultipartUpload => "CreateMultipartUpload",
            Op::UploadPart => "UploadPart",
            Op::UploadPartCopy => "UploadPartCopy",
            Op::CompleteMultipartUpload => "CompleteMultipartUpload",
            Op::Replicate => "Replicate",
        }
    }
}

/// How an object is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-KMS; `bucket_key` is the effective setting for this request (the bucket's, or the
    /// request's header).
    SseKms { bucket_key: bool },
    /// DSSE-KMS: never uses bucket keys.
    DsseKms,
    /// SSE-S3 or SSE-C: S3 encrypts with keys of its own or the customer's and calls KMS for
    /// none of it (a copy still decrypts an SSE-KMS source).
    NotKms,
}

/// One S3 request, as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub time: i64,
    /// The IAM session ARN.
    pub session: String,
    /// The role (or user) ARN the session belongs to, and its session policy's name, for the
    /// sharing mode.
    pub role: String,
    pub session_policy: String,
    pub bucket: String,
    pub key: String,
    /// The object's number, when the caller numbers its objects (the simulator, in the order
    /// it writes them in a bucket; the what-if, by the symbol of the object's key): the engine
    /// then keeps the object's state by that number and holds no copy of its key. `None`: by
    /// the key. A caller gives one or the other for an object, always the same.
    pub object: Option<u32>,
    pub kms_key: String,
    pub op: Op,
    pub encryption: Encryption,
    /// For CopyObject, UploadPartCopy and Replicate: the source object, and its KMS key.
    pub source: Option<(String, String, String)>,
    /// The source object's number in its bucket, as `object`.
    pub source_object: Option<u32>,
    /// For Replicate: the replica's bucket and KMS key.
    pub destination: Option<(String, String)>,
}

/// KMS operations: the engine yields GenerateDataKey, Decrypt and Encrypt (one enum for the
/// model and the trail reader, so a simulated call and a logged one are the same value).
pub use crate::event::KmsOp;

/// One KMS call caused by a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsCall {
    pub time: i64,
    pub op: KmsOp,
    /// The index of the request that caused it.
    pub request: usize,
    /// The caller logged in CloudTrail: the S3 requester's session.
    pub session: String,
    pub bucket: String,
    /// `Some` for a per-object key (the context names the object), `None` for a bucket key.
    pub key: Option<String>,
    pub kms_key: String,
}

/// A small, fixed PRNG (SplitMix64): the engine's output must not change when a dependency
/// changes its algorithms, or every committed fixture would.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

type KeyId = u64;
/// An interned name (session, role, bucket, object key, KMS key): the engine's maps are keyed
/// by these, so a lookup allocates nothing.
type Name = u32;
/// An object: its bucket, and its key's name or, tagged with [`NUMBERED`], the caller's
/// number for it ([`Request::object`]).
type Object = (Name, u64);
const NUMBERED: u64 = 1 << 32;
/// Who holds a bucket-level key: a session, or a role and session policy (see [`Sharing`]).
type Requester = u64;

/// The state of the model.
pub struct Engine {
    params: Params,
    seed: u64,
    /// Per bucket, the random stream its front-end caches are drawn from (each starts from the
    /// engine's seed), so one bucket's draws do not depend on other buckets' traffic.
    rngs: HashMap<Name, Rng>,
    next_key_id: KeyId,
    names: HashMap<Box<str>, Name>,
    /// Live bucket-level keys for writing: (requester, bucket, kms key, cache) -> (key, expiry).
    write_cache: HashMap<(Requester, Name, Name, u32), (KeyId, i64)>,
    /// Decrypted bucket-level keys for reading: (requester, key id, cache) -> expiry.
    read_cache: HashMap<(Requester, KeyId, u32), i64>,
    /// Which bucket-level key derived each object's data key (`None`: a per-object key).
    objects: HashMap<Object, Option<KeyId>>,
    /// Objects last written with SSE-S3 or SSE-C: reading them calls no KMS.
    not_kms: std::collections::HashSet<Object, foldhash::fast::FixedState>,
    /// Requests per requester and bucket in the current second, for the front-end fan-out.
    rate: HashMap<(Requester, Name), (i64, u32)>,
    /// The bucket-level key of objects older than a what-if: (bucket, KMS key) -> key.
    shared_keys: HashMap<(Name, Name), KeyId>,
    requests_seen: usize,
}

impl Engine {
    pub fn new(params: Params, seed: u64) -> Engine {
        Engine {
            params,
            seed,
            rngs: HashMap::default(),
            next_key_id: 1,
            names: HashMap::default(),
            write_cache: HashMap::default(),
            read_cache: HashMap::default(),
            objects: HashMap::default(),
            not_kms: Default::default(),
            rate: HashMap::default(),
            shared_keys: HashMap::default(),
            requests_seen: 0,
        }
    }

    /// Runs a whole stream of requests (sorted by time) and returns the calls.
    pub fn run(params: Params, seed: u64, requests: &[Request]) -> Vec<KmsCall> {
        let mut e = Engine::new(params, seed);
        let mut out = Vec::new();
        for r in requests {
            e.request(r, &mut out);
        }
        out
    }

    fn name(&mut self, s: &str) -> Name {
        if let Some(&n) = self.names.get(s) {
            return n;
        }
        let n = self.names.len() as Name;
        self.names.insert(s.into(), n);
        n
    }

    /// An object, named as the engine keeps it.
    fn object(&mut self, bucket: &str, key: &str, number: Option<u32>) -> Object {
        let bucket = self.name(bucket);
        match number {
            Some(n) => (bucket, NUMBERED | u64::from(n)),
            None => (bucket, u64::from(self.name(key))),
        }
    }

    /// An object, if the engine has seen its bucket (and key).
    fn known_object(&self, bucket: &str, key: &str, number: Option<u32>) -> Option<Object> {
        let bucket = *self.names.get(bucket)?;
        Some(match number {
            Some(n) => (bucket, NUMBERED | u64::from(n)),
            None => (bucket, u64::from(*self.names.get(key)?)),
        })
    }

    fn requester(&mut self, r: &Request) -> Requester {
        match self.params.sharing {
            Sharing::PerSession => self.name(&r.session).into(),
            Sharing::RoleAndPolicy => {
                let (role, policy) = (self.name(&r.role), self.name(&r.session_policy));
                (Requester::from(role) << 32) | Requester::from(policy)
            }
        }
    }

    /// The front-end cache serving this request: a requester's traffic to a bucket spreads over
    /// more caches as its rate in the current second grows. Per bucket, rate and draws alike: a
    /// bucket's calls are a function of its own traffic, whatever other buckets the trail (or a
    /// filter, or a partition of it) holds; on one bucket's traffic this is the model as it was.
    fn cache(&mut self, requester: Requester, bucket: Name, time: i64) -> u32 {
        let entry = self.rate.entry((requester, bucket)).or_insert((time, 0));
        if entry.0 != time {
            *entry = (time, 0);
        }
        entry.1 += 1;
        let spread = entry
            .1
            .div_ceil(self.params.requests_per_cache.max(1))
            .clamp(1, self.params.max_front_end_caches.max(1));
        let seed = self.seed;
        self.rngs
            .entry(bucket)
            .or_insert_with(|| Rng::new(seed))
            .below(spread as u64) as u32
    }

    /// The KMS calls one request causes, appended to `out`.
    pub fn request(&mut self, r: &Request, out: &mut Vec<KmsCall>) {
        let index = self.requests_seen;
        self.requests_seen += 1;
        let call = |op, bucket: &str, key: Option<&str>, kms_key: &str| KmsCall {
            time: r.time,
            op,
            request: index,
            session: r.session.clone(),
            bucket: bucket.to_string(),
            key: key.map(str::to_string),
            kms_key: kms_key.to_string(),
        };
        let bucket_key = matches!(r.encryption, Encryption::SseKms { bucket_key: true });
        if r.encryption == Encryption::NotKms {
            if let (Op::UploadPartCopy | Op::CopyObject, Some((sb, sk, skms))) = (r.op, &r.source) {
                self.read(r, (sb, sk, r.source_object), skms, out, index);
            }
            if matches!(
                r.op,
                Op::PutObject | Op::CopyObject | Op::CreateMultipartUpload | Op::Replicate
            ) {
                let object = self.object(&r.bucket, &r.key, r.object);
                self.objects.remove(&object);
                self.not_kms.insert(object);
            }
            return;
        }
        match r.op {
            Op::HeadObject => {}
            Op::PutObject | Op::CreateMultipartUpload => {
                self.write(r, bucket_key, out, index);
            }
            Op::CompleteMultipartUpload => {
                if self.params.complete_multipart_calls_kms {
                    self.write(r, bucket_key, out, index);
                }
            }
            Op::GetObject | Op::UploadPart => {
                self.read(r, (&r.bucket, &r.key, r.object), &r.kms_key, out, index);
            }
            Op::UploadPartCopy | Op::CopyObject => {
                if let Some((sb, sk, skms)) = &r.source {
                    self.read(r, (sb, sk, r.source_object), skms, out, index);
                }
                if r.op == Op::UploadPartCopy {
                    // The part is encrypted under the upload's data key.
                    self.read(r, (&r.bucket, &r.key, r.object), &r.kms_key, out, index);
                } else {
                    self.write(r, bucket_key, out, index);
                }
            }
            Op::Replicate => {
                if let Some((sb, sk, skms)) = &r.source {
                    self.read(r, (sb, sk, r.source_object), skms, out, index);
                }
                if let Some((db, dkms)) = &r.destination {
                    out.push(call(KmsOp::Encrypt, db, Some(&r.key), dkms));
                }
            }
        }
    }

    fn write(&mut self, r: &Request, bucket_key: bool, out: &mut Vec<KmsCall>, index: usize) {
        let object = self.object(&r.bucket, &r.key, r.object);
        self.not_kms.remove(&object);
        if !bucket_key {
            self.objects.insert(object, None);
            out.push(KmsCall {
                time: r.time,
                op: KmsOp::GenerateDataKey,
                request: index,
                session: r.session.clone(),
                bucket: r.bucket.clone(),
                key: Some(r.key.clone()),
                kms_key: r.kms_key.clone(),
            });
            return;
        }
        let requester = self.requester(r);
        let cache = self.cache(requester, object.0, r.time);
        let slot = (requester, object.0, self.name(&r.kms_key), cache);
        let live = self
            .write_cache
            .get(&slot)
            .filter(|(_, expiry)| *expiry > r.time)
            .map(|(id, _)| *id);
        let id = match live {
            Some(id) => id,
            None => {
                let id = self.next_key_id;
                self.next_key_id += 1;
                let expiry = r.time + self.params.bucket_key_ttl_secs;
                self.write_cache.insert(slot, (id, expiry));
                // The writer holds the plaintext key it generated: reads through the same cache
                // need no Decrypt until it expires.
                self.read_cache.insert((requester, id, cache), expiry);
                out.push(KmsCall {
                    time: r.time,
                    op: KmsOp::GenerateDataKey,
                    request: index,
                    session: r.session.clone(),
                    bucket: r.bucket.clone(),
                    key: None,
                    kms_key: r.kms_key.clone(),
                });
                id
            }
        };
        self.objects.insert(object, Some(id));
    }

    /// The calls reading an object (`(bucket, key, number)`) causes.
    fn read(
        &mut self,
        r: &Request,
        (bucket, key, number): (&str, &str, Option<u32>),
        kms_key: &str,
        out: &mut Vec<KmsCall>,
        index: usize,
    ) {
        let object = self.known_object(bucket, key, number);
        if object.is_some_and(|o| self.not_kms.contains(&o)) {
            return;
        }
        let derived = match r.encryption {
            Encryption::DsseKms => None,
            Encryption::SseKms { .. } | Encryption::NotKms => {
                object.and_then(|o| self.objects.get(&o).copied()).flatten()
            }
        };
        let Some(id) = derived else {
            out.push(KmsCall {
                time: r.time,
                op: KmsOp::Decrypt,
                request: index,
                session: r.session.clone(),
                bucket: bucket.to_string(),
                key: Some(key.to_string()),
                kms_key: kms_key.to_string(),
            });
            return;
        };
        let requester = self.requester(r);
        let bucket_name = self.name(bucket);
        let cache = self.cache(requester, bucket_name, r.time);
        let slot = (requester, id, cache);
        if self.read_cache.get(&slot).is_some_and(|&e| e > r.time) {
            return;
        }
        self.read_cache
            .insert(slot, r.time + self.params.bucket_key_ttl_secs);
        out.push(KmsCall {
            time: r.time,
            op: KmsOp::Decrypt,
            request: index,
            session: r.session.clone(),
            bucket: bucket.to_string(),
            key: None,
            kms_key: kms_key.to_string(),
        });
    }

    /// Whether the object's data key was derived from a bucket-level key (`None`: unknown
    /// object).
    /// A request S3 refused (NoSuchKey, AccessDenied, ...): it reads or writes nothing and calls
    /// no KMS, but is counted, so calls keep naming their requests by position.
    pub fn refused(&mut self) {
        self.requests_seen += 1;
    }

    pub fn under_bucket_key(&self, bucket: &str, key: &str, number: Option<u32>) -> Option<bool> {
        let object = self.known_object(bucket, key, number)?;
        self.objects.get(&object).map(|id| id.is_some())
    }

    /// Records that an object exists, written earlier under the one bucket-level key shared
    /// by every such object of its bucket and KMS key (the steady state a what-if assumes).
    /// `number` as [`Request::object`].
    pub fn preexisting_shared(
        &mut self,
        bucket: &str,
        key: &str,
        number: Option<u32>,
        kms_key: &str,
    ) {
        let object = self.object(bucket, key, number);
        let slot = (object.0, self.name(kms_key));
        let id = match self.shared_keys.get(&slot) {
            Some(id) => *id,
            None => {
                let id = self.next_key_id;
                self.next_key_id += 1;
                self.shared_keys.insert(slot, id);
                id
            }
        };
        self.objects.insert(object, Some(id));
    }

    /// Records that an object exists, written earlier under a per-object key or a bucket-level
    /// key, without a KMS call (objects older than the trail).
    /// Records that an object exists, written earlier with SSE-S3 or SSE-C.
    pub fn preexisting_not_kms(&mut self, bucket: &str, key: &str, number: Option<u32>) {
        let object = self.object(bucket, key, number);
        self.objects.remove(&object);
        self.not_kms.insert(object);
    }

    pub fn preexisting(
        &mut self,
        bucket: &str,
        key: &str,
        number: Option<u32>,
        under_bucket_key: bool,
    ) {
        let id = under_bucket_key.then(|| {
            let id = self.next_key_id;
            self.next_key_id += 1;
            id
        });
        let object = self.object(bucket, key, number);
        self.objects.insert(object, id);
    }
}

/// Counts calls by operation.
pub fn count(calls: &[KmsCall], op: KmsOp) -> usize {
    calls.iter().filter(|c| c.op == op).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(time: i64, session: &str, op: Op, key: &str, bucket_key: bool) -> Request {
        Request {
            time,
            session: format!("arn:aws:sts::111122223333:assumed-role/app/{session}"),
            role: "arn:aws:iam::111122223333:role/app".into(),
            session_policy: String::new(),
            bucket: "bucket".into(),
            key: key.into(),
            object: None,
            kms_key: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            op,
            encryption: Encryption::SseKms { bucket_key },
            source: None,
            source_object: None,
            destination: None,
        }
    }

    /// Seed 000: one requester writes 10,000 objects, then reads them, at 50 requests a second.
    fn seed_000(bucket_key: bool) -> Vec<KmsCall> {
        Engine::run(Params::default(), 7, &seed_000_requests(bucket_key))
    }

    fn seed_000_requests(bucket_key: bool) -> Vec<Request> {
        let mut reqs = Vec::new();
        for i in 0..10_000 {
            reqs.push(request(
                i / 50,
                "s",
                Op::PutObject,
                &format!("user-1/{i}"),
                bucket_key,
            ));
        }
        for i in 0..10_000 {
            let t = 10_000 / 50 + 60 + i / 50;
            reqs.push(request(
                t,
                "s",
                Op::GetObject,
                &format!("user-1/{i}"),
                bucket_key,
            ));
        }
        reqs
    }

    /// Objects kept by the caller's numbers ([`Request::object`], the simulator's) cause the
    /// same calls as objects kept by their keys, copies' sources and SSE-S3 objects included.
    #[test]
    fn numbered_objects_behave_as_keyed_ones() {
        for bucket_key in [false, true] {
            let keyed = seed_000_requests(bucket_key);
            let number = |key: &str| key.rsplit('/').next().unwrap().parse::<u32>().unwrap();
            let mut numbered: Vec<Request> = keyed
                .iter()
                .cloned()
                .map(|mut r| {
                    r.object = Some(number(&r.key));
                    r
                })
                .collect();
            let mut keyed = keyed;
            // A copy of object 7 to object 20,000, read back; an SSE-S3 write of object 3, read.
            let mut copy = request(400, "s", Op::CopyObject, "user-1/20000", bucket_key);
            copy.source = Some(("bucket".into(), "user-1/7".into(), copy.kms_key.clone()));
            let read = request(401, "s", Op::GetObject, "user-1/20000", bucket_key);
            let mut sse_s3 = request(402, "s", Op::PutObject, "user-1/3", false);
            sse_s3.encryption = Encryption::NotKms;
            let read_3 = request(403, "s", Op::GetObject, "user-1/3", bucket_key);
            keyed.extend([copy.clone(), read.clone(), sse_s3.clone(), read_3.clone()]);
            for mut r in [copy, read, sse_s3, read_3] {
                r.object = Some(number(&r.key));
                r.source_object = r.source.as_ref().map(|(_, k, _)| number(k));
                numbered.push(r);
            }
            let calls = |reqs: &[Request]| Engine::run(Params::default(), 7, reqs);
            assert_eq!(calls(&numbered), calls(&keyed), "bucket keys {bucket_key}");
            // Seeing neither the key nor the number, the engine knows nothing of the object.
            let mut e = Engine::new(Params::default(), 7);
            e.request(&numbered[0], &mut Vec::new());
            assert_eq!(
                e.under_bucket_key("bucket", "user-1/0", Some(0)),
                Some(bucket_key)
            );
            assert_eq!(e.under_bucket_key("bucket", "user-1/0", None), None);
        }
    }

    /// Objects older than the trail under the bucket's shared key ([`Engine::preexisting_shared`],
    /// the what-if's), recorded by number or by key, are read with the same calls; unrecorded,
    /// each read is a Decrypt of its own.
    #[test]
    fn shared_preexisting_objects_by_number_or_key_read_alike() {
        let reads: Vec<Request> = (0..400)
            .map(|i| request(i / 40, "s", Op::GetObject, &format!("old/{}", i % 50), true))
            .collect();
        let kms = reads[0].kms_key.clone();
        let run = |by_number: Option<bool>| {
            let mut e = Engine::new(Params::default(), 7);
            for n in 0..50u32 {
                if let Some(numbered) = by_number {
                    e.preexisting_shared(
                        "bucket",
                        &format!("old/{n}"),
                        numbered.then_some(n),
                        &kms,
                    );
                }
            }
            let mut out = Vec::new();
            for r in &reads {
                let mut r = r.clone();
                if by_number == Some(true) {
                    r.object = Some(r.key.trim_start_matches("old/").parse().unwrap());
                }
                e.request(&r, &mut out);
            }
            out
        };
        let (numbered, keyed, unknown) = (run(Some(true)), run(Some(false)), run(None));
        assert_eq!(numbered, keyed);
        assert!(
            !keyed.is_empty() && keyed.len() < reads.len(),
            "{}",
            keyed.len()
        );
        assert_eq!(unknown.len(), reads.len());
    }

    /// The same requester busy in another bucket in the same seconds changes nothing of a
    /// bucket's calls: its caches and their draws are its own (a bucket can be reported, filtered
    /// or partitioned alone). Before, the other bucket's requests raised the requester's rate and
    /// took draws from the one stream.
    #[test]
    fn a_buckets_calls_do_not_depend_on_other_buckets_traffic() {
        let alone = seed_000(true);
        let mut mixed = Vec::new();
        for r in seed_000_requests(true) {
            let mut other = r.clone();
            other.bucket = "another-bucket".into();
            other.key = format!("other/{}", r.key);
            mixed.push(other);
            mixed.push(r);
        }
        let calls = Engine::run(Params::default(), 7, &mixed);
        let ours: Vec<(i64, KmsOp, &str)> = calls
            .iter()
            .filter(|c| c.bucket == "bucket")
            .map(|c| (c.time, c.op, c.kms_key.as_str()))
            .collect();
        let expected: Vec<(i64, KmsOp, &str)> = alone
            .iter()
            .map(|c| (c.time, c.op, c.kms_key.as_str()))
            .collect();
        assert_eq!(ours, expected);
        // The other bucket, with the same traffic, makes as many calls.
        assert_eq!(calls.len(), 2 * alone.len());
    }

    #[test]
    fn seed_000_without_bucket_keys_costs_one_call_per_request() {
        let calls = seed_000(false);
        assert_eq!(count(&calls, KmsOp::GenerateDataKey), 10_000);
        assert_eq!(count(&calls, KmsOp::Decrypt), 10_000);
    }

    #[test]
    fn seed_000_with_bucket_keys_lands_near_ten_and_sixty() {
        let calls = seed_000(true);
        let gdk = count(&calls, KmsOp::GenerateDataKey);
        let decrypt = count(&calls, KmsOp::Decrypt);
        eprintln!("seed-000 with bucket keys: {gdk} GenerateDataKey, {decrypt} Decrypt");
        assert!((5..=20).contains(&gdk), "GenerateDataKey {gdk}");
        assert!((30..=120).contains(&decrypt), "Decrypt {decrypt}");
    }

    /// aws-samples/s3-bucketkey-poc: one Lambda session uploads 50 objects, then downloads 9 of
    /// them 100 times, quickly.
    fn poc(bucket_key: bool) -> Vec<KmsCall> {
        let mut reqs = Vec::new();
        for i in 0..50 {
            reqs.push(request(
                i / 10,
                "lambda",
                Op::PutObject,
                &format!("o{i}"),
                bucket_key,
            ));
        }
        for i in 0..100 {
            let key = format!("o{}", i % 9);
            reqs.push(request(
                10 + i / 20,
                "lambda",
                Op::GetObject,
                &key,
                bucket_key,
            ));
        }
        Engine::run(Params::default(), 7, &reqs)
    }

    #[test]
    fn the_poc_costs_150_calls_without_bucket_keys_and_a_handful_with() {
        assert_eq!(poc(false).len(), 150);
        let with = poc(true).len();
        eprintln!("poc with a bucket key: {with} calls");
        assert!((2..=6).contains(&with), "{with} calls");
    }

    #[test]
    fn ten_sessions_of_one_role_share_one_key_unless_modelled_per_session() {
        let reqs: Vec<Request> = (0..10)
            .map(|s| request(0, &format!("i-{s}"), Op::PutObject, &format!("k{s}"), true))
            .collect();
        // The current S3 user guide: one role, one session policy, one requester.
        let calls = Engine::run(Params::default(), 1, &reqs);
        assert_eq!(count(&calls, KmsOp::GenerateDataKey), 1);
        let per_session = Params {
            sharing: Sharing::PerSession,
            ..Params::default()
        };
        let per_session = Engine::run(per_session, 1, &reqs);
        assert_eq!(count(&per_session, KmsOp::GenerateDataKey), 10);
    }

    #[test]
    fn a_copy_decrypts_the_source_and_generates_for_the_destination() {
        let mut copy = request(0, "s", Op::CopyObject, "dst", false);
        copy.source = Some(("src-bucket".into(), "src".into(), "arn:k2".into()));
        let calls = Engine::run(Params::default(), 1, &[copy]);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].op, KmsOp::Decrypt);
        assert_eq!(calls[0].bucket, "src-bucket");
        assert_eq!(calls[1].op, KmsOp::GenerateDataKey);
    }

    #[test]
    fn replication_decrypts_the_source_and_encrypts_the_replica() {
        let mut r = request(0, "replication", Op::Replicate, "obj", false);
        r.source = Some(("bucket".into(), "obj".into(), "arn:src-key".into()));
        r.destination = Some(("replica-bucket".into(), "arn:dst-key".into()));
        let calls = Engine::run(Params::default(), 1, &[r]);
        let ops: Vec<_> = calls
            .iter()
            .map(|c| (c.op, c.bucket.as_str(), c.kms_key.as_str()))
            .collect();
        assert_eq!(
            ops,
            [
                (KmsOp::Decrypt, "bucket", "arn:src-key"),
                (KmsOp::Encrypt, "replica-bucket", "arn:dst-key")
            ]
        );
    }

    #[test]
    fn dsse_never_uses_bucket_keys_and_head_calls_nothing() {
        let mut put = request(0, "s", Op::PutObject, "a", true);
        put.encryption = Encryption::DsseKms;
        let mut get = request(0, "s", Op::GetObject, "a", true);
        get.encryption = Encryption::DsseKms;
        let head = request(0, "s", Op::HeadObject, "a", true);
        let calls = Engine::run(Params::default(), 1, &[put, get.clone(), get, head]);
        assert_eq!(calls.len(), 3);
    }

    #[test]
    fn objects_older_than_the_bucket_key_still_cost_a_decrypt_per_read() {
        let mut e = Engine::new(Params::default(), 1);
        e.preexisting("bucket", "old", None, false);
        let mut out = Vec::new();
        for t in 0..3 {
            e.request(&request(t, "s", Op::GetObject, "old", true), &mut out);
        }
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|c| c.key.is_some()));
    }
}
