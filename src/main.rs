use clap::Parser;
use keytrail::cli::args::Cli;
use keytrail::cli::exit::ExitCode;
use keytrail::cli::{self, UsageError};
use keytrail::render::sanitize::visible;

fn main() -> std::process::ExitCode {
    settle_allocator();
    // The settings file sets KEYTRAIL_* variables the environment does not, before clap reads
    // them.
    if let Err(e) = cli::settings::load() {
        eprintln!("keytrail: error: {}", visible(&e));
        return ExitCode::Usage.into();
    }
    let args = Cli::parse();
    match cli::run(args) {
        Ok(code) => code.into(),
        Err(e) if is_broken_pipe(&e) => ExitCode::Success.into(),
        Err(e) => {
            eprintln!("keytrail: error: {}", visible(&format!("{e:#}")));
            let usage = e.chain().any(|c| c.is::<UsageError>());
            if usage {
                ExitCode::Usage
            } else {
                ExitCode::Failure
            }
            .into()
        }
    }
}

/// Keeps glibc's mmap threshold at its default (128 KiB) instead of letting it rise, as it
/// does each time a block above it is freed, up to 32 MiB. Risen, it puts the mid-sized
/// vectors of a run past `--memory-limit` (each chunk of events read back from its temporary
/// files) in the heap, where, freed, they leave holes that the join's large vectors cannot use
/// and that stay mapped. Measured with `cost --memory-limit 512MiB` over 5 million used events
/// (`benches/scale.rs`' corpus): 428 to 484 MB peak with the rising threshold, 302 to 307 MB
/// with it fixed, for about 5 % more time (the pages of freed blocks are given back, and new
/// ones fault in again). Runs that stay in memory are unchanged. (`MALLOC_MMAP_THRESHOLD_` in
/// the environment, read by glibc itself, overrides it.)
fn settle_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt changes a setting of glibc's allocator, which it applies to later
        // requests; it touches no memory of ours.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        }
    }
}

/// A reader that went away (`keytrail ... | head`) is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
