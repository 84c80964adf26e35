//! An aligned text table for a terminal: columns as wide as their widest cell, cut down to
//! the terminal's width when they do not fit, never wrapped.
//!
//! A wrapped row is two half-rows that no longer line up, so when the table is wider than the
//! terminal, cells give up columns instead, in the order the caller ranks them (the command
//! line first, then names, then addresses), each column shrinking only as far as its minimum;
//! a cut cell ends (or, for an address, has in its middle) a `…`. Widths are counted in
//! terminal columns (`unicode-width`), so wide characters line up too.
//!
//! Colour codes come only from here: cells hold text that the caller has already escaped
//! (see [`escape`](crate::model::text::escape)), and a style is written around a cell, never
//! inside it.

use std::io::{self, Write};

use anstyle::Style;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Space between two columns.
const GAP: usize = 2;

/// Where a cut cell loses its characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Keep the start: names and command lines.
    End,
    /// Keep both ends: an address keeps its port.
    Middle,
}

/// One column: its heading and how it gives way when the table is too wide.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub title: &'static str,
    /// `None`: never cut. `Some`: columns of a lower rank are cut first.
    pub shrink: Option<Shrink>,
}

#[derive(Clone, Copy, Debug)]
pub struct Shrink {
    pub rank: u8,
    /// The narrowest it gets; 0 lets the column go entirely.
    pub min: usize,
    pub cut: Cut,
}

/// One cell: escaped text and how to colour it.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub text: String,
    pub style: Style,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: Style::new(),
        }
    }

    pub fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style,
        }
    }
}

/// How to write the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The terminal's width in columns; `None`: no limit (not a terminal).
    pub width: Option<usize>,
    pub header: bool,
    pub color: bool,
}

/// The style of the heading row.
const HEADER: Style = Style::new().bold();

/// Write `rows` under `columns`, aligned, fitted to `layout.width`.
pub fn write_table(
    out: &mut dyn Write,
    columns: &[Column],
    rows: &[Vec<Cell>],
    layout: Layout,
) -> io::Result<()> {
    let mut natural: Vec<usize> = columns
        .iter()
        .map(|c| if layout.header { c.title.width() } else { 0 })
        .collect();
    for row in rows {
        for (w, cell) in natural.iter_mut().zip(row) {
            *w = (*w).max(cell.text.width());
        }
    }
    let widths = match layout.width {
        Some(limit) => fit(&natural, columns, limit),
        None => natural,
    };
    let mut line = String::new();
    if layout.header {
        let titles: Vec<Cell> = columns
            .iter()
            .map(|c| Cell::styled(c.title, HEADER))
            .collect();
        write_row(&mut line, &titles, columns, &widths, layout);
        out.write_all(line.as_bytes())?;
    }
    for row in rows {
        write_row(&mut line, row, columns, &widths, layout);
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// One row into `line` (cleared first), ending in a newline, never wider than the limit.
fn write_row(
    line: &mut String,
    row: &[Cell],
    columns: &[Column],
    widths: &[usize],
    layout: Layout,
) {
    line.clear();
    let last = widths.iter().rposition(|w| *w > 0);
    let mut room = layout.width.unwrap_or(usize::MAX);
    let mut pending_pad = 0;
    for (i, ((cell, column), width)) in row.iter().zip(columns).zip(widths).enumerate() {
        if *width == 0 {
            continue;
        }
        if i > 0 && pending_pad > 0 {
            if room <= pending_pad {
                break;
            }
            line.extend(std::iter::repeat_n(' ', pending_pad));
            room -= pending_pad;
        }
        let width = (*width).min(room);
        let cut = column.shrink.map_or(Cut::End, |s| s.cut);
        let text = elide(&cell.text, width, cut);
        let shown = text.width();
        if layout.color && cell.style != Style::new() && !text.is_empty() {
            line.push_str(&format!(
                "{}{text}{}",
                cell.style.render(),
                cell.style.render_reset()
            ));
        } else {
            line.push_str(&text);
        }
        room -= shown;
        if Some(i) == last {
            break;
        }
        pending_pad = width - shown + GAP;
    }
    line.push('\n');
}

/// Column widths that fit in `limit`: the lowest-ranked shrinkable columns are cut first,
/// the widest of a rank first, each no narrower than its minimum. What still does not fit is
/// cut off at the end of each row.
pub fn fit(natural: &[usize], columns: &[Column], limit: usize) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let mut ranks: Vec<u8> = columns
        .iter()
        .filter_map(|c| c.shrink.map(|s| s.rank))
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    for rank in ranks {
        let total = total_width(&widths);
        if total <= limit {
            break;
        }
        let members: Vec<usize> = (0..columns.len())
            .filter(|i| columns[*i].shrink.is_some_and(|s| s.rank == rank))
            .collect();
        let min = |i: usize| columns[i].shrink.map_or(0, |s| s.min).min(natural[i]);
        // The widest cap on this rank's columns that makes the table fit; 0 when none does.
        let widths_at = |cap: usize, widths: &mut Vec<usize>| {
            for &i in &members {
                widths[i] = natural[i].min(cap).max(min(i));
            }
        };
        let (mut low, mut high) = (0, members.iter().map(|i| natural[*i]).max().unwrap_or(0));
        while low < high {
            let mid = (low + high).div_ceil(2);
            widths_at(mid, &mut widths);
            if total_width(&widths) <= limit {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        widths_at(low, &mut widths);
    }
    widths
}

/// A row's width: the shown columns and the gaps between them.
fn total_width(widths: &[usize]) -> usize {
    let shown = widths.iter().filter(|w| **w > 0).count();
    widths.iter().sum::<usize>() + GAP * shown.saturating_sub(1)
}

/// `text` in at most `width` terminal columns: as it is if it fits, else cut with a `…`.
pub fn elide(text: &str, width: usize, cut: Cut) -> std::borrow::Cow<'_, str> {
    if text.width() <= width {
        return text.into();
    }
    if width == 0 {
        return "".into();
    }
    let room = width - 1;
    match cut {
        Cut::End => {
            let mut out = take_front(text, room).to_owned();
            out.push('…');
            out.into()
        }
        Cut::Middle => {
            let back = take_back(text, room / 2);
            let front = take_front(text, room - back.width());
            format!("{front}…{back}").into()
        }
    }
}

/// The longest start of `text` at most `width` columns wide.
fn take_front(text: &str, width: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += c.width().unwrap_or(0);
        if used > width {
            return &text[..i];
        }
    }
    text
}

/// The longest end of `text` at most `width` columns wide.
fn take_back(text: &str, width: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices().rev() {
        used += c.width().unwrap_or(0);
        if used > width {
            return &text[i + c.len_utf8()..];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 3] = [
        Column {
            title: "PROTO",
            shrink: None,
        },
        Column {
            title: "LOCAL",
            shrink: Some(Shrink {
                rank: 1,
                min: 8,
                cut: Cut::Middle,
            }),
        },
        Column {
            title: "PROCESS",
            shrink: Some(Shrink {
                rank: 0,
                min: 4,
                cut: Cut::End,
            }),
        },
    ];

    fn table(rows: &[[&str; 3]], layout: Layout) -> String {
        let rows: Vec<Vec<Cell>> = rows
            .iter()
            .map(|r| r.iter().map(|t| Cell::plain(*t)).collect())
            .collect();
        let mut out = Vec::new();
        write_table(&mut out, &COLUMNS, &rows, layout).unwrap();
        String::from_utf8(out).unwrap()
    }

    const ROWS: [[&str; 3]; 2] = [
        ["tcp", "127.0.0.1:8080", "python3"],
        ["udp6", "[::1]:53", "a-very-long-process-name"],
    ];

    #[test]
    fn columns_line_up_without_a_limit() {
        let text = table(
            &ROWS,
            Layout {
                width: None,
                header: true,
                color: false,
            },
        );
        assert_eq!(
            text,
            "PROTO  LOCAL           PROCESS\n\
             tcp    127.0.0.1:8080  python3\n\
             udp6   [::1]:53        a-very-long-process-name\n"
        );
    }

    #[test]
    fn a_narrow_terminal_cuts_the_lowest_rank_first_and_never_wraps() {
        let text = table(
            &ROWS,
            Layout {
                width: Some(30),
                header: true,
                color: false,
            },
        );
        assert_eq!(
            text,
            "PROTO  LOCAL           PROCESS\n\
             tcp    127.0.0.1:8080  python3\n\
             udp6   [::1]:53        a-very…\n"
        );
        // Narrower than the process column's minimum: the addresses give way, keeping the
        // port; what still does not fit is cut off at the end of the row.
        let text = table(
            &ROWS,
            Layout {
                width: Some(20),
                header: true,
                color: false,
            },
        );
        assert_eq!(
            text,
            "PROTO  LOCAL     PR…\n\
             tcp    127.…080  py…\n\
             udp6   [::1]:53  a-…\n"
        );
        for width in 0..60 {
            let text = table(
                &ROWS,
                Layout {
                    width: Some(width),
                    header: true,
                    color: false,
                },
            );
            for line in text.lines() {
                assert!(line.width() <= width, "{width}: {line:?}");
            }
        }
    }

    #[test]
    fn the_header_can_be_left_out() {
        let text = table(
            &ROWS,
            Layout {
                width: None,
                header: false,
                color: false,
            },
        );
        assert!(
            text.starts_with("tcp   127.0.0.1:8080  python3\n"),
            "{text}"
        );
    }

    #[test]
    fn colour_wraps_whole_cells_and_padding_stays_plain() {
        let rows = vec![vec![
            Cell::plain("tcp"),
            Cell::styled("x", Style::new().bold()),
            Cell::plain("p"),
        ]];
        let mut out = Vec::new();
        let layout = Layout {
            width: None,
            header: false,
            color: true,
        };
        write_table(&mut out, &COLUMNS, &rows, layout).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "tcp  \x1b[1mx\x1b[0m  p\n");
        let mut out = Vec::new();
        let layout = Layout {
            color: false,
            ..layout
        };
        write_table(&mut out, &COLUMNS, &rows, layout).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "tcp  x  p\n");
    }

    #[test]
    fn elision_counts_terminal_columns() {
        assert_eq!(elide("abcdef", 6, Cut::End), "abcdef");
        assert_eq!(elide("abcdef", 4, Cut::End), "abc…");
        assert_eq!(elide("abcdef", 4, Cut::Middle), "ab…f");
        assert_eq!(elide("[2001:db8::1]:443", 10, Cut::Middle), "[2001…:443");
        // Wide characters take two columns each and are never split.
        assert_eq!(elide("日本語テキスト", 6, Cut::End), "日本…");
        assert_eq!(elide("abc", 0, Cut::End), "");
        assert_eq!(elide("abc", 1, Cut::End), "…");
    }
}
