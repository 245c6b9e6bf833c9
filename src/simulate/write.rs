//! A rendered simulation written to disk: files gzip-compressed in parallel, `manifest.json`
//! last, so a tree with a manifest is complete.

use super::render::{render_stream, FileBuf};
use super::{manifest, Simulation};
use std::io::Write;
use std::path::{Path, PathBuf};

/// gzip at the default level, with a fixed header (no name, no time), so output is stable.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = gzip_encoder(data.len());
    e.write_all(data).expect("writing to a Vec cannot fail");
    e.finish().expect("writing to a Vec cannot fail")
}

/// A gzip encoder into memory, for about `json_len` bytes of JSON: level 6, as CloudTrail
/// writes, and a fixed header (no name, no time) so the same input gives the same bytes.
fn gzip_encoder(json_len: usize) -> flate2::write::GzEncoder<Vec<u8>> {
    flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(json_len / 6),
        flate2::Compression::default(),
    )
}

/// Writes a file of the tree: whatever was at `path` (an older tree's file with `--force`, or a
/// link, which is removed, never followed) replaced by a new file. Not synced to disk one by one,
/// nor through a temporary file: the manifest, written atomically after every file, is what
/// says the tree is complete (a tree without one is not), and on a trail's tens of thousands of
/// small files a sync each took most of the run (docs/speed.md).
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
    };
    let mut f = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(path)?;
            create()?
        }
        other => other?,
    };
    f.write_all(bytes)
}

/// What can stop a simulated trail from being written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The output directory holds files already, and `force` was not given.
    #[error("{} is not empty: give --force to write into it anyway", .0.display())]
    NotEmpty(PathBuf),
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to write {} outside {}", .path.display(), .dir.display())]
    Outside { path: PathBuf, dir: PathBuf },
    #[error("cannot start the threads that compress the files")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// What [`write()`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub files: usize,
    pub s3_requests: u64,
    pub kms_calls: u64,
}

/// Writes a simulation into `dir`: the tree first, `manifest.json` last, so a tree with a
/// manifest is complete. Refuses a non-empty directory unless `force`. The plan is made as the
/// files are written; files are compressed in parallel on `threads` threads (0: one per core),
/// each on its own, so the bytes do not depend on the thread count.
pub fn write(
    sim: &Simulation,
    dir: &Path,
    force: bool,
    threads: usize,
    on_file: &(dyn Fn(usize) + Sync),
) -> Result<Written, WriteError> {
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir)
            .map_err(|source| WriteError::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .next()
            .is_some();
        if non_empty && !force {
            return Err(WriteError::NotEmpty(dir.to_path_buf()));
        }
        // An old manifest would vouch for a tree being rewritten.
        let _ = std::fs::remove_file(dir.join("manifest.json"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let written = std::sync::atomic::AtomicUsize::new(0);
    let failure: std::sync::Mutex<Option<WriteError>> = std::sync::Mutex::new(None);
    let compress_and_write = |path: PathBuf, file: FileBuf, document: bool| {
        let result = (|| -> Result<(), WriteError> {
            // Validation keeps names to what AWS allows; this is the last line of defence.
            let inside = path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !inside {
                return Err(WriteError::Outside {
                    path,
                    dir: dir.to_path_buf(),
                });
            }
            let path = dir.join(&path);
            let failed = |source| WriteError::Write {
                path: path.clone(),
                source,
            };
            let mut e = gzip_encoder(file.json_len());
            file.write_json(&mut e, document).map_err(failed)?;
            let bytes = e.finish().map_err(failed)?;
            std::fs::create_dir_all(path.parent().expect("a file in a folder")).map_err(failed)?;
            write_new(&path, &bytes).map_err(failed)?;
            Ok(())
        })();
        match result {
            Ok(()) => {
                on_file(written.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            }
            Err(e) => {
                failure.lock().expect("not poisoned").get_or_insert(e);
            }
        }
    };
    // Files are compressed and written by the pool while rendering goes on; when as many files
    // as threads are in flight, the rendering thread compresses the next one itself. Each file
    // is compressed on its own, so the bytes do not depend on the thread count, and the order
    // files are written in does not matter: the manifest, written last, marks the tree done.
    let in_flight = std::sync::atomic::AtomicUsize::new(0);
    let limit = pool.current_num_threads();
    let mut tally = manifest::Tally::new(sim);
    pool.scope(|scope| {
        let planned = &mut |second: &_| tally.add(second);
        let sink = &mut |path, file, document| {
            use std::sync::atomic::Ordering::SeqCst;
            if in_flight.load(SeqCst) >= limit {
                compress_and_write(path, file, document);
            } else {
                in_flight.fetch_add(1, SeqCst);
                let (compress_and_write, in_flight) = (&compress_and_write, &in_flight);
                scope.spawn(move |_| {
                    compress_and_write(path, file, document);
                    in_flight.fetch_sub(1, SeqCst);
                });
            }
        };
        render_stream(sim, sink, planned);
    });
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let (s3_requests, kms_calls) = tally.planned();
    let manifest = tally.finish();
    let mut text = serde_json::to_vec_pretty(&manifest).expect("a JSON value serialises");
    text.push(b'\n');
    let path = dir.join("manifest.json");
    crate::output::write_atomically(&path, &text)
        .map_err(|source| WriteError::Write { path, source })?;
    Ok(Written {
        files: written.into_inner(),
        s3_requests,
        kms_calls,
    })
}
