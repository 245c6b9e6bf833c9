//! The exit-code policy, in one place.

/// What `keytrail` exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The report was produced (input problems, if any, are in its summary).
    Success,
    /// keytrail could not do its job: an output it could not write, an internal error.
    Failure,
    /// The command line was wrong (clap's own code for usage errors).
    Usage,
    /// `--strict` and the input had a problem (unreadable, truncated, not CloudTrail, ...).
    InputProblem,
    /// `analyze --expect`: the figures differ from the manifest.
    Mismatch,
    /// `check`: a threshold was passed.
    Violation,
    /// Nothing to report: the input, after filters, holds no KMS call or S3 request (every
    /// command; the report, if any, is still written); or `check`: a threshold could not be
    /// evaluated (no KMS calls, no objects).
    NotChecked,
    /// Ctrl-C: stopped, nothing written (128 + SIGINT, as shells report it).
    Interrupted,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::InputProblem => 3,
            ExitCode::Mismatch => 4,
            ExitCode::Violation => 5,
            ExitCode::NotChecked => 6,
            ExitCode::Interrupted => 130,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

/// The text `--help` shows about exit codes.
pub const HELP: &str = "\
Exit codes:
  0  success (input problems, if any, are counted in the report's summary)
  1  failure (an output that could not be written, an internal error)
  2  usage error
  3  --strict, and an input had a problem (unreadable, truncated, not CloudTrail, ...)
  4  analyze --expect: the report differs from the manifest
  5  check: a threshold was passed (each violation is printed)
  6  nothing to report: the input, after filters, holds no KMS call or S3 request (every
     command says why); check: a threshold could not be evaluated (no KMS calls or no objects
     seen): a gate that checked nothing does not pass
  130  interrupted (Ctrl-C): stopped, no report written";

/// A usage error found after clap: the message, and exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let all = [
            ExitCode::Success,
            ExitCode::Failure,
            ExitCode::Usage,
            ExitCode::InputProblem,
            ExitCode::Mismatch,
            ExitCode::Violation,
            ExitCode::NotChecked,
            ExitCode::Interrupted,
        ];
        let mut codes: Vec<u8> = all.iter().map(|c| c.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        for c in &all {
            assert!(HELP.contains(&format!("\n  {}  ", c.code())), "{c:?}");
        }
    }
}
