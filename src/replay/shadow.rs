//! The shadow hook: anything that maps a decision's feature vector to
//! per-action probabilities (in the contract's action order). Replay runs it
//! on every recorded decision to flag divergences; the report measures the
//! agreement. `--shadow FILE` loads an ONNX model behind this trait.
//!
//! `Judge` applies the live console's divergence rules (`console::shadow`)
//! to its answers, so a replayed session flags the divergences the live
//! console flagged.

use std::collections::HashMap;

use anyhow::Result;

use crate::divergence::{judge_request, request_for, AgreementWindow, Judgement, Thresholds};
use crate::protocol::{ContractInfo, DecisionInfo, Ts};

pub trait Shadow {
    /// Model id shown on screen and in the report (`name@hash`).
    fn id(&self) -> String;
    /// Per-action probabilities for one feature vector.
    fn predict(&mut self, features: &[f64]) -> Result<Vec<f64>>;
}

/// A fixed rule, for tests: always the same probabilities.
pub struct ConstantShadow {
    pub probs: Vec<f64>,
}

impl Shadow for ConstantShadow {
    fn id(&self) -> String {
        "constant@test".into()
    }

    fn predict(&mut self, _features: &[f64]) -> Result<Vec<f64>> {
        Ok(self.probs.clone())
    }
}

/// A shadow from a closure, for tests and experiments.
pub struct FnShadow<F: FnMut(&[f64]) -> Vec<f64>> {
    pub name: String,
    pub f: F,
}

impl<F: FnMut(&[f64]) -> Vec<f64>> Shadow for FnShadow<F> {
    fn id(&self) -> String {
        self.name.clone()
    }

    fn predict(&mut self, features: &[f64]) -> Result<Vec<f64>> {
        Ok((self.f)(features))
    }
}

/// A shadow judged as the live console judges its shadow: decisions mapped
/// onto the shadow's contract (`request_for`), each order's agreement window,
/// the same rules and the console's default thresholds.
pub struct Judge<'a> {
    shadow: &'a mut (dyn Shadow + 'static),
    thresholds: Thresholds,
    windows: HashMap<String, AgreementWindow>,
}

impl<'a> Judge<'a> {
    pub fn new(shadow: &'a mut (dyn Shadow + 'static)) -> Judge<'a> {
        Judge {
            shadow,
            thresholds: Thresholds::default(),
            windows: HashMap::new(),
        }
    }

    /// The verdict on one recorded decision; `None` when it cannot be scored
    /// (another contract, a model error), as the live console skips it.
    pub fn score(
        &mut self,
        contract: &ContractInfo,
        ts: Ts,
        d: &DecisionInfo,
    ) -> Option<Judgement> {
        let req = request_for(contract, ts, d).ok()?;
        let probs = self.shadow.predict(&req.features).ok()?;
        let window = self
            .windows
            .entry(req.order_id.clone())
            .or_insert_with(|| AgreementWindow::new(self.thresholds.window));
        Some(judge_request(&self.thresholds, window, &req, &probs).0)
    }
}
