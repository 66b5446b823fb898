//! The engine core: a deterministic discrete-event loop on a simulated clock.
//! Background market events, decision timers, scenario events and commands
//! are processed one at a time; everything that happens is emitted as a
//! protocol `Event` with a gap-free sequence number. The same seed and the
//! same commands at the same sequence numbers give the same events.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use anyhow::{bail, Result};

use super::deploy::{Deployment, GuardChange};
use super::features;
use super::market::{BookSide, ChildKind, Market, MarketOut, Qty};
use super::orders::{ActiveOverride, ChildOrder, ParentOrder};
use super::risk::{self, CheckContext, RateLimiter};
use super::scenario::{format_clock, parse_clock, Controls, Scenario, ScenarioEvent};
use super::strategy::{self, DecisionContext, StrategyDecision};
use super::tactics::{self, TacticInput};
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

// ---- time and event emission -------------------------------------------------

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

    fn schedule(&mut self, at: u64, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, timer)));
    }

    fn emit(&mut self, event: Event) -> u64 {
        self.seq += 1;
        let env = EventEnvelope {
            seq: self.seq,
            ts: self.now,
            event,
        };
        self.view.apply(&env);
        self.outbox.push(env);
        self.seq
    }

    fn alert(
        &mut self,
        order: Option<usize>,
        severity: Severity,
        code: &'static str,
        message: String,
    ) {
        let key = (order, code);
        if let Some(last) = self.alert_last.get(&key) {
            // Slow conditions (an order drifting behind) are repeated rarely.
            let repeat = if code == "behind_schedule" {
                15 * ALERT_REPEAT_NS
            } else {
                ALERT_REPEAT_NS
            };
            if self.now.saturating_sub(*last) < repeat && severity != Severity::Critical {
                return;
            }
        }
        self.alert_last.insert(key, self.now);
        self.alert_seq += 1;
        let order_id = order.map(|i| self.orders[i].id.clone());
        self.emit(Event::Alert(AlertInfo {
            alert_id: self.alert_seq,
            severity,
            code: code.into(),
            message,
            order_id,
        }));
    }

    /// Time of the next thing that will happen, or None once the session is over.
    pub fn next_ts(&self) -> Option<u64> {
        if self.ended {
            return None;
        }
        let timer = self
            .timers
            .peek()
            .map(|Reverse((t, _, _))| *t)
            .unwrap_or(u64::MAX);
        Some(
            timer
                .min(self.market.next_event_ts())
                .min(self.end_ts)
                .max(self.now),
        )
    }

    /// Process the next event. Returns false once the session has ended.
    pub fn step(&mut self) -> bool {
        if self.ended {
            return false;
        }
        let timer_ts = self
            .timers
            .peek()
            .map(|Reverse((t, _, _))| *t)
            .unwrap_or(u64::MAX);
        let market_ts = self.market.next_event_ts();
        if timer_ts <= market_ts {
            let Some(Reverse((ts, _, timer))) = self.timers.pop() else {
                return false;
            };
            self.now = self.now.max(ts);
            self.on_timer(timer);
        } else {
            if market_ts >= self.end_ts {
                self.now = self.end_ts;
                self.end_session();
                return false;
            }
            self.now = self.now.max(market_ts);
            let mut out = std::mem::take(&mut self.scratch);
            out.clear();
            self.market.step(&mut out);
            self.on_market_out(&out);
            self.scratch = out;
        }
        !self.ended
    }

    /// Run until simulated time `ts` (events at `ts` included) or the end.
    pub fn run_until(&mut self, ts: u64) {
        while self.next_ts().is_some_and(|t| t <= ts) {
            if !self.step() {
                break;
            }
        }
    }

    fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::SessionEnd => self.end_session(),
            Timer::Summary => {
                self.emit_market_summaries();
                // Paused orders make no decisions, but their schedule moves on:
                // keep their progress (and how far behind they fall) current.
                for i in 0..self.orders.len() {
                    if self.orders[i].state == OrderState::Paused {
                        self.emit_progress(i);
                    }
                }
                let next = self.now + self.summary_interval_ns;
                if next < self.end_ts {
                    self.schedule(next, Timer::Summary);
                }
            }
            Timer::Scenario(i) => self.on_scenario_event(i),
            Timer::VenueRestore { symbol, venue } => {
                let mut out = Vec::new();
                self.market.set_venue_up(symbol, venue, true, &mut out);
                let name = self.market.venues(symbol)[venue].0.clone();
                let sym = self.market.symbols[symbol].spec.symbol.clone();
                self.alert(
                    None,
                    Severity::Info,
                    "venue_restored",
                    format!("{name} is back up for {sym}"),
                );
            }
            Timer::OrderStart(i) => self.start_order(i),
            Timer::OrderEnd(i) => self.finish_order(i, None),
            Timer::Decision { order, generation } => {
                if self.orders[order].timer_generation == generation {
                    self.decide(order);
                }
            }
        }
    }

    fn on_scenario_event(&mut self, i: usize) {
        let ev = self.scenario_events[i].clone();
        let Some(sym) = self.market.symbol_index(ev.symbol()) else {
            return;
        };
        match ev {
            ScenarioEvent::Regime { symbol, regime, .. } => {
                self.market.set_regime(self.now, sym, regime);
                self.alert(
                    None,
                    Severity::Warning,
                    "regime_change",
                    format!("{symbol}: market regime is now {}", regime.name()),
                );
            }
            ScenarioEvent::VenueOutage {
                symbol,
                venue,
                duration_s,
                ..
            } => {
                let Some(v) = self.market.venue_index(sym, &venue) else {
                    return;
                };
                let mut out = Vec::new();
                self.market.set_venue_up(sym, v, false, &mut out);
                self.on_market_out(&out);
                self.alert(
                    None,
                    Severity::Critical,
                    "venue_outage",
                    format!("{venue} is down for {symbol} (expected {duration_s:.0} s); its orders were cancelled"),
                );
                let back = self.now + (duration_s * 1e9) as u64;
                self.schedule(
                    back,
                    Timer::VenueRestore {
                        symbol: sym,
                        venue: v,
                    },
                );
            }
            ScenarioEvent::VolShock {
                symbol,
                factor,
                duration_s,
                ..
            } => {
                let until = self.now + (duration_s * 1e9) as u64;
                self.market.vol_shock(self.now, sym, factor, until);
                self.alert(
                    None,
                    Severity::Warning,
                    "vol_shock",
                    format!("{symbol}: volatility ×{factor} for {duration_s:.0} s"),
                );
            }
        }
    }

    fn end_session(&mut self) {
        if self.ended {
            return;
        }
        for i in 0..self.orders.len() {
            if !self.orders[i].state.is_terminal() {
                self.finish_order(i, Some("session closed".into()));
            }
        }
        self.emit_market_summaries();
        self.state = EngineState::Ended;
        self.emit(Event::EngineState {
            state: EngineState::Ended,
            reason: Some("session over".into()),
        });
        self.ended = true;
    }

    fn instrument_info(&self, sym: usize) -> InstrumentInfo {
        let spec = &self.market.symbols[sym].spec;
        InstrumentInfo {
            symbol: spec.symbol.clone(),
            tick_size: spec.tick_size,
            lot_size: spec.lot_size,
            price_decimals: decimals(spec.tick_size),
            qty_decimals: decimals(spec.lot_size),
            venues: self
                .market
                .venues(sym)
                .into_iter()
                .map(|(name, kind)| VenueInfo { name, kind })
                .collect(),
        }
    }

    fn emit_market_summaries(&mut self) {
        for i in 0..self.market.symbols.len() {
            let s = &self.market.symbols[i];
            let tick = s.spec.tick_size;
            let lot = s.spec.lot_size;
            let q = s.quote();
            let venues_down = self
                .market
                .venues(i)
                .into_iter()
                .enumerate()
                .filter(|(v, _)| !self.market.venue_up(i, *v))
                .map(|(_, (n, _))| n)
                .collect();
            let summary = MarketSummary {
                symbol: s.spec.symbol.clone(),
                bid: q.bid.map(|(p, _)| p as f64 * tick),
                ask: q.ask.map(|(p, _)| p as f64 * tick),
                bid_size: q.bid.map(|(_, v)| v as f64 * lot).unwrap_or(0.0),
                ask_size: q.ask.map(|(_, v)| v as f64 * lot).unwrap_or(0.0),
                last: s.tape.last_trade_px.map(|p| p as f64 * tick),
                volume: s.tape.cum_volume as f64 * lot,
                regime: s.regime.name().into(),
                venues_down,
            };
            self.emit(Event::Market(summary));
        }
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

// ---- orders -------------------------------------------------------------------

impl Engine {
    fn default_params(&self, sym: usize) -> OrderParams {
        let lot = self.market.symbols[sym].spec.lot_size;
        OrderParams {
            urgency: 0.5,
            max_participation: 0.25,
            target_participation: 0.1,
            limit_price: None,
            min_child_qty: lot * 100.0_f64.min(1.0 / lot).max(1.0),
            max_child_qty: self.controls.max_child_qty.min(lot * 25_000.0),
            venues: Vec::new(),
        }
    }

    /// Check a parameter update against an order's instrument and return the result.
    fn retuned(
        &self,
        sym: usize,
        base: &OrderParams,
        r: &RetuneParams,
    ) -> Result<OrderParams, String> {
        let spec = &self.market.symbols[sym].spec;
        let mut p = base.clone();
        let unit = |name: &str, v: f64, lo_open: bool| -> Result<f64, String> {
            let ok = v.is_finite()
                && if lo_open {
                    v > 0.0 && v <= 1.0
                } else {
                    (0.0..=1.0).contains(&v)
                };
            if ok {
                Ok(v)
            } else {
                Err(format!(
                    "{name} must be {} 1, got {v}",
                    if lo_open { "in (0," } else { "between 0 and" }
                ))
            }
        };
        if let Some(u) = r.urgency {
            p.urgency = unit("urgency", u, false)?;
        }
        if let Some(m) = r.max_participation {
            p.max_participation = unit("max_participation", m, true)?;
        }
        if let Some(t) = r.target_participation {
            p.target_participation = unit("target_participation", t, true)?;
        }
        if r.clear_limit {
            p.limit_price = None;
        }
        if let Some(l) = r.limit_price {
            if risk::to_ticks(l, spec.tick_size).is_none() {
                return Err(format!(
                    "limit_price {l} is not a positive multiple of the tick {}",
                    spec.tick_size
                ));
            }
            let far = (l / spec.reference_price - 1.0).abs();
            if far > 0.5 {
                return Err(format!(
                    "limit_price {l} is absurd for {} (reference {})",
                    spec.symbol, spec.reference_price
                ));
            }
            p.limit_price = Some(l);
        }
        if let Some(m) = r.min_child_qty {
            risk::to_lots(m, spec.lot_size)
                .ok_or(format!("min_child_qty {m} is not a whole number of lots"))?;
            p.min_child_qty = m;
        }
        if let Some(m) = r.max_child_qty {
            risk::to_lots(m, spec.lot_size)
                .ok_or(format!("max_child_qty {m} is not a whole number of lots"))?;
            p.max_child_qty = m;
        }
        if p.min_child_qty > p.max_child_qty {
            return Err(format!(
                "min_child_qty {} exceeds max_child_qty {}",
                p.min_child_qty, p.max_child_qty
            ));
        }
        if let Some(v) = &r.venues {
            let known: Vec<String> = self
                .market
                .venues(sym)
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            if let Some(bad) = v.iter().find(|n| !known.contains(n)) {
                return Err(format!(
                    "unknown venue {bad} for {} (venues: {})",
                    spec.symbol,
                    known.join(", ")
                ));
            }
            if !v.is_empty()
                && !v.iter().any(|n| {
                    self.market
                        .venues(sym)
                        .iter()
                        .any(|(k, kind)| k == n && *kind == VenueKind::Lit)
                })
            {
                return Err("at least one lit venue must stay allowed".into());
            }
            p.venues = v.clone();
        }
        Ok(p)
    }

    /// Create a parent order working from `start` to `end`.
    fn add_order(&mut self, req: &NewOrder, start: u64, end: u64) -> Result<String, String> {
        let sym = self
            .market
            .symbol_index(&req.symbol)
            .ok_or_else(|| format!("unknown symbol {}", req.symbol))?;
        let spec = self.market.symbols[sym].spec.clone();
        let qty = risk::to_lots(req.qty, spec.lot_size).ok_or_else(|| {
            format!(
                "quantity {} is not a positive whole number of lots of {}",
                req.qty, spec.lot_size
            )
        })?;
        if req.qty > spec.adv {
            return Err(format!(
                "quantity {} exceeds the whole average daily volume of {} ({})",
                req.qty, spec.symbol, spec.adv
            ));
        }
        let params = self.retuned(sym, &self.default_params(sym), &req.params)?;
        // An adaptive order is served by a model the deployment picks: a
        // canary within its share, else the champion.
        let served_by = if req.strategy == "adaptive" {
            let d = self
                .deployment
                .as_mut()
                .ok_or("the adaptive strategy needs a policy model, and none is loaded")?;
            let notional = req.qty * self.market.symbols[sym].mid_ticks() * spec.tick_size;
            d.assign(notional)
        } else {
            None
        };
        let model = served_by.and_then(|slot| self.deployment.as_ref().map(|d| &d.models[slot]));
        let strat = match (req.strategy.as_str(), model) {
            // No model may take it (no live model, the canary's share used up).
            ("adaptive", None) => Box::new(strategy::Adaptive::baseline_only()),
            (name, model) => strategy::make(name, model.map(|m| &m.model))?,
        };
        let served = model.map(|m| m.served());
        let id = match &req.id {
            Some(id)
                if id.is_empty()
                    || id.len() > 32
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                return Err(format!(
                    "order id {id:?} must be 1-32 letters, digits, '-' or '_'"
                ));
            }
            Some(id) if self.order_index.contains_key(id) => {
                return Err(format!("order id {id} already exists"))
            }
            Some(id) => id.clone(),
            None => loop {
                let id = format!("P-{}", self.next_order_number);
                self.next_order_number += 1;
                if !self.order_index.contains_key(&id) {
                    break id;
                }
            },
        };
        let idx = self.orders.len();
        self.orders.push(ParentOrder {
            id: id.clone(),
            symbol: sym,
            side: req.side,
            qty,
            strategy: strat,
            params: params.clone(),
            state: OrderState::Pending,
            start_ts: start,
            end_ts: end,
            anchor_ts: start,
            anchor_filled: 0,
            filled: 0,
            notional: 0.0,
            arrival_mid: None,
            children: Vec::new(),
            override_: None,
            decisions: 0,
            timer_generation: 0,
            market_volume_at_start: 0,
            recent_fills: Default::default(),
            dark_sent: 0.0,
            dark_filled: 0.0,
            served_by,
            guard: Default::default(),
        });
        self.order_index.insert(id.clone(), idx);
        let info = OrderInfo {
            order_id: id.clone(),
            symbol: spec.symbol.clone(),
            side: req.side,
            qty: qty as f64 * spec.lot_size,
            strategy: req.strategy.clone(),
            start_ts: start,
            end_ts: end,
            params,
            model: served,
        };
        self.emit(Event::OrderNew { order: info });
        // Pre-trade check of the whole order: more than half a day's volume
        // in the horizon cannot be worked within the participation cap.
        let horizon_share = strategy::intraday_volume_cdf(frac(self.open_ts, self.close_ts, end))
            - strategy::intraday_volume_cdf(frac(self.open_ts, self.close_ts, start));
        let expected = spec.adv * horizon_share;
        if req.qty > expected * self.orders[idx].params.max_participation * 2.0 {
            let reason = format!(
                "{} is more than twice what {:.0}% participation can do in the horizon (~{:.0} expected volume)",
                req.qty,
                self.orders[idx].params.max_participation * 100.0,
                expected
            );
            let _ = self.orders[idx].transition(OrderState::Rejected);
            self.emit(Event::OrderState {
                order_id: id.clone(),
                state: OrderState::Rejected,
                reason: Some(reason.clone()),
            });
            self.alert(Some(idx), Severity::Warning, "order_rejected", reason);
            return Ok(id);
        }
        if start <= self.now {
            self.start_order(idx);
        } else {
            self.schedule(start, Timer::OrderStart(idx));
        }
        self.schedule(end, Timer::OrderEnd(idx));
        Ok(id)
    }

    fn start_order(&mut self, i: usize) {
        if self.orders[i].state != OrderState::Pending {
            return;
        }
        let sym = self.orders[i].symbol;
        let mid = self.market.symbols[sym].mid_ticks();
        let volume = self.market.symbols[sym].tape.cum_volume;
        let o = &mut self.orders[i];
        o.arrival_mid = Some(mid);
        o.market_volume_at_start = volume;
        o.anchor_ts = self.now;
        let _ = o.transition(OrderState::Working);
        let id = o.id.clone();
        self.emit(Event::OrderState {
            order_id: id,
            state: OrderState::Working,
            reason: None,
        });
        self.emit_progress(i);
        self.schedule_decision(i, self.now);
    }

    fn schedule_decision(&mut self, i: usize, at: u64) {
        let o = &mut self.orders[i];
        o.timer_generation += 1;
        let generation = o.timer_generation;
        self.schedule(
            at,
            Timer::Decision {
                order: i,
                generation,
            },
        );
    }

    fn finish_order(&mut self, i: usize, reason: Option<String>) {
        if self.orders[i].state.is_terminal() {
            return;
        }
        self.cancel_children(i, "order finished");
        let o = &mut self.orders[i];
        o.timer_generation += 1;
        let lot = self.market.symbols[o.symbol].spec.lot_size;
        let reason = reason.unwrap_or_else(|| {
            if o.remaining() == 0 {
                "filled".into()
            } else {
                format!("horizon ended with {} unfilled", o.remaining() as f64 * lot)
            }
        });
        let reason = if o.remaining() == 0 {
            "filled".to_string()
        } else {
            reason
        };
        let _ = o.transition(OrderState::Done);
        let id = o.id.clone();
        self.emit(Event::OrderState {
            order_id: id,
            state: OrderState::Done,
            reason: Some(reason),
        });
    }

    fn scheduled_qty(&self, i: usize, t: u64) -> f64 {
        let o = &self.orders[i];
        let ctx = self.context(i, &o.params, &[], false);
        match &o.override_ {
            Some(ActiveOverride {
                strategy: Some(s), ..
            }) => s.scheduled_qty(&ctx, t),
            _ => o.strategy.scheduled_qty(&ctx, t),
        }
    }

    /// A decision context for order `i`. It copies what it needs from the
    /// engine, so it borrows only `params` and `features`, and the order's
    /// strategy can be borrowed mutably while it decides.
    fn context<'a>(
        &self,
        i: usize,
        params: &'a OrderParams,
        features: &'a [f64],
        dark_available: bool,
    ) -> DecisionContext<'a> {
        let o = &self.orders[i];
        let s = &self.market.symbols[o.symbol];
        let window_s = features::PARTICIPATION_WINDOW_NS / 1_000_000_000;
        let adv_rate = s.spec.adv / s.spec.lot_size / crate::engine::market::TRADING_SECONDS;
        let observed = s.tape.volume(window_s as usize) as f64 / window_s as f64;
        DecisionContext {
            now: self.now,
            interval_ns: self.decision_interval_ns,
            start: o.start_ts,
            end: o.end_ts,
            open: self.open_ts,
            close: self.close_ts,
            qty: o.qty as f64,
            filled: o.filled as f64,
            anchor_ts: o.anchor_ts,
            anchor_filled: o.anchor_filled as f64,
            params,
            // Our own fills print on the tape too; POV targets the others' volume.
            market_volume_since_start: (s.tape.cum_volume - o.market_volume_at_start - o.filled)
                .max(0) as f64,
            // Until five minutes of tape exist, lean on the ADV-implied rate.
            volume_rate: if self.now.saturating_sub(self.open_ts)
                < features::PARTICIPATION_WINDOW_NS
            {
                observed.max(adv_rate)
            } else {
                observed
            },
            features,
            dark_available,
        }
    }

    fn emit_progress(&mut self, i: usize) {
        let scheduled = self.scheduled_qty(i, self.now);
        let o = &self.orders[i];
        let spec = &self.market.symbols[o.symbol].spec;
        let (tick, lot) = (spec.tick_size, spec.lot_size);
        let avg = (o.filled > 0).then(|| o.notional / o.filled as f64);
        let arrival = o.arrival_mid.map(|m| m * tick);
        let slippage = match (avg, arrival) {
            (Some(a), Some(r)) if r > 0.0 => Some(o.side.sign() * (a - r) / r * 1e4),
            _ => None,
        };
        let progress = Progress {
            filled: o.filled as f64 * lot,
            scheduled: scheduled.min(o.qty as f64) * lot,
            working: o.working_qty() as f64 * lot,
            avg_price: avg,
            arrival_price: arrival,
            slippage_bps: slippage,
        };
        let id = o.id.clone();
        self.emit(Event::OrderProgress {
            order_id: id,
            progress,
        });
    }

    fn cancel_children(&mut self, i: usize, reason: &str) {
        let children = std::mem::take(&mut self.orders[i].children);
        let lot = self.market.symbols[self.orders[i].symbol].spec.lot_size;
        for c in children {
            self.child_owner.remove(&c.id);
            if let Some(left) = self.market.cancel(c.id) {
                self.rate.record(self.now);
                let id = self.orders[i].id.clone();
                self.emit(Event::ChildCancelled {
                    order_id: id,
                    child_id: format!("C-{}", c.id),
                    qty: left as f64 * lot,
                    reason: reason.into(),
                });
            }
        }
    }
}

fn frac(open: u64, close: u64, t: u64) -> f64 {
    if close <= open {
        return 0.0;
    }
    (t.saturating_sub(open) as f64 / (close - open) as f64).clamp(0.0, 1.0)
}

// ---- decisions and fills --------------------------------------------------------

impl Engine {
    fn decide(&mut self, i: usize) {
        if self.orders[i].state != OrderState::Working || self.state != EngineState::Running {
            return;
        }
        // Re-slice: what was working from the last interval is withdrawn.
        self.cancel_children(i, "replaced");
        self.check_drift(i);
        self.update_guard(i);
        let sym = self.orders[i].symbol;
        let next_ts = (self.now + self.decision_interval_ns).min(self.orders[i].end_ts);
        let sched_now = self.scheduled_qty(i, self.now);
        let sched_next = self.scheduled_qty(i, next_ts);
        let raw = {
            let (orders, market) = (&mut self.orders, &self.market);
            features::raw(&market.symbols[sym], &mut orders[i], self.now, sched_now)
        };
        let feats = features::normalised(&raw);
        let dark_available =
            tactics::dark_venue(&self.market.symbols[sym], &self.orders[i].params).is_some();

        let base_name = self.orders[i].strategy.name();
        let params = self.orders[i].params.clone();
        let (decision, strategy_name, overridden) = {
            let ctx = self.context(i, &params, &feats, dark_available);
            let o = &mut self.orders[i];
            match &mut o.override_ {
                Some(ActiveOverride {
                    action: Some(a), ..
                }) => (StrategyDecision::rule(*a), base_name.to_string(), true),
                Some(ActiveOverride {
                    strategy: Some(s), ..
                }) => {
                    let name = s.name().to_string();
                    (s.decide(&ctx), name, true)
                }
                _ => (o.strategy.decide(&ctx), base_name.to_string(), false),
            }
        };
        let mut decision = decision;
        // A model whose guard tripped or whose kill switch is pulled does not
        // trade: its orders follow the baseline schedule.
        let blocked = match (overridden, self.orders[i].served_by, &self.deployment) {
            (false, Some(slot), Some(d)) => d.blocked(slot),
            _ => None,
        };
        let mut fallback_reason = None;
        if blocked.is_some() || (decision.confidence < self.controls.min_confidence && !overridden)
        {
            let ctx = self.context(i, &params, &feats, dark_available);
            let fallback =
                StrategyDecision::rule(strategy::baseline_action(&ctx, sched_now, sched_next));
            let reason = match blocked {
                Some(reason) => reason,
                None => {
                    // A model unsure of itself falls back to its baseline schedule.
                    let msg = format!(
                        "confidence {:.2} below {:.2}: falling back to the baseline schedule",
                        decision.confidence, self.controls.min_confidence
                    );
                    self.alert(Some(i), Severity::Warning, "low_confidence", msg);
                    format!(
                        "confidence {:.2} below {:.2}",
                        decision.confidence, self.controls.min_confidence
                    )
                }
            };
            fallback_reason = Some(reason);
            decision = StrategyDecision {
                fell_back: true,
                action: fallback.action,
                ..decision
            };
        }
        if decision.fell_back && fallback_reason.is_none() {
            fallback_reason = Some("no model may serve this order: the baseline schedule".into());
        }
        let model_status = match (
            decision.model.as_str(),
            self.orders[i].served_by,
            &self.deployment,
        ) {
            ("rule", _, _) => None,
            (_, Some(slot), Some(d)) => Some(d.models[slot].status),
            _ => None,
        };

        let o = &self.orders[i];
        let spec = self.market.symbols[sym].spec.clone();
        let remaining = o.remaining() as f64;
        let mut qty = tactics::target_qty(
            decision.action,
            sched_now,
            sched_next,
            o.filled as f64,
            remaining,
        );
        // Participation cap on the expected volume of the interval.
        let ctx = self.context(i, &params, &[], dark_available);
        let interval_s = next_ts.saturating_sub(self.now) as f64 * 1e-9;
        let p = o.params.max_participation;
        let per_interval = (p / (1.0 - p).max(0.01)) * ctx.volume_rate * interval_s.max(1.0);
        // Also stay within the participation control's window: with O ours and
        // M market volume in the window, x more keeps (O+x)/(M+x) ≤ p.
        let window = features::PARTICIPATION_WINDOW_NS;
        let market_recent = self.market.symbols[sym]
            .tape
            .volume((window / 1_000_000_000) as usize) as f64;
        let ours = self.orders[i].recent_volume(self.now, window) as f64;
        let o = &self.orders[i];
        let in_window = if market_recent > 0.0 {
            ((p * market_recent - ours) / (1.0 - p).max(0.01)).max(0.0)
        } else {
            f64::MAX
        };
        let cap = per_interval.min(in_window);
        qty = qty.min(cap.max(1.0)).round();
        let limit_ticks = o
            .params
            .limit_price
            .and_then(|l| risk::to_ticks(l, spec.tick_size));
        let max_clip = risk::to_lots(o.params.max_child_qty, spec.lot_size)
            .unwrap_or(1)
            .max(1);
        let min_clip = risk::to_lots(o.params.min_child_qty, spec.lot_size)
            .unwrap_or(1)
            .max(1);
        let proposals = tactics::plan(
            &self.market.symbols[sym],
            &TacticInput {
                action: decision.action,
                qty: qty as Qty,
                remaining: o.remaining(),
                side: o.side,
                params: &o.params,
                limit_ticks,
                max_clip,
                min_clip,
            },
        );

        // Pre-trade controls, then the venue.
        let mut sent = Vec::new();
        let mut market_out = Vec::new();
        let mid = self.market.symbols[sym].mid_ticks();
        let side = o.side;
        for prop in proposals {
            let venues = self.market.venues(sym);
            let working: usize = self.child_owner.len();
            let (our_recent, market_recent) = {
                let window = features::PARTICIPATION_WINDOW_NS;
                // Children already sent in this decision count as if filled.
                let pending: Qty = sent
                    .iter()
                    .map(|(_, c): &(ChildSpec, ChildOrder)| c.qty)
                    .sum();
                let ours = self.orders[i].recent_volume(self.now, window) + pending;
                (
                    ours,
                    self.market.symbols[sym]
                        .tape
                        .volume((window / 1_000_000_000) as usize),
                )
            };
            let o = &self.orders[i];
            let check = CheckContext {
                side,
                params: &o.params,
                controls: &self.controls,
                venue_name: &venues[prop.venue].0,
                venue_up: self.market.venue_up(sym, prop.venue),
                tick_size: spec.tick_size,
                lot_size: spec.lot_size,
                mid_ticks: mid,
                order_remaining: o.remaining()
                    - sent
                        .iter()
                        .map(|(_, c): &(ChildSpec, ChildOrder)| c.qty)
                        .sum::<Qty>(),
                working_orders: working,
                our_recent,
                market_recent,
            };
            let mut verdict = risk::check(&prop, &check);
            if verdict.is_ok() && working + sent.len() >= self.controls.max_working_orders {
                verdict = Err(format!(
                    "{} child orders already working, the engine's maximum",
                    working + sent.len()
                ));
            }
            if verdict.is_ok()
                && !self
                    .rate
                    .try_send(self.now, self.controls.max_messages_per_second)
            {
                verdict = Err(format!(
                    "more than {} messages in the last second",
                    self.controls.max_messages_per_second
                ));
            }
            if let Err(reason) = verdict {
                self.alert(
                    Some(i),
                    Severity::Warning,
                    "control_breach",
                    format!("child refused: {reason}"),
                );
                continue;
            }
            let child_id = self.next_child_id;
            self.next_child_id += 1;
            let book_side = match side {
                Side::Buy => BookSide::Bid,
                Side::Sell => BookSide::Ask,
            };
            match self.market.submit(
                self.now,
                child_id,
                sym,
                prop.venue,
                book_side,
                prop.qty,
                prop.kind,
                &mut market_out,
            ) {
                Ok(()) => {
                    let (child_type, price) = match prop.kind {
                        ChildKind::Limit { price } | ChildKind::Ioc { price } => {
                            (ChildType::Limit, Some(price))
                        }
                        ChildKind::MidPeg { .. } => (ChildType::MidPeg, None),
                    };
                    let spec_out = ChildSpec {
                        child_id: format!("C-{child_id}"),
                        venue: venues[prop.venue].0.clone(),
                        child_type,
                        side,
                        qty: prop.qty as f64 * spec.lot_size,
                        price: price.map(|p| p as f64 * spec.tick_size),
                    };
                    let child = ChildOrder {
                        id: child_id,
                        venue: prop.venue,
                        kind: prop.kind,
                        qty: prop.qty,
                        filled: 0,
                        price,
                    };
                    if matches!(prop.kind, ChildKind::MidPeg { .. }) {
                        self.orders[i].dark_sent += prop.qty as f64;
                    }
                    sent.push((spec_out, child));
                }
                Err(e) => {
                    self.alert(
                        Some(i),
                        Severity::Warning,
                        "reject",
                        format!("{} rejected a child: {e}", venues[prop.venue].0),
                    );
                }
            }
        }

        let o = &mut self.orders[i];
        o.decisions += 1;
        o.dark_sent *= 0.8;
        o.dark_filled *= 0.8;
        let mut override_lapsed = false;
        let mut replan = false;
        if let Some(ov) = &mut o.override_ {
            if let Some(r) = &mut ov.remaining {
                *r = r.saturating_sub(1);
                override_lapsed = *r == 0;
                replan = ov.replan;
            }
        }
        let info = DecisionInfo {
            order_id: o.id.clone(),
            strategy: strategy_name,
            action: decision.action.name().into(),
            confidence: decision.confidence,
            probs: decision.probs,
            features: feats,
            model: decision.model,
            model_status,
            overridden,
            fell_back: decision.fell_back,
            fallback_reason,
            target_qty: qty * spec.lot_size,
            children: sent.iter().map(|(s, _)| s.clone()).collect(),
        };
        let order_id = o.id.clone();
        self.emit(Event::Decision(Box::new(info)));
        for (spec_out, child) in sent {
            self.child_owner.insert(child.id, i);
            self.orders[i].children.push(child);
            self.emit(Event::ChildSent {
                order_id: order_id.clone(),
                child: spec_out,
            });
        }
        self.on_market_out(&market_out);
        // IOC remainders that did not fill are gone: forget them.
        self.forget_done_children(i);
        if override_lapsed {
            self.orders[i].override_ = None;
            if replan {
                self.orders[i].anchor_ts = self.now;
                self.orders[i].anchor_filled = self.orders[i].filled;
            }
            self.emit_params(i);
        }
        if !self.orders[i].state.is_terminal() {
            self.emit_progress(i);
            if next_ts < self.orders[i].end_ts {
                self.schedule_decision(i, next_ts);
            }
        }
    }

    /// Fold order `i`'s costs so far into its model's guard (see `deploy`),
    /// and act on what the guard says.
    fn update_guard(&mut self, i: usize) {
        let Some(slot) = self.orders[i].served_by else {
            return;
        };
        let scheduled = self.scheduled_qty(i, self.now);
        let o = &self.orders[i];
        let Some(arrival_ticks) = o.arrival_mid else {
            return;
        };
        let s = &self.market.symbols[o.symbol];
        let tick = s.spec.tick_size;
        let (arrival, mid) = (arrival_ticks * tick, s.mid_ticks() * tick);
        let seconds = self
            .now
            .saturating_sub(o.guard.last_ts)
            .div_ceil(1_000_000_000)
            .max(1);
        let vwap = s
            .tape
            .vwap_ticks(seconds as usize)
            .map_or(mid, |v| v * tick);
        let sign = o.side.sign();
        let (filled, notional, qty) = (o.filled as f64, o.notional, o.qty as f64);
        let now = self.now;
        let (orders, deployment) = (&mut self.orders, &mut self.deployment);
        let Some(d) = deployment.as_mut() else {
            return;
        };
        let track = &mut orders[i].guard;
        track.paper_cost += (scheduled - track.last_scheduled) * sign * (vwap - arrival);
        track.last_scheduled = scheduled;
        track.last_ts = now;
        let cost =
            sign * (notional - arrival * filled) + (scheduled - filled) * sign * (mid - arrival);
        let excess = cost - track.paper_cost;
        match d.update(slot, track, excess, scheduled * arrival, qty * arrival) {
            GuardChange::None => {}
            GuardChange::Moved => self.emit_model_state(slot),
            GuardChange::Tripped => {
                let m = &d.models[slot];
                let msg = format!(
                    "model {} switched to the baseline schedule: {}",
                    m.name,
                    m.reason.as_deref().unwrap_or("guard tripped")
                );
                self.alert(None, Severity::Critical, "model_guard", msg);
                self.emit_model_state(slot);
            }
        }
    }

    fn emit_model_state(&mut self, slot: usize) {
        if let Some(d) = &self.deployment {
            let info = d.state(slot);
            self.emit(Event::ModelState(info));
        }
    }

    /// Raise an alert when an order falls far behind its schedule: the
    /// trader should look before the strategy has to catch up expensively.
    fn check_drift(&mut self, i: usize) {
        let scheduled = self.scheduled_qty(i, self.now);
        let o = &self.orders[i];
        let behind = (scheduled - o.filled as f64) / o.qty.max(1) as f64;
        if behind > 0.10 {
            let msg = format!("{:.0}% of the order behind schedule", behind * 100.0);
            self.alert(Some(i), Severity::Warning, "behind_schedule", msg);
        }
    }

    fn forget_done_children(&mut self, i: usize) {
        let o = &mut self.orders[i];
        let owner = &mut self.child_owner;
        o.children.retain(|c| {
            let done = c.open_qty() <= 0 || matches!(c.kind, ChildKind::Ioc { .. });
            if done {
                owner.remove(&c.id);
            }
            !done
        });
    }

    fn on_market_out(&mut self, out: &[MarketOut]) {
        let mut touched: Vec<usize> = Vec::new();
        for o in out {
            match *o {
                MarketOut::Fill {
                    child_id,
                    symbol,
                    venue,
                    price_ticks,
                    qty,
                    liquidity,
                } => {
                    let Some(&i) = self.child_owner.get(&child_id) else {
                        continue;
                    };
                    let spec = &self.market.symbols[symbol].spec;
                    let (tick, lot) = (spec.tick_size, spec.lot_size);
                    let (venue_name, venue_kind) = self.market.venue(symbol, venue);
                    let venue_name = venue_name.to_string();
                    let ord = &mut self.orders[i];
                    let qty = qty.min(ord.remaining());
                    if qty <= 0 {
                        continue;
                    }
                    let price = price_ticks * tick;
                    ord.filled += qty;
                    ord.notional += price * qty as f64;
                    ord.recent_fills.push_back((self.now, qty));
                    if venue_kind == VenueKind::Dark {
                        ord.dark_filled += qty as f64;
                    }
                    if let Some(c) = ord.children.iter_mut().find(|c| c.id == child_id) {
                        c.filled += qty;
                    }
                    let order_id = ord.id.clone();
                    self.emit(Event::Fill {
                        order_id,
                        child_id: format!("C-{child_id}"),
                        venue: venue_name,
                        venue_kind,
                        price,
                        qty: qty as f64 * lot,
                        liquidity,
                    });
                    if !touched.contains(&i) {
                        touched.push(i);
                    }
                }
                MarketOut::Cancelled { child_id, qty } => {
                    let Some(i) = self.child_owner.remove(&child_id) else {
                        continue;
                    };
                    let lot = self.market.symbols[self.orders[i].symbol].spec.lot_size;
                    self.orders[i].children.retain(|c| c.id != child_id);
                    let order_id = self.orders[i].id.clone();
                    self.emit(Event::ChildCancelled {
                        order_id,
                        child_id: format!("C-{child_id}"),
                        qty: qty as f64 * lot,
                        reason: "cancelled by venue".into(),
                    });
                    if !touched.contains(&i) {
                        touched.push(i);
                    }
                }
                MarketOut::DataIssue {
                    symbol,
                    issue,
                    new,
                    total,
                } => {
                    let sym = &self.market.symbols[symbol].spec.symbol;
                    let message = format!(
                        "{sym} feed: {} ({new} new, {total} in all)",
                        issue.describe()
                    );
                    self.alert(None, Severity::Warning, issue.code(), message);
                }
                MarketOut::FeedEnded { symbol } => {
                    let sym = &self.market.symbols[symbol].spec.symbol;
                    if let Some(stats) = self.market.feed_stats(symbol) {
                        let message = format!("{sym} feed ended: {stats}");
                        // The summary line of a replay, also for whoever reads the log.
                        tracing::warn!("{message}");
                        let severity = if stats.issues_total > 0 {
                            Severity::Warning
                        } else {
                            Severity::Info
                        };
                        self.alert(None, severity, "feed_summary", message);
                    }
                }
            }
        }
        for i in touched {
            let o = &mut self.orders[i];
            let owner = &mut self.child_owner;
            o.children.retain(|c| {
                let open = c.open_qty() > 0;
                if !open {
                    owner.remove(&c.id);
                }
                open
            });
            if self.orders[i].remaining() == 0 && !self.orders[i].state.is_terminal() {
                self.emit_progress(i);
                self.finish_order(i, None);
            } else {
                self.emit_progress(i);
            }
        }
    }

    fn emit_params(&mut self, i: usize) {
        let o = &self.orders[i];
        let ev = Event::OrderParams {
            order_id: o.id.clone(),
            params: o.params.clone(),
            override_: o.override_.as_ref().map(|ov| ov.info()),
            strategy: o.strategy.name().into(),
        };
        self.emit(ev);
    }
}

// ---- commands --------------------------------------------------------------------

impl Engine {
    /// Apply a client command between events. The permission check, the
    /// validation and the journal record (`command_applied`) all happen here,
    /// in one place, for every command.
    pub fn apply_command(
        &mut self,
        command_id: &str,
        user: &str,
        role: Role,
        cmd: &Command,
    ) -> CommandOutcome {
        let result = super::auth::authorize(role, cmd).and_then(|()| self.execute(user, cmd));
        let (ok, reason) = match result {
            Ok(()) => (true, None),
            Err(r) => (false, Some(r)),
        };
        let seq = self.emit(Event::CommandApplied {
            command_id: command_id.to_string(),
            user: user.to_string(),
            command: cmd.clone(),
            ok,
            reason: reason.clone(),
        });
        CommandOutcome { ok, reason, seq }
    }

    fn order_idx(&self, id: &str) -> Result<usize, String> {
        self.order_index
            .get(id)
            .copied()
            .ok_or_else(|| format!("unknown order {id}"))
    }

    fn live_order(&self, id: &str) -> Result<usize, String> {
        let i = self.order_idx(id)?;
        let st = self.orders[i].state;
        if st.is_terminal() {
            return Err(format!("order {id} is {} already", super::orders::name(st)));
        }
        Ok(i)
    }

    fn execute(&mut self, user: &str, cmd: &Command) -> Result<(), String> {
        if self.ended && !matches!(cmd, Command::KillSwitch { .. } | Command::ResumeAll) {
            return Err("the session is over".into());
        }
        match cmd {
            Command::Pause { order_id } => {
                let i = self.live_order(order_id)?;
                if self.orders[i].state == OrderState::Pending {
                    return Err(format!("order {order_id} has not started yet"));
                }
                self.orders[i].transition(OrderState::Paused)?;
                self.orders[i].timer_generation += 1;
                self.cancel_children(i, "paused");
                self.emit(Event::OrderState {
                    order_id: order_id.clone(),
                    state: OrderState::Paused,
                    reason: Some(format!("paused by {user}")),
                });
                self.emit_progress(i);
            }
            Command::Resume { order_id } => {
                let i = self.live_order(order_id)?;
                if self.orders[i].state != OrderState::Paused {
                    return Err(format!("order {order_id} is not paused"));
                }
                self.orders[i].transition(OrderState::Working)?;
                self.emit(Event::OrderState {
                    order_id: order_id.clone(),
                    state: OrderState::Working,
                    reason: Some(format!("resumed by {user}")),
                });
                if self.state == EngineState::Running {
                    self.schedule_decision(i, self.now);
                }
            }
            Command::Cancel { order_id } => {
                let i = self.live_order(order_id)?;
                self.cancel_children(i, "order cancelled");
                self.orders[i].transition(OrderState::Cancelled)?;
                self.orders[i].timer_generation += 1;
                self.emit(Event::OrderState {
                    order_id: order_id.clone(),
                    state: OrderState::Cancelled,
                    reason: Some(format!("cancelled by {user}")),
                });
                self.emit_progress(i);
            }
            Command::Retune { order_id, params } => {
                let i = self.live_order(order_id)?;
                if *params == RetuneParams::default() {
                    return Err("retune names no parameter".into());
                }
                let p = self.retuned(self.orders[i].symbol, &self.orders[i].params, params)?;
                let o = &mut self.orders[i];
                o.params = p;
                // Re-plan the rest of the schedule from here.
                o.anchor_ts = self.now.max(o.start_ts);
                o.anchor_filled = o.filled;
                self.emit_params(i);
            }
            Command::Override {
                order_id,
                action,
                strategy,
                decisions,
            } => {
                let i = self.live_order(order_id)?;
                let (action, strategy) = match (action, strategy) {
                    (Some(_), Some(_)) => {
                        return Err("override either an action or a strategy, not both".into())
                    }
                    (None, None) => return Err("override needs an action or a strategy".into()),
                    (Some(a), None) => {
                        let names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
                        (
                            Some(Action::from_name(a).ok_or_else(|| {
                                format!("unknown action {a} (actions: {})", names.join(", "))
                            })?),
                            None,
                        )
                    }
                    (None, Some(s)) => {
                        let champion = self
                            .deployment
                            .as_ref()
                            .and_then(|d| d.champion().map(|c| &d.models[c].model));
                        (None, Some(strategy::make(s, champion)?))
                    }
                };
                if *decisions == Some(0) || decisions.is_some_and(|d| d > 100_000) {
                    return Err(
                        "decisions must be between 1 and 100000 (or absent: until released)".into(),
                    );
                }
                let o = &mut self.orders[i];
                o.override_ = Some(ActiveOverride {
                    action,
                    strategy,
                    remaining: *decisions,
                    user: user.to_string(),
                    replan: true,
                });
                o.anchor_ts = self.now.max(o.start_ts);
                o.anchor_filled = o.filled;
                self.emit_params(i);
                if self.orders[i].state == OrderState::Working && self.state == EngineState::Running
                {
                    self.schedule_decision(i, self.now);
                }
            }
            Command::ReleaseOverride { order_id } => {
                let i = self.live_order(order_id)?;
                if self.orders[i].override_.is_none() {
                    return Err(format!("order {order_id} has no override"));
                }
                let o = &mut self.orders[i];
                o.override_ = None;
                o.anchor_ts = self.now.max(o.start_ts);
                o.anchor_filled = o.filled;
                self.emit_params(i);
            }
            Command::KillSwitch { reason } => {
                if self.state == EngineState::Halted {
                    return Err("the kill switch is already engaged".into());
                }
                self.state = EngineState::Halted;
                let mut cancelled = 0;
                for i in 0..self.orders.len() {
                    cancelled += self.orders[i].children.len();
                    self.orders[i].timer_generation += 1;
                    self.cancel_children(i, "kill switch");
                }
                let why = reason.clone().unwrap_or_else(|| "no reason given".into());
                self.emit(Event::EngineState {
                    state: EngineState::Halted,
                    reason: Some(format!("kill switch by {user}: {why}")),
                });
                self.alert(
                    None,
                    Severity::Critical,
                    "kill_switch",
                    format!(
                        "kill switch engaged by {user} ({why}); {cancelled} child orders cancelled"
                    ),
                );
            }
            Command::ResumeAll => {
                if self.state != EngineState::Halted {
                    return Err("the engine is not halted".into());
                }
                self.state = if self.ended {
                    EngineState::Ended
                } else {
                    EngineState::Running
                };
                self.emit(Event::EngineState {
                    state: self.state,
                    reason: Some(format!("resumed by {user}")),
                });
                for i in 0..self.orders.len() {
                    if self.orders[i].state == OrderState::Working {
                        let o = &mut self.orders[i];
                        o.anchor_ts = self.now.max(o.start_ts);
                        o.anchor_filled = o.filled;
                        self.schedule_decision(i, self.now);
                    }
                }
            }
            Command::NewOrder { order } => {
                let start_in = order.start_in_s.unwrap_or(0.0);
                if !start_in.is_finite() || !(0.0..=86_400.0).contains(&start_in) {
                    return Err(format!(
                        "start_in_s must be between 0 and 86400, got {start_in}"
                    ));
                }
                if !order.duration_s.is_finite() || order.duration_s < 1.0 {
                    return Err(format!(
                        "duration_s must be at least 1 second, got {}",
                        order.duration_s
                    ));
                }
                let start = self.now + (start_in * 1e9) as u64;
                let end = start.saturating_add((order.duration_s * 1e9) as u64);
                if end > self.end_ts {
                    return Err(format!(
                        "the order would end at {}, after the session ends at {}",
                        format_clock(end),
                        format_clock(self.end_ts)
                    ));
                }
                self.add_order(order, start, end)?;
            }
            Command::KillModel { model, reason } => {
                let slot = self.deployed_model(model)?;
                let d = self
                    .deployment
                    .as_mut()
                    .expect("a slot implies a deployment");
                d.kill(slot, user, reason.as_deref())?;
                let m = &d.models[slot];
                let msg = format!(
                    "model {} {}; its {} orders follow the baseline schedule",
                    m.name,
                    m.reason.as_deref().unwrap_or("switched off"),
                    m.orders
                );
                self.alert(None, Severity::Critical, "model_killed", msg);
                self.emit_model_state(slot);
            }
            Command::RestoreModel { model } => {
                let slot = self.deployed_model(model)?;
                let d = self
                    .deployment
                    .as_mut()
                    .expect("a slot implies a deployment");
                d.restore(slot, user)?;
                let msg = format!(
                    "model {} serves its orders again (restored by {user})",
                    d.models[slot].name
                );
                self.alert(None, Severity::Warning, "model_restored", msg);
                self.emit_model_state(slot);
            }
        }
        Ok(())
    }

    /// A deployed model by registry name or id, or why there is none.
    fn deployed_model(&self, name: &str) -> Result<usize, String> {
        let d = self
            .deployment
            .as_ref()
            .ok_or("no model is deployed in this session")?;
        d.find(name).ok_or_else(|| {
            let names: Vec<_> = d.models.iter().map(|m| m.name.as_str()).collect();
            format!("unknown model {name} (deployed: {})", names.join(", "))
        })
    }
}
