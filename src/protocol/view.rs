//! The session view: a pure reducer from events to the current picture of a
//! session. The engine keeps one to produce snapshots and journal keyframes;
//! clients (the live console, replay) keep one to know what is on screen.
//! Because both sides run this same code, snapshot(n) + events(n+1..=m)
//! always equals snapshot(m).

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::messages::*;

/// How many recent alerts a view keeps (newest first).
pub const ALERTS_KEPT: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub info: OrderInfo,
    pub state: OrderState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub progress: Progress,
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<OverrideInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_decision: Option<LastDecision>,
    pub decisions: u64,
    pub fills: u64,
    /// Child orders currently working at venues.
    pub open_children: Vec<ChildSpec>,
}

impl OrderView {
    pub fn filled_fraction(&self) -> f64 {
        if self.info.qty > 0.0 {
            (self.progress.filled / self.info.qty).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Filled minus scheduled, as a fraction of the order (positive = ahead of schedule).
    pub fn schedule_deviation(&self) -> f64 {
        if self.info.qty > 0.0 {
            (self.progress.filled - self.progress.scheduled) / self.info.qty
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastDecision {
    pub ts: Ts,
    pub action: String,
    pub confidence: f64,
    pub model: String,
    pub overridden: bool,
    #[serde(default)]
    pub fell_back: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
}

/// The reducer's verdict on one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event advanced the view.
    Ok,
    /// Already applied (seq at or below the view's): ignored, harmless on resume overlaps.
    Duplicate,
    /// A sequence gap: the view cannot be trusted until resynchronised.
    Gap { expected: u64, got: u64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionView {
    /// Last event applied.
    pub seq: u64,
    pub ts: Ts,
    pub engine_id: String,
    pub session_id: String,
    pub scenario: String,
    pub seed: u64,
    pub state: EngineState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub instruments: Vec<InstrumentInfo>,
    pub contract: ContractInfo,
    pub orders: Vec<OrderView>,
    pub markets: Vec<MarketSummary>,
    /// Most recent alerts, newest first, at most `ALERTS_KEPT`.
    pub alerts: VecDeque<AlertInfo>,
    pub alert_count: u64,
    /// Deployed models: status, guard and kill switch (absent in older snapshots).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelStateInfo>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl Default for SessionView {
    fn default() -> Self {
        SessionView {
            seq: 0,
            ts: 0,
            engine_id: String::new(),
            session_id: String::new(),
            scenario: String::new(),
            seed: 0,
            state: EngineState::Running,
            state_reason: None,
            instruments: Vec::new(),
            contract: ContractInfo::default(),
            orders: Vec::new(),
            markets: Vec::new(),
            alerts: VecDeque::new(),
            alert_count: 0,
            models: Vec::new(),
            index: HashMap::new(),
        }
    }
}

/// Equality of what the view shows; the lookup index is an implementation detail.
impl PartialEq for SessionView {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.ts == other.ts
            && self.engine_id == other.engine_id
            && self.session_id == other.session_id
            && self.scenario == other.scenario
            && self.seed == other.seed
            && self.state == other.state
            && self.state_reason == other.state_reason
            && self.instruments == other.instruments
            && self.contract == other.contract
            && self.orders == other.orders
            && self.markets == other.markets
            && self.alerts == other.alerts
            && self.alert_count == other.alert_count
    }
}

impl SessionView {
    pub fn new() -> Self {
        Self::default()
    }

    /// A deployed model's state, by registry name.
    pub fn model(&self, name: &str) -> Option<&ModelStateInfo> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn order(&self, order_id: &str) -> Option<&OrderView> {
        self.position(order_id).map(|i| &self.orders[i])
    }

    pub fn instrument(&self, symbol: &str) -> Option<&InstrumentInfo> {
        self.instruments.iter().find(|i| i.symbol == symbol)
    }

    pub fn market(&self, symbol: &str) -> Option<&MarketSummary> {
        self.markets.iter().find(|m| m.symbol == symbol)
    }

    /// Index of an order; the lookup table is rebuilt lazily after deserialisation.
    pub fn position(&self, order_id: &str) -> Option<usize> {
        if self.index.len() == self.orders.len() {
            self.index.get(order_id).copied()
        } else {
            self.orders.iter().position(|o| o.info.order_id == order_id)
        }
    }

    fn order_mut(&mut self, order_id: &str) -> Option<&mut OrderView> {
        if self.index.len() != self.orders.len() {
            self.rebuild_index();
        }
        let i = *self.index.get(order_id)?;
        self.orders.get_mut(i)
    }

    fn rebuild_index(&mut self) {
        self.index = self
            .orders
            .iter()
            .enumerate()
            .map(|(i, o)| (o.info.order_id.clone(), i))
            .collect();
    }

    /// Apply one event. Events must arrive in `seq` order without gaps; the
    /// first event applied to an empty view may have any `seq`.
    pub fn apply(&mut self, env: &EventEnvelope) -> Applied {
        if self.seq != 0 || !self.engine_id.is_empty() {
            if env.seq <= self.seq {
                return Applied::Duplicate;
            }
            if env.seq != self.seq + 1 {
                return Applied::Gap {
                    expected: self.seq + 1,
                    got: env.seq,
                };
            }
        }
        self.seq = env.seq;
        self.ts = self.ts.max(env.ts);
        self.apply_event(env.ts, &env.event);
        Applied::Ok
    }

    fn apply_event(&mut self, ts: Ts, event: &Event) {
        match event {
            Event::Session {
                engine_id,
                session_id,
                scenario,
                seed,
                instruments,
                contract,
            } => {
                self.engine_id = engine_id.clone();
                self.session_id = session_id.clone();
                self.scenario = scenario.clone();
                self.seed = *seed;
                self.instruments = instruments.clone();
                self.contract = contract.clone();
            }
            Event::EngineState { state, reason } => {
                self.state = *state;
                self.state_reason = reason.clone();
            }
            Event::OrderNew { order } => {
                if self.position(&order.order_id).is_some() {
                    return;
                }
                if self.index.len() != self.orders.len() {
                    self.rebuild_index();
                }
                self.index.insert(order.order_id.clone(), self.orders.len());
                self.orders.push(OrderView {
                    info: order.clone(),
                    state: OrderState::Pending,
                    state_reason: None,
                    progress: Progress::default(),
                    override_: None,
                    last_decision: None,
                    decisions: 0,
                    fills: 0,
                    open_children: Vec::new(),
                });
            }
            Event::OrderState {
                order_id,
                state,
                reason,
            } => {
                if let Some(o) = self.order_mut(order_id) {
                    o.state = *state;
                    o.state_reason = reason.clone();
                    if state.is_terminal() {
                        o.open_children.clear();
                    }
                }
            }
            Event::OrderProgress { order_id, progress } => {
                if let Some(o) = self.order_mut(order_id) {
                    o.progress = progress.clone();
                }
            }
            Event::OrderParams {
                order_id,
                params,
                override_,
                strategy,
                qty,
            } => {
                if let Some(o) = self.order_mut(order_id) {
                    if let Some(q) = qty {
                        o.info.qty = *q;
                    }
                    o.info.params = params.clone();
                    o.override_ = override_.clone();
                    o.info.strategy = strategy.clone();
                }
            }
            Event::Decision(d) => {
                if let Some(o) = self.order_mut(&d.order_id) {
                    o.decisions += 1;
                    o.last_decision = Some(LastDecision {
                        ts,
                        action: d.action.clone(),
                        confidence: d.confidence,
                        model: d.model.clone(),
                        overridden: d.overridden,
                        fell_back: d.fell_back,
                        fallback_reason: d.fallback_reason.clone(),
                    });
                }
            }
            Event::ChildSent { order_id, child } => {
                if let Some(o) = self.order_mut(order_id) {
                    o.open_children.push(child.clone());
                }
            }
            Event::ChildCancelled {
                order_id, child_id, ..
            } => {
                if let Some(o) = self.order_mut(order_id) {
                    o.open_children.retain(|c| &c.child_id != child_id);
                }
            }
            Event::Fill {
                order_id,
                child_id,
                qty,
                ..
            } => {
                if let Some(o) = self.order_mut(order_id) {
                    o.fills += 1;
                    if let Some(pos) = o.open_children.iter().position(|c| &c.child_id == child_id)
                    {
                        let c = &mut o.open_children[pos];
                        c.qty -= qty;
                        // Quantities are whole lots on the wire; anything below half a
                        // lot left is float noise, the child is complete.
                        if c.qty <= 1e-9 {
                            o.open_children.remove(pos);
                        }
                    }
                }
            }
            Event::Market(m) => {
                if let Some(existing) = self.markets.iter_mut().find(|x| x.symbol == m.symbol) {
                    *existing = m.clone();
                } else {
                    self.markets.push(m.clone());
                }
            }
            Event::Alert(a) => {
                self.alert_count += 1;
                self.alerts.push_front(a.clone());
                self.alerts.truncate(ALERTS_KEPT);
            }
            Event::CommandApplied { .. } => {}
            Event::ModelState(m) => match self.models.iter_mut().find(|x| x.name == m.name) {
                Some(existing) => *existing = m.clone(),
                None => self.models.push(m.clone()),
            },
        }
    }
}
