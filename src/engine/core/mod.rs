//! The engine core: a deterministic discrete-event loop on a simulated clock.
//! Background market events, decision timers, scenario events and commands
//! are processed one at a time; everything that happens is emitted as a
//! protocol `Event` with a gap-free sequence number. The same seed and the
//! same commands at the same sequence numbers give the same events.
//!
//! One job a file: `clock` (the event loop and event emission), `lifecycle`
//! (a parent order from creation to its end), `decide` (how a decision
//! becomes child orders, step by step), `fills` (what the market reports
//! back), `commands` (what clients ask for). This file holds the engine's
//! state and the accessors the rest of the crate reads it through.

mod clock;
mod commands;
mod decide;
mod fills;
mod lifecycle;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use anyhow::{bail, Result};

use super::deploy::Deployment;
use super::market::{Market, MarketOut};
use super::orders::{ActiveOverride, ParentOrder};
use super::risk::RateLimiter;
use super::scenario::{parse_clock, Controls, Scenario, ScenarioEvent};
use crate::model::{contract::contract_info, Action};
use crate::protocol::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    SessionEnd,
    Scenario(usize),
    VenueRestore { symbol: usize, venue: usize },
    OrderStart(usize),
    OrderEnd(usize),
    Decision { order: usize, generation: u64 },
    Summary,
}

/// Result of a command, as the client's `ack` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub ok: bool,
    pub reason: Option<String>,
    /// Seq of the `command_applied` event.
    pub seq: u64,
    /// The order a `new_order` created.
    pub order_id: Option<String>,
}

/// Options that are not part of the scenario.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub engine_id: String,
    pub seed: Option<u64>,
    /// One policy model for every `adaptive` order, outside the registry.
    pub policy_path: Option<std::path::PathBuf>,
    /// The model registry that says which models serve adaptive orders
    /// (default `models/registry.toml`, or `models/policy.onnx` alone when
    /// there is no registry). Loaded only when an order needs a model, or when
    /// a policy or registry is given.
    pub registry: Option<std::path::PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            engine_id: "vigil-engine".into(),
            seed: None,
            policy_path: None,
            registry: None,
        }
    }
}

#[derive(Clone)]
pub struct Engine {
    scenario_name: String,
    seed: u64,
    market: Market,
    now: u64,
    open_ts: u64,
    close_ts: u64,
    end_ts: u64,
    orders: Vec<ParentOrder>,
    order_index: HashMap<String, usize>,
    child_owner: HashMap<u64, usize>,
    next_child_id: u64,
    next_order_number: u64,
    timers: BinaryHeap<Reverse<(u64, u64, Timer)>>,
    timer_seq: u64,
    state: EngineState,
    controls: Controls,
    decision_interval_ns: u64,
    summary_interval_ns: u64,
    seq: u64,
    outbox: Vec<EventEnvelope>,
    view: SessionView,
    alert_seq: u64,
    /// Last time an alert of a given (order, code) was raised, to avoid storms.
    alert_last: HashMap<(Option<usize>, &'static str), u64>,
    rate: RateLimiter,
    scratch: Vec<MarketOut>,
    scenario_events: Vec<ScenarioEvent>,
    ended: bool,
    deployment: Option<Deployment>,
    /// Steps taken so far: with `seq`, the exact point between two steps at
    /// which a command was applied (the journal records it; recovery re-applies
    /// it at the same point).
    steps: u64,
    /// Why the journal can no longer be written, once it cannot: trading stays
    /// halted, since nothing may trade without a record.
    unrecorded: Option<String>,
}

const ALERT_REPEAT_NS: u64 = 60_000_000_000;

/// Session clock of an engine, ns since midnight of the session day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub open: u64,
    pub close: u64,
    pub start: u64,
    pub end: u64,
}

impl SessionTimes {
    pub fn of(scenario: &Scenario) -> SessionTimes {
        SessionTimes {
            open: scenario.open_ts(),
            close: scenario.close_ts(),
            start: scenario.start_ts(),
            end: scenario.end_ts(),
        }
    }
}

impl Engine {
    pub fn new(scenario: &Scenario, opts: &EngineOptions) -> Result<Engine> {
        let seed = opts.seed.unwrap_or(scenario.seed);
        let times = SessionTimes::of(scenario);
        let market = Market::new(scenario.market_specs(), seed, times.open, times.close);
        Engine::with_market(market, scenario, opts, times)
    }

    /// An engine over a market prepared by the caller (e.g. a replayed
    /// capture), with the scenario's controls, events and orders. Times may
    /// run past 24 h (a capture that crosses midnight).
    pub fn with_market(
        mut market: Market,
        scenario: &Scenario,
        opts: &EngineOptions,
        times: SessionTimes,
    ) -> Result<Engine> {
        let seed = opts.seed.unwrap_or(scenario.seed);
        let SessionTimes {
            open,
            close,
            start,
            end,
        } = times;
        // Warm the market up from the open so books, volumes and volatility
        // estimates are realistic when the session starts later in the day.
        let mut sink = Vec::new();
        while market.next_event_ts() < start {
            market.step(&mut sink);
        }
        // Nothing of ours can have traded yet; keep only the data-quality
        // reports so they are alerted once the session exists.
        sink.retain(|o| matches!(o, MarketOut::DataIssue { .. } | MarketOut::FeedEnded { .. }));
        let mut e = Engine {
            scenario_name: scenario.name.clone(),
            seed,
            market,
            now: start,
            open_ts: open,
            close_ts: close,
            end_ts: end,
            orders: Vec::new(),
            order_index: HashMap::new(),
            child_owner: HashMap::new(),
            next_child_id: 1,
            next_order_number: 1,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            state: EngineState::Running,
            controls: scenario.controls.clone(),
            decision_interval_ns: (scenario.decision_interval_s * 1e9) as u64,
            summary_interval_ns: (scenario.market_summary_interval_s * 1e9) as u64,
            seq: 0,
            outbox: Vec::new(),
            view: SessionView::new(),
            alert_seq: 0,
            alert_last: HashMap::new(),
            rate: RateLimiter::default(),
            scratch: Vec::new(),
            scenario_events: scenario.events.clone(),
            ended: false,
            deployment: None,
            steps: 0,
            unrecorded: None,
        };
        let wants_model = scenario.orders.iter().any(|o| o.strategy == "adaptive");
        if wants_model || opts.policy_path.is_some() || opts.registry.is_some() {
            e.deployment = Some(Deployment::from_options(
                opts.policy_path.as_ref(),
                opts.registry.as_ref(),
            )?);
        }
        let instruments = (0..e.market.symbols.len())
            .map(|i| e.instrument_info(i))
            .collect();
        e.emit(Event::Session {
            engine_id: opts.engine_id.clone(),
            session_id: format!("{}-{}", scenario.name, seed),
            scenario: scenario.name.clone(),
            seed,
            instruments,
            contract: contract_info(),
        });
        e.emit(Event::EngineState {
            state: EngineState::Running,
            reason: None,
        });
        for slot in 0..e.deployment.as_ref().map_or(0, |d| d.models.len()) {
            e.emit_model_state(slot);
        }
        if let Some(d) = e.deployment.as_ref().filter(|d| d.champion().is_none()) {
            let msg = format!(
                "{} has no live policy model: adaptive orders a canary does not take follow the baseline schedule",
                d.source
            );
            e.alert(None, Severity::Warning, "no_live_model", msg);
        }
        for (i, ev) in scenario.events.iter().enumerate() {
            let at = parse_clock(ev.at())?;
            if at >= start && at < end {
                e.schedule(at, Timer::Scenario(i));
            }
        }
        for o in &scenario.orders {
            let req = NewOrder {
                id: o.id.clone(),
                symbol: o.symbol.clone(),
                side: o.side,
                qty: o.qty,
                strategy: o.strategy.clone(),
                start_in_s: None,
                duration_s: 0.0,
                params: o.params.clone(),
                origin: None,
            };
            let s = o
                .start
                .as_deref()
                .map(parse_clock)
                .transpose()?
                .unwrap_or(start)
                .max(start);
            let t = o
                .end
                .as_deref()
                .map(parse_clock)
                .transpose()?
                .unwrap_or(end)
                .min(end);
            if t <= s {
                bail!("order {:?}: end is not after start", o.id);
            }
            e.add_order(&req, s, t)
                .map_err(|r| anyhow::anyhow!("order {:?}: {r}", o.id))?;
        }
        e.schedule(start, Timer::Summary);
        e.schedule(end, Timer::SessionEnd);
        e.on_market_out(&sink);
        e.emit_market_summaries();
        Ok(e)
    }
}

impl Engine {
    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn state(&self) -> EngineState {
        self.state
    }

    /// Sequence number of the last event emitted.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Steps taken since the engine was built.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Orders the engine holds (any state).
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn scenario_name(&self) -> &str {
        &self.scenario_name
    }

    pub fn market(&self) -> &Market {
        &self.market
    }

    /// If the next thing the engine will do is a decision for a working
    /// order, that order's id. Rollout-based data generation branches here.
    pub fn next_decision_due(&self) -> Option<&str> {
        let Reverse((ts, _, timer)) = self.timers.peek()?;
        if *ts > self.market.next_event_ts() || self.state != EngineState::Running {
            return None;
        }
        match *timer {
            Timer::Decision { order, generation }
                if self.orders[order].timer_generation == generation
                    && self.orders[order].state == OrderState::Working =>
            {
                Some(&self.orders[order].id)
            }
            _ => None,
        }
    }

    /// Make the next `decisions` decisions of a working order take `action`
    /// without re-planning its schedule, as a rollout needs: the action is
    /// measured against the schedule the order really has (a trader's
    /// override re-plans from where the order stands).
    pub fn force_action(
        &mut self,
        order_id: &str,
        action: Action,
        decisions: u32,
    ) -> Result<(), String> {
        let i = self.live_order(order_id)?;
        self.orders[i].override_ = Some(ActiveOverride {
            action: Some(action),
            strategy: None,
            remaining: Some(decisions.max(1)),
            user: "rollout".into(),
            replan: false,
        });
        Ok(())
    }

    /// Draw the market's future from new random streams (see `Market::reseed`).
    pub fn reseed_market(&mut self, salt: u64) {
        self.market.reseed(salt);
    }

    /// Mid price (in price units) of a symbol right now.
    pub fn mid_price(&self, symbol: &str) -> Option<f64> {
        let i = self.market.symbol_index(symbol)?;
        let s = &self.market.symbols[i];
        Some(s.mid_ticks() * s.spec.tick_size)
    }

    /// The mid as clients see it in market summaries: the middle of the best
    /// bid and offer across the lit venues that are up, or the last trade
    /// when a side is empty (`mid_price` falls back on the latent price,
    /// which no client sees).
    pub fn quote_mid(&self, symbol: &str) -> Option<f64> {
        let s = &self.market.symbols[self.market.symbol_index(symbol)?];
        let ticks = s.quote().mid().or(s.tape.last_trade_px.map(|p| p as f64))?;
        Some(ticks * s.spec.tick_size)
    }

    /// Ids of the models that serve decisions, each once: those behind the
    /// orders' strategies (and strategy overrides), then the loaded policy,
    /// which any order created or switched to `adaptive` later would use.
    pub fn model_ids(&self) -> Vec<String> {
        let strategies = self.orders.iter().flat_map(|o| {
            let substitute = o.override_.as_ref().and_then(|v| v.strategy.as_ref());
            std::iter::once(&o.strategy).chain(substitute)
        });
        let mut ids: Vec<String> = Vec::new();
        let deployed = self
            .deployment
            .iter()
            .flat_map(|d| d.models.iter().map(|m| m.model.id.as_str()));
        for id in strategies.filter_map(|s| s.model_id()).chain(deployed) {
            if !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        }
        ids
    }

    /// The session as clients see it, at `seq()`.
    pub fn view(&self) -> &SessionView {
        &self.view
    }

    /// Take the events emitted since the last call.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, EventEnvelope> {
        self.outbox.drain(..)
    }
}

/// Decimal places needed to show multiples of `step` exactly.
fn decimals(step: f64) -> u32 {
    (0..10)
        .find(|d| {
            ((step * 10f64.powi(*d as i32)).round() - step * 10f64.powi(*d as i32)).abs() < 1e-9
        })
        .unwrap_or(8)
}

fn frac(open: u64, close: u64, t: u64) -> f64 {
    if close <= open {
        return 0.0;
    }
    (t.saturating_sub(open) as f64 / (close - open) as f64).clamp(0.0, 1.0)
}
