//! keytrail: what SSE-KMS really costs, read from CloudTrail.
//!
//! The layers, each a module, each using only those listed before it (`docs/architecture.md`
//! draws the map):
//!
//! - [`source`]: where bytes come from (files, stdin): inputs found, decoded, framed into
//!   records.
//! - [`event`]: one record -> a lean typed event, classified.
//! - [`envelope`]: the model of S3's envelope encryption, with and without bucket keys (used by
//!   the what-if and by the simulator).
//! - [`trail`]: the parallel pass: filter and keep compact events, merged into a batch.
//! - [`join`]: the barrier and the seam: which KMS call belongs to which S3 request.
//! - [`emit`]: the join as code for other engines (the Spark job), whose output `join::engine`
//!   reads back.
//! - [`reports`]: pure functions from the joined trail to typed reports (calls per object,
//!   cost, quota, what-if, check).
//! - [`render`]: typed reports -> table, JSON, CSV, Parquet, Markdown, HTML, SVG/PNG.
//! - [`simulate`]: scenario -> envelope -> records written as CloudTrail would.
//! - [`cli`]: the command line: arguments, validation, running a command, exit codes.
//!
//! Beside them, used from any layer: [`intern`] (string symbols), [`summary`] (the accounting
//! of every file and record), [`reason`] (the registry of its reasons), [`pricing`] (prices and quotas), [`text`] (numbers for people), [`output`]
//! (writing files).

pub mod intern;
pub mod output;
pub mod pricing;
pub mod reason;
pub mod summary;
pub mod text;

pub mod source;

pub mod event;

pub mod envelope;

pub mod trail;

pub mod join;

pub mod emit;

pub mod reports;

pub mod render;

pub mod simulate;

pub mod cli;
