//! Adaptive: a learned policy (an ONNX model, `models/policy.onnx`) picks the
//! action each interval from the market and order features. Its baseline
//! schedule is VWAP's: the actions' sizes are relative to it, and below the
//! engine's confidence threshold the engine falls back to it.

use super::{DecisionContext, Strategy, StrategyDecision, Vwap};
use crate::model::onnx::{argmax, PolicyModel};
use crate::model::Action;

#[derive(Clone)]
pub struct Adaptive {
    model: PolicyModel,
}

impl Adaptive {
    pub fn new(model: PolicyModel) -> Self {
        Adaptive { model }
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
        match self.model.predict(ctx.features) {
            Ok(probs) => {
                let (best, confidence) = argmax(&probs);
                StrategyDecision {
                    action: Action::ALL[best],
                    probs,
                    confidence,
                    model: self.model.id.clone(),
                    fell_back: false,
                }
            }
            // A failing model is treated as a model with no confidence: the
            // engine falls back to the baseline and raises an alert.
            Err(_) => StrategyDecision {
                action: Action::Wait,
                probs: vec![0.0; Action::ALL.len()],
                confidence: 0.0,
                model: self.model.id.clone(),
                fell_back: false,
            },
        }
    }

    fn model_id(&self) -> Option<&str> {
        Some(&self.model.id)
    }

    fn box_clone(&self) -> Box<dyn Strategy> {
        Box::new(self.clone())
    }
}
