//! Pure rendering: `view(&App, &mut Frame)` draws the whole screen from the
//! app state and nothing else. Panes write straight into the buffer and only
//! touch visible rows, so a frame costs the same with 10 or 10,000 orders.

mod alerts;
mod blotter;
mod detail;
mod footer;
mod header;
mod overlays;
mod shadow;
mod util;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::Frame;

use super::app::{App, Focus};

/// Width the blotter needs to show every column.
const BLOTTER_FULL: u16 = 120;

/// The alerts pane takes 28% of the width, less (down to 25%) when that
/// lets the blotter keep all its columns.
fn alerts_width(total: u16) -> u16 {
    let share = total * 28 / 100;
    if total.saturating_sub(share) >= BLOTTER_FULL {
        share
    } else {
        (total * 25 / 100)
            .max(total.saturating_sub(BLOTTER_FULL))
            .min(share)
    }
}

/// Draw the console into a frame.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    render(app, area, frame.buffer_mut());
}

/// Draw the console into any buffer (used by `view`, tests and benches).
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    buf.set_style(area, Style::default().fg(theme.fg).bg(theme.bg));
    let banners = header::banner_count(app);
    let [head, banner_area, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banners),
        Constraint::Min(4),
        Constraint::Length(footer::height(app, area.width)),
    ])
    .areas(area);
    header::render(app, head, buf);
    header::render_banners(app, banner_area, buf);

    let blotter_share = if app.focus == Focus::Detail { 30 } else { 45 };
    let [top, bottom] = Layout::vertical([
        Constraint::Percentage(blotter_share),
        Constraint::Percentage(100 - blotter_share),
    ])
    .areas(body);
    let [blotter_area, alerts_area] = Layout::horizontal([
        Constraint::Min(60),
        Constraint::Length(alerts_width(top.width)),
    ])
    .areas(top);
    let rows = app.visible_orders();
    blotter::render(app, &rows, blotter_area, buf);
    alerts::render(app, alerts_area, buf);
    let selected = app
        .selected_index(&rows)
        .map(|p| &app.shown().view.orders[rows[p]]);
    detail::render(app, selected, bottom, buf);
    footer::render(app, foot, buf);
    overlays::render(app, area, buf);
}
