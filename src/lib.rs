//! vigil: a supervision console for machine-learning execution algorithms,
//! and the execution engine it supervises.
//!
//! The engine (`engine`) and the console (`console`) never import each other:
//! both speak `protocol`. `model` holds the feature/action contract they share
//! with the training code.

pub mod console;
pub mod model;
// Events travel by value through channels; boxing the large variants would add
// an allocation per event on the hot path.
#[allow(clippy::large_enum_variant)]
pub mod protocol;
