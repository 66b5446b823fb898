//! Alerts pane: newest first, with severity symbol, time and the order concerned.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::{alert_total, fmt, pane, put, put_clipped, width, wrap};
use crate::console::app::App;
use crate::console::state::{format_ts, AlertSource};
use crate::protocol::Severity;

/// Most lines the newest alert may take (it wraps so its whole message,
/// e.g. a refusal reason, can be read).
const NEWEST_LINES: usize = 4;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let state = app.shown();
    let mut s = String::new();
    let title = fmt(&mut s, format_args!(" Alerts ({}) ", alert_total(state))).to_string();
    let inner = pane(t, &title, false, area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let end = inner.x + inner.width;
    let bottom = inner.y + inner.height;
    let mut y = inner.y;
    for (i, a) in state.alerts.iter_newest_first().enumerate() {
        if y >= bottom {
            break;
        }
        let (sym, color) = match a.severity {
            Severity::Info => ("ℹ", t.accent),
            Severity::Warning => ("⚠", t.warn),
            Severity::Critical => ("✖", t.critical),
        };
        let mut x = inner.x;
        let sev_style = Style::default().fg(color).add_modifier(Modifier::BOLD);
        x = put(buf, x, y, sym, end.saturating_sub(x), sev_style) + 1;
        // A narrow pane keeps its cells for what happened, not when.
        if inner.width >= 30 {
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
        }
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
        let msg_style = Style::default().fg(t.fg);
        let room = end.saturating_sub(x);
        // The newest alert wraps onto a few indented lines; older ones keep
        // to one line and show where they are cut.
        let spare_rows = (bottom - y - 1) as usize;
        let extra = if i == 0 {
            (NEWEST_LINES - 1).min(spare_rows.saturating_sub(2))
        } else {
            0
        };
        if extra == 0 || width(&a.message) <= room {
            put_clipped(buf, x, y, &a.message, room, msg_style);
            y += 1;
            continue;
        }
        let indent_w = inner.width.saturating_sub(2);
        // Too little room after the code: the message starts on its own line.
        let (first_w, extra) = if room >= 8 {
            (room, extra)
        } else {
            y += 1;
            (indent_w, extra - 1)
        };
        let lines = wrap(&a.message, first_w, indent_w);
        let shown = lines.len().min(extra + 1);
        for (k, line) in lines.iter().take(shown).enumerate() {
            let (lx, lw) = if k == 0 && room >= 8 {
                (x, room)
            } else {
                (inner.x + 2, indent_w)
            };
            if k + 1 == shown && shown < lines.len() {
                // Cut: make it visible.
                let w = put(buf, lx, y, line, lw.saturating_sub(1), msg_style);
                put(buf, w, y, "…", 1, msg_style);
            } else {
                put(buf, lx, y, line, lw, msg_style);
            }
            y += 1;
        }
    }
}
