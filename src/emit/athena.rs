//! keytrail's reports as Athena SQL (Trino), for the CloudTrail table the Athena guide defines
//! (`keytrail emit athena ddl|analyze|quota|cost`).
//!
//! The table is the guide's (`requestparameters`, `responseelements` and
//! `additionaleventdata` JSON strings, `resources` an array of rows), partitioned by projection
//! on the delivered layout. The queries read only what keytrail reads, with the event names,
//! operations and SSE rules written in from keytrail's own definitions. What SQL can count
//! exactly it counts exactly (KMS calls per bucket and mode of the encryption context, S3
//! requests per bucket, quota peaks per account and Region); which S3 request ran under which
//! mode keytrail learns by matching each request to the KMS call it caused, one to one and
//! nearest in time, which a query approximates (the comments in the SQL say how, and
//! `tests/cli/engines.rs` measures the difference on simulated trails).

use crate::event::{KmsOp, S3Op};
use crate::join::engine::EngineFilters;

/// What a query is written with.
#[derive(Debug, Clone)]
pub struct QuerySettings {
    pub table: String,
    pub filters: EngineFilters,
    pub object_window_secs: i64,
}

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// An identifier, quoted when it is not a plain lower-case name.
fn ident(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
    {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as eventTime is written (and compares as text).
fn time_text(t: i64) -> String {
    crate::event::format_time(t)
}

/// The WHERE conditions of the record filters (and the partitions they prune).
fn record_filters(f: &EngineFilters) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(s) = f.since {
        // The day partition before the first day too: a file holds the previous day's last
        // minutes.
        let day = time_text(s - 86_400)[..10].replace('-', "/");
        w.push(format!("\"timestamp\" >= {}", lit(&day)));
        w.push(format!("eventtime >= {}", lit(&time_text(s))));
    }
    if let Some(u) = f.until {
        let day = time_text(u + 86_400)[..10].replace('-', "/");
        w.push(format!("\"timestamp\" <= {}", lit(&day)));
        w.push(format!("eventtime < {}", lit(&time_text(u))));
    }
    if !f.account.is_empty() {
        w.push(format!(
            "coalesce(recipientaccountid, useridentity.accountid) IN ({})",
            list(f.account.iter().map(|a| lit(a)))
        ));
    }
    if !f.region.is_empty() {
        w.push(format!(
            "awsregion IN ({})",
            list(f.region.iter().map(|r| lit(r)))
        ));
    }
    if !f.principal.is_empty() {
        let any: Vec<String> = f.principal.iter().map(|p| principal_condition(p)).collect();
        w.push(format!("({})", any.join("\n         OR ")));
    }
    if !f.event_name.is_empty() {
        w.push(format!(
            "eventname IN ({})",
            list(f.event_name.iter().map(|n| lit(n)))
        ));
    }
    w
}

/// The requester, as keytrail names it.
const REQUESTER: &str =
    "coalesce(useridentity.arn, useridentity.principalid, useridentity.invokedby, '(unknown)')";

/// keytrail's `--principal` (`trail::filter::principal_matches`): the requester's ARN, or for a
/// role ARN (`arn:aws:iam::ACCOUNT:role/[PATH/]NAME`) any of its sessions
/// (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`).
fn principal_condition(principal: &str) -> String {
    let exact = format!("{REQUESTER} = {}", lit(principal));
    let role = principal.split_once(":role/").and_then(|(head, role)| {
        let account = head.rsplit(':').next().filter(|a| !a.is_empty())?;
        Some((account, role.rsplit('/').next().unwrap_or(role)))
    });
    let Some((account, name)) = role else {
        return exact;
    };
    // Before and after the first ':assumed-role/' (14 characters); before ends with :ACCOUNT.
    let at = format!("strpos({REQUESTER}, ':assumed-role/')");
    let tail = format!(":{account}");
    let n = tail.chars().count();
    format!(
        "{exact}\n         OR ({at} > {n}\n             \
         AND substr({REQUESTER}, {at} - {n}, {n}) = {}\n             \
         AND split_part(substr({REQUESTER}, {at} + 14), '/', 1) = {})",
        lit(&tail),
        lit(name)
    )
}

/// The common start of every query: the KMS and S3 events keytrail reads, deduplicated by
/// eventID and then by sharedEventID as keytrail's join does.
fn events_cte(s: &QuerySettings) -> String {
    let kms_names = list(KmsOp::EVENT_NAMES.iter().map(|(n, _)| lit(n)));
    let s3_names = list(S3Op::EVENT_NAMES.iter().map(|(n, _)| lit(n)));
    let mut filters = record_filters(&s.filters);
    filters.insert(
        0,
        format!(
            "((eventsource = 'kms.amazonaws.com' AND eventname IN ({kms_names}))\n       OR (eventsource = 's3.amazonaws.com' AND eventname IN ({s3_names})))"
        ),
    );
    filters.push("eventtime IS NOT NULL".into());
    filters.push("coalesce(eventcategory, '') NOT IN ('Insight', 'NetworkActivity')".into());
    format!(
        "events AS (
  SELECT eventsource, eventname, eventtime, eventid, sharedeventid, errorcode, awsregion,
         coalesce(recipientaccountid, useridentity.accountid, '(unknown)') AS account,
         coalesce(useridentity.accountid, recipientaccountid, '(unknown)') AS caller_account,
         coalesce(useridentity.arn, useridentity.principalid, useridentity.invokedby, '(unknown)') AS requester,
         requestparameters, responseelements, additionaleventdata, resources
  FROM {table}
  WHERE {where}
),
-- One event, counted once: by eventID (a file read twice), then by sharedEventID (one call
-- delivered to two accounts), KMS calls and S3 requests apart, as keytrail's join deduplicates
-- (which copy is kept follows keytrail's order closely, not exactly; copies of one event agree
-- on everything these queries count but the account that received them).
by_id AS (
  SELECT *, row_number() OVER (PARTITION BY eventsource, eventid ORDER BY eventtime, requester, requestparameters, account) AS copy_by_id
  FROM events
),
unique_by_id AS (SELECT * FROM by_id WHERE eventid IS NULL OR copy_by_id = 1),
by_shared AS (
  SELECT *, row_number() OVER (PARTITION BY eventsource, sharedeventid ORDER BY eventtime, requester, requestparameters, account) AS copy_by_shared
  FROM unique_by_id
),
unique_events AS (SELECT * FROM by_shared WHERE sharedeventid IS NULL OR copy_by_shared = 1)",
        table = ident(&s.table),
        where = filters.join("\n    AND "),
    )
}

/// The SSE headers of an S3 request that [`SSE_KMS`] reads: `sse`, `sse_applied`, `sse_c`.
const SSE_COLUMNS: &str = "coalesce(json_extract_scalar(responseelements, '$[\"x-amz-server-side-encryption\"]'),
                  json_extract_scalar(requestparameters, '$[\"x-amz-server-side-encryption\"]')) AS sse,
         json_extract_scalar(additionaleventdata, '$.SSEApplied') AS sse_applied,
         coalesce(json_extract_scalar(requestparameters, '$[\"x-amz-server-side-encryption-customer-algorithm\"]'),
                  json_extract_scalar(responseelements, '$[\"x-amz-server-side-encryption-customer-algorithm\"]')) AS sse_c";

/// The object ARN prefix filter (`head || bucket [|| '/' || object_key]` starts with one of
/// `prefixes`), after `joiner`; empty without prefixes.
fn prefix_condition(prefixes: &[String], joiner: &str) -> String {
    if prefixes.is_empty() {
        return String::new();
    }
    let any = prefixes
        .iter()
        .map(|p| {
            format!(
                "starts_with(concat(head, bucket, CASE WHEN object_key IS NULL THEN '' ELSE concat('/', object_key) END), {})",
                lit(p)
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    format!("{joiner}({any})")
}

/// keytrail's `--kms-key` (`trail::filter::kms_key_matches`) on the key ARN in `column`: the
/// ARN itself, or its key ID (what follows `:key/`). A NULL key matches no filter.
fn kms_key_condition(keys: &[String], column: &str) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let any = list(keys.iter().map(|k| lit(k)));
    Some(format!(
        "coalesce({column} IN ({any})\n      OR (strpos({column}, ':key/') > 0 AND substr({column}, strpos({column}, ':key/') + 5) IN ({any})), false)"
    ))
}

/// keytrail's `--context` (`trail::filter::context_matches`): the call's encryption context has
/// one of the pairs. `TRUE` without pairs. Keys are written into a JSON path
/// (`$.encryptionContext["KEY"]`), so a key with `"` or `\` is refused before this
/// ([`context_key_is_writable`]).
fn context_condition(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return "true".into();
    }
    let any = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "json_extract_scalar(requestparameters, {}) = {}",
                lit(&format!("$.encryptionContext[\"{k}\"]")),
                lit(v)
            )
        })
        .collect::<Vec<_>>()
        .join("\n                  OR ");
    format!("coalesce({any}, false)")
}

/// Whether an encryption-context key can be named in a JSON path as written here.
pub fn context_key_is_writable(key: &str) -> bool {
    !key.contains(['"', '\\']) && !key.chars().any(char::is_control)
}

/// keytrail's rule for an SSE-KMS request (event::classify): not an SSE header that is not
/// aws:kms*, not an SSEApplied that is not SSE_KMS, not an SSE-C header alone.
const SSE_KMS: &str = "NOT coalesce(sse NOT LIKE 'aws:kms%', false)
    AND NOT coalesce(sse_applied NOT LIKE '%SSE_KMS', false)
    AND NOT (sse_c IS NOT NULL AND sse IS NULL)";

/// The S3 op names a write is, for SQL.
fn s3_writes() -> String {
    list(
        S3Op::EVENT_NAMES
            .iter()
            .filter(|(_, op)| op.writes())
            .map(|(n, _)| lit(n)),
    )
}

/// `keytrail emit athena analyze`: one row per bucket and mode.
pub fn analyze(s: &QuerySettings) -> String {
    let prefix_filter = prefix_condition(&s.filters.bucket_arn_prefix, "\n  WHERE ");
    format!(
        "-- keytrail {version}: KMS calls per S3 object, per bucket and mode (keytrail emit athena analyze).
-- One row per bucket and mode (bucket_key, per_object, dsse, unknown), as keytrail analyze's
-- JSON rows (grouped by bucket).
--
-- Exact: generate_data_key, decrypt and kms_calls per bucket and mode (a KMS call's mode is the
-- shape of its encryption context: aws:s3:arn naming the bucket is a bucket key, naming the
-- object is per object), but for DSSE-KMS below; s3_requests per bucket, summed over its rows.
-- Approximate (column attribution = 'approximate'): which row an S3 request, and so its object,
-- falls in. keytrail matches every request to the KMS call it caused, one to one, nearest in
-- time; this query gives a request the mode of its SSE headers (a write's response says whether
-- a bucket key was used), else of a per-object KMS call of the same requester and object within
-- {object_window} s, else of the object's last logged write, else of the bucket's only mode.
-- DSSE-KMS (approximate too): a request is DSSE-KMS by its own header or its object's last
-- logged write; a per-object call is, when such a request of its requester and object is
-- within {object_window} s (keytrail: when the request it matched is).
{filters_comment}-- tests/cli/engines.rs runs this query on DuckDB over simulated trails (an organization trail,
-- keys switched on mid-trail, a data lake, two buckets side by side, DSSE-KMS beside SSE-KMS:
-- about 13,500 S3 requests): there every column equals keytrail's, and the test fails when an
-- approximate column strays by more than 2 % of its total.
WITH {events},
kms AS (
  SELECT eventname, errorcode, requester, eventtime, head, bucket, object_key, kms_key, ctx_pass
  FROM (
    SELECT eventname, errorcode, requester, eventtime, kms_key, ctx_pass,
           substr(arn, 1, strpos(arn, ':::') + 2) AS head,
           CASE WHEN strpos(rest, '/') > 0 THEN substr(rest, 1, strpos(rest, '/') - 1) ELSE rest END AS bucket,
           CASE WHEN strpos(rest, '/') > 0 THEN substr(rest, strpos(rest, '/') + 1) END AS object_key
    FROM (
      SELECT *, substr(arn, strpos(arn, ':::') + 3) AS rest
      FROM (
        SELECT *, json_extract_scalar(requestparameters, '$.encryptionContext[\"aws:s3:arn\"]') AS arn,
               -- The call's key as keytrail reads it: keyId when it is a key ARN, else the
               -- first AWS::KMS::Key of resources.
               coalesce(CASE WHEN json_extract_scalar(requestparameters, '$.keyId') LIKE 'arn:%'
                              AND strpos(json_extract_scalar(requestparameters, '$.keyId'), ':key/') > 0
                             THEN json_extract_scalar(requestparameters, '$.keyId') END,
                        element_at(transform(filter(resources, r -> r.arn IS NOT NULL
                                                      AND (r.type = 'AWS::KMS::Key'
                                                           OR (r.type IS NULL AND strpos(r.arn, ':kms:') > 0
                                                               AND strpos(r.arn, ':key/') > 0))),
                                             r -> r.arn), 1)) AS kms_key,
               {ctx_pass} AS ctx_pass
        FROM unique_events
        WHERE eventsource = 'kms.amazonaws.com'
          AND json_extract_scalar(requestparameters, '$.encryptionContext[\"aws:cloudtrail:arn\"]') IS NULL
      )
      WHERE arn IS NOT NULL AND strpos(arn, ':::') > 0
    )
  ){prefix_filter}
),
s3_all AS (
  SELECT eventname, eventtime, requester, errorcode,
         {sse_columns},
         coalesce(json_extract_scalar(responseelements, '$[\"x-amz-server-side-encryption-aws-kms-key-id\"]'),
                  json_extract_scalar(requestparameters, '$[\"x-amz-server-side-encryption-aws-kms-key-id\"]')) AS own_key,
         lower(coalesce(json_extract_scalar(responseelements, '$[\"x-amz-server-side-encryption-bucket-key-enabled\"]'),
                        json_extract_scalar(requestparameters, '$[\"x-amz-server-side-encryption-bucket-key-enabled\"]'))) AS bucket_key_header,
         -- As keytrail names the object: the AWS::S3::Object ARN of resources (a request
         -- through an access point names the access point in bucketName), else bucketName and
         -- key.
         coalesce(CASE WHEN strpos(object_arn, '/') > 0
                       THEN substr(object_arn, strpos(object_arn, ':::') + 3,
                                   strpos(object_arn, '/') - strpos(object_arn, ':::') - 3) END,
                  json_extract_scalar(requestparameters, '$.bucketName')) AS bucket,
         coalesce(json_extract_scalar(requestparameters, '$.key'),
                  CASE WHEN strpos(object_arn, '/') > 0
                       THEN substr(object_arn, strpos(object_arn, '/') + 1) END) AS object_key,
         CASE WHEN awsregion LIKE 'cn-%' THEN 'arn:aws-cn:s3:::'
              WHEN awsregion LIKE 'us-gov-%' THEN 'arn:aws-us-gov:s3:::'
              ELSE 'arn:aws:s3:::' END AS head
  FROM (
    SELECT *, element_at(transform(filter(resources, r -> r.type = 'AWS::S3::Object'), r -> r.arn), 1) AS object_arn
    FROM unique_events
    WHERE eventsource = 's3.amazonaws.com'
  )
),
s3 AS (
  -- SSE-KMS requests only (keytrail's rule: an SSE header that is not aws:kms*, an SSEApplied
  -- that is not SSE_KMS, or an SSE-C header alone, is not SSE-KMS).
  SELECT *
  FROM s3_all
  WHERE {sse_kms}
    AND bucket IS NOT NULL AND object_key IS NOT NULL{s3_prefix_filter}
),
timeline AS (
  -- Every logged successful write of an object, SSE-KMS (1) or not (0).
  SELECT bucket, object_key, eventtime, 1 AS kms FROM s3
  WHERE eventname IN ({writes}) AND errorcode IS NULL
  UNION ALL
  SELECT bucket, object_key, eventtime, 0 AS kms FROM s3_all
  WHERE eventname IN ({writes}) AND errorcode IS NULL AND NOT ({sse_kms})
),
s3_kept AS (
  -- Reads (and parts of uploads) of an object whose last logged write at or before them was
  -- not SSE-KMS caused no KMS call: set apart, as keytrail does (an SSE-KMS write of the same
  -- second counts as the later).
  SELECT * FROM s3
  WHERE eventname NOT IN ('GetObject', 'SelectObjectContent', 'UploadPart')
     OR coalesce((SELECT max_by(t.kms, concat(t.eventtime, CAST(t.kms AS VARCHAR)))
                  FROM timeline t
                  WHERE t.bucket = s3.bucket AND t.object_key = s3.object_key
                    AND t.eventtime <= s3.eventtime), 1) = 1
),
written_dsse AS (
  -- Per object, whether its last logged successful write was DSSE-KMS.
  SELECT bucket, object_key, max_by(coalesce(sse = 'aws:kms:dsse', false), eventtime) AS dsse
  FROM s3
  WHERE eventname IN ({writes}) AND errorcode IS NULL
  GROUP BY 1, 2
),
written AS (
  -- Per object, its last logged successful write's bucket-key header.
  SELECT bucket, object_key, max_by(bucket_key_header, eventtime) AS bucket_key
  FROM s3
  WHERE eventname IN ({writes}) AND errorcode IS NULL AND bucket_key_header IS NOT NULL
  GROUP BY 1, 2
),
bucket_modes AS (
  SELECT bucket, CASE WHEN count(DISTINCT CASE WHEN object_key IS NULL THEN 'b' ELSE 'o' END) = 1
                      THEN max(CASE WHEN object_key IS NULL THEN 'bucket_key' ELSE 'per_object' END)
                      ELSE 'unknown' END AS mode
  FROM kms
  GROUP BY 1
),
per_object_calls AS (
  SELECT DISTINCT bucket, object_key, requester, eventtime FROM kms WHERE object_key IS NOT NULL
),
s3_modes AS (
  SELECT s3.*,
         CASE
           WHEN s3.sse = 'aws:kms:dsse' OR coalesce(wd.dsse, false) THEN 'dsse'
           WHEN s3.bucket_key_header = 'true' THEN 'bucket_key'
           WHEN s3.bucket_key_header = 'false' THEN 'per_object'
           WHEN EXISTS (SELECT 1 FROM per_object_calls c
                        WHERE {call_near_request})
             THEN 'per_object'
           WHEN w.bucket_key = 'true' THEN 'bucket_key'
           WHEN w.bucket_key = 'false' THEN 'per_object'
           ELSE coalesce(m.mode, 'unknown')
         END AS mode
  FROM s3_kept s3
  LEFT JOIN written w ON w.bucket = s3.bucket AND w.object_key = s3.object_key
  LEFT JOIN written_dsse wd ON wd.bucket = s3.bucket AND wd.object_key = s3.object_key
  LEFT JOIN bucket_modes m ON m.bucket = s3.bucket
),
{report_filters}kms_modes AS (
  -- A KMS call's mode is its context's shape; a per-object call for a DSSE-KMS request (one of
  -- the same requester and object within {object_window} s) is DSSE-KMS's.
  SELECT k.*,
         CASE
           WHEN k.object_key IS NULL THEN 'bucket_key'
           WHEN EXISTS (SELECT 1 FROM s3_modes r
                        WHERE r.mode = 'dsse' AND {request_near_call})
             THEN 'dsse'
           ELSE 'per_object'
         END AS mode
  FROM kms_used k
),
kms_rows AS (
  SELECT bucket, mode,
         count_if(eventname = 'GenerateDataKey') AS generate_data_key,
         count_if(eventname = 'Decrypt') AS decrypt,
         count(*) AS kms_calls
  FROM kms_modes
  GROUP BY 1, 2
),
s3_rows AS (
  SELECT bucket, mode,
         count_if(errorcode IS NULL) AS s3_requests,
         count_if(errorcode IS NOT NULL) AS s3_errors
  FROM s3_used
  GROUP BY 1, 2
),
object_rows AS (
  -- Distinct objects per row: of its successful S3 requests and its per-object KMS calls.
  SELECT bucket, mode, count(DISTINCT object_key) AS objects
  FROM (
    SELECT bucket, mode, object_key FROM s3_used WHERE errorcode IS NULL
    UNION ALL
    SELECT bucket, mode, object_key FROM kms_modes WHERE object_key IS NOT NULL
  )
  GROUP BY 1, 2
)
SELECT coalesce(k.bucket, r.bucket) AS bucket,
       coalesce(k.mode, r.mode) AS mode,
       coalesce(k.generate_data_key, 0) AS generate_data_key,
       coalesce(k.decrypt, 0) AS decrypt,
       coalesce(k.kms_calls, 0) AS kms_calls,
       coalesce(r.s3_requests, 0) AS s3_requests,
       coalesce(r.s3_errors, 0) AS s3_errors,
       coalesce(o.objects, 0) AS objects,
       'approximate' AS attribution
FROM kms_rows k
FULL OUTER JOIN s3_rows r ON r.bucket = k.bucket AND r.mode = k.mode
LEFT JOIN object_rows o ON o.bucket = coalesce(k.bucket, r.bucket) AND o.mode = coalesce(k.mode, r.mode)
ORDER BY 1, 2
",
        version = env!("CARGO_PKG_VERSION"),
        events = events_cte(s),
        object_window = s.object_window_secs,
        writes = s3_writes(),
        sse_columns = SSE_COLUMNS,
        sse_kms = SSE_KMS,
        s3_prefix_filter = prefix_condition(&s.filters.bucket_arn_prefix, "\n    AND "),
        ctx_pass = context_condition(&s.filters.context),
        call_near_request = same_object_near("c", "s3", s.object_window_secs),
        request_near_call = same_object_near("r", "k", s.object_window_secs),
        report_filters = report_filters(s),
        filters_comment = if s.filters.kms_key.is_empty() && s.filters.context.is_empty() {
            ""
        } else {
            REPORT_FILTERS_COMMENT
        },
    )
}

/// Rows `a` and `b` name the same object and requester, at most `window` seconds apart: how a
/// per-object call and an S3 request are paired wherever the queries pair them. (Seconds from
/// `to_unixtime`: Trino's `date_diff` counts whole units elapsed, DuckDB's boundaries crossed.)
fn same_object_near(a: &str, b: &str, window: i64) -> String {
    format!(
        "{a}.bucket = {b}.bucket AND {a}.object_key = {b}.object_key AND {a}.requester = {b}.requester
                          AND abs(to_unixtime(from_iso8601_timestamp({a}.eventtime))
                                  - to_unixtime(from_iso8601_timestamp({b}.eventtime))) <= {window}"
    )
}

/// What the SQL says of `--kms-key` and `--context` when it applies them.
const REPORT_FILTERS_COMMENT: &str = "\
-- --kms-key and --context, keytrail's report filters: exact on KMS calls (a call's key is its
-- keyId when that is a key ARN, else the first AWS::KMS::Key of its resources; a key given as
-- an ID matches the ARN that ends with it). Approximate on S3 requests, which keytrail filters
-- by the calls it matched them to: here a request's key is its own SSE header's, else its
-- object's last logged write's, else a per-object call's of its requester and object within
-- the window; it passes --context when a per-object call of its requester and object within
-- the window does, or, in bucket-key mode, a bucket-key call of its bucket and key (any key,
-- when the request's is unknown).
";

/// The CTEs `kms_used` and `s3_used`: the KMS calls and S3 requests that pass `--kms-key` and
/// `--context`, as keytrail's report filters (`reports::calls::rows`) pass them.
fn report_filters(s: &QuerySettings) -> String {
    let f = &s.filters;
    if f.kms_key.is_empty() && f.context.is_empty() {
        return "kms_used AS (SELECT * FROM kms),\ns3_used AS (SELECT * FROM s3_modes),\n".into();
    }
    let same_object = same_object_near("c", "s3", s.object_window_secs);
    let mut kms_where = vec!["ctx_pass".to_string()];
    let mut s3_where = Vec::new();
    if let (Some(k), Some(r)) = (
        kms_key_condition(&f.kms_key, "kms_key"),
        kms_key_condition(&f.kms_key, "s3.kms_key"),
    ) {
        kms_where.insert(0, k);
        s3_where.push(r);
    }
    if !f.context.is_empty() {
        s3_where.push(format!(
            "(EXISTS (SELECT 1 FROM kms c
                   WHERE c.ctx_pass AND {same_object})
       OR (s3.mode = 'bucket_key'
           AND EXISTS (SELECT 1 FROM kms c
                       WHERE c.ctx_pass AND c.object_key IS NULL AND c.bucket = s3.bucket
                         AND (c.kms_key = s3.kms_key OR s3.kms_key IS NULL))))"
        ));
    }
    format!(
        "kms_used AS (
  SELECT * FROM kms
  WHERE {kms_where}
),
written_key AS (
  -- Per object, the KMS key of its last logged successful write that names one.
  SELECT bucket, object_key, max_by(own_key, eventtime) AS kms_key
  FROM s3
  WHERE eventname IN ({writes}) AND errorcode IS NULL AND own_key IS NOT NULL
  GROUP BY 1, 2
),
s3_keyed AS (
  SELECT s3.*,
         coalesce(s3.own_key, wk.kms_key,
                  (SELECT min(c.kms_key) FROM kms c
                   WHERE c.object_key IS NOT NULL AND {same_object})) AS kms_key
  FROM s3_modes s3
  LEFT JOIN written_key wk ON wk.bucket = s3.bucket AND wk.object_key = s3.object_key
),
s3_used AS (
  SELECT * FROM s3_keyed s3
  WHERE {s3_where}
),
",
        kms_where = kms_where.join("\n    AND "),
        s3_where = s3_where.join("\n    AND "),
        writes = s3_writes(),
    )
}

/// `keytrail emit athena quota`: per account and Region, the KMS requests and the busiest
/// second, exact.
pub fn quota(s: &QuerySettings) -> String {
    format!(
        "-- keytrail {version}: KMS requests per second against the request quota, per account and
-- Region (keytrail emit athena quota). Exact, as keytrail quota counts: every symmetric KMS call
-- of any caller (S3's and others'), failed ones too, in the caller's account and the call's
-- Region, per second of eventTime, each call once (eventID, then sharedEventID).
-- Columns: kms_requests, peak (calls in the busiest second), peak_seconds (seconds at that
-- peak), throttled (KMS calls that failed as throttled). keytrail's percentiles count the
-- quiet seconds of its window too: see keytrail quota --from.
WITH {events},
calls AS (
  SELECT caller_account AS account, awsregion AS region, eventtime AS second, errorcode
  FROM unique_events
  WHERE eventsource = 'kms.amazonaws.com'
),
per_second AS (
  SELECT account, region, second, count(*) AS calls
  FROM calls
  GROUP BY 1, 2, 3
),
peaks AS (
  SELECT account, region, max(calls) AS peak, sum(calls) AS kms_requests
  FROM per_second
  GROUP BY 1, 2
)
SELECT p.account, p.region, p.kms_requests, p.peak,
       (SELECT count(*) FROM per_second s
        WHERE s.account = p.account AND s.region = p.region AND s.calls = p.peak) AS peak_seconds,
       (SELECT count(*) FROM calls c
        WHERE c.account = p.account AND c.region = p.region
          AND (strpos(c.errorcode, 'Throttl') > 0 OR c.errorcode = 'SlowDown')) AS throttled
FROM peaks p
ORDER BY 1, 2
",
        version = env!("CARGO_PKG_VERSION"),
        events = events_cte(s),
    )
}

/// `keytrail emit athena cost`: what the KMS requests cost a month, per account and per KMS key
/// within it, at `prices`.
pub fn cost(s: &QuerySettings, prices: &crate::pricing::Prices) -> String {
    let f = &s.filters;
    let start = f.since.map_or(
        "to_unixtime(from_iso8601_timestamp(first))".to_string(),
        |t| t.to_string(),
    );
    let end = f.until.map_or(
        "to_unixtime(from_iso8601_timestamp(last)) + 1".to_string(),
        |t| t.to_string(),
    );
    format!(
        "-- keytrail {version}: what the KMS requests cost a month, per account and per KMS key within
-- it (keytrail emit athena cost), as keytrail cost counts: every symmetric KMS call of any caller,
-- failed ones too, in the caller's account, each once (eventID, then sharedEventID); the month
-- is the requests observed x {month_days} days / the window ({window}); the free tier of
-- {free} requests comes off each account's month; ${per_10k} per 10,000 requests after it; ${key}
-- a month per customer managed key, in the account that owns it (a key named by an AWS managed
-- alias, alias/aws/..., costs nothing). Exact, but for what SQL cannot do: keytrail cost's
-- what-if (the same S3 traffic replayed with bucket keys switched, by its envelope engine), its
-- bucket and other-caller lines, key rotations and --aws-managed-key; and without --since and
-- --until the window runs from the first to the last KMS call or SSE-KMS S3 request selected
-- (keytrail's also spans records its account and Region filters set aside).
WITH {events},
calls AS (
  SELECT caller_account AS account, eventtime,
         coalesce(CASE WHEN key_id LIKE 'arn:%' AND strpos(key_id, ':key/') > 0 THEN key_id END,
                  element_at(transform(filter(resources,
                      r -> r.arn IS NOT NULL AND (r.type = 'AWS::KMS::Key'
                           OR (r.type IS NULL AND strpos(r.arn, ':kms:') > 0 AND strpos(r.arn, ':key/') > 0))),
                    r -> r.arn), 1)) AS kms_key,
         coalesce(key_id LIKE 'alias/aws/%' OR strpos(key_id, ':alias/aws/') > 0, false) AS aws_managed
  FROM (
    SELECT *, json_extract_scalar(requestparameters, '$.keyId') AS key_id
    FROM unique_events
    WHERE eventsource = 'kms.amazonaws.com'
  )
),
span AS (
  SELECT min(eventtime) AS first, max(eventtime) AS last
  FROM (
    SELECT eventtime FROM unique_events WHERE eventsource = 'kms.amazonaws.com'
    UNION ALL
    SELECT eventtime FROM (
      SELECT eventtime,
             {sse_columns}
      FROM unique_events
      WHERE eventsource = 's3.amazonaws.com'
    )
    WHERE {sse_kms}
  )
),
window AS (
  SELECT CAST({start} AS DOUBLE) AS start_s, CAST({end} AS DOUBLE) AS end_s FROM span
),
month AS (
  SELECT {month_days} * 86400 / (end_s - start_s) AS factor FROM window
),
aws_keys AS (SELECT DISTINCT kms_key FROM calls WHERE aws_managed AND kms_key IS NOT NULL),
owned AS (
  -- Customer managed keys seen, in the account their ARN names.
  SELECT split_part(kms_key, ':', 5) AS account, kms_key
  FROM (SELECT DISTINCT kms_key FROM calls WHERE kms_key IS NOT NULL)
  WHERE kms_key NOT IN (SELECT kms_key FROM aws_keys)
    AND split_part(kms_key, ':', 1) = 'arn'
    AND regexp_like(split_part(kms_key, ':', 5), '^[0-9]{{12}}$')
),
accounts AS (
  SELECT account, sum(n) AS kms_requests
  FROM (
    SELECT account, 1 AS n FROM calls
    UNION ALL
    SELECT account, 0 AS n FROM owned
  )
  GROUP BY 1
),
account_lines AS (
  SELECT a.account, a.kms_requests,
         a.kms_requests * m.factor AS monthly_requests,
         greatest(a.kms_requests * m.factor - {free}, 0) / 10000 * {per_10k} AS request_usd,
         (SELECT count(*) FROM owned o WHERE o.account = a.account) * {key} AS key_usd
  FROM accounts a CROSS JOIN month m
),
key_lines AS (
  SELECT c.account, c.kms_key, count(*) AS kms_requests
  FROM calls c
  GROUP BY 1, 2
)
SELECT 'account' AS scope, account, account AS name, kms_requests, monthly_requests,
       request_usd, key_usd, request_usd + key_usd AS total_usd
FROM account_lines
UNION ALL
SELECT 'kms_key' AS scope, k.account, coalesce(k.kms_key, '(unknown key)') AS name, k.kms_requests,
       k.kms_requests * m.factor AS monthly_requests,
       CASE WHEN a.kms_requests = 0 THEN 0 ELSE a.request_usd * k.kms_requests / a.kms_requests END AS request_usd,
       CASE WHEN EXISTS (SELECT 1 FROM owned o WHERE o.account = k.account AND o.kms_key = k.kms_key)
            THEN {key} ELSE 0 END AS key_usd,
       CASE WHEN a.kms_requests = 0 THEN 0 ELSE a.request_usd * k.kms_requests / a.kms_requests END
         + CASE WHEN EXISTS (SELECT 1 FROM owned o WHERE o.account = k.account AND o.kms_key = k.kms_key)
                THEN {key} ELSE 0 END AS total_usd
FROM key_lines k
JOIN account_lines a ON a.account = k.account
CROSS JOIN month m
ORDER BY 1, 2, 3
",
        version = env!("CARGO_PKG_VERSION"),
        events = events_cte(s),
        sse_columns = SSE_COLUMNS,
        sse_kms = SSE_KMS,
        month_days = prices.month_days,
        window = if f.since.is_some() && f.until.is_some() {
            "--since to --until"
        } else {
            "--since/--until where given, else the span of the events"
        },
        free = prices.free_requests_per_month,
        per_10k = prices.per_10k_requests,
        key = prices.customer_key_per_month(),
        start = start,
        end = end,
    )
}

/// Where a delivered trail lives, for the table's partition projection.
#[derive(Debug, Clone)]
pub struct Location {
    /// `s3://bucket/AWSLogs/` or `s3://bucket/AWSLogs/o-org/`, ending in `/`.
    pub root: String,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// The first day the projection covers, `YYYY/MM/DD`.
    pub first_day: String,
}

/// `keytrail emit athena ddl`: the Athena guide's CloudTrail table, partitioned by projection on
/// account, Region and day of the delivered layout.
pub fn ddl(table: &str, loc: &Location) -> String {
    format!(
        "-- keytrail {version}: the CloudTrail table of the Athena user guide (\"Create the table for
-- CloudTrail logs in Athena using partition projection\"), with the projection extended to the
-- accounts and Regions of an organization trail (keytrail emit athena ddl). Queries that name
-- account, region and \"timestamp\" (YYYY/MM/DD) read only those folders.
CREATE EXTERNAL TABLE {table} (
    eventversion STRING,
    useridentity STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        onbehalfof: STRUCT<
             userid: STRING,
             identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<
                mfaauthenticated: STRING,
                creationdate: STRING>,
            sessionissuer: STRUCT<
                type: STRING,
                principalid: STRING,
                arn: STRING,
                accountid: STRING,
                username: STRING>,
            ec2roledelivery: STRING,
            webidfederationdata: STRUCT<
                federatedprovider: STRING,
                attributes: map<string,string>>
        >
    >,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<
        arn: STRING,
        accountid: STRING,
        type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    vpcendpointaccountid STRING,
    eventcategory STRING,
    addendum STRUCT<
      reason:STRING,
      updatedfields:STRING,
      originalrequestid:STRING,
      originaleventid:STRING>,
    sessioncredentialfromconsole STRING,
    edgedevicedetails STRING,
    tlsdetails STRUCT<
      tlsversion:STRING,
      ciphersuite:STRING,
      clientprovidedhostheader:STRING>
)
PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION {location}
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.account.type'='enum',
  'projection.account.values'={accounts},
  'projection.region.type'='enum',
  'projection.region.values'={regions},
  'projection.timestamp.type'='date',
  'projection.timestamp.format'='yyyy/MM/dd',
  'projection.timestamp.interval'='1',
  'projection.timestamp.interval.unit'='DAYS',
  'projection.timestamp.range'={range},
  'storage.location.template'={template}
);
",
        version = env!("CARGO_PKG_VERSION"),
        table = ident(table),
        location = lit(&loc.root),
        accounts = lit(&loc.accounts.join(",")),
        regions = lit(&loc.regions.join(",")),
        range = lit(&format!("{},NOW", loc.first_day)),
        template = lit(&format!(
            "{}${{account}}/CloudTrail/${{region}}/${{timestamp}}",
            loc.root
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_names_are_quoted() {
        assert_eq!(lit("it's"), "'it''s'");
        assert_eq!(ident("cloudtrail_logs"), "cloudtrail_logs");
        assert_eq!(ident("db.cloudtrail_logs"), "db.cloudtrail_logs");
        assert_eq!(ident("Mixed Case"), "\"Mixed Case\"");
    }

    #[test]
    fn the_queries_name_every_operation_keytrail_reads() {
        let s = QuerySettings {
            table: "cloudtrail_logs".into(),
            filters: EngineFilters::default(),
            object_window_secs: 300,
        };
        let q = analyze(&s);
        for (name, _) in KmsOp::EVENT_NAMES.iter() {
            assert!(q.contains(&format!("'{name}'")), "{name}");
        }
        for (name, _) in S3Op::EVENT_NAMES.iter() {
            assert!(q.contains(&format!("'{name}'")), "{name}");
        }
        assert!(quota(&s).contains("'GenerateDataKeyWithoutPlaintext'"));
    }
}
