//! The shadow model on screen: its status in the header, and in the detail
//! pane the engine's and the shadow's distributions side by side.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::util::{put, put_clipped};
use crate::console::app::App;
use crate::console::shadow::{ShadowScore, ShadowStatus};
use crate::model::Action;

/// Cells of one probability bar.
const BAR: usize = 10;
/// Longest header note; the full reason is in the error it came from.
const NOTE_MAX: usize = 64;
/// Columns: action name, engine bar + value, shadow bar + value.
const NAME_W: u16 = 11;
const COL_W: u16 = BAR as u16 + 8;

/// The header's shadow note and whether it is a warning; nothing when no
/// shadow was asked for.
pub fn header_note(app: &App) -> Option<(String, bool)> {
    let s = &app.shadow;
    match &s.status {
        ShadowStatus::None => None,
        ShadowStatus::Loading { .. } => Some(("shadow loading…".into(), false)),
        ShadowStatus::On { model_id } if s.unscored > 0 => {
            Some((format!("shadow {model_id} ({} unscored)", s.unscored), true))
        }
        ShadowStatus::On { model_id } => Some((format!("shadow {model_id}"), false)),
        ShadowStatus::Off { reason } => Some((
            elide_middle(&format!("shadow off: {reason}"), NOTE_MAX),
            true,
        )),
    }
}

/// `text` cut to `max` characters in the middle, where a long path is least telling.
fn elide_middle(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let mut out: String = text.chars().take(head).collect();
    out.push('…');
    out.extend(text.chars().skip(n - tail));
    out
}

/// Rows the comparison takes, given the rows that can be spared.
pub fn height(spare: u16) -> u16 {
    let full = 2 + Action::ALL.len() as u16;
    if spare < 4 {
        0
    } else {
        full.min(spare)
    }
}

/// Horizontal bar of `BAR` cells for a probability, in eighths of a cell.
fn hbar(p: f64) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (p.clamp(0.0, 1.0) * (BAR * 8) as f64).round() as usize;
    let mut s: String = "█".repeat(eighths / 8);
    let rest = eighths % 8;
    if rest > 0 {
        s.push(PARTS[rest]);
    }
    while s.chars().count() < BAR {
        s.push('·');
    }
    s
}

pub fn render(app: &App, score: &ShadowScore, diverging: bool, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width < 10 {
        return;
    }
    let t = &app.theme;
    let end = area.x + area.width;
    let dim = Style::default().fg(t.dim);
    let j = &score.judgement;
    let mut x = area.x + 1;
    let (flag, style) = if diverging {
        (
            "≠ DIVERGES",
            Style::default().fg(t.critical).add_modifier(Modifier::BOLD),
        )
    } else {
        ("= agrees", Style::default().fg(t.ok))
    };
    let shadow = format!("shadow {} ", score.model_id);
    x = put(
        buf,
        x,
        area.y,
        &shadow,
        end.saturating_sub(x),
        Style::default().fg(t.fg),
    );
    x = put(buf, x, area.y, flag, end.saturating_sub(x), style);
    let agreement = score.agreement.map_or(String::new(), |(rate, n)| {
        format!(" · agreement {:.0}% (last {n})", rate * 100.0)
    });
    let summary = format!(" · TV {:.2}{agreement}", j.tv);
    put_clipped(buf, x, area.y, &summary, end.saturating_sub(x), dim);
    if area.height < 2 {
        return;
    }
    let head = dim.add_modifier(Modifier::BOLD);
    let y = area.y + 1;
    let (ex, sx) = (area.x + 1 + NAME_W, area.x + 1 + NAME_W + COL_W);
    put(buf, area.x + 1, y, "ACTION", NAME_W, head);
    put(buf, ex, y, "ENGINE", end.saturating_sub(ex), head);
    put(buf, sx, y, "SHADOW", end.saturating_sub(sx), head);
    let base = Style::default().fg(t.fg);
    for (i, action) in Action::ALL.iter().enumerate() {
        let y = area.y + 2 + i as u16;
        if y >= area.y + area.height {
            break;
        }
        let name_style = if i == score.engine_action {
            base.fg(t.accent).add_modifier(Modifier::BOLD)
        } else {
            base
        };
        put(buf, area.x + 1, y, action.name(), NAME_W - 1, name_style);
        let cells = [
            (ex, &score.engine_probs, i == score.engine_action),
            (sx, &score.shadow_probs, i == j.shadow_action),
        ];
        for (cx, probs, chosen) in cells {
            if cx >= end {
                break;
            }
            let p = probs.get(i).copied().unwrap_or(0.0);
            let bar_style = match (chosen, diverging) {
                (true, true) if cx == sx => base.fg(t.critical),
                (true, _) => base.fg(t.accent),
                (false, _) => base.fg(t.bar),
            };
            let bx = put(buf, cx, y, &hbar(p), end.saturating_sub(cx), bar_style);
            put(buf, bx, y, &format!(" {p:.2}"), end.saturating_sub(bx), dim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{elide_middle, hbar};

    #[test]
    fn long_notes_keep_both_ends() {
        assert_eq!(elide_middle("short", 10), "short");
        let cut = elide_middle(
            "shadow off: /a/very/long/path/to/models/shadow.onnx not found",
            30,
        );
        assert_eq!(cut.chars().count(), 30);
        assert!(cut.starts_with("shadow off: "), "{cut}");
        assert!(cut.ends_with(".onnx not found"), "{cut}");
    }

    #[test]
    fn bars_fill_in_eighths() {
        assert_eq!(hbar(0.0), "··········");
        assert_eq!(hbar(1.0), "██████████");
        assert_eq!(hbar(0.5), "█████·····");
        assert_eq!(hbar(0.0125), "▏·········");
    }
}
