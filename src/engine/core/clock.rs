//! The event loop and event emission: timers, the market's next event,
//! scenario events, the end of the session, market summaries and alerts.

use std::cmp::Reverse;

use super::{decimals, Engine, Timer, ALERT_REPEAT_NS};
use crate::engine::scenario::ScenarioEvent;
use crate::protocol::*;

impl Engine {
    pub(super) fn schedule(&mut self, at: u64, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, timer)));
    }

    pub(super) fn emit(&mut self, event: Event) -> u64 {
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

    pub(super) fn alert(
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
        self.steps += 1;
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

    pub(super) fn on_timer(&mut self, timer: Timer) {
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

    pub(super) fn on_scenario_event(&mut self, i: usize) {
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

    pub(super) fn end_session(&mut self) {
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

    pub(super) fn instrument_info(&self, sym: usize) -> InstrumentInfo {
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

    pub(super) fn emit_market_summaries(&mut self) {
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
