//! Markdown: the same columns as the table, then the summary as a list.

use super::{sanitize::visible, summary_lines, text_columns, Report};

pub fn render(report: &Report) -> String {
    let cols = text_columns(report);
    let esc = |s: &str| visible(s).replace('|', "\\|");
    let mut out = String::from("| ");
    out.push_str(
        &cols
            .iter()
            .map(|c| c.header)
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" |\n|");
    for c in &cols {
        out.push_str(if c.numeric { " ---: |" } else { " --- |" });
    }
    out.push('\n');
    for i in 0..report.rows.len() {
        out.push_str("| ");
        let cells: Vec<String> = cols.iter().map(|c| esc(&c.cells[i])).collect();
        out.push_str(&cells.join(" | "));
        out.push_str(" |\n");
    }
    out.push('\n');
    for line in summary_lines(report) {
        out.push_str(&format!("- {}\n", esc(&line)));
    }
    out
}
