//! The application: UI state around the `ConsoleState`, and `update`, which
//! turns input (keys, ticks, network events) into state changes and effects.
//! It never performs I/O itself; `run.rs` carries out the effects.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use crate::protocol::{
    ClientMessage, Command, EngineState, Event, GuardState, OrderState, ResumeMode, ServerMessage,
    Severity,
};

pub use crate::protocol::text::state_label;

use super::client::NetEvent;
use super::forms::{set_retune_field, OverrideForm, RetuneForm, RETUNE_FIELDS};
use super::keymap::{Action, KeySpec, Keymap};
use super::shadow::{ShadowEvent, ShadowRequest, ShadowState};
use super::state::{ConsoleState, Outcome};
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
}

impl SortBy {
    pub fn label(self) -> &'static str {
        match self {
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
                let mut effects = match outcome {
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
                    Outcome::Welcome { resume } => {
                        let reattach = std::mem::replace(&mut self.welcomed, true);
                        self.link.link = Link::Live;
                        self.resync_pending = reattach && resume == ResumeMode::Snapshot;
                        self.link.note = match (reattach, resume) {
                            // A first attach is just that; its snapshot is no resync.
                            (false, _) => Some(("connected".into(), now)),
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

    fn on_normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(action) = self.keymap.action_for(&key) else {
            return Vec::new();
        };
        let navigation = matches!(
            action,
            Action::Up
                | Action::Down
                | Action::PageUp
                | Action::PageDown
                | Action::Top
                | Action::Bottom
        );
        // Holding a key down may move the selection, but never fires a command.
        if key.kind == KeyEventKind::Repeat && !navigation {
            return Vec::new();
        }
        self.perform(action, KeySpec::from_event(&key), None)
    }

    /// What an action does, whether a key or the command line asked for it.
    /// `opened_by` is the key a confirmation it opens must not accept;
    /// `target` the order it acts on when named (the command line), else the
    /// selected one.
    fn perform(
        &mut self,
        action: Action,
        opened_by: KeySpec,
        target: Option<String>,
    ) -> Vec<Effect> {
        self.target = target;
        let effects = self.perform_on_target(action, opened_by);
        self.target = None;
        effects
    }

    fn perform_on_target(&mut self, action: Action, opened_by: KeySpec) -> Vec<Effect> {
        match action {
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-20),
            Action::PageDown => self.move_selection(20),
            Action::Top => self.move_selection(i64::MIN / 2),
            Action::Bottom => self.move_selection(i64::MAX / 2),
            Action::FocusDetail => {
                self.focus = match self.focus {
                    Focus::Blotter => Focus::Detail,
                    Focus::Detail => Focus::Blotter,
                }
            }
            Action::Back => {
                self.focus = Focus::Blotter;
                self.status = None;
            }
            Action::Freeze => {
                self.frozen = match self.frozen.take() {
                    Some(_) => None,
                    None => Some(Box::new(self.live.clone())),
                }
            }
            Action::Filter => self.mode = Mode::Filter(self.filter.clone()),
            Action::CommandLine => self.mode = Mode::CommandLine(String::new()),
            Action::Help => self.mode = Mode::Help,
            Action::Sort => {
                self.sort = match self.sort {
                    SortBy::Arrival => SortBy::Behind,
                    SortBy::Behind => SortBy::Slippage,
                    SortBy::Slippage => SortBy::Arrival,
                };
                self.set_status(format!("sorted by {}", self.sort.label()), StatusKind::Info);
            }
            Action::CycleTheme => {
                let pos = self
                    .theme_names
                    .iter()
                    .position(|n| *n == self.theme.name)
                    .map_or(0, |p| p + 1);
                if let Some(name) = self.theme_names.get(pos % self.theme_names.len().max(1)) {
                    return vec![Effect::LoadTheme(name.clone())];
                }
            }
            Action::Quit => {
                self.should_quit = true;
                return vec![Effect::Quit];
            }
            Action::PauseResume => return self.pause_resume_target(),
            Action::Retune => self.open_retune(),
            Action::Override => self.open_override(),
            Action::ReleaseOverride => {
                if let Some(id) = self.target_order_id() {
                    return self.send(Command::ReleaseOverride { order_id: id });
                }
            }
            Action::Cancel => {
                if let Some(order_id) = self.order_for_command() {
                    self.ask(ConfirmKind::Cancel { order_id }, opened_by);
                }
            }
            Action::KillSwitch => {
                if self.commands_allowed() {
                    self.ask(ConfirmKind::KillSwitch, opened_by);
                }
            }
            Action::ResumeAll => return self.send(Command::ResumeAll),
            Action::ModelSwitch => {
                if let Some(kind) = self.model_switch_for_target() {
                    self.ask(kind, opened_by);
                }
            }
        }
        Vec::new()
    }

    /// The model kill switch (or its undo) for the selected order's model.
    fn model_switch_for_target(&mut self) -> Option<ConfirmKind> {
        let order_id = self.order_for_command()?;
        let view = &self.live.view;
        let Some(served) = view.order(&order_id).and_then(|o| o.info.model.clone()) else {
            self.report_error(format!("{order_id} is not served by a model"));
            return None;
        };
        let state = view.model(&served.name);
        Some(match state.map(|m| m.guard) {
            Some(GuardState::Killed) | Some(GuardState::Tripped) => {
                ConfirmKind::RestoreModel { model: served.name }
            }
            _ => ConfirmKind::KillModel {
                orders: state.map_or(0, |m| m.orders),
                model: served.name,
            },
        })
    }

    fn move_selection(&mut self, delta: i64) {
        let rows = self.visible_orders();
        if rows.is_empty() {
            return;
        }
        let current = self.selected_index(&rows).unwrap_or(0) as i64;
        let next = (current.saturating_add(delta)).clamp(0, rows.len() as i64 - 1) as usize;
        self.selected = Some(self.shown().view.orders[rows[next]].info.order_id.clone());
    }

    /// Why commands are disabled right now, if they are.
    pub fn commands_disabled_reason(&self) -> Option<&str> {
        if let Some(why) = &self.replay {
            Some(why)
        } else if !self.live.can_command() {
            Some("read-only: connected as viewer, commands are disabled")
        } else if self.link.link != Link::Live {
            Some("not connected: commands are disabled until the link is back")
        } else {
            None
        }
    }

    fn commands_allowed(&mut self) -> bool {
        match self.commands_disabled_reason().map(str::to_string) {
            Some(why) => {
                self.report_error(why);
                false
            }
            None => true,
        }
    }

    /// The selected order, if commands may be sent about it.
    /// The order an action acts on: the one named, or the selected one.
    fn target_order_id(&self) -> Option<String> {
        self.target.clone().or_else(|| self.selected_order_id())
    }

    fn order_for_command(&mut self) -> Option<String> {
        if !self.commands_allowed() {
            return None;
        }
        let id = self.target_order_id();
        if id.is_none() {
            self.report_error("no order selected");
        }
        id
    }

    fn ask(&mut self, kind: ConfirmKind, opened_by: KeySpec) {
        self.mode = Mode::Confirm(Confirm {
            kind,
            yes_focused: false,
            opened_by,
        });
    }

    fn pause_resume_target(&mut self) -> Vec<Effect> {
        let Some(order_id) = self.order_for_command() else {
            return Vec::new();
        };
        let state = self.live.view.order(&order_id).map(|o| o.state);
        match state {
            Some(s) if s.is_terminal() => {
                self.report_error(format!(
                    "{order_id} is {}: nothing to pause",
                    state_label(s)
                ));
                Vec::new()
            }
            Some(OrderState::Paused) => self.send(Command::Resume { order_id }),
            _ => self.send(Command::Pause { order_id }),
        }
    }

    fn open_retune(&mut self) {
        let Some(id) = self.order_for_command() else {
            return;
        };
        let Some(order) = self.live.view.order(&id) else {
            return;
        };
        let venues = self
            .live
            .view
            .instrument(&order.info.symbol)
            .map(|i| i.venues.iter().map(|v| v.name.clone()).collect())
            .unwrap_or_default();
        self.mode = Mode::Retune(RetuneForm::for_order(order, venues));
    }

    fn open_override(&mut self) {
        let Some(id) = self.order_for_command() else {
            return;
        };
        let mut strategies: Vec<String> = Vec::new();
        for o in &self.live.view.orders {
            if !strategies.contains(&o.info.strategy) {
                strategies.push(o.info.strategy.clone());
            }
        }
        self.mode = Mode::Override(OverrideForm::new(
            id,
            &self.live.view.contract.actions,
            &strategies,
        ));
    }

    /// Send a command (if allowed): it shows as pending until its ack.
    pub fn send(&mut self, command: Command) -> Vec<Effect> {
        if !self.commands_allowed() {
            return Vec::new();
        }
        let id = format!("c{}", self.next_command);
        self.next_command += 1;
        self.live.command_sent(id.clone(), command.clone());
        self.set_status(
            format!(
                "sent {} — waiting for ack",
                super::state::describe_command(&command)
            ),
            StatusKind::Info,
        );
        vec![Effect::Send(ClientMessage::Command { id, command })]
    }

    fn on_confirm_key(&mut self, c: Confirm, key: KeyEvent) -> Vec<Effect> {
        // A held key (auto-repeat) never answers a confirmation, and neither
        // does a second press of the key that opened it.
        if key.kind == KeyEventKind::Repeat || KeySpec::from_event(&key) == c.opened_by {
            self.mode = Mode::Confirm(c);
            return Vec::new();
        }
        let confirmed = match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => true,
            KeyCode::Enter => c.yes_focused,
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') => false,
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                self.mode = Mode::Confirm(Confirm {
                    yes_focused: !c.yes_focused,
                    ..c
                });
                return Vec::new();
            }
            _ => {
                self.mode = Mode::Confirm(c);
                return Vec::new();
            }
        };
        if !confirmed {
            self.set_status("cancelled — nothing sent", StatusKind::Info);
            return Vec::new();
        }
        match c.kind {
            ConfirmKind::Cancel { order_id } => self.send(Command::Cancel { order_id }),
            ConfirmKind::KillSwitch => self.send(Command::KillSwitch {
                reason: Some("operator kill switch".into()),
            }),
            ConfirmKind::KillModel { model, .. } => self.send(Command::KillModel {
                model,
                reason: Some("operator model kill switch".into()),
            }),
            ConfirmKind::RestoreModel { model } => self.send(Command::RestoreModel { model }),
        }
    }

    fn on_filter_key(&mut self, mut text: String, key: KeyEvent) {
        match key.code {
            KeyCode::Esc => {
                self.filter.clear();
                return;
            }
            KeyCode::Enter => return,
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) => text.push(c),
            _ => {}
        }
        // Live filtering: the blotter narrows as the trader types.
        self.filter = text.clone();
        self.mode = Mode::Filter(text);
    }

    fn on_command_line_key(&mut self, mut text: String, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Enter => self.run_command_line(&text),
            KeyCode::Backspace => {
                if text.pop().is_some() {
                    self.mode = Mode::CommandLine(text);
                }
                Vec::new()
            }
            KeyCode::Char(c) => {
                text.push(c);
                self.mode = Mode::CommandLine(text);
                Vec::new()
            }
            _ => {
                self.mode = Mode::CommandLine(text);
                Vec::new()
            }
        }
    }

    /// `:pause P-3`, `:retune P-3 max_participation=0.15`, `:theme light`, `:q`…
    pub fn run_command_line(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let Some(verb) = words.next() else {
            return Vec::new();
        };
        let args: Vec<&str> = words.collect();
        let order_arg = |args: &[&str]| -> Result<String, String> {
            args.first()
                .map(|s| s.to_string())
                .ok_or_else(|| format!(":{verb} needs an order id"))
        };
        // Verbs that a key also does go through `perform`, so both behave
        // the same (confirmations, refusals, what gets sent), on the order
        // they name.
        let enter = KeySpec::parse("Enter").expect("valid");
        let on_order =
            |app: &mut App, args: &[&str], action: Action| -> Result<Vec<Effect>, String> {
                let order_id = order_arg(args)?;
                Ok(app.perform(action, enter, Some(order_id)))
            };
        let result: Result<Vec<Effect>, String> = (|| match verb {
            "q" | "quit" => Ok(self.perform(Action::Quit, enter, None)),
            "theme" => match args.first() {
                Some(name) => Ok(vec![Effect::LoadTheme(name.to_string())]),
                None => Err(format!("themes: {}", self.theme_names.join(", "))),
            },
            "filter" => {
                self.filter = args.join(" ");
                Ok(Vec::new())
            }
            "freeze" if self.frozen.is_none() => Ok(self.perform(Action::Freeze, enter, None)),
            "unfreeze" if self.frozen.is_some() => Ok(self.perform(Action::Freeze, enter, None)),
            "freeze" | "unfreeze" => Ok(Vec::new()),
            "pause" | "resume" => {
                let order_id = order_arg(&args)?;
                let paused = self
                    .live
                    .view
                    .order(&order_id)
                    .map(|o| o.state == OrderState::Paused);
                match (verb, paused) {
                    ("pause", Some(true)) => Err(format!("{order_id} is paused already")),
                    ("resume", Some(false)) => Err(format!("{order_id} is not paused")),
                    _ => on_order(self, &args, Action::PauseResume),
                }
            }
            "release" | "release_override" => on_order(self, &args, Action::ReleaseOverride),
            "cancel" => on_order(self, &args, Action::Cancel),
            "model" => on_order(self, &args, Action::ModelSwitch),
            "resume_all" => Ok(self.perform(Action::ResumeAll, enter, None)),
            "kill" | "kill_switch" => Ok(self.perform(Action::KillSwitch, enter, None)),
            "retune" => {
                let order_id = order_arg(&args)?;
                let venues: Vec<String> = self
                    .live
                    .view
                    .order(&order_id)
                    .and_then(|o| self.live.view.instrument(&o.info.symbol))
                    .map(|i| i.venues.iter().map(|v| v.name.clone()).collect())
                    .unwrap_or_default();
                let mut params = crate::protocol::RetuneParams::default();
                if args.len() < 2 {
                    return Err(":retune ORDER key=value… (urgency, max_participation, target_participation, limit_price, min_child_qty, max_child_qty, venues)".into());
                }
                for kv in &args[1..] {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| format!("expected key=value, got `{kv}`"))?;
                    set_retune_field(&mut params, k, v, &venues)?;
                }
                Ok(self.send(Command::Retune { order_id, params }))
            }
            "override" => {
                let order_id = order_arg(&args)?;
                let (mut action, mut strategy, mut decisions) = (None, None, None);
                for kv in args.iter().skip(1) {
                    match kv.split_once('=') {
                        Some(("action", v)) => action = Some(v.to_string()),
                        Some(("strategy", v)) => strategy = Some(v.to_string()),
                        Some(("decisions" | "n", v)) => {
                            decisions = Some(
                                v.parse::<u32>()
                                    .ok()
                                    .filter(|n| *n > 0)
                                    .ok_or("decisions must be a whole number ≥ 1")?,
                            )
                        }
                        _ => {
                            return Err(format!(
                                "unexpected `{kv}` (action=, strategy=, decisions=)"
                            ))
                        }
                    }
                }
                if action.is_some() == strategy.is_some() {
                    return Err(":override ORDER action=NAME|strategy=NAME [decisions=N]".into());
                }
                if let Some(a) = &action {
                    let actions = &self.live.view.contract.actions;
                    if !actions.is_empty() && !actions.contains(a) {
                        return Err(format!(
                            "unknown action `{a}` (known: {})",
                            actions.join(", ")
                        ));
                    }
                }
                Ok(self.send(Command::Override {
                    order_id,
                    action,
                    strategy,
                    decisions,
                }))
            }
            other => Err(format!("unknown command `:{other}` (press ? for help)")),
        })();
        match result {
            Ok(effects) => effects,
            Err(e) => {
                self.report_error(e);
                Vec::new()
            }
        }
    }

    fn on_retune_key(&mut self, mut form: RetuneForm, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => match form.to_command() {
                Ok(cmd) => return self.send(cmd),
                Err(e) => form.error = Some(e),
            },
            KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % RETUNE_FIELDS.len(),
            KeyCode::BackTab | KeyCode::Up => {
                form.focus = (form.focus + RETUNE_FIELDS.len() - 1) % RETUNE_FIELDS.len()
            }
            KeyCode::Backspace => {
                form.fields[form.focus].pop();
            }
            KeyCode::Char(c) if key.kind != KeyEventKind::Repeat || c.is_ascii_digit() => {
                form.fields[form.focus].push(c)
            }
            _ => {}
        }
        self.mode = Mode::Retune(form);
        Vec::new()
    }

    fn on_override_key(&mut self, mut form: OverrideForm, key: KeyEvent) -> Vec<Effect> {
        let n = form.choices.len().max(1);
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => match form.to_command() {
                Ok(cmd) => return self.send(cmd),
                Err(e) => form.error = Some(e),
            },
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Down | KeyCode::Up => {
                form.focus = 1 - form.focus
            }
            KeyCode::Left if form.focus == 0 => form.choice = (form.choice + n - 1) % n,
            KeyCode::Right if form.focus == 0 => form.choice = (form.choice + 1) % n,
            KeyCode::Backspace if form.focus == 1 => {
                form.decisions.pop();
            }
            KeyCode::Char(c) if form.focus == 1 && c.is_ascii_digit() => form.decisions.push(c),
            _ => {}
        }
        self.mode = Mode::Override(form);
        Vec::new()
    }
}
