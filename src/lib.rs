//! keytrail: what SSE-KMS really costs, read from CloudTrail.
//!
//! The pipeline runs one way: [`source`] finds inputs and frames their records, [`event`]
//! parses and classifies them, [`filter`] holds the predicates, [`analyze`] is the parallel
//! stage that keeps compact events, [`correlate`] is the barrier that joins KMS calls to S3
//! requests and builds rows, and [`report`] renders them. `cost` and `quota` read the same
//! joined trail: [`whatif`] replays its S3 traffic through the [`envelope`] engine with bucket
//! keys switched, [`cost`] prices it ([`pricing`] holds the defaults), [`quota`] counts it per
//! second, and [`check`] holds thresholds over both. [`app`] ties the command line to it.

pub mod analyze;
pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod cost;
pub mod envelope;
pub mod event;
pub mod exit;
pub mod expect;
pub mod filter;
pub mod intern;
pub mod output;
pub mod pricing;
pub mod progress;
pub mod quota;
pub mod report;
pub mod simulate;
pub mod source;
pub mod summary;
pub mod whatif;
