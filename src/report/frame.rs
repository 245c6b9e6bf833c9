//! The rows as a polars DataFrame: the one place CSV and Parquet come from.

use super::{columns, Report, Values};
use polars::prelude::*;

/// Builds the DataFrame of `report`'s rows. `text` maps every text cell (CSV neutralises
/// formulas there).
pub fn data_frame(report: &Report, text: &dyn Fn(&str) -> String) -> PolarsResult<DataFrame> {
    let height = report.rows.len();
    let cols: Vec<Column> = columns(report)
        .into_iter()
        .map(|c| {
            let name = PlSmallStr::from_static(c.name);
            match c.values {
                Values::Text(v) => {
                    Column::new(name, v.iter().map(|s| text(s)).collect::<Vec<String>>())
                }
                Values::Count(v) => Column::new(name, v),
                Values::Ratio(v) => Column::new(name, v),
            }
        })
        .collect();
    DataFrame::new(height, cols)
}
