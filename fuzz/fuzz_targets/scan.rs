//! The bitmask scanner, with the classifier in use (AVX2 or SSE2) and with the portable one
//! other targets run, agrees with the byte-at-a-time reference on every valid JSON value, and
//! stays in bounds on anything.
#![no_main]
use keytrail::source::scan::{find_value_end, find_value_end_portable, find_value_end_scalar};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(start) = data.iter().position(|&b| b == b'{' || b == b'[') else {
        return;
    };
    let fast = find_value_end(data, start);
    let portable = find_value_end_portable(data, start);
    for end in [fast, portable].into_iter().flatten() {
        assert!(end > start && end <= data.len());
    }
    let reference = find_value_end_scalar(data, start);
    let valid = reference
        .is_some_and(|end| serde_json::from_slice::<serde_json::Value>(&data[start..end]).is_ok());
    if valid {
        assert_eq!(fast, reference);
        assert_eq!(portable, reference);
    }
});
