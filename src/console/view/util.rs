//! Small drawing helpers shared by the panes.

use std::fmt::Write as _;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, BorderType, Borders, Widget};

use crate::console::theme::Theme;

/// Write `text` at (x, y), clipped to `max` cells; returns the x after it.
pub fn put(buf: &mut Buffer, x: u16, y: u16, text: &str, max: u16, style: Style) -> u16 {
    if max == 0 {
        return x;
    }
    buf.set_stringn(x, y, text, max as usize, style).0
}

/// Display width of `text` in terminal cells.
pub fn width(text: &str) -> u16 {
    ratatui::text::Span::raw(text)
        .width()
        .min(u16::MAX as usize) as u16
}

/// Like `put`, but a text cut short ends in `…` so the cut is visible.
pub fn put_clipped(buf: &mut Buffer, x: u16, y: u16, text: &str, max: u16, style: Style) -> u16 {
    if max == 0 {
        return x;
    }
    if width(text) <= max {
        return put(buf, x, y, text, max, style);
    }
    let x = put(buf, x, y, text, max - 1, style);
    put(buf, x, y, "…", 1, style)
}

/// Split `text` into lines of at most `first` cells for the first line and
/// `rest` after it, breaking at spaces when possible (a word longer than a
/// line is cut).
pub fn wrap(text: &str, first: u16, rest: u16) -> Vec<String> {
    let mut max = first.max(1) as usize;
    let rest = rest.max(1) as usize;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut line_w = 0usize;
    for word in text.split(' ') {
        let mut word = word;
        loop {
            let ww = width(word) as usize;
            let sep = usize::from(!line.is_empty());
            if line_w + sep + ww <= max {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(word);
                line_w += sep + ww;
                break;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_w = 0;
                max = rest;
                continue;
            }
            // A single word wider than the line: cut it.
            let mut cut = 0;
            let mut w = 0usize;
            for (i, c) in word.char_indices() {
                let cw = width(c.encode_utf8(&mut [0u8; 4])) as usize;
                if w + cw > max {
                    break;
                }
                w += cw;
                cut = i + c.len_utf8();
            }
            if cut == 0 {
                break;
            }
            lines.push(word[..cut].to_string());
            max = rest;
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Alerts to report: every engine alert of the session plus the console's own
/// (refused commands, stale data, gaps). Header and alerts pane show this one number.
pub fn alert_total(state: &crate::console::state::ConsoleState) -> u64 {
    use crate::console::state::AlertSource;
    let console = state
        .alerts
        .iter_newest_first()
        .filter(|a| a.source == AlertSource::Console)
        .count() as u64;
    state.view.alert_count + console
}

/// Write `text` right-aligned inside a cell of `width` starting at x.
pub fn put_right(buf: &mut Buffer, x: u16, y: u16, text: &str, width: u16, style: Style) {
    let len = text.chars().count() as u16;
    let start = x + width.saturating_sub(len);
    put(buf, start, y, text, width, style);
}

/// Format into a reused scratch string (avoids an allocation per cell).
pub fn fmt<'a>(scratch: &'a mut String, args: std::fmt::Arguments<'_>) -> &'a str {
    scratch.clear();
    let _ = scratch.write_fmt(args);
    scratch.as_str()
}

/// A bordered pane; the title is highlighted when the pane has focus.
pub fn pane(theme: &Theme, title: &str, focused: bool, area: Rect, buf: &mut Buffer) -> Rect {
    let border = if focused { theme.accent } else { theme.border };
    let title_style = if focused {
        Style::default()
            .fg(theme.accent)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default().fg(theme.fg).add_modifier(Modifier::BOLD)
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(border))
        .title(title.to_string())
        .title_style(title_style);
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// Eight-level vertical bar for a value in 0..=1.
pub fn level_bar(x: f32) -> char {
    const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    BARS[((x.clamp(0.0, 1.0) * 8.0).round() as usize).min(8)]
}

/// Decimal places for an instrument (defaults when unknown).
pub fn decimals(state: &crate::console::state::ConsoleState, symbol: &str) -> (usize, usize) {
    state.view.instrument(symbol).map_or((2, 0), |i| {
        (i.price_decimals as usize, i.qty_decimals as usize)
    })
}
