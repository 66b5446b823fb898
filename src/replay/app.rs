//! The replay application: the console's `App` (same screens, same reducer)
//! driven by a `Player` instead of a WebSocket, in read-only mode, plus the
//! transport keys and `:goto`.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use crate::console::app::{App, Effect, Link, Mode, Msg, StatusKind};
use crate::console::keymap::Keymap;
use crate::console::theme::Theme;
use crate::protocol::text::{format_ts, parse_clock};

use super::keys::{ReplayAction, ReplayKeymap};
use super::player::{speed_label, Player};
use super::recording::MarkerKind;

pub struct ReplayApp {
    pub app: App,
    pub player: Player,
    pub keys: ReplayKeymap,
    /// Shown on the timeline when the shadow could not run, and similar notes.
    pub note: Option<String>,
    shown_pos: Option<usize>,
}

impl ReplayApp {
    pub fn new(
        player: Player,
        keymap: Keymap,
        keys: ReplayKeymap,
        theme: Theme,
        themes: Vec<String>,
    ) -> Self {
        let mut app = App::new(keymap, theme, themes);
        app.link.link = Link::Live;
        let name = player
            .rec
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        app.replay = Some(format!(
            "replay of {name} is read-only: commands are not sent (this is a recording)"
        ));
        let mut r = ReplayApp {
            app,
            player,
            keys,
            note: None,
            shown_pos: None,
        };
        if let Some(t) = r.player.rec.truncation_note() {
            r.app.report_error(t);
        } else if !r.player.rec.keyframe_mismatches.is_empty() {
            r.app.report_error(format!(
                "warning: {} journal keyframes differ from the replayed state (first at seq {})",
                r.player.rec.keyframe_mismatches.len(),
                r.player.rec.keyframe_mismatches[0]
            ));
        }
        r.sync();
        r
    }

    /// Show the player's state (only when it moved).
    fn sync(&mut self) {
        if self.shown_pos != Some(self.player.position()) {
            self.app.live = self.player.state.clone();
            self.shown_pos = Some(self.player.position());
        }
    }

    fn status(&mut self, text: String) {
        self.app.status = Some((text, StatusKind::Info));
    }

    fn fail(&mut self, e: anyhow::Error) {
        self.app.report_error(format!("{e:#}"));
    }

    /// Let wall time pass (play), then the console's own tick.
    pub fn tick(&mut self, wall: Duration, now: Instant) {
        if let Err(e) = self.player.advance(wall) {
            self.player.playing = false;
            self.fail(e);
        }
        self.sync();
        self.app.update(Msg::Tick, now);
    }

    pub fn on_key(&mut self, key: KeyEvent, now: Instant) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if let Mode::CommandLine(text) = &self.app.mode {
            if key.code == KeyCode::Enter {
                let text = text.trim().to_string();
                if let Some(arg) = text.strip_prefix("goto") {
                    self.app.mode = Mode::Normal;
                    self.goto(arg.trim());
                    return Vec::new();
                }
            }
        }
        if self.app.mode == Mode::Normal {
            if let Some(action) = self.keys.action_for(&key) {
                self.on_action(action);
                return Vec::new();
            }
        }
        self.app.update(Msg::Key(key), now)
    }

    fn goto(&mut self, arg: &str) {
        match parse_clock(arg).ok() {
            Some(t) => {
                let r = self.player.seek_time(t);
                self.after_seek(r, format!("⇥ {}", format_ts(self.player.clock())));
            }
            None => self
                .app
                .report_error(format!(":goto HH:MM:SS (got `{arg}`)")),
        }
    }

    fn after_seek(&mut self, r: anyhow::Result<()>, text: String) {
        match r {
            Ok(()) => self.status(text),
            Err(e) => self.fail(e),
        }
        self.sync();
    }

    fn selected_order(&self) -> Option<String> {
        let rows = self.app.visible_orders();
        self.app
            .selected_index(&rows)
            .map(|p| self.app.shown().view.orders[rows[p]].info.order_id.clone())
    }

    pub fn on_action(&mut self, action: ReplayAction) {
        use ReplayAction::*;
        let p = &mut self.player;
        match action {
            PlayPause => {
                p.toggle();
                let text = if p.playing {
                    format!("▶ playing at {}", speed_label(p.speed_value()))
                } else {
                    "⏸ paused".into()
                };
                self.status(text);
            }
            Faster | Slower => {
                if action == Faster {
                    p.faster()
                } else {
                    p.slower()
                }
                let text = format!("speed {}", speed_label(p.speed_value()));
                self.status(text);
            }
            SeekBack | SeekForward | SeekBackLong | SeekForwardLong => {
                let secs = match action {
                    SeekBack => -10,
                    SeekForward => 10,
                    SeekBackLong => -60,
                    _ => 60,
                };
                let r = p.seek_by(secs);
                let text = format!("{:+} s → {}", secs, format_ts(p.clock()));
                self.after_seek(r, text);
            }
            Start => {
                let r = p.seek_to(0);
                self.after_seek(r, "⏮ start".into());
            }
            End => {
                let len = p.rec.len();
                let r = p.seek_to(len);
                self.after_seek(r, "⏭ end".into());
            }
            NextMarker | PrevMarker => {
                let kinds = [
                    MarkerKind::Intervention,
                    MarkerKind::Alert,
                    MarkerKind::Divergence,
                ];
                match p.jump_marker(action == NextMarker, &kinds) {
                    Ok(Some(m)) => {
                        if let Some(id) = &m.order_id {
                            self.app.selected = Some(id.clone());
                        }
                        let text =
                            format!("{} at {} — {}", m.kind.label(), format_ts(m.ts), m.text);
                        self.after_seek(Ok(()), text);
                    }
                    Ok(None) => self.status(format!(
                        "no {} intervention, alert or divergence",
                        if action == NextMarker {
                            "later"
                        } else {
                            "earlier"
                        }
                    )),
                    Err(e) => self.fail(e),
                }
            }
            PrevDecision | NextDecision => {
                let Some(order) = self.selected_order() else {
                    self.app.report_error("no order selected");
                    return;
                };
                match self.player.jump_decision(&order, action == NextDecision) {
                    Ok(Some(ts)) => {
                        let text = format!("decision of {order} at {}", format_ts(ts));
                        self.after_seek(Ok(()), text);
                    }
                    Ok(None) => self.status(format!(
                        "no {} decision of {order}",
                        if action == NextDecision {
                            "later"
                        } else {
                            "earlier"
                        }
                    )),
                    Err(e) => self.fail(e),
                }
            }
        }
    }
}
