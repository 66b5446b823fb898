//! Commands over the bus: a request on `vigil.<engine>.cmd` is the
//! WebSocket `command` frame with the sender's `token` added; the reply is the
//! `ack` frame a WebSocket client would get, or its `error` frame for a
//! request that cannot be read or a token that is not known. The command goes
//! through `EngineHandle::command`: the same permission guard, journal record
//! and acknowledgement as a console's.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Deserialize;
use tracing::{info, warn};

use crate::engine::hub::Access;
use crate::engine::runner::EngineHandle;
use crate::protocol::{
    decode_client, encode, Ack, ClientMessage, Command, ErrorCode, ResumeMode, ServerMessage,
    Welcome, PROTOCOL_VERSION,
};

/// Largest request read (a command is a few hundred bytes).
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    token: String,
    command: Command,
}

/// Just the frame's type, to tell a `hello` from a command.
#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
}

/// A `hello` on the command subject is answered with the `welcome` a
/// WebSocket client would get (role, user, run, last seq): how a console on
/// the bus learns what its token may do on this engine before it sends
/// anything. Nothing follows it; the events are on the stream.
fn hello(payload: &[u8], engine: &EngineHandle, access: &Access) -> String {
    let text = String::from_utf8_lossy(payload);
    let (protocol, token) = match decode_client(&text) {
        Ok(ClientMessage::Hello {
            protocol, token, ..
        }) => (protocol, token),
        Ok(_) => return error(ErrorCode::BadRequest, "not a hello"),
        Err(e) => return error(ErrorCode::Malformed, e.to_string()),
    };
    if protocol != PROTOCOL_VERSION {
        return error(
            ErrorCode::UnsupportedProtocol,
            format!("this engine speaks protocol {PROTOCOL_VERSION}, not {protocol}"),
        );
    }
    let Some((user, role)) = access.tokens.lookup(&token) else {
        warn!("bus: hello refused: unknown token");
        return error(ErrorCode::Unauthenticated, "unknown token");
    };
    let shared = &engine.shared;
    encode(&ServerMessage::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        engine_id: shared.engine_id.clone(),
        session_id: shared.session_id.clone(),
        role,
        user,
        last_seq: *shared.published.borrow(),
        resume: ResumeMode::Snapshot,
        instance_id: shared.instance_id.clone(),
        restart: shared.restart.clone(),
    }))
}

fn error(code: ErrorCode, message: impl Into<String>) -> String {
    encode(&ServerMessage::Error {
        code,
        message: message.into(),
    })
}

/// The reply to one request.
pub async fn answer(payload: &[u8], engine: &EngineHandle, access: &Access) -> String {
    if payload.len() > MAX_REQUEST {
        return error(
            ErrorCode::TooLarge,
            format!("a command request is at most {MAX_REQUEST} bytes"),
        );
    }
    if let Ok(Kind { kind }) = serde_json::from_slice::<Kind>(payload) {
        if kind == "hello" {
            return hello(payload, engine, access);
        }
    }
    let req: Request = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(e) => {
            return error(
                ErrorCode::Malformed,
                format!("not a command request ({{\"type\":\"command\",\"id\":…,\"token\":…,\"command\":{{…}}}}): {e}"),
            )
        }
    };
    if req.kind != "command" {
        return error(
            ErrorCode::BadRequest,
            format!(
                "the command subject takes type \"command\", not {:?}",
                req.kind
            ),
        );
    }
    if req.id.is_empty() || req.id.len() > 128 {
        return error(ErrorCode::Malformed, "command id must be 1-128 characters");
    }
    let Some((user, role)) = access.tokens.lookup(&req.token) else {
        warn!("bus: command {} refused: unknown token", req.id);
        return error(ErrorCode::Unauthenticated, "unknown token");
    };
    if let Command::NewOrder { order } = &req.command {
        if order.origin.is_some() {
            let ack = Ack {
                id: req.id,
                ok: false,
                reason: Some("origin is set by the engine's FIX gateway, not by a client".into()),
                seq: None,
                order_id: None,
            };
            return encode(&ServerMessage::Ack(ack));
        }
    }
    let ack = match engine.command(&req.id, &user, role, req.command).await {
        Some(o) => Ack {
            id: req.id,
            ok: o.ok,
            reason: o.reason,
            seq: Some(o.seq),
            order_id: o.order_id,
        },
        None => Ack {
            id: req.id,
            ok: false,
            reason: Some("the engine has stopped".into()),
            seq: None,
            order_id: None,
        },
    };
    encode(&ServerMessage::Ack(ack))
}

pub async fn serve(
    client: async_nats::Client,
    mut requests: async_nats::Subscriber,
    engine: EngineHandle,
    access: Arc<Access>,
) {
    while let Some(msg) = requests.next().await {
        let Some(reply) = msg.reply.clone() else {
            info!("bus: a command without a reply subject, ignored (use request/reply)");
            continue;
        };
        let answer = answer(&msg.payload, &engine, &access).await;
        if let Err(e) = client.publish(reply, answer.into()).await {
            warn!("bus: could not answer a command: {e}");
        }
    }
}
