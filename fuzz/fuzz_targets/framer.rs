//! Framing any text whole, and fed in windows of any size, gives the same items.
#![no_main]
use keytrail::source::frame::{frame_in_windows, Item};
use libfuzzer_sys::fuzz_target;

fn items(text: &[u8], size: usize) -> Vec<String> {
    let mut out = Vec::new();
    frame_in_windows(text, size, &mut |item| {
        out.push(match item {
            Item::Record { text, offset, .. } => format!("r{offset}:{}", text.len()),
            Item::Document { offset, kind } => format!("d{offset}:{kind}"),
            Item::Problem { offset, problem } => format!("p{offset}:{problem}"),
        })
    });
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, text)) = data.split_first() else {
        return;
    };
    assert_eq!(items(text, size as usize + 1), items(text, usize::MAX));
});
