//! The terminal table (comfy-table), fitted to the terminal, with the input summary below it.

use super::fit::{self, Layout, TextCol};
use super::{summary_lines, text_columns, Report, ANALYZE_IMPORTANCE};

pub fn render(report: &Report, layout: Layout) -> String {
    let cols = text_columns(report);
    let mut out = if report.rows.is_empty() {
        "no KMS calls or S3 object requests matched\n".to_string()
    } else {
        let importance: Vec<usize> = ANALYZE_IMPORTANCE
            .iter()
            .filter_map(|name| cols.iter().position(|c| c.header == *name))
            .collect();
        // The row's identity and its calls per object stay, however narrow the terminal.
        let essential = cols.iter().take_while(|c| !c.numeric).count() + 1;
        let cols: Vec<TextCol> = cols
            .into_iter()
            .map(|c| TextCol {
                header: c.header,
                cells: c.cells,
                numeric: c.numeric,
            })
            .collect();
        fit::table(&cols, &importance, essential, layout)
    };
    for line in summary_lines(report) {
        out.push_str(&fit::wrap(&super::sanitize::visible(&line), layout.width));
    }
    out
}
