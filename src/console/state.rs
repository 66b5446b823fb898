//! The console's picture of a session: the protocol's `SessionView` plus what
//! only a human needs on screen (bounded histories for charts, the decision
//! log, commands awaiting their ack, alerts with their time).
//!
//! `ConsoleState::apply` is the reducer shared by the live console and replay.
//! It is pure and deterministic: no clocks, no I/O. Anything time-dependent
//! (staleness, connection notes) is pushed in by the caller with explicit
//! arguments.

use std::collections::{HashMap, VecDeque};

use crate::protocol::view::Applied;
use crate::protocol::{
    Ack, AlertInfo, Command, Event, EventEnvelope, Restart, ResumeMode, Role, ServerMessage,
    SessionView, Severity, Ts, Welcome,
};

use super::series::{Ring, Series};
pub use crate::divergence::Divergence;
use crate::divergence::ShadowScore;
pub use crate::protocol::text::{describe_command, format_ts};

/// Decisions kept per order for the decision log.
pub const DECISIONS_KEPT: usize = 64;
/// Points kept per chart series (older points are thinned, not dropped, so the
/// chart always spans the whole order).
pub const SERIES_POINTS: usize = 512;
/// Fills kept per order for the price chart.
pub const FILLS_KEPT: usize = 256;
/// Alerts kept on screen (newest first).
pub const ALERTS_KEPT: usize = 200;
/// Commands waiting for an ack; beyond this the oldest is reported as lost.
pub const PENDING_KEPT: usize = 64;
/// Resolved commands remembered for the footer / detail pane.
pub const OUTCOMES_KEPT: usize = 32;
/// Probabilities / features stored inline per decision (no allocation per event).
pub const MAX_ACTIONS: usize = 8;
pub const MAX_FEATURES: usize = 16;

/// One entry of the decision log, stored without heap allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub ts: Ts,
    /// Index into the contract's actions (`u8::MAX` if unknown to the contract).
    pub action: u8,
    pub confidence: f32,
    pub overridden: bool,
    pub n_probs: u8,
    pub probs: [f32; MAX_ACTIONS],
    pub n_features: u8,
    pub features: [f32; MAX_FEATURES],
    pub target_qty: f64,
}

impl DecisionRecord {
    pub fn probs(&self) -> &[f32] {
        &self.probs[..self.n_probs as usize]
    }
    pub fn features(&self) -> &[f32] {
        &self.features[..self.n_features as usize]
    }
}

/// Everything the console remembers about one order beyond the `OrderView`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderHistory {
    /// (seconds since midnight, price) of each fill.
    pub fills: Series,
    /// (seconds, filled quantity).
    pub executed: Series,
    /// (seconds, scheduled quantity).
    pub scheduled: Series,
    pub decisions: Ring<DecisionRecord>,
    /// Last action seen, even when the decision log is empty (after a snapshot).
    pub last_child_event: Option<Ts>,
}

impl OrderHistory {
    fn new() -> Self {
        OrderHistory {
            fills: Series::sliding(FILLS_KEPT),
            executed: Series::thinning(SERIES_POINTS),
            scheduled: Series::thinning(SERIES_POINTS),
            decisions: Ring::new(DECISIONS_KEPT),
            last_child_event: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertSource {
    Engine,
    Console,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertEntry {
    /// Simulated time of the alert; unknown for alerts inherited from a snapshot.
    pub ts: Option<Ts>,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub order_id: Option<String>,
    pub source: AlertSource,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PendingCommand {
    pub id: String,
    pub command: Command,
    /// Simulated time at which it was sent (for display only).
    pub sent_ts: Ts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub id: String,
    pub command: Command,
    pub ok: bool,
    pub reason: Option<String>,
}

/// What a welcome says about the engine run behind it, against the last one.
#[derive(Debug, Clone, PartialEq)]
pub enum RunChange {
    /// The run this console knew (or the first one it meets).
    Same,
    /// The same run, recovered from its journal after a crash (said once).
    Recovered(Restart),
    /// Another run: a fresh engine where the old one was. Its snapshot replaces
    /// everything shown.
    Replaced,
}

/// What one server message did to the state; the app turns this into effects.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied,
    Duplicate,
    /// The event stream skipped `expected..got`: the state must be resynchronised.
    Gap {
        expected: u64,
        got: u64,
    },
    Welcome {
        resume: ResumeMode,
        run: RunChange,
    },
    Snapshot,
    Ack {
        ok: bool,
    },
    Heartbeat,
    Error,
    Pong,
}

/// `PartialEq` compares everything the screen can show: replay's tests use it
/// to check that seeking and playing reach the same state.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleState {
    pub view: SessionView,
    pub role: Option<Role>,
    pub user: String,
    pub histories: HashMap<String, OrderHistory>,
    /// Mid (or last) price per symbol over time.
    pub prices: HashMap<String, Series>,
    pub alerts: Ring<AlertEntry>,
    pub pending: VecDeque<PendingCommand>,
    pub outcomes: Ring<CommandOutcome>,
    pub divergence: HashMap<String, Divergence>,
    /// The shadow model's latest score per order (live console only).
    pub shadow: HashMap<String, ShadowScore>,
    /// Last engine-side `error` message, shown until the next one.
    pub last_error: Option<String>,
    /// The engine run attached to (`welcome.instance_id`).
    pub instance_id: String,
    /// The recovery last announced (its `at_seq`), so it is said once.
    pub restart_seen: Option<u64>,
    /// The engine's FIX sessions, when it takes orders over FIX.
    pub fix_sessions: Vec<crate::protocol::FixSessionInfo>,
}

impl Default for ConsoleState {
    fn default() -> Self {
        Self::new()
    }
}

/// Simulated nanoseconds to chart seconds.
pub fn ts_secs(ts: Ts) -> f64 {
    ts as f64 / 1e9
}

impl ConsoleState {
    pub fn new() -> Self {
        ConsoleState {
            view: SessionView::new(),
            role: None,
            user: String::new(),
            histories: HashMap::new(),
            prices: HashMap::new(),
            alerts: Ring::new(ALERTS_KEPT),
            pending: VecDeque::new(),
            outcomes: Ring::new(OUTCOMES_KEPT),
            divergence: HashMap::new(),
            shadow: HashMap::new(),
            last_error: None,
            instance_id: String::new(),
            restart_seen: None,
            fix_sessions: Vec::new(),
        }
    }

    /// Commands are only offered to a trader.
    pub fn can_command(&self) -> bool {
        self.role == Some(Role::Trader)
    }

    pub fn history(&self, order_id: &str) -> Option<&OrderHistory> {
        self.histories.get(order_id)
    }

    pub fn is_pending(&self, order_id: &str) -> bool {
        self.pending
            .iter()
            .any(|p| p.command.order_id() == Some(order_id))
    }

    /// The reducer: fold one server message into the state.
    pub fn apply(&mut self, msg: &ServerMessage) -> Outcome {
        match msg {
            ServerMessage::Event(env) => self.apply_event(env),
            ServerMessage::Snapshot(snap) => {
                self.load_snapshot(snap);
                Outcome::Snapshot
            }
            ServerMessage::Welcome(w) => self.apply_welcome(w),
            ServerMessage::Ack(ack) => self.apply_ack(ack),
            ServerMessage::Heartbeat { .. } => Outcome::Heartbeat,
            ServerMessage::Error { code, message } => {
                self.last_error = Some(format!("{code:?}: {message}"));
                Outcome::Error
            }
            ServerMessage::Pong { .. } => Outcome::Pong,
            ServerMessage::FixSessions { sessions } => {
                self.fix_sessions = sessions.clone();
                Outcome::Heartbeat
            }
        }
    }

    fn apply_welcome(&mut self, w: &Welcome) -> Outcome {
        self.role = Some(w.role);
        self.user = w.user.clone();
        if self.view.engine_id.is_empty() {
            self.view.engine_id = w.engine_id.clone();
        }
        let replaced = !self.instance_id.is_empty()
            && !w.instance_id.is_empty()
            && self.instance_id != w.instance_id;
        self.instance_id = w.instance_id.clone();
        let run = match &w.restart {
            _ if replaced => {
                self.restart_seen = w.restart.as_ref().map(|r| r.at_seq);
                // What the old run had pending will never be answered.
                self.pending.clear();
                RunChange::Replaced
            }
            Some(r) if self.restart_seen != Some(r.at_seq) => {
                self.restart_seen = Some(r.at_seq);
                RunChange::Recovered(r.clone())
            }
            _ => RunChange::Same,
        };
        Outcome::Welcome {
            resume: w.resume,
            run,
        }
    }

    fn load_snapshot(&mut self, snap: &SessionView) {
        self.view = snap.clone();
        // Histories of orders the engine no longer knows would never be pruned otherwise.
        let view = &self.view;
        self.histories.retain(|id, _| view.position(id).is_some());
        self.shadow.retain(|id, _| view.position(id).is_some());
        self.alerts.clear();
        for a in self.view.alerts.iter().rev() {
            self.alerts.push(engine_alert(None, a));
        }
        for o in &self.view.orders {
            let h = self
                .histories
                .entry(o.info.order_id.clone())
                .or_insert_with(OrderHistory::new);
            let t = ts_secs(self.view.ts);
            h.executed.push(t, o.progress.filled);
            h.scheduled.push(t, o.progress.scheduled);
        }
    }

    fn apply_event(&mut self, env: &EventEnvelope) -> Outcome {
        match self.view.apply(env) {
            Applied::Ok => {}
            Applied::Duplicate => return Outcome::Duplicate,
            Applied::Gap { expected, got } => return Outcome::Gap { expected, got },
        }
        let ts = env.ts;
        let t = ts_secs(ts);
        match &env.event {
            Event::OrderNew { order } => {
                let h = self
                    .histories
                    .entry(order.order_id.clone())
                    .or_insert_with(OrderHistory::new);
                h.executed.push(t, 0.0);
                h.scheduled.push(t, 0.0);
            }
            Event::OrderProgress { order_id, progress } => {
                if let Some(h) = self.histories.get_mut(order_id.as_str()) {
                    h.executed.push(t, progress.filled);
                    h.scheduled.push(t, progress.scheduled);
                }
            }
            Event::Decision(d) => {
                let action = self
                    .view
                    .contract
                    .actions
                    .iter()
                    .position(|a| *a == d.action)
                    .map_or(u8::MAX, |i| i as u8);
                if let Some(h) = self.histories.get_mut(d.order_id.as_str()) {
                    let mut rec = DecisionRecord {
                        ts,
                        action,
                        confidence: d.confidence as f32,
                        overridden: d.overridden,
                        n_probs: d.probs.len().min(MAX_ACTIONS) as u8,
                        probs: [0.0; MAX_ACTIONS],
                        n_features: d.features.len().min(MAX_FEATURES) as u8,
                        features: [0.0; MAX_FEATURES],
                        target_qty: d.target_qty,
                    };
                    for (dst, src) in rec.probs.iter_mut().zip(&d.probs) {
                        *dst = *src as f32;
                    }
                    for (dst, src) in rec.features.iter_mut().zip(&d.features) {
                        *dst = *src as f32;
                    }
                    h.decisions.push(rec);
                }
            }
            Event::ChildSent { order_id, .. } | Event::ChildCancelled { order_id, .. } => {
                if let Some(h) = self.histories.get_mut(order_id.as_str()) {
                    h.last_child_event = Some(ts);
                }
            }
            Event::Fill {
                order_id, price, ..
            } => {
                if let Some(h) = self.histories.get_mut(order_id.as_str()) {
                    h.fills.push(t, *price);
                }
            }
            Event::Market(m) => {
                let price = match (m.bid, m.ask) {
                    (Some(b), Some(a)) => Some((a + b) / 2.0),
                    _ => m.last,
                };
                if let Some(p) = price {
                    if let Some(series) = self.prices.get_mut(m.symbol.as_str()) {
                        series.push(t, p);
                    } else {
                        let mut series = Series::thinning(SERIES_POINTS);
                        series.push(t, p);
                        self.prices.insert(m.symbol.clone(), series);
                    }
                }
            }
            Event::Alert(a) => self.alerts.push(engine_alert(Some(ts), a)),
            Event::CommandApplied {
                command_id,
                ok,
                reason,
                ..
            } => {
                // The ack normally resolves the command; this covers an ack lost
                // across a reconnect, since the event is replayed on resume.
                if self.pending.iter().any(|p| &p.id == command_id) {
                    self.resolve(command_id, *ok, reason.clone());
                }
            }
            Event::Session { .. }
            | Event::EngineState { .. }
            | Event::OrderState { .. }
            | Event::OrderParams { .. }
            | Event::ModelState(_) => {}
        }
        Outcome::Applied
    }

    fn apply_ack(&mut self, ack: &Ack) -> Outcome {
        self.resolve(&ack.id, ack.ok, ack.reason.clone());
        Outcome::Ack { ok: ack.ok }
    }

    fn resolve(&mut self, id: &str, ok: bool, reason: Option<String>) {
        let Some(pos) = self.pending.iter().position(|p| p.id == id) else {
            return;
        };
        let p = self.pending.remove(pos).expect("position is in range");
        if !ok {
            let why = reason.as_deref().unwrap_or("no reason given");
            self.alerts.push(AlertEntry {
                ts: Some(self.view.ts),
                severity: Severity::Warning,
                code: "refused".into(),
                message: format!("{} refused: {why}", describe_command(&p.command)),
                order_id: p.command.order_id().map(str::to_string),
                source: AlertSource::Console,
            });
        }
        self.outcomes.push(CommandOutcome {
            id: p.id,
            command: p.command,
            ok,
            reason,
        });
    }

    /// Record a command the app has just sent, so it shows as pending until its ack.
    pub fn command_sent(&mut self, id: String, command: Command) {
        if self.pending.len() >= PENDING_KEPT {
            if let Some(lost) = self.pending.pop_front() {
                self.outcomes.push(CommandOutcome {
                    id: lost.id,
                    command: lost.command,
                    ok: false,
                    reason: Some("no acknowledgement received".into()),
                });
            }
        }
        self.pending.push_back(PendingCommand {
            id,
            command,
            sent_ts: self.view.ts,
        });
    }

    /// A console-side alert (stale data, resync, connection trouble).
    pub fn push_console_alert(&mut self, severity: Severity, code: &str, message: String) {
        self.push_order_alert(severity, code, None, message);
    }

    /// A console-side alert about one order (e.g. a shadow divergence).
    pub fn push_order_alert(
        &mut self,
        severity: Severity,
        code: &str,
        order_id: Option<&str>,
        message: String,
    ) {
        self.alerts.push(AlertEntry {
            ts: Some(self.view.ts),
            severity,
            code: code.to_string(),
            message,
            order_id: order_id.map(str::to_string),
            source: AlertSource::Console,
        });
    }

    /// Hook for the shadow model: mark (or clear) a divergence on an order.
    pub fn set_divergence(&mut self, order_id: &str, marker: Option<Divergence>) {
        match marker {
            Some(d) => {
                self.divergence.insert(order_id.to_string(), d);
            }
            None => {
                self.divergence.remove(order_id);
            }
        }
    }

    /// The most recent outcome of a command about `order_id`, if any.
    pub fn last_outcome_for(&self, order_id: &str) -> Option<&CommandOutcome> {
        self.outcomes
            .iter_newest_first()
            .find(|o| o.command.order_id() == Some(order_id))
    }

    /// Name of an action index from a `DecisionRecord`.
    pub fn action_name(&self, index: u8) -> &str {
        self.view
            .contract
            .actions
            .get(index as usize)
            .map_or("?", String::as_str)
    }
}

fn engine_alert(ts: Option<Ts>, a: &AlertInfo) -> AlertEntry {
    AlertEntry {
        ts,
        severity: a.severity,
        code: a.code.clone(),
        message: a.message.clone(),
        order_id: a.order_id.clone(),
        source: AlertSource::Engine,
    }
}
