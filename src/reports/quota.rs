//! `keytrail quota`: how close each account and Region comes to the KMS request quota.
//!
//! Every symmetric cryptographic call counts (docs/domain.md 6): S3's and every other caller's,
//! failed ones too, in the caller's account and the call's Region, per second of `eventTime`.
//! Percentiles are over every second of the window, quiet seconds (zero calls) included, by
//! the nearest-rank method: the p-th percentile is the value at rank ceil(p x N) of the N
//! seconds sorted ascending.

use crate::event::{Failure, Mode};
// Maps counted by symbols, before names are looked up, are foldhash's.
use crate::intern::{HashMap as FastMap, Interner, Sym};
use crate::join::Joined;
use crate::pricing::{Quota, Quotas};
use crate::reports::cost::Window;
use crate::reports::whatif::WhatIf;
use crate::trail::records::CallRec;
use std::collections::{BTreeMap, HashMap};

/// Peak seconds listed by time (all are counted).
pub const PEAK_SECONDS_LISTED: usize = 10;
/// Contributors listed per kind at the peak.
pub const TOP_CONTRIBUTORS: usize = 5;

/// Who made the calls of the peak seconds, largest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contributors {
    pub buckets: Vec<(String, u64)>,
    pub kms_keys: Vec<(String, u64)>,
    pub principals: Vec<(String, u64)>,
    pub callers: Vec<(String, u64)>,
}

/// Per-second figures of one series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub peak: u64,
    pub p99: u64,
    pub p999: u64,
    /// Seconds above 50 % and 80 % of the quota.
    pub above_half: u64,
    pub above_80: u64,
}

/// One account and Region.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaRow {
    pub account: String,
    pub region: String,
    pub quota: Quota,
    pub requests: u64,
    pub stats: Stats,
    /// The seconds at the peak, first ones first (at most [`PEAK_SECONDS_LISTED`]).
    pub peak_seconds: Vec<i64>,
    pub peak_second_count: usize,
    /// `ThrottlingException` errors observed on KMS calls.
    pub throttled: u64,
    /// S3 requests (data events) of this account and Region that failed as throttled: what
    /// S3's callers see when KMS throttles S3.
    pub s3_throttled: u64,
    pub contributors: Contributors,
    /// The same with bucket keys on for the S3 traffic that ran per object (projected);
    /// `None` when nothing ran per object.
    pub what_if: Option<Stats>,
    /// Non-zero seconds: (time, calls), in time order.
    pub series: Vec<(i64, u64)>,
    /// The what-if's non-zero seconds.
    pub what_if_series: Vec<(i64, u64)>,
}

impl QuotaRow {
    /// The peak as a share of the quota.
    pub fn peak_use(&self) -> f64 {
        self.stats.peak as f64 / self.quota.per_second as f64
    }
}

/// The result of `keytrail quota`.
#[derive(Debug, Clone)]
pub struct QuotaReport {
    pub window: Window,
    pub rows: Vec<QuotaRow>,
    pub cross_account_copies: u64,
}

/// The nearest-rank percentile `p` (0..=1) of `n` seconds, of which `sorted` (ascending) are
/// the non-zero counts and the rest are zero.
pub fn percentile(sorted: &[u64], n: u64, p: f64) -> u64 {
    if n == 0 {
        return 0;
    }
    // Never fewer seconds than busy ones (a window always holds its calls; this keeps the
    // arithmetic safe if one did not).
    let n = n.max(sorted.len() as u64);
    let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
    let zeros = n - sorted.len() as u64;
    if rank <= zeros {
        0
    } else {
        sorted[(rank - zeros - 1) as usize]
    }
}

/// The figures of a series of non-zero seconds over a window of `n` seconds.
pub fn stats(series: &[(i64, u64)], n: u64, quota: u64) -> Stats {
    let mut sorted: Vec<u64> = series.iter().map(|&(_, c)| c).collect();
    sorted.sort_unstable();
    let above = |share: f64| {
        series
            .iter()
            .filter(|&&(_, c)| c as f64 > share * quota as f64)
            .count() as u64
    };
    Stats {
        peak: sorted.last().copied().unwrap_or(0),
        p99: percentile(&sorted, n, 0.99),
        p999: percentile(&sorted, n, 0.999),
        above_half: above(0.5),
        above_80: above(0.8),
    }
}

fn top(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP_CONTRIBUTORS);
    v
}

/// An account and Region, by name.
type Place = (String, String);

/// One account and Region's calls in a part of the trail.
#[derive(Default)]
struct Series {
    /// Calls per second.
    per_second: BTreeMap<i64, u64>,
    /// S3's calls per object per second (what bucket keys would replace).
    per_object: BTreeMap<i64, u64>,
    requests: u64,
    throttled: u64,
}

/// The quota figures of one joined part of the trail (all of it, or a group of buckets past
/// the memory budget): per-second counts per account and Region, what [`finish`] adds up.
/// The callers of the peak seconds are counted in a second look at the parts
/// ([`contributors`]), once the totals say which seconds peak.
#[derive(Default)]
pub struct Part {
    series: BTreeMap<Place, Series>,
    /// The what-if's calls per second with bucket keys on for the per-object traffic.
    projected: HashMap<Place, BTreeMap<i64, u64>>,
    s3_throttled: HashMap<Place, u64>,
    cross_account_copies: u64,
}

/// Counts one joined part of the trail: by the symbols of account and Region first, then by
/// name once per account and Region.
pub fn part(j: &Joined, what_if: &WhatIf) -> Part {
    let strings = &j.strings;
    let name = |s: Sym| strings.get(s).to_string();
    let place = |(a, r): (Sym, Sym)| (name(a), name(r));
    let mut series: FastMap<(Sym, Sym), Series> = FastMap::default();
    for c in &j.calls {
        let g = series.entry((c.account, c.region)).or_default();
        *g.per_second.entry(c.time).or_default() += 1;
        if !c.bucket.is_none()
            && c.mode == Mode::PerObject
            && !what_if.dsse_call_ids.contains(&c.id)
        {
            *g.per_object.entry(c.time).or_default() += 1;
        }
        g.requests += 1;
        if c.failure == Failure::Throttled {
            g.throttled += 1;
        }
    }
    let mut projected: FastMap<(Sym, Sym), BTreeMap<i64, u64>> = FastMap::default();
    for &(a, r, t) in &what_if.with_bucket_keys_calls {
        *projected.entry((a, r)).or_default().entry(t).or_default() += 1;
    }
    let mut p = Part {
        cross_account_copies: j.shared_calls,
        ..Part::default()
    };
    // Added up by name: symbols that name the same text (an absent Region and an empty one)
    // count as one place, as they did when counted by name.
    for (k, s) in series {
        p.series.entry(place(k)).or_default().absorb(s);
    }
    for (k, s) in projected {
        add(p.projected.entry(place(k)).or_default(), s);
    }
    for r in j.s3.iter().filter(|r| r.failure == Failure::Throttled) {
        let requester = strings.get(r.requester);
        let account = crate::event::arn_account(requester).unwrap_or(strings.get(r.account));
        *p.s3_throttled
            .entry((account.to_string(), name(r.region)))
            .or_default() += 1;
    }
    p
}

/// The parts' counts added up.
pub struct Totals {
    series: BTreeMap<Place, Series>,
    projected: HashMap<Place, BTreeMap<i64, u64>>,
    s3_throttled: HashMap<Place, u64>,
    cross_account_copies: u64,
}

impl Series {
    /// Adds `other`'s counts to these.
    fn absorb(&mut self, other: Series) {
        add(&mut self.per_second, other.per_second);
        add(&mut self.per_object, other.per_object);
        self.requests += other.requests;
        self.throttled += other.throttled;
    }
}

fn add(into: &mut BTreeMap<i64, u64>, from: BTreeMap<i64, u64>) {
    for (t, n) in from {
        *into.entry(t).or_default() += n;
    }
}

/// Adds up the parts' counts.
pub fn totals(parts: Vec<Part>) -> Totals {
    let mut t = Totals {
        series: BTreeMap::new(),
        projected: HashMap::new(),
        s3_throttled: HashMap::new(),
        cross_account_copies: 0,
    };
    for p in parts {
        for (place, s) in p.series {
            t.series.entry(place).or_default().absorb(s);
        }
        for (place, series) in p.projected {
            add(t.projected.entry(place).or_default(), series);
        }
        for (place, n) in p.s3_throttled {
            *t.s3_throttled.entry(place).or_default() += n;
        }
        t.cross_account_copies += p.cross_account_copies;
    }
    t
}

impl Totals {
    /// Each account and Region's peak seconds, in time order.
    pub fn peaks(&self) -> Peaks {
        Peaks(
            self.series
                .iter()
                .map(|(place, s)| {
                    let peak = s.per_second.values().copied().max().unwrap_or(0);
                    let at = s
                        .per_second
                        .iter()
                        .filter(|&(_, &c)| c == peak)
                        .map(|(&t, _)| t)
                        .collect();
                    (place.clone(), at)
                })
                .collect(),
        )
    }
}

/// Each account and Region's peak seconds, in time order.
pub struct Peaks(BTreeMap<Place, Vec<i64>>);

/// Who made the calls of the peak seconds, in one part: by bucket, KMS key, principal and
/// caller, by name.
pub struct PeakCallers(BTreeMap<Place, [HashMap<String, u64>; 4]>);

/// Counts the callers of one part's calls (deduplicated, as a joined part has them) in the
/// peak seconds: by symbol first, then by name once per distinct caller.
pub fn contributors(strings: &Interner, calls: &[CallRec], peaks: &Peaks) -> PeakCallers {
    let name = |s: Sym, none: &str| strings.get_opt(s).unwrap_or(none).to_string();
    const NONE: [&str; 4] = ["(not S3)", "(unknown key)", "(unknown)", "(unknown)"];
    // Each account and Region's peak seconds, looked up by name once.
    let mut at: FastMap<(Sym, Sym), Option<&Vec<i64>>> = FastMap::default();
    let mut counts: FastMap<(Sym, Sym), [FastMap<Sym, u64>; 4]> = FastMap::default();
    for c in calls {
        let key = (c.account, c.region);
        let Some(seconds) = *at.entry(key).or_insert_with(|| {
            peaks.0.get(&(
                strings.get(c.account).to_string(),
                strings.get(c.region).to_string(),
            ))
        }) else {
            continue;
        };
        if seconds.binary_search(&c.time).is_err() {
            continue;
        }
        let by = counts.entry(key).or_default();
        for (map, sym) in by
            .iter_mut()
            .zip([c.bucket, c.kms_key, c.requester, c.caller])
        {
            *map.entry(sym).or_default() += 1;
        }
    }
    let mut out: BTreeMap<Place, [HashMap<String, u64>; 4]> = BTreeMap::new();
    for ((a, r), by) in counts {
        let into = out
            .entry((strings.get(a).to_string(), strings.get(r).to_string()))
            .or_default();
        for ((into, from), none) in into.iter_mut().zip(by).zip(NONE) {
            for (sym, n) in from {
                *into.entry(name(sym, none)).or_default() += n;
            }
        }
    }
    PeakCallers(out)
}

/// Builds the quota report.
pub fn quota(j: &Joined, what_if: &WhatIf, quotas: &Quotas, window: Window) -> QuotaReport {
    let totals = totals(vec![part(j, what_if)]);
    let callers = contributors(&j.strings, &j.calls, &totals.peaks());
    finish(totals, vec![callers], quotas, window)
}

/// The quota report of a trail from its parts' totals and the callers of its peak seconds.
pub fn finish(
    totals: Totals,
    callers: Vec<PeakCallers>,
    quotas: &Quotas,
    window: Window,
) -> QuotaReport {
    let mut peak_callers: BTreeMap<Place, [HashMap<String, u64>; 4]> = BTreeMap::new();
    for part in callers {
        for (place, by) in part.0 {
            let into = peak_callers.entry(place).or_default();
            for (into, from) in into.iter_mut().zip(by) {
                for (name, n) in from {
                    *into.entry(name).or_default() += n;
                }
            }
        }
    }
    let n = window.seconds().max(1) as u64;
    let rows = totals
        .series
        .into_iter()
        .map(|(place, g)| {
            let (account, region) = &place;
            let quota = quotas.of(region);
            let series: Vec<(i64, u64)> = g.per_second.iter().map(|(&t, &c)| (t, c)).collect();
            let s = stats(&series, n, quota.per_second);
            let peak_times: Vec<i64> = series
                .iter()
                .filter(|&&(_, c)| c == s.peak)
                .map(|&(t, _)| t)
                .collect();
            let [buckets, kms_keys, principals, callers] =
                peak_callers.remove(&place).unwrap_or_default();
            let contributors = Contributors {
                buckets: top(buckets),
                kms_keys: top(kms_keys),
                principals: top(principals),
                callers: top(callers),
            };
            let added = totals.projected.get(&place);
            let (what_if_stats, what_if_series) = if g.per_object.is_empty() && added.is_none() {
                (None, Vec::new())
            } else {
                let mut w = g.per_second.clone();
                for (t, c) in &g.per_object {
                    *w.get_mut(t).expect("a subset") -= c;
                }
                for (t, c) in added.into_iter().flatten() {
                    *w.entry(*t).or_default() += c;
                }
                let w: Vec<(i64, u64)> = w.into_iter().filter(|&(_, c)| c > 0).collect();
                (Some(stats(&w, n, quota.per_second)), w)
            };
            QuotaRow {
                account: account.clone(),
                region: region.clone(),
                requests: g.requests,
                throttled: g.throttled,
                s3_throttled: totals.s3_throttled.get(&place).copied().unwrap_or(0),
                peak_second_count: peak_times.len(),
                peak_seconds: peak_times.into_iter().take(PEAK_SECONDS_LISTED).collect(),
                quota,
                stats: s,
                contributors,
                what_if: what_if_stats,
                series,
                what_if_series,
            }
        })
        .collect();
    QuotaReport {
        window,
        rows,
        cross_account_copies: totals.cross_account_copies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_count_quiet_seconds_by_nearest_rank() {
        // 1,000 seconds: 990 quiet, 9 at 5 calls, one at 100.
        let mut sorted = vec![5; 9];
        sorted.push(100);
        assert_eq!(percentile(&sorted, 1000, 0.99), 0);
        assert_eq!(percentile(&sorted, 1000, 0.991), 5);
        assert_eq!(percentile(&sorted, 1000, 0.999), 5);
        assert_eq!(percentile(&sorted, 1000, 1.0), 100);
        assert_eq!(percentile(&[], 10, 0.99), 0);
        assert_eq!(percentile(&[7], 1, 0.5), 7);
        assert_eq!(percentile(&[1, 2, 3], 1, 0.5), 2);
    }

    #[test]
    fn stats_count_seconds_above_shares_of_the_quota() {
        let series = [(0, 40), (1, 51), (2, 81), (3, 100)];
        let s = stats(&series, 4, 100);
        assert_eq!(s.peak, 100);
        assert_eq!((s.above_half, s.above_80), (3, 2));
        assert_eq!(s.p99, 100);
    }
}
