//! Popups drawn over the screen: help, confirmation, retune and override forms.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Clear, Widget};

use super::util::{pane, put, width};
use crate::console::app::{App, Confirm, ConfirmKind, Mode};
use crate::console::forms::{OverrideForm, RetuneForm, RETUNE_FIELDS};
use crate::console::keymap::Action;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    match &app.mode {
        Mode::Help => help(app, area, buf),
        Mode::Confirm(c) => confirm(app, c, area, buf),
        Mode::Retune(f) => retune(app, f, area, buf),
        Mode::Override(f) => override_form(app, f, area, buf),
        _ => {}
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn popup(app: &App, title: &str, area: Rect, buf: &mut Buffer) -> Rect {
    Clear.render(area, buf);
    buf.set_style(
        area,
        Style::default().fg(app.theme.fg).bg(app.theme.header_bg),
    );
    pane(&app.theme, title, true, area, buf)
}

/// Notes under the key list of the help overlay.
const HELP_NOTES: [&str; 3] = [
    "SLIP bps: slippage vs the arrival price, in basis points;",
    "  positive = cost, negative = improvement.",
    "Rebind keys in a TOML file: vigil console --keys FILE",
];

fn help(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let entries: Vec<(String, &str)> = Action::ALL
        .iter()
        .map(|&a| (app.keymap.labels(a), a.help()))
        .collect();
    let key_w = entries.iter().map(|(k, _)| width(k)).max().unwrap_or(0) + 1;
    let entry_w = key_w + entries.iter().map(|(_, h)| width(h)).max().unwrap_or(0);
    let notes_h = HELP_NOTES.len() as u16 + 1;
    // One column when it fits, two side by side on a short screen.
    let one_col_h = entries.len() as u16 + notes_h + 2;
    let columns: u16 = if one_col_h <= area.height { 1 } else { 2 };
    let per_col = (entries.len() as u16).div_ceil(columns);
    let notes_w = HELP_NOTES.iter().map(|n| width(n)).max().unwrap_or(0);
    let popup_w = (entry_w * columns + 2 * (columns - 1) + 4).max(notes_w + 4);
    let rect = centered(area, popup_w, per_col + notes_h + 2);
    let inner = popup(app, " Keys (any key closes) ", rect, buf);
    let bottom = inner.y + inner.height;
    for (i, (keys, help)) in entries.iter().enumerate() {
        let col = i as u16 / per_col;
        let y = inner.y + i as u16 % per_col;
        if y >= bottom {
            continue;
        }
        let x = inner.x + 1 + col * (entry_w + 2);
        let right = inner.x + inner.width;
        put(
            buf,
            x,
            y,
            keys,
            key_w.min(right.saturating_sub(x)),
            Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
        );
        put(
            buf,
            x + key_w,
            y,
            help,
            right.saturating_sub(x + key_w),
            Style::default().fg(t.fg),
        );
    }
    for (y, note) in (inner.y + per_col + 1..).zip(HELP_NOTES) {
        if y >= bottom {
            break;
        }
        put(
            buf,
            inner.x + 1,
            y,
            note,
            inner.width.saturating_sub(1),
            Style::default().fg(t.dim),
        );
    }
}

fn confirm(app: &App, c: &Confirm, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let (title, question) = match &c.kind {
        ConfirmKind::Cancel { order_id } => (
            " Confirm cancel ".to_string(),
            format!("Cancel order {order_id}? Working child orders are withdrawn."),
        ),
        ConfirmKind::KillSwitch => (
            " ■ KILL SWITCH ■ ".to_string(),
            "Halt ALL orders and cancel every working child order?".to_string(),
        ),
        ConfirmKind::KillSwitchOn {
            engine, engines, ..
        } => (
            " ■ KILL SWITCH ■ ".to_string(),
            match engine {
                Some(e) => format!("Halt engine {e} only? (a: all {engines} engines)"),
                None => format!("Halt ALL {engines} engines and their child orders? (a: one)"),
            },
        ),
        ConfirmKind::KillModel { model, orders } => (
            " ■ MODEL OFF ■ ".to_string(),
            format!("Switch off model {model}? Its {orders} orders go to the baseline."),
        ),
        ConfirmKind::RestoreModel { model } => (
            " Confirm model restore ".to_string(),
            format!("Let model {model} serve its orders again?"),
        ),
    };
    let rect = centered(area, 64, 7);
    let inner = popup(app, &title, rect, buf);
    put(
        buf,
        inner.x + 1,
        inner.y + 1,
        &question,
        inner.width.saturating_sub(2),
        Style::default().fg(t.fg).add_modifier(Modifier::BOLD),
    );
    let button = |focused: bool| {
        if focused {
            Style::default()
                .fg(t.selected_fg)
                .bg(t.selected_bg)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::default().fg(t.fg)
        }
    };
    let y = inner.y + 3;
    let x = inner.x + inner.width / 2 - 12;
    put(buf, x, y, "[ No ]", 6, button(!c.yes_focused));
    put(buf, x + 10, y, "[ Yes ]", 7, button(c.yes_focused));
    put(
        buf,
        inner.x + 1,
        inner.y + inner.height - 1,
        "y yes · n/Esc no · Tab switch · Enter picks the focused one",
        inner.width.saturating_sub(2),
        Style::default().fg(t.dim),
    );
}

fn retune(app: &App, f: &RetuneForm, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let rect = centered(area, 64, 10);
    let inner = popup(app, &format!(" Retune {} ", f.order_id), rect, buf);
    for (i, name) in RETUNE_FIELDS.iter().enumerate() {
        let y = inner.y + i as u16;
        let focused = i == f.focus;
        let label = if focused {
            Style::default().fg(t.accent).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(t.dim)
        };
        put(
            buf,
            inner.x + 1,
            y,
            if focused { "▶" } else { " " },
            1,
            label,
        );
        put(buf, inner.x + 3, y, name, 18, label);
        let value = Style::default().fg(t.fg).add_modifier(if focused {
            Modifier::UNDERLINED
        } else {
            Modifier::empty()
        });
        let x = put(
            buf,
            inner.x + 22,
            y,
            &f.fields[i],
            inner.width.saturating_sub(23),
            value,
        );
        if focused {
            put(buf, x, y, "▏", 1, Style::default().fg(t.accent));
        }
    }
    let hint_y = inner.y + RETUNE_FIELDS.len() as u16 + 1;
    if let Some(e) = &f.error {
        put(
            buf,
            inner.x + 1,
            hint_y,
            &format!("✗ {e}"),
            inner.width.saturating_sub(2),
            Style::default().fg(t.refused).add_modifier(Modifier::BOLD),
        );
    }
    put(
        buf,
        inner.x + 1,
        inner.y + inner.height - 1,
        "Tab next · Enter send · Esc cancel · empty limit = none",
        inner.width.saturating_sub(2),
        Style::default().fg(t.dim),
    );
}

fn override_form(app: &App, f: &OverrideForm, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let rect = centered(area, 64, 8);
    let inner = popup(app, &format!(" Override {} ", f.order_id), rect, buf);
    let target = f
        .choices
        .get(f.choice)
        .map(|c| c.label())
        .unwrap_or_default();
    let focus_style = |on: bool| {
        if on {
            Style::default().fg(t.accent).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(t.dim)
        }
    };
    put(
        buf,
        inner.x + 1,
        inner.y,
        "force",
        10,
        focus_style(f.focus == 0),
    );
    put(
        buf,
        inner.x + 12,
        inner.y,
        &format!("◀ {target} ▶"),
        inner.width.saturating_sub(13),
        Style::default().fg(t.fg),
    );
    put(
        buf,
        inner.x + 1,
        inner.y + 1,
        "decisions",
        10,
        focus_style(f.focus == 1),
    );
    let n = if f.decisions.is_empty() {
        "until released"
    } else {
        f.decisions.as_str()
    };
    put(
        buf,
        inner.x + 12,
        inner.y + 1,
        n,
        inner.width.saturating_sub(13),
        Style::default().fg(t.fg),
    );
    if let Some(e) = &f.error {
        put(
            buf,
            inner.x + 1,
            inner.y + 3,
            &format!("✗ {e}"),
            inner.width.saturating_sub(2),
            Style::default().fg(t.refused),
        );
    }
    put(
        buf,
        inner.x + 1,
        inner.y + inner.height - 1,
        "←/→ choose · Tab field · digits = N decisions · Enter send",
        inner.width.saturating_sub(2),
        Style::default().fg(t.dim),
    );
}
