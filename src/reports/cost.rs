//! `keytrail cost`: what the KMS requests in a trail cost, projected to a month, and what bucket
//! keys are worth.
//!
//! Every KMS call counts, S3's and every other caller's, in the caller's account (the one
//! billed). The projection is plain: requests observed in the window x (month days x 86,400 /
//! window seconds). The free tier (per account, across Regions) comes off the projected month;
//! customer managed keys cost a flat monthly fee in the account that owns them.

use crate::event::arn_account;
use crate::intern::{HashMap, HashSet, Interner, Sym};
use crate::join::Joined;
use crate::pricing::Prices;
use crate::reports::whatif::{BucketWhatIf, WhatIf};
use std::collections::{BTreeMap, BTreeSet};

/// The time window the requests were observed in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: i64,
    /// Exclusive.
    pub end: i64,
    /// `--since/--until`, or the span of the records read.
    pub from_flags: bool,
}

impl Window {
    /// The window of a run: `--since`/`--until` where given, else from the first record's
    /// second to the end of the last one's. `None` when the trail has no events.
    pub fn of(
        since: Option<i64>,
        until: Option<i64>,
        first: Option<i64>,
        last: Option<i64>,
    ) -> Option<Window> {
        let start = since.or(first)?;
        let end = until.or(last.map(|l| l + 1))?;
        (end > start).then_some(Window {
            start,
            end,
            from_flags: since.is_some() && until.is_some(),
        })
    }
    pub fn seconds(&self) -> i64 {
        self.end - self.start
    }
}

/// What a line of the cost report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Account,
    KmsKey,
    Bucket,
    /// Calls made for anything but S3 objects, by the first key of their context.
    OtherCaller,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::KmsKey => "kms_key",
            Scope::Bucket => "bucket",
            Scope::OtherCaller => "other_caller",
        }
    }
}

/// One line: an account, or a KMS key, bucket or other caller within it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub scope: Scope,
    pub account: String,
    /// The key ARN, bucket or context key; the account itself on account lines.
    pub name: String,
    /// KMS requests observed in the window.
    pub requests: u64,
    pub monthly_requests: f64,
    /// Request charges after the free tier: the account's, or this line's share of it.
    pub request_usd: f64,
    pub key_usd: f64,
    /// Key lines: `customer` or `aws`.
    pub key_manager: Option<&'static str>,
    /// Bucket and account lines: bucket keys on this traffic (`on`, `off`, `mixed`).
    pub bucket_keys: Option<&'static str>,
    /// Monthly requests of the same traffic with and without bucket keys (one of the two is
    /// observed, the other projected by the envelope engine).
    pub monthly_with_bucket_keys: Option<f64>,
    pub monthly_without_bucket_keys: Option<f64>,
    /// Dollars a month that turning bucket keys on for all of this traffic would save, and
    /// that turning them off would cost: at list price for a bucket, after the free tier for
    /// an account. Zero where they are already on (or off).
    pub turning_on_saves_usd: Option<f64>,
    pub turning_off_costs_usd: Option<f64>,
}

impl Line {
    /// A line with its counts and charge share, and nothing else.
    fn new(
        scope: Scope,
        account: &str,
        name: &str,
        requests: u64,
        month: f64,
        request_usd: f64,
    ) -> Line {
        Line {
            scope,
            account: account.to_string(),
            name: name.to_string(),
            requests,
            monthly_requests: requests as f64 * month,
            request_usd,
            key_usd: 0.0,
            key_manager: None,
            bucket_keys: None,
            monthly_with_bucket_keys: None,
            monthly_without_bucket_keys: None,
            turning_on_saves_usd: None,
            turning_off_costs_usd: None,
        }
    }

    pub fn total_usd(&self) -> f64 {
        self.request_usd + self.key_usd
    }
}

/// The result of `keytrail cost`.
#[derive(Debug, Clone)]
pub struct CostReport {
    pub window: Window,
    pub prices: Prices,
    /// Accounts first, each followed by its keys, buckets and other callers.
    pub lines: Vec<Line>,
    /// Calls logged in two accounts (cross-account key use), counted once.
    pub cross_account_copies: u64,
    /// Notes about this trail's figures (a lower bound, a bucket without a projection).
    pub notes: Vec<String>,
}

impl CostReport {
    pub fn month_factor(&self) -> f64 {
        self.prices.month_factor(self.window.seconds())
    }
}

/// A name as the report orders it: a KMS key, or another caller's purpose, by its text, the
/// unnamed one (no key in the record) last, as the join's symbols order them.
type Name = (bool, String);

fn name_of(strings: &Interner, s: Sym) -> Name {
    (s.is_none(), strings.get(s).to_string())
}

#[derive(Default)]
struct Acc {
    requests: u64,
    keys: BTreeMap<Name, u64>,
    buckets: BTreeMap<String, u64>,
    others: BTreeMap<Name, u64>,
}

/// The cost figures of one joined part of the trail (all of it, or a group of buckets past the
/// memory budget): counts by account, key, bucket and caller, what [`finish`] adds up and
/// prices. Calls are counted in the part of their bucket (other callers' by their ID), once.
#[derive(Default)]
pub struct Part {
    accounts: BTreeMap<String, Acc>,
    /// Keys a call named by an AWS managed alias.
    aws_managed: BTreeSet<Name>,
    /// (owner account, key) of every key named by ARN.
    key_owners: BTreeSet<(String, Name)>,
    what_if: BTreeMap<(String, String), BucketWhatIf>,
    cross_account_copies: u64,
}

/// Builds the cost report.
pub fn cost(j: &Joined, what_if: &WhatIf, prices: &Prices, window: Window) -> CostReport {
    finish(vec![part(j, what_if)], prices, window)
}

/// Counts one joined part of the trail: by symbol first (a call costs a few hash-map
/// increments), then by name once per distinct account, key, bucket and caller.
pub fn part(j: &Joined, what_if: &WhatIf) -> Part {
    let strings: &Interner = &j.strings;
    let mut p = Part {
        cross_account_copies: j.shared_calls,
        what_if: what_if.by_name(strings),
        ..Part::default()
    };
    // (account, key or bucket or purpose) -> calls; and each key's flags, once per key.
    let mut keys: HashMap<(Sym, Sym), u64> = HashMap::default();
    let mut buckets: HashMap<(Sym, Sym), u64> = HashMap::default();
    let mut others: HashMap<(Sym, Sym), u64> = HashMap::default();
    let mut aws_managed: HashSet<Sym> = HashSet::default();
    for c in &j.calls {
        *keys.entry((c.account, c.kms_key)).or_default() += 1;
        if c.bucket.is_none() {
            *others.entry((c.account, c.purpose)).or_default() += 1;
        } else {
            *buckets.entry((c.account, c.bucket)).or_default() += 1;
        }
        if c.aws_managed {
            aws_managed.insert(c.kms_key);
        }
    }
    fn account<'a>(
        accounts: &'a mut BTreeMap<String, Acc>,
        strings: &Interner,
        a: Sym,
    ) -> &'a mut Acc {
        accounts.entry(strings.get(a).to_string()).or_default()
    }
    for (&(a, key), &n) in &keys {
        let acc = account(&mut p.accounts, strings, a);
        acc.requests += n;
        *acc.keys.entry(name_of(strings, key)).or_default() += n;
    }
    for (&(a, b), &n) in &buckets {
        *account(&mut p.accounts, strings, a)
            .buckets
            .entry(strings.get(b).to_string())
            .or_default() += n;
    }
    for (&(a, purpose), &n) in &others {
        *account(&mut p.accounts, strings, a)
            .others
            .entry(name_of(strings, purpose))
            .or_default() += n;
    }
    p.aws_managed = aws_managed.iter().map(|&k| name_of(strings, k)).collect();
    for &(_, key) in keys.keys() {
        if let Some(owner) = strings.get_opt(key).and_then(arn_account) {
            p.key_owners
                .insert((owner.to_string(), name_of(strings, key)));
        }
    }
    p
}

/// The cost report of a trail from its parts' counts.
pub fn finish(parts: Vec<Part>, prices: &Prices, window: Window) -> CostReport {
    let mut accounts: BTreeMap<String, Acc> = BTreeMap::new();
    let mut aws_managed: BTreeSet<Name> = BTreeSet::new();
    let mut key_owners: BTreeSet<(String, Name)> = BTreeSet::new();
    let mut buckets_what_if: BTreeMap<(String, String), BucketWhatIf> = BTreeMap::new();
    let mut cross_account_copies = 0;
    for p in parts {
        for (account, acc) in p.accounts {
            let a = accounts.entry(account).or_default();
            a.requests += acc.requests;
            for (map, from) in [(&mut a.keys, acc.keys), (&mut a.others, acc.others)] {
                for (k, n) in from {
                    *map.entry(k).or_default() += n;
                }
            }
            for (b, n) in acc.buckets {
                *a.buckets.entry(b).or_default() += n;
            }
        }
        aws_managed.extend(p.aws_managed);
        key_owners.extend(p.key_owners);
        // Parts hold different buckets.
        buckets_what_if.extend(p.what_if);
        cross_account_copies += p.cross_account_copies;
    }
    // kms_key_matches keeps everything for an empty list; here an empty list names no key.
    let user_says_aws = |key: &Name| {
        !prices.aws_managed_keys.is_empty()
            && !key.0
            && crate::trail::filter::kms_key_matches(&prices.aws_managed_keys, Some(&key.1))
    };
    let is_aws_managed = |key: &Name| aws_managed.contains(key) || user_says_aws(key);
    // Customer managed keys seen, charged to the account that owns them.
    let mut owned: BTreeMap<String, BTreeSet<Name>> = BTreeMap::new();
    for (owner, key) in key_owners {
        if !is_aws_managed(&key) {
            owned.entry(owner).or_default().insert(key);
        }
    }
    for owner in owned.keys() {
        accounts.entry(owner.clone()).or_default();
    }

    let month = prices.month_factor(window.seconds());
    let charge =
        |monthly: f64| prices.requests((monthly - prices.free_requests_per_month as f64).max(0.0));
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    for (account, acc) in &accounts {
        let monthly = acc.requests as f64 * month;
        let request_usd = charge(monthly);
        let keys_owned = owned.get(account).map_or(0, |k| k.len());
        let key_usd = keys_owned as f64 * prices.customer_key_per_month();
        let share = |n: u64| {
            if acc.requests == 0 {
                0.0
            } else {
                request_usd * n as f64 / acc.requests as f64
            }
        };
        // What-if over this account's buckets, in bucket order.
        let buckets: Vec<(&String, &BucketWhatIf)> = buckets_what_if
            .range((account.clone(), String::new())..)
            .take_while(|((a, _), _)| a == account)
            .map(|((_, b), w)| (b, w))
            .collect();
        let observed_s3: u64 = buckets
            .iter()
            .map(|(_, w)| w.per_object_calls + w.bucket_key_calls)
            .sum();
        // Buckets without a projection count as observed on both sides.
        let either = |w: &BucketWhatIf, f: fn(&BucketWhatIf) -> u64| {
            if w.projected() {
                f(w)
            } else {
                w.per_object_calls + w.bucket_key_calls
            }
        };
        let with: u64 = buckets
            .iter()
            .map(|(_, w)| either(w, BucketWhatIf::with_bucket_keys))
            .sum();
        let without: u64 = buckets
            .iter()
            .map(|(_, w)| either(w, BucketWhatIf::without_bucket_keys))
            .sum();
        let rest = acc.requests.saturating_sub(observed_s3);
        let projected = buckets.iter().any(|(_, w)| w.projected());
        let state = {
            let states: BTreeSet<_> = buckets.iter().map(|(_, w)| w.bucket_keys()).collect();
            match states.len() {
                0 => None,
                1 => states.first().copied(),
                _ => Some("mixed"),
            }
        };
        let (m_with, m_without) = (
            (rest + with) as f64 * month,
            (rest + without) as f64 * month,
        );
        lines.push(Line {
            scope: Scope::Account,
            account: account.to_string(),
            name: account.to_string(),
            requests: acc.requests,
            monthly_requests: monthly,
            request_usd,
            key_usd,
            key_manager: None,
            bucket_keys: state,
            monthly_with_bucket_keys: projected.then_some(m_with),
            monthly_without_bucket_keys: projected.then_some(m_without),
            turning_on_saves_usd: projected.then(|| request_usd - charge(m_with)),
            turning_off_costs_usd: projected.then(|| charge(m_without) - request_usd),
        });
        let mut keys: BTreeMap<Name, u64> = acc.keys.clone();
        for k in owned.get(account).into_iter().flatten() {
            keys.entry(k.clone()).or_default();
        }
        for (key, n) in keys {
            let manager = if is_aws_managed(&key) {
                "aws"
            } else {
                "customer"
            };
            let charged = owned.get(account).is_some_and(|o| o.contains(&key));
            let name = if key.0 { "(unknown key)" } else { &key.1 };
            lines.push(Line {
                key_usd: if charged {
                    prices.customer_key_per_month()
                } else {
                    0.0
                },
                key_manager: (!key.0).then_some(manager),
                ..Line::new(Scope::KmsKey, account, name, n, month, share(n))
            });
        }
        let what_if_of = |bucket: &String| buckets_what_if.get(&(account.clone(), bucket.clone()));
        for (bucket, n) in &acc.buckets {
            let w = what_if_of(bucket).filter(|w| w.projected());
            lines.push(Line {
                bucket_keys: what_if_of(bucket).map(|w| w.bucket_keys()),
                monthly_with_bucket_keys: w.map(|w| w.with_bucket_keys() as f64 * month),
                monthly_without_bucket_keys: w.map(|w| w.without_bucket_keys() as f64 * month),
                turning_on_saves_usd: w
                    .map(|w| prices.requests((*n as f64 - w.with_bucket_keys() as f64) * month)),
                turning_off_costs_usd: w
                    .map(|w| prices.requests((w.without_bucket_keys() as f64 - *n as f64) * month)),
                ..Line::new(Scope::Bucket, account, bucket, *n, month, share(*n))
            });
        }
        for ((_, purpose), n) in &acc.others {
            lines.push(Line::new(
                Scope::OtherCaller,
                account,
                purpose,
                *n,
                month,
                share(*n),
            ));
        }
        for (bucket, w) in &buckets {
            if w.kms_events_missing() {
                notes.push(format!(
                    "account {account}, bucket {bucket}: S3 requests that ran per object but no \
                     KMS call logged for them (does the trail exclude KMS events?): no what-if"
                ));
            }
        }
        for bucket in acc.buckets.keys() {
            if let Some(w) = what_if_of(bucket) {
                if w.dsse_requests > 0 {
                    notes.push(format!(
                        "account {account}, bucket {bucket}: {} requests are DSSE-KMS, which S3 \
                         uses no bucket keys with (S3 user guide, bucket keys): their {} KMS \
                         calls are the same either way, and no saving is projected for them",
                        w.dsse_requests, w.dsse_calls
                    ));
                }
            }
        }
        if acc
            .buckets
            .keys()
            .any(|b| what_if_of(b).is_some_and(|w| w.unreplayed_bucket_key_calls > 0))
        {
            notes.push(format!(
                "account {account}: some bucket-key calls have no S3 data events, so what they \
                 would cost without bucket keys is a lower bound"
            ));
        }
    }
    CostReport {
        window,
        prices: prices.clone(),
        lines,
        cross_account_copies,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_come_from_flags_or_the_records() {
        let w = Window::of(None, None, Some(100), Some(159)).unwrap();
        assert_eq!(
            (w.start, w.end, w.seconds(), w.from_flags),
            (100, 160, 60, false)
        );
        let w = Window::of(Some(0), Some(86_400), Some(100), Some(159)).unwrap();
        assert_eq!((w.seconds(), w.from_flags), (86_400, true));
        assert_eq!(Window::of(None, None, None, None), None);
    }

    #[test]
    fn key_owners_come_from_key_arns() {
        assert_eq!(
            arn_account("arn:aws:kms:us-east-1:111122223333:key/abc"),
            Some("111122223333")
        );
        assert_eq!(arn_account("alias/aws/s3"), None);
    }
}
