//! The S3 reader's path code: any text as an `s3://` URL parses or is refused (never a
//! panic), and for any key and any `--since/--until/--account/--region`, a folder the listing
//! prunes holds no file the file rule would read (so an S3 listing and a local walk of the same
//! tree read the same files). Keys are built from the layout's own words half the time, so the
//! fuzzer reaches the delivered layout's branches.
#![no_main]
use keytrail::source::s3::S3Url;
use keytrail::source::{path_skip, Prune};
use libfuzzer_sys::fuzz_target;

const WORDS: [&str; 16] = [
    "AWSLogs",
    "CloudTrail",
    "CloudTrail-Digest",
    "o-abc123",
    "111122223333",
    "444455556666",
    "us-east-1",
    "eu-west-1",
    "2024",
    "2026",
    "02",
    "13",
    "29",
    "31",
    ".hidden",
    "f.json.gz",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    if let Some(Ok(url)) = S3Url::parse(&text) {
        assert!((3..=63).contains(&url.bucket.len()));
        let again = S3Url::parse(&url.to_string()).and_then(Result::ok);
        assert_eq!(again, Some(url));
    }
    let parts: Vec<&str> = if selector & 1 == 0 {
        text.split('/').collect()
    } else {
        rest.iter()
            .map(|&b| WORDS[usize::from(b) % WORDS.len()])
            .collect()
    };
    let day = |b: u8| 1_704_067_200 + i64::from(b) * 86_400 * 3; // from 2024-01-01
    let prune = Prune {
        since: (selector & 2 != 0).then(|| day(rest.first().copied().unwrap_or(0))),
        until: (selector & 4 != 0).then(|| day(rest.last().copied().unwrap_or(0)) + 86_400 * 30),
        accounts: if selector & 8 != 0 {
            vec!["111122223333".into()]
        } else {
            Vec::new()
        },
        regions: if selector & 16 != 0 {
            vec!["eu-west-1".into()]
        } else {
            Vec::new()
        },
    };
    let file = path_skip(&parts, &prune, false);
    for depth in 1..parts.len() {
        if let Some(why) = path_skip(&parts[..depth], &prune, true) {
            assert!(
                file.is_some(),
                "{parts:?}: its folder {:?} is pruned ({why}) but the file would be read",
                &parts[..depth]
            );
        }
    }
});
