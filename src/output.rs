//! Writing a report: to stdout, or atomically to a file (a temporary file beside it, renamed
//! into place), so an interrupted run never leaves a half-written report. Only regular files
//! are replaced that way: `-o /dev/null` or a FIFO is written in place, since renaming over a
//! device would replace the device itself.

use std::io::Write;
use std::path::{Path, PathBuf};

/// An output that could not be written, named.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write to standard output")]
    Stdout(#[source] std::io::Error),
    #[error("cannot write {}", .path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `bytes` to stdout (`None`) or atomically to the file.
pub fn write(path: Option<&Path>, bytes: &[u8]) -> Result<(), WriteError> {
    match path {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(WriteError::Stdout)
        }
        Some(path) => write_atomically(path, bytes).map_err(|source| WriteError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place (a device or a
/// FIFO is written in place).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            f.write_all(bytes)?;
            return f.flush();
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".keytrail-");
    #[cfg(unix)]
    {
        // A report is an ordinary file: 0666 less the umask, as any other program would
        // create it (a temporary file is 0600 by default).
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // tempfile's error names the temporary file, which the user never asked for: keep the cause.
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(e.kind(), e.kind().to_string()),
        })?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renaming a temporary file over `/dev/null` (as root) replaced the device with a regular
    /// file, which then fed other programs' output to anything reading /dev/null.
    #[test]
    fn writing_to_a_device_writes_in_place_and_leaves_it_a_device() {
        use std::os::unix::fs::FileTypeExt;
        write_atomically(Path::new("/dev/null"), b"report").unwrap();
        let kind = std::fs::metadata("/dev/null").unwrap().file_type();
        assert!(kind.is_char_device());
    }

    #[test]
    fn a_regular_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, b"an older, longer report").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    /// The message named `.keytrail-XXXXXX`, a file the user never heard of.
    #[test]
    fn an_output_that_cannot_be_written_is_named_not_its_temporary_file() {
        let path = Path::new("/nonexistent-keytrail-dir/report.json");
        let e = write(Some(path), b"x").unwrap_err();
        let text = format!("{e}: {}", std::error::Error::source(&e).unwrap());
        assert!(
            text.starts_with("cannot write /nonexistent-keytrail-dir/report.json: "),
            "{text}"
        );
        assert!(!text.contains(".keytrail-"), "{text}");
    }

    /// A report got a temporary file's 0600 once: unreadable to the team it was written for.
    #[test]
    fn a_report_gets_the_permissions_of_any_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (ours, plain) = (dir.path().join("a.html"), dir.path().join("b.html"));
        write_atomically(&ours, b"x").unwrap();
        std::fs::write(&plain, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ours), mode(&plain));
    }
}
