//! The blotter: one row per parent order, only the visible window drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::{decimals, fmt, pane, put, put_right};
use crate::console::app::{state_label, App, Focus};
use crate::protocol::view::OrderView;
use crate::protocol::{OrderState, Side};

/// (title, width) of each column; the progress bar takes what is left.
const COLUMNS: [(&str, u16); 14] = [
    ("ID", 7),
    ("SYM", 6),
    ("SIDE", 4),
    ("QTY", 8),
    ("FILL%", 5),
    ("PROGRESS", 0),
    ("SCHED", 6),
    ("AVG PX", 9),
    ("SLIP", 6),
    ("STRATEGY", 9),
    ("STATE", 11),
    ("LAST ACT", 10),
    ("CONF", 4),
    ("FLAGS", 6),
];
const BAR_MIN: u16 = 6;
const BAR_MAX: u16 = 30;

fn widths(total: u16) -> [u16; 14] {
    let fixed: u16 = COLUMNS.iter().map(|c| c.1 + 1).sum::<u16>() + 1;
    let bar = total.saturating_sub(fixed).clamp(BAR_MIN, BAR_MAX);
    let mut w = [0; 14];
    for (i, c) in COLUMNS.iter().enumerate() {
        w[i] = if c.1 == 0 { bar } else { c.1 };
    }
    w
}

pub fn render(app: &App, rows: &[usize], area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let state = app.shown();
    let mut s = String::new();
    let title = fmt(
        &mut s,
        format_args!(
            " Orders {}/{} · sort {}{}{} ",
            rows.len(),
            state.view.orders.len(),
            app.sort.label(),
            if app.filter.is_empty() {
                ""
            } else {
                " · filter "
            },
            app.filter
        ),
    )
    .to_string();
    let inner = pane(t, &title, app.focus == Focus::Blotter, area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let w = widths(inner.width);
    let head = Style::default().fg(t.dim).add_modifier(Modifier::BOLD);
    let mut x = inner.x + 1;
    let end = inner.x + inner.width;
    for (i, (name, _)) in COLUMNS.iter().enumerate() {
        put(buf, x, inner.y, name, w[i].min(end.saturating_sub(x)), head);
        x += w[i] + 1;
        if x >= end {
            break;
        }
    }
    let body_h = inner.height.saturating_sub(1) as usize;
    if body_h == 0 {
        return;
    }
    if rows.is_empty() {
        let msg = if state.view.orders.is_empty() {
            "no parent orders yet"
        } else {
            "no order matches the filter (/ to change, Esc to clear)"
        };
        put(
            buf,
            inner.x + 1,
            inner.y + 1,
            msg,
            inner.width - 1,
            Style::default().fg(t.dim),
        );
        return;
    }
    let selected = app.selected_index(rows).unwrap_or(0);
    // Keep the selected row in view, centred once the list scrolls.
    let first = selected
        .saturating_sub(body_h / 2)
        .min(rows.len().saturating_sub(body_h));
    for (line, &idx) in rows[first..].iter().take(body_h).enumerate() {
        let y = inner.y + 1 + line as u16;
        let order = &state.view.orders[idx];
        let is_selected = first + line == selected;
        draw_row(
            app,
            order,
            is_selected,
            &w,
            Rect::new(inner.x, y, inner.width, 1),
            buf,
            &mut s,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_row(
    app: &App,
    o: &OrderView,
    selected: bool,
    w: &[u16; 14],
    row: Rect,
    buf: &mut Buffer,
    s: &mut String,
) {
    let t = &app.theme;
    let state = app.shown();
    let mut base = Style::default().fg(t.fg);
    match o.state {
        OrderState::Paused => base = base.fg(t.paused).add_modifier(Modifier::ITALIC),
        st if st.is_terminal() => base = base.fg(t.done),
        _ => {}
    }
    if selected {
        base = base.bg(t.selected_bg).add_modifier(Modifier::BOLD);
        buf.set_style(row, base);
    }
    let (pd, qd) = decimals(state, &o.info.symbol);
    let y = row.y;
    let end = row.x + row.width;
    let mut x = row.x;
    put(
        buf,
        x,
        y,
        if selected { "▶" } else { " " },
        1,
        base.fg(t.accent),
    );
    x += 1;
    let mut col = 0usize;
    // Advance to the next column, returning its start and width (0 when off-screen).
    let mut next = |x: &mut u16| -> (u16, u16) {
        let start = *x;
        let width = w[col].min(end.saturating_sub(start));
        *x = start.saturating_add(w[col] + 1);
        col += 1;
        (start, width)
    };

    let (cx, cw) = next(&mut x);
    put(buf, cx, y, &o.info.order_id, cw, base);
    let (cx, cw) = next(&mut x);
    put(buf, cx, y, &o.info.symbol, cw, base);
    let (cx, cw) = next(&mut x);
    let (side, side_color) = match o.info.side {
        Side::Buy => ("BUY", t.buy),
        Side::Sell => ("SELL", t.sell),
    };
    put(buf, cx, y, side, cw, base.fg(side_color));
    let (cx, cw) = next(&mut x);
    put_right(
        buf,
        cx,
        y,
        fmt(s, format_args!("{:.*}", qd, o.info.qty)),
        cw,
        base,
    );
    let (cx, cw) = next(&mut x);
    let filled = o.filled_fraction();
    put_right(
        buf,
        cx,
        y,
        fmt(s, format_args!("{:.1}", filled * 100.0)),
        cw,
        base,
    );

    // Progress bar: █ filled, ┃ where the schedule says we should be.
    let (cx, cw) = next(&mut x);
    let dev = o.schedule_deviation();
    let ahead = dev >= -0.005;
    let bar_color = if o.state.is_terminal() {
        t.done
    } else if ahead {
        t.ahead
    } else {
        t.behind
    };
    if cw > 0 {
        let sched = if o.info.qty > 0.0 {
            (o.progress.scheduled / o.info.qty).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let filled_cells = (filled * cw as f64).round() as u16;
        let sched_cell = ((sched * cw as f64).round() as u16).min(cw - 1);
        for i in 0..cw {
            let (ch, style) = if i == sched_cell && sched > 0.0 {
                ("┃", base.fg(t.fg).add_modifier(Modifier::BOLD))
            } else if i < filled_cells {
                ("█", base.fg(bar_color))
            } else {
                ("·", base.fg(t.dim))
            };
            put(buf, cx + i, y, ch, 1, style);
        }
    }
    // Ahead/behind as a symbol and a number, never by colour alone.
    let (cx, cw) = next(&mut x);
    let arrow = if dev.abs() < 0.005 {
        "="
    } else if dev > 0.0 {
        "▲"
    } else {
        "▼"
    };
    put_right(
        buf,
        cx,
        y,
        fmt(s, format_args!("{arrow}{:.1}%", dev.abs() * 100.0)),
        cw,
        base.fg(bar_color),
    );
    let (cx, cw) = next(&mut x);
    match o.progress.avg_price {
        Some(p) => put_right(buf, cx, y, fmt(s, format_args!("{:.*}", pd, p)), cw, base),
        None => put_right(buf, cx, y, "—", cw, base.fg(t.dim)),
    }
    let (cx, cw) = next(&mut x);
    match o.progress.slippage_bps {
        Some(b) => {
            let color = if b > 0.0 { t.behind } else { t.ahead };
            put_right(
                buf,
                cx,
                y,
                fmt(s, format_args!("{b:+.1}")),
                cw,
                base.fg(color),
            )
        }
        None => put_right(buf, cx, y, "—", cw, base.fg(t.dim)),
    }
    let (cx, cw) = next(&mut x);
    put(buf, cx, y, &o.info.strategy, cw, base);
    let (cx, cw) = next(&mut x);
    let state_text = match o.state {
        OrderState::Paused => "⏸ PAUSED",
        OrderState::Working if o.override_.is_some() => "⚑ overridden",
        other => state_label(other),
    };
    let state_style = match o.state {
        OrderState::Paused => base.fg(t.paused).add_modifier(Modifier::BOLD),
        OrderState::Rejected => base.fg(t.critical),
        _ if o.override_.is_some() => base.fg(t.warn),
        _ => base,
    };
    put(buf, cx, y, state_text, cw, state_style);
    let (cx, cw) = next(&mut x);
    let (cx2, cw2) = next(&mut x);
    if let Some(d) = &o.last_decision {
        put(buf, cx, y, &d.action, cw, base);
        let conf_style = if d.confidence < 0.5 {
            base.fg(t.warn)
        } else {
            base
        };
        put_right(
            buf,
            cx2,
            y,
            fmt(s, format_args!("{:.2}", d.confidence)),
            cw2,
            conf_style,
        );
    } else {
        put(buf, cx, y, "—", cw, base.fg(t.dim));
    }
    // Flags: pending command, override, shadow divergence, refusal.
    let (cx, cw) = next(&mut x);
    let mut fx = cx;
    let fend = cx + cw;
    if state.is_pending(&o.info.order_id) || app.live.is_pending(&o.info.order_id) {
        fx = put(
            buf,
            fx,
            y,
            "⧗ ",
            fend.saturating_sub(fx),
            base.fg(t.pending),
        );
    }
    if o.override_.is_some() {
        fx = put(buf, fx, y, "OVR ", fend.saturating_sub(fx), base.fg(t.warn));
    }
    if state.divergence.contains_key(&o.info.order_id) {
        fx = put(
            buf,
            fx,
            y,
            "≠ ",
            fend.saturating_sub(fx),
            base.fg(t.critical),
        );
    }
    if let Some(out) = app.live.last_outcome_for(&o.info.order_id) {
        if !out.ok {
            put(buf, fx, y, "✗", fend.saturating_sub(fx), base.fg(t.refused));
        }
    }
}
