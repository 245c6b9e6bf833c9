//! The reports and their renderers, one file per format.
//!
//! Every renderer is a pure function from a report to bytes. `analyze`'s tabular formats take
//! their columns from [`columns`], so a column is defined once; `cost` and `quota` ([`cost`],
//! [`quota`]) build a [`doc::Doc`] of typed tables, which [`render_doc`] writes in every format
//! (and `analyze` too, for HTML). polars appears only in `frame.rs`, which CSV and Parquet go
//! through; charts are SVG drawn in [`chart`].

pub mod chart;
pub mod check;
pub mod cost;
mod csv;
pub mod doc;
mod fit;
mod frame;
mod html;
mod json;
mod markdown;
mod parquet;
pub mod quota;
pub mod sanitize;
mod table;

pub use crate::event::format_time;
use crate::event::{KmsOp, S3Op};
use crate::reports::calls::{Report, Row};
use crate::reports::whatif::Counterpart;
use crate::summary::Summary;
pub use crate::text::{format_percent, format_ratio, format_usd, thousands};
use doc::Doc;
pub use fit::Layout;

/// The versioned name of the JSON schema; bump it on any incompatible change.
pub const SCHEMA: &str = "keytrail.analyze/v1";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for the terminal, with the input summary below it.
    Table,
    /// The full report, schema `keytrail.<command>/v1` (docs/ documents each).
    Json,
    /// The rows, one per line, with a header.
    Csv,
    /// The tables in Markdown, with the summary.
    Markdown,
    /// The rows as an Apache Parquet file.
    Parquet,
    /// One self-contained HTML page with the tables and charts, for sharing.
    Html,
}

/// What can keep a report from being rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot build the table: {0}")]
    Frame(#[from] polars::error::PolarsError),
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the report has no table")]
    NoTable,
    #[error("cannot draw the chart: {0}")]
    Chart(String),
}

/// Renders `report` in `format` (a table fitted to `layout`; HTML with the chart of each
/// bucket's what-if `counterparts`).
pub fn render(
    report: &Report,
    counterparts: &[Counterpart],
    format: Format,
    layout: Layout,
) -> Result<Vec<u8>, RenderError> {
    Ok(match format {
        Format::Table => table::render(report, layout).into_bytes(),
        Format::Json => json::render(report),
        Format::Csv => csv::render(report)?,
        Format::Markdown => markdown::render(report).into_bytes(),
        Format::Parquet => parquet::render(report)?,
        Format::Html => render_doc(&analyze_doc(report, counterparts), Format::Html, layout)?,
    })
}

/// Renders a document (cost, quota, analyze's HTML) in `format` (tables fitted to `layout`).
pub fn render_doc(doc: &Doc, format: Format, layout: Layout) -> Result<Vec<u8>, RenderError> {
    Ok(match format {
        Format::Table => doc::text(doc, layout).into_bytes(),
        Format::Markdown => doc::markdown(doc).into_bytes(),
        Format::Json => {
            let mut out = serde_json::to_vec_pretty(&doc.json)?;
            out.push(b'\n');
            out
        }
        Format::Csv => {
            let t = doc::main(doc)?;
            let df = frame::frame_of(t.columns.clone(), t.height(), &|s| {
                sanitize::spreadsheet_cell(s).into_owned()
            })?;
            frame::csv(df)?
        }
        Format::Parquet => {
            let t = doc::main(doc)?;
            frame::parquet(frame::frame_of(t.columns.clone(), t.height(), &|s| {
                s.to_string()
            })?)?
        }
        Format::Html => html::render(doc).into_bytes(),
    })
}

/// The analyze report as a document (for HTML): its table, summary and chart (of each
/// bucket's what-if `counterparts`).
pub fn analyze_doc(report: &Report, counterparts: &[Counterpart]) -> doc::Doc {
    let cols = text_columns(report);
    let numeric = cols.iter().map(|c| c.numeric).collect();
    let table = doc::Table {
        title: "KMS calls per S3 object".into(),
        columns: cols
            .into_iter()
            .map(|c| Column {
                name: c.header,
                values: Values::Text(c.cells),
            })
            .collect(),
        numeric: Some(numeric),
        fit: Default::default(),
    };
    doc::Doc {
        title: "keytrail analyze".into(),
        headline: analyze_headline(report, counterparts),
        about: Vec::new(),
        tables: vec![table],
        data: None,
        lines: summary_lines(report),
        json: json::value(report),
        charts: vec![chart::calls_per_object(counterparts)],
    }
}

/// analyze's answer: KMS calls per object with bucket keys and without, over every row; then
/// what bucket keys would change where they are off (or on), from the chart's replay.
fn analyze_headline(report: &Report, counterparts: &[Counterpart]) -> Vec<String> {
    use crate::event::Mode;
    let mut lines = Vec::new();
    for (mode, name) in [
        (Mode::BucketKey, "With bucket keys"),
        (Mode::PerObject, "Without bucket keys"),
        (Mode::Dsse, "With DSSE-KMS (no bucket keys)"),
    ] {
        let rows = report.rows.iter().filter(|r| r.mode == mode);
        let (calls, objects) = rows.fold((0, 0), |(c, o), r| (c + r.kms_total(), o + r.objects));
        if calls == 0 && objects == 0 {
            continue;
        }
        let per = (objects > 0).then(|| calls as f64 / objects as f64);
        lines.push(format!(
            "{name}: {} KMS calls for {} objects, {} per object.",
            thousands(&calls.to_string()),
            thousands(&objects.to_string()),
            format_ratio(per)
        ));
    }
    if lines.is_empty() {
        lines.push("No KMS calls or S3 object requests matched.".into());
    }
    // Where the other setting would change the calls: the replay, summed per direction.
    for (keys, switch) in [("off", "on"), ("on", "off")] {
        let these: Vec<&Counterpart> = counterparts
            .iter()
            .filter(|c| c.bucket_keys == keys)
            .collect();
        if these.is_empty() {
            continue;
        }
        let (ran, other, objects) = these.iter().fold((0u64, 0u64, 0u64), |(r, o, n), c| {
            let (ran, other) = if keys == "off" {
                (c.calls_without_bucket_keys, c.calls_with_bucket_keys)
            } else {
                (c.calls_with_bucket_keys, c.calls_without_bucket_keys)
            };
            (r + ran, o + other, n + c.objects)
        });
        let per = |calls: u64| format_ratio(Some(calls as f64 / objects.max(1) as f64));
        let buckets = if these.len() == 1 {
            these[0].bucket.clone()
        } else {
            format!("the {} buckets", these.len())
        };
        // A month of it at list price, over the span the trail covers (the cost report's own
        // arithmetic: keytrail cost takes other prices, the free tier and --since/--until).
        let f = &report.settings.filters;
        let month = crate::reports::cost::Window::of(
            f.since,
            f.until,
            report.summary.first_time,
            report.summary.last_time,
        )
        .map(|w| {
            let prices = crate::pricing::Prices::default();
            let factor = prices.month_factor(w.seconds());
            let change = (other as f64 - ran as f64) * factor;
            format!(
                ": {} {} KMS calls a month, {} at list price (${} per 10,000; keytrail cost \
                 applies the free tier and other prices)",
                thousands(&format!("{:.0}", change.abs())),
                if change < 0.0 { "fewer" } else { "more" },
                format_usd(prices.requests(change.abs())),
                prices.per_10k_requests
            )
        })
        .unwrap_or_default();
        lines.push(format!(
            "Turning bucket keys {switch} for {buckets} ({keys} now) would make {} KMS calls \
             instead of {} ({} per object instead of {}), as the envelope engine projects it{month}.",
            thousands(&other.to_string()),
            thousands(&ran.to_string()),
            per(other),
            per(ran),
        ));
    }
    lines
}

/// The values of one tabular column.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Text(Vec<String>),
    Count(Vec<u64>),
    Ratio(Vec<Option<f64>>),
    /// Whole-number estimates (monthly projections): printed rounded, stored as floats.
    Number(Vec<Option<f64>>),
    /// US dollars: printed with cents, stored as floats.
    Money(Vec<Option<f64>>),
    /// Shares: printed as percentages, stored as fractions (0.5 is 50 %).
    Percent(Vec<Option<f64>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Count(v) => v.len(),
            Values::Ratio(v) | Values::Number(v) | Values::Money(v) | Values::Percent(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Cell `i` as the text formats print it (log-derived text is not yet made visible).
    pub fn text(&self, i: usize) -> String {
        match self {
            Values::Text(v) => v[i].clone(),
            Values::Count(v) => thousands(&v[i].to_string()),
            Values::Ratio(v) => format_ratio(v[i]),
            Values::Number(v) => v[i].map_or("-".into(), |n| thousands(&format!("{n:.0}"))),
            Values::Money(v) => v[i].map_or("-".into(), format_usd),
            Values::Percent(v) => v[i].map_or("-".into(), format_percent),
        }
    }
    pub fn numeric(&self) -> bool {
        !matches!(self, Values::Text(_))
    }
}

/// Builds typed columns over rows of any kind, one closure per column.
pub struct Columns<'a, T> {
    rows: &'a [T],
    cols: Vec<Column>,
}

impl<'a, T> Columns<'a, T> {
    pub fn new(rows: &'a [T]) -> Self {
        Columns {
            rows,
            cols: Vec::new(),
        }
    }
    fn push(mut self, name: &'static str, values: Values) -> Self {
        self.cols.push(Column { name, values });
        self
    }
    pub fn text(self, name: &'static str, f: impl Fn(&T) -> String) -> Self {
        let v = self.rows.iter().map(f).collect();
        self.push(name, Values::Text(v))
    }
    pub fn count(self, name: &'static str, f: impl Fn(&T) -> u64) -> Self {
        let v = self.rows.iter().map(f).collect();
        self.push(name, Values::Count(v))
    }
    pub fn ratio(self, name: &'static str, f: impl Fn(&T) -> Option<f64>) -> Self {
        let v = self.rows.iter().map(f).collect();
        self.push(name, Values::Ratio(v))
    }
    pub fn number(self, name: &'static str, f: impl Fn(&T) -> Option<f64>) -> Self {
        let v = self.rows.iter().map(f).collect();
        self.push(name, Values::Number(v))
    }
    pub fn money(self, name: &'static str, f: impl Fn(&T) -> Option<f64>) -> Self {
        let v = self.rows.iter().map(f).collect();
        self.push(name, Values::Money(v))
    }
    pub fn percent(self, name: &'static str, f: impl Fn(&T) -> Option<f64>) -> Self {
        let v = self.rows.iter().map(f).collect();
        self.push(name, Values::Percent(v))
    }
    pub fn done(self) -> Vec<Column> {
        self.cols
    }
}

/// One tabular column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub values: Values,
}

/// The columns of the rows, in order: the single definition every tabular format uses.
pub fn columns(report: &Report) -> Vec<Column> {
    let rows = &report.rows;
    let text = |name, f: &dyn Fn(&Row) -> String| Column {
        name,
        values: Values::Text(rows.iter().map(f).collect()),
    };
    let count = |name, f: &dyn Fn(&Row) -> u64| Column {
        name,
        values: Values::Count(rows.iter().map(f).collect()),
    };
    let ratio = |name, f: &dyn Fn(&Row) -> Option<f64>| Column {
        name,
        values: Values::Ratio(rows.iter().map(f).collect()),
    };
    let mut cols = vec![
        text("bucket", &|r| r.bucket.clone()),
        text("group", &|r| r.group.clone()),
        text("mode", &|r| r.mode.name().to_string()),
    ];
    for op in S3Op::ALL {
        cols.push(count(op.name(), &move |r: &Row| r.s3_count(op)));
    }
    cols.push(count("s3_requests", &|r| r.s3_total()));
    cols.push(count("s3_errors", &|r| r.s3_errors));
    cols.push(count("objects", &|r| r.objects));
    for op in KmsOp::ALL {
        cols.push(count(op.name(), &move |r: &Row| r.kms_count(op)));
    }
    cols.extend([
        count("kms_calls", &|r| r.kms_total()),
        count("kms_calls_attributed", &|r| r.kms_attributed),
        count("kms_throttled", &|r| r.kms_throttled),
        count("kms_access_denied", &|r| r.kms_access_denied),
        count("kms_other_errors", &|r| r.kms_other_errors),
        ratio("kms_calls_per_object", &|r| r.kms_per_object()),
        ratio("kms_calls_per_s3_request", &|r| r.kms_per_s3_request()),
        count("unmatched_s3_requests", &|r| r.unmatched_s3),
        count("unmatched_kms_calls", &|r| r.unmatched_kms),
    ]);
    cols
}

/// The lines of the summary shared by the text formats.
pub fn summary_lines(report: &Report) -> Vec<String> {
    let mut lines = input_lines(&report.summary);
    let attributed: u64 = report.rows.iter().map(|r| r.kms_attributed).sum();
    if attributed > 0 {
        lines.push(format!(
            "{attributed} bucket-key KMS calls were attributed to a prefix through correlation \
             (marked *): a bucket-key call names only its bucket"
        ));
    }
    for w in &report.warnings {
        lines.push(format!("warning: {w}"));
    }
    lines
}

/// The lines under a multi-table report: its notes, the input, the warnings.
pub fn doc_lines(notes: Vec<String>, summary: &Summary, warnings: &[String]) -> Vec<String> {
    let mut lines = notes;
    lines.extend(input_lines(summary));
    lines.extend(warnings.iter().map(|w| format!("warning: {w}")));
    lines
}

/// The lines that account for the input: files, bytes, records.
pub fn input_lines(s: &Summary) -> Vec<String> {
    let n = |v: u64| thousands(&v.to_string());
    let join = |m: &crate::summary::Reasons| {
        m.iter()
            .map(|(k, v)| format!("{k} {}", n(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = vec![format!(
        "files: {} read{}{}{}",
        n(s.files.read),
        if s.documents_skipped.is_empty() {
            String::new()
        } else {
            format!(
                " (documents without records: {})",
                join(&s.documents_skipped)
            )
        },
        if s.files.skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped: {}", join(&s.files.skipped))
        },
        if s.files.with_problems.is_empty() {
            String::new()
        } else {
            format!("; with problems: {}", join(&s.files.with_problems))
        },
    )];
    lines.push(format!(
        "bytes: {} read, {} of JSON",
        n(s.bytes.read),
        n(s.bytes.decoded)
    ));
    if let Some(s3) = &s.s3 {
        lines.push(format!(
            "s3: {} objects listed with {} LIST requests, {} GET requests{}",
            n(s3.objects),
            n(s3.list_requests),
            n(s3.get_requests),
            if s3.prefixes_pruned.is_empty() {
                String::new()
            } else {
                format!("; prefixes not listed: {}", join(&s3.prefixes_pruned))
            }
        ));
    }
    let mb = |b: u64| format!("{} MB", thousands(&(b.div_ceil(1 << 20)).to_string()));
    // A group past its share of the budget is a bucket (or buckets copies link) held whole.
    let past = |largest: u64, budget: u64, done: &str| {
        if largest > budget {
            format!(
                ", more than the {} a group may hold: a bucket, or buckets linked by copies, \
                 is {done} whole, past the budget",
                mb(budget)
            )
        } else {
            String::new()
        }
    };
    if let Some(sp) = &s.spill {
        lines.push(format!(
            "memory: {} events ({}) spilled past --memory-limit {} to {} partitions, joined in \
             {} groups (the largest {}{})",
            n(sp.events),
            mb(sp.event_bytes),
            mb(sp.limit),
            n(sp.partitions),
            n(sp.groups),
            mb(sp.largest_group_bytes),
            past(sp.largest_group_bytes, sp.group_budget, "joined")
        ));
    }
    if let Some(fp) = &s.from_parts {
        let largest = fp.largest_group_rows * fp.row_bytes;
        lines.push(format!(
            "memory: the engine's output ({} rows in {} parts) read in {} groups within \
             --memory-limit {} (the largest {} rows, about {}{})",
            n(fp.rows),
            n(fp.parts),
            n(fp.groups),
            mb(fp.limit),
            n(fp.largest_group_rows),
            mb(largest),
            past(largest, fp.group_budget, "read")
        ));
    }
    lines.push(format!(
        "records: {} read = {} used + {} filtered out + {} rejected",
        n(s.records.read),
        n(s.records.used),
        n(s.filtered_total()),
        n(s.rejected_total())
    ));
    if !s.records.filtered_out.is_empty() {
        lines.push(format!("  filtered out: {}", join(&s.records.filtered_out)));
    }
    if !s.records.rejected.is_empty() {
        lines.push(format!("  rejected: {}", join(&s.records.rejected)));
    }
    if let (Some(a), Some(b)) = (s.first_time, s.last_time) {
        lines.push(format!(
            "time span: {} to {}",
            format_time(a),
            format_time(b)
        ));
    }
    lines
}

/// A column of the text formats (table, Markdown), already formatted and made visible.
pub struct TextColumn {
    pub header: &'static str,
    pub numeric: bool,
    pub cells: Vec<String>,
    /// Left out when every cell is zero.
    pub optional: bool,
}

/// The columns of analyze's table a narrow terminal keeps, most important first: the row's
/// identity and the answer, then the figures behind it.
pub const ANALYZE_IMPORTANCE: &[&str] = &[
    "bucket",
    "group",
    "mode",
    "KMS/object",
    "objects",
    "KMS calls",
    "GenerateDataKey",
    "Decrypt",
    "Put",
    "Get",
    "KMS/request",
    "S3 errors",
    "KMS errors",
];

/// The compact column set of the text formats: a terminal has no room for every operation.
pub fn text_columns(report: &Report) -> Vec<TextColumn> {
    let rows = &report.rows;
    let mk = |header, numeric, f: &dyn Fn(&Row) -> String| TextColumn {
        header,
        numeric,
        cells: rows.iter().map(f).collect(),
        optional: false,
    };
    let optional = |header, f: &dyn Fn(&Row) -> String| TextColumn {
        optional: true,
        ..mk(header, true, f)
    };
    let n = |v: u64| thousands(&v.to_string());
    let mut cols = vec![mk("bucket", false, &|r| {
        sanitize::visible(&r.bucket).into_owned()
    })];
    if report.settings.group_by != "bucket" {
        cols.push(mk("group", false, &|r| {
            sanitize::visible(&r.group).into_owned()
        }));
    }
    cols.extend([
        mk("mode", false, &|r| r.mode.name().to_string()),
        mk("Put", true, &|r| n(r.s3_count(S3Op::PutObject))),
        mk("Get", true, &|r| n(r.s3_count(S3Op::GetObject))),
        optional("Select", &|r| n(r.s3_count(S3Op::SelectObjectContent))),
        optional("Copy", &|r| n(r.s3_count(S3Op::CopyObject))),
        optional("Multipart", &|r| {
            n(r.s3_count(S3Op::CreateMultipartUpload)
                + r.s3_count(S3Op::UploadPart)
                + r.s3_count(S3Op::UploadPartCopy)
                + r.s3_count(S3Op::CompleteMultipartUpload))
        }),
        mk("objects", true, &|r| n(r.objects)),
        mk("GenerateDataKey", true, &|r| {
            n(r.kms_count(KmsOp::GenerateDataKey))
        }),
        mk("Decrypt", true, &|r| n(r.kms_count(KmsOp::Decrypt))),
        optional("Encrypt", &|r| n(r.kms_count(KmsOp::Encrypt))),
        optional("other KMS", &|r| n(r.kms_count(KmsOp::Other))),
        mk("KMS calls", true, &|r| {
            let mark = if r.kms_attributed > 0 { "*" } else { "" };
            format!("{}{mark}", n(r.kms_total()))
        }),
        mk("KMS/object", true, &|r| format_ratio(r.kms_per_object())),
        mk("KMS/request", true, &|r| {
            format_ratio(r.kms_per_s3_request())
        }),
        mk("S3 w/o KMS", true, &|r| n(r.unmatched_s3)),
        mk("KMS w/o S3", true, &|r| n(r.unmatched_kms)),
        optional("S3 errors", &|r| n(r.s3_errors)),
        optional("KMS errors", &|r| {
            if r.kms_errors() == 0 {
                "0".to_string()
            } else {
                format!(
                    "{} (throttled {}, denied {}, other {})",
                    n(r.kms_errors()),
                    n(r.kms_throttled),
                    n(r.kms_access_denied),
                    n(r.kms_other_errors)
                )
            }
        }),
    ]);
    cols.retain(|c| !c.optional || c.cells.iter().any(|v| v != "0"));
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_print_with_sense() {
        assert_eq!(format_ratio(Some(1.0)), "1.000");
        assert_eq!(format_ratio(Some(0.0068)), "0.00680");
        assert_eq!(format_ratio(Some(250.4)), "250");
        assert_eq!(format_ratio(None), "-");
    }

    #[test]
    fn large_figures_group_their_thousands() {
        assert_eq!(thousands("1234567"), "1,234,567");
        assert_eq!(thousands("-1234.50"), "-1,234.50");
        assert_eq!(thousands("999"), "999");
        assert_eq!(format_usd(12345.678), "$12,345.68");
        assert_eq!(format_usd(0.004), "$0.0040");
    }
}
