//! End-to-end tests of the `keytrail` binary, on trails the tests build themselves: one test
//! binary, a file per command, shared helpers in `util`.

mod analyze;
mod check;
mod cost;
mod docs;
mod engines;
mod inputs;
mod memory;
mod org_trails;
mod quota;
mod s3;
mod s3_profiles;
mod simulate;
mod snapshots;
mod util;
