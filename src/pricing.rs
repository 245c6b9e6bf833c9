//! Prices and request quotas: the defaults, each named with its source, and the user's
//! overrides. Every figure here can be replaced on the command line.
//!
//! Source of every default: `docs/domain.md` section 6, which cites the AWS KMS pricing page
//! (<https://aws.amazon.com/kms/pricing/>) and the AWS KMS request quotas page
//! (<https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html>).

/// US dollars per 10,000 symmetric KMS requests (AWS KMS pricing page; `--price-per-10k`).
pub const PRICE_PER_10K_REQUESTS: f64 = 0.03;

/// Free KMS requests per account per month, across all Regions (AWS KMS pricing page, free
/// tier; `--free-tier`).
pub const FREE_REQUESTS_PER_MONTH: u64 = 20_000;

/// US dollars per customer managed key per month; AWS managed keys (`aws/s3`) cost nothing
/// (AWS KMS pricing page; `--key-month`).
pub const KEY_PER_MONTH: f64 = 1.0;

/// US dollars a month for each of the first [`CHARGED_ROTATIONS`] rotations of a customer
/// managed key, automatic or on demand; later rotations add nothing (AWS KMS pricing page;
/// `--rotation-month`).
pub const ROTATION_PER_MONTH: f64 = 1.0;

/// How many of a key's rotations are charged (AWS KMS pricing page: the first two).
pub const CHARGED_ROTATIONS: u32 = 2;

/// Days in the month of a monthly projection (`--month-days`).
pub const MONTH_DAYS: f64 = 30.0;

/// The shared request quota for symmetric cryptographic operations, per account, Region and
/// second, where it is above [`QUOTA_ELSEWHERE`] (AWS KMS request quotas page, current
/// defaults; earlier ones were 5,500 / 10,000 / 30,000 in 2019 and 5,500 / 10,000 / 50,000 in
/// 2022). Quotas are adjustable: `--quota REGION=N`.
pub const QUOTAS: &[(&str, u64)] = &[
    ("us-east-1", 100_000),
    ("us-west-2", 100_000),
    ("eu-west-1", 100_000),
    ("us-east-2", 20_000),
    ("ap-southeast-1", 20_000),
    ("ap-southeast-2", 20_000),
    ("ap-northeast-1", 20_000),
    ("eu-central-1", 20_000),
    ("eu-west-2", 20_000),
];

/// The same quota in every other Region (AWS KMS request quotas page).
pub const QUOTA_ELSEWHERE: u64 = 10_000;

/// What a run uses: the defaults above, or the user's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    pub per_10k_requests: f64,
    pub free_requests_per_month: u64,
    pub key_per_month: f64,
    /// Added per charged rotation of a customer managed key, a month.
    pub rotation_per_month: f64,
    /// The rotations every customer managed key is assumed to have had (`--key-rotations`): a
    /// trail does not tell a key's rotation history.
    pub key_rotations: u32,
    pub month_days: f64,
    /// Key ARNs (or IDs) the user says are AWS managed (no monthly charge), besides those the
    /// trail names by an `alias/aws/...`.
    pub aws_managed_keys: Vec<String>,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            per_10k_requests: PRICE_PER_10K_REQUESTS,
            free_requests_per_month: FREE_REQUESTS_PER_MONTH,
            key_per_month: KEY_PER_MONTH,
            rotation_per_month: ROTATION_PER_MONTH,
            key_rotations: 0,
            month_days: MONTH_DAYS,
            aws_managed_keys: Vec::new(),
        }
    }
}

impl Prices {
    /// What a customer managed key costs a month: the key, and its charged rotations.
    pub fn customer_key_per_month(&self) -> f64 {
        self.key_per_month
            + f64::from(self.key_rotations.min(CHARGED_ROTATIONS)) * self.rotation_per_month
    }

    /// How many times `seconds` fit in a month of `month_days` days: what turns counts over a
    /// window into counts a month.
    pub fn month_factor(&self, seconds: i64) -> f64 {
        self.month_days * 86_400.0 / seconds as f64
    }

    /// The dollars `requests` cost at the request price, before any free tier.
    pub fn requests(&self, requests: f64) -> f64 {
        requests / 10_000.0 * self.per_10k_requests
    }
}

/// The quota of a Region, and where the figure came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub per_second: u64,
    /// `default` or `--quota`.
    pub source: &'static str,
}

/// The quota table of a run: the defaults with the user's overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quotas {
    pub overrides: Vec<(String, u64)>,
}

impl Quotas {
    pub fn of(&self, region: &str) -> Quota {
        if let Some((_, n)) = self.overrides.iter().rev().find(|(r, _)| r == region) {
            return Quota {
                per_second: *n,
                source: "--quota",
            };
        }
        let per_second = QUOTAS
            .iter()
            .find(|(r, _)| *r == region)
            .map_or(QUOTA_ELSEWHERE, |(_, n)| *n);
        Quota {
            per_second,
            source: "default",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_come_from_the_table_unless_overridden() {
        let q = Quotas {
            overrides: vec![("us-east-2".into(), 50_000)],
        };
        assert_eq!(q.of("us-east-1").per_second, 100_000);
        assert_eq!(q.of("eu-west-2").per_second, 20_000);
        assert_eq!(q.of("sa-east-1").per_second, QUOTA_ELSEWHERE);
        assert_eq!(
            q.of("us-east-2"),
            Quota {
                per_second: 50_000,
                source: "--quota"
            }
        );
    }
}
