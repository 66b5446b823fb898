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
