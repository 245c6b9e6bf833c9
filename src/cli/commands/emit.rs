//! `keytrail emit`: keytrail's analysis as code for another engine.

use super::super::args::{EmitArgs, EmitSparkArgs, EmitTarget};
use super::super::exit::ExitCode;
use crate::emit::{self, JobSettings};
use crate::join::engine::EngineFilters;
use crate::render::sanitize::visible;
use anyhow::Context;

/// `keytrail emit`.
pub fn run(args: EmitArgs) -> anyhow::Result<ExitCode> {
    match args.target {
        EmitTarget::Spark(a) => spark(a),
    }
}

fn spark(a: EmitSparkArgs) -> anyhow::Result<ExitCode> {
    if let (Some(s), Some(u)) = (a.since, a.until) {
        if s >= u {
            anyhow::bail!(super::super::exit::UsageError(
                "--since must be before --until".into()
            ));
        }
    }
    let settings = JobSettings {
        filters: EngineFilters {
            since: a.since,
            until: a.until,
            account: a.account,
            region: a.region,
            event_name: a.event_name,
            principal: a.principal,
            context: a.context,
            bucket_arn_prefix: a.bucket_arn_prefix,
            kms_key: a.kms_key,
        },
        window_secs: a.window,
        object_window_secs: a.object_window,
    };
    let job = emit::spark_job(&settings);
    let place = a.output.as_deref().map_or_else(
        || "stdout".to_string(),
        |p| visible(&p.display().to_string()).into_owned(),
    );
    crate::output::write(a.output.as_deref(), job.as_bytes())
        .with_context(|| format!("writing the job to {place}"))?;
    Ok(ExitCode::Success)
}
