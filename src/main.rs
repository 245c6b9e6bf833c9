use clap::Parser;
use keytrail::cli::args::Cli;
use keytrail::cli::exit::ExitCode;
use keytrail::cli::{self, UsageError};
use keytrail::render::sanitize::visible;

fn main() -> std::process::ExitCode {
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

/// A reader that went away (`keytrail ... | head`) is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
