//! The command line: parsed arguments ([`args`]) -> validated settings ([`config`]) -> the
//! command run ([`commands`], with what they share in [`runner`]) -> its output written -> an
//! exit code ([`exit`]). Everything `main` does, so it can be tested without a process. The only
//! layer that knows about clap, terminals and exit codes.

pub mod args;
pub mod commands;
pub mod config;
pub mod exit;
pub mod progress;
pub mod runner;
pub mod settings;

use args::{Cli, Command};
use exit::ExitCode;
pub use exit::UsageError;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => commands::analyze::run(*args),
        Command::Cost(args) => commands::project::cost(*args),
        Command::Quota(args) => commands::project::quota(*args),
        Command::Check(args) => commands::check::run(*args),
        Command::Simulate(args) => commands::simulate::run(*args),
        Command::Emit(args) => commands::emit::run(*args),
        Command::Completions { shell } => {
            let mut cmd = <args::Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics on a write error (`| head` closing the
            // pipe); keytrail's own writer does not.
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "keytrail", &mut out);
            crate::output::write(None, &out)?;
            Ok(ExitCode::Success)
        }
        Command::Config => {
            crate::output::write(None, settings::report().as_bytes())?;
            Ok(ExitCode::Success)
        }
        Command::Man => {
            let cmd = <args::Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            crate::output::write(None, &out)?;
            Ok(ExitCode::Success)
        }
    }
}
