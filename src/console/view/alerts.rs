//! Alerts pane: newest first, with severity symbol, time and the order concerned.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::{fmt, pane, put};
use crate::console::app::App;
use crate::console::state::{format_ts, AlertSource};
use crate::protocol::Severity;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let state = app.shown();
    let mut s = String::new();
    let title = fmt(&mut s, format_args!(" Alerts ({}) ", state.alerts.len())).to_string();
    let inner = pane(t, &title, false, area, buf);
    let end = inner.x + inner.width;
    for (i, a) in state
        .alerts
        .iter_newest_first()
        .take(inner.height as usize)
        .enumerate()
    {
        let y = inner.y + i as u16;
        let (sym, color) = match a.severity {
            Severity::Info => ("ℹ", t.accent),
            Severity::Warning => ("⚠", t.warn),
            Severity::Critical => ("✖", t.critical),
        };
        let mut x = inner.x;
        let sev_style = Style::default().fg(color).add_modifier(Modifier::BOLD);
        x = put(buf, x, y, sym, end.saturating_sub(x), sev_style) + 1;
        let time = a.ts.map(format_ts);
        let time = time.as_deref().map_or("--:--:--", |t| &t[..8]);
        x = put(
            buf,
            x,
            y,
            time,
            end.saturating_sub(x),
            Style::default().fg(t.dim),
        ) + 1;
        if let Some(order) = &a.order_id {
            x = put(
                buf,
                x,
                y,
                order,
                end.saturating_sub(x),
                Style::default().fg(t.accent),
            ) + 1;
        }
        let code_style = match a.source {
            AlertSource::Engine => Style::default().fg(color),
            AlertSource::Console => Style::default().fg(color).add_modifier(Modifier::ITALIC),
        };
        x = put(buf, x, y, &a.code, end.saturating_sub(x), code_style) + 1;
        put(
            buf,
            x,
            y,
            &a.message,
            end.saturating_sub(x),
            Style::default().fg(t.fg),
        );
    }
}
