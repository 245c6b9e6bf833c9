//! A joined trail computed by another engine: the output of the Spark job `keytrail emit spark`
//! writes (`keytrail.engine/v2`), read back into a [`Joined`], so that every report keytrail
//! makes from a trail it makes from that output too; past the memory budget, a group of parts
//! at a time ([`Output::groups`]), as a spilled trail is joined.
//!
//! The output is a folder:
//!
//! | path | what |
//! |---|---|
//! | `_keytrail.json` | `schema` (`"keytrail.engine/v2"`), `made_by`, `settings` (the record filters the job applied, the matching windows, and the report filters `keytrail emit` was given), `listing` (files read, folders pruned by reason), `summary.analyze` and `summary.calls` (the accounting of every record, without and with other callers' KMS calls), `shared_calls`, `layout` (`parts`: 256; `rows`: per part that holds any, its rows in `kms`, `s3` and `calls`; `links`: the pairs of parts a copy links, its bucket's and its source bucket's) |
//! | `kms/part=N/*.parquet` | the KMS calls S3 made, deduplicated: `uid` (the job's row number), `time` (Unix seconds), `requester`, `bucket`, `key`, `op`, `mode`, `kms_key`, `head`, `account`, `region`, `failure`, `ctx_pass`, `ctx_value`, `id`, `shared` (as in `keytrail.joined/v1`), and `matched`: the `uid` of the S3 request it was matched to, or null |
//! | `s3/part=N/*.parquet` | the S3 requests, deduplicated, reads of objects written without SSE-KMS set apart: the fields of `keytrail.joined/v1`'s `s3`, `uid`, and what the object's logged writes say: `obj_kms_key`, `writer_bucket_key`, `writer_dsse` |
//! | `calls/part=N/*.parquet` | every caller's symmetric KMS call, deduplicated (for cost and quota) |
//!
//! A bucket's rows are in the part [`crate::trail::spill::partition_of`] gives its name (the
//! spill's partitions); another caller's call, which has no bucket, in the part of its eventID
//! modulo the number of parts their count needs ([`OTHER_CALLS_PER_PART`]). A file holds at
//! most [`ROWS_PER_FILE`] rows.
//!
//! Operations, modes and failures are written by their names in `keytrail.joined/v1`. Rows come
//! in any order: they are sorted here as the join sorts them, and the symbols numbered in
//! string order, so the result is the one [`super::join`] makes of the same trail.

use super::{bucket_modes, Joined, Matches};
use crate::event::{Failure, KmsOp, Mode, S3Op};
use crate::intern::{Interner, Sym};
use crate::summary::{FromParts, Reasons, Summary};
use crate::trail::config::AnalyzeConfig;
use crate::trail::records::{CallRec, KmsRec, S3Rec};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The versioned name of the output. (v1 wrote each table in one folder; v2 in parts by bucket.)
pub const SCHEMA: &str = "keytrail.engine/v2";

/// The parts the job writes each table in (folders `part=N`): the partitions of the memory
/// budget's spill, by the same hash of the bucket name ([`crate::trail::spill::partition_of`]).
pub const PARTS: usize = crate::trail::spill::PARTITIONS;

/// Other callers' KMS calls (no bucket) a part of the `calls` table holds, about: the job
/// spreads them by eventID over as many parts as this makes (one for a few thousand, all
/// [`PARTS`] past four million), so that a small output is not 256 files of a few rows and a
/// large one still reads a part at a time within a budget of a few hundred MiB (16,384 rows at
/// [`READ_BYTES_PER_ROW`] is 16 MiB).
pub const OTHER_CALLS_PER_PART: u64 = 16_384;

/// The rows a Parquet file of the output holds at most (the job's `maxRecordsPerFile`): a part
/// holding a bucket of billions of requests is many files, each written in reasonable time.
pub const ROWS_PER_FILE: u64 = 4_000_000;

/// The memory reading one row of the output takes at its peak, in bytes: the Parquet file,
/// its decoded columns and the row as the join holds it, for a whole part at a time. What
/// `--from` packs parts into groups by, within half of `--memory-limit` (the rest is the
/// reports' state). Measured at about 550 bytes on the scale bench's trail (docs/engines.md,
/// "Reading the output within a memory budget"); 1 KiB leaves room for the longer names
/// (ARNs, object keys) of real trails. `--memory-limit` is the user's handle on it.
pub const READ_BYTES_PER_ROW: u64 = 1024;

/// The file that says what the output is.
pub const MANIFEST: &str = "_keytrail.json";

/// What is wrong with a folder that is not an engine output keytrail can read.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{path}: {source} (is it the OUTPUT folder of the job `keytrail emit spark` writes?)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a keytrail engine output: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: schema {found:?}: this keytrail reads {SCHEMA} (emit the job again with this keytrail)")]
    Schema { path: PathBuf, found: String },
    #[error("{path}: {message}")]
    Table { path: PathBuf, message: String },
    #[error("{0}")]
    Settings(String),
    #[error("{url}: {message}")]
    Remote { url: String, message: String },
}

/// The record and report filters a job was written and run with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineFilters {
    pub since: Option<i64>,
    pub until: Option<i64>,
    #[serde(default)]
    pub account: Vec<String>,
    #[serde(default)]
    pub region: Vec<String>,
    #[serde(default)]
    pub event_name: Vec<String>,
    #[serde(default)]
    pub principal: Vec<String>,
    #[serde(default)]
    pub context: Vec<(String, String)>,
    #[serde(default)]
    pub bucket_arn_prefix: Vec<String>,
    #[serde(default)]
    pub kms_key: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineSettings {
    pub filters: EngineFilters,
    pub window_seconds: i64,
    pub object_window_seconds: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Listing {
    pub files: u64,
    #[serde(default)]
    pub folders_pruned: Reasons,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summaries {
    /// Without other callers' KMS calls (analyze).
    pub analyze: Summary,
    /// With them (cost, quota).
    pub calls: Summary,
}

/// `_keytrail.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub made_by: String,
    pub settings: EngineSettings,
    #[serde(default)]
    pub listing: Listing,
    pub summary: Summaries,
    pub shared_calls: u64,
    pub layout: Layout,
}

/// How the tables are split: each in folders `part=N` by the hash of the bucket (other callers'
/// calls by their eventID), the rows of each part, and the parts copies link.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Layout {
    /// How many parts there can be ([`PARTS`]).
    pub parts: usize,
    /// The parts that hold rows, with their rows per table.
    pub rows: Vec<PartRows>,
    /// Pairs of parts a copy links (its bucket's and its source bucket's): read together.
    pub links: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartRows {
    pub part: u32,
    pub kms: u64,
    pub s3: u64,
    pub calls: u64,
}

/// A Parquet file of one of the tables.
#[derive(Debug, Clone)]
pub struct TableFile {
    /// The part it belongs to (its folder `part=N`).
    pub part: usize,
    /// Its path, or its `s3://` URL.
    pub name: PathBuf,
    /// In S3: the object, and its listed size.
    object: Option<(crate::source::s3::S3Object, u64)>,
}

/// The part a file is in, from its folder `part=N`.
fn part_of_path(path: &str) -> Option<usize> {
    let folder = path.rsplit('/').nth(1)?;
    folder.strip_prefix("part=")?.parse().ok()
}

/// Where an engine's output is: a local folder, or an `s3://` prefix (read with the same S3
/// client, credentials and endpoint settings as `s3://` trail inputs).
pub enum Folder {
    Local(PathBuf),
    S3 {
        reader: Box<crate::source::s3::S3Reader>,
        url: crate::source::s3::S3Url,
    },
}

impl Folder {
    /// The folder `place` names; an `s3://` URL is reached with `s3`.
    pub fn open(place: &Path, s3: &crate::source::s3::S3Settings) -> Result<Folder, EngineError> {
        let text = place.to_string_lossy();
        match crate::source::s3::S3Url::parse(&text) {
            None => Ok(Folder::Local(place.to_path_buf())),
            Some(url) => {
                let remote = |e: crate::source::s3::S3Error| EngineError::Remote {
                    url: text.to_string(),
                    message: e.to_string(),
                };
                let mut url = url.map_err(remote)?;
                if !url.prefix.is_empty() && !url.prefix.ends_with('/') {
                    url.prefix.push('/');
                }
                let reader = crate::source::s3::S3Reader::new(s3.clone()).map_err(remote)?;
                Ok(Folder::S3 {
                    reader: Box::new(reader),
                    url,
                })
            }
        }
    }

    /// How a file of the folder is named in messages.
    fn name(&self, rel: &str) -> PathBuf {
        match self {
            Folder::Local(dir) => dir.join(rel),
            Folder::S3 { url, .. } => {
                PathBuf::from(format!("s3://{}/{}{rel}", url.bucket, url.prefix))
            }
        }
    }

    /// Fetches S3 objects (with their listed sizes), whole. Each is taken out of the reader's
    /// buffer budget as it arrives, so the reader goes on while they are collected.
    fn fetch(
        reader: &crate::source::s3::S3Reader,
        objects: Vec<(crate::source::s3::S3Object, u64)>,
    ) -> Vec<(crate::source::s3::S3Object, Result<Vec<u8>, String>)> {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        std::thread::scope(|scope| {
            scope.spawn(move || reader.fetch(objects, &|| false, tx));
            rx.into_iter()
                .map(|f| (f.object, f.got.map(Vec::from)))
                .collect()
        })
    }

    /// One file of the folder.
    fn read(&self, rel: &str) -> Result<Vec<u8>, EngineError> {
        match self {
            Folder::Local(dir) => {
                let path = dir.join(rel);
                std::fs::read(&path).map_err(|source| EngineError::Io { path, source })
            }
            Folder::S3 { reader, url } => {
                let object = crate::source::s3::S3Object {
                    bucket: url.bucket.clone(),
                    key: format!("{}{rel}", url.prefix),
                };
                match Self::fetch(reader, vec![(object, 0)]).pop() {
                    Some((_, Ok(bytes))) => Ok(bytes),
                    Some((_, Err(message))) => Err(EngineError::Remote {
                        url: self.name(rel).display().to_string(),
                        message,
                    }),
                    None => Err(EngineError::Remote {
                        url: self.name(rel).display().to_string(),
                        message: "not read".into(),
                    }),
                }
            }
        }
    }

    /// The Parquet files of a table, in name order, each with its part.
    fn files(&self, table: &str) -> Result<Vec<TableFile>, EngineError> {
        let is_part = |name: &str| name.ends_with(".parquet");
        let bad_part = |name: &Path| EngineError::Table {
            path: name.to_path_buf(),
            message: "a Parquet file outside a folder part=N: the output is not the one \
                      this keytrail's job writes (emit the job again)"
                .into(),
        };
        let mut files = Vec::new();
        match self {
            Folder::Local(dir) => {
                let io = |path: &Path, source| EngineError::Io {
                    path: path.to_path_buf(),
                    source,
                };
                let folder = dir.join(table);
                let mut todo = vec![folder];
                while let Some(folder) = todo.pop() {
                    for entry in std::fs::read_dir(&folder).map_err(|e| io(&folder, e))? {
                        let path = entry.map_err(|e| io(&folder, e))?.path();
                        if path.is_dir() {
                            todo.push(path);
                        } else if path
                            .file_name()
                            .is_some_and(|n| is_part(&n.to_string_lossy()))
                        {
                            let part = part_of_path(&path.to_string_lossy())
                                .ok_or_else(|| bad_part(&path))?;
                            files.push(TableFile {
                                part,
                                name: path,
                                object: None,
                            });
                        }
                    }
                }
            }
            Folder::S3 { reader, url } => {
                let table_url = crate::source::s3::S3Url {
                    bucket: url.bucket.clone(),
                    prefix: format!("{}{table}/", url.prefix),
                };
                let mut summary = crate::summary::Summary::default();
                let listed = reader
                    .list(
                        &table_url,
                        &Default::default(),
                        &mut summary,
                        &|_, _| {},
                        &|| false,
                    )
                    .map_err(|e| EngineError::Remote {
                        url: table_url.to_string(),
                        message: e.to_string(),
                    })?;
                for (object, size) in listed.into_iter().filter(|(o, _)| is_part(&o.key)) {
                    let name = PathBuf::from(object.to_string());
                    let part = part_of_path(&object.key).ok_or_else(|| bad_part(&name))?;
                    files.push(TableFile {
                        part,
                        name,
                        object: Some((object, size)),
                    });
                }
            }
        }
        if let Some(f) = files.iter().find(|f| f.part >= PARTS) {
            return Err(bad_part(&f.name));
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// The bytes of `files`, in their order.
    fn read_files(&self, files: &[&TableFile]) -> Result<Vec<Vec<u8>>, EngineError> {
        let Folder::S3 { reader, .. } = self else {
            return files
                .iter()
                .map(|f| {
                    std::fs::read(&f.name).map_err(|source| EngineError::Io {
                        path: f.name.clone(),
                        source,
                    })
                })
                .collect();
        };
        let objects = files.iter().filter_map(|f| f.object.clone()).collect();
        let mut got: HashMap<String, Vec<u8>> = HashMap::new();
        for (object, bytes) in Self::fetch(reader, objects) {
            let bytes = bytes.map_err(|message| EngineError::Remote {
                url: object.to_string(),
                message,
            })?;
            got.insert(object.to_string(), bytes);
        }
        files
            .iter()
            .map(|f| {
                got.remove(f.name.to_string_lossy().as_ref())
                    .ok_or_else(|| EngineError::Remote {
                        url: f.name.display().to_string(),
                        message: "not read".into(),
                    })
            })
            .collect()
    }
}

/// Reads the manifest of an engine output folder.
pub fn manifest(folder: &Folder) -> Result<Manifest, EngineError> {
    let path = folder.name(MANIFEST);
    let bytes = folder.read(MANIFEST)?;
    #[derive(Deserialize)]
    struct Head {
        schema: String,
    }
    let json = |source| EngineError::Json {
        path: path.clone(),
        source,
    };
    let head: Head = serde_json::from_slice(&bytes).map_err(json)?;
    if head.schema != SCHEMA {
        return Err(EngineError::Schema {
            path,
            found: head.schema,
        });
    }
    serde_json::from_slice(&bytes).map_err(json)
}

/// Sets `cfg`'s filters and windows to the ones the job ran with: the record filters it applied
/// and its windows must not be contradicted (they cannot be changed without running it again);
/// with `report_filters` (analyze's), the report filters it was written with apply unless the
/// command line gives its own.
pub fn apply_settings(
    cfg: &mut AnalyzeConfig,
    m: &Manifest,
    report_filters: bool,
) -> Result<(), EngineError> {
    let job = &m.settings.filters;
    let f = &mut cfg.filters;
    let rerun = |flag: &str, ours: String, theirs: String| {
        EngineError::Settings(format!(
            "{flag} {ours}: the job applied {theirs}, and only a new run of it can change that \
             (give the option to the job, or leave it out here)"
        ))
    };
    fn take<T: Clone + PartialEq>(
        ours: &mut T,
        theirs: &T,
        empty: &T,
        (flag, show): (&str, &dyn Fn(&T) -> String),
        rerun: &dyn Fn(&str, String, String) -> EngineError,
    ) -> Result<(), EngineError> {
        if *ours == *empty {
            *ours = theirs.clone();
        } else if ours != theirs {
            return Err(rerun(flag, show(ours), show(theirs)));
        }
        Ok(())
    }
    let time = |t: &Option<i64>| t.map_or("none".to_string(), crate::event::format_time);
    let list = |v: &Vec<String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let pairs =
        |v: &Vec<(String, String)>| list(&v.iter().map(|(k, x)| format!("{k}={x}")).collect());
    take(&mut f.since, &job.since, &None, ("--since", &time), &rerun)?;
    take(&mut f.until, &job.until, &None, ("--until", &time), &rerun)?;
    take(
        &mut f.accounts,
        &job.account,
        &vec![],
        ("--account", &list),
        &rerun,
    )?;
    take(
        &mut f.regions,
        &job.region,
        &vec![],
        ("--region", &list),
        &rerun,
    )?;
    let names = ("--event-name", &list as &dyn Fn(&Vec<String>) -> String);
    take(&mut f.event_names, &job.event_name, &vec![], names, &rerun)?;
    let principals = ("--principal", &list as &dyn Fn(&Vec<String>) -> String);
    take(
        &mut f.principals,
        &job.principal,
        &vec![],
        principals,
        &rerun,
    )?;
    take(
        &mut f.context,
        &job.context,
        &vec![],
        ("--context", &pairs),
        &rerun,
    )?;
    if report_filters && f.bucket_arn_prefixes.is_empty() {
        f.bucket_arn_prefixes = job.bucket_arn_prefix.clone();
    }
    if report_filters && f.kms_keys.is_empty() {
        f.kms_keys = job.kms_key.clone();
    }
    let default_window = crate::trail::config::DEFAULT_WINDOW_SECS;
    let default_object = crate::trail::config::DEFAULT_OBJECT_WINDOW_SECS;
    for (flag, ours, theirs, default) in [
        (
            "--window",
            &mut cfg.window_secs,
            m.settings.window_seconds,
            default_window,
        ),
        (
            "--object-window",
            &mut cfg.object_window_secs,
            m.settings.object_window_seconds,
            default_object,
        ),
    ] {
        if *ours != default && *ours != theirs {
            return Err(rerun(flag, ours.to_string(), theirs.to_string()));
        }
        *ours = theirs;
    }
    if let crate::trail::config::GroupBy::Context(key) = &cfg.group_by {
        return Err(EngineError::Settings(format!(
            "--group-by context:{key} needs each call's context, which the job does not keep: \
             group by bucket, prefix:N, kms-key or principal"
        )));
    }
    Ok(())
}

/// One table's columns, by name.
struct Table {
    path: PathBuf,
    frame: DataFrame,
}

impl Table {
    /// The rows of `files` (of the table `name`), in one frame.
    fn read(folder: &Folder, name: &str, files: &[&TableFile]) -> Result<Table, EngineError> {
        let mut frame: Option<DataFrame> = None;
        for (file, bytes) in files.iter().zip(folder.read_files(files)?) {
            let fail = |e: PolarsError| EngineError::Table {
                path: file.name.clone(),
                message: e.to_string(),
            };
            let df = ParquetReader::new(std::io::Cursor::new(bytes))
                .finish()
                .map_err(fail)?;
            if name != "calls" && df.height() > 0 {
                check_part(file, &df).map_err(|message| EngineError::Table {
                    path: file.name.clone(),
                    message,
                })?;
            }
            frame = Some(match frame {
                None => df,
                Some(mut all) => {
                    all.vstack_mut(&df).map_err(fail)?;
                    all
                }
            });
        }
        Ok(Table {
            path: folder.name(name),
            frame: frame.unwrap_or_default(),
        })
    }

    fn len(&self) -> usize {
        self.frame.height()
    }

    fn fail(&self, column: &str, e: impl std::fmt::Display) -> EngineError {
        EngineError::Table {
            path: self.path.clone(),
            message: format!("column {column}: {e}"),
        }
    }

    /// A column of strings, as the frame holds it (None for a table without rows).
    fn str_column(&self, column: &str) -> Result<Option<&StringChunked>, EngineError> {
        if self.len() == 0 {
            return Ok(None);
        }
        let c = self
            .frame
            .column(column)
            .map_err(|e| self.fail(column, e))?;
        c.str().map(Some).map_err(|e| self.fail(column, e))
    }

    /// A column of strings, borrowed from the frame, cell by cell.
    fn strings(
        &self,
        column: &str,
    ) -> Result<impl Iterator<Item = Option<&str>> + '_, EngineError> {
        Ok(self.str_column(column)?.into_iter().flat_map(|s| s.iter()))
    }

    fn longs(&self, column: &str) -> Result<Vec<Option<i64>>, EngineError> {
        if self.len() == 0 {
            return Ok(Vec::new());
        }
        let c = self
            .frame
            .column(column)
            .map_err(|e| self.fail(column, e))?;
        Ok(c.i64().map_err(|e| self.fail(column, e))?.iter().collect())
    }

    fn bools(&self, column: &str) -> Result<Vec<Option<bool>>, EngineError> {
        if self.len() == 0 {
            return Ok(Vec::new());
        }
        let c = self
            .frame
            .column(column)
            .map_err(|e| self.fail(column, e))?;
        Ok(c.bool().map_err(|e| self.fail(column, e))?.iter().collect())
    }

    fn required<T>(&self, column: &str, v: Vec<Option<T>>) -> Result<Vec<T>, EngineError> {
        v.into_iter()
            .enumerate()
            .map(|(i, x)| x.ok_or_else(|| self.fail(column, format!("row {i} is null"))))
            .collect()
    }

    fn enums<E: Copy + Serialize>(&self, column: &str, all: &[E]) -> Result<Vec<E>, EngineError> {
        let names: Vec<(String, E)> = all
            .iter()
            .map(|&e| {
                (
                    serde_json::to_value(e)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string(),
                    e,
                )
            })
            .collect();
        self.strings(column)?
            .enumerate()
            .map(|(i, s)| {
                let s = s.ok_or_else(|| self.fail(column, format!("row {i} is null")))?;
                names
                    .iter()
                    .find(|(n, _)| n == s)
                    .map(|&(_, e)| e)
                    .ok_or_else(|| {
                        self.fail(
                            column,
                            format!(
                                "row {i}: {s:?} is not one of {names:?}",
                                names = names.iter().map(|n| &n.0).collect::<Vec<_>>()
                            ),
                        )
                    })
            })
            .collect()
    }

    fn ids(&self, column: &str) -> Result<Vec<u128>, EngineError> {
        self.strings(column)?
            .enumerate()
            .map(|(i, s)| match s {
                None => Ok(0),
                Some(s) => u128::from_str_radix(s, 16)
                    .map_err(|e| self.fail(column, format!("row {i}: {s:?}: {e}"))),
            })
            .collect()
    }
}

/// That every bucket of a file of the KMS calls or S3 requests is in the file's part, as
/// keytrail partitions buckets: a part read alone must hold all of its buckets' rows.
fn check_part(file: &TableFile, df: &DataFrame) -> Result<(), String> {
    let buckets = df.column("bucket").map_err(|e| e.to_string())?;
    let buckets = buckets.str().map_err(|e| e.to_string())?;
    let mut seen = BTreeSet::new();
    for b in buckets.iter().flatten() {
        if seen.insert(b) && crate::trail::spill::partition_of(b) != file.part {
            return Err(format!(
                "bucket {b} in part={}, where this keytrail puts it in part={}: the job was \
                 emitted by another keytrail (emit it again and run it)",
                file.part,
                crate::trail::spill::partition_of(b)
            ));
        }
    }
    Ok(())
}

/// String columns of every table, in one interner numbered in string order.
struct Strings {
    interner: Interner,
}

impl Strings {
    fn new<'a>(columns: &[&Option<&'a StringChunked>]) -> Strings {
        // Distinct first (a hash set: most cells repeat a bucket, a requester, an account),
        // then sorted: far fewer comparisons than a sorted set of every cell.
        let mut distinct: std::collections::HashSet<&'a str, foldhash::fast::RandomState> =
            Default::default();
        for c in columns.iter().filter_map(|c| **c) {
            distinct.extend(c.iter().flatten());
        }
        let mut all: Vec<&str> = distinct.into_iter().collect();
        all.sort_unstable();
        Strings {
            interner: Interner::from_strings(all).expect("distinct strings"),
        }
    }

    fn sym(&self, s: &Option<&str>) -> Sym {
        s.and_then(|s| self.interner.lookup(s)).unwrap_or(Sym::NONE)
    }

    fn syms(&self, v: &Option<&StringChunked>) -> Vec<Sym> {
        v.map_or_else(Vec::new, |v| v.iter().map(|s| self.sym(&s)).collect())
    }
}

/// Reads an engine output folder whole into a joined trail, as `cfg` wants it (with every
/// caller's KMS calls when it keeps them).
pub fn read(place: &Path, cfg: &AnalyzeConfig) -> Result<Joined, EngineError> {
    let out = Output::open(place, cfg)?;
    let all: Vec<usize> = (0..PARTS).collect();
    out.read(&all, cfg, true, false)
}

/// An engine output folder, opened: its manifest and the files of its tables.
pub struct Output {
    folder: Folder,
    pub manifest: Manifest,
    kms: Vec<TableFile>,
    s3: Vec<TableFile>,
    calls: Vec<TableFile>,
}

impl Output {
    /// Opens the output at `place` (a folder, or an `s3://` prefix) and lists its tables.
    pub fn open(place: &Path, cfg: &AnalyzeConfig) -> Result<Output, EngineError> {
        let folder = Folder::open(place, &cfg.s3)?;
        let manifest = manifest(&folder)?;
        let (kms, s3) = (folder.files("kms")?, folder.files("s3")?);
        let calls = if cfg.keep_calls {
            folder.files("calls")?
        } else {
            Vec::new()
        };
        Ok(Output {
            folder,
            manifest,
            kms,
            s3,
            calls,
        })
    }

    /// The bytes reading each part takes at its peak (by [`READ_BYTES_PER_ROW`]), by part.
    fn weights(&self, cfg: &AnalyzeConfig) -> Vec<u64> {
        let mut w = vec![0u64; PARTS];
        for r in &self.manifest.layout.rows {
            let calls = if cfg.keep_calls { r.calls } else { 0 };
            if let Some(x) = w.get_mut(r.part as usize) {
                *x += (r.kms + r.s3 + calls) * READ_BYTES_PER_ROW;
            }
        }
        // A part with files is read, whatever the manifest says of it (a group holds only
        // parts of some weight).
        for f in self.kms.iter().chain(&self.s3).chain(&self.calls) {
            w[f.part] = w[f.part].max(1);
        }
        w
    }

    /// The groups of parts to read one at a time within `cfg`'s memory budget (half of it:
    /// the rest is the reports' state): parts copies link read together, neighbours packed
    /// together ([`crate::trail::spill::groups_of`]). None without a budget, or within it:
    /// the output is read whole.
    pub fn groups(&self, cfg: &AnalyzeConfig) -> Option<Vec<Vec<usize>>> {
        let weights = self.weights(cfg);
        let total: u64 = weights.iter().sum();
        let budget = cfg.memory_limit.map_or(u64::MAX, |l| (l / 2).max(1));
        (total > budget)
            .then(|| crate::trail::spill::groups_of(&weights, &self.manifest.layout.links, budget))
    }

    /// What reading in `groups` does, for the summary.
    pub fn read_in_parts(&self, cfg: &AnalyzeConfig, groups: &[Vec<usize>]) -> FromParts {
        let weights = self.weights(cfg);
        let rows = |p: usize| weights[p] / READ_BYTES_PER_ROW;
        FromParts {
            limit: cfg.memory_limit.unwrap_or(0),
            parts: weights.iter().filter(|&&w| w > 0).count() as u64,
            groups: groups.len() as u64,
            rows: (0..PARTS).map(rows).sum(),
            largest_group_rows: groups
                .iter()
                .map(|g| g.iter().map(|&p| rows(p)).sum::<u64>())
                .max()
                .unwrap_or(0),
            row_bytes: READ_BYTES_PER_ROW,
            group_budget: cfg.memory_limit.map_or(0, |l| (l / 2).max(1)),
        }
    }

    /// The parts `parts` (part numbers) joined as keytrail's join would join them; with
    /// `first`, with the job's accounting of the whole input (the others' summaries are empty,
    /// so that the parts add up to the whole); with `calls_only`, every caller's calls alone.
    pub fn read(
        &self,
        parts: &[usize],
        cfg: &AnalyzeConfig,
        first: bool,
        calls_only: bool,
    ) -> Result<Joined, EngineError> {
        let mut wanted = [false; PARTS];
        for &p in parts {
            if let Some(w) = wanted.get_mut(p) {
                *w = true;
            }
        }
        fn of<'a>(files: &'a [TableFile], wanted: &[bool], take: bool) -> Vec<&'a TableFile> {
            files.iter().filter(|f| take && wanted[f.part]).collect()
        }
        let dir = &self.folder;
        let (kms_t, s3_t) = (
            Table::read(dir, "kms", &of(&self.kms, &wanted, !calls_only))?,
            Table::read(dir, "s3", &of(&self.s3, &wanted, !calls_only))?,
        );
        let calls_t = if cfg.keep_calls {
            Some(Table::read(dir, "calls", &of(&self.calls, &wanted, true))?)
        } else {
            None
        };
        join_tables(&self.manifest, cfg, first, kms_t, s3_t, calls_t)
    }
}

/// The tables of a group of parts, joined.
fn join_tables(
    m: &Manifest,
    cfg: &AnalyzeConfig,
    first: bool,
    kms_t: Table,
    s3_t: Table,
    calls_t: Option<Table>,
) -> Result<Joined, EngineError> {
    fn names<'a>(
        t: &'a Table,
        cols: &[&str],
    ) -> Result<Vec<Option<&'a StringChunked>>, EngineError> {
        cols.iter().map(|c| t.str_column(c)).collect()
    }
    const KMS_SYMS: [&str; 8] = [
        "requester",
        "bucket",
        "key",
        "kms_key",
        "head",
        "account",
        "region",
        "ctx_value",
    ];
    const S3_SYMS: [&str; 10] = [
        "requester",
        "bucket",
        "key",
        "kms_key",
        "head",
        "account",
        "region",
        "src_bucket",
        "src_key",
        "obj_kms_key",
    ];
    const CALL_SYMS: [&str; 7] = [
        "account",
        "region",
        "kms_key",
        "requester",
        "caller",
        "bucket",
        "purpose",
    ];
    let kms_s = names(&kms_t, &KMS_SYMS)?;
    let s3_s = names(&s3_t, &S3_SYMS)?;
    let call_s = match &calls_t {
        Some(t) => names(t, &CALL_SYMS)?,
        None => Vec::new(),
    };
    let strings = Strings::new(
        &kms_s
            .iter()
            .chain(s3_s.iter())
            .chain(call_s.iter())
            .collect::<Vec<_>>(),
    );

    // KMS calls.
    let t = &kms_t;
    let ks: Vec<Vec<Sym>> = kms_s.iter().map(|c| strings.syms(c)).collect();
    let (time, uid) = (
        t.required("time", t.longs("time")?)?,
        t.required("uid", t.longs("uid")?)?,
    );
    let (ops, modes, failures) = (
        t.enums("op", &KmsOp::ALL)?,
        t.enums("mode", &Mode::ALL)?,
        t.enums("failure", &Failure::ALL)?,
    );
    let ctx_pass = t.required("ctx_pass", t.bools("ctx_pass")?)?;
    let (ids, shared, matched) = (t.ids("id")?, t.ids("shared")?, t.longs("matched")?);
    let mut kms: Vec<(KmsRec, i64, Option<i64>)> = (0..t.len())
        .map(|i| {
            (
                KmsRec {
                    time: time[i],
                    requester: ks[0][i],
                    bucket: ks[1][i],
                    key: ks[2][i],
                    op: ops[i],
                    mode: modes[i],
                    kms_key: ks[3][i],
                    head: ks[4][i],
                    account: ks[5][i],
                    region: ks[6][i],
                    failure: failures[i],
                    ctx_pass: ctx_pass[i],
                    ctx_value: ks[7][i],
                    id: ids[i],
                    shared: shared[i],
                },
                uid[i],
                matched[i],
            )
        })
        .collect();
    kms.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));

    // S3 requests.
    let t = &s3_t;
    let ss: Vec<Vec<Sym>> = s3_s.iter().map(|c| strings.syms(c)).collect();
    let (time, uid) = (
        t.required("time", t.longs("time")?)?,
        t.required("uid", t.longs("uid")?)?,
    );
    let (ops, failures) = (
        t.enums("op", &S3Op::ALL)?,
        t.enums("failure", &Failure::ALL)?,
    );
    let (bucket_key, dsse) = (
        t.bools("bucket_key")?,
        t.required("dsse", t.bools("dsse")?)?,
    );
    let (writer_bk, writer_dsse) = (
        t.bools("writer_bucket_key")?,
        t.required("writer_dsse", t.bools("writer_dsse")?)?,
    );
    let (ids, shared) = (t.ids("id")?, t.ids("shared")?);
    type S3Row = (S3Rec, i64, Sym, Option<bool>, bool);
    let mut s3: Vec<S3Row> = (0..t.len())
        .map(|i| {
            (
                S3Rec {
                    time: time[i],
                    requester: ss[0][i],
                    bucket: ss[1][i],
                    key: ss[2][i],
                    op: ops[i],
                    kms_key: ss[3][i],
                    bucket_key: bucket_key[i],
                    dsse: dsse[i],
                    head: ss[4][i],
                    account: ss[5][i],
                    region: ss[6][i],
                    failure: failures[i],
                    src_bucket: ss[7][i],
                    src_key: ss[8][i],
                    id: ids[i],
                    shared: shared[i],
                },
                uid[i],
                ss[9][i],
                writer_bk[i],
                writer_dsse[i],
            )
        })
        .collect();
    s3.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));

    // The matches, as the join records them: a request's calls in the order they were matched
    // (per-object calls first, each kind in the calls' order).
    let index: HashMap<i64, u32> = s3
        .iter()
        .enumerate()
        .map(|(i, r)| (r.1, i as u32))
        .collect();
    if index.len() != s3.len() {
        return Err(s3_t.fail(
            "uid",
            "two S3 requests have the same uid: the job's output is damaged (run it again)",
        ));
    }
    let mut kms_to_s3 = vec![None; kms.len()];
    let mut s3_to_kms = vec![super::Calls::new(); s3.len()];
    let per_object_first = (0..kms.len())
        .filter(|&j| kms[j].0.mode == Mode::PerObject)
        .chain((0..kms.len()).filter(|&j| kms[j].0.mode != Mode::PerObject));
    for j in per_object_first {
        if let Some(u) = kms[j].2 {
            let i = *index.get(&u).ok_or_else(|| {
                kms_t.fail(
                    "matched",
                    format!(
                        "a KMS call is matched to S3 request uid {u}, which is not in {}",
                        s3_t.path.display()
                    ),
                )
            })?;
            kms_to_s3[j] = Some(i);
            s3_to_kms[i as usize].push(j as u32);
        }
    }

    // Every caller's calls.
    let mut calls = Vec::new();
    if let Some(t) = &calls_t {
        let cs: Vec<Vec<Sym>> = call_s.iter().map(|c| strings.syms(c)).collect();
        let time = t.required("time", t.longs("time")?)?;
        let (ops, modes, failures) = (
            t.enums("op", &KmsOp::ALL)?,
            t.enums("mode", &Mode::ALL)?,
            t.enums("failure", &Failure::ALL)?,
        );
        let aws_managed = t.required("aws_managed", t.bools("aws_managed")?)?;
        let (ids, shared) = (t.ids("id")?, t.ids("shared")?);
        calls = (0..t.len())
            .map(|i| CallRec {
                time: time[i],
                account: cs[0][i],
                region: cs[1][i],
                op: ops[i],
                failure: failures[i],
                kms_key: cs[2][i],
                requester: cs[3][i],
                caller: cs[4][i],
                bucket: cs[5][i],
                purpose: cs[6][i],
                mode: modes[i],
                aws_managed: aws_managed[i],
                id: ids[i],
                shared: shared[i],
            })
            .collect();
        calls.sort_unstable();
    }

    let mut summary = match (first, cfg.keep_calls) {
        (false, _) => Summary::default(),
        (true, true) => m.summary.calls.clone(),
        (true, false) => m.summary.analyze.clone(),
    };
    summary.problems.sort();
    let kms: Vec<KmsRec> = kms.into_iter().map(|k| k.0).collect();
    let bucket_modes = bucket_modes(&kms);
    let m_out = Matches {
        kms_to_s3,
        s3_to_kms,
        s3_kms_key: s3.iter().map(|r| r.2).collect(),
        s3_writer_bucket_key: s3.iter().map(|r| r.3).collect(),
        s3_writer_dsse: s3.iter().map(|r| r.4).collect(),
    };
    Ok(Joined {
        strings: strings.interner,
        kms,
        s3: s3.into_iter().map(|r| r.0).collect(),
        calls,
        m: m_out,
        summary,
        shared_calls: if cfg.keep_calls && first {
            m.shared_calls
        } else {
            0
        },
        bucket_modes,
    })
}
