//! The hub: serves clients over WebSocket. It authenticates each connection,
//! brings it up to date (missed events or a snapshot), streams events from
//! the shared log at the client's own pace, forwards commands to the engine
//! and answers each with one `ack`. A slow client falls behind alone: past
//! `MAX_LAG` events it is resynchronised with a fresh snapshot.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use super::runner::EngineHandle;
use crate::protocol::*;

/// Events a client may lag behind before it is resynchronised with a snapshot.
pub const MAX_LAG: u64 = 20_000;
/// Events sent per wake-up, so a catching-up client still notices commands.
const SEND_CHUNK: usize = 512;
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Who may connect, by token.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_token: HashMap<String, (String, Role)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    users: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    token: String,
    user: String,
    role: Role,
}

impl Tokens {
    pub fn add(&mut self, token: &str, user: &str, role: Role) -> Result<()> {
        if token.len() < 4 {
            bail!("token for {user} is too short (at least 4 characters)");
        }
        if self
            .by_token
            .insert(token.to_string(), (user.to_string(), role))
            .is_some()
        {
            bail!("token for {user} is used twice");
        }
        Ok(())
    }

    /// Read a TOML file of `[[users]] token, user, role`.
    pub fn load_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading tokens file {}", path.display()))?;
        let file: TokenFile =
            toml::from_str(&text).with_context(|| format!("tokens file {}", path.display()))?;
        for u in file.users {
            self.add(&u.token, &u.user, u.role)
                .with_context(|| format!("tokens file {}", path.display()))?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    fn lookup(&self, token: &str) -> Option<&(String, Role)> {
        self.by_token.get(token)
    }
}

/// Accept connections until the listener fails.
pub async fn serve(listener: TcpListener, engine: EngineHandle, tokens: Arc<Tokens>) -> Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let engine = engine.clone();
        let tokens = tokens.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, engine, tokens).await {
                debug!(%peer, "connection ended: {e:#}");
            }
        });
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn send(ws: &mut Ws, msg: &ServerMessage) -> Result<()> {
    ws.send(Message::text(encode(msg))).await?;
    Ok(())
}

async fn send_error(ws: &mut Ws, code: ErrorCode, message: impl Into<String>) -> Result<()> {
    send(
        ws,
        &ServerMessage::Error {
            code,
            message: message.into(),
        },
    )
    .await
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    engine: EngineHandle,
    tokens: Arc<Tokens>,
) -> Result<()> {
    stream.set_nodelay(true)?;
    // The WebSocket layer accepts frames up to 1 MiB so that an oversized
    // frame can be refused politely at the protocol level (64 KiB).
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;

    // 1. hello
    let hello = tokio::time::timeout(HELLO_TIMEOUT, next_text(&mut ws)).await;
    let text = match hello {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(()),
        Err(_) => {
            send_error(&mut ws, ErrorCode::Unauthenticated, "no hello within 10 s").await?;
            return Ok(());
        }
    };
    let (token, resume_from) = match decode_client(&text) {
        Ok(ClientMessage::Hello {
            protocol,
            token,
            resume_from,
        }) => {
            if protocol != PROTOCOL_VERSION {
                send_error(
                    &mut ws,
                    ErrorCode::UnsupportedProtocol,
                    format!("this engine speaks protocol {PROTOCOL_VERSION}, not {protocol}"),
                )
                .await?;
                ws.close(None).await.ok();
                return Ok(());
            }
            (token, resume_from)
        }
        Ok(_) => {
            send_error(
                &mut ws,
                ErrorCode::Unauthenticated,
                "the first message must be hello",
            )
            .await?;
            ws.close(None).await.ok();
            return Ok(());
        }
        Err(e) => {
            send_error(
                &mut ws,
                ErrorCode::Unauthenticated,
                format!("the first message must be hello: {e}"),
            )
            .await?;
            ws.close(None).await.ok();
            return Ok(());
        }
    };
    let Some((user, role)) = tokens.lookup(&token).cloned() else {
        send_error(&mut ws, ErrorCode::Unauthenticated, "unknown token").await?;
        ws.close(None).await.ok();
        return Ok(());
    };
    info!(%peer, %user, ?role, "client attached");

    // 2. bring the client up to date
    let mut published = engine.shared.published.subscribe();
    let last_seq = *published.borrow_and_update();
    let can_resume = resume_from.is_some_and(|n| {
        n <= last_seq
            && engine
                .shared
                .log
                .lock()
                .map(|l| l.read_from(n + 1, 0).is_some())
                .unwrap_or(false)
    });
    let welcome = |resume| {
        ServerMessage::Welcome(Welcome {
            protocol: PROTOCOL_VERSION,
            engine_id: engine.shared.engine_id.clone(),
            session_id: engine.shared.session_id.clone(),
            role,
            user: user.clone(),
            last_seq,
            resume,
        })
    };
    let mut cursor = if can_resume {
        send(&mut ws, &welcome(ResumeMode::Events)).await?;
        resume_from.unwrap_or(0) + 1
    } else {
        send(&mut ws, &welcome(ResumeMode::Snapshot)).await?;
        send_snapshot(&mut ws, &engine).await?
    };

    // 3. stream
    let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut acks = FuturesUnordered::new();
    let mut more_to_send = true;
    loop {
        if more_to_send {
            let (sent, behind) = send_events(&mut ws, &engine, &mut cursor).await?;
            if behind {
                send_error(
                    &mut ws,
                    ErrorCode::Resync,
                    "too far behind: resynchronising from a snapshot",
                )
                .await?;
                cursor = send_snapshot(&mut ws, &engine).await?;
            }
            more_to_send = sent == SEND_CHUNK;
        }
        tokio::select! {
            biased;
            incoming = ws.next() => {
                let Some(msg) = incoming else { break };
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => {
                        // A protocol violation at the WebSocket level (e.g. a frame over
                        // 1 MiB): tell the client if the socket still works, then close.
                        let _ = send_error(&mut ws, ErrorCode::TooLarge, format!("websocket error: {e}")).await;
                        break;
                    }
                };
                match msg {
                    Message::Text(t) => match decode_client(t.as_str()) {
                        Ok(ClientMessage::Command { id, command }) => {
                            if id.is_empty() || id.len() > 128 {
                                send_error(&mut ws, ErrorCode::Malformed, "command id must be 1-128 characters").await?;
                                continue;
                            }
                            let engine = engine.clone();
                            let user = user.clone();
                            acks.push(async move {
                                let outcome = engine.command(&id, &user, role, command).await;
                                (id, outcome)
                            });
                        }
                        Ok(ClientMessage::Ping { t }) => send(&mut ws, &ServerMessage::Pong { t }).await?,
                        Ok(ClientMessage::Hello { .. }) => {
                            send_error(&mut ws, ErrorCode::BadRequest, "already authenticated: hello is only for the start").await?
                        }
                        Err(e) => send_error(&mut ws, e.code(), e.to_string()).await?,
                    },
                    Message::Binary(_) => send_error(&mut ws, ErrorCode::BadRequest, "binary frames are not part of the protocol; send JSON text").await?,
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            Some((id, outcome)) = acks.next(), if !acks.is_empty() => {
                let ack = match outcome {
                    Some(o) => Ack { id, ok: o.ok, reason: o.reason, seq: Some(o.seq) },
                    None => Ack { id, ok: false, reason: Some("the engine has stopped".into()), seq: None },
                };
                // Events up to the command's effect go out before its ack.
                if let Some(seq) = ack.seq {
                    while cursor <= seq {
                        let (sent, behind) = send_events(&mut ws, &engine, &mut cursor).await?;
                        if behind {
                            cursor = send_snapshot(&mut ws, &engine).await?;
                        }
                        if sent == 0 {
                            break;
                        }
                    }
                }
                send(&mut ws, &ServerMessage::Ack(ack)).await?;
            }
            changed = published.changed(), if !more_to_send => {
                if changed.is_err() {
                    break;
                }
                more_to_send = true;
            }
            _ = heartbeat.tick() => {
                let seq = *published.borrow();
                let ts = engine.shared.sim_ts.load(Ordering::Relaxed);
                send(&mut ws, &ServerMessage::Heartbeat { seq, ts }).await?;
            }
        }
    }
    info!(%peer, %user, "client detached");
    Ok(())
}

/// Send a fresh snapshot; returns the next seq the client needs.
async fn send_snapshot(ws: &mut Ws, engine: &EngineHandle) -> Result<u64> {
    let Some((seq, frame)) = engine.snapshot().await else {
        bail!("engine stopped");
    };
    ws.send(Message::text(frame.to_string())).await?;
    Ok(seq + 1)
}

/// Send up to `SEND_CHUNK` events from `cursor`. Returns (sent, fell behind).
async fn send_events(
    ws: &mut Ws,
    engine: &EngineHandle,
    cursor: &mut u64,
) -> Result<(usize, bool)> {
    let last = *engine.shared.published.borrow();
    if *cursor > last {
        return Ok((0, false));
    }
    if last - *cursor > MAX_LAG {
        warn!(cursor = *cursor, last, "client too slow, resynchronising");
        return Ok((0, true));
    }
    let frames = {
        let log = engine.shared.log.lock().expect("event log lock");
        log.read_from(*cursor, SEND_CHUNK)
    };
    let Some(frames) = frames else {
        return Ok((0, true));
    };
    let n = frames.len();
    for (seq, frame) in frames {
        ws.feed(Message::text(frame.to_string())).await?;
        *cursor = seq + 1;
    }
    ws.flush().await?;
    Ok((n, false))
}

async fn next_text(ws: &mut Ws) -> Option<String> {
    while let Some(msg) = ws.next().await {
        match msg.ok()? {
            Message::Text(t) => return Some(t.to_string()),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
    None
}
