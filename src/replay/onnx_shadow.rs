//! An ONNX model (`vigil::model::onnx::PolicyModel`) as a replay/report shadow.

use std::path::Path;

use anyhow::Result;

use crate::model::onnx::{init_backend, PolicyModel};

use super::shadow::Shadow;

/// Where the shadow model lives when `--shadow` is not given.
pub const DEFAULT_SHADOW: &str = "models/shadow.onnx";

pub struct OnnxShadow {
    model: PolicyModel,
}

impl OnnxShadow {
    pub fn load(path: &Path) -> Result<OnnxShadow> {
        init_backend(None)?;
        Ok(OnnxShadow {
            model: PolicyModel::load(path)?,
        })
    }
}

impl Shadow for OnnxShadow {
    fn id(&self) -> String {
        self.model.id.clone()
    }

    fn predict(&mut self, features: &[f64]) -> Result<Vec<f64>> {
        Ok(self.model.predict(features)?)
    }
}
