//! `keytrail quota`: how close each account and Region comes to the KMS request quota.
//!
//! Every symmetric cryptographic call counts (docs/domain.md 6): S3's and every other caller's,
//! failed ones too, in the caller's account and the call's Region, per second of `eventTime`.
//! Percentiles are over every second of the window, quiet seconds (zero calls) included, by
//! the nearest-rank method: the p-th percentile is the value at rank ceil(p x N) of the N
//! seconds sorted ascending.

use crate::event::{Failure, Mode};
use crate::intern::Sym;
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

fn top(counts: HashMap<Sym, u64>, name: impl Fn(Sym) -> String) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().map(|(s, n)| (name(s), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(TOP_CONTRIBUTORS);
    v
}

/// Builds the quota report.
pub fn quota(j: &Joined, what_if: &WhatIf, quotas: &Quotas, window: Window) -> QuotaReport {
    let strings = &j.strings;
    let (calls, cross_account_copies): (Vec<&CallRec>, u64) =
        (j.calls.iter().collect(), j.shared_calls);
    let mut groups: BTreeMap<(&str, &str), Vec<&CallRec>> = BTreeMap::new();
    for c in calls {
        groups
            .entry((strings.get(c.account), strings.get(c.region)))
            .or_default()
            .push(c);
    }
    let mut projected: HashMap<(Sym, Sym), BTreeMap<i64, u64>> = HashMap::new();
    for &(a, r, t) in &what_if.with_bucket_keys_calls {
        *projected.entry((a, r)).or_default().entry(t).or_default() += 1;
    }
    let mut s3_throttled: HashMap<(&str, &str), u64> = HashMap::new();
    for r in j.s3.iter().filter(|r| r.failure == Failure::Throttled) {
        let requester = strings.get(r.requester);
        let account = crate::event::arn_account(requester).unwrap_or(strings.get(r.account));
        *s3_throttled
            .entry((account, strings.get(r.region)))
            .or_default() += 1;
    }
    let n = window.seconds().max(1) as u64;
    let rows = groups
        .into_iter()
        .map(|((account, region), calls)| {
            let quota = quotas.of(region);
            let mut per_second: BTreeMap<i64, u64> = BTreeMap::new();
            let mut per_object: BTreeMap<i64, u64> = BTreeMap::new();
            for c in &calls {
                *per_second.entry(c.time).or_default() += 1;
                if !c.bucket.is_none()
                    && c.mode == Mode::PerObject
                    && !what_if.dsse_call_ids.contains(&c.id)
                {
                    *per_object.entry(c.time).or_default() += 1;
                }
            }
            let series: Vec<(i64, u64)> = per_second.iter().map(|(&t, &c)| (t, c)).collect();
            let s = stats(&series, n, quota.per_second);
            let peak_times: Vec<i64> = series
                .iter()
                .filter(|&&(_, c)| c == s.peak)
                .map(|&(t, _)| t)
                .collect();
            let mut by = [
                HashMap::new(),
                HashMap::new(),
                HashMap::new(),
                HashMap::new(),
            ];
            for c in calls
                .iter()
                .filter(|c| peak_times.binary_search(&c.time).is_ok())
            {
                for (map, sym) in by
                    .iter_mut()
                    .zip([c.bucket, c.kms_key, c.requester, c.caller])
                {
                    *map.entry(sym).or_insert(0u64) += 1;
                }
            }
            let [buckets, kms_keys, principals, callers] = by;
            let name =
                |none: &'static str| move |s: Sym| strings.get_opt(s).unwrap_or(none).to_string();
            let contributors = Contributors {
                buckets: top(buckets, name("(not S3)")),
                kms_keys: top(kms_keys, name("(unknown key)")),
                principals: top(principals, name("(unknown)")),
                callers: top(callers, name("(unknown)")),
            };
            let key = (
                strings.lookup(account).unwrap_or(Sym::NONE),
                strings.lookup(region).unwrap_or(Sym::NONE),
            );
            let added = projected.get(&key);
            let (what_if_stats, what_if_series) = if per_object.is_empty() && added.is_none() {
                (None, Vec::new())
            } else {
                let mut w = per_second.clone();
                for (t, c) in &per_object {
                    *w.get_mut(t).expect("a subset") -= c;
                }
                for (t, c) in added.into_iter().flatten() {
                    *w.entry(*t).or_default() += c;
                }
                let w: Vec<(i64, u64)> = w.into_iter().filter(|&(_, c)| c > 0).collect();
                (Some(stats(&w, n, quota.per_second)), w)
            };
            QuotaRow {
                account: account.to_string(),
                region: region.to_string(),
                requests: calls.len() as u64,
                throttled: calls
                    .iter()
                    .filter(|c| c.failure == Failure::Throttled)
                    .count() as u64,
                s3_throttled: s3_throttled.get(&(account, region)).copied().unwrap_or(0),
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
        cross_account_copies,
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
