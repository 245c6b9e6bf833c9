//! Columns as a polars DataFrame: the one place CSV and Parquet come from.

use super::{columns, Report, Values};
use polars::prelude::*;

/// Builds the DataFrame of `report`'s rows. `text` maps every text cell (CSV neutralises
/// formulas there).
pub fn data_frame(report: &Report, text: &dyn Fn(&str) -> String) -> PolarsResult<DataFrame> {
    frame_of(columns(report), report.rows.len(), text)
}

/// Builds a DataFrame of `height` rows from typed columns.
pub fn frame_of(
    columns: Vec<super::Column>,
    height: usize,
    text: &dyn Fn(&str) -> String,
) -> PolarsResult<DataFrame> {
    let cols: Vec<Column> = columns
        .into_iter()
        .map(|c| {
            let name = PlSmallStr::from_static(c.name);
            match c.values {
                Values::Text(v) => {
                    Column::new(name, v.iter().map(|s| text(s)).collect::<Vec<String>>())
                }
                Values::Count(v) => Column::new(name, v),
                Values::Money(v) => Column::new(
                    name,
                    v.iter()
                        .map(|x| x.map(crate::text::round_usd))
                        .collect::<Vec<_>>(),
                ),
                Values::Ratio(v) | Values::Number(v) | Values::Percent(v) => Column::new(name, v),
            }
        })
        .collect();
    DataFrame::new(height, cols)
}

/// CSV bytes of a frame.
pub fn csv(mut df: DataFrame) -> PolarsResult<Vec<u8>> {
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(true)
        .finish(&mut df)?;
    Ok(out)
}

/// Parquet bytes of a frame.
pub fn parquet(mut df: DataFrame) -> PolarsResult<Vec<u8>> {
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut df)?;
    Ok(out)
}
