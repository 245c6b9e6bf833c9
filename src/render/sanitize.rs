//! Making strings from logs safe to show.
//!
//! A user agent, an object key or a session name in a trail can hold anything, including
//! escape sequences that would drive the user's terminal, or a formula a spreadsheet would run.
//! [`visible`] is applied to every log-derived string printed to a terminal (tables, messages,
//! progress); [`spreadsheet_cell`] to every CSV text cell.

use std::borrow::Cow;

/// Replaces control characters (C0, DEL, C1) with visible `\u{..}` escapes. Everything else,
/// including non-ASCII text, is kept.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Neutralises a CSV cell a spreadsheet would read as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) by prefixing a single quote, as OWASP recommends.
pub fn spreadsheet_cell(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(visible("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(visible("bell\x07\u{9b}"), "bell\\u{7}\\u{9b}");
        assert_eq!(visible("plain/ключ"), "plain/ключ");
        assert_eq!(visible("rtl\u{202e}txt"), "rtl\\u{202e}txt");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(spreadsheet_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_cell("-1+2"), "'-1+2");
        assert_eq!(spreadsheet_cell("bucket"), "bucket");
    }
}
