//! FIX 4.4, the OMS's side of order entry: framing and fields (`message`),
//! the session layer (`session`: logon, sequence numbers, resends,
//! heartbeats, session rejects), each session's store on disk (`store`) and
//! the acceptor's configuration (`config`). A leaf: it knows nothing of the
//! engine; `engine::fix_gateway` maps its application messages onto engine
//! commands and engine events onto ExecutionReports.
//!
//! Written here rather than taken from a crate: the Rust FIX engines on
//! crates.io that have an acceptor are young (easyfix-session, ironfix,
//! hotfix, quickfix-tokio: each under a year old at 0.x), and the session
//! layer is small enough to own and test against an independent engine
//! (QuickFIX, in `tests/fix.rs`).

pub mod config;
pub mod message;
pub mod session;
pub mod store;

pub use config::{FixConfig, FixRole, SessionConfig};
pub use message::{Body, Frame, Framer, Garbled, Message};
pub use session::{Out, Session, State};
pub use store::SessionStore;
