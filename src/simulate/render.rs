//! A simulation rendered as CloudTrail writes it: records ([`super::records`]) grouped into
//! files of the delivered layout, each file's records in a shuffled order, streamed to a sink.

use super::records::{self, Sse};
use super::{kms_arn, name_uuid, scenario, Simulation};
use crate::envelope::{Op, Rng};
use std::collections::BTreeMap;
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
