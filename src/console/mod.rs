//! The terminal console: The Elm Architecture over the protocol.
//!
//! - `state`: the pure reducer (`ConsoleState::apply`), shared with replay;
//! - `app`: UI state and `update(msg) -> effects`;
//! - `view`: pure rendering;
//! - `client`: the WebSocket client (resume, backoff, pings);
//! - `fleet`: many engines over a NATS bus, merged into one picture;
//! - `shadow`: the local shadow model and its divergence rules;
//! - `run`: terminal and main loop; `keymap`, `theme`, `forms`: input and looks.

pub mod app;
pub mod cli;
pub mod client;
pub mod fleet;
pub mod forms;
pub mod keymap;
pub mod run;
pub mod series;
pub mod shadow;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod view;

pub use run::{run_console, ConsoleOptions};
pub use state::ConsoleState;
