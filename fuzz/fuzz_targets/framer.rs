//! Framing any text whole, and fed in windows of any size, gives the same items.
#![no_main]
use keytrail::source::frame::{Framer, Item};
use libfuzzer_sys::fuzz_target;

fn items(text: &[u8], size: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut framer = Framer::default();
    let mut window: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        let take = size.min(text.len() - fed);
        window.extend_from_slice(&text[fed..fed + take]);
        fed += take;
        let eof = fed == text.len();
        let consumed = framer.feed(&window, eof, &mut |item| {
            out.push(match item {
                Item::Record { text, offset, .. } => format!("r{offset}:{}", text.len()),
                Item::Document { offset, kind } => format!("d{offset}:{kind}"),
                Item::Problem { offset, problem } => format!("p{offset}:{problem}"),
            })
        });
        assert!(consumed <= window.len());
        window.drain(..consumed);
        if eof {
            assert!(window.is_empty());
            return out;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, text)) = data.split_first() else { return };
    let whole = items(text, usize::MAX);
    assert_eq!(items(text, size as usize + 1), whole);
});
