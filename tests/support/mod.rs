//! Shared helpers for end-to-end tests: a real engine on a loopback port and
//! a real WebSocket client.
#![allow(dead_code)]

pub mod nats;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use vigil::engine::hub::Tokens;
use vigil::engine::serve::{self, RunningEngine, ServeOptions};
use vigil::engine::Scenario;
use vigil::protocol::*;

pub const TRADER: &str = "trader-token";
pub const VIEWER: &str = "viewer-token";

fn test_tokens() -> Tokens {
    let mut tokens = Tokens::default();
    tokens.add(TRADER, "alice", Role::Trader).unwrap();
    tokens.add(VIEWER, "bob", Role::Viewer).unwrap();
    tokens
}

fn test_options(scenario: Scenario, seed: Option<u64>, speed: f64) -> ServeOptions {
    ServeOptions {
        listen: "127.0.0.1:0".into(),
        scenario,
        seed,
        speed,
        record: None,
        tokens: test_tokens(),
        engine_id: "test-engine".into(),
        tls: None,
        journal_sync: Default::default(),
        capture: None,
    }
}

pub async fn start_engine(
    scenario: &str,
    seed: u64,
    speed: f64,
    record: Option<std::path::PathBuf>,
) -> RunningEngine {
    let mut opts = test_options(Scenario::load(scenario).unwrap(), Some(seed), speed);
    opts.record = record;
    serve::start(opts).await.unwrap()
}

/// Serve an engine that is already set up (a captured market, say).
pub async fn serve_prepared(
    engine: vigil::engine::Engine,
    scenario: Scenario,
    speed: f64,
) -> RunningEngine {
    serve::start_engine(engine, test_options(scenario, None, speed))
        .await
        .unwrap()
}

pub struct Client {
    pub ws: vigil::tls::Ws,
    /// Every event received, in order.
    pub events: Vec<EventEnvelope>,
    pub view: SessionView,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        Self::connect_with(url, None).await.unwrap()
    }

    /// Connect over ws:// or (with a connector) wss://.
    pub async fn connect_with(
        url: &str,
        tls: Option<&vigil::tls::TlsConnector>,
    ) -> anyhow::Result<Client> {
        let ws = vigil::tls::dial(url, tls, Default::default()).await?;
        Ok(Client {
            ws,
            events: Vec::new(),
            view: SessionView::new(),
        })
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_string())).await.unwrap();
    }

    pub async fn send(&mut self, msg: &ClientMessage) {
        let text = encode(msg);
        self.send_text(&text).await;
    }

    /// Next message from the engine (any type); events are also recorded and applied.
    pub async fn recv(&mut self) -> ServerMessage {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("engine went silent")
                .expect("connection closed")
                .expect("websocket error");
            let text = match msg {
                Message::Text(t) => t.to_string(),
                Message::Close(f) => panic!("closed by engine: {f:?}"),
                _ => continue,
            };
            let m = decode_server(&text).unwrap_or_else(|e| panic!("undecodable {text}: {e}"));
            match &m {
                ServerMessage::Event(env) => {
                    self.view.apply(env);
                    self.events.push(env.clone());
                }
                ServerMessage::Snapshot(s) => self.view = (**s).clone(),
                _ => {}
            }
            return m;
        }
    }

    /// Receive until `pred` matches a message, returning it.
    pub async fn until(&mut self, mut pred: impl FnMut(&ServerMessage) -> bool) -> ServerMessage {
        loop {
            let m = self.recv().await;
            if pred(&m) {
                return m;
            }
        }
    }

    /// hello → welcome (→ snapshot when not resuming).
    pub async fn hello(&mut self, token: &str, resume_from: Option<u64>) -> Welcome {
        self.hello_in(token, resume_from, None).await
    }

    /// hello resuming within a named engine run.
    pub async fn hello_in(
        &mut self,
        token: &str,
        resume_from: Option<u64>,
        instance_id: Option<String>,
    ) -> Welcome {
        self.send(&ClientMessage::Hello {
            protocol: 1,
            token: token.into(),
            resume_from,
            instance_id,
        })
        .await;
        match self.recv().await {
            ServerMessage::Welcome(w) => {
                if w.resume == ResumeMode::Snapshot {
                    match self.recv().await {
                        ServerMessage::Snapshot(_) => {}
                        other => panic!("expected snapshot, got {other:?}"),
                    }
                }
                w
            }
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Send a command and wait for its ack.
    pub async fn command(&mut self, id: &str, command: Command) -> Ack {
        self.send(&ClientMessage::Command {
            id: id.into(),
            command,
        })
        .await;
        match self
            .until(|m| matches!(m, ServerMessage::Ack(a) if a.id == id))
            .await
        {
            ServerMessage::Ack(a) => a,
            _ => unreachable!(),
        }
    }
}

/// What a drawn screen says, one line per row.
pub fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}
