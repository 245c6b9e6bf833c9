//! README.md and docs/ cannot go stale: every `$ keytrail ...` command in a `console` block is
//! run from the repository's root and its standard output (and exit code, `[exit N]`, 0 when
//! not given) compared with what the block quotes; every `keytrail ...` line of the other
//! blocks is parsed by the binary's own clap definitions. `KEYTRAIL_BLESS=1` rewrites the
//! quoted outputs from the binary.

use super::util::run;
use clap::Parser;
use keytrail::cli::args::Cli;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// Words of a shell command line: whitespace-separated, with '...' and "..." quoting; stops at
/// a redirection, a pipe or a comment.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    word.push(q);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' | '>' | '|' | '<' if !in_word => break,
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// The keytrail arguments of a line that runs keytrail, if it does.
fn keytrail_args(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    let rest = line
        .strip_prefix("keytrail ")
        .or_else(|| line.strip_prefix("cargo run --release -- "))?;
    Some(words(rest))
}

/// A command a `console` block quotes, and what it printed.
struct Quoted {
    args: Vec<String>,
    /// The lines of the page holding the output (and the `[exit N]` line), to rewrite.
    lines: std::ops::Range<usize>,
    output: String,
    code: i32,
}

struct Page {
    lines: Vec<String>,
    quoted: Vec<Quoted>,
    /// Lines of other blocks that run keytrail: (line number, arguments).
    parsed: Vec<(usize, Vec<String>)>,
}

fn read(path: &Path) -> Page {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut page = Page {
        lines: lines.clone(),
        quoted: Vec::new(),
        parsed: Vec::new(),
    };
    let mut block: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            block = match block {
                None => Some(lang.trim().to_string()),
                Some(_) => None,
            };
            i += 1;
            continue;
        }
        match block.as_deref() {
            Some("console") => {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    let args = keytrail_args(cmd)
                        .unwrap_or_else(|| panic!("{}:{}: not keytrail", path.display(), i + 1));
                    let start = i + 1;
                    let mut end = start;
                    while end < lines.len()
                        && !lines[end].starts_with("$ ")
                        && !lines[end].starts_with("```")
                    {
                        end += 1;
                    }
                    let mut code = 0;
                    let mut out_end = end;
                    if let Some(n) = lines[start..end]
                        .last()
                        .and_then(|l| l.strip_prefix("[exit "))
                        .and_then(|l| l.strip_suffix(']'))
                    {
                        code = n.parse().unwrap();
                        out_end = end - 1;
                    }
                    let mut output = lines[start..out_end].join("\n");
                    if out_end > start {
                        output.push('\n');
                    }
                    page.quoted.push(Quoted {
                        args,
                        lines: start..end,
                        output,
                        code,
                    });
                    i = end;
                    continue;
                }
            }
            Some("sh" | "bash" | "text" | "") => {
                let mut full = line.clone();
                while full.ends_with('\\') && i + 1 < lines.len() {
                    full.pop();
                    i += 1;
                    full.push_str(&lines[i]);
                }
                if let Some(args) = keytrail_args(&full) {
                    page.parsed.push((i + 1, args));
                }
            }
            _ => {}
        }
        i += 1;
    }
    page
}

#[test]
fn every_command_the_docs_quote_runs_as_quoted() {
    let bless = std::env::var_os("KEYTRAIL_BLESS").is_some();
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in pages() {
        let page = read(&path);
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let mut rewritten = page.lines.clone();
        // From the end, so earlier ranges stay where they are.
        for q in page.quoted.iter().rev() {
            let args: Vec<&str> = q.args.iter().map(String::as_str).collect();
            let r = run(&args, root(), None);
            ran += 1;
            let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
            if stdout != q.output || r.code != q.code {
                failures.push(format!(
                    "{name}: `keytrail {}` printed (exit {}):\n{stdout}--- the page quotes \
                     (exit {}):\n{}--- stderr:\n{}",
                    q.args.join(" "),
                    r.code,
                    q.code,
                    q.output,
                    r.stderr
                ));
                let mut new: Vec<String> = stdout.lines().map(str::to_string).collect();
                if r.code != 0 {
                    new.push(format!("[exit {}]", r.code));
                }
                rewritten.splice(q.lines.clone(), new);
            }
        }
        if bless && rewritten != page.lines {
            std::fs::write(&path, rewritten.join("\n") + "\n").unwrap();
        }
        for (line, args) in &page.parsed {
            let argv = std::iter::once("keytrail".to_string()).chain(args.iter().cloned());
            if let Err(e) = Cli::try_parse_from(argv) {
                failures.push(format!(
                    "{name}:{line}: `keytrail {}` does not parse:\n{e}",
                    args.join(" ")
                ));
            }
        }
    }
    assert!(ran >= 3, "only {ran} quoted commands found");
    if !bless {
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }
}

#[test]
fn shell_words_split_like_a_shell() {
    assert_eq!(
        words("analyze ./AWSLogs --context 'a=b c' -o x.json  # a comment"),
        ["analyze", "./AWSLogs", "--context", "a=b c", "-o", "x.json"]
    );
    assert_eq!(words("man > keytrail.1"), ["man"]);
    assert_eq!(
        words("analyze trail.json.gz -"),
        ["analyze", "trail.json.gz", "-"]
    );
}
