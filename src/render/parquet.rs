//! Apache Parquet: the rows, typed (counts as UInt64, ratios as nullable Float64).

use super::{frame, Report};

pub fn render(report: &Report) -> anyhow::Result<Vec<u8>> {
    let df = frame::data_frame(report, &|s| s.to_string())?;
    Ok(frame::parquet(df)?)
}
