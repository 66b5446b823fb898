//! How a decision becomes child orders, one named step after another:
//! the interval it works from, the choice (strategy, model or a trader's
//! override), the fallbacks to the baseline schedule (a model's guard or
//! kill switch, low confidence), the quantity (schedule and participation
//! caps), the tactics' child orders, the pre-trade controls and the rate
//! limit, the venue, and finally the record of it all (`decision` and
//! `child_sent` events) and the next decision's timer.

use super::Engine;
use crate::engine::deploy::GuardChange;
use crate::engine::features;
use crate::engine::market::{BookSide, ChildKind, MarketOut, Qty};
use crate::engine::orders::{ActiveOverride, ChildOrder};
use crate::engine::risk::{self, CheckContext, Proposal};
use crate::engine::strategy::{self, StrategyDecision};
use crate::engine::tactics::{self, TacticInput};
use crate::protocol::*;

/// What one decision works from, read once at its start.
struct Interval {
    sym: usize,
    /// When the next decision is due (the order's end at the latest).
    next_ts: u64,
    /// The baseline schedule now and at the next decision (lots).
    sched_now: f64,
    sched_next: f64,
    /// The normalised feature vector.
    feats: Vec<f64>,
    dark_available: bool,
    params: OrderParams,
}

/// What was chosen, and why when it is the baseline's choice.
struct Choice {
    decision: StrategyDecision,
    /// The strategy that decided (an override's when one is active).
    strategy: String,
    overridden: bool,
    fallback_reason: Option<String>,
    model_status: Option<ModelStatus>,
}

/// A child order accepted by its venue, not yet recorded.
type Sent = (ChildSpec, ChildOrder);

impl Engine {
    pub(super) fn decide(&mut self, i: usize) {
        if self.orders[i].state != OrderState::Working || self.state != EngineState::Running {
            return;
        }
        // Re-slice: what was working from the last interval is withdrawn.
        self.cancel_children(i, "replaced");
        self.check_drift(i);
        self.update_guard(i);
        let interval = self.interval(i);
        let choice = self.choose(i, &interval);
        let choice = self.fall_back_if_needed(i, &interval, choice);
        let qty = self.interval_qty(i, &interval, choice.decision.action);
        let proposals = self.child_plan(i, interval.sym, choice.decision.action, qty);
        let (sent, market_out) = self.send_children(i, interval.sym, proposals);
        self.record_decision(i, interval, choice, qty, sent, market_out);
    }

    fn interval(&mut self, i: usize) -> Interval {
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
        Interval {
            sym,
            next_ts,
            sched_now,
            sched_next,
            feats,
            dark_available,
            params: self.orders[i].params.clone(),
        }
    }

    /// The order's strategy decides, unless a trader's override does.
    fn choose(&mut self, i: usize, iv: &Interval) -> Choice {
        let base_name = self.orders[i].strategy.name();
        let ctx = self.context(i, &iv.params, &iv.feats, iv.dark_available);
        let o = &mut self.orders[i];
        let (decision, strategy, overridden) = match &mut o.override_ {
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
        };
        Choice {
            decision,
            strategy,
            overridden,
            fallback_reason: None,
            model_status: None,
        }
    }

    /// A model whose guard tripped or whose kill switch is pulled does not
    /// trade, and a model unsure of itself does not either: the order follows
    /// its baseline schedule, and the decision says why.
    fn fall_back_if_needed(&mut self, i: usize, iv: &Interval, mut c: Choice) -> Choice {
        let blocked = match (c.overridden, self.orders[i].served_by, &self.deployment) {
            (false, Some(slot), Some(d)) => d.blocked(slot),
            _ => None,
        };
        let unsure = c.decision.confidence < self.controls.min_confidence && !c.overridden;
        if blocked.is_some() || unsure {
            let ctx = self.context(i, &iv.params, &iv.feats, iv.dark_available);
            let fallback = strategy::baseline_action(&ctx, iv.sched_now, iv.sched_next);
            let reason = match blocked {
                Some(reason) => reason,
                None => {
                    let msg = format!(
                        "confidence {:.2} below {:.2}: falling back to the baseline schedule",
                        c.decision.confidence, self.controls.min_confidence
                    );
                    self.alert(Some(i), Severity::Warning, "low_confidence", msg);
                    format!(
                        "confidence {:.2} below {:.2}",
                        c.decision.confidence, self.controls.min_confidence
                    )
                }
            };
            c.fallback_reason = Some(reason);
            c.decision.fell_back = true;
            c.decision.action = fallback;
        }
        if c.decision.fell_back && c.fallback_reason.is_none() {
            c.fallback_reason = Some("no model may serve this order: the baseline schedule".into());
        }
        c.model_status = match (
            c.decision.model.as_str(),
            self.orders[i].served_by,
            &self.deployment,
        ) {
            ("rule", _, _) => None,
            (_, Some(slot), Some(d)) => Some(d.models[slot].status),
            _ => None,
        };
        c
    }

    /// How much to execute this interval (lots): what the action asks of
    /// the schedule, within the order's participation cap over the interval
    /// and over the participation control's window.
    fn interval_qty(&mut self, i: usize, iv: &Interval, action: crate::model::Action) -> f64 {
        // With O ours and M market volume in the window, x more keeps (O+x)/(M+x) ≤ p.
        let window = features::PARTICIPATION_WINDOW_NS;
        let ours = self.orders[i].recent_volume(self.now, window) as f64;
        let o = &self.orders[i];
        let qty = tactics::target_qty(
            action,
            iv.sched_now,
            iv.sched_next,
            o.filled as f64,
            o.remaining() as f64,
        );
        let ctx = self.context(i, &iv.params, &[], iv.dark_available);
        let interval_s = iv.next_ts.saturating_sub(self.now) as f64 * 1e-9;
        let p = o.params.max_participation;
        let per_interval = (p / (1.0 - p).max(0.01)) * ctx.volume_rate * interval_s.max(1.0);
        let market_recent = self.market.symbols[iv.sym]
            .tape
            .volume((window / 1_000_000_000) as usize) as f64;
        let in_window = if market_recent > 0.0 {
            ((p * market_recent - ours) / (1.0 - p).max(0.01)).max(0.0)
        } else {
            f64::MAX
        };
        let cap = per_interval.min(in_window);
        qty.min(cap.max(1.0)).round()
    }

    /// The child orders the tactics make of the action and the quantity.
    fn child_plan(
        &self,
        i: usize,
        sym: usize,
        action: crate::model::Action,
        qty: f64,
    ) -> Vec<Proposal> {
        let o = &self.orders[i];
        let spec = &self.market.symbols[sym].spec;
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
        tactics::plan(
            &self.market.symbols[sym],
            &TacticInput {
                action,
                qty: qty as Qty,
                remaining: o.remaining(),
                side: o.side,
                params: &o.params,
                limit_ticks,
                max_clip,
                min_clip,
            },
        )
    }

    /// Each proposal through the pre-trade controls, the engine's limits on
    /// working orders and messages, then to its venue. Refusals and venue
    /// rejects raise alerts; what the venues executed at once comes back in
    /// the market outputs.
    fn send_children(
        &mut self,
        i: usize,
        sym: usize,
        proposals: Vec<Proposal>,
    ) -> (Vec<Sent>, Vec<MarketOut>) {
        let mut sent: Vec<Sent> = Vec::new();
        let mut market_out = Vec::new();
        let mid = self.market.symbols[sym].mid_ticks();
        let (tick, lot) = {
            let spec = &self.market.symbols[sym].spec;
            (spec.tick_size, spec.lot_size)
        };
        let side = self.orders[i].side;
        for prop in proposals {
            let venues = self.market.venues(sym);
            if let Err(reason) =
                self.pre_trade_check(i, sym, &prop, &sent, &venues[prop.venue].0, mid)
            {
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
                        qty: prop.qty as f64 * lot,
                        price: price.map(|p| p as f64 * tick),
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
        (sent, market_out)
    }

    /// The pre-trade controls on one child, then the engine-wide limits on
    /// working orders and on messages per second (which counts it as sent).
    fn pre_trade_check(
        &mut self,
        i: usize,
        sym: usize,
        prop: &Proposal,
        sent: &[Sent],
        venue_name: &str,
        mid: f64,
    ) -> Result<(), String> {
        let working: usize = self.child_owner.len();
        // Children already sent in this decision count as if filled.
        let pending: Qty = sent.iter().map(|(_, c)| c.qty).sum();
        let window = features::PARTICIPATION_WINDOW_NS;
        let our_recent = self.orders[i].recent_volume(self.now, window) + pending;
        let market_recent = self.market.symbols[sym]
            .tape
            .volume((window / 1_000_000_000) as usize);
        let o = &self.orders[i];
        let spec = &self.market.symbols[sym].spec;
        let check = CheckContext {
            side: o.side,
            params: &o.params,
            controls: &self.controls,
            venue_name,
            venue_up: self.market.venue_up(sym, prop.venue),
            tick_size: spec.tick_size,
            lot_size: spec.lot_size,
            mid_ticks: mid,
            order_remaining: o.remaining() - pending,
            working_orders: working,
            our_recent,
            market_recent,
        };
        risk::check(prop, &check)?;
        if working + sent.len() >= self.controls.max_working_orders {
            return Err(format!(
                "{} child orders already working, the engine's maximum",
                working + sent.len()
            ));
        }
        if !self
            .rate
            .try_send(self.now, self.controls.max_messages_per_second)
        {
            return Err(format!(
                "more than {} messages in the last second",
                self.controls.max_messages_per_second
            ));
        }
        Ok(())
    }

    /// The decision and its children as events, what the venues executed at
    /// once, the override's countdown, the order's progress and its next
    /// decision.
    fn record_decision(
        &mut self,
        i: usize,
        iv: Interval,
        c: Choice,
        qty: f64,
        sent: Vec<Sent>,
        market_out: Vec<MarketOut>,
    ) {
        let lot = self.market.symbols[iv.sym].spec.lot_size;
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
            strategy: c.strategy,
            action: c.decision.action.name().into(),
            confidence: c.decision.confidence,
            probs: c.decision.probs,
            features: iv.feats,
            model: c.decision.model,
            model_status: c.model_status,
            overridden: c.overridden,
            fell_back: c.decision.fell_back,
            fallback_reason: c.fallback_reason,
            target_qty: qty * lot,
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
            if iv.next_ts < self.orders[i].end_ts {
                self.schedule_decision(i, iv.next_ts);
            }
        }
    }

    /// Fold order `i`'s costs so far into its model's guard (see `deploy`),
    /// and act on what the guard says.
    pub(super) fn update_guard(&mut self, i: usize) {
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

    pub(super) fn emit_model_state(&mut self, slot: usize) {
        if let Some(d) = &self.deployment {
            let info = d.state(slot);
            self.emit(Event::ModelState(info));
        }
    }

    /// Raise an alert when an order falls far behind its schedule: the
    /// trader should look before the strategy has to catch up expensively.
    pub(super) fn check_drift(&mut self, i: usize) {
        let scheduled = self.scheduled_qty(i, self.now);
        let o = &self.orders[i];
        let behind = (scheduled - o.filled as f64) / o.qty.max(1) as f64;
        if behind > 0.10 {
            let msg = format!("{:.0}% of the order behind schedule", behind * 100.0);
            self.alert(Some(i), Severity::Warning, "behind_schedule", msg);
        }
    }
}
