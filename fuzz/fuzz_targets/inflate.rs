//! Inflating whole with libdeflate gives the streaming inflater's text, or declines: on any
//! bytes read as a gzip input, and on any bytes gzipped (in one member or two).
#![no_main]
use keytrail::source::decode::{with_whole, Inflater, Limits};
use libfuzzer_sys::fuzz_target;

mod gz;

fn streamed(raw: &[u8]) -> (Vec<u8>, u32, bool) {
    let mut inflater = Inflater::new(raw, Limits::default());
    let mut out = Vec::new();
    let clean = loop {
        match inflater.fill(&mut out, 1 << 16) {
            Ok(true) => {}
            Ok(false) => break true,
            Err(_) => break false,
        }
    };
    (out, inflater.members(), clean)
}

fn check(raw: &[u8]) {
    if let Some((text, members)) = with_whole(raw, Limits::default(), |t, m| (t.to_vec(), m)) {
        let (out, streamed_members, clean) = streamed(raw);
        assert!(
            clean,
            "libdeflate read what the streaming inflater calls damaged"
        );
        assert_eq!(text, out);
        assert_eq!(members, streamed_members);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let one = gz::gzip(data);
    assert!(with_whole(&one, Limits::default(), |_, _| ()).is_some());
    check(&one);
    let mut two = gz::gzip(&data[..data.len() / 2]);
    two.extend(gz::gzip(&data[data.len() / 2..]));
    check(&two);
});
