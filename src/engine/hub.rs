//! The hub: serves clients over WebSocket. It authenticates each connection,
//! brings it up to date (missed events or a snapshot), streams events from
//! the shared log at the client's own pace, forwards commands to the engine
//! and answers each with one `ack`. A slow client falls behind alone: past
//! `MAX_LAG` events it is resynchronised with a fresh snapshot; one that stops
//! reading altogether is dropped after `STALL_TIMEOUT`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

pub use super::access::Tokens;
use super::access::{token_hint, FailureLimiter};
use super::runner::EngineHandle;
use crate::protocol::*;
use crate::tls::{Io, TlsAcceptor, Ws};

/// Events a client may lag behind before it is resynchronised with a snapshot.
pub const MAX_LAG: u64 = 20_000;
/// Events sent per wake-up, so a catching-up client still notices commands.
const SEND_CHUNK: usize = 512;
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a TCP connection may take to finish its TLS and WebSocket handshakes
/// (a slowloris client is dropped after it).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Kernel send buffer of a client socket, bytes.
const SEND_BUFFER: usize = 256 << 10;
/// A client whose socket accepts nothing for this long is dropped.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed on arrival.
pub const MAX_CONNECTIONS: usize = 1024;

/// What the hub checks a client against.
pub struct Access {
    pub tokens: Tokens,
    pub failures: FailureLimiter,
}

impl Access {
    pub fn new(tokens: Tokens) -> Arc<Access> {
        Arc::new(Access {
            tokens,
            failures: FailureLimiter::default(),
        })
    }
}

/// Accept connections until the listener fails.
pub async fn serve(
    listener: TcpListener,
    engine: EngineHandle,
    access: Arc<Access>,
    tls: Option<TlsAcceptor>,
) -> Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            // Out of file descriptors and the like: wait, do not die.
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            warn!(%peer, "too many connections; closing this one");
            continue;
        };
        let engine = engine.clone();
        let access = access.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(stream, tls)).await {
                Ok(Ok(ws)) => ws,
                Ok(Err(e)) => {
                    debug!(%peer, "handshake failed: {e:#}");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "handshake not finished within {HANDSHAKE_TIMEOUT:?}");
                    return;
                }
            };
            if let Err(e) = connection(ws, peer, engine, access).await {
                debug!(%peer, "connection ended: {e:#}");
            }
        });
    }
}

/// TLS (when configured), then the WebSocket handshake.
async fn handshake(stream: TcpStream, tls: Option<TlsAcceptor>) -> Result<Ws> {
    stream.set_nodelay(true)?;
    // Bounded kernel memory per client: a client that stops reading holds at
    // most this much (plus the WebSocket layer's write buffer) before its
    // sends block and `STALL_TIMEOUT` lets it go.
    socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER)?;
    let io: Box<dyn Io> = match tls {
        Some(acceptor) => Box::new(acceptor.accept(stream).await?),
        None => Box::new(stream),
    };
    // The WebSocket layer accepts frames up to 1 MiB so that an oversized
    // frame can be refused politely at the protocol level (64 KiB).
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    Ok(tokio_tungstenite::accept_async_with_config(io, Some(config)).await?)
}

async fn send(ws: &mut Ws, msg: &ServerMessage) -> Result<()> {
    unstalled(async { Ok(ws.send(Message::text(encode(msg))).await?) }).await
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
    mut ws: Ws,
    peer: SocketAddr,
    engine: EngineHandle,
    access: Arc<Access>,
) -> Result<()> {
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
    let (token, resume_from, resume_instance) = match decode_client(&text) {
        Ok(ClientMessage::Hello {
            protocol,
            token,
            resume_from,
            instance_id,
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
            (token, resume_from, instance_id)
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
    if let Some(wait) = access.failures.locked(peer.ip(), Instant::now()) {
        warn!(%peer, "authentication refused: address locked out after failed attempts");
        send_error(
            &mut ws,
            ErrorCode::Unauthenticated,
            format!(
                "too many failed authentications from this address; try again in {} s",
                wait.as_secs() + 1
            ),
        )
        .await?;
        ws.close(None).await.ok();
        return Ok(());
    }
    let Some((user, role)) = access.tokens.lookup(&token) else {
        let locked = access.failures.failed(peer.ip(), Instant::now());
        warn!(%peer, token = %token_hint(&token), locked, "authentication failed: unknown token");
        send_error(&mut ws, ErrorCode::Unauthenticated, "unknown token").await?;
        ws.close(None).await.ok();
        return Ok(());
    };
    access.failures.succeeded(peer.ip());
    info!(%peer, %user, ?role, "client attached");

    // 2. bring the client up to date
    let mut published = engine.shared.published.subscribe();
    let last_seq = *published.borrow_and_update();
    // A resume counts in one engine run: against another run (a fresh start
    // on the same address) the client's seq means nothing here.
    let same_run = resume_instance
        .as_deref()
        .is_none_or(|i| i == engine.shared.instance_id);
    let can_resume = same_run
        && resume_from.is_some_and(|n| {
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
            instance_id: engine.shared.instance_id.clone(),
            restart: engine.shared.restart.clone(),
        })
    };
    let mut cursor = if can_resume {
        send(&mut ws, &welcome(ResumeMode::Events)).await?;
        resume_from.unwrap_or(0) + 1
    } else {
        send(&mut ws, &welcome(ResumeMode::Snapshot)).await?;
        send_snapshot(&mut ws, &engine).await?
    };

    // The FIX gateway's sessions, if it has any, then whenever they change.
    let mut fix = engine.shared.fix.subscribe();
    let sessions = fix.borrow_and_update().clone();
    if !sessions.is_empty() {
        send(&mut ws, &ServerMessage::FixSessions { sessions }).await?;
    }

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
                            if let Command::NewOrder { order } = &command {
                                if order.origin.is_some() {
                                    // Only the FIX gateway says an order came from an OMS.
                                    let reason = "origin is set by the engine's FIX gateway, not by a client".to_string();
                                    let ack = Ack { id, ok: false, reason: Some(reason), seq: None, order_id: None };
                                    send(&mut ws, &ServerMessage::Ack(ack)).await?;
                                    continue;
                                }
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
                    Some(o) => Ack { id, ok: o.ok, reason: o.reason, seq: Some(o.seq), order_id: o.order_id },
                    None => Ack { id, ok: false, reason: Some("the engine has stopped".into()), seq: None, order_id: None },
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
            changed = fix.changed() => {
                if changed.is_ok() {
                    let sessions = fix.borrow_and_update().clone();
                    send(&mut ws, &ServerMessage::FixSessions { sessions }).await?;
                }
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

/// A send that has not completed in `STALL_TIMEOUT` means a client that does
/// not read: it is dropped (its socket buffers are all it ever held). Every
/// send helper (`send`, `send_snapshot`, `send_events`) goes through it.
async fn unstalled<T>(send: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(STALL_TIMEOUT, send).await {
        Ok(r) => r,
        Err(_) => {
            warn!("client stopped reading for {STALL_TIMEOUT:?}: dropping it");
            bail!("client stalled")
        }
    }
}

/// Send a fresh snapshot; returns the next seq the client needs.
async fn send_snapshot(ws: &mut Ws, engine: &EngineHandle) -> Result<u64> {
    let Some((seq, frame)) = engine.snapshot().await else {
        bail!("engine stopped");
    };
    unstalled(async { Ok(ws.send(Message::text(frame.to_string())).await?) }).await?;
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
    unstalled(async {
        for (seq, frame) in frames {
            ws.feed(Message::text(frame.to_string())).await?;
            *cursor = seq + 1;
        }
        Ok(ws.flush().await?)
    })
    .await?;
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
