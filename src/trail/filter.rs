//! The predicates of the record filters.
//!
//! Filters on what a record says of itself (time, account, Region, event name, principal) run
//! in the parallel stage, before anything is kept. Filters on what may only be known after
//! correlation (the object ARN prefix of a bucket-key call, the KMS key of a GET, the
//! encryption context of the call a request caused) run in the barrier stage; their predicates
//! live here too, so every filter is in one place.

use crate::event::Common;
use crate::reason;
use crate::trail::config::Filters;

/// The record-level filters; `Err` names the first that rejects.
pub fn record_passes(f: &Filters, c: &Common) -> Result<(), &'static str> {
    if f.since.is_some_and(|s| c.time < s) || f.until.is_some_and(|u| c.time >= u) {
        return Err(reason::FILTER_TIME);
    }
    if !any_or_empty(&f.accounts, |a| a == &c.account) {
        return Err(reason::FILTER_ACCOUNT);
    }
    if !any_or_empty(&f.regions, |r| r == &c.region) {
        return Err(reason::FILTER_REGION);
    }
    if !any_or_empty(&f.event_names, |n| n == &c.event_name) {
        return Err(reason::FILTER_EVENT_NAME);
    }
    if !any_or_empty(&f.principals, |p| principal_matches(p, &c.requester)) {
        return Err(reason::FILTER_PRINCIPAL);
    }
    Ok(())
}

fn any_or_empty(list: &[String], pred: impl Fn(&String) -> bool) -> bool {
    list.is_empty() || list.iter().any(pred)
}

/// A principal filter matches the requester's ARN exactly, or, for a role ARN
/// (`arn:aws:iam::1:role/R`), any session of that role (`arn:aws:sts::1:assumed-role/R/...`).
pub fn principal_matches(filter: &str, requester: &str) -> bool {
    if filter == requester {
        return true;
    }
    let Some((head, role)) = filter.split_once(":role/") else {
        return false;
    };
    let Some(account) = head.rsplit(':').next().filter(|a| !a.is_empty()) else {
        return false;
    };
    let role_name = role.rsplit('/').next().unwrap_or(role);
    let Some((rhead, rest)) = requester.split_once(":assumed-role/") else {
        return false;
    };
    rhead.ends_with(&format!(":{account}")) && rest.split('/').next() == Some(role_name)
}

/// A KMS key filter matches the full key ARN, or its key ID.
pub fn kms_key_matches(filters: &[String], key_arn: Option<&str>) -> bool {
    if filters.is_empty() {
        return true;
    }
    let Some(arn) = key_arn else { return false };
    filters
        .iter()
        .any(|f| f == arn || arn.rsplit_once(":key/").is_some_and(|(_, id)| id == f))
}

/// Whether an encryption context has any of the wanted pairs (the flag is an OR within itself).
pub fn context_matches<'a>(
    wanted: &[(String, String)],
    mut pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> bool {
    wanted.is_empty() || pairs.any(|(k, v)| wanted.iter().any(|(wk, wv)| wk == k && wv == v))
}

/// How an ARN prefix filter relates to an ARN made of `head` (`arn:aws:s3:::`), a bucket and
/// possibly a key.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum PrefixMatch {
    Yes,
    No,
    /// A bucket ARN, and the prefix lies below the bucket: only correlation can tell.
    BelowBucket,
}

pub fn prefix_match(
    prefixes: &[String],
    head: &str,
    bucket: &str,
    key: Option<&str>,
) -> PrefixMatch {
    if prefixes.is_empty() {
        return PrefixMatch::Yes;
    }
    let mut below = false;
    for p in prefixes {
        if arn_starts_with(p, head, bucket, key) {
            return PrefixMatch::Yes;
        }
        if key.is_none() {
            // p = head + bucket + "/" + something
            let rest = p.strip_prefix(head).and_then(|r| r.strip_prefix(bucket));
            if rest.is_some_and(|r| r.starts_with('/')) {
                below = true;
            }
        }
    }
    if below {
        PrefixMatch::BelowBucket
    } else {
        PrefixMatch::No
    }
}

/// Whether `head + bucket [+ "/" + key]` starts with `prefix`, without building it.
pub fn arn_starts_with(prefix: &str, head: &str, bucket: &str, key: Option<&str>) -> bool {
    let mut p = prefix;
    for part in [
        head,
        bucket,
        if key.is_some() { "/" } else { "" },
        key.unwrap_or(""),
    ] {
        if p.len() <= part.len() {
            return part.starts_with(p);
        }
        match p.strip_prefix(part) {
            Some(rest) => p = rest,
            None => return false,
        }
    }
    p.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_arn_matches_its_sessions() {
        let role = "arn:aws:iam::111122223333:role/EMR";
        assert!(principal_matches(
            role,
            "arn:aws:sts::111122223333:assumed-role/EMR/i-1"
        ));
        assert!(!principal_matches(
            role,
            "arn:aws:sts::999922223333:assumed-role/EMR/i-1"
        ));
        assert!(!principal_matches(
            role,
            "arn:aws:sts::111122223333:assumed-role/EMRx/i-1"
        ));
        assert!(principal_matches(
            "arn:aws:iam::1:user/a",
            "arn:aws:iam::1:user/a"
        ));
    }

    #[test]
    fn arn_prefixes_compare_piecewise() {
        let h = "arn:aws:s3:::";
        assert!(arn_starts_with(
            "arn:aws:s3:::data",
            h,
            "datalake",
            Some("x")
        ));
        assert!(arn_starts_with(
            "arn:aws:s3:::datalake/user-1/",
            h,
            "datalake",
            Some("user-1/a")
        ));
        assert!(!arn_starts_with(
            "arn:aws:s3:::datalake/user-1/",
            h,
            "datalake",
            Some("user-2/a")
        ));
        assert!(!arn_starts_with(
            "arn:aws:s3:::datalake/",
            h,
            "datalake",
            None
        ));
        assert!(arn_starts_with(
            "arn:aws:s3:::datalake",
            h,
            "datalake",
            None
        ));
        assert!(!arn_starts_with(
            "arn:aws:s3:::datalakes",
            h,
            "datalake",
            None
        ));
    }

    #[test]
    fn a_prefix_below_a_bucket_arn_needs_correlation() {
        let p = vec!["arn:aws:s3:::datalake/user-1/".to_string()];
        let h = "arn:aws:s3:::";
        assert_eq!(
            prefix_match(&p, h, "datalake", None),
            PrefixMatch::BelowBucket
        );
        assert_eq!(prefix_match(&p, h, "other", None), PrefixMatch::No);
        assert_eq!(
            prefix_match(&p, h, "datalake", Some("user-1/x")),
            PrefixMatch::Yes
        );
    }

    #[test]
    fn kms_keys_match_by_arn_or_id() {
        let arn = Some("arn:aws:kms:us-east-1:1:key/abc");
        assert!(kms_key_matches(&["abc".into()], arn));
        assert!(kms_key_matches(
            &["arn:aws:kms:us-east-1:1:key/abc".into()],
            arn
        ));
        assert!(!kms_key_matches(&["abd".into()], arn));
        assert!(!kms_key_matches(&["abc".into()], None));
        assert!(kms_key_matches(&[], None));
    }
}
