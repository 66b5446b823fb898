//! The shadow hook: anything that maps a decision's feature vector to
//! per-action probabilities (in the contract's action order). Replay runs it
//! on every recorded decision to flag divergences; the report measures the
//! agreement. `--shadow FILE` loads an ONNX model behind this trait.

use anyhow::Result;

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
