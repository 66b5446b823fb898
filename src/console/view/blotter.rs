//! The blotter: one row per parent order, only the visible window drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::{decimals, fmt, pane, put, put_clipped, put_right, width};
use crate::console::app::{state_label, App, Focus};
use crate::protocol::view::OrderView;
use crate::protocol::{EngineState, OrderState, Side};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    /// On a bus over many engines: the order's engine.
    Engine,
    Id,
    Sym,
    Side,
    Qty,
    Fill,
    Bar,
    Sched,
    AvgPx,
    Slip,
    Strategy,
    State,
    LastAct,
    Conf,
    Flags,
}

/// (column, title, width) in display order; the progress bar's width is
/// whatever is left, between `BAR_MIN` and `BAR_MAX`.
const COLUMNS: [(Col, &str, u16); 14] = [
    (Col::Id, "ID", 7),
    (Col::Sym, "SYM", 6),
    (Col::Side, "SIDE", 4),
    (Col::Qty, "QTY", 8),
    (Col::Fill, "FILL%", 5),
    (Col::Bar, "PROGRESS", 0),
    (Col::Sched, "SCHED", 6),
    (Col::AvgPx, "AVG PX", 9),
    (Col::Slip, "SLIP bps", 8),
    (Col::Strategy, "STRATEGY", 9),
    (Col::State, "STATE", 13),
    (Col::LastAct, "LAST ACT", 10),
    (Col::Conf, "CONF", 4),
    (Col::Flags, "FLAGS", 6),
];
/// On a narrow screen columns go in this order; ID, SYM and STATE always stay.
const DROP_ORDER: [Col; 11] = [
    Col::AvgPx,
    Col::Strategy,
    Col::Conf,
    Col::Bar,
    Col::Qty,
    Col::LastAct,
    Col::Slip,
    Col::Side,
    Col::Sched,
    Col::Flags,
    Col::Fill,
];
const BAR_MIN: u16 = 8;
const BAR_MAX: u16 = 30;
/// ID and SYM widen to fit longer ids and symbols (crypto pairs such as
/// BTCUSDT), up to these widths; a longer value ends in `…`, never cut
/// silently into another valid-looking symbol.
const ID_MAX: u16 = 14;
const SYM_MAX: u16 = 10;

const ENGINE_MAX: u16 = 12;

/// The columns, with ID and SYM as wide as the longest id and symbol need
/// (within their bounds), and ENGINE first when `longest_engine` is not 0.
fn columns(
    longest_id: u16,
    longest_sym: u16,
    longest_engine: u16,
) -> Vec<(Col, &'static str, u16)> {
    let engine = (longest_engine > 0).then_some((
        Col::Engine,
        "ENGINE",
        longest_engine.clamp(6, ENGINE_MAX),
    ));
    engine
        .into_iter()
        .chain(COLUMNS.iter().map(|&(col, name, w)| match col {
            Col::Id => (col, name, longest_id.clamp(w, ID_MAX)),
            Col::Sym => (col, name, longest_sym.clamp(w, SYM_MAX)),
            _ => (col, name, w),
        }))
        .collect()
}

/// On a bus, names are `<engine>/<name>`: where the name proper begins.
fn local_start(app: &App, name: &str) -> usize {
    if app.fleet.is_empty() {
        return 0;
    }
    crate::protocol::bus::split_qualified(name).map_or(0, |(e, _)| e.len() + 1)
}

/// The engine part of a qualified name ("" on one WebSocket).
fn engine_of<'a>(app: &App, name: &'a str) -> &'a str {
    &name[..local_start(app, name).saturating_sub(1)]
}

/// The name without its engine.
fn local<'a>(app: &App, name: &'a str) -> &'a str {
    &name[local_start(app, name)..]
}

/// The columns that fit in `total` cells, with their widths.
fn layout(
    total: u16,
    longest_id: u16,
    longest_sym: u16,
    longest_engine: u16,
) -> Vec<(Col, &'static str, u16)> {
    let all = columns(longest_id, longest_sym, longest_engine);
    let mut cols = all.clone();
    // One cell for the selection marker, one after each column.
    let need = |cols: &[(Col, &str, u16)]| -> u16 {
        1 + cols
            .iter()
            .map(|c| if c.0 == Col::Bar { BAR_MIN } else { c.2 } + 1)
            .sum::<u16>()
    };
    let mut dropped = Vec::new();
    for drop in DROP_ORDER {
        if need(&cols) <= total {
            break;
        }
        cols.retain(|c| c.0 != drop);
        dropped.push(drop);
    }
    // A narrow column dropped on the way may still fit in what is left.
    for &back in dropped.iter().rev() {
        let mut with: Vec<(Col, &'static str, u16)> = all
            .iter()
            .copied()
            .filter(|c| c.0 == back || cols.iter().any(|k| k.0 == c.0))
            .collect();
        if need(&with) <= total {
            std::mem::swap(&mut cols, &mut with);
        }
    }
    let spare = total.saturating_sub(need(&cols));
    for c in cols.iter_mut() {
        if c.0 == Col::Bar {
            c.2 = (BAR_MIN + spare).min(BAR_MAX);
        }
    }
    cols
}

/// A strategy name that fits `width`: known long names have short labels.
fn strategy_label(name: &str, width: u16) -> &str {
    if name.chars().count() <= width as usize {
        return name;
    }
    match name {
        "almgren_chriss" => "AC",
        _ => name,
    }
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
    // Sized over every order, not only the shown ones, so that filtering
    // does not make the columns jump.
    let longest = |f: fn(&OrderView) -> &str, part: for<'a> fn(&App, &'a str) -> &'a str| {
        state
            .view
            .orders
            .iter()
            .map(|o| width(part(app, f(o))))
            .max()
            .unwrap_or(0)
    };
    // An order an OMS sent over FIX is marked ⇄ after its id.
    let fix_mark = u16::from(state.view.orders.iter().any(|o| o.info.origin.is_some())) * 2;
    let longest_engine = if app.fleet.is_empty() {
        0
    } else {
        longest(|o| &o.info.order_id, engine_of).max(1)
    };
    let cols = layout(
        inner.width,
        longest(|o| &o.info.order_id, local) + fix_mark,
        longest(|o| &o.info.symbol, local),
        longest_engine,
    );
    let head = Style::default().fg(t.dim).add_modifier(Modifier::BOLD);
    let mut x = inner.x + 1;
    let end = inner.x + inner.width;
    for &(_, name, w) in &cols {
        put(buf, x, inner.y, name, w.min(end.saturating_sub(x)), head);
        x += w + 1;
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
            &cols,
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
    cols: &[(Col, &str, u16)],
    row: Rect,
    buf: &mut Buffer,
    s: &mut String,
) {
    let t = &app.theme;
    let state = app.shown();
    // On a bus the order's own engine says whether it is halted.
    let halted = if app.fleet.is_empty() {
        state.view.state == EngineState::Halted
    } else {
        let engine = engine_of(app, &o.info.order_id);
        app.fleet
            .iter()
            .any(|e| e.engine == engine && e.state == EngineState::Halted)
    };
    let mut base = Style::default().fg(t.fg);
    match o.state {
        OrderState::Paused => base = base.fg(t.paused).add_modifier(Modifier::ITALIC),
        st if st.is_terminal() => base = base.fg(t.done),
        // Nothing trades while halted: live rows are dimmed and marked.
        _ if halted => base = base.fg(t.dim),
        _ => {}
    }
    if selected {
        base = base.bg(t.selected_bg).add_modifier(Modifier::BOLD);
        buf.set_style(row, base);
    }
    let (pd, qd) = decimals(state, &o.info.symbol);
    let y = row.y;
    let end = row.x + row.width;
    put(
        buf,
        row.x,
        y,
        if selected { "▶" } else { " " },
        1,
        base.fg(t.accent),
    );
    let filled = o.filled_fraction();
    let dev = o.schedule_deviation();
    let bar_color = if o.state.is_terminal() {
        t.done
    } else if dev >= -0.005 {
        t.ahead
    } else {
        t.behind
    };
    let mut x = row.x + 1;
    for &(col, _, w) in cols {
        let cx = x;
        let cw = w.min(end.saturating_sub(cx));
        x = x.saturating_add(w + 1);
        if cw == 0 {
            break;
        }
        match col {
            Col::Engine => {
                put_clipped(buf, cx, y, engine_of(app, &o.info.order_id), cw, base);
            }
            Col::Id => {
                let id = local(app, &o.info.order_id);
                if o.info.origin.is_some() {
                    let room = cw.saturating_sub(2);
                    let nx = put_clipped(buf, cx, y, id, room, base);
                    put(buf, nx.max(cx + room) + 1, y, "⇄", 1, base.fg(t.accent));
                } else {
                    put_clipped(buf, cx, y, id, cw, base);
                }
            }
            Col::Sym => {
                put_clipped(buf, cx, y, local(app, &o.info.symbol), cw, base);
            }
            Col::Side => {
                let (side, side_color) = match o.info.side {
                    Side::Buy => ("BUY", t.buy),
                    Side::Sell => ("SELL", t.sell),
                };
                put(buf, cx, y, side, cw, base.fg(side_color));
            }
            Col::Qty => put_right(
                buf,
                cx,
                y,
                fmt(s, format_args!("{:.*}", qd, o.info.qty)),
                cw,
                base,
            ),
            Col::Fill => put_right(
                buf,
                cx,
                y,
                fmt(s, format_args!("{:.1}", filled * 100.0)),
                cw,
                base,
            ),
            // Progress bar: █ filled, ┃ where the schedule says we should be.
            Col::Bar => {
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
            Col::Sched => {
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
            }
            Col::AvgPx => match o.progress.avg_price {
                Some(p) => put_right(buf, cx, y, fmt(s, format_args!("{:.*}", pd, p)), cw, base),
                None => put_right(buf, cx, y, "—", cw, base.fg(t.dim)),
            },
            // Positive = cost against the arrival price.
            Col::Slip => match o.progress.slippage_bps {
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
            },
            Col::Strategy => {
                // A canary model is marked ·c, a model switched off ⊘ (the
                // detail pane says which model and why).
                let model = o.info.model.as_ref();
                let off = model
                    .and_then(|m| state.view.model(&m.name))
                    .is_some_and(|m| m.guard != crate::protocol::GuardState::Ok);
                let canary =
                    model.is_some_and(|m| m.status == crate::protocol::ModelStatus::Canary);
                let suffix = match (off, canary) {
                    (true, _) => "⊘",
                    (false, true) => "·c",
                    _ => "",
                };
                // The mark stays visible: the name gives way to it.
                let room = (cw as usize).saturating_sub(suffix.chars().count()) as u16;
                let label = strategy_label(&o.info.strategy, room);
                let cut: String = label.chars().take(room as usize).collect();
                let text = fmt(s, format_args!("{cut}{suffix}"));
                let style = if off { base.fg(t.critical) } else { base };
                put_clipped(buf, cx, y, text, cw, style);
            }
            Col::State => state_cell(app, o, halted, base, cx, y, cw, buf),
            Col::LastAct => match &o.last_decision {
                Some(d) => {
                    put(buf, cx, y, &d.action, cw, base);
                }
                None => {
                    put(buf, cx, y, "—", cw, base.fg(t.dim));
                }
            },
            Col::Conf => {
                if let Some(d) = &o.last_decision {
                    if d.model == "rule" {
                        // A rule has no confidence to speak of.
                        put_right(buf, cx, y, "rule", cw, base.fg(t.dim));
                    } else {
                        let conf_style = if d.confidence < 0.5 {
                            base.fg(t.warn)
                        } else {
                            base
                        };
                        put_right(
                            buf,
                            cx,
                            y,
                            fmt(s, format_args!("{:.2}", d.confidence)),
                            cw,
                            conf_style,
                        );
                    }
                }
            }
            // Flags: pending command, override, shadow divergence, refusal.
            Col::Flags => {
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
        }
    }
}

/// The STATE cell: the order's state, and the halt on every live row.
#[allow(clippy::too_many_arguments)]
fn state_cell(
    app: &App,
    o: &OrderView,
    halted: bool,
    base: Style,
    x: u16,
    y: u16,
    w: u16,
    buf: &mut Buffer,
) {
    let t = &app.theme;
    let (text, style) = match o.state {
        OrderState::Paused => ("⏸ PAUSED", base.fg(t.paused).add_modifier(Modifier::BOLD)),
        OrderState::Rejected => ("rejected", base.fg(t.critical)),
        st if st.is_terminal() => (state_label(st), base),
        OrderState::Working if o.override_.is_some() => ("⚑ overridden", base.fg(t.warn)),
        st => (state_label(st), base),
    };
    let x = put(buf, x, y, text, w, style);
    let live = !o.state.is_terminal() && o.state != OrderState::Paused;
    if halted && live {
        let halt = Style::default()
            .fg(t.halted_fg)
            .bg(t.halted_bg)
            .add_modifier(Modifier::BOLD);
        let room = w.saturating_sub(width(text));
        if room >= 6 {
            put(buf, x, y, " ", 1, base);
            put(buf, x + 1, y, "■HALT", 5, halt);
        } else {
            // Too narrow for both: the halt matters more than "working".
            let start = x - width(text).min(w);
            put(buf, start, y, &" ".repeat(w as usize), w, base);
            put(buf, start, y, "■HALT", w, halt);
        }
    }
}
