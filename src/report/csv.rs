//! CSV: the rows, with formula-like cells neutralised for spreadsheets.

use super::{frame::data_frame, sanitize::spreadsheet_cell, Report};
use polars::prelude::*;

pub fn render(report: &Report) -> anyhow::Result<Vec<u8>> {
    let mut df = data_frame(report, &|s| spreadsheet_cell(s).into_owned())?;
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(true)
        .finish(&mut df)?;
    Ok(out)
}
