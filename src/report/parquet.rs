//! Apache Parquet: the rows, typed (counts as UInt64, ratios as nullable Float64).

use super::{frame::data_frame, Report};
use polars::prelude::*;

pub fn render(report: &Report) -> anyhow::Result<Vec<u8>> {
    let mut df = data_frame(report, &|s| s.to_string())?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut df)?;
    Ok(out)
}
