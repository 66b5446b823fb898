//! The engine on a real NATS server with JetStream (Debian's nats-server,
//! started here on a free port with its own store): every event on the
//! stream, gap-free, in order, the same frames a WebSocket client gets;
//! commands by request/reply through the same guard; bad requests refused;
//! a second engine with the same name refused; a server restart mid-session
//! with nothing lost.

mod support;

use std::process::Command as Process;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use support::nats::*;
use support::*;
use vigil::engine::bus::{self, BusOptions};
use vigil::protocol::*;

/// Every event on the engine's stream, in stream order, as (seq, event).
async fn read_stream(url: &str, engine: &str, want_last: u64) -> Vec<EventEnvelope> {
    let client = async_nats::connect(url).await.unwrap();
    let js = jetstream::new(client);
    let stream = js
        .get_stream(format!("VIGIL_{}", engine.replace('-', "_")))
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.last().map(|e: &EventEnvelope| e.seq) < Some(want_last) {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = match tokio::time::timeout(left, messages.next()).await {
            Ok(Some(Ok(m))) => m,
            other => panic!(
                "the stream stopped at {:?} of {want_last}: {:?}",
                out.last().map(|e| e.seq),
                other.map(|o| o.map(|r| r.map(|_| ())))
            ),
        };
        let text = std::str::from_utf8(&m.payload).unwrap();
        let ServerMessage::Event(env) = decode_server(text).unwrap() else {
            panic!("not an event frame: {text:.120}")
        };
        let header_seq = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Vigil-Seq"))
            .map(|v| v.as_str().to_string());
        assert_eq!(header_seq, Some(env.seq.to_string()));
        assert!(
            m.subject
                .ends_with(&format!(".events.{}", env.event.kind())),
            "{}",
            m.subject
        );
        out.push(env);
    }
    out
}

async fn request(client: &async_nats::Client, engine: &str, body: String) -> ServerMessage {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(format!("vigil.{engine}.cmd"), body.into()),
    )
    .await
    .expect("an answer on the reply subject")
    .unwrap();
    decode_server(std::str::from_utf8(&reply.payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_commands_over_jetstream() {
    let dir = tempdir("e2e");
    let mut server = NatsServer::start(free_port(), &dir.join("js"));
    let engine = start_engine("default", 3, 300.0, None).await;
    let on_bus = bus::start(
        BusOptions::new(server.url(), "eng-a", "default"),
        engine.handle.clone(),
        engine.access.clone(),
    )
    .await
    .unwrap();

    // A second engine under the same name is refused.
    let other = start_engine("calm", 4, 1.0, None).await;
    let refused = bus::start(
        BusOptions::new(server.url(), "eng-a", "calm"),
        other.handle.clone(),
        other.access.clone(),
    )
    .await
    .err()
    .expect("a second eng-a must not start");
    assert!(
        refused.to_string().contains("another engine named eng-a"),
        "{refused:#}"
    );

    // Commands: a trader's pause is applied and journalled with the user; a
    // viewer is refused by the same guard; bad requests get error frames.
    let client = async_nats::connect(server.url()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ack = request(&client, "eng-a", format!(r#"{{"type":"command","id":"b1","token":"{TRADER}","command":{{"kind":"pause","order_id":"P-1"}}}}"#)).await;
    let ServerMessage::Ack(ack) = ack else {
        panic!("{ack:?}")
    };
    assert!(ack.ok, "{ack:?}");
    let pause_seq = ack.seq.unwrap();
    let ack = request(&client, "eng-a", format!(r#"{{"type":"command","id":"b2","token":"{VIEWER}","command":{{"kind":"resume","order_id":"P-1"}}}}"#)).await;
    let ServerMessage::Ack(ack) = ack else {
        panic!("{ack:?}")
    };
    assert!(
        !ack.ok && ack.reason.as_deref().unwrap_or("").contains("permission"),
        "{ack:?}"
    );
    for (body, code) in [
        ("not json".to_string(), ErrorCode::Malformed),
        (
            r#"{"type":"command","id":"b3","token":"nope","command":{"kind":"resume_all"}}"#
                .to_string(),
            ErrorCode::Unauthenticated,
        ),
        (
            format!(
                r#"{{"type":"command","id":"b4","token":"{TRADER}","command":{{"kind":"explode"}}}}"#
            ),
            ErrorCode::Malformed,
        ),
        (
            format!(
                r#"{{"type":"subscribe","id":"b5","token":"{TRADER}","command":{{"kind":"resume_all"}}}}"#
            ),
            ErrorCode::BadRequest,
        ),
        (
            r#"{"type":"hello","protocol":1,"token":"nope"}"#.to_string(),
            ErrorCode::Unauthenticated,
        ),
        (
            format!(r#"{{"type":"hello","protocol":9,"token":"{TRADER}"}}"#),
            ErrorCode::UnsupportedProtocol,
        ),
    ] {
        match request(&client, "eng-a", body.clone()).await {
            ServerMessage::Error { code: c, .. } => assert_eq!(c, code, "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    // A hello on the command subject is answered with the welcome a
    // WebSocket client gets: who the token is on this engine, and its run.
    let hello = request(
        &client,
        "eng-a",
        format!(r#"{{"type":"hello","protocol":1,"token":"{VIEWER}"}}"#),
    )
    .await;
    let ServerMessage::Welcome(w) = hello else {
        panic!("{hello:?}")
    };
    assert_eq!((w.role, w.user.as_str()), (Role::Viewer, "bob"));
    assert_eq!(w.instance_id, engine.handle.shared.instance_id);
    let ack = request(&client, "eng-a", format!(r#"{{"type":"command","id":"b6","token":"{TRADER}","command":{{"kind":"pause","order_id":"P-404"}}}}"#)).await;
    let ServerMessage::Ack(ack) = ack else {
        panic!("{ack:?}")
    };
    assert!(
        !ack.ok
            && ack
                .reason
                .as_deref()
                .unwrap_or("")
                .contains("unknown order"),
        "{ack:?}"
    );

    // The server goes away and comes back mid-session: the engine trades on,
    // and the stream ends up with every event, once, in order.
    server.restart();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let last = *engine.handle.shared.published.borrow();
    assert!(
        on_bus.drain(last, Duration::from_secs(30)).await,
        "events after the restart were not republished"
    );
    let events = read_stream(&server.url(), "eng-a", last).await;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "gap or duplicate on the stream");
    }
    // The same frames the engine's own log holds, the pause by its user.
    let log: Vec<(u64, String)> = engine
        .handle
        .shared
        .log
        .lock()
        .unwrap()
        .read_from(1, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(s, f)| (s, f.to_string()))
        .collect();
    for (env, (seq, frame)) in events.iter().zip(&log) {
        assert_eq!(env.seq, *seq);
        let ServerMessage::Event(logged) = decode_server(frame).unwrap() else {
            unreachable!()
        };
        assert_eq!(&logged, env);
    }
    assert!(events.iter().any(|e| e.seq == pause_seq
        && matches!(&e.event, Event::CommandApplied { user, ok: true, .. } if user == "alice")));

    // A late joiner starts from the keyframe.
    let js = jetstream::new(client.clone());
    let kv = js.get_key_value("vigil_keyframes").await.unwrap();
    let frame = kv.get("eng-a").await.unwrap().expect("a keyframe");
    let ServerMessage::Snapshot(view) =
        decode_server(std::str::from_utf8(&frame).unwrap()).unwrap()
    else {
        panic!()
    };
    assert!(view.seq > 0 && view.order("P-1").is_some());
    on_bus.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// nats-py, a client this project did not write, reads the stream and
/// sends commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_client_reads_the_stream_and_commands() {
    let dir = tempdir("py");
    let server = NatsServer::start(free_port(), &dir.join("js"));
    let engine = start_engine("default", 5, 200.0, None).await;
    let on_bus = bus::start(
        BusOptions::new(server.url(), "eng-py", "default"),
        engine.handle.clone(),
        engine.access.clone(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let until = *engine.handle.shared.published.borrow();
    let out = tokio::task::spawn_blocking(move || {
        Process::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bus_peer.py"))
            .args([&server.url(), "eng-py", TRADER, VIEWER, &until.to_string()])
            .output()
            .expect("python3 (./test installs nats-py from tests/requirements.txt)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["first"], 1, "{seen}");
    assert!(seen["last"].as_u64().unwrap() >= until, "{seen}");
    assert_eq!(seen["gaps"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["mismatched"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["keyframe_type"], "snapshot");
    assert_eq!(seen["pause"]["type"], "ack");
    assert_eq!(seen["pause"]["ok"], true, "{seen}");
    assert_eq!(seen["viewer_resume"]["ok"], false, "{seen}");
    assert!(seen["viewer_resume"]["reason"]
        .as_str()
        .unwrap()
        .contains("permission"));
    assert_eq!(seen["resume"]["ok"], true, "{seen}");
    assert_eq!(seen["garbage"]["type"], "error");
    assert_eq!(seen["garbage"]["code"], "malformed");
    on_bus.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `vigil replay nats://… --engine NAME` reads the session back from the
/// stream: the journal it builds holds exactly the engine's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_replays_from_the_stream() {
    let dir = tempdir("replay");
    let server = NatsServer::start(free_port(), &dir.join("js"));
    let engine = start_engine("calm", 6, 1e7, None).await;
    let on_bus = bus::start(
        BusOptions::new(server.url(), "eng-r", "calm"),
        engine.handle.clone(),
        engine.access.clone(),
    )
    .await
    .unwrap();
    // Let the day run out, then wait for the bus to have all of it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, snap) = engine.handle.snapshot().await.unwrap();
        if snap.contains("\"state\":\"ended\"") || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let last = *engine.handle.shared.published.borrow();
    assert!(on_bus.drain(last, Duration::from_secs(30)).await);
    let path = vigil::replay::from_bus::fetch(&server.url(), "eng-r", &dir.join("out"))
        .await
        .unwrap();
    let journal = vigil::engine::journal::Journal::open(&path).unwrap();
    assert!(journal.truncated.is_none());
    assert_eq!(journal.header.scenario, "calm");
    let replayed: Vec<EventEnvelope> = journal.events().cloned().collect();
    let log = engine
        .handle
        .shared
        .log
        .lock()
        .unwrap()
        .read_from(1, usize::MAX)
        .unwrap();
    assert_eq!(replayed.len(), log.len());
    for (env, (_, frame)) in replayed.iter().zip(&log) {
        let ServerMessage::Event(logged) = decode_server(frame).unwrap() else {
            unreachable!()
        };
        assert_eq!(&logged, env);
    }
    // An engine that is not on the bus, and a bus that is not there: said plainly.
    let err = vigil::replay::from_bus::fetch(&server.url(), "nobody", &dir.join("x"))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("is engine nobody on this bus"),
        "{err:#}"
    );
    let out = Process::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "replay",
            &format!("nats://127.0.0.1:{}", free_port()),
            "--engine",
            "eng-r",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connecting to NATS"), "{stderr}");
    on_bus.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
