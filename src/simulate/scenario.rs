//! Scenario files: what the simulator simulates. TOML, every field documented in docs/simulate.md.
//!
//! Parsing rejects unknown fields, and validation names the line and the field of each
//! mistake (a negative rate, an end before a start, a bucket name S3 would reject, a phase
//! naming a bucket or principal that is not declared).

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// When the trail starts (RFC 3339).
    #[serde(default = "default_start")]
    pub start: String,
    /// The default account and Region of buckets and principals.
    #[serde(default = "default_account")]
    pub account: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub trail: Trail,
    #[serde(default)]
    pub engine: EngineSettings,
    pub buckets: Vec<Spanned<Bucket>>,
    pub principals: Vec<Spanned<Principal>>,
    pub phases: Vec<Spanned<Phase>>,
}

fn default_start() -> String {
    "2024-03-01T10:00:00Z".into()
}
fn default_account() -> String {
    "111122223333".into()
}
fn default_region() -> String {
    "us-east-1".into()
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn five() -> u32 {
    5
}

/// MiB of JSON past which the simulator splits a delivered file. CloudTrail delivers an
/// account and Region's events about every 5 minutes, in files of up to 50 MB of gzip (docs/
/// domain.md, "Where trails come from"); it publishes no split size, so 64 MiB of JSON (6 to
/// 8 MB of gzip) is a parameter, `trail.max_file_mib`. It also bounds the simulator's memory:
/// a file is held whole until it is written.
pub const DEFAULT_MAX_FILE_MIB: u32 = 64;

fn max_file_mib() -> u32 {
    DEFAULT_MAX_FILE_MIB
}

/// How the trail is logged and delivered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trail {
    /// Log S3 data events (a trail needs data-event selectors for them).
    #[serde(default = "yes")]
    pub s3_data_events: bool,
    /// Log KMS events (a trail can exclude them).
    #[serde(default = "yes")]
    pub kms_events: bool,
    /// Share of all records that are unrelated management events (0 to <1).
    #[serde(default)]
    pub noise_share: f64,
    /// Share of all records that are KMS calls by other services (Lambda), which count against
    /// the KMS quota but are not S3 traffic.
    #[serde(default)]
    pub other_kms_share: f64,
    /// KMS calls by CloudTrail for its own log files: one per delivered file.
    #[serde(default = "yes")]
    pub cloudtrail_log_encryption: bool,
    /// Share of records delivered twice (same eventID, in another file).
    #[serde(default)]
    pub duplicate_rate: f64,
    /// Share of records delivered in the next file (late delivery, across midnight too).
    #[serde(default)]
    pub late_delivery_rate: f64,
    /// Write hourly digest files under CloudTrail-Digest/.
    #[serde(default)]
    pub digests: bool,
    /// An organization trail's ID (`o-...`): adds it to the layout.
    #[serde(default)]
    pub organization: Option<String>,
    /// Minutes of events per delivered file.
    #[serde(default = "five")]
    pub file_minutes: u32,
    /// A file's JSON is split into another file of the same minutes past this many MiB, as
    /// CloudTrail delivers a busy account and Region's 5 minutes in more than one file.
    #[serde(default = "max_file_mib")]
    pub max_file_mib: u32,
    /// Deliver a request whose caller and resource owner are different accounts to both (an
    /// organization trail, or a trail in each account): a second record with its own
    /// `eventID`, the other `recipientAccountId`, and the same `sharedEventID`.
    #[serde(default)]
    pub cross_account_delivery: bool,
    /// KMS records are logged up to this many seconds before or after the request that caused
    /// them (clock skew between services, long uploads); uniform, independent per call.
    #[serde(default)]
    pub kms_skew_secs: u32,
}

impl Default for Trail {
    fn default() -> Self {
        Trail {
            s3_data_events: true,
            kms_events: true,
            noise_share: 0.0,
            other_kms_share: 0.0,
            cloudtrail_log_encryption: true,
            duplicate_rate: 0.0,
            late_delivery_rate: 0.0,
            digests: false,
            organization: None,
            file_minutes: 5,
            max_file_mib: DEFAULT_MAX_FILE_MIB,
            cross_account_delivery: false,
            kms_skew_secs: 0,
        }
    }
}

/// The envelope engine's unpublished parameters (see `envelope::defaults`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    pub bucket_key_ttl_secs: Option<i64>,
    pub max_front_end_caches: Option<u32>,
    pub requests_per_cache: Option<u32>,
    pub complete_multipart_calls_kms: Option<bool>,
    /// `session` (each IAM session its own requester) or `role` (sessions of one role with the
    /// same session policy share bucket keys).
    pub sharing: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub name: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Whether the bucket's default encryption enables bucket keys.
    #[serde(default)]
    pub bucket_key: bool,
    /// Seconds after the start when bucket keys are switched on (objects written before keep
    /// their per-object keys). Implies `bucket_key`.
    pub bucket_key_from_secs: Option<i64>,
    /// The default KMS key: a key ID or ARN (default: one derived from the bucket name).
    pub kms_key: Option<String>,
    /// A KMS key per key prefix, e.g. `{ "user-1/" = "key-id" }`.
    #[serde(default)]
    pub prefix_kms_keys: BTreeMap<String, String>,
    /// DSSE-KMS (never uses bucket keys).
    #[serde(default)]
    pub dsse: bool,
    /// The default encryption of writes: `sse-kms` (the default), `dsse-kms` (as `dsse`),
    /// `sse-s3` or `sse-c` (no KMS call, not in the SSE-KMS ratio).
    pub encryption: Option<String>,
    /// Objects under `old/` written before the trail, with per-object keys.
    #[serde(default)]
    pub preexisting_objects: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    pub name: String,
    pub account: Option<String>,
    /// `role` (requests come from its sessions) or `user`.
    #[serde(default = "role")]
    pub kind: String,
    /// How many sessions of the role make the requests (round robin).
    #[serde(default = "one")]
    pub sessions: u32,
    /// The session policy's name, for the `role` sharing mode.
    #[serde(default)]
    pub session_policy: String,
}

fn role() -> String {
    "role".into()
}

/// A workload: one principal's requests to one bucket for a while.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub principal: String,
    pub bucket: String,
    /// Seconds after the scenario's start.
    #[serde(default)]
    pub start_secs: i64,
    pub end_secs: i64,
    /// Key prefixes the phase writes under and reads from.
    #[serde(default = "root_prefix")]
    pub prefixes: Vec<String>,
    /// Requests per second.
    #[serde(default)]
    pub put_rate: f64,
    #[serde(default)]
    pub get_rate: f64,
    #[serde(default)]
    pub head_rate: f64,
    #[serde(default)]
    pub copy_rate: f64,
    /// Multipart uploads per second, each of `parts` parts.
    #[serde(default)]
    pub multipart_rate: f64,
    #[serde(default = "three")]
    pub parts: u32,
    /// Each GET is made of this many ranged GETs.
    #[serde(default = "one")]
    pub ranged_gets: u32,
    /// Which objects reads pick: `uniform`, `recent` (the last 100 written) or `skewed`.
    #[serde(default = "uniform")]
    pub read: String,
    /// Custom encryption-context pairs sent with writes.
    #[serde(default)]
    pub context: BTreeMap<String, String>,
    /// The per-request bucket-key header: `true` or `false` overrides the bucket's setting.
    pub bucket_key_header: Option<bool>,
    /// Share of the phase's GETs and PUTs S3 refuses: a GET of a key never written
    /// (NoSuchKey), a PUT without permission (AccessDenied). No object, no KMS call.
    #[serde(default)]
    pub error_rate: f64,
    /// The phase's requests go through this access point: `bucketName` is its alias, and only
    /// `resources[]` name the bucket.
    pub access_point: Option<String>,
    /// Copies take their source from this bucket (default: the phase's own).
    pub copy_from: Option<String>,
}

fn root_prefix() -> Vec<String> {
    vec![String::new()]
}
fn three() -> u32 {
    3
}
fn uniform() -> String {
    "uniform".into()
}

/// A mistake in a scenario, with its line.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}:{line}: {message}")]
pub struct ScenarioError {
    pub source_name: String,
    pub line: usize,
    pub message: String,
}

impl Scenario {
    /// Parses and validates a scenario. `source_name` names the file in messages.
    pub fn parse(text: &str, source_name: &str) -> Result<Scenario, ScenarioError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError {
            source_name: source_name.into(),
            line: e.span().map_or(1, |s| line_of(s.start)),
            message: e.message().trim().to_string(),
        })?;
        let err = |span: std::ops::Range<usize>, message: String| ScenarioError {
            source_name: source_name.into(),
            line: line_of(span.start),
            message,
        };
        // The line of `field = ...` in a table (from its header to the next header), else the
        // table's first line.
        let field_err = |span: std::ops::Range<usize>, field: &str, message: String| {
            let from = span.start.min(text.len());
            let to = text[from..]
                .match_indices("\n[")
                .map(|(i, _)| from + i)
                .find(|&i| i > from)
                .unwrap_or(text.len())
                .max(span.end.min(text.len()));
            let table = &text[from..to];
            let at = table
                .match_indices(field)
                .find(|(i, _)| {
                    let line_start = table[..*i].rfind('\n').map_or(0, |n| n + 1);
                    table[line_start..*i].trim().is_empty()
                        && table[i + field.len()..].trim_start().starts_with('=')
                })
                .map_or(span.start, |(i, _)| span.start + i);
            err(at..at, message)
        };
        if crate::event::parse_time(&scenario.start).is_none() {
            return Err(err(
                0..0,
                format!("start {:?} is not an RFC 3339 time", scenario.start),
            ));
        }
        let t = &scenario.trail;
        for (field, v, max) in [
            ("noise_share", t.noise_share, 0.99),
            ("other_kms_share", t.other_kms_share, 0.99),
            ("duplicate_rate", t.duplicate_rate, 1.0),
            ("late_delivery_rate", t.late_delivery_rate, 1.0),
        ] {
            if !(0.0..=max).contains(&v) {
                return Err(err(
                    0..0,
                    format!("trail.{field} must be between 0 and {max}, got {v}"),
                ));
            }
        }
        // These become directory names: they must be what AWS allows, and nothing else.
        let top = |field: &str, message: String| field_err(0..text.len(), field, message);
        if t.noise_share + t.other_kms_share > 0.99 {
            let message = "trail.noise_share and trail.other_kms_share add up to more than 0.99";
            return Err(top("other_kms_share", message.into()));
        }
        if let Some(why) = account_problem(&scenario.account) {
            return Err(top(
                "account",
                format!("account {:?} {why}", scenario.account),
            ));
        }
        if let Some(why) = region_problem(&scenario.region) {
            return Err(top("region", format!("region {:?} {why}", scenario.region)));
        }
        if let Some(org) = &t.organization {
            let ok = org.len() >= 12
                && org.len() <= 34
                && org.starts_with("o-")
                && org[2..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !ok {
                return Err(top(
                    "organization",
                    format!("trail.organization {org:?} is not an organization ID (o- and 10 to 32 lowercase letters or digits)"),
                ));
            }
        }
        if t.kms_skew_secs > 3600 {
            return Err(top(
                "kms_skew_secs",
                format!(
                    "trail.kms_skew_secs must be 0 to 3600, got {}",
                    t.kms_skew_secs
                ),
            ));
        }
        if t.file_minutes == 0 || t.file_minutes > 60 {
            return Err(err(0..0, "trail.file_minutes must be 1 to 60".into()));
        }
        if t.max_file_mib == 0 || t.max_file_mib > 1024 {
            return Err(top(
                "max_file_mib",
                format!(
                    "trail.max_file_mib must be 1 to 1024, got {}",
                    t.max_file_mib
                ),
            ));
        }
        if let Some(s) = &scenario.engine.sharing {
            if s != "session" && s != "role" {
                return Err(err(
                    0..0,
                    format!("engine.sharing must be session or role, got {s:?}"),
                ));
            }
        }
        for (i, b) in scenario.buckets.iter().enumerate() {
            let b_ref = b.get_ref();
            if let Some(why) = b_ref.account.as_deref().and_then(account_problem) {
                let message = format!("buckets[{i}].account {:?} {why}", b_ref.account);
                return Err(field_err(b.span(), "account", message));
            }
            if let Some(why) = b_ref.region.as_deref().and_then(region_problem) {
                let message = format!("buckets[{i}].region {:?} {why}", b_ref.region);
                return Err(field_err(b.span(), "region", message));
            }
            if let Some(e) = &b_ref.encryption {
                if !ENCRYPTIONS.contains(&e.as_str()) {
                    let message = format!(
                        "buckets[{i}].encryption must be one of {}, got {e:?}",
                        ENCRYPTIONS.join(", ")
                    );
                    return Err(field_err(b.span(), "encryption", message));
                }
            }
            if let Some(why) = bucket_name_problem(&b.get_ref().name) {
                let message = format!("buckets[{i}].name {:?}: {why}", b.get_ref().name);
                return Err(field_err(b.span(), "name", message));
            }
        }
        for (i, p) in scenario.principals.iter().enumerate() {
            let p_ref = p.get_ref();
            if let Some(why) = p_ref.account.as_deref().and_then(account_problem) {
                let message = format!("principals[{i}].account {:?} {why}", p_ref.account);
                return Err(field_err(p.span(), "account", message));
            }
            let iam_name = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
            if p_ref.name.is_empty() || p_ref.name.len() > 64 || !p_ref.name.chars().all(iam_name) {
                let message = format!(
                    "principals[{i}].name {:?} is not an IAM name (1 to 64 of A-Z a-z 0-9 +=,.@_-)",
                    p_ref.name
                );
                return Err(field_err(p.span(), "name", message));
            }
            if p_ref.kind != "role" && p_ref.kind != "user" {
                let message = format!("principals[{i}].kind must be role or user");
                return Err(field_err(p.span(), "kind", message));
            }
            if p_ref.sessions == 0 {
                let message = format!("principals[{i}].sessions must be at least 1");
                return Err(field_err(p.span(), "sessions", message));
            }
        }
        for (i, ph) in scenario.phases.iter().enumerate() {
            let p = ph.get_ref();
            let here = |field: &str, message: String| {
                field_err(ph.span(), field, format!("phases[{i}].{field}: {message}"))
            };
            if p.end_secs <= p.start_secs {
                return Err(here(
                    "end_secs",
                    format!("{} is not after start_secs {}", p.end_secs, p.start_secs),
                ));
            }
            for (field, rate) in [
                ("put_rate", p.put_rate),
                ("get_rate", p.get_rate),
                ("head_rate", p.head_rate),
                ("copy_rate", p.copy_rate),
                ("multipart_rate", p.multipart_rate),
            ] {
                if !(0.0..=1_000_000.0).contains(&rate) {
                    return Err(here(
                        field,
                        format!("a rate must be between 0 and 1e6 per second, got {rate}"),
                    ));
                }
            }
            if !scenario
                .buckets
                .iter()
                .any(|b| b.get_ref().name == p.bucket)
            {
                return Err(here(
                    "bucket",
                    format!("no bucket named {:?} is declared", p.bucket),
                ));
            }
            if !scenario
                .principals
                .iter()
                .any(|x| x.get_ref().name == p.principal)
            {
                return Err(here(
                    "principal",
                    format!("no principal named {:?} is declared", p.principal),
                ));
            }
            if !(0.0..=1.0).contains(&p.error_rate) {
                return Err(here(
                    "error_rate",
                    format!("must be between 0 and 1, got {}", p.error_rate),
                ));
            }
            if let Some(ap) = &p.access_point {
                let ok = (3..=50).contains(&ap.len())
                    && ap
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !ap.starts_with('-')
                    && !ap.ends_with('-');
                if !ok {
                    return Err(here(
                        "access_point",
                        format!("{ap:?} is not an access point name (3 to 50 of a-z 0-9 -)"),
                    ));
                }
            }
            if let Some(from) = &p.copy_from {
                if !scenario.buckets.iter().any(|b| &b.get_ref().name == from) {
                    return Err(here(
                        "copy_from",
                        format!("no bucket named {from:?} is declared"),
                    ));
                }
            }
            if !["uniform", "recent", "skewed"].contains(&p.read.as_str()) {
                return Err(here(
                    "read",
                    format!("must be uniform, recent or skewed, got {:?}", p.read),
                ));
            }
            if p.parts == 0 || p.ranged_gets == 0 {
                return Err(here(
                    "parts",
                    "parts and ranged_gets must be at least 1".into(),
                ));
            }
        }
        Ok(scenario)
    }
}

impl Scenario {
    /// The same scenario with every rate (and the count of pre-existing objects) multiplied by
    /// `factor`: the same shape, more or less traffic.
    pub fn scaled(&self, factor: f64) -> Scenario {
        let mut s = self.clone();
        for p in &mut s.phases {
            let p = p.get_mut();
            for rate in [
                &mut p.put_rate,
                &mut p.get_rate,
                &mut p.head_rate,
                &mut p.copy_rate,
                &mut p.multipart_rate,
            ] {
                *rate *= factor;
            }
        }
        for b in &mut s.buckets {
            let b = b.get_mut();
            b.preexisting_objects = (b.preexisting_objects as f64 * factor).round() as u32;
        }
        s
    }
}

/// Why a string is not an AWS account ID (12 digits), if it is not.
/// The values of `buckets[].encryption`.
pub const ENCRYPTIONS: [&str; 4] = ["sse-kms", "dsse-kms", "sse-s3", "sse-c"];

pub fn account_problem(account: &str) -> Option<&'static str> {
    (account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()))
        .then_some("is not an account ID (12 digits)")
}

/// Why a string is not a Region name (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`), if not.
pub fn region_problem(region: &str) -> Option<&'static str> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok();
    (!ok).then_some("is not a Region name (like us-east-1)")
}

/// Why S3 would reject a bucket name (general purpose bucket rules), if it would.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    if !(3..=63).contains(&name.len()) {
        return Some("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Some("may hold only lowercase letters, digits, dots and hyphens");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Some("must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("must not contain two adjacent dots");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Some("must not be formatted as an IP address");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
name = "t"
[[buckets]]
name = "my-bucket"
[[principals]]
name = "app"
[[phases]]
principal = "app"
bucket = "my-bucket"
end_secs = 10
put_rate = 1.0
"#;

    #[test]
    fn a_minimal_scenario_parses() {
        let s = Scenario::parse(OK, "t.toml").unwrap();
        assert_eq!(s.phases[0].get_ref().prefixes, vec![String::new()]);
    }

    #[test]
    fn mistakes_name_the_line_and_the_field() {
        let bad = OK.replace("put_rate = 1.0", "put_rate = -1.0");
        let e = Scenario::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(
            e.starts_with("t.toml:11:") && e.contains("phases[0].put_rate"),
            "{e}"
        );

        let bad = OK.replace("end_secs = 10", "start_secs = 20\nend_secs = 10");
        let e = Scenario::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(e.contains("phases[0].end_secs"), "{e}");

        let bad = OK.replace("name = \"my-bucket\"", "name = \"My_Bucket\"");
        let e = Scenario::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(e.starts_with("t.toml:4:") && e.contains("lowercase"), "{e}");

        let bad = OK.replace("put_rate = 1.0", "put_rate = 1.0\nspeed = 3");
        let e = Scenario::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(e.contains("t.toml:12") && e.contains("speed"), "{e}");
    }

    #[test]
    fn names_that_become_directories_cannot_escape_the_output() {
        let bad = OK.replace("name = \"t\"", "name = \"t\"\naccount = \"../../etc\"");
        let e = Scenario::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(e.starts_with("t.toml:3:") && e.contains("12 digits"), "{e}");
        let bad = OK.replace(
            "name = \"t\"",
            "name = \"t\"\nregion = \"us-east-1/../../x\"",
        );
        assert!(Scenario::parse(&bad, "t.toml")
            .unwrap_err()
            .to_string()
            .contains("Region"));
        let bad = OK.replace(
            "name = \"t\"",
            "name = \"t\"\n[trail]\norganization = \"o-../x\"",
        );
        assert!(Scenario::parse(&bad, "t.toml")
            .unwrap_err()
            .to_string()
            .contains("organization"));
        assert_eq!(region_problem("us-gov-west-1"), None);
        assert_eq!(region_problem("eu-central-2"), None);
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert_eq!(
            bucket_name_problem("ab"),
            Some("must be 3 to 63 characters long")
        );
        assert!(bucket_name_problem("a..b").is_some());
        assert!(bucket_name_problem("192.168.5.4").is_some());
        assert!(bucket_name_problem("-abc").is_some());
        assert_eq!(bucket_name_problem("data.lake-01"), None);
    }
}
