//! What users see, pinned: every format of every report on the bundled fixtures, the check
//! gate and the help texts, as snapshots under `tests/cli/snapshots/`. A change in output is a
//! reviewed diff: regenerate with `INSTA_UPDATE=always cargo test snapshots` (or
//! `cargo insta review`), read the diff, commit it. The version is redacted.

use crate::util::*;

/// stdout (and, when it says something, stderr and the exit code) of `keytrail ARGS`, run in
/// the repository so every path is relative.
fn shown(args: &[&str]) -> String {
    let r = run(args, Path::new(env!("CARGO_MANIFEST_DIR")), None);
    let mut out = String::from_utf8(r.stdout).expect("text output");
    if r.code != 0 || !r.stderr.is_empty() {
        out.push_str(&format!("--- stderr (exit {}) ---\n{}", r.code, r.stderr));
    }
    out
}

macro_rules! snapshot {
    ($name:expr, $args:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"keytrail \d+\.\d+\.\d+", "keytrail [VERSION]"),
                (r"made \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "made [TIME]"),
            ],
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => $args.join(" "),
        }, {
            insta::assert_snapshot!($name, shown(&$args));
        });
    };
}

#[test]
fn analyze_in_every_text_format() {
    for format in ["table", "markdown", "csv", "json", "html"] {
        snapshot!(
            format!("analyze-{format}"),
            ["analyze", "-q", "fixtures/two-buckets", "--format", format]
        );
    }
    snapshot!(
        "analyze-by-prefix",
        [
            "analyze",
            "-q",
            "fixtures/datalake",
            "--group-by",
            "prefix:1",
            "--format",
            "table"
        ]
    );
}

#[test]
fn cost_and_quota_in_every_text_format() {
    for format in ["table", "markdown", "csv", "json"] {
        snapshot!(
            format!("cost-{format}"),
            ["cost", "-q", "fixtures/two-buckets", "--format", format]
        );
        snapshot!(
            format!("quota-{format}"),
            ["quota", "-q", "fixtures/poc", "--format", format]
        );
    }
}

#[test]
fn check_verdicts() {
    snapshot!(
        "check-fails",
        [
            "check",
            "fixtures/two-buckets",
            "--max-calls-per-object",
            "0.5"
        ]
    );
    snapshot!(
        "check-json",
        [
            "check",
            "-q",
            "fixtures/two-buckets",
            "--max-calls-per-object",
            "3",
            "--max-quota-use",
            "0.5",
            "--json"
        ]
    );
}

#[test]
fn help_texts() {
    snapshot!("help", ["--help"]);
    for command in ["analyze", "cost", "quota", "check", "simulate"] {
        snapshot!(format!("help-{command}"), [command, "--help"]);
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_clap_definitions() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(&["completions", shell], dir.path(), None);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        let text = String::from_utf8_lossy(&r.stdout);
        for word in ["analyze", "bucket-arn-prefix", "endpoint-url"] {
            assert!(text.contains(word), "{shell} completions lack {word}");
        }
    }
    let man = run(&["man"], dir.path(), None);
    assert_eq!(man.code, 0, "{}", man.stderr);
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(text.contains(".TH keytrail 1"), "{text}");
    assert!(text.contains("analyze"), "{text}");
}
