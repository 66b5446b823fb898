//! The engine end to end over a real loopback WebSocket.

mod support;

use std::time::Duration;

use support::*;
use vigil::engine::journal::Journal;
use vigil::protocol::*;

fn is_event(m: &ServerMessage) -> bool {
    matches!(m, ServerMessage::Event(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_welcome_snapshot_then_gap_free_events_from_every_strategy() {
    let engine = start_engine("default", 42, 1e7, None).await;
    let mut c = Client::connect(&engine.url()).await;
    let w = c.hello(TRADER, None).await;
    assert_eq!(w.role, Role::Trader);
    assert_eq!(w.user, "alice");
    assert_eq!(w.engine_id, "test-engine");
    assert!(!c.view.instruments.is_empty());
    let mut strategies = std::collections::BTreeSet::new();
    let mut last_seq = c.view.seq;
    loop {
        if let ServerMessage::Event(env) = c.recv().await {
            assert_eq!(env.seq, last_seq + 1, "gap in events");
            last_seq = env.seq;
            if let Event::Decision(d) = &env.event {
                strategies.insert(d.strategy.clone());
                assert_eq!(d.probs.len(), c.view.contract.actions.len());
                assert_eq!(d.features.len(), c.view.contract.features.len());
                assert!(c.view.contract.actions.contains(&d.action));
                if d.model == "rule" {
                    assert_eq!(d.confidence, 1.0);
                } else {
                    assert!(d.model.starts_with("policy@"), "{}", d.model);
                }
            }
            if matches!(
                env.event,
                Event::EngineState {
                    state: EngineState::Ended,
                    ..
                }
            ) {
                break;
            }
        }
    }
    for s in ["twap", "vwap", "pov", "almgren_chriss"] {
        assert!(
            strategies.contains(s),
            "no decision from {s}: {strategies:?}"
        );
    }
    // What the client rebuilt from snapshot + events is the engine's own view.
    let (_, snap) = engine.handle.snapshot().await.unwrap();
    match decode_server(&snap).unwrap() {
        ServerMessage::Snapshot(s) => assert_eq!(*s, c.view),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_is_acknowledged_and_visible_in_events() {
    // 20 simulated seconds per wall second: orders stay alive during the test.
    let engine = start_engine("default", 42, 20.0, None).await;
    let mut c = Client::connect(&engine.url()).await;
    c.hello(TRADER, None).await;
    let order = "P-1".to_string();
    c.until(|m| matches!(m, ServerMessage::Event(e) if matches!(&e.event, Event::Decision(d) if d.order_id == "P-1"))).await;

    let ack = c
        .command(
            "c1",
            Command::Pause {
                order_id: order.clone(),
            },
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    assert_eq!(c.view.order(&order).unwrap().state, OrderState::Paused);
    let applied = c.events.iter().rev().find_map(|e| match &e.event {
        Event::CommandApplied {
            command_id,
            user,
            ok,
            ..
        } if command_id == "c1" => Some((user.clone(), *ok, e.seq)),
        _ => None,
    });
    assert_eq!(applied, Some(("alice".to_string(), true, ack.seq.unwrap())));
    // Pausing twice is refused with a reason.
    let again = c
        .command(
            "c1b",
            Command::Pause {
                order_id: order.clone(),
            },
        )
        .await;
    assert!(!again.ok);
    assert!(again.reason.unwrap().contains("cannot become paused"));

    let ack = c
        .command(
            "c2",
            Command::Resume {
                order_id: order.clone(),
            },
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    assert_eq!(c.view.order(&order).unwrap().state, OrderState::Working);

    let retune = RetuneParams {
        max_participation: Some(0.1),
        urgency: Some(0.8),
        ..Default::default()
    };
    let ack = c
        .command(
            "c3",
            Command::Retune {
                order_id: order.clone(),
                params: retune,
            },
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    assert_eq!(
        c.view.order(&order).unwrap().info.params.max_participation,
        0.1
    );
    let bad = RetuneParams {
        max_participation: Some(1.5),
        ..Default::default()
    };
    let ack = c
        .command(
            "c3b",
            Command::Retune {
                order_id: order.clone(),
                params: bad,
            },
        )
        .await;
    assert!(!ack.ok);
    assert!(ack.reason.unwrap().contains("max_participation"));

    let ack = c
        .command(
            "c4",
            Command::Override {
                order_id: order.clone(),
                action: Some("dark".into()),
                strategy: None,
                decisions: None,
            },
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    assert!(c.view.order(&order).unwrap().override_.is_some());
    // The next decision is the forced one, flagged as overridden.
    let d = c
        .until(|m| matches!(m, ServerMessage::Event(e) if matches!(&e.event, Event::Decision(d) if d.order_id == "P-1")))
        .await;
    if let ServerMessage::Event(EventEnvelope {
        event: Event::Decision(d),
        ..
    }) = d
    {
        assert!(d.overridden);
        assert_eq!(d.action, "dark");
        assert!(d.children.iter().all(|c| c.child_type == ChildType::MidPeg));
    }
    let ack = c
        .command(
            "c5",
            Command::ReleaseOverride {
                order_id: order.clone(),
            },
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    assert!(c.view.order(&order).unwrap().override_.is_none());

    let ack = c
        .command(
            "c6",
            Command::KillSwitch {
                reason: Some("test".into()),
            },
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    assert_eq!(c.view.state, EngineState::Halted);
    assert!(
        c.view.orders.iter().all(|o| o.open_children.is_empty()),
        "children left working after kill switch"
    );
    assert!(c.view.alerts.iter().any(|a| a.code == "kill_switch"));
    let ack = c.command("c7", Command::ResumeAll).await;
    assert!(ack.ok, "{ack:?}");
    assert_eq!(c.view.state, EngineState::Running);

    let ack = c
        .command(
            "c8",
            Command::Cancel {
                order_id: order.clone(),
            },
        )
        .await;
    assert!(ack.ok, "{ack:?}");
    assert_eq!(c.view.order(&order).unwrap().state, OrderState::Cancelled);

    let new = NewOrder {
        id: Some("N-1".into()),
        symbol: "BOLT".into(),
        side: Side::Buy,
        qty: 5000.0,
        strategy: "twap".into(),
        start_in_s: None,
        duration_s: 1800.0,
        params: RetuneParams::default(),
        origin: None,
    };
    let ack = c.command("c9", Command::NewOrder { order: new }).await;
    assert!(ack.ok, "{ack:?}");
    assert_eq!(c.view.order("N-1").unwrap().state, OrderState::Working);
    engine.handle.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_everything_and_commands_nothing() {
    let engine = start_engine("calm", 7, 50.0, None).await;
    let mut v = Client::connect(&engine.url()).await;
    let w = v.hello(VIEWER, None).await;
    assert_eq!(w.role, Role::Viewer);
    v.until(is_event).await;
    let ack = v
        .command(
            "v1",
            Command::Pause {
                order_id: "P-1".into(),
            },
        )
        .await;
    assert!(!ack.ok);
    assert!(ack.reason.unwrap().contains("permission denied"));
    let ack = v.command("v2", Command::KillSwitch { reason: None }).await;
    assert!(!ack.ok);
    assert_ne!(v.view.state, EngineState::Halted);
    engine.handle.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_reason_and_the_connection_stays_up() {
    let engine = start_engine("calm", 7, 50.0, None).await;
    // Before hello: anything else is refused and the connection closed.
    let mut early = Client::connect(&engine.url()).await;
    early.send_text(r#"{"type":"ping"}"#).await;
    match early.recv().await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::Unauthenticated),
        other => panic!("{other:?}"),
    }
    let mut wrong = Client::connect(&engine.url()).await;
    wrong
        .send_text(r#"{"type":"hello","protocol":1,"token":"nope"}"#)
        .await;
    assert!(matches!(
        wrong.recv().await,
        ServerMessage::Error {
            code: ErrorCode::Unauthenticated,
            ..
        }
    ));
    let mut old = Client::connect(&engine.url()).await;
    old.send_text(r#"{"type":"hello","protocol":0,"token":"trader-token"}"#)
        .await;
    assert!(matches!(
        old.recv().await,
        ServerMessage::Error {
            code: ErrorCode::UnsupportedProtocol,
            ..
        }
    ));

    let mut c = Client::connect(&engine.url()).await;
    c.hello(TRADER, None).await;
    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(100_000));
    let nan_price = r#"{"type":"command","id":"b9","command":{"kind":"retune","order_id":"P-1","params":{"limit_price":NaN}}}"#;
    // (frame, expected error code or refused-ack reason fragment)
    let table: Vec<(String, &str)> = vec![
        ("not json at all".into(), "malformed"),
        ("[1,2,3]".into(), "malformed"),
        (r#"{"no_type":1}"#.into(), "malformed"),
        (r#"{"type":"launch_missiles"}"#.into(), "malformed"),
        (r#"{"type":"command","id":"b1","command":{"kind":"explode"}}"#.into(), "malformed"),
        (r#"{"type":"command","id":"b2","command":{"kind":"pause","order_id":7}}"#.into(), "malformed"),
        (r#"{"type":"command","id":"b3","command":{"kind":"pause"}}"#.into(), "malformed"),
        (r#"{"type":"hello","protocol":1,"token":"trader-token"}"#.into(), "bad_request"),
        (nan_price.into(), "malformed"),
        (huge, "too_large"),
        (r#"{"type":"command","id":"b4","command":{"kind":"pause","order_id":"P-999"}}"#.into(), "unknown order P-999"),
        (
            r#"{"type":"command","id":"b5","command":{"kind":"new_order","order":{"symbol":"ACME","side":"buy","qty":-5,"strategy":"twap","duration_s":60}}}"#.into(),
            "not a positive whole number",
        ),
        (
            r#"{"type":"command","id":"b6","command":{"kind":"new_order","order":{"symbol":"ACME","side":"buy","qty":1e300,"strategy":"twap","duration_s":60}}}"#.into(),
            "quantity 1e300 exceeds the whole average daily volume",
        ),
        (
            r#"{"type":"command","id":"b7","command":{"kind":"new_order","order":{"symbol":"ZZZZ","side":"buy","qty":100,"strategy":"twap","duration_s":60}}}"#.into(),
            "unknown symbol",
        ),
        (
            r#"{"type":"command","id":"b8","command":{"kind":"override","order_id":"P-1","action":"yolo"}}"#.into(),
            "unknown action",
        ),
        (
            r#"{"type":"command","id":"b10","command":{"kind":"retune","order_id":"P-1","params":{"limit_price":-3}}}"#.into(),
            "limit_price",
        ),
        (
            r#"{"type":"command","id":"b11","command":{"kind":"retune","order_id":"P-1","params":{"venues":["MOON"]}}}"#.into(),
            "unknown venue MOON",
        ),
        (
            r#"{"type":"command","id":"b12","command":{"kind":"new_order","order":{"symbol":"ACME","side":"buy","qty":100,"strategy":"magic","duration_s":60}}}"#.into(),
            "unknown strategy",
        ),
    ];
    for (frame, expect) in table {
        c.send_text(&frame).await;
        let reply = c
            .until(|m| matches!(m, ServerMessage::Error { .. } | ServerMessage::Ack(_)))
            .await;
        match reply {
            ServerMessage::Error { code, message } => {
                let code = serde_json::to_value(code).unwrap();
                assert_eq!(code, expect, "frame {:.80} got error {message}", frame);
            }
            ServerMessage::Ack(a) => {
                assert!(!a.ok, "frame {frame:.80} was accepted");
                let reason = a.reason.unwrap_or_default();
                assert!(
                    reason.contains(expect),
                    "frame {frame:.80}: reason {reason:?} lacks {expect:?}"
                );
            }
            _ => unreachable!(),
        }
    }
    // A binary frame too.
    use futures_util::SinkExt;
    c.ws.send(tokio_tungstenite::tungstenite::Message::binary(vec![
        0u8, 1, 2,
    ]))
    .await
    .unwrap();
    assert!(matches!(
        c.until(|m| matches!(m, ServerMessage::Error { .. })).await,
        ServerMessage::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    // Still alive and serving.
    c.send(&ClientMessage::Ping { t: Some(99) }).await;
    assert_eq!(
        c.until(|m| matches!(m, ServerMessage::Pong { .. })).await,
        ServerMessage::Pong { t: Some(99) }
    );
    let ack = c
        .command(
            "ok",
            Command::Pause {
                order_id: "P-1".into(),
            },
        )
        .await;
    assert!(
        ack.ok || ack.reason.as_deref().unwrap_or("").contains("not started"),
        "{ack:?}"
    );
    engine.handle.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_a_dropped_connection_has_no_gap() {
    let engine = start_engine("default", 3, 2000.0, None).await;
    let mut c = Client::connect(&engine.url()).await;
    c.hello(TRADER, None).await;
    for _ in 0..200 {
        c.until(is_event).await;
    }
    let last = c.view.seq;
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c2 = Client::connect(&engine.url()).await;
    let w = c2.hello(TRADER, Some(last)).await;
    assert_eq!(w.resume, ResumeMode::Events);
    assert!(
        w.last_seq > last,
        "engine did not move on while we were away"
    );
    match c2.until(is_event).await {
        ServerMessage::Event(e) => assert_eq!(e.seq, last + 1),
        _ => unreachable!(),
    }
    // A resume point the engine never reached gets a snapshot instead.
    let mut c3 = Client::connect(&engine.url()).await;
    let w = c3.hello(TRADER, Some(u64::MAX / 2)).await;
    assert_eq!(w.resume, ResumeMode::Snapshot);
    engine.handle.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_holds_exactly_what_clients_saw() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start_engine("calm", 5, 1e7, Some(dir.path().to_path_buf())).await;
    let mut c = Client::connect(&engine.url()).await;
    c.hello(TRADER, Some(0)).await;
    loop {
        if let ServerMessage::Event(e) = c.recv().await {
            if matches!(
                e.event,
                Event::EngineState {
                    state: EngineState::Ended,
                    ..
                }
            ) {
                break;
            }
        }
    }
    let path = engine.journal.clone().unwrap();
    let journal = Journal::open(&path).unwrap();
    assert!(journal.truncated.is_none());
    assert_eq!(journal.header.scenario, "calm");
    assert_eq!(journal.header.seed, 5);
    let recorded: Vec<_> = journal.events().cloned().collect();
    assert_eq!(recorded.len(), c.events.len());
    assert_eq!(recorded, c.events);
    // Keyframes equal the view rebuilt from the events up to them.
    let mut view = SessionView::new();
    let mut keyframes = 0;
    for r in &journal.records {
        match r {
            vigil::engine::journal::Record::Event(e) => {
                view.apply(e);
            }
            vigil::engine::journal::Record::Keyframe { seq, view: k } => {
                assert_eq!(*seq, view.seq);
                assert_eq!(**k, view);
                keyframes += 1;
            }
            _ => {}
        }
    }
    assert!(keyframes >= 1);
    engine.handle.shutdown();
}
