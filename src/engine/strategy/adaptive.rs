//! Adaptive: a learned policy (an ONNX model that the deployment picks, see
//! `engine::deploy`) chooses the action each interval from the market and
//! order features. Its baseline schedule is VWAP's: the actions' sizes are
//! relative to it, and below the engine's confidence threshold, when its
//! model is switched off, or when no model may serve the order, the engine
//! follows it.

use super::{rules, DecisionContext, Strategy, StrategyDecision, Vwap};
use crate::model::onnx::{argmax, PolicyModel};
use crate::model::Action;

#[derive(Clone)]
pub struct Adaptive {
    /// None: no model may serve the order (no live model, canary share
    /// used up); it follows the baseline schedule.
    model: Option<PolicyModel>,
}

impl Adaptive {
    pub fn new(model: PolicyModel) -> Self {
        Adaptive { model: Some(model) }
    }

    pub fn baseline_only() -> Self {
        Adaptive { model: None }
    }
}

impl Strategy for Adaptive {
    fn name(&self) -> &'static str {
        "adaptive"
    }

    fn scheduled_qty(&self, ctx: &DecisionContext, t: u64) -> f64 {
        Vwap.scheduled_qty(ctx, t)
    }

    fn decide(&mut self, ctx: &DecisionContext) -> StrategyDecision {
        let Some(model) = &self.model else {
            let action = rules::schedule_following_action(
                ctx,
                self.scheduled_qty(ctx, ctx.now),
                self.scheduled_qty(ctx, ctx.now + ctx.interval_ns),
            );
            return StrategyDecision {
                fell_back: true,
                ..StrategyDecision::rule(action)
            };
        };
        match model.predict(ctx.features) {
            Ok(probs) => {
                let (best, confidence) = argmax(&probs);
                StrategyDecision {
                    action: Action::ALL[best],
                    probs,
                    confidence,
                    model: model.id.clone(),
                    fell_back: false,
                }
            }
            // A failing model is treated as a model with no confidence: the
            // engine falls back to the baseline and raises an alert.
            Err(_) => StrategyDecision {
                action: Action::Wait,
                probs: vec![0.0; Action::ALL.len()],
                confidence: 0.0,
                model: model.id.clone(),
                fell_back: false,
            },
        }
    }

    fn model_id(&self) -> Option<&str> {
        self.model.as_ref().map(|m| m.id.as_str())
    }

    fn box_clone(&self) -> Box<dyn Strategy> {
        Box::new(self.clone())
    }
}
