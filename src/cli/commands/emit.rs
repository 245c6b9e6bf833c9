//! `keytrail emit`: keytrail's analysis as code for another engine.

use super::super::args::{
    AthenaDdlArgs, AthenaQuery, AthenaQueryArgs, EmitArgs, EmitFilters, EmitSparkArgs, EmitTarget,
};
use super::super::exit::{ExitCode, UsageError};
use crate::emit::{self, JobSettings};
use crate::join::engine::EngineFilters;
use crate::render::sanitize::visible;
use anyhow::Context;

/// `keytrail emit`.
pub fn run(args: EmitArgs) -> anyhow::Result<ExitCode> {
    match args.target {
        EmitTarget::Spark(a) => spark(a),
        EmitTarget::Athena(AthenaQuery::Ddl(a)) => ddl(a),
        EmitTarget::Athena(AthenaQuery::Analyze(a)) => {
            if let Some((k, _)) = a
                .context
                .iter()
                .find(|(k, _)| !emit::athena::context_key_is_writable(k))
            {
                anyhow::bail!(UsageError(format!(
                    "--context {:?}: an encryption-context key with a double quote, a \
                     backslash or a control character cannot be named in Athena's JSON path; \
                     keytrail analyze and the Spark job (keytrail emit spark) take it",
                    visible(k)
                )));
            }
            let report = ReportFilters {
                principal: a.principal,
                context: a.context,
                kms_key: a.kms_key,
            };
            query_with(a.query, report, &emit::athena::analyze)
        }
        EmitTarget::Athena(AthenaQuery::Quota(a)) => query(a, &emit::athena::quota),
        EmitTarget::Athena(AthenaQuery::Cost(a)) => {
            let prices = crate::pricing::Prices {
                per_10k_requests: a.price_per_10k,
                free_requests_per_month: a.free_tier,
                key_per_month: a.key_month,
                month_days: a.month_days,
                ..Default::default()
            };
            query(a.query, &|s| emit::athena::cost(s, &prices))
        }
    }
}

/// Writes emitted code to `output`, or stdout.
fn write(output: Option<&std::path::Path>, text: &str) -> anyhow::Result<ExitCode> {
    let place = output.map_or_else(
        || "stdout".to_string(),
        |p| visible(&p.display().to_string()).into_owned(),
    );
    crate::output::write(output, text.as_bytes()).with_context(|| format!("writing to {place}"))?;
    Ok(ExitCode::Success)
}

/// The filters emitted code is written with, checked.
fn filters(f: EmitFilters) -> anyhow::Result<EngineFilters> {
    if let (Some(s), Some(u)) = (f.since, f.until) {
        if s >= u {
            anyhow::bail!(UsageError("--since must be before --until".into()));
        }
    }
    Ok(EngineFilters {
        since: f.since,
        until: f.until,
        account: f.account,
        region: f.region,
        event_name: f.event_name,
        bucket_arn_prefix: f.bucket_arn_prefix,
        ..Default::default()
    })
}

fn spark(a: EmitSparkArgs) -> anyhow::Result<ExitCode> {
    let settings = JobSettings {
        filters: EngineFilters {
            principal: a.principal,
            context: a.context,
            kms_key: a.kms_key,
            ..filters(a.filters)?
        },
        window_secs: a.window,
        object_window_secs: a.object_window,
    };
    write(a.output.as_deref(), &emit::spark_job(&settings))
}

fn ddl(a: AthenaDdlArgs) -> anyhow::Result<ExitCode> {
    let folder = a
        .location
        .strip_prefix("s3://")
        .filter(|rest| rest.trim_end_matches('/').contains('/'));
    if folder.is_none() {
        anyhow::bail!(UsageError(format!(
            "--location {:?}: give the trail's folder that holds the account folders, \
             s3://BUCKET/AWSLogs/ (or s3://BUCKET/AWSLogs/o-ORG/ for an organization trail)",
            a.location
        )));
    }
    let first = chrono::NaiveDate::parse_from_str(&a.first_day, "%Y-%m-%d").map_err(|_| {
        UsageError(format!(
            "--first-day {:?} is not a day: give YYYY-MM-DD",
            a.first_day
        ))
    })?;
    let root = format!("{}/", a.location.trim_end_matches('/'));
    let sql = emit::athena::ddl(
        &a.table,
        &emit::athena::Location {
            root,
            accounts: a.account,
            regions: a.region,
            first_day: first.format("%Y/%m/%d").to_string(),
        },
    );
    write(a.output.as_deref(), &sql)
}

fn query(
    a: AthenaQueryArgs,
    make: &dyn Fn(&emit::athena::QuerySettings) -> String,
) -> anyhow::Result<ExitCode> {
    query_with(a, ReportFilters::default(), make)
}

/// The filters only `emit athena analyze` takes.
#[derive(Default)]
struct ReportFilters {
    principal: Vec<String>,
    context: Vec<(String, String)>,
    kms_key: Vec<String>,
}

/// A query with analyze's `--principal`, `--context` and `--kms-key` too.
fn query_with(
    a: AthenaQueryArgs,
    report: ReportFilters,
    make: &dyn Fn(&emit::athena::QuerySettings) -> String,
) -> anyhow::Result<ExitCode> {
    let settings = emit::athena::QuerySettings {
        table: a.table,
        filters: EngineFilters {
            principal: report.principal,
            context: report.context,
            kms_key: report.kms_key,
            ..filters(a.filters)?
        },
        object_window_secs: a.object_window,
    };
    write(a.output.as_deref(), &make(&settings))
}
