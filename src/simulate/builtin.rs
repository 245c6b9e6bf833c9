//! The built-in scenarios, as TOML: they double as examples of the scenario format.

/// `(name, description, TOML)`.
pub const BUILTINS: &[(&str, &str, &str)] = &[
    ("two-buckets", "two buckets side by side, one with bucket keys and one without (the example README quotes)", TWO_BUCKETS),
    ("seed-10k", "seed 000: one requester writes 10,000 objects and reads them, with and without bucket keys", SEED_10K),
    ("poc", "aws-samples/s3-bucketkey-poc: a Lambda uploads 50 objects and downloads 9 of them 100 times", POC),
    ("emr-sessions", "ten sessions of one role read a bucket with bucket keys: one requester for S3", EMR),
    ("mixed-age", "bucket keys switched on mid-trail while old objects are still read", MIXED_AGE),
    ("datalake", "many readers and prefixes, multipart writes and ranged reads, a KMS key per prefix", DATALAKE),
    ("org-trail", "an organization trail: cross-account traffic delivered to both accounts, refusals, SSE-S3, copies, skew", ORG_TRAIL),
];

/// The scale at which each built-in is committed under `fixtures/<name>/`: small enough to
/// keep the trees at tens of kilobytes, large enough to keep each scenario's shape.
pub const FIXTURE_SCALES: &[(&str, f64)] = &[
    ("two-buckets", 1.0),
    ("seed-10k", 0.005),
    ("poc", 0.5),
    ("emr-sessions", 0.05),
    ("mixed-age", 0.2),
    ("datalake", 0.02),
    ("org-trail", 0.05),
];

/// The TOML of a built-in scenario.
pub fn get(name: &str) -> Option<&'static str> {
    BUILTINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, t)| *t)
}

pub const TWO_BUCKETS: &str = r#"
name = "two-buckets"
description = "A bucket with bucket keys beside one without, written by an ETL role and read by two analyst sessions."
start = "2024-03-01T10:00:00Z"

[trail]
noise_share = 0.3
digests = true

[[buckets]]
name = "reports-bucket-key"
bucket_key = true

[[buckets]]
name = "reports-per-object"
bucket_key = false

[[principals]]
name = "etl"

[[principals]]
name = "analyst"
sessions = 2

[[phases]]
principal = "etl"
bucket = "reports-bucket-key"
end_secs = 120
prefixes = ["daily/", "weekly/"]
put_rate = 0.4

[[phases]]
principal = "etl"
bucket = "reports-per-object"
end_secs = 120
prefixes = ["daily/", "weekly/"]
put_rate = 0.4

[[phases]]
principal = "analyst"
bucket = "reports-bucket-key"
start_secs = 130
end_secs = 190
get_rate = 1.0

[[phases]]
principal = "analyst"
bucket = "reports-per-object"
start_secs = 130
end_secs = 190
get_rate = 1.0
"#;

pub const SEED_10K: &str = r#"
name = "seed-10k"
description = "Seed 000: 10,000 writes then 10,000 reads by one user, per-user prefixes and KMS keys, into a bucket with bucket keys and one without."

[[buckets]]
name = "seed-bucket-key"
bucket_key = true
prefix_kms_keys = { "user-1/" = "1111aaaa-0000-4000-8000-000000000001" }

[[buckets]]
name = "seed-per-object"
bucket_key = false
prefix_kms_keys = { "user-1/" = "1111aaaa-0000-4000-8000-000000000002" }

[[principals]]
name = "user-1"
kind = "user"

[[phases]]
principal = "user-1"
bucket = "seed-bucket-key"
end_secs = 200
prefixes = ["user-1/"]
put_rate = 50.0

[[phases]]
principal = "user-1"
bucket = "seed-bucket-key"
start_secs = 260
end_secs = 460
prefixes = ["user-1/"]
get_rate = 50.0

[[phases]]
principal = "user-1"
bucket = "seed-per-object"
start_secs = 600
end_secs = 800
prefixes = ["user-1/"]
put_rate = 50.0

[[phases]]
principal = "user-1"
bucket = "seed-per-object"
start_secs = 860
end_secs = 1060
prefixes = ["user-1/"]
get_rate = 50.0
"#;

pub const POC: &str = r#"
name = "poc"
description = "aws-samples/s3-bucketkey-poc: one Lambda session uploads 50 objects and downloads 9 of them 100 times, per bucket."

[[buckets]]
name = "poc-bucket-key"
bucket_key = true

[[buckets]]
name = "poc-no-bucket-key"

[[principals]]
name = "poc-lambda"

[[phases]]
principal = "poc-lambda"
bucket = "poc-bucket-key"
end_secs = 5
put_rate = 10.0

[[phases]]
principal = "poc-lambda"
bucket = "poc-bucket-key"
start_secs = 10
end_secs = 15
get_rate = 20.0
read = "recent"

[[phases]]
principal = "poc-lambda"
bucket = "poc-no-bucket-key"
start_secs = 20
end_secs = 25
put_rate = 10.0

[[phases]]
principal = "poc-lambda"
bucket = "poc-no-bucket-key"
start_secs = 30
end_secs = 35
get_rate = 20.0
read = "recent"
"#;

pub const EMR: &str = r#"
name = "emr-sessions"
description = "Ten EMR instance sessions of one role and session policy read a bucket with bucket keys: one requester for S3, so they share its bucket-level keys. Set engine.sharing = \"session\" for trails from before S3 changed that."

[[buckets]]
name = "emr-input"
bucket_key = true
preexisting_objects = 0

[[principals]]
name = "emr-writer"

[[principals]]
name = "EMR_EC2_DefaultRole"
sessions = 10
session_policy = "emr"

[[phases]]
principal = "emr-writer"
bucket = "emr-input"
end_secs = 60
prefixes = ["input/"]
put_rate = 5.0

[[phases]]
principal = "EMR_EC2_DefaultRole"
bucket = "emr-input"
start_secs = 90
end_secs = 210
prefixes = ["input/"]
get_rate = 20.0
"#;

pub const MIXED_AGE: &str = r#"
name = "mixed-age"
description = "Bucket keys are switched on after 5 minutes; objects written before keep per-object keys and are still read."

[[buckets]]
name = "mixed-age-bucket"
bucket_key_from_secs = 300
preexisting_objects = 50

[[principals]]
name = "app"
sessions = 2

[[phases]]
principal = "app"
bucket = "mixed-age-bucket"
end_secs = 600
put_rate = 0.5
get_rate = 1.0
"#;

pub const DATALAKE: &str = r#"
name = "datalake"
description = "A data lake: multipart writes under per-team prefixes with a KMS key each, many reader sessions, ranged GETs, copies."

[trail]
noise_share = 0.5
other_kms_share = 0.05
cloudtrail_log_encryption = true

[[buckets]]
name = "lake-raw"
bucket_key = true
prefix_kms_keys = { "team-a/" = "aaaa0000-0000-4000-8000-00000000000a", "team-b/" = "bbbb0000-0000-4000-8000-00000000000b" }

[[buckets]]
name = "lake-curated"
bucket_key = false

[[principals]]
name = "ingest"
sessions = 2

[[principals]]
name = "athena-reader"
sessions = 8

[[phases]]
principal = "ingest"
bucket = "lake-raw"
end_secs = 300
prefixes = ["team-a/", "team-b/"]
put_rate = 2.0
multipart_rate = 0.2
parts = 4

[[phases]]
principal = "athena-reader"
bucket = "lake-raw"
start_secs = 60
end_secs = 360
prefixes = ["team-a/", "team-b/"]
get_rate = 6.0
ranged_gets = 2
read = "skewed"

[[phases]]
principal = "ingest"
bucket = "lake-curated"
start_secs = 100
end_secs = 360
prefixes = ["curated/"]
put_rate = 0.5
copy_rate = 0.2
get_rate = 1.0
context = { pipeline = "curation" }
"#;

pub const ORG_TRAIL: &str = r#"
name = "org-trail"
description = "An organization trail: two accounts and Regions; cross-account reads through an access point delivered to both accounts; refused requests, an SSE-S3 bucket, copies between buckets, skewed KMS records, duplicate deliveries, late files and digests."
account = "111122223333"

[trail]
organization = "o-exampleorgid"
duplicate_rate = 0.02
late_delivery_rate = 0.05
digests = true
noise_share = 0.4
cross_account_delivery = true
kms_skew_secs = 20

[[buckets]]
name = "org-east-bucket"
bucket_key = true
region = "us-east-1"

[[buckets]]
name = "org-west-bucket"
account = "444455556666"
region = "eu-west-1"

[[buckets]]
name = "org-east-logs"
region = "us-east-1"
encryption = "sse-s3"

[[principals]]
name = "service-a"

[[principals]]
name = "service-b"
account = "444455556666"

[[phases]]
principal = "service-a"
bucket = "org-east-bucket"
end_secs = 900
put_rate = 0.5
get_rate = 1.0
error_rate = 0.05

[[phases]]
principal = "service-b"
bucket = "org-west-bucket"
end_secs = 900
put_rate = 0.5
get_rate = 1.0
copy_rate = 0.1
copy_from = "org-east-bucket"

[[phases]]
principal = "service-b"
bucket = "org-east-bucket"
start_secs = 300
end_secs = 900
get_rate = 0.5
access_point = "east-readers"

[[phases]]
principal = "service-a"
bucket = "org-east-logs"
end_secs = 900
put_rate = 0.3
get_rate = 0.3
error_rate = 0.05
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::scenario::Scenario;

    #[test]
    fn every_builtin_has_a_fixture_scale() {
        let names: Vec<_> = BUILTINS.iter().map(|b| b.0).collect();
        let scaled: Vec<_> = FIXTURE_SCALES.iter().map(|f| f.0).collect();
        assert_eq!(names, scaled);
    }

    #[test]
    fn every_builtin_parses() {
        for (name, _, text) in BUILTINS {
            let s = Scenario::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&s.name, name);
        }
    }
}
