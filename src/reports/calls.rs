//! `analyze`'s report: KMS calls per S3 object, per bucket, group and encryption mode.
//!
//! [`rows`] filters the joined trail (KMS key, context, bucket ARN prefix) and groups it into
//! [`Row`]s; [`analyze`] runs the whole pipeline for a config.

use crate::event::{Failure, KmsOp, Mode, S3Op};
use crate::intern::{HashMap, HashSet, Interner, Sym};
use crate::join::{self, Joined, Resolved};
use crate::summary::Summary;
use crate::trail::config::{AnalyzeConfig, Filters, GroupBy};
use crate::trail::filter::{self, PrefixMatch};
use crate::trail::{Observer, Stopped};
use std::collections::BTreeMap;

/// Runs `analyze` end to end: read, join (a group of buckets at a time past the memory
/// budget), group into rows.
pub fn analyze(cfg: &AnalyzeConfig, observer: &dyn Observer) -> Result<Report, Stopped> {
    let parts = join::run_parts(cfg, observer, |joined| part(joined, cfg))?;
    Ok(finish(parts, cfg))
}

/// One row: a group within a bucket, in one encryption mode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub bucket: String,
    /// The group's value (the bucket itself when grouping by bucket).
    pub group: String,
    pub mode: Mode,
    /// Successful S3 requests by operation, indexed like [`S3Op::ALL`].
    pub s3: [u64; 8],
    /// S3 requests that failed (`errorCode` set): no object read or written, so not in `s3`,
    /// `objects` or the ratio.
    pub s3_errors: u64,
    /// Distinct objects, from S3 requests and per-object KMS contexts.
    pub objects: u64,
    /// KMS calls by operation, indexed like [`KmsOp::ALL`].
    pub kms: [u64; 4],
    /// KMS calls whose group (prefix) was attributed through correlation, not read off the call.
    pub kms_attributed: u64,
    pub kms_throttled: u64,
    pub kms_access_denied: u64,
    pub kms_other_errors: u64,
    /// S3 requests with no KMS call (bucket-key cache hits, or KMS events not logged); never a
    /// CompleteMultipartUpload, whose upload's call was its CreateMultipartUpload's.
    pub unmatched_s3: u64,
    /// KMS calls with no S3 request (data events not logged, or other callers).
    pub unmatched_kms: u64,
}

impl Row {
    pub fn s3_total(&self) -> u64 {
        self.s3.iter().sum()
    }
    pub fn kms_total(&self) -> u64 {
        self.kms.iter().sum()
    }
    pub fn kms_errors(&self) -> u64 {
        self.kms_throttled + self.kms_access_denied + self.kms_other_errors
    }
    pub fn s3_count(&self, op: S3Op) -> u64 {
        self.s3[op as usize]
    }
    pub fn kms_count(&self, op: KmsOp) -> u64 {
        self.kms[op as usize]
    }
    /// KMS calls per distinct object; `None` without objects.
    pub fn kms_per_object(&self) -> Option<f64> {
        ratio(self.kms_total(), self.objects)
    }
    /// KMS calls per S3 request; `None` without S3 requests.
    pub fn kms_per_s3_request(&self) -> Option<f64> {
        ratio(self.kms_total(), self.s3_total())
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// What the run was asked for, echoed in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub group_by: String,
    pub window_secs: i64,
    pub object_window_secs: i64,
    pub filters: Filters,
}

impl Settings {
    pub fn from_config(cfg: &AnalyzeConfig) -> Settings {
        Settings {
            group_by: cfg.group_by.name(),
            window_secs: cfg.window_secs,
            object_window_secs: cfg.object_window_secs,
            filters: cfg.filters.clone(),
        }
    }
}

/// The result of `keytrail analyze`.
#[derive(Debug, Clone)]
pub struct Report {
    pub settings: Settings,
    pub summary: Summary,
    pub rows: Vec<Row>,
    pub warnings: Vec<String>,
    /// S3 data events seen, used or not.
    pub s3_data_events: u64,
}

/// The rows of one pass over the events, found by symbols: an event finds its row with one
/// hash lookup, and each row's group label is made once, at the end.
struct RowMap<'a> {
    group_by: &'a GroupBy,
    strings: &'a Interner,
    rows: HashMap<(Sym, u32, Mode), RowAcc>,
    /// For `prefix:N`: each key's prefix, as a symbol of `prefixes`.
    prefix_of: HashMap<Sym, Sym>,
    prefixes: Interner,
}

impl<'a> RowMap<'a> {
    fn new(group_by: &'a GroupBy, strings: &'a Interner) -> RowMap<'a> {
        RowMap {
            group_by,
            strings,
            rows: HashMap::default(),
            prefix_of: HashMap::default(),
            prefixes: Interner::default(),
        }
    }

    /// The group of an event, as a number [`RowMap::label`] turns into its label.
    fn group(&mut self, key: Sym, requester: Sym, kms_key: Sym, ctx: Sym) -> u32 {
        match self.group_by {
            GroupBy::Bucket => 0,
            GroupBy::Prefix(n) => {
                if key.is_none() {
                    return Sym::NONE.0; // no label: a call that names no object
                }
                let (strings, prefixes) = (self.strings, &mut self.prefixes);
                let prefix = self
                    .prefix_of
                    .entry(key)
                    .or_insert_with(|| prefixes.intern(&key_prefix(strings.get(key), *n)));
                prefix.0
            }
            GroupBy::KmsKey => kms_key.0,
            GroupBy::Principal => requester.0,
            GroupBy::Context(_) => ctx.0,
        }
    }

    fn label(&self, group: u32) -> Option<String> {
        let strings = self.strings;
        Some(match self.group_by {
            GroupBy::Bucket => String::new(),
            GroupBy::Prefix(_) => self.prefixes.get_opt(Sym(group))?.to_string(),
            GroupBy::KmsKey => strings
                .get_opt(Sym(group))
                .unwrap_or("(unknown)")
                .to_string(),
            GroupBy::Principal => strings.get(Sym(group)).to_string(),
            GroupBy::Context(_) => strings.get_opt(Sym(group)).unwrap_or("(none)").to_string(),
        })
    }

    fn row(&mut self, bucket: Sym, group: u32, mode: Mode) -> &mut RowAcc {
        self.rows.entry((bucket, group, mode)).or_default()
    }

    /// The rows by bucket, label and mode; groups without a label take `unlabelled`.
    fn labelled(mut self, unlabelled: &str) -> BTreeMap<(Sym, String, Mode), RowAcc> {
        use std::collections::btree_map::Entry;
        let mut out: BTreeMap<(Sym, String, Mode), RowAcc> = BTreeMap::new();
        for ((bucket, group, mode), acc) in std::mem::take(&mut self.rows) {
            let label = self.label(group).unwrap_or_else(|| unlabelled.to_string());
            match out.entry((bucket, label, mode)) {
                Entry::Vacant(v) => {
                    v.insert(acc);
                }
                Entry::Occupied(o) => o.into_mut().absorb(acc),
            }
        }
        out
    }
}

/// Per-row accumulator.
#[derive(Default)]
struct RowAcc {
    row: Row,
    objects: HashSet<(Sym, Sym, Sym)>,
}

impl RowAcc {
    fn absorb(&mut self, other: RowAcc) {
        let (a, b) = (&mut self.row, other.row);
        for (x, y) in a.s3.iter_mut().zip(b.s3) {
            *x += y;
        }
        for (x, y) in a.kms.iter_mut().zip(b.kms) {
            *x += y;
        }
        a.s3_errors += b.s3_errors;
        a.kms_attributed += b.kms_attributed;
        a.kms_throttled += b.kms_throttled;
        a.kms_access_denied += b.kms_access_denied;
        a.kms_other_errors += b.kms_other_errors;
        a.unmatched_s3 += b.unmatched_s3;
        a.unmatched_kms += b.unmatched_kms;
        self.objects.extend(other.objects);
    }
}

/// Filters the joined trail and groups it into rows.
pub fn rows(j: &Joined, cfg: &AnalyzeConfig) -> Report {
    finish(vec![part(j, cfg)], cfg)
}

/// analyze's rows of one joined part of the trail (all of it, or a group of buckets past the
/// memory budget, `join::run_parts`), and what the report's warnings need of it: what
/// [`finish`] adds up. Rows are per bucket, so parts never share one.
pub struct Part {
    /// Each row with the label it sorts by (empty when grouping by bucket), in report order.
    rows: Vec<(String, Row)>,
    summary: Summary,
    kms_read: u64,
    s3_read: u64,
    no_principal: u64,
    /// Buckets with both bucket-key and per-object calls.
    mixed_buckets: Vec<String>,
}

impl Part {
    /// The buckets of its rows.
    pub fn buckets(&self) -> impl Iterator<Item = &str> {
        self.rows.iter().map(|(_, r)| r.bucket.as_str())
    }
}

/// Filters one joined part of the trail and groups it into rows.
pub fn part(j: &Joined, cfg: &AnalyzeConfig) -> Part {
    let (strings, kms, s3, m) = (&j.strings, &j.kms, &j.s3, &j.m);
    // (The loops below name their index `j`.)
    let request_is_dsse = |i: u32| j.is_dsse(i as usize);
    let f = &cfg.filters;
    let bucket_modes = &j.bucket_modes;
    let mut summary = j.summary.clone();
    // Which bucket-level keys pass the context filter, by bucket and KMS key: a request served
    // from a cached bucket-level key caused no call, and its key's context is its bucket's
    // whoever fetched it (another session of the same role shares it, docs/domain.md). A request
    // whose KMS key the trail does not tell (a read of an object written before it) follows
    // any key of its bucket.
    let mut ctx_streams: HashSet<(Sym, Sym)> = HashSet::default();
    for k in kms {
        if k.mode == Mode::BucketKey && k.ctx_pass {
            ctx_streams.insert((k.bucket, k.kms_key));
            ctx_streams.insert((k.bucket, Sym::NONE));
        }
    }

    // The KMS side and the S3 side of the rows are built in parallel, each with its own
    // counts, and merged.
    let kms_pass = || {
        let mut rows = RowMap::new(&cfg.group_by, strings);
        let mut summary = Summary::default();
        let mut used = 0u64;
        // Calls whose record names no IAM principal, left unmatched.
        let mut no_principal = 0u64;
        for (j, k) in kms.iter().enumerate() {
            if !filter::kms_key_matches(&f.kms_keys, strings.get_opt(k.kms_key)) {
                summary.filter(crate::reason::FILTER_KMS_KEY);
                continue;
            }
            if !k.ctx_pass {
                summary.filter(crate::reason::FILTER_CONTEXT);
                continue;
            }
            let matched = m.kms_to_s3[j].map(|i| &s3[i as usize]);
            let head = strings.get(k.head);
            let bucket = strings.get(k.bucket);
            let mut attributed = false;
            match filter::prefix_match(&f.bucket_arn_prefixes, head, bucket, strings.get_opt(k.key))
            {
                PrefixMatch::Yes => {}
                PrefixMatch::No => {
                    summary.filter(crate::reason::FILTER_PREFIX);
                    continue;
                }
                PrefixMatch::BelowBucket => {
                    let hit = matched.is_some_and(|r| {
                        f.bucket_arn_prefixes.iter().any(|p| {
                            filter::arn_starts_with(p, head, bucket, Some(strings.get(r.key)))
                        })
                    });
                    if !hit {
                        summary.filter(crate::reason::FILTER_PREFIX);
                        continue;
                    }
                    attributed = true;
                }
            }
            // A bucket-key call names no object: its prefix comes from the request it matched.
            let (key_for_group, by_correlation) = match (k.mode, matched) {
                (Mode::BucketKey, Some(r)) => (r.key, true),
                _ => (k.key, false),
            };
            let group = rows.group(key_for_group, k.requester, k.kms_key, k.ctx_value);
            if by_correlation && matches!(cfg.group_by, GroupBy::Prefix(_)) {
                attributed = true;
            }
            // A call for a DSSE-KMS object names it like a per-object one: the request it
            // matched tells.
            let mode = match m.kms_to_s3[j] {
                Some(i) if request_is_dsse(i) => Mode::Dsse,
                _ => k.mode,
            };
            let acc = rows.row(k.bucket, group, mode);
            acc.row.kms[k.op as usize] += 1;
            if attributed {
                acc.row.kms_attributed += 1;
            }
            match k.failure {
                Failure::None => {}
                Failure::Throttled => acc.row.kms_throttled += 1,
                Failure::AccessDenied => acc.row.kms_access_denied += 1,
                Failure::Other => acc.row.kms_other_errors += 1,
            }
            if matched.is_none() {
                acc.row.unmatched_kms += 1;
                if !strings.get(k.requester).starts_with("arn:") {
                    no_principal += 1;
                }
            }
            if k.mode == Mode::PerObject {
                acc.objects.insert((k.head, k.bucket, k.key));
            }
            used += 1;
        }
        (rows.labelled("(unattributed)"), summary, used, no_principal)
    };
    let s3_pass = || {
        let mut rows = RowMap::new(&cfg.group_by, strings);
        let mut summary = Summary::default();
        let mut used = 0u64;
        for (i, r) in s3.iter().enumerate() {
            let calls = &m.s3_to_kms[i];
            let Resolved {
                kms_key,
                mode,
                first_call,
                ..
            } = j.resolve(i);
            let first_call = first_call.map(|c| &kms[c as usize]);
            if !filter::kms_key_matches(&f.kms_keys, strings.get_opt(kms_key)) {
                summary.filter(crate::reason::FILTER_KMS_KEY);
                continue;
            }
            if !f.context.is_empty() {
                let pass = if calls.is_empty() {
                    mode == Mode::BucketKey && ctx_streams.contains(&(r.bucket, kms_key))
                } else {
                    calls.iter().any(|&j| kms[j as usize].ctx_pass)
                };
                if !pass {
                    summary.filter(crate::reason::FILTER_CONTEXT);
                    continue;
                }
            }
            let head = strings.get(r.head);
            if !f.bucket_arn_prefixes.is_empty()
                && !f.bucket_arn_prefixes.iter().any(|p| {
                    filter::arn_starts_with(
                        p,
                        head,
                        strings.get(r.bucket),
                        Some(strings.get(r.key)),
                    )
                })
            {
                summary.filter(crate::reason::FILTER_PREFIX);
                continue;
            }
            let ctx = first_call.map_or(Sym::NONE, |c| c.ctx_value);
            let group = rows.group(r.key, r.requester, kms_key, ctx);
            let acc = rows.row(r.bucket, group, mode);
            used += 1;
            // A failed request (NoSuchKey, AccessDenied, SlowDown, ...) read or wrote no
            // object: it is counted apart, never in the ratio's denominator.
            if r.failure != Failure::None {
                acc.row.s3_errors += 1;
                continue;
            }
            acc.row.s3[r.op as usize] += 1;
            // A CompleteMultipartUpload's KMS call, if any, was made by its
            // CreateMultipartUpload: without one of its own it is not "S3 without KMS".
            if calls.is_empty() && r.op != S3Op::CompleteMultipartUpload {
                acc.row.unmatched_s3 += 1;
            }
            acc.objects.insert((r.head, r.bucket, r.key));
        }
        (rows.labelled(""), summary, used)
    };
    let ((mut rows, kms_summary, kms_used, no_principal), (s3_rows, s3_summary, s3_used)) =
        rayon::join(kms_pass, s3_pass);
    for (key, acc) in s3_rows {
        rows.entry(key).or_default().absorb(acc);
    }
    summary.merge(kms_summary);
    summary.merge(s3_summary);
    summary.records.used += kms_used + s3_used;
    let mixed_buckets = bucket_modes
        .iter()
        .filter(|(_, (bk, po))| *bk && *po)
        .map(|(bucket, _)| strings.get(*bucket).to_string())
        .collect();
    let rows = rows
        .into_iter()
        .map(|((bucket, group, mode), mut acc)| {
            acc.row.bucket = strings.get(bucket).to_string();
            acc.row.group = if matches!(cfg.group_by, GroupBy::Bucket) {
                acc.row.bucket.clone()
            } else {
                group.clone()
            };
            acc.row.mode = mode;
            acc.row.objects = acc.objects.len() as u64;
            (group, acc.row)
        })
        .collect();
    Part {
        rows,
        summary,
        kms_read: kms.len() as u64,
        s3_read: s3.len() as u64,
        no_principal,
        mixed_buckets,
    }
}

/// The report of a trail from its parts: rows side by side in (bucket, group, mode) order,
/// counts added up, warnings from the totals.
pub fn finish(parts: Vec<Part>, cfg: &AnalyzeConfig) -> Report {
    let mut summary = Summary::default();
    let (mut kms_read, mut s3_read, mut no_principal) = (0, 0, 0);
    let mut rows: Vec<(String, Row)> = Vec::new();
    let mut mixed_buckets = Vec::new();
    for p in parts {
        summary.merge(p.summary);
        kms_read += p.kms_read;
        s3_read += p.s3_read;
        no_principal += p.no_principal;
        rows.extend(p.rows);
        mixed_buckets.extend(p.mixed_buckets);
    }
    // Each part's rows are in order (its symbols are numbered in string order); parts hold
    // different buckets.
    rows.sort_by(|(la, a), (lb, b)| (&a.bucket, la, a.mode).cmp(&(&b.bucket, lb, b.mode)));
    let summary = &mut summary;

    let mut warnings = Vec::new();
    // Filters that left nothing: say which, and how they match, rather than an empty table.
    if summary.records.used == 0 {
        for (reason, flag, how) in [
            (
                crate::reason::FILTER_PRINCIPAL,
                "--principal",
                "a principal is an IAM ARN \
              (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, arn:aws:iam::ACCOUNT:user/NAME), \
              or a role's ARN (arn:aws:iam::ACCOUNT:role/ROLE) for all its sessions",
            ),
            (
                crate::reason::FILTER_ACCOUNT,
                "--account",
                "accounts are 12 digits, as in recipientAccountId",
            ),
            (
                crate::reason::FILTER_REGION,
                "--region",
                "Regions are names like eu-west-1",
            ),
            (
                crate::reason::FILTER_PREFIX,
                "--bucket-arn-prefix",
                "prefixes start arn:aws:s3:::BUCKET/",
            ),
            (
                crate::reason::FILTER_KMS_KEY,
                "--kms-key",
                "keys are ARNs or key IDs",
            ),
            (
                crate::reason::FILTER_CONTEXT,
                "--context",
                "pairs are KEY=VALUE of the encryption context",
            ),
            (
                crate::reason::FILTER_EVENT_NAME,
                "--event-name",
                "names are like GenerateDataKey or GetObject",
            ),
            (
                crate::reason::FILTER_TIME,
                "--since/--until",
                "the trail's time span is in the summary",
            ),
        ] {
            let n = summary.filtered(reason);
            if n > 0 {
                warnings.push(format!(
                    "{flag} matched none of the {n} events it was given: {how}"
                ));
            }
        }
    }
    let s3_data_events = s3_read
        + summary.filtered(crate::reason::S3_NOT_SSE_KMS)
        + summary.filtered(crate::reason::S3_READ_OF_NON_KMS_OBJECT)
        + summary.filtered(crate::reason::S3_ANONYMOUS)
        + summary.filtered(crate::reason::S3_DATA_NO_KMS);
    if kms_read == 0 {
        warnings.push(
            "no KMS calls made for S3 objects were found: the trail may exclude KMS events \
             (trails have an option for that), or the filters removed them"
                .to_string(),
        );
    }
    if no_principal > 0 {
        warnings.push(format!(
            "{no_principal} KMS calls name no IAM principal (no userIdentity.arn: Identity \
             Center users, service principals, other accounts' callers): they are counted in \
             their rows, but no S3 request of the same requester was found for them, so they \
             are `KMS w/o S3`"
        ));
    }
    if s3_data_events == 0 {
        warnings.push(
            "no S3 data events were found (trails log them only with data-event selectors, and \
             lookup-events never has them): objects are counted from per-object KMS contexts \
             only, and bucket-key calls cannot be tied to objects or prefixes"
                .to_string(),
        );
    }
    for bucket in mixed_buckets {
        warnings.push(format!(
            "bucket {bucket} has both bucket-key and per-object KMS calls (objects written \
             before bucket keys were enabled, or a per-request bucket-key header)"
        ));
    }
    warnings.sort();

    Report {
        settings: Settings::from_config(cfg),
        summary: summary.clone(),
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        warnings,
        s3_data_events,
    }
}

/// The first `n` `/`-separated segments of an object key, with their trailing `/`; objects
/// with fewer segments give their whole directory, and root objects `/`.
pub fn key_prefix(key: &str, n: usize) -> String {
    let mut end = 0;
    for (count, (i, _)) in key.match_indices('/').enumerate() {
        end = i + 1;
        if count + 1 == n {
            break;
        }
    }
    if end == 0 {
        "/".to_string()
    } else {
        key[..end].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefixes_take_whole_segments() {
        assert_eq!(key_prefix("user-1/2024/a.txt", 1), "user-1/");
        assert_eq!(key_prefix("user-1/2024/a.txt", 2), "user-1/2024/");
        assert_eq!(key_prefix("user-1/a.txt", 3), "user-1/");
        assert_eq!(key_prefix("a.txt", 1), "/");
    }
}
