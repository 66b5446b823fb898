//! What clients ask for: every command passes the one permission check,
//! is validated and applied here, and is journalled (`command_applied`)
//! with its user and outcome, refusals included.

use super::{CommandOutcome, Engine};
use crate::engine::auth;
use crate::engine::orders::ActiveOverride;
use crate::engine::scenario::format_clock;
use crate::engine::strategy;
use crate::model::Action;
use crate::protocol::*;

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
        let result = auth::authorize(role, cmd).and_then(|()| self.execute(user, cmd));
        let (ok, reason) = match result {
            Ok(()) => (true, None),
            Err(r) => (false, Some(r)),
        };
        // A new order that was created (even one its pre-trade check then
        // rejected) is the last one added.
        let order_id = match cmd {
            Command::NewOrder { .. } if ok => self.orders.last().map(|o| o.id.clone()),
            _ => None,
        };
        let seq = self.emit(Event::CommandApplied {
            command_id: command_id.to_string(),
            user: user.to_string(),
            command: cmd.clone(),
            ok,
            reason: reason.clone(),
        });
        CommandOutcome {
            ok,
            reason,
            seq,
            order_id,
        }
    }

    pub(super) fn order_idx(&self, id: &str) -> Result<usize, String> {
        self.order_index
            .get(id)
            .copied()
            .ok_or_else(|| format!("unknown order {id}"))
    }

    pub(super) fn live_order(&self, id: &str) -> Result<usize, String> {
        let i = self.order_idx(id)?;
        let st = self.orders[i].state;
        if st.is_terminal() {
            return Err(format!("order {id} is {} already", st.as_str()));
        }
        Ok(i)
    }

    /// Check a new total quantity for order `i`: whole lots, more than is
    /// already filled, within the instrument's daily volume. In lots.
    fn new_total(&self, i: usize, qty: f64) -> Result<crate::engine::prices::Qty, String> {
        let o = &self.orders[i];
        let spec = &self.market.symbols[o.symbol].spec;
        let lots = crate::engine::risk::to_lots(qty, spec.lot_size).ok_or_else(|| {
            format!(
                "quantity {qty} is not a positive whole number of lots of {}",
                spec.lot_size
            )
        })?;
        if lots <= o.filled {
            return Err(format!(
                "quantity {qty} is not above the {} already filled",
                o.filled as f64 * spec.lot_size
            ));
        }
        if qty > spec.adv {
            return Err(format!(
                "quantity {qty} exceeds the whole average daily volume of {} ({})",
                spec.symbol, spec.adv
            ));
        }
        Ok(lots)
    }

    pub(super) fn execute(&mut self, user: &str, cmd: &Command) -> Result<(), String> {
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
                let qty = match params.qty {
                    Some(q) => Some(self.new_total(i, q)?),
                    None => None,
                };
                let lot = self.market.symbols[self.orders[i].symbol].spec.lot_size;
                let o = &mut self.orders[i];
                o.params = p;
                if let Some(q) = qty {
                    o.qty = q;
                }
                // Re-plan the rest of the schedule from here.
                o.anchor_ts = self.now.max(o.start_ts);
                o.anchor_filled = o.filled;
                self.emit_params_with(i, qty.map(|q| q as f64 * lot));
                if qty.is_some() {
                    self.emit_progress(i);
                }
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
                let cancelled = self.halt_trading("kill switch");
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
                if let Some(why) = &self.unrecorded {
                    return Err(format!(
                        "trading stays halted: the journal cannot be written ({why})"
                    ));
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
    pub(super) fn deployed_model(&self, name: &str) -> Result<usize, String> {
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

impl Engine {
    /// Stop trading: no decision fires and every resting child order is
    /// cancelled. Returns how many child orders were cancelled.
    fn halt_trading(&mut self, why: &str) -> usize {
        self.state = EngineState::Halted;
        let mut cancelled = 0;
        for i in 0..self.orders.len() {
            cancelled += self.orders[i].children.len();
            self.orders[i].timer_generation += 1;
            self.cancel_children(i, why);
        }
        cancelled
    }

    /// The journal can no longer be written: halt trading for good (resume_all
    /// is refused), and say why in a critical alert. Clients are still served.
    pub fn halt_unrecorded(&mut self, why: &str) {
        if self.unrecorded.is_some() {
            return;
        }
        self.unrecorded = Some(why.to_string());
        let cancelled = if self.state == EngineState::Halted {
            0
        } else {
            self.halt_trading("journal write failed")
        };
        self.emit(Event::EngineState {
            state: EngineState::Halted,
            reason: Some(format!("journal write failed: {why}")),
        });
        self.alert(
            None,
            Severity::Critical,
            "journal_failed",
            format!(
                "the journal cannot be written ({why}): trading halted, {cancelled} child orders cancelled; nothing trades without a record"
            ),
        );
    }

    /// Why trading is halted for want of a journal, if it is.
    pub fn unrecorded(&self) -> Option<&str> {
        self.unrecorded.as_deref()
    }
}
