//! Finding the inputs and decoding them: the directory walk and S3 listing ([`s3`]), path-based
//! skipping, reading, decompression ([`decode`]), framing ([`frame`]), the fast value scanner
//! ([`scan`]) and the byte classifier it shares with the record index ([`classify`]).

pub mod classify;
pub mod decode;
pub mod frame;
pub mod s3;
pub mod scan;

use crate::reason;
use crate::summary::{Problem, Summary};
use chrono::{Datelike, NaiveDate};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input as given by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// A file, or a directory walked recursively in sorted order.
    Path(PathBuf),
    /// Standard input (`-`).
    Stdin,
    /// Every object under an S3 prefix (`s3://bucket/prefix`), listed by the delivered layout.
    S3(s3::S3Url),
}

/// Where one input's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Stdin,
    S3(s3::S3Object),
}

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub origin: Origin,
    /// Size in bytes as stored, when known (0 for stdin).
    pub size: u64,
}

impl Input {
    /// The name used in messages and reports.
    pub fn display(&self) -> String {
        match &self.origin {
            Origin::File(p) => p.display().to_string(),
            Origin::Stdin => "<stdin>".to_string(),
            Origin::S3(o) => o.to_string(),
        }
    }

    /// Reads the whole input as stored into `buf` (cleared first). S3 objects are read by
    /// [`s3::S3Reader`], many at a time, not here.
    pub fn read_into(&self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        buf.clear();
        match &self.origin {
            Origin::File(p) => {
                let mut f = std::fs::File::open(p)?;
                if let Ok(m) = f.metadata() {
                    buf.reserve(m.len() as usize);
                }
                f.read_to_end(buf)?;
            }
            Origin::Stdin => {
                std::io::stdin().lock().read_to_end(buf)?;
            }
            Origin::S3(o) => {
                return Err(std::io::Error::other(format!(
                    "{o} is read by the S3 reader, not as a file"
                )))
            }
        }
        Ok(())
    }
}

/// What a path alone can rule out: the delivered layout
/// (`AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`) names each file's account, Region
/// and delivery date, so `--account`, `--region` and `--since`/`--until` skip files (and, in an
/// S3 listing, whole prefixes) without reading them. Records are filtered by the same options
/// as well, so what is skipped here could not have been used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prune {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

/// Lists the inputs in a stable order: as given, each directory walked in sorted order.
/// Files the path alone shows are not trail logs are counted in `summary` and left out;
/// directories that cannot be walked are recorded as problems.
pub fn discover(specs: &[InputSpec], prune: &Prune, summary: &mut Summary) -> Vec<Input> {
    let mut inputs = Vec::new();
    for spec in specs {
        let root = match spec {
            InputSpec::Stdin => {
                inputs.push(Input {
                    origin: Origin::Stdin,
                    size: 0,
                });
                continue;
            }
            // Listed by the S3 reader.
            InputSpec::S3(_) => continue,
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
            if entry.depth() > 0 && !entry.file_type().is_file() {
                summary.skip_file(reason::NOT_REGULAR_FILE);
                continue;
            }
            let path = entry.path();
            // A file named on the command line is read whatever its name; only what a walk
            // finds is skipped by name.
            if entry.depth() > 0 {
                if let Some(why) = skip_reason(path, prune) {
                    summary.skip_file(why);
                    continue;
                }
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            inputs.push(Input {
                origin: Origin::File(path.to_path_buf()),
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
fn skip_reason(path: &Path, prune: &Prune) -> Option<&'static str> {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    path_skip(&parts, prune, false)
}

/// Folders of the delivered layout that hold no records keytrail reads, and why.
pub const SKIPPED_FOLDERS: [(&str, &str); 3] = [
    ("CloudTrail-Digest", reason::DIGEST_FILE),
    ("CloudTrail-Insight", reason::INSIGHTS_FILE),
    ("CloudTrail-Lake", reason::LAKE_RESULT),
];

/// Why a file (or, with `dir`, every file under a folder) is not read, from its path's
/// components alone: the same rule for a local walk and an S3 listing, so both read the same
/// files.
pub fn path_skip(parts: &[&str], prune: &Prune, dir: bool) -> Option<&'static str> {
    for p in parts {
        if let Some(&(_, why)) = SKIPPED_FOLDERS.iter().find(|(name, _)| name == p) {
            return Some(why);
        }
    }
    // The folders above a file (all of them for a folder).
    let folders = if dir {
        parts
    } else {
        if parts.last().is_some_and(|n| n.starts_with('.')) {
            return Some(reason::HIDDEN_FILE);
        }
        &parts[..parts.len().saturating_sub(1)]
    };
    let is_account = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    // AWSLogs/ACCOUNT/ or AWSLogs/o-ORG/ACCOUNT/, after the first AWSLogs.
    let account = folders.iter().position(|p| *p == "AWSLogs").and_then(|i| {
        let next = folders.get(i + 1)?;
        if next.starts_with("o-") {
            folders.get(i + 2).copied()
        } else {
            Some(*next)
        }
    });
    if let Some(a) = account.filter(|a| is_account(a)) {
        if !prune.accounts.is_empty() && !prune.accounts.iter().any(|x| x == a) {
            return Some(reason::PATH_ACCOUNT_NOT_ASKED);
        }
    }
    let ct = match layout_anchor(folders) {
        Some(ct) => ct,
        // Not the delivered layout: a folder is read (what is under it is not known), a
        // file by the date in its path, if any.
        None if dir => return None,
        None => return outside_the_layout(folders, prune),
    };
    let region = folders.get(ct + 1)?;
    if !prune.regions.is_empty() && !prune.regions.iter().any(|r| r == region) {
        return Some(reason::PATH_REGION_NOT_ASKED);
    }
    let (first, next) = date_folders(&folders[ct + 2..])?;
    outside_days(first, next, prune)
}

/// Where the delivered layout's `CloudTrail` folder is: the first one right after
/// `AWSLogs/ACCOUNT` or `AWSLogs/o-ORG/ACCOUNT`. Anchored on `AWSLogs`, so a bucket prefix or
/// a local folder named `CloudTrail` above the layout is not taken for it; and being the first,
/// it is the same for a folder and every file under it, so a folder is pruned only when each
/// of its files would be skipped (the S3 listing prunes folders, a local walk skips files).
fn layout_anchor(folders: &[&str]) -> Option<usize> {
    (2..folders.len()).find(|&i| {
        folders[i] == "CloudTrail"
            && (folders[i - 2] == "AWSLogs"
                || (i >= 3 && folders[i - 3] == "AWSLogs" && folders[i - 2].starts_with("o-")))
    })
}

/// A file outside the delivered layout: skipped by the `YYYY/MM/DD` in its path (the last one),
/// if the days it names are outside the run's.
fn outside_the_layout(folders: &[&str], prune: &Prune) -> Option<&'static str> {
    let owned: Vec<String> = folders.iter().map(|s| s.to_string()).collect();
    let date = path_date(&owned)?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    outside_days(start, start + DAY, prune)
}

/// The days (first, next: day starts in seconds) that `YYYY[/MM[/DD]]` folders cover: the
/// most specific level that is a real date, so a folder covers every day its subfolders can
/// (`2024/13` covers 2024, as `2024` does). Years 1 to 9998.
fn date_folders(dates: &[&str]) -> Option<(i64, i64)> {
    let number = |i: usize, n: usize| -> Option<u32> {
        let s = dates.get(i)?;
        (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let year = number(0, 4).filter(|y| (1..=9998).contains(y))? as i32;
    let ymd = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d);
    let mut range = (ymd(year, 1, 1)?, ymd(year + 1, 1, 1)?);
    if let Some(first) = number(1, 2).and_then(|m| ymd(year, m, 1)) {
        range = (first, first.checked_add_months(chrono::Months::new(1))?);
        if let Some(day) = number(2, 2).and_then(|d| ymd(year, first.month(), d)) {
            range = (day, day.succ_opt()?);
        }
    }
    let ts = |d: NaiveDate| Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp());
    Some((ts(range.0)?, ts(range.1)?))
}

const DAY: i64 = 86_400;

/// Whether delivery dates in `[first, next)` (day starts, in seconds) hold no event between
/// `--since` and `--until`: a file holds events from the day before its date and earlier that
/// day; one more day of margin on each side covers late deliveries.
fn outside_days(first: i64, next: i64, prune: &Prune) -> Option<&'static str> {
    let too_old = prune.since.is_some_and(|s| next + DAY <= s);
    let too_new = prune.until.is_some_and(|u| first - 2 * DAY >= u);
    (too_old || too_new).then_some(reason::OUT_OF_TIME_RANGE)
}

/// The `YYYY/MM/DD` of a delivered file's path, if it has one (years 1 to 9999, as the Spark
/// job's Python reads them).
fn path_date(components: &[String]) -> Option<NaiveDate> {
    components.windows(3).rev().find_map(|w| {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if digits(&w[0], 4) && digits(&w[1], 2) && digits(&w[2], 2) && w[0] != "0000" {
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
        assert_eq!(skip_reason(p, &Prune::default()), Some(reason::DIGEST_FILE));
        let p = Path::new("AWSLogs/o-1/1/CloudTrail-Insight/us-east-1/2024/01/01/x.json.gz");
        assert_eq!(
            skip_reason(p, &Prune::default()),
            Some(reason::INSIGHTS_FILE)
        );
    }

    fn window(since: Option<&str>, until: Option<&str>) -> Prune {
        Prune {
            since: since.map(t),
            until: until.map(t),
            ..Prune::default()
        }
    }

    #[test]
    fn path_dates_skip_files_with_a_day_of_margin() {
        let p = Path::new("AWSLogs/1/CloudTrail/us-east-1/2024/01/10/x.json.gz");
        let since = window(Some("2024-01-11T12:00:00Z"), None);
        assert_eq!(
            skip_reason(p, &since),
            None,
            "the next day's events may be in it"
        );
        let since = window(Some("2024-01-12T00:00:00Z"), None);
        assert_eq!(skip_reason(p, &since), Some(reason::OUT_OF_TIME_RANGE));
        let until = window(None, Some("2024-01-09T00:00:00Z"));
        assert_eq!(skip_reason(p, &until), None);
        let until = window(None, Some("2024-01-08T00:00:00Z"));
        assert_eq!(skip_reason(p, &until), Some(reason::OUT_OF_TIME_RANGE));
        // Outside the layout, a date anywhere in the path still counts.
        let p = Path::new("exports/2024/01/10/x.json.gz");
        let since = window(Some("2024-01-12T00:00:00Z"), None);
        assert_eq!(skip_reason(p, &since), Some(reason::OUT_OF_TIME_RANGE));
    }

    /// A folder is pruned only when every file under it would be skipped: walking the folders
    /// of a tree of every day of two years, no file of a kept folder... and no file of a pruned
    /// folder is kept by the file rule.
    #[test]
    fn pruning_a_folder_agrees_with_skipping_each_of_its_files() {
        let prune = Prune {
            since: Some(t("2024-02-27T00:00:00Z")),
            until: Some(t("2024-03-02T00:00:00Z")),
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
        };
        let mut day = NaiveDate::from_ymd_opt(2023, 12, 1).unwrap();
        let mut kept = 0;
        while day < NaiveDate::from_ymd_opt(2024, 5, 1).unwrap() {
            for account in ["111122223333", "444455556666"] {
                for region in ["eu-west-1", "us-east-1"] {
                    let y = day.format("%Y").to_string();
                    let m = day.format("%m").to_string();
                    let d = day.format("%d").to_string();
                    let file = [
                        "AWSLogs",
                        "o-abcdefghij",
                        account,
                        "CloudTrail",
                        region,
                        &y,
                        &m,
                        &d,
                        "f.json.gz",
                    ];
                    let skipped = path_skip(&file, &prune, false);
                    for depth in 2..file.len() {
                        if path_skip(&file[..depth], &prune, true).is_some() {
                            assert!(skipped.is_some(), "{file:?} pruned at {depth} but kept");
                        }
                    }
                    kept += usize::from(skipped.is_none());
                }
            }
            day = day.succ_opt().unwrap();
        }
        // 2024-02-26 .. 2024-03-03: the margins of a day on each side.
        assert_eq!(kept, 7);
        // A bucket prefix (or a local folder) named CloudTrail above the layout is not the
        // layout's CloudTrail folder: pruning it by Region would drop the whole trail.
        for depth in 1..=3 {
            let above = ["CloudTrail", "AWSLogs", "111122223333", "CloudTrail"];
            assert_eq!(path_skip(&above[..depth], &prune, true), None);
        }
        let file = [
            "CloudTrail",
            "AWSLogs",
            "111122223333",
            "CloudTrail",
            "eu-west-1",
            "2024",
            "02",
            "28",
            "f.json.gz",
        ];
        assert_eq!(path_skip(&file, &prune, false), None);
        // A folder that is not a month covers its year, as the year's folder does.
        let odd = [
            "AWSLogs",
            "111122223333",
            "CloudTrail",
            "eu-west-1",
            "2023",
            "13",
        ];
        assert_eq!(
            path_skip(&odd, &prune, true),
            Some(reason::OUT_OF_TIME_RANGE)
        );
        let odd = [
            "AWSLogs",
            "111122223333",
            "CloudTrail",
            "eu-west-1",
            "2024",
            "13",
        ];
        assert_eq!(path_skip(&odd, &prune, true), None);
        let digest = ["AWSLogs", "111122223333", "CloudTrail-Digest"];
        assert_eq!(path_skip(&digest, &prune, true), Some(reason::DIGEST_FILE));
        let other = ["AWSLogs", "444455556666"];
        assert_eq!(
            path_skip(&other, &prune, true),
            Some(reason::PATH_ACCOUNT_NOT_ASKED)
        );
        let region = ["AWSLogs", "111122223333", "CloudTrail", "us-east-1"];
        assert_eq!(
            path_skip(&region, &prune, true),
            Some(reason::PATH_REGION_NOT_ASKED)
        );
    }
}
