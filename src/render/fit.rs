//! The terminal table: comfy-table's box drawing, fitted to a width. Columns are left out least
//! important first until the table fits (the rest of the report says which, and `--wide`
//! shows them); cells wrap only when even the essential columns are too wide. Notes wrap at
//! spaces.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement};
use unicode_width::UnicodeWidthStr;

/// How the text formats lay a report out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// Fit tables and notes to this many columns (a terminal's width); `None`: no limit.
    pub width: Option<usize>,
}

/// The narrowest width a table is fitted to: below it, tables keep their essential columns and
/// wrap their cells.
pub const MIN_WIDTH: usize = 40;

/// One column of a text table, already formatted.
pub struct TextCol<'a> {
    pub header: &'a str,
    pub cells: Vec<String>,
    pub numeric: bool,
}

/// Width of a table of columns this wide, as [`UTF8_FULL_CONDENSED`] draws it: a border, then
/// for each column a space, its content, a space and a separator.
fn drawn_width(widths: impl Iterator<Item = usize>) -> usize {
    1 + widths.map(|w| w + 3).sum::<usize>()
}

/// Which columns to keep so the table is at most `width` wide: the least important go first
/// (`importance` lists column indices, most important first; columns it leaves out are less
/// important than those it names, the rightmost least), never the first `essential` of them.
pub fn keep(widths: &[usize], importance: &[usize], essential: usize, width: usize) -> Vec<bool> {
    let mut order: Vec<usize> = importance
        .iter()
        .copied()
        .filter(|&i| i < widths.len())
        .collect();
    order.extend((0..widths.len()).filter(|i| !importance.contains(i)));
    let mut kept = vec![true; widths.len()];
    let mut total = drawn_width(widths.iter().copied());
    for &i in order.iter().skip(essential.max(1)).rev() {
        if total <= width {
            break;
        }
        kept[i] = false;
        total -= widths[i] + 3;
    }
    kept
}

/// The table, fitted to `layout`, and a line naming the columns left out, if any.
pub fn table(
    cols: &[TextCol<'_>],
    importance: &[usize],
    essential: usize,
    layout: Layout,
) -> String {
    let widths: Vec<usize> = cols
        .iter()
        .map(|c| {
            c.cells
                .iter()
                .map(|s| s.width())
                .chain([c.header.width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let kept = match layout.width {
        Some(w) => keep(&widths, importance, essential, w.max(MIN_WIDTH)),
        None => vec![true; cols.len()],
    };
    let shown: Vec<&TextCol> = cols
        .iter()
        .zip(&kept)
        .filter(|(_, k)| **k)
        .map(|(c, _)| c)
        .collect();
    let mut table = comfy_table::Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_header(shown.iter().map(|c| c.header));
    match layout.width {
        Some(w)
            if drawn_width(
                widths
                    .iter()
                    .zip(&kept)
                    .filter(|(_, k)| **k)
                    .map(|(w, _)| *w),
            ) > w =>
        {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(u16::try_from(w.max(MIN_WIDTH)).unwrap_or(u16::MAX));
        }
        _ => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    let rows = cols.first().map_or(0, |c| c.cells.len());
    for r in 0..rows {
        table.add_row(shown.iter().map(|c| c.cells[r].as_str()));
    }
    for (i, c) in shown.iter().enumerate() {
        if c.numeric {
            if let Some(col) = table.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    let mut out = format!("{table}\n");
    let left_out: Vec<&str> = cols
        .iter()
        .zip(&kept)
        .filter(|(_, k)| !**k)
        .map(|(c, _)| c.header)
        .collect();
    if let (false, Some(w)) = (left_out.is_empty(), layout.width) {
        out.push_str(&wrap(
            &format!(
                "(left out to fit {w} columns: {}; --wide shows {})",
                left_out.join(", "),
                if left_out.len() == 1 { "it" } else { "them" }
            ),
            Some(w),
        ));
    }
    out
}

/// `line` wrapped at spaces to `width` (continuation lines indented by two spaces more than
/// the first), with a newline after each; as is when there is no width.
pub fn wrap(line: &str, width: Option<usize>) -> String {
    let Some(width) = width.map(|w| w.max(MIN_WIDTH)) else {
        return format!("{line}\n");
    };
    let indent = line.len() - line.trim_start_matches(' ').len() + 2;
    let mut out = String::new();
    let mut current = String::new();
    for word in line.trim_start_matches(' ').split(' ') {
        let at = if out.is_empty() { indent - 2 } else { indent };
        if current.is_empty() {
            current = format!("{}{word}", " ".repeat(at));
        } else if current.width() + 1 + word.width() <= width {
            current.push(' ');
            current.push_str(word);
        } else {
            out.push_str(&current);
            out.push('\n');
            current = format!("{}{word}", " ".repeat(indent));
        }
    }
    out.push_str(&current);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<TextCol<'static>> {
        ["bucket", "mode", "Put", "objects", "KMS/object"]
            .into_iter()
            .map(|h| TextCol {
                header: h,
                cells: vec!["x".repeat(h.len() + 4)],
                numeric: h != "bucket",
            })
            .collect()
    }

    #[test]
    fn the_least_important_columns_go_first_and_the_essential_ones_stay() {
        // widths 10, 8, 7, 11, 14: drawn 1 + 13 + 11 + 10 + 14 + 17 = 66
        let w = [10, 8, 7, 11, 14];
        assert_eq!(keep(&w, &[0, 4], 1, 66), vec![true; 5]);
        // Unnamed columns go from the right: objects (14) first, then Put, then mode.
        assert_eq!(keep(&w, &[0, 4], 1, 60), [true, true, true, false, true]);
        assert_eq!(keep(&w, &[0, 4], 1, 45), [true, true, false, false, true]);
        assert_eq!(keep(&w, &[0, 4], 2, 10), [true, false, false, false, true]);
    }

    #[test]
    fn a_fitted_table_is_no_wider_than_asked_and_names_what_it_left_out() {
        let cols = cols();
        let full = table(&cols, &[0, 4], 2, Layout::default());
        let fitted = table(&cols, &[0, 4], 2, Layout { width: Some(45) });
        assert!(full.lines().next().unwrap().width() > 45, "{full}");
        for line in fitted.lines() {
            assert!(line.width() <= 45, "{line:?} in\n{fitted}");
        }
        assert!(
            fitted.contains("KMS/object") && !fitted.contains(" Put "),
            "{fitted}"
        );
        let note = fitted.replace("\n  ", " ");
        assert!(
            note.contains("(left out to fit 45 columns: Put, objects; --wide shows them)"),
            "{fitted}"
        );
        // Too narrow for the essential columns: their cells wrap.
        let wide_cells = vec![TextCol {
            header: "key",
            cells: vec!["arn:aws:kms:us-east-1:111122223333:key/0123 4567 89ab cdef".into()],
            numeric: false,
        }];
        let wrapped = table(&wide_cells, &[0], 1, Layout { width: Some(40) });
        for line in wrapped.lines() {
            assert!(line.width() <= 40, "{line:?} in\n{wrapped}");
        }
    }

    #[test]
    fn notes_wrap_at_spaces_and_keep_their_indent() {
        let line = "  filtered out: other_service 136, event_time_not_asked_for 12, \
                    cloudtrail_log_encryption 1";
        let w = wrap(line, Some(40));
        assert_eq!(
            w,
            "  filtered out: other_service 136,\n    event_time_not_asked_for 12,\n    \
             cloudtrail_log_encryption 1\n"
        );
        assert_eq!(wrap(line, None), format!("{line}\n"));
        // A word longer than the width stays whole on its own line.
        let long = format!("see {}", "x".repeat(50));
        assert_eq!(
            wrap(&long, Some(40)),
            format!("see\n  {}\n", "x".repeat(50))
        );
    }
}
