//! A parent order's life: its parameters checked, created, started,
//! scheduled, reported, and finished; what its strategy sees when it decides.

use super::{frac, Engine, Timer};
use crate::engine::features;
use crate::engine::orders::{ActiveOverride, ParentOrder};
use crate::engine::risk;
use crate::engine::strategy::{self, DecisionContext};
use crate::protocol::*;

impl Engine {
    pub(super) fn default_params(&self, sym: usize) -> OrderParams {
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
    pub(super) fn retuned(
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
    pub(super) fn add_order(
        &mut self,
        req: &NewOrder,
        start: u64,
        end: u64,
    ) -> Result<String, String> {
        let sym = self
            .market
            .symbol_index(&req.symbol)
            .ok_or_else(|| format!("unknown symbol {}", req.symbol))?;
        let spec = self.market.symbols[sym].spec.clone();
        // Said first: a huge quantity is too much, whatever its lots.
        if req.qty.is_finite() && req.qty > spec.adv {
            // 1e18 reads better than its nineteen digits.
            let qty = if req.qty >= 1e12 {
                format!("{:e}", req.qty)
            } else {
                req.qty.to_string()
            };
            return Err(format!(
                "quantity {qty} exceeds the whole average daily volume of {} ({})",
                spec.symbol, spec.adv
            ));
        }
        let qty = risk::to_lots(req.qty, spec.lot_size).ok_or_else(|| {
            format!(
                "quantity {} is not a positive whole number of lots of {}",
                req.qty, spec.lot_size
            )
        })?;
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
            origin: req.origin.clone(),
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

    pub(super) fn start_order(&mut self, i: usize) {
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

    pub(super) fn schedule_decision(&mut self, i: usize, at: u64) {
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

    pub(super) fn finish_order(&mut self, i: usize, reason: Option<String>) {
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

    pub(super) fn scheduled_qty(&self, i: usize, t: u64) -> f64 {
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
    pub(super) fn context<'a>(
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

    pub(super) fn emit_progress(&mut self, i: usize) {
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

    pub(super) fn cancel_children(&mut self, i: usize, reason: &str) {
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

    pub(super) fn emit_params(&mut self, i: usize) {
        self.emit_params_with(i, None);
    }

    /// `order_params`, saying the new total quantity when it changed.
    pub(super) fn emit_params_with(&mut self, i: usize, qty: Option<f64>) {
        let o = &self.orders[i];
        let ev = Event::OrderParams {
            order_id: o.id.clone(),
            params: o.params.clone(),
            override_: o.override_.as_ref().map(|ov| ov.info()),
            strategy: o.strategy.name().into(),
            qty,
        };
        self.emit(ev);
    }
}
