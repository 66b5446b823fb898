//! One console over many engines on a real NATS bus: three engines on one
//! nats-server (two simulations, one trading a capture `feed_bus::publish`
//! put on the bus) (started here on a free port with its own store), a trader's
//! and a viewer's console joined to all of them — the console runtime
//! without a terminal (the real bus link, `App::update`, effects carried out
//! as `console::run` does, `view` on ratatui's TestBackend).
//!
//! Checked: every engine's orders on one blotter under their engine's name
//! (two engines both have a `P-1`); a command acts on its order's own engine
//! and nowhere else; the viewer is refused by the engine; the kill switch
//! scoped to one engine halts that one only; the trader's console restarts
//! and resumes from the seq it saved, gap-free; the nats-server restarts
//! mid-session; and at the end of the day each console shows exactly what
//! each engine holds, fill counts and all.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use support::nats::*;
use support::*;
use tokio::sync::mpsc;
use vigil::console::app::{App, Effect, Msg, StatusKind};
use vigil::console::client::{ClientControl, NetEvent};
use vigil::console::fleet::{spawn_fleet, Engines, FleetConfig, LaneLink};
use vigil::console::keymap::Keymap;
use vigil::console::theme::Theme;
use vigil::console::view::view;
use vigil::engine::bus::{self, BusOptions, RunningBus};
use vigil::engine::serve::RunningEngine;
use vigil::protocol::*;

fn capture() -> std::path::PathBuf {
    let dir = std::env::var_os("VIGIL_MARKET_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/market")
        });
    dir.join("binance_spot_btcusdt_20240808.jsonl.gz")
}

/// Generous: CI runs debug builds on two cores.
const DEADLINE: Duration = Duration::from_secs(60);

struct BusConsole {
    app: App,
    net: mpsc::Receiver<NetEvent>,
    control: mpsc::UnboundedSender<ClientControl>,
    task: tokio::task::JoinHandle<()>,
}

impl BusConsole {
    fn join(url: &str, token: &str, resume_file: Option<&Path>) -> BusConsole {
        Self::join_with(url, token, resume_file, 65_536)
    }

    /// With `queue` messages between the link and the app (as `console::run`
    /// has 65,536).
    fn join_with(url: &str, token: &str, resume_file: Option<&Path>, queue: usize) -> BusConsole {
        let (net_tx, net) = mpsc::channel(queue);
        let (control, ctl_rx) = mpsc::unbounded_channel();
        let task = spawn_fleet(
            FleetConfig {
                url: url.into(),
                token: token.into(),
                engines: Engines::All,
                resume_file: resume_file.map(Path::to_path_buf),
            },
            net_tx,
            ctl_rx,
        );
        BusConsole {
            app: App::new(
                Keymap::default(),
                Theme::builtin_dark(),
                vec!["dark".into()],
            ),
            net,
            control,
            task,
        }
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send(msg) => {
                    let _ = self.control.send(ClientControl::Send(msg));
                }
                Effect::SendTo { engine, msg } => {
                    let _ = self.control.send(ClientControl::SendTo { engine, msg });
                }
                Effect::Reconnect { resume_from } => {
                    let _ = self.control.send(ClientControl::Reconnect { resume_from });
                }
                Effect::LoadTheme(_) | Effect::Shadow(_) | Effect::Quit => {}
            }
        }
    }

    /// Apply what arrives until `pred` holds.
    async fn until(&mut self, what: &str, mut pred: impl FnMut(&App) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !pred(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; engines: {:?}; status: {:?}",
                self.app.fleet,
                self.app.status
            );
            match tokio::time::timeout(left.min(Duration::from_millis(200)), self.net.recv()).await
            {
                Ok(Some(ev)) => {
                    if let NetEvent::Fatal(e) = &ev {
                        panic!("the console's bus link failed: {e}");
                    }
                    let effects = self.app.update(Msg::Net(ev), Instant::now());
                    self.carry_out(effects);
                }
                Ok(None) => panic!("the bus link ended while waiting for {what}"),
                Err(_) => {}
            }
        }
    }

    fn press(&mut self, c: char) {
        let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        let effects = self.app.update(Msg::Key(key), Instant::now());
        self.carry_out(effects);
    }

    fn select(&mut self, order: &str) {
        self.app.selected = Some(order.into());
    }

    fn screen(&self) -> String {
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        term.draw(|f| view(&self.app, f)).unwrap();
        buffer_text(term.backend().buffer())
    }

    async fn quit(self) {
        let _ = self.control.send(ClientControl::Shutdown);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

fn order<'a>(app: &'a App, id: &str) -> Option<&'a vigil::protocol::view::OrderView> {
    app.live.view.order(id)
}

async fn on_bus(url: &str, name: &str, engine: &RunningEngine) -> RunningBus {
    bus::start(
        BusOptions::new(url, name, "sim"),
        engine.handle.clone(),
        engine.access.clone(),
    )
    .await
    .unwrap()
}

async fn engine_view(engine: &RunningEngine) -> SessionView {
    let (_, frame) = engine.handle.snapshot().await.unwrap();
    match decode_server(&frame).unwrap() {
        ServerMessage::Snapshot(v) => *v,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_console_supervises_three_engines_on_the_bus() {
    let dir = tempdir("console");
    let mut server = NatsServer::start(free_port(), &dir.join("js"));
    let url = server.url();
    // Three engines: two simulations of the same scenario (the same order
    // ids and symbols), at a pace that lets the day end within the test, and
    // one trading the BTCUSDT capture that a feed handler publishes on the
    // bus (its six recorded minutes at 20×).
    let a = start_engine("default", 11, 1500.0, None).await;
    let b = start_engine("default", 12, 1500.0, None).await;
    vigil::engine::feed_bus::publish(vigil::engine::feed_bus::PublishOptions {
        url: url.clone(),
        capture: capture(),
        speed: None,
    })
    .await
    .unwrap();
    let (header, feed) = vigil::engine::feed_bus::open(&url, "BTCUSDT", Duration::from_secs(10))
        .await
        .unwrap();
    let setup = tokio::task::spawn_blocking(move || {
        vigil::engine::capture_session::prepare_source(
            Box::new(feed),
            header.profile,
            "nats:BTCUSDT",
            None,
            13,
        )
        .unwrap()
    })
    .await
    .unwrap();
    let scenario = setup.scenario.clone();
    let c = serve_prepared(
        setup
            .engine(&vigil::engine::EngineOptions::default())
            .unwrap(),
        scenario,
        20.0,
    )
    .await;
    let engines = [("eng-a", &a), ("eng-b", &b), ("eng-c", &c)];
    let mut buses = Vec::new();
    for (name, e) in engines {
        buses.push(on_bus(&url, name, e).await);
    }
    let resume_file = dir.join("trader-console.json");
    let mut trader = BusConsole::join(&url, TRADER, Some(&resume_file));
    let mut viewer = BusConsole::join(&url, VIEWER, None);

    let all_live = |app: &App| {
        app.fleet.len() == 3
            && app.fleet.iter().all(|e| e.link == LaneLink::Live)
            && order(app, "eng-a/P-1").is_some()
            && order(app, "eng-b/P-1").is_some()
            && order(app, "eng-c/TWAP-BUY").is_some()
    };
    trader.until("three engines live", all_live).await;
    viewer.until("three engines live", all_live).await;
    assert!(trader
        .app
        .fleet
        .iter()
        .all(|e| e.role == Some(Role::Trader)));
    assert!(viewer
        .app
        .fleet
        .iter()
        .all(|e| e.role == Some(Role::Viewer)));
    let screen = trader.screen();
    assert!(screen.contains("ENGINE"), "{screen}");
    assert!(screen.contains("bus: 3/3 engines live"), "{screen}");
    // Engines joining one by one is the picture growing, not a resync.
    assert!(!screen.contains("resynchronised"), "{screen}");
    for name in ["eng-a", "eng-b", "eng-c"] {
        assert!(
            screen.contains(&format!("engine {name}")),
            "no header line for {name}:\n{screen}"
        );
    }

    // A pause of eng-b's P-1 pauses that order on eng-b and nowhere else.
    trader.select("eng-b/P-1");
    trader.press('p');
    trader
        .until("eng-b/P-1 paused", |app| {
            order(app, "eng-b/P-1").is_some_and(|o| o.state == OrderState::Paused)
        })
        .await;
    assert_eq!(
        engine_view(&b).await.order("P-1").unwrap().state,
        OrderState::Paused
    );
    assert_ne!(
        engine_view(&a).await.order("P-1").unwrap().state,
        OrderState::Paused,
        "the pause reached the wrong engine"
    );
    viewer
        .until("the viewer sees the pause", |app| {
            order(app, "eng-b/P-1").is_some_and(|o| o.state == OrderState::Paused)
        })
        .await;

    // The viewer's console offers no commands; one sent anyway is refused
    // by the engine's guard, with the reason.
    viewer.select("eng-a/P-1");
    viewer.press('p');
    assert!(
        matches!(&viewer.app.status, Some((text, StatusKind::Error)) if text.starts_with("read-only")),
        "{:?}",
        viewer.app.status
    );
    let _ = viewer
        .control
        .send(ClientControl::Send(ClientMessage::Command {
            id: "v1".into(),
            command: Command::Cancel {
                order_id: "eng-a/P-1".into(),
            },
        }));
    viewer.app.live.command_sent(
        "v1".into(),
        Command::Cancel {
            order_id: "eng-a/P-1".into(),
        },
    );
    viewer
        .until("the viewer's refusal", |app| {
            app.live.outcomes.iter_newest_first().any(|o| o.id == "v1")
        })
        .await;
    let refusal = viewer
        .app
        .live
        .outcomes
        .iter_newest_first()
        .find(|o| o.id == "v1")
        .unwrap()
        .clone();
    assert!(!refusal.ok);
    assert!(
        refusal
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("permission"),
        "{refusal:?}"
    );
    assert_ne!(
        engine_view(&a).await.order("P-1").unwrap().state,
        OrderState::Cancelled
    );

    // The kill switch asks which scope; on the selected order's engine only,
    // eng-c halts and the others trade on.
    trader.select("eng-c/TWAP-BUY");
    trader.press('K');
    let screen = trader.screen();
    assert!(screen.contains("Halt engine eng-c only?"), "{screen}");
    trader.press('y');
    trader
        .until("eng-c halted", |app| {
            app.fleet
                .iter()
                .any(|e| e.engine == "eng-c" && e.state == EngineState::Halted)
        })
        .await;
    assert_eq!(engine_view(&c).await.state, EngineState::Halted);
    assert_eq!(engine_view(&a).await.state, EngineState::Running);
    assert_eq!(engine_view(&b).await.state, EngineState::Running);
    // Resume all lifts the halt there is.
    trader.press('R');
    trader
        .until("eng-c running again", |app| {
            app.fleet
                .iter()
                .any(|e| e.engine == "eng-c" && e.state == EngineState::Running)
        })
        .await;

    // The trader's console goes away; the engines trade on; it comes back
    // and resumes each engine from the seq it saved.
    trader.quit().await;
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&resume_file).unwrap()).unwrap();
    let saved_seq = saved["lanes"]["eng-a"]["seq"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut trader = BusConsole::join(&url, TRADER, Some(&resume_file));
    trader.until("three engines live again", all_live).await;
    let a_lane = trader
        .app
        .fleet
        .iter()
        .find(|e| e.engine == "eng-a")
        .unwrap()
        .clone();
    assert_eq!(
        a_lane.note.as_deref(),
        Some(
            format!("resumed from seq {saved_seq} after the console's restart: nothing missed")
                .as_str()
        ),
        "{a_lane:?}"
    );

    // The bus itself restarts mid-session; engines and consoles carry on.
    server.restart();
    for (bus, (_, e)) in buses.iter().zip(engines) {
        let last = *e.handle.shared.published.borrow();
        assert!(bus.drain(last, Duration::from_secs(30)).await);
    }

    // The day ends everywhere; then each console holds each engine's orders
    // exactly as the engine does.
    for (_, e) in engines {
        let deadline = Instant::now() + Duration::from_secs(120);
        while engine_view(e).await.state != EngineState::Ended {
            assert!(Instant::now() < deadline, "the simulated day did not end");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for (name, e) in engines {
        let view = engine_view(e).await;
        let last = *e.handle.shared.published.borrow();
        for console in [&mut trader, &mut viewer] {
            console
                .until(&format!("{name} caught up to seq {last}"), |app| {
                    app.fleet.iter().any(|s| s.engine == name && s.seq >= last)
                })
                .await;
            for o in &view.orders {
                let shown = order(&console.app, &format!("{name}/{}", o.info.order_id))
                    .unwrap_or_else(|| panic!("{name}/{} missing", o.info.order_id));
                assert_eq!(shown.state, o.state, "{name}/{}", o.info.order_id);
                assert_eq!(shown.fills, o.fills, "{name}/{} fills", o.info.order_id);
                assert_eq!(
                    shown.decisions, o.decisions,
                    "{name}/{} decisions",
                    o.info.order_id
                );
                assert_eq!(shown.progress, o.progress, "{name}/{}", o.info.order_id);
            }
        }
    }
    trader.quit().await;
    viewer.quit().await;
    for bus in &buses {
        bus.stop();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A console that stops reading holds nothing up: the engine runs its whole
/// day flat out and the server has every event, while the console's link
/// waits; when the console reads again it catches up from the stream, gap-free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_stops_reading_does_not_slow_the_engine() {
    let dir = tempdir("stalled-console");
    let server = NatsServer::start(free_port(), &dir.join("js"));
    let url = server.url();
    let e = start_engine("default", 21, 1e7, None).await;
    let bus = on_bus(&url, "eng-s", &e).await;
    // Sixteen messages of room, and nobody reading them.
    let mut stalled = BusConsole::join_with(&url, TRADER, None, 16);
    let deadline = Instant::now() + Duration::from_secs(120);
    while engine_view(&e).await.state != EngineState::Ended {
        assert!(
            Instant::now() < deadline,
            "the engine's day did not end with a stalled console attached"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = *e.handle.shared.published.borrow();
    assert!(
        bus.drain(last, Duration::from_secs(60)).await,
        "the engine's events did not all reach the server"
    );
    assert!(last > 10_000, "a whole day is many events ({last})");
    // Now it reads: every event, from the stream, into the same picture.
    stalled
        .until("the stalled console caught up", |app| {
            app.fleet
                .iter()
                .any(|s| s.engine == "eng-s" && s.seq >= last)
        })
        .await;
    let view = engine_view(&e).await;
    for o in &view.orders {
        let shown = order(&stalled.app, &format!("eng-s/{}", o.info.order_id)).unwrap();
        assert_eq!((shown.fills, shown.decisions), (o.fills, o.decisions));
        assert_eq!(shown.progress, o.progress);
    }
    stalled.quit().await;
    bus.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
