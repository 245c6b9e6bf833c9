//! Reports: pure functions from the joined trail ([`crate::join::Joined`]) to typed reports.
//!
//! [`calls`] is `analyze`'s: KMS calls per S3 object, per bucket, group and mode. [`whatif`]
//! replays the trail's S3 traffic through the [`crate::envelope`] engine with bucket keys
//! switched; [`cost`] prices the calls and the what-if, [`quota`] counts them per second
//! against the request quota; [`check`] holds thresholds over both. Nothing here formats
//! output: that is [`crate::render`]'s.

pub mod calls;
pub mod check;
pub mod cost;
pub mod quota;
pub mod whatif;
