//! Footer: the keys that matter right now, the filter / command line being
//! typed, or the last status message.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::put;
use crate::console::app::{App, Mode, StatusKind};
use crate::console::keymap::Action;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let base = Style::default().fg(t.header_fg).bg(t.header_bg);
    buf.set_style(area, base);
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
    if let Some((text, kind)) = &app.status {
        let style = match kind {
            StatusKind::Info => base.fg(t.accent),
            StatusKind::Error => base.fg(t.refused).add_modifier(Modifier::BOLD),
        };
        x = put(buf, x, y, text, end.saturating_sub(x), style);
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
            Action::Help,
            Action::Quit,
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
            Action::Help,
            Action::Quit,
        ],
        _ => &[],
    };
    if let (Mode::Normal, Some(why)) = (&app.mode, app.commands_disabled_reason()) {
        x = put(buf, x, y, "⊘ ", end.saturating_sub(x), base.fg(t.warn));
        x = put(buf, x, y, why, end.saturating_sub(x), base.fg(t.warn));
        x = put(buf, x, y, "  ", end.saturating_sub(x), base);
    }
    for &a in actions {
        if x >= end {
            break;
        }
        let key = app.keymap.label(a);
        if key.is_empty() {
            continue;
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
        x = put(buf, x, y, short_name(a), end.saturating_sub(x), base);
        x = put(buf, x, y, "  ", end.saturating_sub(x), base);
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
