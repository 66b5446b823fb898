//! Parent and child orders, and the parent order state machine.

use std::collections::VecDeque;

use super::deploy::GuardTrack;
use super::market::{ChildKind, Px, Qty};
use super::strategy::Strategy;
use crate::model::Action;
use crate::protocol::{OrderParams, OrderState, OverrideInfo, Side};

/// A child order working at a venue.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildOrder {
    pub id: u64,
    pub venue: usize,
    pub kind: ChildKind,
    pub qty: Qty,
    pub filled: Qty,
    /// Price sent with the order (the midpoint at entry for a dark peg).
    pub price: Option<Px>,
}

impl ChildOrder {
    pub fn open_qty(&self) -> Qty {
        self.qty - self.filled
    }
}

/// An override set by a trader: a forced action, or a substitute strategy.
#[derive(Clone)]
pub struct ActiveOverride {
    pub action: Option<Action>,
    pub strategy: Option<Box<dyn Strategy>>,
    /// Decisions left; None = until released.
    pub remaining: Option<u32>,
    pub user: String,
    /// Re-plan the schedule from where the order stands when the override
    /// ends (a trader's override); a rollout's forced action does not.
    pub replan: bool,
}

impl ActiveOverride {
    pub fn info(&self) -> OverrideInfo {
        OverrideInfo {
            action: self.action.map(|a| a.name().to_string()),
            strategy: self.strategy.as_ref().map(|s| s.name().to_string()),
            remaining: self.remaining,
            user: self.user.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ParentOrder {
    pub id: String,
    pub symbol: usize,
    pub side: Side,
    pub qty: Qty,
    pub strategy: Box<dyn Strategy>,
    pub params: OrderParams,
    pub state: OrderState,
    pub start_ts: u64,
    pub end_ts: u64,
    /// Where the current schedule was planned from.
    pub anchor_ts: u64,
    pub anchor_filled: Qty,
    pub filled: Qty,
    /// Sum of price × quantity of fills, in price units × lots.
    pub notional: f64,
    /// Mid price (ticks) when the order started working.
    pub arrival_mid: Option<f64>,
    pub children: Vec<ChildOrder>,
    pub override_: Option<ActiveOverride>,
    pub decisions: u64,
    /// Invalidates decision timers scheduled before a pause or a halt.
    pub timer_generation: u64,
    pub market_volume_at_start: Qty,
    /// Our fills of the last minutes: (ts, lots), for the participation feature.
    pub recent_fills: VecDeque<(u64, Qty)>,
    /// Dark quantity sent and filled, decayed at each decision.
    pub dark_sent: f64,
    pub dark_filled: f64,
    /// The deployed model that serves the order (index in the engine's deployment).
    pub served_by: Option<usize>,
    /// The model guard's paper baseline for this order.
    pub guard: GuardTrack,
}

impl ParentOrder {
    pub fn remaining(&self) -> Qty {
        (self.qty - self.filled).max(0)
    }

    pub fn working_qty(&self) -> Qty {
        self.children.iter().map(|c| c.open_qty()).sum()
    }

    /// Move to `to` if the state machine allows it.
    pub fn transition(&mut self, to: OrderState) -> Result<(), String> {
        if allowed(self.state, to) {
            self.state = to;
            Ok(())
        } else {
            Err(format!(
                "order {} is {}, it cannot become {}",
                self.id,
                self.state.as_str(),
                to.as_str()
            ))
        }
    }

    /// Our fills over the last `window_ns`.
    pub fn recent_volume(&mut self, now: u64, window_ns: u64) -> Qty {
        while self
            .recent_fills
            .front()
            .is_some_and(|(t, _)| now.saturating_sub(*t) > window_ns)
        {
            self.recent_fills.pop_front();
        }
        self.recent_fills.iter().map(|(_, q)| q).sum()
    }
}

/// The parent order state machine.
pub fn allowed(from: OrderState, to: OrderState) -> bool {
    use OrderState::*;
    matches!(
        (from, to),
        (Pending, Working)
            | (Pending, Cancelled)
            | (Pending, Rejected)
            | (Pending, Done)
            | (Working, Paused)
            | (Working, Done)
            | (Working, Cancelled)
            | (Paused, Working)
            | (Paused, Done)
            | (Paused, Cancelled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderState::*;

    #[test]
    fn terminal_states_are_final() {
        for from in [Done, Cancelled, Rejected] {
            for to in [Pending, Working, Paused, Done, Cancelled, Rejected] {
                assert!(!allowed(from, to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn pause_resume_cycle() {
        assert!(allowed(Pending, Working));
        assert!(allowed(Working, Paused));
        assert!(allowed(Paused, Working));
        assert!(!allowed(Paused, Paused));
        assert!(!allowed(Pending, Paused));
        assert!(!allowed(Working, Pending));
    }
}
