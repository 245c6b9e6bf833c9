//! Apache Parquet: the rows, typed (counts as UInt64, ratios as nullable Float64).

use super::{frame, RenderError, Report};

pub fn render(report: &Report) -> Result<Vec<u8>, RenderError> {
    let df = frame::data_frame(report, &|s| s.to_string())?;
    Ok(frame::parquet(df)?)
}
