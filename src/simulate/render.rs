//! A simulation rendered as CloudTrail writes it: records ([`super::records`]) grouped into
//! files of the delivered layout, each file's records in a shuffled order, streamed to a sink.

use super::records::{self, AccessPoint, Delivery, S3Request, Sse};
use super::{kms_arn, name_uuid, scenario, Planned, Second, Simulation};
use crate::envelope::{KmsCall, Op, Rng};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;

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

/// What a record in the trail is, before it is rendered. Requests and calls are numbered in
/// the whole run.
#[derive(Clone, Copy)]
enum Source {
    Request(u64),
    Call(u64),
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

impl Source {
    /// Its place among the records of the same second: requests, calls, noise, other
    /// services' calls, each as generated.
    fn order(&self) -> (u8, u64) {
        match *self {
            Source::Request(i) => (0, i),
            Source::Call(i) => (1, i),
            Source::Noise { session, bucket } => (2, ((session as u64) << 32) | bucket as u64),
            Source::OtherKms { session, bucket } => (3, ((session as u64) << 32) | bucket as u64),
        }
    }
}

/// The requests and calls of the seconds still being rendered: a call's record can be logged
/// up to `kms_skew_secs` before or after its request's, so the plan is kept that long.
struct Recent {
    first_request: u64,
    requests: VecDeque<Planned>,
    first_call: u64,
    calls: VecDeque<KmsCall>,
}

impl Recent {
    fn request(&self, i: u64) -> &Planned {
        &self.requests[(i - self.first_request) as usize]
    }

    fn call(&self, i: u64) -> &KmsCall {
        &self.calls[(i - self.first_call) as usize]
    }

    /// Forgets the requests and calls planned at or before `time`.
    fn forget_through(&mut self, time: i64) {
        while self.requests.front().is_some_and(|r| r.time <= time) {
            self.requests.pop_front();
            self.first_request += 1;
        }
        while self.calls.front().is_some_and(|c| c.time <= time) {
            self.calls.pop_front();
            self.first_call += 1;
        }
    }
}

/// Renders the simulation as the files of a delivered trail tree, in time order, calling
/// `sink` with each file's path and uncompressed JSON as soon as no later record can land in
/// it (late delivery moves a record one file on, no more), and `planned` with each second of
/// the plan as it is made. Digest files come last. The plan is made as the files are written,
/// and memory holds the seconds being rendered and a few files' worth of records, whatever the
/// length of the trail, beside what the plan keeps of each object written ([`super::Plan`]).
pub fn render_stream(
    sim: &Simulation,
    sink: &mut dyn FnMut(PathBuf, FileBuf, bool),
    planned: &mut dyn FnMut(&Second),
) {
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
        // A cross-account request is delivered to the caller's account too, in the Region of
        // the bucket it was made to.
        if trail.cross_account_delivery {
            for b in &sim.buckets {
                for s in &sim.sessions {
                    p.push((s.identity.account.clone(), b.region.clone()));
                }
            }
        }
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
    let bucket_index: HashMap<&str, usize> = sim
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (b.name.as_str(), i))
        .collect();
    let window = trail.file_minutes as i64 * 60;
    let max_file = trail.max_file_mib as usize * (1 << 20);
    let mut shared_ids = Rng::new(sim.seed ^ 0x7368_6172_6564);
    // Each scenario's event IDs are its own, whatever the seed.
    let id_salt = crate::simulate::name_hash(&sim.scenario.name);
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
    let mut record = |time: i64, src: Source, recent: &Recent| {
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
            Source::Request(i) => place_of[recent.request(i).bucket],
            Source::Call(i) => {
                let c = recent.call(i);
                let bi = bucket_index.get(c.bucket.as_str()).copied();
                place_of[bi.unwrap_or(recent.request(c.request as u64).bucket)]
            }
            Source::Noise { bucket, .. } | Source::OtherKms { bucket, .. } => {
                place_of[bucket as usize]
            }
        };
        let w = w_now + i64::from(rng.unit() < trail.late_delivery_rate);
        let duplicate = rng.unit() < trail.duplicate_rate;
        let stamp = time_text(time);
        // A request between accounts, delivered to both when the trail says so: the record in
        // the resource owner's account, and a copy in the caller's.
        let cross = trail
            .cross_account_delivery
            .then(|| cross_account(sim, recent, src))
            .flatten();
        let shared = cross.map(|_| records::salted_uuid(&mut shared_ids, id_salt));
        let file = open.entry((w, place)).or_default();
        file.push_with(|out| {
            let delivery = match (&cross, &shared) {
                (Some((owner, _)), Some(id)) => Delivery {
                    recipient: owner,
                    shared_event_id: Some(id),
                    id_salt,
                },
                _ => Delivery {
                    recipient: caller_account(sim, recent, src),
                    shared_event_id: None,
                    id_salt,
                },
            };
            write_record(out, &mut rng, sim, recent, src, &stamp, delivery)
        });
        // The files this event went into: each is delivered as soon as it is full.
        let mut touched = [Some((w, place)), None, None];
        if duplicate {
            touched[1] = Some((w + 1, place));
            let f = &open[&(w, place)];
            let (start, len) = *f.spans.last().expect("just written");
            let copy = f.data[start as usize..(start + len) as usize].to_vec();
            open.entry((w + 1, place))
                .or_default()
                .push_with(|out| out.extend_from_slice(&copy));
        }
        if let (Some((_, caller)), Some(id)) = (&cross, &shared) {
            let region = &places[place as usize].1;
            let there = places
                .binary_search(&(caller.to_string(), region.clone()))
                .expect("listed") as u32;
            let delivery = Delivery {
                recipient: caller,
                shared_event_id: Some(id),
                id_salt,
            };
            open.entry((w, there))
                .or_default()
                .push_with(|out| write_record(out, &mut rng, sim, recent, src, &stamp, delivery));
            touched[2] = Some((w, there));
        }
        for key in touched.into_iter().flatten() {
            if open.get(&key).is_some_and(|f| f.data.len() >= max_file) {
                let recs = open.remove(&key).expect("just looked");
                finish(&mut rng, key, recs);
            }
        }
    };
    // Records not rendered yet, by second: a call's record is logged up to `kms_skew_secs`
    // from its request's, so a second is rendered once no later plan can add to it.
    let spread = i64::from(trail.kms_skew_secs);
    let mut pending: BTreeMap<i64, Vec<Source>> = BTreeMap::new();
    let mut render_through =
        |through: i64, pending: &mut BTreeMap<i64, Vec<Source>>, recent: &Recent| {
            while let Some(entry) = pending.first_entry() {
                if *entry.key() > through {
                    break;
                }
                let (time, mut sources) = entry.remove_entry();
                // A stable order: requests, calls and unrelated records as generated.
                sources.sort_by_key(Source::order);
                for src in sources {
                    record(time, src, recent);
                }
            }
        };
    // Skew draws from a stream of its own: trails without it are unchanged.
    let mut skew = Rng::new(sim.seed ^ 0x736b_6577);
    // So do unrelated records: their share of all the trail's records, spread evenly over
    // the run (an account's other activity goes on whatever the scenario's traffic does).
    // Their number needs the trail's: the plan is run once ahead to count its records, which
    // costs about 5 % of generating the trail (planning is cheap beside rendering JSON).
    let mut unrelated_rng = Rng::new(sim.seed ^ 0x6e6f_6973_6500);
    let unrelated = trail.noise_share + trail.other_kms_share;
    let mut unrelated_left = [0u64; 2];
    if unrelated > 0.0 && !sim.sessions.is_empty() {
        let logged: u64 = sim.plan().map(|second| logged(trail, &second)).sum();
        let total = logged as f64 / (1.0 - unrelated);
        unrelated_left = [
            (total * trail.noise_share).round() as u64,
            (total * trail.other_kms_share).round() as u64,
        ];
    }
    let mut seconds_left = (sim.end - sim.start).max(1) as u64;
    let mut recent = Recent {
        first_request: 0,
        requests: VecDeque::new(),
        first_call: 0,
        calls: VecDeque::new(),
    };
    for second in sim.plan() {
        planned(&second);
        let at = pending.entry(second.time).or_default();
        for (k, r) in second.requests.iter().enumerate() {
            if logs_request(trail, r) {
                at.push(Source::Request((second.first_request + k) as u64));
            }
        }
        if trail.kms_events {
            for k in 0..second.calls.len() {
                let offset = if spread == 0 {
                    0
                } else {
                    skew.below(2 * spread as u64 + 1) as i64 - spread
                };
                let at = pending.entry(second.calls[k].time + offset).or_default();
                at.push(Source::Call((second.first_call + k) as u64));
            }
        }
        // This second's share of the unrelated records left, the last second all of them.
        for (kind, left) in unrelated_left.iter_mut().enumerate() {
            if *left == 0 {
                continue;
            }
            let n = if seconds_left <= 1 {
                *left
            } else {
                super::draws(&mut unrelated_rng, *left as f64 / seconds_left as f64).min(*left)
            };
            *left -= n;
            let at = pending.entry(second.time).or_default();
            for _ in 0..n {
                let session = unrelated_rng.below(sim.sessions.len() as u64) as u32;
                let bucket = unrelated_rng.below(sim.buckets.len() as u64) as u32;
                at.push(if kind == 1 {
                    Source::OtherKms { session, bucket }
                } else {
                    Source::Noise { session, bucket }
                });
            }
        }
        seconds_left = seconds_left.saturating_sub(1);
        recent.requests.extend(second.requests);
        recent.calls.extend(second.calls);
        render_through(second.time - spread, &mut pending, &recent);
        recent.forget_through(second.time - 2 * spread);
    }
    render_through(i64::MAX, &mut pending, &recent);
    while let Some((key, recs)) = open.pop_first() {
        finish(&mut rng, key, recs);
    }
    if trail.digests {
        for ((account, region, hour), n) in digest_hours {
            let end = (hour + 1) * 3600;
            let d = chrono::DateTime::from_timestamp(end, 0).expect("in range");
            let object = format!(
                "AWSLogs/{account}/CloudTrail-Digest/{region}/{}",
                d.format("%Y/%m/%d")
            );
            let text = records::digest(&records::Digest {
                account: &account,
                start_time: &ts(end - 3600),
                end_time: &ts(end),
                bucket: "trail-logs",
                object: &object,
                fingerprint: &format!("{:032x}", rng.next_u64()),
                newest_event_time: &ts(end - 1),
                oldest_event_time: &ts(end - 3600),
                file_count: n,
            });
            let path = base_dir(trail, &account)
                .join("CloudTrail-Digest")
                .join(&region)
                .join(d.format("%Y/%m/%d").to_string())
                .join(format!(
                    "{account}_CloudTrail-Digest_{region}_management_{region}_{}.json.gz",
                    d.format("%Y%m%dT%H%M%SZ")
                ));
            sink(path, FileBuf::document(text), true);
        }
    }
}

/// Whether the trail logs a request: S3 data events, but not a replication's.
fn logs_request(trail: &scenario::Trail, r: &Planned) -> bool {
    trail.s3_data_events && r.op != Op::Replicate
}

/// The records a second of the plan puts in the trail: the requests it logs, and the calls
/// when it logs KMS events.
fn logged(trail: &scenario::Trail, second: &Second) -> u64 {
    let requests = second
        .requests
        .iter()
        .filter(|r| logs_request(trail, r))
        .count();
    let calls = if trail.kms_events {
        second.calls.len()
    } else {
        0
    };
    (requests + calls) as u64
}

fn base_dir(trail: &scenario::Trail, account: &str) -> PathBuf {
    let mut p = PathBuf::from("AWSLogs");
    if let Some(org) = &trail.organization {
        p.push(org);
    }
    p.push(account);
    p
}

/// The account that made a request or call (its record's `recipientAccountId` when it is
/// delivered to one account only).
fn caller_account<'a>(sim: &'a Simulation, recent: &Recent, src: Source) -> &'a str {
    match src {
        Source::Request(i) => &sim.sessions[recent.request(i).session].identity.account,
        Source::Call(i) => {
            let r = recent.request(recent.call(i).request as u64);
            &sim.sessions[r.session].identity.account
        }
        Source::Noise { session, .. } | Source::OtherKms { session, .. } => {
            &sim.sessions[session as usize].identity.account
        }
    }
}

/// For a request made to a bucket of another account, or a KMS call on a key of another
/// account: (the resource owner's account, the caller's).
fn cross_account<'a>(
    sim: &'a Simulation,
    recent: &'a Recent,
    src: Source,
) -> Option<(&'a str, &'a str)> {
    let caller = caller_account(sim, recent, src);
    let owner = match src {
        Source::Request(i) => sim.buckets[recent.request(i).bucket].account.as_str(),
        Source::Call(i) => {
            let key = &recent.call(i).kms_key;
            key.split(':').nth(4).filter(|a| !a.is_empty())?
        }
        Source::Noise { .. } | Source::OtherKms { .. } => return None,
    };
    (owner != caller).then_some((owner, caller))
}

/// Writes one record of the trail.
fn write_record(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    sim: &Simulation,
    recent: &Recent,
    src: Source,
    stamp: &str,
    delivery: Delivery<'_>,
) {
    match src {
        Source::Request(i) => {
            let r = recent.request(i);
            let b = &sim.buckets[r.bucket];
            let s = &sim.sessions[r.session];
            let copy_source = r
                .source
                .as_ref()
                .map(|(sb, sk, _)| format!("{}/{}", sim.buckets[*sb].name, sk));
            let sse = Sse {
                kind: b.sse,
                kms_key: b.key_for(&r.key),
                bucket_key: r.bucket_key_path
                    && !matches!(r.op, Op::GetObject | Op::UploadPart | Op::HeadObject),
            };
            let alias = r.access_point.as_deref().map(access_point_alias);
            let request = S3Request {
                time: stamp,
                region: &b.region,
                op: r.op.name(),
                bucket: &b.name,
                bucket_account: &b.account,
                key: &r.key,
                partition_head: b.head,
                sse,
                copy_source: copy_source.as_deref(),
                bytes: r.bytes,
                failure: r.failure,
                access_point: r
                    .access_point
                    .as_deref()
                    .zip(alias.as_deref())
                    .map(|(name, alias)| AccessPoint { name, alias }),
            };
            records::s3_request(out, rng, &s.identity, &request, delivery);
        }
        Source::Call(i) => {
            let c = recent.call(i);
            let r = recent.request(c.request as u64);
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
            records::kms_call(
                out,
                rng,
                &s.identity,
                stamp,
                &b.region,
                c.op.name(),
                &arn,
                &r.context,
                &c.kms_key,
                None,
                delivery,
            );
        }
        Source::Noise { session, bucket } => {
            let b = &sim.buckets[bucket as usize];
            let who = &sim.sessions[session as usize].identity;
            records::noise(out, rng, who, stamp, &b.region);
        }
        Source::OtherKms { session, bucket } => {
            let b = &sim.buckets[bucket as usize];
            let who = &sim.sessions[session as usize].identity;
            records::other_service_kms(out, rng, who, stamp, &b.region);
        }
    }
}

/// An access point's alias: its name, 12 characters derived from it, `-s3alias`.
fn access_point_alias(name: &str) -> String {
    let id: String = name_uuid(name).replace('-', "").chars().take(12).collect();
    format!("{name}-{id}-s3alias")
}
