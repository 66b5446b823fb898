//! The application: UI state around the `ConsoleState`, and `update`, which
//! turns input (keys, ticks, network events) into state changes and effects.
//! It never performs I/O itself; `run.rs` carries out the effects.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use crate::protocol::text::format_clock;
use crate::protocol::{
    ClientMessage, Command, EngineState, Event, GuardState, OrderState, ResumeMode, ServerMessage,
    Severity,
};

pub use crate::protocol::text::state_label;

mod actions;
mod modes;

use super::client::NetEvent;
use super::forms::{set_retune_field, OverrideForm, RetuneForm, RETUNE_FIELDS};
use super::keymap::{Action, KeySpec, Keymap};
use super::shadow::{ShadowEvent, ShadowRequest, ShadowState};
use super::state::{ConsoleState, Outcome, RunChange};
use super::theme::Theme;

/// No message for this long and the data on screen is marked STALE.
pub const STALE_AFTER: Duration = Duration::from_secs(2);
/// How long "connected" / "resumed" / "resynchronised" notes stay in the header.
pub const NOTE_FOR: Duration = Duration::from_secs(5);

#[derive(Debug)]
// Moved once per message; boxing would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Msg {
    Key(KeyEvent),
    Net(NetEvent),
    /// Frame tick: lets time-based state (staleness, notes) advance.
    Tick,
    /// The shadow worker's answer (model loaded or not, a decision scored).
    Shadow(ShadowEvent),
}

/// Side effects requested by `update`, carried out by the runtime.
#[derive(Debug, Clone, PartialEq)]
// Moved once per message; boxing would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Effect {
    Send(ClientMessage),
    /// On a bus: send to this engine only.
    SendTo {
        engine: String,
        msg: ClientMessage,
    },
    /// Drop the connection and reconnect with `hello {resume_from}`.
    Reconnect {
        resume_from: Option<u64>,
    },
    LoadTheme(String),
    /// Score a decision with the shadow model (off the UI thread).
    Shadow(ShadowRequest),
    Quit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    Connecting {
        attempt: u32,
    },
    Live,
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    /// The engine refused us for good (bad token, wrong protocol).
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct LinkStatus {
    pub link: Link,
    pub rtt: Option<Duration>,
    pub stale: bool,
    /// "connected" / "resumed" / "resynchronised from snapshot", with when it was set.
    pub note: Option<(String, Instant)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Blotter,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Arrival,
    /// Most behind schedule first.
    Behind,
    /// Worst slippage first.
    Slippage,
    /// On a bus: grouped by engine, then arrival.
    Engine,
}

impl SortBy {
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Engine => "engine",
            SortBy::Arrival => "arrival",
            SortBy::Behind => "behind schedule",
            SortBy::Slippage => "slippage",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmKind {
    Cancel {
        order_id: String,
    },
    KillSwitch,
    /// On a bus over many engines: the kill switch on one engine (`Some`)
    /// or on all of them; `a` in the dialog switches between the two.
    KillSwitchOn {
        engine: Option<String>,
        /// The selected order's engine, the one-engine choice.
        selected: Option<String>,
        engines: usize,
    },
    /// The model kill switch: its orders follow the baseline schedule.
    KillModel {
        model: String,
        orders: u32,
    },
    /// Undo it (or a tripped guard).
    RestoreModel {
        model: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub kind: ConfirmKind,
    /// Focus starts on "No"; Enter only confirms when "Yes" is focused.
    pub yes_focused: bool,
    /// The key that opened the dialog: pressing it again never confirms.
    pub opened_by: KeySpec,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    Filter(String),
    CommandLine(String),
    Confirm(Confirm),
    Retune(RetuneForm),
    Override(OverrideForm),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    /// A command the engine accepted, a halt that ended.
    Success,
    Error,
}

pub struct App {
    /// Always up to date, even while the display is frozen.
    pub live: ConsoleState,
    /// What the screen shows while frozen.
    pub frozen: Option<Box<ConsoleState>>,
    pub link: LinkStatus,
    pub keymap: Keymap,
    pub theme: Theme,
    pub theme_names: Vec<String>,
    pub selected: Option<String>,
    /// While an action runs for the command line: the order it names.
    target: Option<String>,
    pub focus: Focus,
    pub mode: Mode,
    pub filter: String,
    pub sort: SortBy,
    pub status: Option<(String, StatusKind)>,
    pub should_quit: bool,
    /// Set when the app shows a recording (`vigil replay`): why commands are
    /// unavailable. Command keys answer with it; nothing is ever sent.
    pub replay: Option<String>,
    /// The shadow model's status, thresholds and agreement windows.
    pub shadow: ShadowState,
    next_command: u64,
    /// Id of the current connection; messages from older ones are dropped
    /// after we asked for a resync (they would only produce more gaps).
    conn: u64,
    accept_from_conn: u64,
    last_message_at: Option<Instant>,
    /// A welcome was received before: the next one is a re-attach.
    welcomed: bool,
    /// The current (re-)attach will be followed by a snapshot that replaces
    /// what we had: worth saying "resynchronised".
    resync_pending: bool,
    /// The engine was seen halted since the last accepted resume all.
    saw_halt: bool,
    /// On a bus: each engine's link, clock and state (empty on one WebSocket).
    pub fleet: Vec<crate::console::fleet::EngineStatus>,
}

impl App {
    pub fn new(keymap: Keymap, theme: Theme, theme_names: Vec<String>) -> Self {
        App {
            live: ConsoleState::new(),
            frozen: None,
            link: LinkStatus {
                link: Link::Connecting { attempt: 0 },
                rtt: None,
                stale: false,
                note: None,
            },
            keymap,
            theme,
            theme_names,
            selected: None,
            target: None,
            focus: Focus::Blotter,
            mode: Mode::Normal,
            filter: String::new(),
            sort: SortBy::Arrival,
            status: None,
            should_quit: false,
            replay: None,
            shadow: ShadowState::default(),
            next_command: 1,
            conn: 0,
            accept_from_conn: 0,
            last_message_at: None,
            welcomed: false,
            resync_pending: false,
            saw_halt: false,
            fleet: Vec::new(),
        }
    }

    /// The state the screen shows (frozen copy or live).
    pub fn shown(&self) -> &ConsoleState {
        self.frozen.as_deref().unwrap_or(&self.live)
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// Indices into `shown().view.orders` of the rows on screen, filtered and sorted.
    pub fn visible_orders(&self) -> Vec<usize> {
        let state = self.shown();
        let needle = self.filter.to_ascii_lowercase();
        let mut rows: Vec<usize> = state
            .view
            .orders
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                needle.is_empty()
                    || [
                        o.info.order_id.as_str(),
                        o.info.symbol.as_str(),
                        o.info.strategy.as_str(),
                        state_label(o.state),
                    ]
                    .iter()
                    .any(|f| f.to_ascii_lowercase().contains(&needle))
            })
            .map(|(i, _)| i)
            .collect();
        let orders = &state.view.orders;
        match self.sort {
            SortBy::Arrival => {}
            SortBy::Behind => rows.sort_by(|&a, &b| {
                orders[a]
                    .schedule_deviation()
                    .total_cmp(&orders[b].schedule_deviation())
            }),
            SortBy::Engine => rows.sort_by_key(|&i| {
                let id = orders[i].info.order_id.as_str();
                crate::protocol::bus::split_qualified(id).map_or(id, |(e, _)| e)
            }),
            SortBy::Slippage => rows.sort_by(|&a, &b| {
                let s = |i: usize| orders[i].progress.slippage_bps.unwrap_or(f64::MIN);
                s(b).total_cmp(&s(a))
            }),
        }
        rows
    }

    /// The selected order's index, falling back to the first visible row.
    pub fn selected_index(&self, rows: &[usize]) -> Option<usize> {
        let orders = &self.shown().view.orders;
        self.selected
            .as_deref()
            .and_then(|id| rows.iter().position(|&i| orders[i].info.order_id == id))
            .or(if rows.is_empty() { None } else { Some(0) })
    }

    fn selected_order_id(&self) -> Option<String> {
        let rows = self.visible_orders();
        self.selected_index(&rows)
            .map(|p| self.shown().view.orders[rows[p]].info.order_id.clone())
    }

    fn set_status(&mut self, text: impl Into<String>, kind: StatusKind) {
        self.status = Some((text.into(), kind));
    }

    /// The engine just answered a command: say how, in the status line, with
    /// the whole reason when it refused.
    fn report_outcome(&mut self) {
        let Some(out) = self.live.outcomes.newest() else {
            return;
        };
        let what = super::state::describe_command(&out.command);
        let (text, kind) = if out.ok {
            let mut text = format!("✓ {what} accepted");
            if matches!(out.command, Command::ResumeAll)
                && self.live.view.state == EngineState::Running
                && std::mem::take(&mut self.saw_halt)
            {
                text.push_str(" — halt ended, engine running");
            }
            (text, StatusKind::Success)
        } else {
            (
                format!(
                    "✗ {what} refused: {}",
                    out.reason.as_deref().unwrap_or("no reason given")
                ),
                StatusKind::Error,
            )
        };
        self.set_status(text, kind);
    }

    pub fn set_theme(&mut self, theme: Theme) {
        self.set_status(format!("theme: {}", theme.name), StatusKind::Info);
        self.theme = theme;
    }

    pub fn report_error(&mut self, text: impl Into<String>) {
        self.set_status(text, StatusKind::Error);
    }

    /// The one entry point: fold a message into the app, return what to do.
    pub fn update(&mut self, msg: Msg, now: Instant) -> Vec<Effect> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Net(ev) => self.on_net(ev, now),
            Msg::Tick => {
                self.on_tick(now);
                Vec::new()
            }
            Msg::Shadow(ev) => {
                if let Some(outcome) = self.shadow.on_event(ev, &self.live) {
                    outcome.apply(&mut self.live);
                }
                Vec::new()
            }
        }
    }

    fn on_tick(&mut self, now: Instant) {
        let stale = self.link.link == Link::Live
            && self
                .last_message_at
                .is_some_and(|t| now.duration_since(t) >= STALE_AFTER);
        if stale && !self.link.stale {
            self.live.push_console_alert(
                Severity::Warning,
                "stale_data",
                format!("no data from the engine for {}s", STALE_AFTER.as_secs()),
            );
        }
        self.link.stale = stale;
        if let Some((_, at)) = &self.link.note {
            if now.duration_since(*at) > NOTE_FOR {
                self.link.note = None;
            }
        }
    }

    fn on_net(&mut self, ev: NetEvent, now: Instant) -> Vec<Effect> {
        match ev {
            NetEvent::Connecting { attempt } => {
                self.link.link = if attempt == 0 {
                    Link::Connecting { attempt }
                } else {
                    match &self.link.link {
                        Link::Reconnecting { reason, .. } => Link::Reconnecting {
                            attempt,
                            reason: reason.clone(),
                        },
                        _ => Link::Reconnecting {
                            attempt,
                            reason: String::new(),
                        },
                    }
                };
                Vec::new()
            }
            NetEvent::Connected { conn } => {
                self.conn = conn;
                self.accept_from_conn = self.accept_from_conn.max(conn);
                self.last_message_at = Some(now);
                Vec::new()
            }
            NetEvent::Rtt(rtt) => {
                self.link.rtt = Some(rtt);
                Vec::new()
            }
            NetEvent::Disconnected {
                conn,
                attempt,
                reason,
            } => {
                if conn >= self.accept_from_conn {
                    self.link.link = Link::Reconnecting { attempt, reason };
                    self.link.stale = false;
                }
                Vec::new()
            }
            NetEvent::Fleet(statuses) => {
                self.fleet = statuses;
                Vec::new()
            }
            NetEvent::Fatal(reason) => {
                self.link.link = Link::Failed(reason.clone());
                self.report_error(reason);
                Vec::new()
            }
            NetEvent::Message { conn, msg } => {
                if conn < self.accept_from_conn {
                    return Vec::new();
                }
                self.last_message_at = Some(now);
                self.link.stale = false;
                let pending_before = self.live.pending.len();
                let was_halted = self.live.view.state == EngineState::Halted;
                let outcome = self.live.apply(&msg);
                self.saw_halt |= self.live.view.state == EngineState::Halted;
                if self.live.pending.len() < pending_before {
                    self.report_outcome();
                }
                if was_halted && self.live.view.state == EngineState::Running {
                    self.set_status(
                        "▶ halt ended — engine running, child orders flow again",
                        StatusKind::Success,
                    );
                }
                let mut effects = match outcome.clone() {
                    Outcome::Gap { expected, got } => {
                        let resume = self.live.view.seq;
                        self.live.push_console_alert(
                            Severity::Critical,
                            "gap",
                            format!(
                                "missed events {expected}..{}: resynchronising",
                                got.saturating_sub(1)
                            ),
                        );
                        self.link.link = Link::Reconnecting {
                            attempt: 0,
                            reason: format!("gap at seq {expected}"),
                        };
                        self.accept_from_conn = self.conn + 1;
                        vec![Effect::Reconnect {
                            resume_from: Some(resume),
                        }]
                    }
                    Outcome::Welcome { resume, run } => {
                        let reattach = std::mem::replace(&mut self.welcomed, true);
                        self.link.link = Link::Live;
                        // On a bus every engine that joins says welcome again:
                        // that is the picture growing, not a resync.
                        let on_bus = self.live.instance_id == "bus";
                        self.resync_pending = reattach && resume == ResumeMode::Snapshot && !on_bus;
                        match run {
                            RunChange::Same => {}
                            RunChange::Recovered(r) => {
                                let text = format!(
                                    "engine restarted at {}, recovered {} orders",
                                    format_clock(r.at_ts),
                                    r.orders
                                );
                                self.live.push_console_alert(
                                    Severity::Warning,
                                    "engine_restarted",
                                    text.clone(),
                                );
                                self.set_status(text, StatusKind::Info);
                            }
                            RunChange::Replaced => {
                                let text = "engine restarted — state reloaded (a new engine run: what the old one showed is gone)";
                                self.live.push_console_alert(
                                    Severity::Critical,
                                    "engine_replaced",
                                    text.into(),
                                );
                                self.set_status(text, StatusKind::Error);
                                self.resync_pending = false;
                            }
                        }
                        self.link.note = match (reattach, resume) {
                            // A first attach is just that; its snapshot is no resync.
                            (false, _) => Some(("connected".into(), now)),
                            (true, _) if on_bus => Some(("engine joined".into(), now)),
                            (true, ResumeMode::Events) => Some(("resumed".into(), now)),
                            // The snapshot that follows sets the note.
                            (true, ResumeMode::Snapshot) => None,
                        };
                        Vec::new()
                    }
                    Outcome::Snapshot => {
                        if std::mem::take(&mut self.resync_pending) {
                            self.link.note = Some(("resynchronised from snapshot".into(), now));
                        }
                        Vec::new()
                    }
                    _ => Vec::new(),
                };
                if let (Outcome::Applied, ServerMessage::Event(env)) = (&outcome, &msg) {
                    if let Event::Decision(d) = &env.event {
                        let contract = &self.live.view.contract;
                        if let Some(req) = self.shadow.request(contract, env.ts, d) {
                            effects.push(Effect::Shadow(req));
                        }
                    }
                }
                effects
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.on_normal_key(key),
            Mode::Help => Vec::new(),
            Mode::Confirm(c) => self.on_confirm_key(c, key),
            Mode::Filter(text) => {
                self.on_filter_key(text, key);
                Vec::new()
            }
            Mode::CommandLine(text) => self.on_command_line_key(text, key),
            Mode::Retune(form) => self.on_retune_key(form, key),
            Mode::Override(form) => self.on_override_key(form, key),
        }
    }
}
