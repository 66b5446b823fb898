//! Market data on the bus: `vigil feed publish --market replay:FILE --nats
//! URL` normalises a recorded capture with the feed handler and publishes
//! its events (`publish`); `vigil engine --market nats:SYMBOL` trades against
//! them (`source`, a `FeedSource` like the capture reader). The feed handler,
//! the engines and the consoles are then separate processes, and any number
//! of engines read one symbol's stream.
//!
//! Layout (see docs/bus.md): stream `VIGIL_MD_<SYMBOL>`, subjects
//! `vigil.md.<SYMBOL>.{book,top,trade,end}`, each message a `FeedFrame`
//! numbered from 1 with a `Vigil-Feed-Run` header; the `FeedHeader`
//! (instrument, venue, the capture's profile, the run) in the KV bucket
//! `vigil_feeds` under the symbol. A new publication of a symbol replaces the
//! stream's contents.

pub mod cli;
pub mod publish;
pub mod source;

pub use publish::{publish, PublishOptions, Published};
pub use source::{open, BusFeed};

/// A symbol that is one subject token and a valid stream name.
pub fn check_symbol(symbol: &str) -> anyhow::Result<()> {
    crate::protocol::bus::check_engine_id(symbol).map_err(|_| {
        anyhow::anyhow!(
            "symbol {symbol:?}: on the bus a symbol must be 1-64 letters, digits, '-' or '_'"
        )
    })
}
