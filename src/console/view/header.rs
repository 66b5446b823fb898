//! Top line (engine, link, clock, engine state, role, alerts) and the banners
//! below it: HALTED, STALE, FROZEN, reconnecting/resync notes.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::{alert_total, put, put_clipped, width};
use crate::console::app::{App, Link};
use crate::console::fleet::{EngineStatus, LaneLink};
use crate::console::keymap::Action;
use crate::protocol::text::format_ts;
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
    n + fleet_lines(app)
}

/// On a bus: a line per engine, or one line for them all past a few.
const FLEET_LINES_MAX: usize = 4;

fn fleet_lines(app: &App) -> u16 {
    match app.fleet.len() {
        0 => 0,
        n if n <= FLEET_LINES_MAX => n as u16,
        _ => 1,
    }
}

/// One piece of the header line. When the line is too narrow, pieces are
/// dropped lowest `keep` first; engine state and link state are never dropped.
struct Seg {
    text: String,
    style: Style,
    /// Drawn after a `│` separator (otherwise glued to the previous piece).
    sep: bool,
    keep: u8,
}

const ALWAYS: u8 = u8::MAX;

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
    let mut segs: Vec<Seg> = Vec::with_capacity(10);
    let mut seg = |text: String, style: Style, sep: bool, keep: u8| {
        segs.push(Seg {
            text,
            style,
            sep,
            keep,
        })
    };
    seg("vigil".into(), base.add_modifier(Modifier::BOLD), false, 3);
    if !app.fleet.is_empty() {
        let n = app.fleet.len();
        let up = app
            .fleet
            .iter()
            .filter(|e| e.link == LaneLink::Live)
            .count();
        let text = format!("bus: {up}/{n} engine{} live", if n == 1 { "" } else { "s" });
        let style = if up == n { base } else { base.fg(t.warn) };
        seg(text, style, true, ALWAYS - 1);
    } else if !state.view.engine_id.is_empty() {
        seg(state.view.engine_id.clone(), base, true, 1);
    }
    let (link_text, link_style) = match &app.link.link {
        Link::Live if app.replay.is_some() => ("⏵ REPLAY".to_string(), base.fg(t.accent)),
        Link::Live if app.link.stale => ("◌ STALE".to_string(), base.fg(t.warn)),
        Link::Live => ("● live".to_string(), base.fg(t.ok)),
        Link::Connecting { .. } => ("… connecting".to_string(), base.fg(t.warn)),
        Link::Reconnecting { attempt, .. } => (
            format!("↻ reconnecting #{attempt}"),
            base.fg(t.warn).add_modifier(Modifier::BOLD),
        ),
        Link::Failed(_) => ("✖ refused".to_string(), base.fg(t.critical)),
    };
    seg(link_text, link_style, true, ALWAYS);
    if let Some(rtt) = app.link.rtt {
        let ms = rtt.as_secs_f64() * 1000.0;
        seg(format!(" rtt {ms:.1}ms"), base, false, 0);
    }
    if let Some((note, _)) = &app.link.note {
        seg(format!(" ({note})"), base.fg(t.accent), false, 2);
    }
    seg(format!("⏱ {}", format_ts(state.view.ts)), base, true, 4);
    let (engine_text, engine_style) = match state.view.state {
        EngineState::Running => ("▶ RUNNING", base.fg(t.ok)),
        // The banner below says why and what to do.
        EngineState::Halted => ("■ HALTED", base.add_modifier(Modifier::REVERSED)),
        EngineState::Ended => ("◼ SESSION ENDED", base.fg(t.dim)),
    };
    seg(engine_text.into(), engine_style, true, ALWAYS);
    let role = match state.role {
        Some(Role::Trader) => "trader",
        Some(Role::Viewer) => "viewer (read-only)",
        None => "—",
    };
    seg(role.into(), base, true, 6);
    if !state.user.is_empty() {
        seg(format!(" {}", state.user), base, false, 2);
    }
    let alerts = alert_total(state);
    if alerts > 0 {
        let noun = if alerts == 1 { "alert" } else { "alerts" };
        seg(
            format!("⚠ {alerts} {noun}"),
            base.fg(t.warn).add_modifier(Modifier::BOLD),
            true,
            5,
        );
    } else {
        seg("no alerts".into(), base.fg(t.dim), true, 5);
    }
    // FIX sessions of the engine's gateway: how many OMSs are logged on,
    // and the sequence numbers of a single session (what a FIX desk asks first).
    if !state.fix_sessions.is_empty() {
        let up = state.fix_sessions.iter().filter(|f| f.logged_on).count();
        let text = match state.fix_sessions.as_slice() {
            [one] => format!(
                "FIX {} {} in {} out {}",
                one.session,
                if one.logged_on { "●" } else { "○" },
                one.next_in,
                one.next_out
            ),
            all => format!("FIX {up}/{} logged on", all.len()),
        };
        let style = if up == state.fix_sessions.len() {
            base
        } else {
            base.fg(t.warn)
        };
        seg(text, style, true, 1);
    }
    if let Some((text, warn)) = super::shadow::header_note(app) {
        let style = if warn {
            base.fg(t.warn)
        } else {
            base.fg(t.dim)
        };
        seg(text, style, true, 2);
    }

    // Drop the least important pieces until the line fits.
    let line_width = |segs: &[Seg]| -> u16 {
        1 + segs
            .iter()
            .map(|s| width(&s.text) + if s.sep { 3 } else { 0 })
            .sum::<u16>()
    };
    while line_width(&segs) > area.width {
        let Some(pos) = segs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.keep != ALWAYS)
            .min_by_key(|(i, s)| (s.keep, usize::MAX - i))
            .map(|(i, _)| i)
        else {
            break;
        };
        segs.remove(pos);
    }
    let end = area.x + area.width;
    let mut x = area.x + 1;
    for (i, s) in segs.iter().enumerate() {
        if s.sep && i > 0 {
            x = put(buf, x, area.y, " │ ", end.saturating_sub(x), base);
        }
        x = put(buf, x, area.y, &s.text, end.saturating_sub(x), s.style);
    }
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
        put_clipped(
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
        let resume = app.keymap.label(Action::ResumeAll);
        line(
            format!("■ ENGINE HALTED — nothing sent until {resume} (resume all) — {reason}"),
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
    let fleet_style = Style::default().fg(t.header_fg).bg(t.header_bg);
    if app.fleet.len() > FLEET_LINES_MAX {
        let all: Vec<String> = app.fleet.iter().map(engine_brief).collect();
        line(format!("engines  {}", all.join(" · ")), fleet_style, buf);
    } else {
        for e in &app.fleet {
            let mut text = format!("engine {}", engine_line(e));
            if let Some(note) = &e.note {
                text.push_str(" — ");
                text.push_str(note);
            }
            let style = match (&e.link, e.state) {
                (LaneLink::Trouble(_), _) => fleet_style.fg(t.warn),
                (_, EngineState::Halted) => fleet_style.fg(t.halted_fg).bg(t.halted_bg),
                _ => fleet_style,
            };
            line(text, style, buf);
        }
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

fn link_mark(e: &EngineStatus) -> String {
    match &e.link {
        LaneLink::Live => "● live".into(),
        LaneLink::Joining => "… joining".into(),
        LaneLink::Trouble(why) => format!("✖ {why}"),
    }
}

fn state_mark(state: EngineState) -> &'static str {
    match state {
        EngineState::Running => "▶ running",
        EngineState::Halted => "■ HALTED",
        EngineState::Ended => "◼ ended",
    }
}

/// One engine on its own line: link, clock, state, role, orders, seq.
fn engine_line(e: &EngineStatus) -> String {
    let role = match e.role {
        Some(Role::Trader) => "trader",
        Some(Role::Viewer) => "viewer",
        None => "—",
    };
    format!(
        "{:<8} {} │ ⏱ {} │ {} │ {role} │ {} orders │ seq {}",
        e.engine,
        link_mark(e),
        format_ts(e.ts),
        state_mark(e.state),
        e.orders,
        e.seq
    )
}

/// Many engines on one line: name, link, clock, state.
fn engine_brief(e: &EngineStatus) -> String {
    let link = match &e.link {
        LaneLink::Live => "●",
        LaneLink::Joining => "…",
        LaneLink::Trouble(_) => "✖",
    };
    format!(
        "{} {link} {} {}",
        e.engine,
        format_ts(e.ts),
        state_mark(e.state)
    )
}
