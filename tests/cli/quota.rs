//! `keytrail quota`: per-second peaks, percentiles, charts.

use crate::util::*;

#[test]
fn the_quota_peak_and_percentiles_of_a_known_burst_are_exact() {
    let mut t = Trail::new();
    burst_trail(&mut t);
    let (since, until) = (time(0), time(1000));
    let q = report(
        &t,
        "quota",
        &[
            "AWSLogs",
            "--since",
            &since,
            "--until",
            &until,
            "--quota",
            "us-east-1=30",
        ],
    );
    assert_eq!(q["schema"], "keytrail.quota/v1");
    let r = &q["rows"][0];
    assert_eq!(r["quota"]["per_second"], 30);
    assert_eq!(r["quota"]["source"], "--quota");
    assert_eq!(r["kms_requests"], 889 * 2 + 10 * 20 + 300);
    // 1,000 seconds sorted: 100 zeros, 889 twos, 10 twenties, one 300.
    assert_eq!(r["per_second"]["peak"], 300);
    assert_eq!(r["per_second"]["p99"], 20);
    assert_eq!(r["per_second"]["p99_9"], 20);
    assert_eq!(r["per_second"]["seconds_above_50_percent"], 11);
    assert_eq!(r["per_second"]["seconds_above_80_percent"], 1);
    assert!(close(&r["peak_quota_use"], 10.0));
    assert_eq!(r["peak_seconds"]["first"][0], time(500));
    assert_eq!(r["throttled"], 5);
    assert_eq!(r["s3_throttled"], 3);
    assert_eq!(r["at_peak"]["buckets"][0]["name"], "hot");
    assert_eq!(r["at_peak"]["buckets"][0]["calls"], 300);
    assert_eq!(r["at_peak"]["callers"][0]["name"], "s3.amazonaws.com");
    // With bucket keys the burst's 300 Decrypts fall to at most one per front-end cache, so
    // the peak becomes the ten busy seconds.
    assert_eq!(r["what_if_bucket_keys_on"]["peak"], 20);
    // The default quota of us-east-1 applies without --quota.
    let q = report(
        &t,
        "quota",
        &["AWSLogs", "--since", &since, "--until", &until],
    );
    assert_eq!(q["rows"][0]["quota"]["per_second"], 100_000);
    assert_eq!(q["rows"][0]["quota"]["source"], "default");
}

#[test]
fn charts_and_html_are_produced_and_valid() {
    let mut t = Trail::new();
    burst_trail(&mut t);
    let recs = two_buckets(&mut t);
    t.delivered("AWSLogs/two.json.gz", &recs);
    let dir = t.dir.path();
    let r = run(
        &[
            "quota", "-q", "AWSLogs", "--chart", "q.svg", "--format", "html", "-o", "q.html",
        ],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        &[
            "analyze", "-q", "AWSLogs", "--chart", "a.svg", "-o", "a.html",
        ],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (file, must) in [("q.svg", "quota 100k/s"), ("a.svg", "bucket key")] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(text.contains(must), "{file} lacks {must:?}");
    }
    for file in ["q.html", "a.html"] {
        let html = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.contains("<svg"),
            "{file}"
        );
        // Self-contained: no scripts, nothing fetched.
        for never in ["<script", "src=", "href=", "@import", "url("] {
            assert!(!html.contains(never), "{file} has {never}");
        }
    }
    let r = run(
        &["cost", "-q", "AWSLogs", "-o", "c.html", "--chart", "c.svg"],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(dir.join("c.svg")).unwrap();
    roxmltree::Document::parse(&text).unwrap();
    assert!(
        text.contains("without bucket keys")
            && text.contains(">plain</tspan><tspan x=\"0\" dy=\"14\" font-size=\"11\" fill=\"#555\">keys off</tspan>"),
        "{text}"
    );
    // Money in dollars, and the projected side marked.
    assert!(
        text.contains("US dollars a month") && text.contains(">$"),
        "{text}"
    );
    assert!(
        text.contains("stroke-dasharray") && text.contains("projected by the envelope engine"),
        "{text}"
    );
    let html = std::fs::read_to_string(dir.join("c.html")).unwrap();
    assert!(html.contains("<svg"));
    // The answer first, then how the report was made, then the tables.
    let headline = html.find("class=\"headline\"").expect("a headline");
    let about = html
        .find("<li>command: keytrail cost -q AWSLogs")
        .expect("the command");
    let table = html.find("<table>").unwrap();
    assert!(headline < about && about < table, "{html}");
    assert!(html.contains("KMS costs $"), "{html}");
    // PNG, drawn with the bundled font.
    let r = run(
        &["quota", "-q", "AWSLogs", "-o", "q.json", "--chart", "q.png"],
        dir,
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let png = std::fs::read(dir.join("q.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let r = run(&["quota", "-q", "AWSLogs", "--chart", "q.gif"], dir, None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("SVG or PNG"), "{}", r.stderr);
}
