//! The client against a tiny in-test engine: welcome, snapshot, events, a
//! dropped connection, and a reconnect that resumes from the last seq.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use vigil::console::app::{Link, Msg};
use vigil::console::client::{spawn_client, ClientConfig, ClientControl, NetEvent};
use vigil::protocol::*;

type ServerWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn send(ws: &mut ServerWs, msg: &ServerMessage) {
    ws.send(Message::text(encode(msg))).await.unwrap();
}

/// Read client frames until `hello`, answering pings on the way.
async fn read_hello(ws: &mut ServerWs) -> (String, Option<u64>) {
    loop {
        let frame = ws.next().await.unwrap().unwrap();
        let Message::Text(text) = frame else { continue };
        match decode_client(text.as_str()).unwrap() {
            ClientMessage::Hello {
                token, resume_from, ..
            } => return (token, resume_from),
            ClientMessage::Ping { t } => send(ws, &ServerMessage::Pong { t }).await,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn reconnects_and_resumes_from_the_last_seq() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());

    let mut fx = Fx::new();
    let history: Vec<ServerMessage> = small_session(&mut fx);
    let mut view = SessionView::new();
    for m in &history[..history.len() - 5] {
        if let ServerMessage::Event(e) = m {
            view.apply(e);
        }
    }
    let snap_seq = view.seq;
    let tail: Vec<ServerMessage> = history[history.len() - 5..].to_vec();
    let last_seq = fx.seq;
    let extra = fx.ev(fill("P-1", 100.0, 1.0));

    let server = tokio::spawn(async move {
        // First connection: welcome, snapshot, a few events, then drop.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let (token, resume) = read_hello(&mut ws).await;
        assert_eq!(token, "T0K");
        assert_eq!(resume, None);
        send(
            &mut ws,
            &welcome(Role::Trader, ResumeMode::Snapshot, snap_seq),
        )
        .await;
        send(&mut ws, &ServerMessage::Snapshot(Box::new(view))).await;
        for m in &tail {
            send(&mut ws, m).await;
        }
        // Answer one ping so a round trip gets measured.
        loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                break;
            };
            if let Ok(ClientMessage::Ping { t }) = decode_client(text.as_str()) {
                send(&mut ws, &ServerMessage::Pong { t }).await;
                break;
            }
        }
        drop(ws); // connection lost without a close frame

        // Second connection: the client must resume after the last event it got.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let (_, resume) = read_hello(&mut ws).await;
        send(
            &mut ws,
            &welcome(Role::Trader, ResumeMode::Events, last_seq),
        )
        .await;
        send(&mut ws, &extra).await;
        let _ = ws.next().await; // hold until the client goes away
        resume
    });

    let (tx, mut rx) = mpsc::channel(1024);
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let mut config = ClientConfig::new(url, "T0K");
    config.ping_every = Duration::from_millis(20);
    config.backoff_initial = Duration::from_millis(10);
    let client = spawn_client(config, tx, ctl_rx);

    let mut app = app(Role::Trader);
    let mut saw_reconnecting = false;
    let mut saw_rtt = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.live.view.seq < last_seq + 1 {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("client made progress")
            .expect("client alive");
        match &ev {
            NetEvent::Disconnected { .. } => saw_reconnecting = true,
            NetEvent::Rtt(_) => saw_rtt = true,
            _ => {}
        }
        app.update(Msg::Net(ev), Instant::now());
        if saw_reconnecting && app.live.view.seq == last_seq && app.link.link != Link::Live {
            assert!(matches!(
                app.link.link,
                Link::Reconnecting { attempt: 1.., .. }
            ));
        }
    }
    assert!(saw_reconnecting, "the drop was noticed");
    assert!(saw_rtt, "ping/pong measured a round trip");
    assert_eq!(app.link.link, Link::Live);
    assert_eq!(app.link.note.as_ref().unwrap().0, "resumed");
    assert_eq!(app.live.view.order("P-1").unwrap().fills, 11);
    ctl_tx.send(ClientControl::Shutdown).unwrap();
    let resume = server.await.unwrap();
    assert_eq!(
        resume,
        Some(last_seq),
        "hello carried resume_from = last seq"
    );
    tokio::time::timeout(Duration::from_secs(2), client)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_refused_token_is_fatal_not_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        read_hello(&mut ws).await;
        send(
            &mut ws,
            &ServerMessage::Error {
                code: ErrorCode::Unauthenticated,
                message: "unknown token".into(),
            },
        )
        .await;
        let _ = ws.next().await;
    });
    let (tx, mut rx) = mpsc::channel(16);
    let (_ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    spawn_client(ClientConfig::new(url, "bad"), tx, ctl_rx);
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
        {
            Some(NetEvent::Fatal(reason)) => {
                assert!(reason.contains("unknown token"));
                break;
            }
            Some(NetEvent::Disconnected { .. }) => panic!("must not retry a refused token"),
            Some(_) => {}
            None => panic!("client ended without saying why"),
        }
    }
}
