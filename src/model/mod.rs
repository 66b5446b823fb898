//! The model contract: one definition of the feature vector and the action
//! set, shared by the engine's strategies, the console's shadow model and the
//! training code (through `models/features.json`), and ONNX inference.

pub mod cli;
pub mod contract;
pub mod onnx;
pub mod registry;

pub use contract::{Action, Feature, CONTRACT_VERSION, FEATURES};

/// Where a committed model lives: `models/NAME` under the working directory
/// when it exists there (running from a checkout), else under the directory
/// the crate was built from.
pub fn default_model_path(name: &str) -> std::path::PathBuf {
    let local = std::path::Path::new("models").join(name);
    if local.exists() {
        return local;
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}
