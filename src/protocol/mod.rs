//! Protocol v1: the wire types shared by the engine and every client.
//!
//! This module is the only thing the engine and the console have in common.
//! It owns the message shapes (`messages`), the decoding rules for untrusted
//! input (`codec`) and the session view reducer (`view`) that turns a snapshot
//! plus a stream of events into the current picture of a session. The engine
//! builds its snapshots with the same reducer clients use, so a client that
//! applies events on top of a snapshot always reaches the engine's own view.

pub mod bus;
pub mod codec;
pub mod commands;
pub mod messages;
mod tagged;
pub mod text;
pub mod view;

pub use codec::{decode_client, decode_server, encode, encode_into, DecodeError, MAX_FRAME_BYTES};
pub use messages::*;
pub use view::SessionView;

/// The protocol version spoken by this build.
pub const PROTOCOL_VERSION: u32 = 1;
