//! Any bytes as one record: parsed and classified, or refused with a reason; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(keytrail::event::NotUsed::Rejected(reason, message)) = keytrail::event::parse(data) {
        assert!(!reason.is_empty() && !message.is_empty());
    }
});
