//! Encoding and defensive decoding. Input from the network is untrusted: every
//! failure becomes a `DecodeError` with a message a human can act on.

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
pub fn encode<T: Serialize>(msg: &T) -> String {
    let mut buf = Vec::with_capacity(512);
    encode_into(msg, &mut buf);
    // serde_json writes only valid UTF-8.
    String::from_utf8(buf).expect("serde_json output is UTF-8")
}

/// Encode into a reusable buffer (cleared first): the hot path of the
/// engine, which encodes every event once.
pub fn encode_into<T: Serialize>(msg: &T, buf: &mut Vec<u8>) {
    buf.clear();
    // Serialising these types cannot fail: no maps with non-string keys, and
    // non-finite floats are written as null by serde_json.
    serde_json::to_writer(&mut *buf, msg).expect("protocol messages always serialise");
}
