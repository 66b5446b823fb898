//! Encoding and defensive decoding. Input from the network is untrusted: every
//! failure becomes a `DecodeError` with a message a human can act on.

use std::any::Any;

use serde::Serialize;
use serde_json::Value;

use super::messages::{ClientMessage, ErrorCode, ServerMessage};

/// Largest text frame accepted, in bytes. A `new_order` or `retune` fits in a
/// few hundred bytes; anything near this size is abuse or a bug.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("not valid JSON: {0}")]
    NotJson(String),
    #[error("a message must be a JSON object with a string \"type\" field")]
    NoType,
    #[error("unknown message type \"{0}\"")]
    UnknownType(String),
    #[error("invalid \"{kind}\" message: {detail}")]
    Invalid { kind: String, detail: String },
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge(_) => ErrorCode::TooLarge,
            _ => ErrorCode::Malformed,
        }
    }
}

const CLIENT_TYPES: &[&str] = &["hello", "command", "ping"];
const SERVER_TYPES: &[&str] = &[
    "welcome",
    "snapshot",
    "event",
    "ack",
    "heartbeat",
    "error",
    "pong",
    "fix_sessions",
];

fn classify(text: &str, known: &[&str], limit: usize) -> Result<(Value, String), DecodeError> {
    if text.len() > limit {
        return Err(DecodeError::TooLarge(text.len()));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or(DecodeError::NoType)?
        .to_string();
    if !known.contains(&kind.as_str()) {
        return Err(DecodeError::UnknownType(kind));
    }
    Ok((value, kind))
}

/// Decode a frame sent by a client.
pub fn decode_client(text: &str) -> Result<ClientMessage, DecodeError> {
    let (value, kind) = classify(text, CLIENT_TYPES, MAX_FRAME_BYTES)?;
    serde_json::from_value(value).map_err(|e| DecodeError::Invalid {
        kind,
        detail: e.to_string(),
    })
}

/// Decode a frame sent by the engine. The fast path parses directly; the
/// slow path only runs to explain a failure.
pub fn decode_server(text: &str) -> Result<ServerMessage, DecodeError> {
    if text.len() > 64 * MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge(text.len()));
    }
    match serde_json::from_str::<ServerMessage>(text) {
        Ok(m) => Ok(m),
        Err(fast_err) => {
            let (_, kind) = classify(text, SERVER_TYPES, usize::MAX)?;
            Err(DecodeError::Invalid {
                kind,
                detail: fast_err.to_string(),
            })
        }
    }
}

/// Encode any protocol message as one JSON text frame.
pub fn encode<T: Serialize + 'static>(msg: &T) -> String {
    let mut buf = Vec::with_capacity(512);
    encode_into(msg, &mut buf);
    // Both encoders write only valid UTF-8.
    String::from_utf8(buf).expect("encoded frames are UTF-8")
}

/// Encode into a reusable buffer (cleared first): the hot path of the
/// engine, which encodes every event once.
///
/// The frequent event frames are written by `fast` (the same bytes serde_json
/// would write, without its per-key escaping and map machinery); everything
/// else goes through serde_json.
pub fn encode_into<T: Serialize + 'static>(msg: &T, buf: &mut Vec<u8>) {
    buf.clear();
    if let Some(ServerMessage::Event(env)) = (msg as &dyn Any).downcast_ref::<ServerMessage>() {
        if fast::event_frame(env, buf) {
            return;
        }
        buf.clear();
    }
    // Serialising these types cannot fail: no maps with non-string keys, and
    // non-finite floats are written as null by serde_json.
    serde_json::to_writer(&mut *buf, msg).expect("protocol messages always serialise");
}

/// Hand-written JSON for the hot event kinds. The output must be byte for byte
/// what serde_json writes for the same message (field order, skipped fields,
/// number formatting, string escapes); `tests::fast_encoder_matches_serde`
/// checks each kind.
mod fast {
    use serde_json::ser::{CompactFormatter, Formatter};

    use crate::protocol::messages::*;

    /// Writes `{"type":"event",…}` for the hot kinds; false (with a partial
    /// buffer) for the others.
    pub(super) fn event_frame(env: &EventEnvelope, buf: &mut Vec<u8>) -> bool {
        buf.extend_from_slice(br#"{"type":"event","seq":"#);
        uint(buf, env.seq);
        buf.extend_from_slice(br#","ts":"#);
        uint(buf, env.ts);
        buf.extend_from_slice(br#","event":{"kind":""#);
        match &env.event {
            Event::Market(m) => {
                buf.extend_from_slice(br#"market","symbol":"#);
                string(buf, &m.symbol);
                buf.extend_from_slice(br#","bid":"#);
                opt_float(buf, m.bid);
                buf.extend_from_slice(br#","ask":"#);
                opt_float(buf, m.ask);
                buf.extend_from_slice(br#","bid_size":"#);
                float(buf, m.bid_size);
                buf.extend_from_slice(br#","ask_size":"#);
                float(buf, m.ask_size);
                buf.extend_from_slice(br#","last":"#);
                opt_float(buf, m.last);
                buf.extend_from_slice(br#","volume":"#);
                float(buf, m.volume);
                buf.extend_from_slice(br#","regime":"#);
                string(buf, &m.regime);
                if !m.venues_down.is_empty() {
                    buf.extend_from_slice(br#","venues_down":["#);
                    for (i, v) in m.venues_down.iter().enumerate() {
                        if i > 0 {
                            buf.push(b',');
                        }
                        string(buf, v);
                    }
                    buf.push(b']');
                }
            }
            Event::OrderProgress { order_id, progress } => {
                buf.extend_from_slice(br#"order_progress","order_id":"#);
                string(buf, order_id);
                buf.extend_from_slice(br#","progress":{"filled":"#);
                float(buf, progress.filled);
                buf.extend_from_slice(br#","scheduled":"#);
                float(buf, progress.scheduled);
                buf.extend_from_slice(br#","working":"#);
                float(buf, progress.working);
                buf.extend_from_slice(br#","avg_price":"#);
                opt_float(buf, progress.avg_price);
                buf.extend_from_slice(br#","arrival_price":"#);
                opt_float(buf, progress.arrival_price);
                buf.extend_from_slice(br#","slippage_bps":"#);
                opt_float(buf, progress.slippage_bps);
                buf.push(b'}');
            }
            Event::Fill {
                order_id,
                child_id,
                venue,
                venue_kind,
                price,
                qty,
                liquidity,
            } => {
                buf.extend_from_slice(br#"fill","order_id":"#);
                string(buf, order_id);
                buf.extend_from_slice(br#","child_id":"#);
                string(buf, child_id);
                buf.extend_from_slice(br#","venue":"#);
                string(buf, venue);
                buf.extend_from_slice(match venue_kind {
                    VenueKind::Lit => br#","venue_kind":"lit","price":"#,
                    VenueKind::Dark => br#","venue_kind":"dark","price":"#,
                });
                float(buf, *price);
                buf.extend_from_slice(br#","qty":"#);
                float(buf, *qty);
                buf.extend_from_slice(match liquidity {
                    Liquidity::Maker => br#","liquidity":"maker""#,
                    Liquidity::Taker => br#","liquidity":"taker""#,
                });
            }
            Event::Decision(d) => {
                buf.extend_from_slice(br#"decision","order_id":"#);
                string(buf, &d.order_id);
                buf.extend_from_slice(br#","strategy":"#);
                string(buf, &d.strategy);
                buf.extend_from_slice(br#","action":"#);
                string(buf, &d.action);
                buf.extend_from_slice(br#","confidence":"#);
                float(buf, d.confidence);
                buf.extend_from_slice(br#","probs":"#);
                floats(buf, &d.probs);
                buf.extend_from_slice(br#","features":"#);
                floats(buf, &d.features);
                buf.extend_from_slice(br#","model":"#);
                string(buf, &d.model);
                if let Some(status) = d.model_status {
                    buf.extend_from_slice(br#","model_status":"#);
                    string(buf, status.name());
                }
                buf.extend_from_slice(if d.overridden {
                    br#","overridden":true,"fell_back":"#
                } else {
                    br#","overridden":false,"fell_back":"#
                });
                buf.extend_from_slice(if d.fell_back { b"true" } else { b"false" });
                if let Some(reason) = &d.fallback_reason {
                    buf.extend_from_slice(br#","fallback_reason":"#);
                    string(buf, reason);
                }
                buf.extend_from_slice(br#","target_qty":"#);
                float(buf, d.target_qty);
                buf.extend_from_slice(br#","children":["#);
                for (i, c) in d.children.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    child(buf, c);
                }
                buf.push(b']');
            }
            Event::ChildSent { order_id, child: c } => {
                buf.extend_from_slice(br#"child_sent","order_id":"#);
                string(buf, order_id);
                buf.extend_from_slice(br#","child":"#);
                child(buf, c);
            }
            Event::ChildCancelled {
                order_id,
                child_id,
                qty,
                reason,
            } => {
                buf.extend_from_slice(br#"child_cancelled","order_id":"#);
                string(buf, order_id);
                buf.extend_from_slice(br#","child_id":"#);
                string(buf, child_id);
                buf.extend_from_slice(br#","qty":"#);
                float(buf, *qty);
                buf.extend_from_slice(br#","reason":"#);
                string(buf, reason);
            }
            Event::OrderState {
                order_id,
                state,
                reason,
            } => {
                buf.extend_from_slice(br#"order_state","order_id":"#);
                string(buf, order_id);
                buf.extend_from_slice(match state {
                    OrderState::Pending => br#","state":"pending""#,
                    OrderState::Working => br#","state":"working""#,
                    OrderState::Paused => br#","state":"paused""#,
                    OrderState::Done => br#","state":"done""#,
                    OrderState::Cancelled => br#","state":"cancelled""#,
                    OrderState::Rejected => br#","state":"rejected""#,
                });
                if let Some(reason) = reason {
                    buf.extend_from_slice(br#","reason":"#);
                    string(buf, reason);
                }
            }
            Event::Alert(a) => {
                buf.extend_from_slice(br#"alert","alert_id":"#);
                uint(buf, a.alert_id);
                buf.extend_from_slice(match a.severity {
                    Severity::Info => br#","severity":"info","code":"#,
                    Severity::Warning => br#","severity":"warning","code":"#,
                    Severity::Critical => br#","severity":"critical","code":"#,
                });
                string(buf, &a.code);
                buf.extend_from_slice(br#","message":"#);
                string(buf, &a.message);
                if let Some(order_id) = &a.order_id {
                    buf.extend_from_slice(br#","order_id":"#);
                    string(buf, order_id);
                }
            }
            _ => return false,
        }
        buf.extend_from_slice(b"}}");
        true
    }

    fn child(buf: &mut Vec<u8>, c: &ChildSpec) {
        buf.extend_from_slice(br#"{"child_id":"#);
        string(buf, &c.child_id);
        buf.extend_from_slice(br#","venue":"#);
        string(buf, &c.venue);
        buf.extend_from_slice(match (c.child_type, c.side) {
            (ChildType::Limit, Side::Buy) => br#","child_type":"limit","side":"buy","qty":"#,
            (ChildType::Limit, Side::Sell) => br#","child_type":"limit","side":"sell","qty":"#,
            (ChildType::MidPeg, Side::Buy) => br#","child_type":"mid_peg","side":"buy","qty":"#,
            (ChildType::MidPeg, Side::Sell) => br#","child_type":"mid_peg","side":"sell","qty":"#,
        });
        float(buf, c.qty);
        if let Some(price) = c.price {
            buf.extend_from_slice(br#","price":"#);
            float(buf, price);
        }
        buf.push(b'}');
    }

    fn uint(buf: &mut Vec<u8>, v: u64) {
        CompactFormatter
            .write_u64(buf, v)
            .expect("writing to a Vec cannot fail");
    }

    /// As serde_json: non-finite numbers are written as `null`.
    fn float(buf: &mut Vec<u8>, v: f64) {
        if v.is_finite() {
            CompactFormatter
                .write_f64(buf, v)
                .expect("writing to a Vec cannot fail");
        } else {
            buf.extend_from_slice(b"null");
        }
    }

    fn opt_float(buf: &mut Vec<u8>, v: Option<f64>) {
        match v {
            Some(v) => float(buf, v),
            None => buf.extend_from_slice(b"null"),
        }
    }

    fn floats(buf: &mut Vec<u8>, vs: &[f64]) {
        buf.push(b'[');
        for (i, &v) in vs.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            float(buf, v);
        }
        buf.push(b']');
    }

    /// Strings that need no escape are copied; the others go through serde_json.
    fn string(buf: &mut Vec<u8>, s: &str) {
        if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            buf.push(b'"');
            buf.extend_from_slice(s.as_bytes());
            buf.push(b'"');
        } else {
            serde_json::to_writer(&mut *buf, s).expect("writing to a Vec cannot fail");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::protocol::messages::*;
    use crate::protocol::SessionView;

    fn params() -> OrderParams {
        OrderParams {
            urgency: 0.5,
            max_participation: 0.2,
            target_participation: 0.1,
            limit_price: Some(101.5),
            min_child_qty: 100.0,
            max_child_qty: 5000.0,
            venues: vec!["XLIT".into(), "XDRK".into()],
        }
    }

    fn child(price: Option<f64>, child_type: ChildType, side: Side) -> ChildSpec {
        ChildSpec {
            child_id: "P-1-c7".into(),
            venue: "XLIT".into(),
            child_type,
            side,
            qty: 300.0,
            price,
        }
    }

    /// One or more of every event kind, with the optional parts both present
    /// and absent, odd strings and numbers.
    fn events() -> Vec<Event> {
        vec![
            Event::Session {
                engine_id: "e".into(),
                session_id: "s-1".into(),
                scenario: "default".into(),
                seed: 42,
                instruments: vec![InstrumentInfo {
                    symbol: "ACME".into(),
                    tick_size: 0.01,
                    lot_size: 100.0,
                    price_decimals: 2,
                    qty_decimals: 0,
                    venues: vec![VenueInfo {
                        name: "XLIT".into(),
                        kind: VenueKind::Lit,
                    }],
                }],
                contract: ContractInfo {
                    version: 1,
                    features: vec!["spread".into()],
                    actions: vec!["wait".into(), "passive".into()],
                },
            },
            Event::EngineState {
                state: EngineState::Halted,
                reason: Some("kill switch".into()),
            },
            Event::EngineState {
                state: EngineState::Running,
                reason: None,
            },
            Event::OrderNew {
                order: OrderInfo {
                    order_id: "P-1".into(),
                    symbol: "ACME".into(),
                    side: Side::Sell,
                    qty: 1e5,
                    strategy: "vwap".into(),
                    start_ts: 34_200_000_000_000,
                    end_ts: 57_600_000_000_000,
                    params: params(),
                    model: Some(ServedModel {
                        name: "policy-2".into(),
                        id: "policy@abc123".into(),
                        status: ModelStatus::Canary,
                    }),
                    origin: Some(OrderOrigin {
                        fix_session: "OMS1→VIGIL".into(),
                        cl_ord_id: "A-1".into(),
                    }),
                },
            },
            Event::OrderState {
                order_id: "P-1".into(),
                state: OrderState::Paused,
                reason: Some("by \"alice\"\n\\ é \u{1}".into()),
            },
            Event::OrderState {
                order_id: "P-1".into(),
                state: OrderState::Working,
                reason: None,
            },
            Event::OrderState {
                order_id: "P-1".into(),
                state: OrderState::Rejected,
                reason: None,
            },
            Event::OrderProgress {
                order_id: "P-1".into(),
                progress: Progress {
                    filled: 1200.0,
                    scheduled: 1500.5,
                    working: 300.0,
                    avg_price: Some(100.0123456789),
                    arrival_price: Some(100.0),
                    slippage_bps: Some(-1.25e-7),
                },
            },
            Event::OrderProgress {
                order_id: "P-2".into(),
                progress: Progress::default(),
            },
            Event::OrderParams {
                order_id: "P-1".into(),
                params: params(),
                override_: Some(OverrideInfo {
                    action: Some("wait".into()),
                    strategy: None,
                    remaining: Some(3),
                    user: "alice".into(),
                }),
                strategy: "adaptive".into(),
                qty: Some(2e5),
            },
            Event::Decision(Box::new(DecisionInfo {
                order_id: "P-1".into(),
                strategy: "adaptive".into(),
                action: "passive".into(),
                confidence: 0.8123,
                probs: vec![0.1, 0.8123, 0.0877],
                features: vec![0.37f64.sin(), -0.0, 1e21, 1e-7, f64::MIN_POSITIVE, f64::MAX],
                model: "policy@abc123".into(),
                model_status: Some(ModelStatus::Canary),
                overridden: true,
                fell_back: true,
                fallback_reason: Some("model guard tripped".into()),
                target_qty: 300.0,
                children: vec![
                    child(Some(100.01), ChildType::Limit, Side::Buy),
                    child(None, ChildType::MidPeg, Side::Sell),
                ],
            })),
            Event::Decision(Box::new(DecisionInfo {
                order_id: "P-1".into(),
                strategy: "twap".into(),
                action: "wait".into(),
                confidence: 1.0,
                probs: vec![],
                features: vec![],
                model: "rule".into(),
                model_status: None,
                overridden: false,
                fell_back: false,
                fallback_reason: None,
                target_qty: 0.0,
                children: vec![],
            })),
            Event::ChildSent {
                order_id: "P-1".into(),
                child: child(Some(99.99), ChildType::Limit, Side::Sell),
            },
            Event::ChildSent {
                order_id: "P-1".into(),
                child: child(None, ChildType::MidPeg, Side::Buy),
            },
            Event::ChildCancelled {
                order_id: "P-1".into(),
                child_id: "P-1-c7".into(),
                qty: 200.0,
                reason: "replaced".into(),
            },
            Event::Fill {
                order_id: "P-1".into(),
                child_id: "P-1-c7".into(),
                venue: "XDRK".into(),
                venue_kind: VenueKind::Dark,
                price: 100.005,
                qty: 100.0,
                liquidity: Liquidity::Maker,
            },
            Event::Fill {
                order_id: "P-1".into(),
                child_id: "P-1-c8".into(),
                venue: "XLIT".into(),
                venue_kind: VenueKind::Lit,
                price: 100.02,
                qty: 1.0,
                liquidity: Liquidity::Taker,
            },
            Event::Market(MarketSummary {
                symbol: "ACME".into(),
                bid: Some(100.22),
                ask: None,
                bid_size: 500.0,
                ask_size: 0.0,
                last: Some(f64::NEG_INFINITY),
                volume: 1_000_000.0,
                regime: "normal".into(),
                venues_down: vec![],
            }),
            Event::Market(MarketSummary {
                symbol: "BOLT".into(),
                bid: None,
                ask: Some(7.5),
                bid_size: 0.0,
                ask_size: 1.0,
                last: None,
                volume: 0.0,
                regime: "stressed".into(),
                venues_down: vec!["XLIT".into(), "X\tDRK".into()],
            }),
            Event::Alert(AlertInfo {
                alert_id: u64::MAX,
                severity: Severity::Critical,
                code: "control_breach".into(),
                message: "participation 31% > 25%".into(),
                order_id: Some("P-1".into()),
            }),
            Event::Alert(AlertInfo {
                alert_id: 0,
                severity: Severity::Info,
                code: "venue_outage".into(),
                message: String::new(),
                order_id: None,
            }),
            Event::Alert(AlertInfo {
                alert_id: 5,
                severity: Severity::Warning,
                code: "low_confidence".into(),
                message: "\u{7f}\u{1f}".into(),
                order_id: None,
            }),
            Event::CommandApplied {
                command_id: "c-1".into(),
                user: "alice".into(),
                command: Command::Retune {
                    order_id: "P-1".into(),
                    params: RetuneParams {
                        urgency: Some(0.7),
                        ..Default::default()
                    },
                },
                ok: false,
                reason: Some("order is done".into()),
            },
            Event::CommandApplied {
                command_id: "c-2".into(),
                user: "alice".into(),
                command: Command::KillModel {
                    model: "policy-2".into(),
                    reason: Some("costs too much".into()),
                },
                ok: true,
                reason: None,
            },
            Event::ModelState(ModelStateInfo {
                name: "policy-2".into(),
                id: "policy@abc123".into(),
                status: ModelStatus::Live,
                guard: GuardState::Tripped,
                cost_vs_baseline_bps: Some(31.5),
                threshold_bps: 25.0,
                orders: 3,
                reason: Some("cost +31.5 bps against the baseline, threshold 25".into()),
            }),
        ]
    }

    fn frames() -> Vec<ServerMessage> {
        let mut frames: Vec<ServerMessage> = events()
            .into_iter()
            .enumerate()
            .map(|(i, event)| {
                ServerMessage::Event(EventEnvelope {
                    seq: i as u64 + 1,
                    ts: 34_200_000_000_000 + i as u64,
                    event,
                })
            })
            .collect();
        frames.extend([
            ServerMessage::Welcome(Welcome {
                protocol: 1,
                engine_id: "e".into(),
                session_id: "s".into(),
                role: Role::Viewer,
                user: "bob".into(),
                last_seq: 9,
                resume: ResumeMode::Events,
                instance_id: "0123456789abcdef".into(),
                restart: Some(Restart {
                    at_ts: 36_000_000_000_000,
                    at_seq: 9,
                    orders: 2,
                }),
            }),
            ServerMessage::Snapshot(Box::new(SessionView::new())),
            ServerMessage::Ack(Ack {
                id: "c-1".into(),
                ok: true,
                reason: None,
                seq: Some(12),
                order_id: Some("P-7".into()),
            }),
            ServerMessage::Ack(Ack {
                id: "c-2".into(),
                ok: false,
                reason: Some("viewer".into()),
                seq: None,
                order_id: None,
            }),
            ServerMessage::Heartbeat { seq: 3, ts: 4 },
            ServerMessage::Error {
                code: ErrorCode::Resync,
                message: "slow".into(),
            },
            ServerMessage::Pong { t: Some(5) },
            ServerMessage::Pong { t: None },
            ServerMessage::FixSessions {
                sessions: vec![FixSessionInfo {
                    session: "OMS1→VIGIL".into(),
                    user: "desk".into(),
                    role: Role::Trader,
                    logged_on: true,
                    peer: Some("127.0.0.1:5001".into()),
                    next_in: 12,
                    next_out: 40,
                    orders: 3,
                }],
            },
        ]);
        frames
    }

    /// Non-finite floats are written as null and read back as none / fail;
    /// compare what survives a trip through JSON.
    fn through_json(msg: &ServerMessage) -> serde_json::Value {
        serde_json::to_value(msg).unwrap()
    }

    #[test]
    fn fast_encoder_matches_serde() {
        // Non-finite numbers are written as null (and cannot be read back
        // where a number is required, so they only appear here).
        let mut decision = match &events()[10] {
            Event::Decision(d) => d.clone(),
            other => panic!("not a decision: {other:?}"),
        };
        decision.features = vec![f64::NAN, f64::INFINITY, 1.0];
        decision.confidence = f64::NEG_INFINITY;
        let non_finite = [
            Event::Decision(decision),
            Event::Fill {
                order_id: "P-1".into(),
                child_id: "c".into(),
                venue: "XLIT".into(),
                venue_kind: VenueKind::Lit,
                price: f64::NAN,
                qty: f64::INFINITY,
                liquidity: Liquidity::Taker,
            },
        ]
        .map(|event| {
            ServerMessage::Event(EventEnvelope {
                seq: 1,
                ts: 2,
                event,
            })
        });
        for msg in frames().into_iter().chain(non_finite) {
            let reference = serde_json::to_string(&msg).unwrap();
            assert_eq!(encode(&msg), reference);
            let mut buf = b"left over".to_vec();
            encode_into(&msg, &mut buf);
            assert_eq!(buf, reference.as_bytes());
        }
    }

    #[test]
    fn every_variant_round_trips() {
        let mut kinds = BTreeSet::new();
        let mut types = BTreeSet::new();
        for msg in frames() {
            let text = encode(&msg);
            let value = through_json(&msg);
            types.insert(value["type"].as_str().unwrap().to_string());
            if let ServerMessage::Event(env) = &msg {
                kinds.insert(env.event.kind());
            }
            let decoded = decode_server(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(through_json(&decoded), value, "{text}");
            if !text.contains("null") {
                assert_eq!(decoded, msg);
            }
            // The journal reads events through other deserializers (serde's own buffering).
            let from_value: ServerMessage = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(through_json(&from_value), value);
        }
        // Every kind is in the test set, and serde's tag is the declared kind.
        let all_kinds = Event::KINDS.iter().copied();
        assert_eq!(kinds, all_kinds.collect());
        assert_eq!(types, SERVER_TYPES.iter().map(|t| t.to_string()).collect());
    }

    #[test]
    fn fields_in_any_order() {
        for msg in frames() {
            let value = through_json(&msg);
            // Without serde_json's preserve_order, a Value writes its keys
            // sorted: `type` and `kind` are then rarely first.
            let sorted = serde_json::to_string(&value).unwrap();
            let decoded = decode_server(&sorted).unwrap_or_else(|e| panic!("{sorted}: {e}"));
            assert_eq!(through_json(&decoded), value, "{sorted}");
        }
        let tag_last = r#"{"seq":1,"ts":2,"event":{"symbol":"A","bid":null,"ask":1.5,"bid_size":0,"ask_size":0,"last":null,"volume":0,"regime":"r","kind":"market"},"type":"event"}"#;
        let tag_first = r#"{"type":"event","seq":1,"ts":2,"event":{"kind":"market","symbol":"A","bid":null,"ask":1.5,"bid_size":0,"ask_size":0,"last":null,"volume":0,"regime":"r"}}"#;
        assert_eq!(
            decode_server(tag_last).unwrap(),
            decode_server(tag_first).unwrap()
        );
        // Escaped keys and tags are still recognised.
        let escaped = r#"{"\u0074ype":"heart\u0062eat","seq":1,"ts":2}"#;
        assert_eq!(
            decode_server(escaped).unwrap(),
            ServerMessage::Heartbeat { seq: 1, ts: 2 }
        );
    }

    #[test]
    fn bad_frames_are_explained() {
        type Check = fn(&DecodeError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("not json", |e| matches!(e, DecodeError::NotJson(_))),
            ("[1,2]", |e| matches!(e, DecodeError::NoType)),
            (r#"{"seq":1}"#, |e| matches!(e, DecodeError::NoType)),
            (r#"{"type":7}"#, |e| matches!(e, DecodeError::NoType)),
            (
                r#"{"type":"nope"}"#,
                |e| matches!(e, DecodeError::UnknownType(t) if t == "nope"),
            ),
            (
                r#"{"type":"event","seq":1}"#,
                |e| matches!(e, DecodeError::Invalid { kind, detail } if kind == "event" && detail.contains("missing field")),
            ),
            (
                r#"{"seq":1,"type":"event"}"#,
                |e| matches!(e, DecodeError::Invalid { kind, detail } if kind == "event" && detail.contains("missing field")),
            ),
            (
                r#"{"type":"event","seq":1,"ts":2,"event":{"kind":"nope"}}"#,
                |e| matches!(e, DecodeError::Invalid { detail, .. } if detail.contains("unknown variant `nope`")),
            ),
            (
                r#"{"type":"event","seq":1,"ts":2,"event":{"order_id":"P-1","kind":"fill"}}"#,
                |e| matches!(e, DecodeError::Invalid { detail, .. } if detail.contains("missing field")),
            ),
            (r#"{"type":"heartbeat","seq":1,"ts":2} x"#, |e| {
                matches!(e, DecodeError::NotJson(_))
            }),
            (
                r#"{"type":"heartbeat","seq":"1","ts":2}"#,
                |e| matches!(e, DecodeError::Invalid { kind, .. } if kind == "heartbeat"),
            ),
        ];
        for (text, expected) in cases {
            let err = decode_server(text).unwrap_err();
            assert!(expected(&err), "{text}: {err:?}");
        }
    }
}
