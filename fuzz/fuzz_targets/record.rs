//! Any bytes as one record: parsed and classified, or refused with a reason; never a panic. And
//! whenever the fast path reads a record, serde reads the same one.
#![no_main]
use keytrail::event::{fast, RawRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(keytrail::event::NotUsed::Rejected(reason, message)) = keytrail::event::parse(data) {
        assert!(!reason.is_empty() && !message.is_empty());
    }
    if let Some(quick) = fast::parse(data) {
        let text = std::str::from_utf8(data).expect("the fast path reads UTF-8 only");
        let slow: RawRecord = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("the fast path read what serde refuses: {e}"));
        assert_eq!(quick, slow);
    }
});
