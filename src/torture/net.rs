//! What the network rows share: an engine on a loopback port, a trader that
//! times its commands, and connections from chosen loopback addresses (the
//! engine limits failed logins per address, so abusers come from their own).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use crate::engine::hub::Tokens;
use crate::engine::serve::{self, RunningEngine, ServeOptions};
use crate::engine::Scenario;
use crate::protocol::{
    decode_server, encode, ClientMessage, Command, RetuneParams, Role, ServerMessage,
    PROTOCOL_VERSION,
};

pub const TRADER: &str = "torture-trader";
pub const VIEWER: &str = "torture-viewer";

pub async fn engine(scenario: &str, speed: f64) -> Result<RunningEngine> {
    let mut tokens = Tokens::default();
    tokens.add(TRADER, "trader", Role::Trader)?;
    tokens.add(VIEWER, "viewer", Role::Viewer)?;
    let mut opts = ServeOptions::new("127.0.0.1:0", Scenario::load(scenario)?, tokens);
    opts.seed = Some(17);
    opts.speed = speed;
    opts.engine_id = "torture".into();
    serve::start(opts).await
}

/// A TCP connection to `to` from the loopback address `from`.
pub async fn tcp_from(from: IpAddr, to: SocketAddr) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    Ok(socket.connect(to).await?)
}

pub type RawWs = tokio_tungstenite::WebSocketStream<TcpStream>;

pub async fn ws_from(from: IpAddr, to: SocketAddr) -> Result<RawWs> {
    let tcp = tcp_from(from, to).await?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{to}"), tcp).await?;
    Ok(ws)
}

pub fn hello(token: &str, resume_from: Option<u64>) -> Message {
    Message::text(encode(&ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        token: token.into(),
        resume_from,
        instance_id: None,
    }))
}

/// A trader on its own connection, timing command → ack.
pub struct Trader {
    ws: RawWs,
    n: u64,
}

impl Trader {
    pub async fn attach(to: SocketAddr) -> Result<Trader> {
        let mut ws = ws_from("127.0.0.1".parse()?, to).await?;
        ws.send(hello(TRADER, None)).await?;
        expect_welcome(&mut ws).await?;
        Ok(Trader { ws, n: 0 })
    }

    /// One retune of `order`, timed to its ack (events before it are read and dropped).
    pub async fn time_one(&mut self, order: &str) -> Result<Duration> {
        self.n += 1;
        let id = format!("t{}", self.n);
        let cmd = ClientMessage::Command {
            id: id.clone(),
            command: Command::Retune {
                order_id: order.into(),
                params: RetuneParams {
                    urgency: Some(if self.n.is_multiple_of(2) { 0.4 } else { 0.6 }),
                    ..Default::default()
                },
            },
        };
        let t = Instant::now();
        self.ws.send(Message::text(encode(&cmd))).await?;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .context("no ack within 30 s")?
                .context("connection closed")??;
            if let Message::Text(text) = msg {
                if let Ok(ServerMessage::Ack(a)) = decode_server(text.as_str()) {
                    if a.id == id {
                        return Ok(t.elapsed());
                    }
                }
            }
        }
    }

    /// `n` timed commands, `gap` apart.
    pub async fn time_many(
        &mut self,
        order: &str,
        n: usize,
        gap: Duration,
    ) -> Result<Vec<Duration>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.time_one(order).await?);
            tokio::time::sleep(gap).await;
        }
        Ok(out)
    }
}

/// The `q` quantile of some durations (nearest rank).
pub fn quantile(v: &[Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let mut s = v.to_vec();
    s.sort();
    s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Read until the welcome, failing on anything else first.
pub async fn expect_welcome(ws: &mut RawWs) -> Result<()> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match decode_server(t.as_str()) {
                Ok(ServerMessage::Welcome(_)) => return Ok(()),
                Ok(ServerMessage::Error { message, .. }) => bail!("refused: {message}"),
                _ => continue,
            },
            Some(Ok(_)) => continue,
            other => bail!("no welcome: {other:?}"),
        }
    }
}
