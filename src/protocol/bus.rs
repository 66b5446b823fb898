//! The bus layout (NATS with JetStream) every party on it shares: subject,
//! stream and bucket names, the presence record, and how a console over many
//! engines names an order (`<engine>/<order id>`). The engine publishes by
//! these names and the console and replay read by them, so they live here,
//! beside the frames they carry.

use serde::{Deserialize, Serialize};

/// The KV bucket holding each engine's latest keyframe (a `snapshot` frame).
pub const KEYFRAMES: &str = "vigil_keyframes";
/// The KV bucket of presence records, one per engine, short-lived.
pub const PRESENCE: &str = "vigil_presence";
/// A presence record this old means its engine is gone.
pub const PRESENCE_STALE_MS: u64 = 5_000;

/// Headers on every event message.
pub const HEADER_INSTANCE: &str = "Vigil-Instance";
pub const HEADER_SEQ: &str = "Vigil-Seq";

/// Names the bus uses for one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub engine: String,
}

impl Names {
    pub fn new(engine: impl Into<String>) -> Self {
        Names {
            engine: engine.into(),
        }
    }
    pub fn stream(&self) -> String {
        format!("VIGIL_{}", self.engine.replace('-', "_"))
    }
    pub fn events(&self) -> String {
        format!("vigil.{}.events.>", self.engine)
    }
    pub fn event(&self, kind: &str) -> String {
        format!("vigil.{}.events.{kind}", self.engine)
    }
    pub fn commands(&self) -> String {
        format!("vigil.{}.cmd", self.engine)
    }
    /// The subject of the engine's keyframe in the `KEYFRAMES` bucket.
    pub fn keyframe_subject(&self) -> String {
        format!("$KV.{KEYFRAMES}.{}", self.engine)
    }
    /// The stream behind the `KEYFRAMES` bucket.
    pub fn keyframe_stream() -> String {
        format!("KV_{KEYFRAMES}")
    }
}

/// The KV bucket of market-data feed headers, one per symbol.
pub const FEEDS: &str = "vigil_feeds";
/// Header on every market-data message: the publication it belongs to.
pub const HEADER_FEED_RUN: &str = "Vigil-Feed-Run";

/// Names of one symbol's market data on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedNames {
    pub symbol: String,
}

impl FeedNames {
    pub fn new(symbol: impl Into<String>) -> Self {
        FeedNames {
            symbol: symbol.into(),
        }
    }
    pub fn stream(&self) -> String {
        format!("VIGIL_MD_{}", self.symbol.replace('-', "_"))
    }
    pub fn subjects(&self) -> String {
        format!("vigil.md.{}.>", self.symbol)
    }
    /// `book`, `top`, `trade` or `end`.
    pub fn subject(&self, kind: &str) -> String {
        format!("vigil.md.{}.{kind}", self.symbol)
    }
}

/// An engine name that is one NATS subject token and a valid stream name.
pub fn check_engine_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "engine name {id:?}: on the bus an engine's name must be 1-64 letters, digits, '-' or '_'"
        ));
    }
    Ok(())
}

/// What an engine says of itself in the presence bucket, every second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceRecord {
    pub engine_id: String,
    pub instance_id: String,
    pub market: String,
    /// Simulated time of the engine's last event (ns since midnight).
    pub ts: u64,
    pub last_seq: u64,
    /// Wall clock of this record, ms since the Unix epoch.
    pub wall_ms: u64,
}

/// An order's name on a console over many engines: `<engine>/<order id>`.
/// Engine names never hold a `/`, so the first one splits it back.
pub fn qualify(engine: &str, order_id: &str) -> String {
    format!("{engine}/{order_id}")
}

/// `(engine, order id)` of a qualified name.
pub fn split_qualified(name: &str) -> Option<(&str, &str)> {
    let (engine, id) = name.split_once('/')?;
    (!engine.is_empty() && !id.is_empty()).then_some((engine, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_split_back_even_when_the_order_id_has_a_slash() {
        let q = qualify("eu-1", "OMS/42");
        assert_eq!(q, "eu-1/OMS/42");
        assert_eq!(split_qualified(&q), Some(("eu-1", "OMS/42")));
        assert_eq!(split_qualified("P-1"), None);
        assert_eq!(split_qualified("/P-1"), None);
    }

    #[test]
    fn engine_names_are_one_subject_token() {
        assert!(check_engine_id("eu-1").is_ok());
        assert!(check_engine_id("a.b").is_err());
        assert!(check_engine_id("a/b").is_err());
        assert!(check_engine_id("").is_err());
        assert_eq!(Names::new("eu-1").stream(), "VIGIL_eu_1");
    }
}
