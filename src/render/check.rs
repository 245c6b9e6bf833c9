//! `check`'s outcomes as text (one verdict a line) and as JSON (`keytrail.check/v1`).

use super::sanitize::visible;
use crate::reports::check::{Outcome, Verdict};
use serde_json::{json, Value};

/// The versioned name of the JSON schema; bump it on any incompatible change.
pub const SCHEMA: &str = "keytrail.check/v1";

/// One line per check: `ok`, `FAIL` or `N/A`, then its message.
pub fn text(outcomes: &[Outcome]) -> String {
    let mut text = String::new();
    for o in outcomes {
        let verdict = match o.verdict {
            Verdict::Pass => "ok  ",
            Verdict::Fail => "FAIL",
            Verdict::NotChecked => "N/A ",
        };
        text.push_str(&format!("{verdict} {}\n", visible(&o.message)));
    }
    text
}

/// The JSON of a check; `passed` only when every check passed.
pub fn json(outcomes: &[Outcome]) -> Value {
    json!({
        "schema": SCHEMA,
        "passed": !outcomes.is_empty() && outcomes.iter().all(|o| o.verdict == Verdict::Pass),
        "checks": outcomes.iter().map(|o| json!({
            "kind": o.kind,
            "subject": o.subject,
            "value": o.value,
            "limit": o.limit,
            "passed": o.verdict == Verdict::Pass,
            "verdict": o.verdict.name(),
            "message": o.message,
        })).collect::<Vec<_>>(),
    })
}
