//! Any bytes, as a file's content, through everything a file goes through: sniffing, gzip,
//! framing, parsing, classification, correlation. Nothing may panic, and every record read
//! must be accounted for.
#![no_main]
use keytrail::analyze::{read_bytes, Batch};
use keytrail::config::AnalyzeConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = AnalyzeConfig::new(Vec::new());
    let mut batch = Batch::default();
    let mut window = Vec::new();
    read_bytes("fuzz", data, &cfg, &mut batch, &mut window, &|| false);
    // A second copy, gzipped, takes the streaming path too.
    read_bytes("fuzz.gz", &keytrail::simulate::gzip(data), &cfg, &mut batch, &mut window, &|| false);
    let report = keytrail::correlate::correlate(batch, &cfg);
    assert!(report.summary.records_balance(), "{:?}", report.summary.records);
});
