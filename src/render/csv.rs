//! CSV: the rows, with formula-like cells neutralised for spreadsheets.

use super::{frame, sanitize::spreadsheet_cell, Report};

pub fn render(report: &Report) -> anyhow::Result<Vec<u8>> {
    let df = frame::data_frame(report, &|s| spreadsheet_cell(s).into_owned())?;
    Ok(frame::csv(df)?)
}
