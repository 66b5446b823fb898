//! The learning loop: training data from the simulator (rollouts) and from
//! recorded sessions, and the evaluation of every strategy on held-out seeds.

pub mod cost;
pub mod dataset;
pub mod eval;
