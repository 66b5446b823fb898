//! The console's logic against a real engine over a real loopback WebSocket:
//! a key press becomes a command on the wire, the engine acknowledges (or
//! refuses) it, and the result shows in the console state and on screen.
//!
//! The harness below is the console runtime (`console::run`) without a
//! terminal: the real client task, `App::update`, the effects carried out the
//! way the runtime does, and `view` drawn on ratatui's TestBackend.

mod support;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use support::{start_engine, TRADER, VIEWER};
use tokio::sync::mpsc;
use vigil::console::app::{App, Effect, Link, Msg, StatusKind};
use vigil::console::client::{spawn_client, ClientConfig, ClientControl, NetEvent};
use vigil::console::keymap::Keymap;
use vigil::console::theme::Theme;
use vigil::console::view::view;
use vigil::protocol::*;

/// Generous: CI runs debug builds on two cores.
const DEADLINE: Duration = Duration::from_secs(20);
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

/// A console attached to an engine, minus the terminal.
struct Console {
    app: App,
    net: mpsc::Receiver<NetEvent>,
    control: mpsc::UnboundedSender<ClientControl>,
    client: tokio::task::JoinHandle<()>,
    /// Every message the app asked the client to put on the wire.
    sent: Vec<ClientMessage>,
}

impl Console {
    fn attach(url: &str, token: &str) -> Console {
        let (net_tx, net) = mpsc::channel(65_536);
        let (control, ctl_rx) = mpsc::unbounded_channel();
        let client = spawn_client(ClientConfig::new(url, token), net_tx, ctl_rx);
        Console {
            app: App::new(
                Keymap::default(),
                Theme::builtin_dark(),
                vec!["dark".into()],
            ),
            net,
            control,
            client,
            sent: Vec::new(),
        }
    }

    /// Carry out effects as `console::run` does.
    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send(msg) | Effect::SendTo { msg, .. } => {
                    self.sent.push(msg.clone());
                    self.control
                        .send(ClientControl::Send(msg))
                        .expect("client task is running");
                }
                Effect::Reconnect { resume_from } => {
                    let _ = self.control.send(ClientControl::Reconnect { resume_from });
                }
                // No shadow model in these tests: nothing asks for a score.
                Effect::LoadTheme(_) | Effect::Shadow(_) | Effect::Quit => {}
            }
        }
    }

    fn press(&mut self, code: KeyCode) {
        let effects = self.app.update(
            Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
            Instant::now(),
        );
        self.carry_out(effects);
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c));
        }
    }

    /// Feed network events to the app until `done` holds (checked after each
    /// event), failing with `what` and the screen if the deadline passes.
    async fn pump_until(&mut self, what: &str, mut done: impl FnMut(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while !done(&self.app) {
            let ev = match tokio::time::timeout_at(deadline, self.net.recv()).await {
                Ok(Some(ev)) => ev,
                Ok(None) => panic!("client task ended while waiting for {what}"),
                Err(_) => panic!(
                    "timed out after {DEADLINE:?} waiting for {what}; screen:\n{}",
                    screen_text(&self.draw())
                ),
            };
            if let NetEvent::Fatal(reason) = &ev {
                panic!("engine refused the console while waiting for {what}: {reason}");
            }
            let effects = self.app.update(Msg::Net(ev), Instant::now());
            self.carry_out(effects);
        }
    }

    /// Connected, welcomed, and showing `order` as working.
    async fn live_with_working(&mut self, order: &str) {
        self.pump_until(&format!("a live link and {order} working"), |app| {
            app.link.link == Link::Live
                && app
                    .live
                    .view
                    .order(order)
                    .is_some_and(|o| o.state == OrderState::Working)
        })
        .await;
    }

    fn draw(&self) -> Buffer {
        let mut term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
        term.draw(|f| view(&self.app, f)).unwrap();
        term.backend().buffer().clone()
    }

    async fn detach(self) {
        let _ = self.control.send(ClientControl::Shutdown);
        drop(self.net);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client).await;
    }
}

fn screen_text(buf: &Buffer) -> String {
    (0..buf.area.height)
        .map(|y| row_text(buf, y))
        .collect::<Vec<_>>()
        .join("\n")
}

fn row_text(buf: &Buffer, y: u16) -> String {
    let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    line.trim_end().to_string()
}

/// Cell of the first occurrence of `needle` on screen.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut xs = Vec::new();
        for x in 0..buf.area.width {
            for _ in buf[(x, y)].symbol().chars() {
                xs.push(x);
            }
            line.push_str(buf[(x, y)].symbol());
        }
        if let Some(byte) = line.find(needle) {
            let ch = line[..byte].chars().count();
            return Some((xs[ch], y));
        }
    }
    None
}

fn expect_on_screen(buf: &Buffer, needle: &str) -> (u16, u16) {
    find(buf, needle).unwrap_or_else(|| panic!("`{needle}` not on screen:\n{}", screen_text(buf)))
}

/// The commands among the messages the console sent.
fn commands(sent: &[ClientMessage]) -> Vec<(String, Command)> {
    sent.iter()
        .filter_map(|m| match m {
            ClientMessage::Command { id, command } => Some((id.clone(), command.clone())),
            _ => None,
        })
        .collect()
}

/// The engine's own state of an order, from a fresh snapshot.
async fn engine_order_state(engine: &vigil::engine::serve::RunningEngine, id: &str) -> OrderState {
    let (_, snap) = engine.handle.snapshot().await.unwrap();
    match decode_server(&snap).unwrap() {
        ServerMessage::Snapshot(s) => s.order(id).expect("order in snapshot").state,
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_pauses_the_selected_order_through_the_engine_and_p_again_resumes_it() {
    // 20 simulated seconds per wall second: the orders stay alive for the test.
    let engine = start_engine("default", 42, 20.0, None).await;
    let mut console = Console::attach(&engine.url(), TRADER);
    console.live_with_working("P-1").await;

    let buf = console.draw();
    expect_on_screen(&buf, "● live");
    expect_on_screen(&buf, "trader alice");
    let (_, row) = expect_on_screen(&buf, "▶P-1");
    assert!(
        row_text(&buf, row).contains("working"),
        "{}",
        row_text(&buf, row)
    );

    // The selection defaults to the first row: `p` pauses P-1.
    console.press(KeyCode::Char('p'));
    let sent = commands(&console.sent);
    assert_eq!(sent.len(), 1, "one key press, one command: {sent:?}");
    let (pause_id, command) = sent[0].clone();
    assert_eq!(
        command,
        Command::Pause {
            order_id: "P-1".into()
        }
    );
    assert!(console.app.live.is_pending("P-1"));
    let buf = console.draw();
    expect_on_screen(&buf, "sent pause P-1");
    expect_on_screen(&buf, "⧗ pause P-1 — waiting for ack");

    console
        .pump_until("the ack of the pause", |app| app.live.pending.is_empty())
        .await;
    let outcome = console
        .app
        .live
        .last_outcome_for("P-1")
        .expect("an outcome for P-1")
        .clone();
    assert_eq!(outcome.id, pause_id);
    assert!(outcome.ok, "pause refused: {:?}", outcome.reason);
    // Events up to the command's effect arrive before its ack.
    assert_eq!(
        console.app.live.view.order("P-1").unwrap().state,
        OrderState::Paused
    );
    assert_eq!(engine_order_state(&engine, "P-1").await, OrderState::Paused);

    let buf = console.draw();
    let (_, row) = expect_on_screen(&buf, "▶P-1");
    let (px, py) = expect_on_screen(&buf, "PAUSED");
    assert_eq!(
        py,
        row,
        "PAUSED on the selected row:\n{}",
        screen_text(&buf)
    );
    assert_eq!(buf[(px, py)].fg, console.app.theme.paused);
    expect_on_screen(&buf, "paused by alice");
    expect_on_screen(&buf, "✓ pause P-1 accepted");

    // `p` on a paused order resumes it.
    console.press(KeyCode::Char('p'));
    let sent = commands(&console.sent);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].1,
        Command::Resume {
            order_id: "P-1".into()
        }
    );
    console
        .pump_until("the ack of the resume", |app| app.live.pending.is_empty())
        .await;
    assert!(console.app.live.last_outcome_for("P-1").unwrap().ok);
    let state = console.app.live.view.order("P-1").unwrap().state;
    assert!(
        matches!(state, OrderState::Working | OrderState::Pending),
        "{state:?}"
    );
    let buf = console.draw();
    expect_on_screen(&buf, "✓ resume P-1 accepted");
    assert!(find(&buf, "PAUSED").is_none(), "{}", screen_text(&buf));

    console.detach().await;
    engine.handle.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_command_and_the_engines_refusal_reaches_the_screen() {
    let engine = start_engine("default", 42, 20.0, None).await;
    let mut console = Console::attach(&engine.url(), VIEWER);
    console.live_with_working("P-1").await;
    assert_eq!(console.app.live.role, Some(Role::Viewer));
    expect_on_screen(&console.draw(), "viewer (read-only) bob");

    // The console knows the role and sends nothing.
    console.press(KeyCode::Char('p'));
    assert!(commands(&console.sent).is_empty(), "{:?}", console.sent);
    assert!(matches!(console.app.status, Some((_, StatusKind::Error))));
    expect_on_screen(&console.draw(), "read-only: connected as viewer");

    // The engine is the authority, not the console: a command that does reach
    // it on a viewer's connection (an older console, a script) is refused, and
    // the engine's reason is what the console shows.
    let id = "v1".to_string();
    let pause = Command::Pause {
        order_id: "P-1".into(),
    };
    console.app.live.command_sent(id.clone(), pause.clone());
    console.carry_out(vec![Effect::Send(ClientMessage::Command {
        id: id.clone(),
        command: pause,
    })]);
    console
        .pump_until("the engine's answer to the viewer's pause", |app| {
            app.live.pending.is_empty()
        })
        .await;
    let outcome = console.app.live.last_outcome_for("P-1").unwrap().clone();
    assert_eq!(outcome.id, id);
    assert!(!outcome.ok);
    let reason = outcome.reason.expect("a refusal carries a reason");
    assert!(reason.contains("permission denied"), "{reason}");

    let buf = console.draw();
    let (x, y) = expect_on_screen(&buf, "✗ pause P-1 REFUSED: permission denied");
    assert_eq!(buf[(x, y)].fg, console.app.theme.refused);
    expect_on_screen(&buf, "refused pause P-1 refused: permission");
    let (_, row) = expect_on_screen(&buf, "▶P-1");
    assert!(
        !row_text(&buf, row).contains("PAUSED"),
        "{}",
        row_text(&buf, row)
    );
    assert_ne!(engine_order_state(&engine, "P-1").await, OrderState::Paused);

    console.detach().await;
    engine.handle.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trader_command_the_engine_refuses_shows_its_reason() {
    let engine = start_engine("default", 42, 20.0, None).await;
    let mut console = Console::attach(&engine.url(), TRADER);
    console.live_with_working("P-1").await;

    // From the command line, about an order the engine does not have.
    console.press(KeyCode::Char(':'));
    console.type_text("pause P-99");
    console.press(KeyCode::Enter);
    let sent = commands(&console.sent);
    assert_eq!(
        sent.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        vec![Command::Pause {
            order_id: "P-99".into()
        }]
    );
    console
        .pump_until("the engine's answer to pause P-99", |app| {
            app.live.pending.is_empty()
        })
        .await;
    let outcome = console.app.live.last_outcome_for("P-99").unwrap().clone();
    assert!(!outcome.ok);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("unknown order"),
        "{outcome:?}"
    );
    let buf = console.draw();
    // In the alerts pane, flagged as a warning with the engine's reason (the
    // narrow pane cuts the end of the line).
    let (x, y) = expect_on_screen(&buf, "P-99 refused pause P-99 refused: unknown");
    let code_x = x + "P-99 ".chars().count() as u16;
    assert_eq!(buf[(code_x, y)].fg, console.app.theme.warn);

    console.detach().await;
    engine.handle.shutdown();
}
