//! Charts as SVG, drawn here: a few hundred lines buy output that needs no fonts on the
//! machine, is the same bytes on every run, and embeds in the HTML report as it is.
//!
//! - [`quota`]: KMS requests per second over time, one panel per account and Region, with the
//!   quota as a line, the peak marked, and the what-if with bucket keys dashed. The y axis is
//!   logarithmic when the quota is far above the traffic, so both stay readable.
//! - [`calls_per_object`]: KMS calls per object per group, bucket key beside per object.
//! - [`cost_by_bucket`]: KMS request charges a month per bucket, with bucket keys beside
//!   without, the projected side drawn lighter and dashed.

use super::doc::Chart;
use super::format_ratio;
use super::html::xml_escape;
use crate::reports::cost::{CostReport, Scope};
use crate::reports::quota::QuotaReport;
use crate::reports::whatif::Counterpart;
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const PANEL_HEIGHT: f64 = 300.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 46.0;
const BOTTOM: f64 = 56.0;
/// Points per line at most: longer windows are binned, keeping each bin's maximum.
pub const MAX_POINTS: i64 = 720;

const OBSERVED: &str = "#1f6fb4";
const WHAT_IF: &str = "#2e9d4f";
const QUOTA: &str = "#c0392b";
const PER_OBJECT: &str = "#d9822b";
const BUCKET_KEY: &str = "#1f6fb4";

fn header(height: f64, title: &str) -> String {
    header_sized(WIDTH, height, title)
}

fn header_sized(width: f64, height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, DejaVu Sans, sans-serif\" \
         font-size=\"12\">\n<title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        xml_escape(title)
    )
}

/// Round tick values covering 0..=max (about five).
fn linear_ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 {
        return vec![0.0, 1.0];
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = Vec::new();
    let mut t = 0.0;
    while t < max + step * 0.999 {
        v.push(t);
        t += step;
    }
    v
}

/// A number on an axis: 1.5k, 100k, 2M.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A time-axis step in seconds giving at most about eight ticks over `span`.
fn time_step(span: i64) -> i64 {
    const STEPS: [i64; 16] = [
        1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 604_800,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 8)
        .unwrap_or(((span / 8) / 86_400 + 1) * 86_400)
}

fn time_label(t: i64, span: i64) -> String {
    let Some(d) = chrono::DateTime::from_timestamp(t, 0) else {
        return t.to_string();
    };
    if span > 2 * 86_400 {
        d.format("%m-%d %H:%M").to_string()
    } else {
        d.format("%H:%M:%S").to_string()
    }
}

/// The y axis of a panel.
struct YAxis {
    log: bool,
    max: f64,
    ticks: Vec<f64>,
}

impl YAxis {
    fn new(max_value: f64, quota: f64) -> YAxis {
        // Linear when the quota sits within reach of the traffic, else logarithmic.
        if quota <= max_value * 4.0 {
            let ticks = linear_ticks(quota.max(max_value) * 1.1);
            let max = *ticks.last().expect("ticks");
            YAxis {
                log: false,
                max,
                ticks,
            }
        } else {
            // log10(1 + v), so a quiet second sits on the axis and one call a second above it.
            let top = (quota * 2.0).log10().ceil();
            let mut ticks = vec![0.0];
            ticks.extend((0..=top as i32).map(|e| 10f64.powi(e)));
            YAxis {
                log: true,
                max: 10f64.powf(top),
                ticks,
            }
        }
    }
    /// 0 at the bottom, 1 at the top.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            ((v.max(0.0) + 1.0).log10() / (self.max + 1.0).log10()).clamp(0.0, 1.0)
        } else {
            (v / self.max).clamp(0.0, 1.0)
        }
    }
}

/// Bins a sparse per-second series over `start..end` into at most [`MAX_POINTS`] bins,
/// keeping each bin's maximum. Returns the bin width and the (bin start, max) points.
pub fn bin(series: &[(i64, u64)], start: i64, end: i64) -> (i64, Vec<(i64, u64)>) {
    let span = (end - start).max(1);
    let width = (span + MAX_POINTS - 1) / MAX_POINTS;
    let bins = ((span + width - 1) / width) as usize;
    let mut v = vec![0u64; bins];
    for &(t, c) in series {
        if t >= start && t < end {
            let i = ((t - start) / width) as usize;
            v[i] = v[i].max(c);
        }
    }
    let points = v
        .into_iter()
        .enumerate()
        .map(|(i, c)| (start + i as i64 * width, c))
        .collect();
    (width, points)
}

/// The quota chart: one panel per account and Region.
pub fn quota(report: &QuotaReport) -> Chart {
    let title = "KMS requests per second by account and Region";
    let panels = report.rows.len().max(1) as f64;
    let height = panels * PANEL_HEIGHT;
    let mut svg = header(height, title);
    let (start, end) = (report.window.start, report.window.end);
    let span = end - start;
    if report.rows.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no KMS calls in the trail</text>",
            WIDTH / 2.0,
            PANEL_HEIGHT / 2.0
        );
    }
    for (p, row) in report.rows.iter().enumerate() {
        let y0 = p as f64 * PANEL_HEIGHT;
        let (x_left, x_right) = (LEFT, WIDTH - RIGHT);
        let (y_top, y_bottom) = (y0 + TOP, y0 + PANEL_HEIGHT - BOTTOM);
        let (width, points) = bin(&row.series, start, end);
        let (_, what_if) = bin(&row.what_if_series, start, end);
        let max_value = points.iter().map(|p| p.1).max().unwrap_or(0) as f64;
        let quota = row.quota.per_second as f64;
        let axis = YAxis::new(max_value.max(1.0), quota);
        let x = |t: i64| x_left + (t - start) as f64 / span.max(1) as f64 * (x_right - x_left);
        let y = |v: f64| y_bottom - axis.frac(v) * (y_bottom - y_top);
        let _ = writeln!(
            svg,
            "<text x=\"{x_left}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            y0 + 22.0,
            xml_escape(&format!(
                "account {} in {}: peak {}/s of a quota of {}/s ({})",
                row.account,
                row.region,
                row.stats.peak,
                row.quota.per_second,
                super::format_percent(row.peak_use())
            ))
        );
        // Grid and y ticks.
        for &t in &axis.ticks {
            let yy = y(t);
            // On a log axis 0 and 1 sit close: 0 is the axis itself, unlabelled.
            let label = if axis.log && t == 0.0 {
                String::new()
            } else {
                short(t)
            };
            let _ = writeln!(
                svg,
                "<line x1=\"{x_left}\" x2=\"{x_right}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e3e3e3\"/>\
                 <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
                x_left - 6.0,
                yy + 4.0,
            );
        }
        // Time ticks.
        let step = time_step(span);
        let mut t = start + (step - start.rem_euclid(step)) % step;
        while t <= end {
            let xx = x(t);
            let _ = writeln!(
                svg,
                "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{y_bottom}\" y2=\"{}\" stroke=\"#555\"/>\
                 <text x=\"{xx:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                y_bottom + 5.0,
                y_bottom + 18.0,
                time_label(t, span)
            );
            t += step;
        }
        let _ = writeln!(
            svg,
            "<line x1=\"{x_left}\" x2=\"{x_right}\" y1=\"{y_bottom}\" y2=\"{y_bottom}\" stroke=\"#555\"/>\
             <line x1=\"{x_left}\" x2=\"{x_left}\" y1=\"{y_top}\" y2=\"{y_bottom}\" stroke=\"#555\"/>"
        );
        let scale = if axis.log { ", log scale" } else { "" };
        let per = if width > 1 {
            format!("highest second in each {width} s")
        } else {
            "per second".to_string()
        };
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">UTC time; requests/s ({per}{scale})</text>",
            (x_left + x_right) / 2.0,
            y_bottom + 36.0
        );
        // Quota line.
        let qy = y(quota);
        let _ = writeln!(
            svg,
            "<line x1=\"{x_left}\" x2=\"{x_right}\" y1=\"{qy:.1}\" y2=\"{qy:.1}\" stroke=\"{QUOTA}\" stroke-width=\"2\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{QUOTA}\">quota {}/s ({})</text>",
            x_right - 4.0,
            qy - 5.0,
            short(quota),
            row.quota.source
        );
        // The series as steps over the bins.
        let path = |pts: &[(i64, u64)]| {
            let mut d = String::new();
            for (i, &(t, c)) in pts.iter().enumerate() {
                let (xa, xb, yy) = (x(t), x((t + width).min(end)), y(c as f64));
                let _ = write!(
                    d,
                    "{}{xa:.1},{yy:.1} L{xb:.1},{yy:.1} ",
                    if i == 0 { "M" } else { "L" }
                );
            }
            d
        };
        if row.what_if.is_some() {
            let _ = writeln!(
                svg,
                "<path d=\"{}\" fill=\"none\" stroke=\"{WHAT_IF}\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/>",
                path(&what_if)
            );
        }
        let _ = writeln!(
            svg,
            "<path d=\"{}\" fill=\"none\" stroke=\"{OBSERVED}\" stroke-width=\"1.5\"/>",
            path(&points)
        );
        // The peak.
        if let Some(&first) = row.peak_seconds.first() {
            let (px, py) = (
                x(first) + (x(first + width) - x(first)) / 2.0,
                y(row.stats.peak as f64),
            );
            let anchor = if px > (x_left + x_right) / 2.0 {
                "end"
            } else {
                "start"
            };
            let dx = if anchor == "end" { -8.0 } else { 8.0 };
            let _ = writeln!(
                svg,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"5\" fill=\"none\" stroke=\"{QUOTA}\" stroke-width=\"2\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" font-weight=\"bold\">peak {}/s at {}</text>",
                px + dx,
                (py - 8.0).max(y_top + 10.0),
                row.stats.peak,
                super::format_time(first)
            );
        }
        // Legend.
        let lx = x_left + 10.0;
        let ly = y_top + 6.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{lx}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{OBSERVED}\" stroke-width=\"2\"/>\
             <text x=\"{}\" y=\"{}\">observed</text>",
            lx + 24.0,
            lx + 30.0,
            ly + 4.0
        );
        if let Some(w) = &row.what_if {
            let _ = writeln!(
                svg,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{WHAT_IF}\" stroke-width=\"2\" stroke-dasharray=\"5,3\"/>\
                 <text x=\"{}\" y=\"{}\">with bucket keys on (projected; peak {}/s)</text>",
                lx + 110.0,
                lx + 134.0,
                lx + 140.0,
                ly + 4.0,
                w.peak
            );
        }
    }
    svg.push_str("</svg>\n");
    Chart {
        title: title.into(),
        svg,
    }
}

/// The analyze chart: each bucket's KMS calls per object with bucket keys beside without, for
/// the same objects: the side that ran observed and solid, the other the envelope engine's
/// replay, lighter and dashed (a read-heavy bucket is set against itself, not against a
/// write-heavy one).
pub fn calls_per_object(buckets: &[Counterpart]) -> Chart {
    let mut groups = Vec::new();
    let mut projected = Vec::new();
    for c in buckets {
        // The same bucket read from two accounts: say whose.
        let twice = buckets.iter().filter(|o| o.bucket == c.bucket).count() > 1;
        let bound = if c.without_is_lower_bound {
            " (>=)"
        } else {
            ""
        };
        groups.push((
            group_label(
                &c.bucket,
                twice.then_some(c.account.as_str()),
                c.bucket_keys,
                bound,
            ),
            [Some(c.with_bucket_keys), Some(c.without_bucket_keys)],
        ));
        projected.push(match c.bucket_keys {
            "on" => [false, true],
            "off" => [true, false],
            _ => [true, true],
        });
    }
    bars(&Bars {
        title: "KMS calls per object per bucket, with and without bucket keys",
        y_label: "KMS calls per object",
        series: [
            ("with bucket keys", BUCKET_KEY),
            ("without bucket keys", PER_OBJECT),
        ],
        groups,
        projected,
        value: |v| format_ratio(Some(v)),
        axis: short,
        empty: "no bucket whose S3 traffic and KMS calls could be set against a replay",
    })
}

/// The cost chart: each bucket's KMS request charges a month, with bucket keys beside without,
/// at list price (the observed side solid, the side the envelope engine projected lighter and
/// dashed).
pub fn cost_by_bucket(report: &CostReport) -> Chart {
    let buckets: Vec<_> = report
        .lines
        .iter()
        .filter(|l| l.scope == Scope::Bucket && l.monthly_with_bucket_keys.is_some())
        .collect();
    let usd = |requests: f64| report.prices.requests(requests);
    let mut groups = Vec::new();
    let mut projected = Vec::new();
    for l in &buckets {
        // The same bucket name in two accounts: say whose.
        let twice = buckets.iter().filter(|o| o.name == l.name).count() > 1;
        let keys = l.bucket_keys.unwrap_or("-");
        groups.push((
            group_label(&l.name, twice.then_some(l.account.as_str()), keys, ""),
            [
                l.monthly_with_bucket_keys.map(usd),
                l.monthly_without_bucket_keys.map(usd),
            ],
        ));
        // What ran is observed; the other side is the engine's replay. Mixed traffic is a
        // projection on both sides.
        projected.push(match keys {
            "on" => [false, true],
            "off" => [true, false],
            _ => [true, true],
        });
    }
    bars(&Bars {
        title: "KMS request charges a month per bucket, with and without bucket keys (list price)",
        y_label: "US dollars a month",
        series: [
            ("with bucket keys", BUCKET_KEY),
            ("without bucket keys", PER_OBJECT),
        ],
        groups,
        projected,
        value: dollars,
        axis: dollars,
        empty: "no bucket with a what-if",
    })
}

/// Dollars on a chart: $0.42, $12.50, $1.2k, $3.4M.
fn dollars(v: f64) -> String {
    if v.abs() >= 1e3 {
        format!("${}", short(v))
    } else if v != 0.0 && v.abs() < 0.01 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

/// A bucket's label under its bars: its name, then on a second line what tells it apart (its
/// requesters' account, when the bucket is read from two) and whether bucket keys are on. A
/// long name is wrapped, never shortened.
fn group_label(bucket: &str, account: Option<&str>, keys: &str, note: &str) -> String {
    match account {
        Some(a) => format!("{bucket}\n{a}, keys {keys}{note}"),
        None => format!("{bucket}\nkeys {keys}{note}"),
    }
}

/// A label of at most `max` characters: a longer one keeps its start and end around "...".
fn shorten(label: &str, max: usize) -> String {
    let chars: Vec<char> = label.chars().collect();
    if chars.len() <= max {
        return label.to_string();
    }
    let keep = (max - 3) / 2;
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}...{tail}")
}

/// `text` in lines of at most `width` characters, broken after a `-`, `.`, `_` or `/` where
/// one is in reach, else at the width: nothing is left out.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut chars: &[char] = &text.chars().collect::<Vec<char>>();
    let mut lines = Vec::new();
    while chars.len() > width {
        let at = chars[..width]
            .iter()
            .rposition(|c| matches!(c, '-' | '.' | '_' | '/'))
            .filter(|&p| p + 1 >= width / 2)
            .map_or(width, |p| p + 1);
        lines.push(chars[..at].iter().collect());
        chars = &chars[at..];
    }
    lines.push(chars.iter().collect());
    lines
}

/// A bar chart of two series side by side per group.
struct Bars<'a> {
    title: &'a str,
    y_label: &'a str,
    /// Name and colour of each series.
    series: [(&'a str, &'a str); 2],
    groups: Vec<(String, [Option<f64>; 2])>,
    /// Which bars of each group are projected rather than observed (drawn lighter, dashed,
    /// and named so in the legend).
    projected: Vec<[bool; 2]>,
    /// How a bar's value is printed above it.
    value: fn(f64) -> String,
    /// How an axis tick is printed.
    axis: fn(f64) -> String,
    /// What the chart says when there is nothing to draw.
    empty: &'a str,
}

fn bars(b: &Bars<'_>) -> Chart {
    // At least 140 px a group: the chart widens rather than crowd its labels.
    let width = WIDTH.max(LEFT + RIGHT + 140.0 * b.groups.len() as f64);
    let (x_left, x_right) = (LEFT, width - RIGHT);
    let slot = (x_right - x_left) / b.groups.len().max(1) as f64;
    // Rotated labels of neighbouring groups are parallel, slot * sin(25 deg) apart: as many
    // 14 px lines as fit there.
    let max_lines = ((slot * 0.42 / 14.0).floor() as usize).max(2);
    // Each group's label as lines: its name wrapped (never cut) to the room left of it, then
    // what tells it apart. A label runs left and down from its group at about 6.5 px a
    // character once rotated.
    let labels: Vec<Vec<String>> = b
        .groups
        .iter()
        .enumerate()
        .map(|(i, (label, _))| {
            let cx = x_left + slot * (i as f64 + 0.5);
            let room = ((cx - 4.0) / 6.5).floor().clamp(8.0, 48.0) as usize;
            let (first, second) = label.split_once('\n').unwrap_or((label, ""));
            let mut lines = wrap(first, room);
            let fit = max_lines - usize::from(!second.is_empty());
            if lines.len() > fit {
                // More than fits even so (a name longer than 2 lines of a crowded chart): the
                // last line that fits keeps the name's end.
                let rest: String = lines[fit - 1..].concat();
                lines.truncate(fit - 1);
                lines.push(shorten(&rest, room));
            }
            if !second.is_empty() {
                lines.push(second.to_string());
            }
            lines
        })
        .collect();
    // Lines past the first need room above the legend.
    let more = labels.iter().map(|l| l.len()).max().unwrap_or(1).max(1) - 1;
    let extra = if more > 0 {
        26.0 + 14.0 * more as f64
    } else {
        0.0
    };
    let height = 380.0 + extra;
    let mut svg = header_sized(width, height, b.title);
    let (y_top, y_bottom) = (TOP + 20.0, height - 110.0 - extra);
    let _ = writeln!(
        svg,
        "<text x=\"{x_left}\" y=\"26\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        xml_escape(b.title)
    );
    let max = b
        .groups
        .iter()
        .flat_map(|g| g.1.iter().flatten())
        .fold(0.0f64, |a, &v| a.max(v));
    let ticks = linear_ticks(if max > 0.0 { max * 1.15 } else { 1.0 });
    let top = *ticks.last().expect("ticks");
    let y = |v: f64| y_bottom - (v / top).clamp(0.0, 1.0) * (y_bottom - y_top);
    for &t in &ticks {
        let _ = writeln!(
            svg,
            "<line x1=\"{x_left}\" x2=\"{x_right}\" y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#e3e3e3\"/>\
             <text x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\">{3}</text>",
            y(t),
            x_left - 6.0,
            y(t) + 4.0,
            (b.axis)(t)
        );
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{x_left}\" x2=\"{x_right}\" y1=\"{y_bottom}\" y2=\"{y_bottom}\" stroke=\"#555\"/>\
         <text transform=\"translate(18,{:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        (y_top + y_bottom) / 2.0,
        xml_escape(b.y_label)
    );
    if b.groups.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            width / 2.0,
            (y_top + y_bottom) / 2.0,
            xml_escape(b.empty)
        );
    }
    let bar = (slot * 0.35).min(60.0);
    for (i, ((_, values), lines)) in b.groups.iter().zip(&labels).enumerate() {
        let cx = x_left + slot * (i as f64 + 0.5);
        for (k, (v, (_, color))) in values.iter().zip(b.series).enumerate() {
            let bx = cx - bar + k as f64 * bar;
            let Some(v) = v else { continue };
            let style = if b.projected.get(i).is_some_and(|p| p[k]) {
                format!(
                    "fill=\"{color}\" fill-opacity=\"0.35\" stroke=\"{color}\" \
                     stroke-dasharray=\"4 3\""
                )
            } else {
                format!("fill=\"{color}\"")
            };
            let _ = writeln!(
                svg,
                "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" {style}/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                y(*v),
                bar - 2.0,
                (y_bottom - y(*v)).max(0.5),
                bx + bar / 2.0 - 1.0,
                y(*v) - 4.0,
                (b.value)(*v)
            );
        }
        // The name's lines, then (in grey) what tells the group apart.
        let detail = b.groups[i].0.contains('\n');
        let tspans: String = lines
            .iter()
            .enumerate()
            .map(|(k, line)| {
                let style = if detail && k + 1 == lines.len() {
                    " font-size=\"11\" fill=\"#555\""
                } else {
                    ""
                };
                let dy = if k == 0 { 0 } else { 14 };
                format!(
                    "<tspan x=\"0\" dy=\"{dy}\"{style}>{}</tspan>",
                    xml_escape(line)
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            "<text transform=\"translate({cx:.1},{:.1}) rotate(-25)\" text-anchor=\"end\">{tspans}</text>",
            y_bottom + 16.0,
        );
    }
    let ly = height - 18.0;
    let mut lx = x_left;
    for (name, color) in b.series {
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"{}\" width=\"14\" height=\"10\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"{ly}\">{}</text>",
            ly - 9.0,
            lx + 20.0,
            xml_escape(name)
        );
        lx += 30.0 + 7.0 * name.len() as f64;
    }
    if b.projected.iter().flatten().any(|p| *p) {
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"{}\" width=\"14\" height=\"10\" fill=\"#888\" \
             fill-opacity=\"0.35\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{}\" y=\"{ly}\">projected by the envelope engine (the other side observed)</text>",
            ly - 9.0,
            lx + 20.0
        );
    }
    svg.push_str("</svg>\n");
    Chart {
        title: b.title.into(),
        svg,
    }
}

/// The font PNG charts are drawn with, bundled so no system font is needed (DejaVu Sans; its
/// license is beside it in `fonts/`).
const FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// Rasterizes a chart's SVG to PNG, at twice its size for sharp text.
pub fn png(chart: &Chart) -> Result<Vec<u8>, super::RenderError> {
    use resvg::{tiny_skia, usvg};
    let mut options = usvg::Options {
        font_family: "DejaVu Sans".into(),
        ..usvg::Options::default()
    };
    let fonts = options.fontdb_mut();
    fonts.load_font_data(FONT.to_vec());
    // Every generic family is the bundled font: there is no other.
    fonts.set_sans_serif_family("DejaVu Sans");
    fonts.set_serif_family("DejaVu Sans");
    fonts.set_monospace_family("DejaVu Sans");
    let failed = |e: &dyn std::fmt::Display| super::RenderError::Chart(e.to_string());
    let tree = usvg::Tree::from_str(&chart.svg, &options).map_err(|e| failed(&e))?;
    const SCALE: u32 = 2;
    let size = tree.size().to_int_size();
    let (w, h) = (size.width() * SCALE, size.height() * SCALE);
    let mut pixmap = tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| failed(&format!("a chart of {w}x{h} pixels cannot be drawn")))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(SCALE as f32, SCALE as f32),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| failed(&e))
}

/// A chart as the bytes of FILE: PNG for `.png`, else SVG.
pub fn encode(chart: &Chart, path: &std::path::Path) -> Result<Vec<u8>, super::RenderError> {
    let png_ext = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if png_ext {
        png(chart)
    } else {
        Ok(chart.svg.clone().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crowded_chart_names_every_bucket_whole() {
        let buckets: Vec<Counterpart> = (0..12)
            .map(|i| Counterpart {
                account: "111122223333".into(),
                bucket: format!("analytics-prod-eu-west-1-raw-landing-zone-number-{i:02}"),
                bucket_keys: if i % 2 == 0 { "on" } else { "off" },
                objects: 10,
                with_bucket_keys: 0.1,
                without_bucket_keys: 2.0,
                calls_with_bucket_keys: 1,
                calls_without_bucket_keys: 20,
                without_is_lower_bound: false,
            })
            .collect();
        let chart = calls_per_object(&buckets);
        if let Some(path) = std::env::var_os("KEYTRAIL_CHART_OUT") {
            std::fs::write(path, png(&chart).unwrap()).unwrap();
        }
        let labels: Vec<String> = chart
            .svg
            .lines()
            .filter(|l| l.contains("rotate(-25)"))
            .map(|l| {
                l.split("<tspan")
                    .skip(1)
                    .map(|t| &t[t.find('>').unwrap() + 1..t.find("</tspan>").unwrap()])
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        assert_eq!(labels.len(), 12);
        for (b, label) in buckets.iter().zip(&labels) {
            let lines: Vec<&str> = label.split('|').collect();
            let (name, detail) = lines.split_at(lines.len() - 1);
            assert_eq!(name.concat(), b.bucket, "{label}");
            assert_eq!(detail[0], format!("keys {}", b.bucket_keys));
        }
    }

    #[test]
    fn long_labels_are_wrapped_whole() {
        assert_eq!(wrap("short", 10), ["short"]);
        let name = "datalake-analytics-prod-eu-west-1-raw";
        let lines = wrap(name, 20);
        assert_eq!(lines, ["datalake-analytics-", "prod-eu-west-1-raw"]);
        assert_eq!(lines.concat(), name);
        let plain = "a".repeat(25);
        assert_eq!(wrap(&plain, 10).concat(), plain);
        assert!(wrap(&plain, 10).iter().all(|l| l.chars().count() <= 10));
        assert_eq!(dollars(1.5), "$1.50");
        assert_eq!(dollars(0.004), "$0.0040");
        assert_eq!(dollars(12_500.0), "$12.5k");
    }

    #[test]
    fn ticks_and_bins_are_round_and_keep_peaks() {
        assert_eq!(linear_ticks(9.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(short(100_000.0), "100k");
        assert_eq!(short(2500.0), "2.5k");
        let (w, pts) = bin(&[(5, 3), (6, 9), (1000, 2)], 0, 1440);
        assert_eq!(w, 2);
        assert_eq!(pts.len(), 720);
        assert_eq!(pts[3], (6, 9));
        assert_eq!(pts[500], (1000, 2));
        assert_eq!(time_step(60), 10);
    }

    /// Without a font, text would rasterize to nothing: the bundled one must draw it.
    #[test]
    fn png_text_is_drawn_with_the_bundled_font() {
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"50\" \
                   font-family=\"Helvetica, sans-serif\"><rect width=\"100%\" height=\"100%\" \
                   fill=\"white\"/><text x=\"10\" y=\"35\" font-size=\"24\">keytrail</text></svg>";
        let chart = Chart {
            title: String::new(),
            svg: svg.into(),
        };
        let png = png(&chart).unwrap();
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!((pixmap.width(), pixmap.height()), (400, 100));
        let inked = pixmap.pixels().iter().filter(|p| p.red() < 128).count();
        assert!(
            inked > 500,
            "only {inked} dark pixels: the text was not drawn"
        );
    }
}
