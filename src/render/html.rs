//! HTML: one self-contained page (inline CSS, inline SVG, no scripts, nothing fetched) with
//! every table, chart and note of a document, for sharing.

use super::doc::{Doc, Table};
use super::sanitize;

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}\
th{background:#f2f2f2}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:0.3em}\
li{margin:0.2em 0}.headline{font-size:1.25em;margin:0.3em 0}\
.about{color:#555;font-size:13px}";

pub fn render(doc: &Doc) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{0}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
        xml_escape(&doc.title)
    );
    // The answer first, then how the report was made, then the tables and charts.
    for line in &doc.headline {
        out.push_str(&format!(
            "<p class=\"headline\"><strong>{}</strong></p>\n",
            xml_escape(line)
        ));
    }
    if !doc.about.is_empty() {
        out.push_str("<ul class=\"about\">\n");
        for line in &doc.about {
            out.push_str(&format!("<li>{}</li>\n", xml_escape(line)));
        }
        out.push_str("</ul>\n");
    }
    for t in &doc.tables {
        out.push_str(&format!("<h2>{}</h2>\n", xml_escape(&t.title)));
        if t.height() == 0 {
            out.push_str("<p>(none)</p>\n");
        } else {
            out.push_str(&html_table(t));
        }
    }
    for chart in &doc.charts {
        out.push_str(&format!(
            "<figure>\n<figcaption>{}</figcaption>\n{}</figure>\n",
            xml_escape(&chart.title),
            chart.svg
        ));
    }
    if !doc.lines.is_empty() {
        out.push_str("<h2>Notes and input</h2>\n<ul>\n");
        for line in &doc.lines {
            out.push_str(&format!("<li>{}</li>\n", xml_escape(line)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str(&format!(
        "<p><small>keytrail {}</small></p>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    ));
    out
}

/// Escapes text for HTML and SVG (element content and quoted attributes), after making
/// control characters visible.
pub fn xml_escape(s: &str) -> String {
    let s = sanitize::visible(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The HTML of one table.
pub fn html_table(t: &Table) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for (i, c) in t.columns.iter().enumerate() {
        let class = if t.is_numeric(i) { " class=\"n\"" } else { "" };
        out.push_str(&format!("<th{class}>{}</th>", xml_escape(c.name)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in 0..t.height() {
        out.push_str("<tr>");
        for c in 0..t.columns.len() {
            let class = if t.is_numeric(c) { " class=\"n\"" } else { "" };
            out.push_str(&format!(
                "<td{class}>{}</td>",
                xml_escape(&t.columns[c].values.text(r))
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}
