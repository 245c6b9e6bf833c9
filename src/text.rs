//! How numbers are written for people: ratios, percentages, dollars, thousands separators.
//! Shared by the reports' messages (`check`) and the renderers.

/// A ratio as printed in text formats.
pub fn format_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 100.0 => format!("{r:.0}"),
        Some(r) if r >= 0.01 || r <= 0.0 => format!("{r:.3}"),
        // Small ratios keep three significant digits in plain notation (0.00451, never 4.51e-3).
        Some(r) => {
            let decimals = ((-r.log10()).floor() as usize + 3).min(12);
            format!("{r:.decimals$}")
        }
        None => "-".to_string(),
    }
}

/// A share as printed: two decimals, more below a hundredth of a percent.
pub fn format_percent(v: f64) -> String {
    let p = v * 100.0;
    if p != 0.0 && p.abs() < 0.01 {
        let decimals = ((-p.abs().log10()).floor() as usize + 2).min(12);
        format!("{p:.decimals$} %")
    } else {
        format!("{p:.2} %")
    }
}

/// Dollars as printed: cents, or more digits below a cent so small figures do not read as 0.
pub fn format_usd(v: f64) -> String {
    let v = if v == 0.0 { 0.0 } else { v }; // no "-0.00"
    if v != 0.0 && v.abs() < 0.01 {
        format!("${v:.4}")
    } else {
        format!("${}", thousands(&format!("{v:.2}")))
    }
}

/// Dollars as JSON, CSV and Parquet carry them: rounded to six decimals, a millionth of a
/// dollar (one KMS request costs $0.000003), so a figure reads `6.97009`, never
/// `6.970089999999999`.
pub fn round_usd(v: f64) -> f64 {
    let r = (v * 1e6).round() / 1e6;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// A multiplier as printed: three significant digits below 100 (`x 0.0152`, `x 720`).
pub fn format_factor(f: f64) -> String {
    if f >= 100.0 || f == 0.0 {
        format!("{f:.0}")
    } else {
        let decimals = (2 - f.abs().log10().floor() as i64).clamp(0, 12) as usize;
        format!("{f:.decimals$}")
    }
}

/// Groups the integer digits of a formatted number by thousands: `1234567.50` -> `1,234,567.50`.
pub fn thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A TOML error on one line, `line L, column C: message` (toml's own text draws the line over
/// several, which a terminal message should not).
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let at = e.span().map_or(0, |s| s.start).min(text.len());
    let line = text[..at].matches('\n').count() + 1;
    let column = text[..at]
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        + 1;
    format!("line {line}, column {column}: {}", e.message().trim())
}

#[cfg(test)]
mod plain_notation {
    use super::*;

    #[test]
    fn small_ratios_and_shares_print_in_plain_notation() {
        assert_eq!(format_ratio(Some(0.00451)), "0.00451");
        assert_eq!(format_ratio(Some(0.000012)), "0.0000120");
        assert_eq!(format_ratio(Some(0.5)), "0.500");
        assert_eq!(format_ratio(Some(0.0)), "0.000");
        assert_eq!(format_percent(0.0000123), "0.0012 %");
        assert_eq!(format_factor(720.0), "720");
        assert_eq!(format_factor(0.0152), "0.0152");
        assert_eq!(format_factor(12.5), "12.5");
        assert_eq!(round_usd(6.970089999999999), 6.97009);
        assert_eq!(round_usd(-0.0000001), 0.0);
        for r in [3e-7, 0.0099, 1e-12] {
            assert!(!format_ratio(Some(r)).contains('e'), "{r}");
            assert!(!format_percent(r).contains('e'), "{r}");
        }
    }
}
