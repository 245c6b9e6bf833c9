//! The bitmask scanner, by every version this CPU runs (AVX-512, AVX2, SSE2 and the portable one
//! other targets run), agrees with the byte-at-a-time reference on every valid JSON value, all
//! versions agree on anything, and all stay in bounds.
#![no_main]
use keytrail::source::scan::{find_value_end, find_value_end_each, find_value_end_scalar};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(start) = data.iter().position(|&b| b == b'{' || b == b'[') else {
        return;
    };
    let fast = find_value_end(data, start);
    let each = find_value_end_each(data, start);
    for (version, end) in &each {
        assert_eq!(*end, fast, "{version}");
        if let Some(end) = *end {
            assert!(end > start && end <= data.len());
        }
    }
    let reference = find_value_end_scalar(data, start);
    let valid = reference
        .is_some_and(|end| serde_json::from_slice::<serde_json::Value>(&data[start..end]).is_ok());
    if valid {
        assert_eq!(fast, reference);
    }
});
