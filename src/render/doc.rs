//! A report as a document: titled tables of typed columns, lines of notes, a JSON value and
//! charts. `cost` and `quota` render through it in every format; `analyze` for HTML.
//!
//! CSV and Parquet hold one table: the document's first (its main one), through polars like
//! every tabular output. JSON is the report's own versioned value; the text formats show every
//! table.

use super::fit::{self, Layout, TextCol};
use super::{sanitize, Column};
use serde_json::Value;

/// One table of a document.
#[derive(Debug, Clone)]
pub struct Table {
    pub title: String,
    pub columns: Vec<Column>,
    /// Right-align these columns (text columns holding numbers); else numeric types are.
    pub numeric: Option<Vec<bool>>,
    /// Which columns a narrow terminal keeps.
    pub fit: Fit,
}

/// Which columns of a table a narrow terminal keeps: those named in `importance` (most
/// important first) before the others, the first `essential` of them always.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    pub importance: &'static [&'static str],
    pub essential: usize,
}

impl Default for Fit {
    /// Columns left out from the right, the first kept.
    fn default() -> Self {
        Fit {
            importance: &[],
            essential: 1,
        }
    }
}

impl Table {
    pub fn height(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }
    pub(super) fn is_numeric(&self, i: usize) -> bool {
        match &self.numeric {
            Some(n) => n[i],
            None => self.columns[i].values.numeric(),
        }
    }
    /// Cell (row, column) as text, made visible.
    fn cell(&self, row: usize, col: usize) -> String {
        sanitize::visible(&self.columns[col].values.text(row)).into_owned()
    }
}

/// A chart, already drawn.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    /// A whole SVG document.
    pub svg: String,
}

/// A rendered report, before its format.
#[derive(Debug, Clone)]
pub struct Doc {
    pub title: String,
    /// The answer in a sentence or two, computed from the report: what HTML shows first.
    pub headline: Vec<String>,
    /// How the report was made (the command line, when), set by the command that made it.
    pub about: Vec<String>,
    /// The tables the text formats and HTML show.
    pub tables: Vec<Table>,
    /// The one table CSV and Parquet hold, with every column; `None`: the first of `tables`.
    pub data: Option<Table>,
    /// Notes and the input summary, one line each.
    pub lines: Vec<String>,
    pub json: Value,
    pub charts: Vec<Chart>,
}

pub(super) fn main(doc: &Doc) -> Result<&Table, super::RenderError> {
    doc.data
        .as_ref()
        .or(doc.tables.first())
        .ok_or(super::RenderError::NoTable)
}

pub(super) fn text(doc: &Doc, layout: Layout) -> String {
    let mut out = String::new();
    for t in &doc.tables {
        out.push_str(&fit::wrap(&sanitize::visible(&t.title), layout.width));
        if t.height() == 0 {
            out.push_str("(none)\n\n");
            continue;
        }
        let cols: Vec<TextCol> = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| TextCol {
                header: c.name,
                cells: (0..t.height()).map(|r| t.cell(r, i)).collect(),
                numeric: t.is_numeric(i),
            })
            .collect();
        let importance: Vec<usize> = t
            .fit
            .importance
            .iter()
            .filter_map(|name| t.columns.iter().position(|c| c.name == *name))
            .collect();
        out.push_str(&fit::table(&cols, &importance, t.fit.essential, layout));
        out.push('\n');
    }
    for line in &doc.lines {
        out.push_str(&fit::wrap(&sanitize::visible(line), layout.width));
    }
    out
}

pub(super) fn markdown(doc: &Doc) -> String {
    let esc = |s: &str| sanitize::visible(s).replace('|', "\\|");
    let mut out = format!("# {}\n\n", esc(&doc.title));
    for line in &doc.headline {
        out.push_str(&format!("**{}**\n\n", esc(line)));
    }
    for t in &doc.tables {
        out.push_str(&format!("## {}\n\n", esc(&t.title)));
        if t.height() == 0 {
            out.push_str("(none)\n\n");
            continue;
        }
        let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
        out.push_str(&format!("| {} |\n|", names.join(" | ")));
        for i in 0..t.columns.len() {
            out.push_str(if t.is_numeric(i) { " ---: |" } else { " --- |" });
        }
        out.push('\n');
        for r in 0..t.height() {
            let cells: Vec<String> = (0..t.columns.len())
                .map(|c| esc(&t.columns[c].values.text(r)))
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out.push('\n');
    }
    for line in &doc.lines {
        out.push_str(&format!("- {}\n", esc(line)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Format;
    use crate::render::Values;

    fn doc() -> Doc {
        Doc {
            title: "t".into(),
            headline: vec!["the answer".into()],
            about: vec!["made now".into()],
            tables: vec![Table {
                title: "main".into(),
                columns: vec![
                    Column {
                        name: "name",
                        values: Values::Text(vec!["=cmd|' /C calc'!A0".into(), "<b>".into()]),
                    },
                    Column {
                        name: "usd",
                        values: Values::Money(vec![Some(1.5), None]),
                    },
                ],
                numeric: None,
                fit: Default::default(),
            }],
            data: None,
            lines: vec!["note".into()],
            json: serde_json::json!({"schema": "x"}),
            charts: Vec::new(),
        }
    }

    #[test]
    fn every_format_renders_and_csv_neutralises_formulas() {
        let d = doc();
        let csv = String::from_utf8(
            super::super::render_doc(&d, Format::Csv, Layout::default()).unwrap(),
        )
        .unwrap();
        assert!(csv.contains("'=cmd"), "{csv}");
        assert!(csv.contains("1.5"), "{csv}");
        let text = String::from_utf8(
            super::super::render_doc(&d, Format::Table, Layout::default()).unwrap(),
        )
        .unwrap();
        assert!(text.contains("$1.50") && text.contains("note"), "{text}");
        let md = String::from_utf8(
            super::super::render_doc(&d, Format::Markdown, Layout::default()).unwrap(),
        )
        .unwrap();
        assert!(md.contains("\\|") && md.contains("## main"), "{md}");
        let html = String::from_utf8(
            super::super::render_doc(&d, Format::Html, Layout::default()).unwrap(),
        )
        .unwrap();
        assert!(
            html.contains("&lt;b&gt;") && !html.contains("<b>"),
            "{html}"
        );
        let pq = super::super::render_doc(&d, Format::Parquet, Layout::default()).unwrap();
        assert_eq!(&pq[..4], b"PAR1");
    }
}
