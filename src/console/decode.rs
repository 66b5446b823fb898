//! Fast decoding of the hot event frames.
//!
//! The protocol's serde enums are internally tagged (`type`, then `kind`),
//! which makes serde buffer every frame into an intermediate tree twice before
//! building the event: about 3 µs per event. The engine always writes the tag
//! first, so here we read the tag, then let the variant's struct deserialize
//! straight from the rest of the map. Anything unexpected (a tag not first, a
//! rare event kind, escaped keys) falls back to `protocol::decode_server`, so
//! the result is always the same as the reference decoder's.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::protocol::{
    decode_server, AlertInfo, ChildSpec, DecisionInfo, DecodeError, Event, EventEnvelope,
    Liquidity, MarketSummary, OrderState, Progress, ServerMessage, VenueKind,
};

/// Decode a server frame, taking the fast path for events.
pub fn decode_frame(text: &str) -> Result<ServerMessage, DecodeError> {
    if text.starts_with(r#"{"type":"event""#) {
        let mut de = serde_json::Deserializer::from_str(text);
        if let Ok(FastEnvelope(env)) = FastEnvelope::deserialize(&mut de) {
            if de.end().is_ok() {
                return Ok(ServerMessage::Event(env));
            }
        }
    }
    decode_server(text)
}

struct FastEnvelope(EventEnvelope);

impl<'de> Deserialize<'de> for FastEnvelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = FastEnvelope;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastEnvelope, A::Error> {
        let (mut seq, mut ts, mut event) = (None, None, None);
        while let Some(key) = map.next_key::<&str>()? {
            match key {
                "seq" => seq = Some(map.next_value::<u64>()?),
                "ts" => ts = Some(map.next_value::<u64>()?),
                "event" => event = Some(map.next_value::<FastEvent>()?.0),
                "type" => {
                    if map.next_value::<&str>()? != "event" {
                        return Err(de::Error::custom("not an event"));
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(FastEnvelope(EventEnvelope {
            seq: seq.ok_or_else(|| de::Error::missing_field("seq"))?,
            ts: ts.ok_or_else(|| de::Error::missing_field("ts"))?,
            event: event.ok_or_else(|| de::Error::missing_field("event"))?,
        }))
    }
}

struct FastEvent(Event);

impl<'de> Deserialize<'de> for FastEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

#[derive(Deserialize)]
struct OrderProgressFields {
    order_id: String,
    progress: Progress,
}

#[derive(Deserialize)]
struct FillFields {
    order_id: String,
    child_id: String,
    venue: String,
    venue_kind: VenueKind,
    price: f64,
    qty: f64,
    liquidity: Liquidity,
}

#[derive(Deserialize)]
struct OrderStateFields {
    order_id: String,
    state: OrderState,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct ChildSentFields {
    order_id: String,
    child: ChildSpec,
}

#[derive(Deserialize)]
struct ChildCancelledFields {
    order_id: String,
    child_id: String,
    qty: f64,
    reason: String,
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = FastEvent;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event with its kind first")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastEvent, A::Error> {
        if map.next_key::<&str>()? != Some("kind") {
            return Err(de::Error::custom("kind is not the first field"));
        }
        let kind: &str = map.next_value()?;
        let rest = MapAccessDeserializer::new(map);
        let event = match kind {
            "market" => Event::Market(MarketSummary::deserialize(rest)?),
            "decision" => Event::Decision(Box::new(DecisionInfo::deserialize(rest)?)),
            "alert" => Event::Alert(AlertInfo::deserialize(rest)?),
            "order_progress" => {
                let f = OrderProgressFields::deserialize(rest)?;
                Event::OrderProgress {
                    order_id: f.order_id,
                    progress: f.progress,
                }
            }
            "fill" => {
                let f = FillFields::deserialize(rest)?;
                Event::Fill {
                    order_id: f.order_id,
                    child_id: f.child_id,
                    venue: f.venue,
                    venue_kind: f.venue_kind,
                    price: f.price,
                    qty: f.qty,
                    liquidity: f.liquidity,
                }
            }
            "order_state" => {
                let f = OrderStateFields::deserialize(rest)?;
                Event::OrderState {
                    order_id: f.order_id,
                    state: f.state,
                    reason: f.reason,
                }
            }
            "child_sent" => {
                let f = ChildSentFields::deserialize(rest)?;
                Event::ChildSent {
                    order_id: f.order_id,
                    child: f.child,
                }
            }
            "child_cancelled" => {
                let f = ChildCancelledFields::deserialize(rest)?;
                Event::ChildCancelled {
                    order_id: f.order_id,
                    child_id: f.child_id,
                    qty: f.qty,
                    reason: f.reason,
                }
            }
            // Rare kinds take the reference path.
            _ => return Err(de::Error::custom("slow path")),
        };
        Ok(FastEvent(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{encode, ChildType, Side};

    fn frame(event: Event) -> String {
        encode(&ServerMessage::Event(EventEnvelope {
            seq: 42,
            ts: 7,
            event,
        }))
    }

    #[test]
    fn fast_path_matches_the_reference_decoder() {
        let events = vec![
            Event::Market(MarketSummary {
                symbol: "ACME".into(),
                bid: Some(1.0),
                ask: None,
                bid_size: 1.0,
                ask_size: 2.0,
                last: None,
                volume: 3.0,
                regime: "calm".into(),
                venues_down: vec!["X".into()],
            }),
            Event::Fill {
                order_id: "P-1".into(),
                child_id: "c".into(),
                venue: "XLIT".into(),
                venue_kind: VenueKind::Dark,
                price: 1.5,
                qty: 2.0,
                liquidity: Liquidity::Taker,
            },
            Event::OrderState {
                order_id: "P-1".into(),
                state: OrderState::Paused,
                reason: Some("by alice".into()),
            },
            Event::ChildSent {
                order_id: "P-1".into(),
                child: ChildSpec {
                    child_id: "c1".into(),
                    venue: "XLIT".into(),
                    child_type: ChildType::Limit,
                    side: Side::Buy,
                    qty: 100.0,
                    price: Some(10.0),
                },
            },
            Event::OrderProgress {
                order_id: "P-1".into(),
                progress: Progress::default(),
            },
            Event::EngineState {
                state: crate::protocol::EngineState::Halted,
                reason: None,
            },
        ];
        for e in events {
            let text = frame(e);
            assert_eq!(decode_frame(&text).unwrap(), decode_server(&text).unwrap());
        }
        // Non-event frames and bad input go through the reference decoder.
        let hb = r#"{"type":"heartbeat","seq":1,"ts":2}"#;
        assert_eq!(decode_frame(hb).unwrap(), decode_server(hb).unwrap());
        assert!(decode_frame(r#"{"type":"event","seq":1}"#).is_err());
        // Tag not first: still decoded correctly by the fallback.
        let odd = r#"{"type":"event","seq":1,"ts":2,"event":{"symbol":"A","kind":"market","bid":null,"ask":null,"bid_size":0,"ask_size":0,"last":null,"volume":0,"regime":"r"}}"#;
        assert_eq!(decode_frame(odd).unwrap(), decode_server(odd).unwrap());
    }
}
