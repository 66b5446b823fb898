//! `vigil replay`: the console over a recorded session.
//!
//! - `recording`: the journal indexed for replay (offsets, times, markers,
//!   console-state checkpoints), truncation and corruption reported;
//! - `player`: position, clock, play/pause, speed, seeking;
//! - `app`, `keys`, `view`, `run`: the console's `App` and screens in
//!   read-only mode, transport keys, the timeline bar, the terminal loop;
//! - `shadow`: the hook a shadow model plugs into;
//! - `record`: scripted sessions written as journals (the sample recordings),
//!   and re-runs of a recorded session (`mids`: exact mids sampled on the way).

pub mod app;
pub mod cli;
pub mod from_bus;
pub mod keys;
pub mod mids;
pub mod onnx_shadow;
pub mod player;
pub mod record;
pub mod recording;
pub mod run;
pub mod shadow;
pub mod view;

pub use player::Player;
pub use recording::{Marker, MarkerKind, Recording};
pub use run::{run_replay, ReplayOptions};
