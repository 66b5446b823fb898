//! The model contract: one definition of the feature vector and the action
//! set, shared by the engine's strategies, the console's shadow model and the
//! training code (through `models/features.json`).

pub mod contract;

pub use contract::{Action, Feature, CONTRACT_VERSION, FEATURES};
