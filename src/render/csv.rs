//! CSV: the rows, with formula-like cells neutralised for spreadsheets.

use super::{frame, sanitize::spreadsheet_cell, RenderError, Report};

pub fn render(report: &Report) -> Result<Vec<u8>, RenderError> {
    let df = frame::data_frame(report, &|s| spreadsheet_cell(s).into_owned())?;
    Ok(frame::csv(df)?)
}
