//! Strategies decide, every decision interval, *what* to do for a parent
//! order: an action from the shared action set (`model::Action`), with
//! per-action probabilities and a confidence. The baseline schedule of each
//! strategy says how much should be done by when; the engine's tactics turn
//! the action and the schedule into child orders, the same way for every
//! strategy, so a learned policy slots in behind the same trait.

mod adaptive;
mod almgren_chriss;
mod pov;
mod rules;
mod twap;
mod vwap;

pub use adaptive::Adaptive;
pub use almgren_chriss::AlmgrenChriss;
pub use pov::Pov;
pub use twap::Twap;
pub use vwap::{intraday_volume_cdf, Vwap};

use crate::model::onnx::PolicyModel;
use crate::model::Action;
use crate::protocol::OrderParams;

/// What a strategy sees when it decides. Quantities are in lots.
#[derive(Debug, Clone)]
pub struct DecisionContext<'a> {
    pub now: u64,
    pub interval_ns: u64,
    /// Execution horizon of the order.
    pub start: u64,
    pub end: u64,
    /// Market open and close (for the intraday volume profile).
    pub open: u64,
    pub close: u64,
    pub qty: f64,
    pub filled: f64,
    /// Point the schedule was last planned from (start, or the last retune/resume).
    pub anchor_ts: u64,
    pub anchor_filled: f64,
    pub params: &'a OrderParams,
    /// Market volume traded since the order started, in lots.
    pub market_volume_since_start: f64,
    /// Recent market volume per second (last five minutes), in lots.
    pub volume_rate: f64,
    /// The normalised feature vector (model contract order).
    pub features: &'a [f64],
    /// Whether the order may use a dark pool right now.
    pub dark_available: bool,
}

/// A strategy's choice for one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyDecision {
    pub action: Action,
    /// Per-action probabilities, in `Action::ALL` order.
    pub probs: Vec<f64>,
    pub confidence: f64,
    /// `rule` for classic strategies, `name@hash` for a model.
    pub model: String,
    /// True when a model fell back to its baseline (low confidence).
    pub fell_back: bool,
}

impl StrategyDecision {
    pub fn rule(action: Action) -> Self {
        StrategyDecision {
            action,
            probs: action.one_hot(),
            confidence: 1.0,
            model: "rule".into(),
            fell_back: false,
        }
    }
}

pub trait Strategy: Send {
    fn name(&self) -> &'static str;

    /// Quantity (lots) the baseline schedule expects done by time `t`.
    fn scheduled_qty(&self, ctx: &DecisionContext, t: u64) -> f64;

    /// The action for this interval. Classic strategies follow their schedule
    /// with the shared rules; a model overrides this.
    fn decide(&mut self, ctx: &DecisionContext) -> StrategyDecision {
        StrategyDecision::rule(rules::schedule_following_action(
            ctx,
            self.scheduled_qty(ctx, ctx.now),
            self.scheduled_qty(ctx, ctx.now + ctx.interval_ns),
        ))
    }

    /// Id (`name@hash`) of the model that makes this strategy's decisions;
    /// None for a rule.
    fn model_id(&self) -> Option<&str> {
        None
    }

    /// Strategies are part of the engine state, which clones for counterfactual rollouts.
    fn box_clone(&self) -> Box<dyn Strategy>;
}

impl Clone for Box<dyn Strategy> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// Names of the strategies `make` knows.
pub const STRATEGY_NAMES: &[&str] = &["twap", "vwap", "pov", "almgren_chriss", "adaptive"];

/// The classic (rule-based) strategies.
pub const CLASSIC: &[&str] = &["twap", "vwap", "pov", "almgren_chriss"];

/// Build a strategy by name. `adaptive` needs the policy model.
pub fn make(name: &str, policy: Option<&PolicyModel>) -> Result<Box<dyn Strategy>, String> {
    Ok(match name {
        "twap" => Box::new(Twap),
        "vwap" => Box::new(Vwap),
        "pov" => Box::new(Pov),
        "almgren_chriss" | "ac" => Box::new(AlmgrenChriss),
        "adaptive" => match policy {
            Some(m) => Box::new(Adaptive::new(m.clone())),
            None => {
                return Err("the adaptive strategy needs a policy model, and none is loaded".into())
            }
        },
        _ => {
            return Err(format!(
                "unknown strategy {name} (known: {})",
                STRATEGY_NAMES.join(", ")
            ))
        }
    })
}

/// The baseline action of a schedule-following strategy: what a low-confidence
/// model falls back to.
pub fn baseline_action(ctx: &DecisionContext, sched_now: f64, sched_next: f64) -> Action {
    rules::schedule_following_action(ctx, sched_now, sched_next)
}

/// Fraction of the way from `from` to `to` at `t`, clamped to [0, 1].
pub(crate) fn time_fraction(from: u64, to: u64, t: u64) -> f64 {
    if to <= from {
        return 1.0;
    }
    ((t.saturating_sub(from)) as f64 / (to - from) as f64).clamp(0.0, 1.0)
}

/// Re-plan a time-based schedule from its anchor: what remains at the anchor
/// is spread over the rest of the horizon by `curve` (0→0, 1→1).
pub(crate) fn anchored(ctx: &DecisionContext, t: u64, curve: impl Fn(f64) -> f64) -> f64 {
    let x = time_fraction(ctx.anchor_ts, ctx.end, t);
    let remaining = (ctx.qty - ctx.anchor_filled).max(0.0);
    ctx.anchor_filled + remaining * curve(x).clamp(0.0, 1.0)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub const START: u64 = 36_000_000_000_000;
    pub const END: u64 = START + 3_600_000_000_000;

    pub fn params() -> OrderParams {
        OrderParams {
            urgency: 0.5,
            max_participation: 0.25,
            target_participation: 0.1,
            limit_price: None,
            min_child_qty: 100.0,
            max_child_qty: 10_000.0,
            venues: vec![],
        }
    }

    pub fn ctx<'a>(p: &'a OrderParams, now: u64, filled: f64) -> DecisionContext<'a> {
        DecisionContext {
            now,
            interval_ns: 60_000_000_000,
            start: START,
            end: END,
            open: 34_200_000_000_000,
            close: 57_600_000_000_000,
            qty: 10_000.0,
            filled,
            anchor_ts: START,
            anchor_filled: 0.0,
            params: p,
            market_volume_since_start: 0.0,
            volume_rate: 50.0,
            features: &[],
            dark_available: true,
        }
    }
}
