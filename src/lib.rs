//! vigil: a supervision console for machine-learning execution algorithms,
//! and the execution engine it supervises.
//!
//! The engine (`engine`) and the console (`console`) never import each other:
//! both speak `protocol`. `model` holds the feature/action contract they share
//! with the training code.

pub mod bench;
pub mod console;
pub mod demo;
pub mod divergence;
pub mod engine;
pub mod fix;
pub mod learn;
pub mod model;
pub mod protocol;
pub mod replay;
pub mod report;
pub mod tls;
pub mod torture;
