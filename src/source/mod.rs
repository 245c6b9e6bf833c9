//! Finding the inputs and decoding them: the directory walk, path-based skipping, reading,
//! decompression ([`decode`]), framing ([`frame`]), the fast value scanner ([`scan`]) and the
//! byte classifier it shares with the record index ([`classify`]).

pub mod classify;
pub mod decode;
pub mod frame;
pub mod scan;

use crate::reason;
use crate::summary::{Problem, Summary};
use chrono::NaiveDate;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input as given by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// A file, or a directory walked recursively in sorted order.
    Path(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    /// Size in bytes as stored, when known (0 for stdin).
    pub size: u64,
}

impl Input {
    /// The name used in messages and reports.
    pub fn display(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "<stdin>".to_string(),
        }
    }

    /// Reads the whole input as stored into `buf` (cleared first).
    pub fn read_into(&self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        buf.clear();
        match &self.path {
            Some(p) => {
                let mut f = std::fs::File::open(p)?;
                if let Ok(m) = f.metadata() {
                    buf.reserve(m.len() as usize);
                }
                f.read_to_end(buf)?;
            }
            None => {
                std::io::stdin().lock().read_to_end(buf)?;
            }
        }
        Ok(())
    }
}

/// Lists the inputs in a stable order: as given, each directory walked in sorted order.
/// Files the path alone shows are not trail logs are counted in `summary` and left out;
/// directories that cannot be walked are recorded as problems.
pub fn discover(
    specs: &[InputSpec],
    since: Option<i64>,
    until: Option<i64>,
    summary: &mut Summary,
) -> Vec<Input> {
    let mut inputs = Vec::new();
    for spec in specs {
        let root = match spec {
            InputSpec::Stdin => {
                inputs.push(Input {
                    path: None,
                    size: 0,
                });
                continue;
            }
            InputSpec::Path(p) => p,
        };
        let walker = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let file = e
                        .path()
                        .map_or_else(|| root.display().to_string(), |p| p.display().to_string());
                    let why = if e.loop_ancestor().is_some() {
                        reason::DIRECTORY_LOOP
                    } else {
                        reason::UNREADABLE
                    };
                    summary.file_problem(why);
                    summary.add_problem(Problem {
                        file,
                        location: String::new(),
                        reason: why.into(),
                        message: strip_path_from_walk_error(&e),
                    });
                    continue;
                }
            };
            if entry.file_type().is_dir() {
                continue;
            }
            let path = entry.path();
            // A file named on the command line is read whatever its name; only what a walk
            // finds is skipped by name.
            if entry.depth() > 0 {
                if let Some(why) = skip_reason(path, since, until) {
                    summary.skip_file(why);
                    continue;
                }
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            inputs.push(Input {
                path: Some(path.to_path_buf()),
                size,
            });
        }
    }
    inputs
}

fn strip_path_from_walk_error(e: &walkdir::Error) -> String {
    if let Some(anc) = e.loop_ancestor() {
        return format!("symbolic link loop back to {}; not followed", anc.display());
    }
    match e.io_error() {
        Some(io) => format!("cannot read: {io}"),
        None => e.to_string(),
    }
}

/// Why a file found by a walk is not read, from its path alone.
fn skip_reason(path: &Path, since: Option<i64>, until: Option<i64>) -> Option<&'static str> {
    let mut components = Vec::new();
    for c in path.components() {
        let s = c.as_os_str().to_string_lossy();
        match s.as_ref() {
            "CloudTrail-Digest" => return Some(reason::DIGEST_FILE),
            "CloudTrail-Insight" => return Some(reason::INSIGHTS_FILE),
            "CloudTrail-Lake" => return Some(reason::LAKE_RESULT),
            _ => {}
        }
        components.push(s.into_owned());
    }
    if path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    {
        return Some(reason::HIDDEN_FILE);
    }
    let date = path_date(&components)?;
    let day = 86_400;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    // The path date is the delivery date: a file holds events from the day before it and
    // earlier that day. Keep one more day of margin on each side for late deliveries.
    let too_old = since.is_some_and(|s| start + 2 * day <= s);
    let too_new = until.is_some_and(|u| start - 2 * day >= u);
    (too_old || too_new).then_some(reason::OUT_OF_TIME_RANGE)
}

/// The `YYYY/MM/DD` of a delivered file's path, if it has one.
fn path_date(components: &[String]) -> Option<NaiveDate> {
    components.windows(3).rev().find_map(|w| {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if digits(&w[0], 4) && digits(&w[1], 2) && digits(&w[2], 2) {
            NaiveDate::from_ymd_opt(w[0].parse().ok()?, w[1].parse().ok()?, w[2].parse().ok()?)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        crate::event::parse_time(s).unwrap()
    }

    #[test]
    fn digest_and_insights_folders_are_skipped_by_path() {
        let p = Path::new("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz");
        assert_eq!(skip_reason(p, None, None), Some(reason::DIGEST_FILE));
        let p = Path::new("AWSLogs/o-1/1/CloudTrail-Insight/us-east-1/2024/01/01/x.json.gz");
        assert_eq!(skip_reason(p, None, None), Some(reason::INSIGHTS_FILE));
    }

    #[test]
    fn path_dates_skip_files_with_a_day_of_margin() {
        let p = Path::new("AWSLogs/1/CloudTrail/us-east-1/2024/01/10/x.json.gz");
        let since = Some(t("2024-01-11T12:00:00Z"));
        assert_eq!(
            skip_reason(p, since, None),
            None,
            "the next day's events may be in it"
        );
        let since = Some(t("2024-01-12T00:00:00Z"));
        assert_eq!(skip_reason(p, since, None), Some(reason::OUT_OF_TIME_RANGE));
        let until = Some(t("2024-01-09T00:00:00Z"));
        assert_eq!(skip_reason(p, None, until), None);
        let until = Some(t("2024-01-08T00:00:00Z"));
        assert_eq!(skip_reason(p, None, until), Some(reason::OUT_OF_TIME_RANGE));
    }
}
