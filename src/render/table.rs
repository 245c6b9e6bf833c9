//! The terminal table (comfy-table), with the input summary below it.

use super::{summary_lines, text_columns, Report};
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement, Table};

pub fn render(report: &Report) -> String {
    let cols = text_columns(report);
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(cols.iter().map(|c| c.header));
    for i in 0..report.rows.len() {
        table.add_row(cols.iter().map(|c| c.cells[i].clone()));
    }
    for (i, c) in cols.iter().enumerate() {
        if c.numeric {
            if let Some(col) = table.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    let mut out = if report.rows.is_empty() {
        "no KMS calls or S3 object requests matched\n".to_string()
    } else {
        format!("{table}\n")
    };
    for line in summary_lines(report) {
        out.push_str(&super::sanitize::visible(&line));
        out.push('\n');
    }
    out
}
