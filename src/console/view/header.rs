//! Top line (engine, link, clock, engine state, role, alerts) and the banners
//! below it: HALTED, STALE, FROZEN, reconnecting/resync notes.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::{fmt, put};
use crate::console::app::{App, Link};
use crate::console::state::format_ts;
use crate::protocol::{EngineState, Role};

fn halted(app: &App) -> bool {
    app.live.view.state == EngineState::Halted
}

/// Lines of banners needed right now.
pub fn banner_count(app: &App) -> u16 {
    let mut n = 0;
    if halted(app) {
        n += 1;
    }
    if app.link.stale || !matches!(app.link.link, Link::Live) {
        n += 1;
    }
    if app.is_frozen() {
        n += 1;
    }
    n
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let state = &app.live;
    let base = if halted(app) {
        Style::default()
            .fg(t.halted_fg)
            .bg(t.halted_bg)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default().fg(t.header_fg).bg(t.header_bg)
    };
    buf.set_style(area, base);
    let (y, end) = (area.y, area.x + area.width);
    let mut s = String::new();
    let mut x = area.x;
    let room = |x: u16| end.saturating_sub(x);
    x = put(
        buf,
        x,
        y,
        " vigil ",
        room(x),
        base.add_modifier(Modifier::BOLD),
    );
    let engine = if state.view.engine_id.is_empty() {
        "—"
    } else {
        state.view.engine_id.as_str()
    };
    x = put(
        buf,
        x,
        y,
        fmt(&mut s, format_args!("│ {engine} ")),
        room(x),
        base,
    );

    let (link_text, link_style) = match &app.link.link {
        Link::Live if app.link.stale => ("◌ STALE".to_string(), base.fg(t.warn)),
        Link::Live => ("● live".to_string(), base.fg(t.ok)),
        Link::Connecting { .. } => ("… connecting".to_string(), base.fg(t.warn)),
        Link::Reconnecting { attempt, .. } => (
            format!("↻ reconnecting, attempt {attempt}"),
            base.fg(t.warn),
        ),
        Link::Failed(_) => ("✖ refused".to_string(), base.fg(t.critical)),
    };
    x = put(buf, x, y, "│ ", room(x), base);
    x = put(buf, x, y, &link_text, room(x), link_style);
    if let Some(rtt) = app.link.rtt {
        let ms = rtt.as_secs_f64() * 1000.0;
        x = put(
            buf,
            x,
            y,
            fmt(&mut s, format_args!(" rtt {ms:.1}ms")),
            room(x),
            base,
        );
    }
    if let Some((note, _)) = &app.link.note {
        x = put(
            buf,
            x,
            y,
            fmt(&mut s, format_args!(" ({note})")),
            room(x),
            base.fg(t.accent),
        );
    }
    x = put(
        buf,
        x,
        y,
        fmt(&mut s, format_args!(" │ ⏱ {} ", format_ts(state.view.ts))),
        room(x),
        base,
    );
    let (engine_text, engine_style) = match state.view.state {
        EngineState::Running => ("▶ RUNNING".to_string(), base.fg(t.ok)),
        EngineState::Halted => (
            format!(
                "■ HALTED — KILL SWITCH{}",
                state
                    .view
                    .state_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            base.add_modifier(Modifier::REVERSED),
        ),
        EngineState::Ended => ("◼ SESSION ENDED".to_string(), base.fg(t.dim)),
    };
    x = put(buf, x, y, "│ ", room(x), base);
    x = put(buf, x, y, &engine_text, room(x), engine_style);
    let role = match state.role {
        Some(Role::Trader) => "trader",
        Some(Role::Viewer) => "viewer (read-only)",
        None => "—",
    };
    let user = if state.user.is_empty() {
        String::new()
    } else {
        format!(" {}", state.user)
    };
    x = put(
        buf,
        x,
        y,
        fmt(&mut s, format_args!(" │ {role}{user} ")),
        room(x),
        base,
    );
    let alerts = state.view.alert_count;
    let alert_style = if alerts > 0 { base.fg(t.warn) } else { base };
    put(
        buf,
        x,
        y,
        fmt(&mut s, format_args!("│ ⚠ alerts {alerts}")),
        room(x),
        alert_style,
    );
}

pub fn render_banners(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let mut y = area.y;
    let mut line = |text: String, style: Style, buf: &mut Buffer| {
        if y >= area.y + area.height {
            return;
        }
        let row = Rect::new(area.x, y, area.width, 1);
        buf.set_style(row, style);
        put(
            buf,
            area.x + 1,
            y,
            &text,
            area.width.saturating_sub(1),
            style,
        );
        y += 1;
    };
    if halted(app) {
        let reason = app
            .live
            .view
            .state_reason
            .as_deref()
            .unwrap_or("kill switch");
        line(
            format!(
                "■■ ENGINE HALTED — {reason} — no child orders are sent until resume all (R) ■■"
            ),
            Style::default()
                .fg(t.halted_fg)
                .bg(t.halted_bg)
                .add_modifier(Modifier::BOLD),
            buf,
        );
    }
    let stale_style = Style::default()
        .fg(t.stale_fg)
        .bg(t.stale_bg)
        .add_modifier(Modifier::BOLD);
    match &app.link.link {
        Link::Live if app.link.stale => line(
            "◌ STALE — no data from the engine for over 2 s; the screen may be out of date".into(),
            stale_style,
            buf,
        ),
        Link::Live => {}
        Link::Connecting { .. } => line("… connecting to the engine".into(), stale_style, buf),
        Link::Reconnecting { attempt, reason } => line(
            format!("↻ STALE — reconnecting, attempt {attempt} ({reason}); data shown is from before the drop"),
            stale_style,
            buf,
        ),
        Link::Failed(reason) => line(format!("✖ {reason}"), stale_style, buf),
    }
    if app.is_frozen() {
        line(
            "❄ FROZEN — display paused, data keeps arriving (f to unfreeze)".into(),
            Style::default()
                .fg(t.frozen_fg)
                .bg(t.frozen_bg)
                .add_modifier(Modifier::BOLD),
            buf,
        );
    }
}
