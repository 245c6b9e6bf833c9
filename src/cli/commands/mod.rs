//! One file per command: each turns its arguments into settings ([`super::config`]), runs the
//! pipeline, writes its output and says what it exits with.

pub mod analyze;
pub mod check;
pub mod emit;
pub mod project;
pub mod simulate;
