//! Replay's screen: the console's screens, unchanged, above a two-line
//! timeline (transport state, clock, counts, key hints; the bar with the
//! position and the markers).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::Frame;

use crate::console::view::render as render_console;
use crate::protocol::text::format_ts;

use super::app::ReplayApp;
use super::keys::ReplayAction;
use super::player::speed_label;
use super::recording::MarkerKind;

pub const TIMELINE_HEIGHT: u16 = 2;

pub fn view(r: &ReplayApp, frame: &mut Frame) {
    let area = frame.area();
    render(r, area, frame.buffer_mut());
}

pub fn render(r: &ReplayApp, area: Rect, buf: &mut Buffer) {
    let [console, timeline] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(TIMELINE_HEIGHT)]).areas(area);
    render_console(&r.app, console, buf);
    render_timeline(r, timeline, buf);
}

fn put(buf: &mut Buffer, x: u16, y: u16, text: &str, end: u16, style: Style) -> u16 {
    if x >= end {
        return x;
    }
    buf.set_stringn(x, y, text, (end - x) as usize, style).0
}

pub fn render_timeline(r: &ReplayApp, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width < 10 {
        return;
    }
    let t = &r.app.theme;
    let p = &r.player;
    let base = Style::default().fg(t.header_fg).bg(t.header_bg);
    buf.set_style(area, base);
    let end = area.x + area.width;
    let y = area.y;
    let mut x = area.x + 1;
    let (state, style) = if p.playing {
        (
            format!("▶ {}", speed_label(p.speed_value())),
            base.fg(t.ok).add_modifier(Modifier::BOLD),
        )
    } else if p.at_end() {
        (
            "■ end".to_string(),
            base.fg(t.dim).add_modifier(Modifier::BOLD),
        )
    } else {
        (
            format!("⏸ {}", speed_label(p.speed_value())),
            base.fg(t.warn).add_modifier(Modifier::BOLD),
        )
    };
    x = put(buf, x, y, &state, end, style);
    let (start_ts, end_ts) = p.rec.span();
    x = put(buf, x, y, " │ ", end, base.fg(t.dim));
    x = put(
        buf,
        x,
        y,
        &format!("{} / {}", format_ts(p.clock()), format_ts(end_ts)),
        end,
        base.add_modifier(Modifier::BOLD),
    );
    x = put(buf, x, y, " │ ", end, base.fg(t.dim));
    x = put(
        buf,
        x,
        y,
        &format!("event {}/{}", p.position(), p.rec.len()),
        end,
        base,
    );
    let count = |k| p.rec.markers.iter().filter(|m| m.kind == k).count();
    x = put(buf, x, y, " │ ", end, base.fg(t.dim));
    x = put(
        buf,
        x,
        y,
        &format!("▲{} interventions", count(MarkerKind::Intervention)),
        end,
        base.fg(t.accent),
    );
    x = put(
        buf,
        x,
        y,
        &format!(" !{} alerts", count(MarkerKind::Alert)),
        end,
        base.fg(t.warn),
    );
    let shadow = match &p.rec.shadow_id {
        Some(id) => format!(" ≠{} divergences ({id})", count(MarkerKind::Divergence)),
        None => format!(" ≠ {}", r.note.as_deref().unwrap_or("no shadow model")),
    };
    x = put(buf, x, y, &shadow, end, base.fg(t.critical));
    // Key hints, as many as fit.
    let hints = [
        (ReplayAction::PlayPause, "play"),
        (ReplayAction::Faster, "speed"),
        (ReplayAction::SeekForward, "±10s"),
        (ReplayAction::SeekForwardLong, "±1m"),
        (ReplayAction::NextDecision, "decision"),
        (ReplayAction::NextMarker, "marker"),
        (ReplayAction::Start, "start"),
    ];
    x = put(buf, x, y, " │", end, base.fg(t.dim));
    for (a, name) in hints {
        let key = r.keys.label(a);
        let need = (key.chars().count() + name.len() + 2) as u16;
        if key.is_empty() || x + need > end {
            break;
        }
        x = put(buf, x, y, " ", end, base);
        x = put(
            buf,
            x,
            y,
            &key,
            end,
            base.fg(t.accent).add_modifier(Modifier::BOLD),
        );
        x = put(buf, x, y, &format!(" {name}"), end, base.fg(t.dim));
    }
    if x + 10 < end {
        put(buf, x, y, "  :goto", end, base.fg(t.dim));
    }

    if area.height < 2 {
        return;
    }
    // The bar: played part, markers, the position.
    let y = area.y + 1;
    let x0 = area.x + 1;
    let w = area.width.saturating_sub(2).max(1);
    let span = (end_ts.saturating_sub(start_ts)).max(1) as f64;
    let col = |ts: u64| -> u16 {
        let f = (ts.saturating_sub(start_ts)) as f64 / span;
        ((f * (w - 1) as f64).round() as u16).min(w - 1)
    };
    let now = col(p.clock());
    for i in 0..w {
        let (ch, style) = if i < now {
            ("━", base.fg(t.accent))
        } else {
            ("─", base.fg(t.dim))
        };
        buf.set_string(x0 + i, y, ch, style);
    }
    // Most important marker wins a cell: divergence > intervention > alert.
    let rank = |k: MarkerKind| match k {
        MarkerKind::Divergence => 3,
        MarkerKind::Intervention => 2,
        MarkerKind::Alert => 1,
    };
    let mut cells: Vec<u8> = vec![0; w as usize];
    for m in &p.rec.markers {
        let c = col(m.ts) as usize;
        cells[c] = cells[c].max(rank(m.kind));
    }
    for (i, &k) in cells.iter().enumerate() {
        let (ch, style) = match k {
            3 => ("≠", base.fg(t.critical).add_modifier(Modifier::BOLD)),
            2 => ("▲", base.fg(t.accent).add_modifier(Modifier::BOLD)),
            1 => ("!", base.fg(t.warn)),
            _ => continue,
        };
        buf.set_string(x0 + i as u16, y, ch, style);
    }
    buf.set_string(
        x0 + now,
        y,
        "◆",
        base.fg(t.fg)
            .add_modifier(Modifier::BOLD | Modifier::REVERSED),
    );
}
