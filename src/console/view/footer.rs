//! Footer: the keys that matter right now, the filter / command line being
//! typed, or the last status message.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::{self, put, put_clipped, width, wrap};
use crate::console::app::{App, Mode, StatusKind};
use crate::console::keymap::Action;
use crate::console::theme::Theme;

/// Cells kept free for "? help  q quit" and the key hints around a status.
const STATUS_BESIDE_KEYS: u16 = 20;

/// Most lines a status message may take above the keys.
const STATUS_LINES: usize = 3;

/// One line, or more when the status message would not fit beside the keys:
/// it then gets lines of its own, so a refusal reason is not cut.
pub fn height(app: &App, width: u16) -> u16 {
    match (&app.mode, &app.status) {
        (Mode::Normal, Some((text, _))) if util::width(text) + STATUS_BESIDE_KEYS > width => {
            let lines = wrap(text, width.saturating_sub(2), width.saturating_sub(4)).len();
            1 + lines.clamp(1, STATUS_LINES) as u16
        }
        _ => 1,
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let base = Style::default().fg(t.header_fg).bg(t.header_bg);
    buf.set_style(area, base);
    let mut area = area;
    let mut status_done = false;
    if area.height >= 2 {
        if let Some((text, kind)) = &app.status {
            let style = status_style(t, base, *kind);
            let rows = (area.height - 1) as usize;
            let lines = wrap(
                text,
                area.width.saturating_sub(2),
                area.width.saturating_sub(4),
            );
            for (i, line) in lines.iter().take(rows).enumerate() {
                // Continuation lines are indented under the message.
                let x = area.x + if i == 0 { 1 } else { 3 };
                let y = area.y + i as u16;
                let max = (area.x + area.width).saturating_sub(x + 1);
                if i + 1 == rows && lines.len() > rows {
                    let end = put(buf, x, y, line, max.saturating_sub(1), style);
                    put(buf, end, y, "…", 1, style);
                } else {
                    put(buf, x, y, line, max, style);
                }
            }
            status_done = true;
        }
        area = Rect::new(area.x, area.y + area.height - 1, area.width, 1);
    }
    let end = area.x + area.width;
    let y = area.y;
    let mut x = area.x + 1;
    match &app.mode {
        Mode::Filter(text) => {
            x = put(buf, x, y, "/", 1, base.fg(t.accent));
            x = put(buf, x, y, text, end.saturating_sub(x), base);
            put(
                buf,
                x,
                y,
                "▏  Enter keep · Esc clear",
                end.saturating_sub(x),
                base.fg(t.dim),
            );
            return;
        }
        Mode::CommandLine(text) => {
            x = put(buf, x, y, ":", 1, base.fg(t.accent));
            x = put(buf, x, y, text, end.saturating_sub(x), base);
            put(
                buf,
                x,
                y,
                "▏  pause|resume|cancel|release ID · retune ID k=v · override ID action=… · kill · resume_all · theme NAME · q",
                end.saturating_sub(x),
                base.fg(t.dim),
            );
            return;
        }
        _ => {}
    }
    // "? help  q quit" always closes the line in normal mode, whatever else
    // must give way. (Dialogs show their own keys, where q does not quit.)
    let tail_actions: &[Action] = match app.mode {
        Mode::Normal => &[Action::Help, Action::Quit],
        _ => &[],
    };
    let tail: Vec<(String, &str)> = tail_actions
        .iter()
        .map(|&a| (app.keymap.label(a), short_name(a)))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    let tail_w: u16 = tail
        .iter()
        .map(|(k, n)| width(k) + 1 + width(n))
        .sum::<u16>()
        + 2 * tail.len().saturating_sub(1) as u16;
    let tail_x = if tail.is_empty() {
        end
    } else {
        end.saturating_sub(tail_w + 1).max(area.x)
    };
    let mut tx = tail_x;
    for (i, (k, n)) in tail.iter().enumerate() {
        if i > 0 {
            tx = put(buf, tx, y, "  ", end.saturating_sub(tx), base);
        }
        tx = put(
            buf,
            tx,
            y,
            k,
            end.saturating_sub(tx),
            base.fg(t.accent).add_modifier(Modifier::BOLD),
        );
        tx = put(buf, tx, y, " ", end.saturating_sub(tx), base);
        tx = put(buf, tx, y, n, end.saturating_sub(tx), base);
    }
    // Everything else lives left of the tail, with a gap of two cells.
    let end = if tail.is_empty() {
        end
    } else {
        tail_x.saturating_sub(2).max(x)
    };

    if let Some((text, kind)) = app.status.as_ref().filter(|_| !status_done) {
        let style = status_style(t, base, *kind);
        x = put_clipped(buf, x, y, text, end.saturating_sub(x), style);
        x = put(buf, x, y, "  │ ", end.saturating_sub(x), base.fg(t.dim));
    }
    let actions: &[Action] = match &app.mode {
        Mode::Normal if app.commands_disabled_reason().is_some() => &[
            Action::Down,
            Action::FocusDetail,
            Action::Freeze,
            Action::Filter,
            Action::Sort,
            Action::CycleTheme,
        ],
        Mode::Normal => &[
            Action::Down,
            Action::FocusDetail,
            Action::PauseResume,
            Action::Retune,
            Action::Override,
            Action::ReleaseOverride,
            Action::Cancel,
            Action::KillSwitch,
            Action::ResumeAll,
            Action::Freeze,
            Action::Filter,
            Action::CommandLine,
        ],
        _ => &[],
    };
    if let (Mode::Normal, Some(why)) = (&app.mode, app.commands_disabled_reason()) {
        x = put(buf, x, y, "⊘ ", end.saturating_sub(x), base.fg(t.warn));
        x = put_clipped(buf, x, y, why, end.saturating_sub(x), base.fg(t.warn));
        x = put(buf, x, y, "  ", end.saturating_sub(x), base);
    }
    for &a in actions {
        let key = app.keymap.label(a);
        if key.is_empty() {
            continue;
        }
        // Only whole hints: a key without its name is worse than nothing.
        let name = short_name(a);
        if x + width(&key) + 1 + width(name) > end {
            break;
        }
        x = put(
            buf,
            x,
            y,
            &key,
            end.saturating_sub(x),
            base.fg(t.accent).add_modifier(Modifier::BOLD),
        );
        x = put(buf, x, y, " ", end.saturating_sub(x), base);
        x = put(buf, x, y, name, end.saturating_sub(x), base);
        x = put(buf, x, y, "  ", end.saturating_sub(x), base);
    }
}

fn status_style(t: &Theme, base: Style, kind: StatusKind) -> Style {
    match kind {
        StatusKind::Info => base.fg(t.accent),
        StatusKind::Success => base.fg(t.ok).add_modifier(Modifier::BOLD),
        StatusKind::Error => base.fg(t.refused).add_modifier(Modifier::BOLD),
    }
}

fn short_name(a: Action) -> &'static str {
    match a {
        Action::Down => "select",
        Action::FocusDetail => "detail",
        Action::PauseResume => "pause/resume",
        Action::Retune => "retune",
        Action::Override => "override",
        Action::ReleaseOverride => "release",
        Action::Cancel => "cancel",
        Action::KillSwitch => "KILL",
        Action::ResumeAll => "resume all",
        Action::Freeze => "freeze",
        Action::Filter => "filter",
        Action::CommandLine => "cmd",
        Action::Help => "help",
        Action::Quit => "quit",
        Action::Sort => "sort",
        Action::CycleTheme => "theme",
        other => other.name(),
    }
}
