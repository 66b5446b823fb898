//! The WebSocket client: connects, says hello, forwards every server message
//! to the app, measures round trips with pings, and reconnects with
//! exponential backoff, resuming from the last event it forwarded.
//!
//! It runs as its own task so the UI never waits on the network.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::{
    decode_server, encode, ClientMessage, ErrorCode, ServerMessage, PROTOCOL_VERSION,
};

/// What the client tells the app.
#[derive(Debug)]
// Moved once per message; boxing would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum NetEvent {
    /// About to dial; `attempt` 0 is the first connection.
    Connecting {
        attempt: u32,
    },
    /// The socket is open and `hello` was sent. `conn` increases per connection.
    Connected {
        conn: u64,
    },
    Message {
        conn: u64,
        msg: ServerMessage,
    },
    /// Round trip measured by the last ping/pong.
    Rtt(Duration),
    /// The connection is gone; the next attempt (number `attempt`) follows after backoff.
    Disconnected {
        conn: u64,
        attempt: u32,
        reason: String,
    },
    /// The engine refused us for a reason retrying will not fix.
    Fatal(String),
    /// On a bus: every engine's link, clock and state (when any changes).
    Fleet(Vec<crate::console::fleet::EngineStatus>),
}

/// What the app asks of the client.
#[derive(Debug)]
// Moved once per message; boxing would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum ClientControl {
    Send(ClientMessage),
    /// On a bus: a command for one engine (one that names no order, such as
    /// the kill switch scoped to one engine).
    SendTo {
        engine: String,
        msg: ClientMessage,
    },
    /// Drop the connection and reconnect now, resuming after `resume_from`.
    Reconnect {
        resume_from: Option<u64>,
    },
    Shutdown,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub url: String,
    pub token: String,
    pub ping_every: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Trusted authorities for `wss://` (PEM); the system's bundle when None.
    pub ca: Option<std::path::PathBuf>,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        ClientConfig {
            url: url.into(),
            token: token.into(),
            ping_every: Duration::from_secs(1),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            ca: None,
        }
    }

    /// Delay before attempt `n` (1-based): doubles each time, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        (self.backoff_initial * factor).min(self.backoff_max)
    }
}

/// How a connection ended.
enum End {
    Lost(String),
    Reconnect(Option<u64>),
    Shutdown,
    Fatal(String),
}

/// Start the client task. Messages flow out through `events`; the task ends on
/// `Shutdown`, on a fatal refusal, or when the app drops its receiver.
pub fn spawn_client(
    config: ClientConfig,
    events: mpsc::Sender<NetEvent>,
    control: mpsc::UnboundedReceiver<ClientControl>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_client(config, events, control))
}

async fn run_client(
    config: ClientConfig,
    events: mpsc::Sender<NetEvent>,
    mut control: mpsc::UnboundedReceiver<ClientControl>,
) {
    let epoch = Instant::now();
    let mut last_seq: Option<u64> = None;
    // The engine run `last_seq` counts in (`welcome.instance_id`).
    let mut instance: Option<String> = None;
    let mut attempt: u32 = 0;
    let mut conn: u64 = 0;
    let tls = if config.url.starts_with("wss://") {
        match crate::tls::connector(config.ca.as_deref()) {
            Ok(c) => Some(c),
            Err(e) => {
                let _ = events.send(NetEvent::Fatal(format!("{e:#}"))).await;
                return;
            }
        }
    } else {
        None
    };
    loop {
        if events.send(NetEvent::Connecting { attempt }).await.is_err() {
            return;
        }
        let dialled = crate::tls::dial(&config.url, tls.as_ref(), Default::default()).await;
        let end = match dialled {
            Err(e) => End::Lost(format!("cannot connect: {e:#}")),
            Ok(ws) => {
                conn += 1;
                let end = session(
                    &config,
                    ws,
                    conn,
                    &mut last_seq,
                    &mut instance,
                    &events,
                    &mut control,
                    epoch,
                    &mut attempt,
                )
                .await;
                end
            }
        };
        let reason = match end {
            End::Shutdown => return,
            End::Fatal(reason) => {
                let _ = events.send(NetEvent::Fatal(reason)).await;
                return;
            }
            End::Reconnect(resume) => {
                last_seq = resume;
                attempt += 1;
                let _ = events
                    .send(NetEvent::Disconnected {
                        conn,
                        attempt,
                        reason: "resynchronising".into(),
                    })
                    .await;
                continue;
            }
            End::Lost(reason) => reason,
        };
        attempt += 1;
        if events
            .send(NetEvent::Disconnected {
                conn,
                attempt,
                reason,
            })
            .await
            .is_err()
        {
            return;
        }
        // Wait out the backoff, still obeying the app (it may quit meanwhile).
        let sleep = tokio::time::sleep(config.backoff(attempt));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                ctl = control.recv() => match ctl {
                    None | Some(ClientControl::Shutdown) => return,
                    Some(ClientControl::Reconnect { resume_from }) => { last_seq = resume_from; break; }
                    // Commands cannot be sent while disconnected; the app shows them as pending.
                    Some(ClientControl::Send(_)) | Some(ClientControl::SendTo { .. }) => {}
                }
            }
        }
    }
}

use crate::tls::Ws;

#[allow(clippy::too_many_arguments)]
async fn session(
    config: &ClientConfig,
    mut ws: Ws,
    conn: u64,
    last_seq: &mut Option<u64>,
    instance: &mut Option<String>,
    events: &mpsc::Sender<NetEvent>,
    control: &mut mpsc::UnboundedReceiver<ClientControl>,
    epoch: Instant,
    attempt: &mut u32,
) -> End {
    let hello = ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        token: config.token.clone(),
        resume_from: *last_seq,
        instance_id: last_seq.and(instance.clone()),
    };
    if let Err(e) = ws.send(Message::text(encode(&hello))).await {
        return End::Lost(format!("cannot send hello: {e}"));
    }
    if events.send(NetEvent::Connected { conn }).await.is_err() {
        return End::Shutdown;
    }
    let mut ping = tokio::time::interval(config.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    None => return End::Lost("connection closed by the engine".into()),
                    Some(Err(e)) => return End::Lost(format!("connection lost: {e}")),
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) => return End::Lost("connection closed by the engine".into()),
                    Some(Ok(_)) => continue,
                };
                let msg = match decode_server(text.as_str()) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!("undecodable frame from engine: {e}");
                        continue;
                    }
                };
                match &msg {
                    ServerMessage::Event(env) => *last_seq = Some(env.seq),
                    ServerMessage::Snapshot(s) => *last_seq = Some(s.seq),
                    ServerMessage::Welcome(w) => {
                        *attempt = 0;
                        *instance = (!w.instance_id.is_empty()).then(|| w.instance_id.clone());
                    }
                    ServerMessage::Pong { t: Some(t) } => {
                        let now = epoch.elapsed().as_micros() as u64;
                        let rtt = Duration::from_micros(now.saturating_sub(*t));
                        let _ = events.send(NetEvent::Rtt(rtt)).await;
                        continue;
                    }
                    ServerMessage::Error { code: code @ (ErrorCode::Unauthenticated | ErrorCode::UnsupportedProtocol), message } => {
                        return End::Fatal(format!("engine refused the connection ({code:?}): {message}"));
                    }
                    _ => {}
                }
                if events.send(NetEvent::Message { conn, msg }).await.is_err() {
                    return End::Shutdown;
                }
            }
            ctl = control.recv() => match ctl {
                None | Some(ClientControl::Shutdown) => {
                    let _ = ws.close(None).await;
                    return End::Shutdown;
                }
                Some(ClientControl::Reconnect { resume_from }) => {
                    let _ = ws.close(None).await;
                    return End::Reconnect(resume_from);
                }
                // One engine on a WebSocket: every command is for it.
                Some(ClientControl::Send(msg)) | Some(ClientControl::SendTo { msg, .. }) => {
                    if let Err(e) = ws.send(Message::text(encode(&msg))).await {
                        return End::Lost(format!("send failed: {e}"));
                    }
                }
            },
            _ = ping.tick() => {
                let t = epoch.elapsed().as_micros() as u64;
                if let Err(e) = ws.send(Message::text(encode(&ClientMessage::Ping { t: Some(t) }))).await {
                    return End::Lost(format!("ping failed: {e}"));
                }
            }
        }
    }
}
