//! Keys → commands: defaults, rebinding, confirmations, viewer restrictions.

mod common;

use std::time::Instant;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use vigil::console::app::{App, Effect, Mode, Msg, StatusKind};
use vigil::console::keymap::Keymap;
use vigil::protocol::*;

fn press(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn held(c: char) -> KeyEvent {
    KeyEvent::new_with_kind(KeyCode::Char(c), KeyModifiers::NONE, KeyEventKind::Repeat)
}

fn keys(app: &mut App, keys: &[KeyEvent]) -> Vec<Effect> {
    keys.iter()
        .flat_map(|k| app.update(Msg::Key(*k), Instant::now()))
        .collect()
}

fn sent(effects: &[Effect]) -> Vec<Command> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(ClientMessage::Command { command, .. }) => Some(command.clone()),
            _ => None,
        })
        .collect()
}

fn trader() -> App {
    let mut app = app(Role::Trader);
    app.feed(&small_session(&mut Fx::new()));
    app
}

#[test]
fn p_pauses_the_selected_order_and_shows_it_pending() {
    let mut app = trader();
    let fx = keys(&mut app, &[press('j'), press('p')]);
    assert_eq!(
        sent(&fx),
        vec![Command::Pause {
            order_id: "P-2".into()
        }]
    );
    assert!(app.live.is_pending("P-2"));
    // P-3 is paused: p resumes it.
    let fx = keys(&mut app, &[press('j'), press('p')]);
    assert_eq!(
        sent(&fx),
        vec![Command::Resume {
            order_id: "P-3".into()
        }]
    );
}

#[test]
fn cancel_needs_y_and_a_repeated_or_held_key_never_confirms() {
    let mut app = trader();
    // c opens the dialog; c again, a held c, Enter on "No" and a held y do nothing.
    let fx = keys(&mut app, &[press('c'), press('c'), held('c'), held('y')]);
    assert!(sent(&fx).is_empty());
    assert!(matches!(app.mode, Mode::Confirm(_)));
    let fx = keys(&mut app, &[code(KeyCode::Enter)]);
    assert!(sent(&fx).is_empty(), "Enter with focus on No cancels");
    assert_eq!(app.mode, Mode::Normal);
    // Now the real thing.
    let fx = keys(&mut app, &[press('c'), press('y')]);
    assert_eq!(
        sent(&fx),
        vec![Command::Cancel {
            order_id: "P-1".into()
        }]
    );
}

#[test]
fn kill_switch_hammered_never_fires() {
    let mut app = trader();
    let many: Vec<KeyEvent> = std::iter::repeat_n(press('K'), 20)
        .chain(std::iter::repeat_n(held('K'), 20))
        .collect();
    assert!(sent(&keys(&mut app, &many)).is_empty());
    // Tab to "Yes" then Enter is an explicit choice.
    let fx = keys(&mut app, &[code(KeyCode::Tab), code(KeyCode::Enter)]);
    assert!(matches!(sent(&fx)[..], [Command::KillSwitch { .. }]));
}

#[test]
fn a_held_action_key_in_normal_mode_sends_nothing() {
    let mut app = trader();
    assert!(sent(&keys(&mut app, &[held('p'), held('R')])).is_empty());
}

#[test]
fn viewer_cannot_command_and_is_told_why() {
    let mut app = app(Role::Viewer);
    app.feed(&small_session(&mut Fx::new()));
    let fx = keys(
        &mut app,
        &[press('p'), press('c'), press('y'), press('K'), press('R')],
    );
    assert!(sent(&fx).is_empty());
    assert_eq!(
        app.mode,
        Mode::Normal,
        "no confirmation dialog for a viewer"
    );
    let (msg, kind) = app.status.clone().unwrap();
    assert_eq!(kind, StatusKind::Error);
    assert!(msg.contains("viewer"), "{msg}");
    // Navigation still works.
    keys(&mut app, &[press('j')]);
    assert_eq!(app.selected.as_deref(), Some("P-2"));
}

#[test]
fn selection_follows_the_order_not_the_row() {
    let mut app = trader();
    keys(&mut app, &[press('j'), press('j')]); // P-3
    assert_eq!(app.selected.as_deref(), Some("P-3"));
    keys(&mut app, &[press('s')]); // sort by behind schedule
    let mut fx = Fx {
        seq: app.live.view.seq,
        ts: app.live.view.ts,
    };
    app.feed(&[fx.ev(order_new("P-0", "ACME", Side::Buy, 1.0, "twap"))]);
    let fx = keys(&mut app, &[press('p')]);
    assert_eq!(
        sent(&fx),
        vec![Command::Resume {
            order_id: "P-3".into()
        }]
    );
}

#[test]
fn command_line_sends_validated_commands() {
    let mut app = trader();
    let type_line = |app: &mut App, line: &str| {
        let mut ks = vec![press(':')];
        ks.extend(line.chars().map(press));
        ks.push(code(KeyCode::Enter));
        keys(app, &ks)
    };
    let fx = type_line(&mut app, "retune P-3 max_participation=0.15 venues=XLIT");
    match &sent(&fx)[..] {
        [Command::Retune { order_id, params }] => {
            assert_eq!(order_id, "P-3");
            assert_eq!(params.max_participation, Some(0.15));
            assert_eq!(params.venues.as_deref(), Some(&["XLIT".to_string()][..]));
        }
        other => panic!("{other:?}"),
    }
    let fx = type_line(&mut app, "retune P-3 max_participation=1.5");
    assert!(sent(&fx).is_empty());
    assert!(app.status.as_ref().unwrap().0.contains("max_participation"));
    let fx = type_line(&mut app, "pause P-1");
    assert_eq!(
        sent(&fx),
        vec![Command::Pause {
            order_id: "P-1".into()
        }]
    );
    let fx = type_line(&mut app, "theme light");
    assert_eq!(fx, vec![Effect::LoadTheme("light".into())]);
    let fx = type_line(&mut app, "override P-1 action=dark decisions=3");
    assert!(matches!(
        &sent(&fx)[..],
        [Command::Override {
            decisions: Some(3),
            ..
        }]
    ));
    let fx = type_line(&mut app, "q");
    assert_eq!(fx, vec![Effect::Quit]);
}

#[test]
fn retune_form_refuses_invalid_values_before_sending() {
    let mut app = trader();
    let mut ks = vec![press('r')];
    // urgency field: clear it and type 2.
    ks.extend(std::iter::repeat_n(code(KeyCode::Backspace), 10));
    ks.push(press('2'));
    ks.push(code(KeyCode::Enter));
    assert!(sent(&keys(&mut app, &ks)).is_empty());
    match &app.mode {
        Mode::Retune(f) => assert!(f.error.as_deref().unwrap().contains("urgency")),
        other => panic!("{other:?}"),
    }
    let mut ks: Vec<KeyEvent> = vec![code(KeyCode::Backspace), press('0'), press('.'), press('9')];
    ks.push(code(KeyCode::Enter));
    let fx = keys(&mut app, &ks);
    assert!(
        matches!(&sent(&fx)[..], [Command::Retune { params, .. }] if params.urgency == Some(0.9))
    );
}

#[test]
fn override_form_and_release() {
    let mut app = trader();
    let fx = keys(
        &mut app,
        &[
            press('o'),
            code(KeyCode::Right),
            code(KeyCode::Tab),
            press('5'),
            code(KeyCode::Enter),
        ],
    );
    assert!(matches!(
        &sent(&fx)[..],
        [Command::Override { action: Some(a), decisions: Some(5), .. }] if a == "passive"
    ));
    let fx = keys(&mut app, &[press('O')]);
    assert_eq!(
        sent(&fx),
        vec![Command::ReleaseOverride {
            order_id: "P-1".into()
        }]
    );
}

#[test]
fn rebound_keys_drive_the_same_commands() {
    let map = Keymap::from_toml("[keys]\npause_resume = \"space\"\n", "t.toml").unwrap();
    let mut app = trader();
    app.keymap = map;
    assert!(sent(&keys(&mut app, &[press('p')])).is_empty());
    assert_eq!(
        sent(&keys(&mut app, &[press(' ')])),
        vec![Command::Pause {
            order_id: "P-1".into()
        }]
    );
}

#[test]
fn freeze_keeps_applying_data() {
    let mut app = trader();
    keys(&mut app, &[press('f')]);
    assert!(app.is_frozen());
    let shown_seq = app.shown().view.seq;
    let mut fx = Fx {
        seq: app.live.view.seq,
        ts: app.live.view.ts,
    };
    app.feed(&[fx.ev(fill("P-1", 100.0, 5.0))]);
    assert_eq!(app.shown().view.seq, shown_seq);
    assert_eq!(app.live.view.seq, shown_seq + 1);
    keys(&mut app, &[press('f')]);
    assert_eq!(app.shown().view.seq, shown_seq + 1);
}

fn net(app: &mut App, ev: vigil::console::client::NetEvent) -> Vec<Effect> {
    app.update(Msg::Net(ev), Instant::now())
}

fn on_conn(app: &mut App, conn: u64, msg: ServerMessage) -> Vec<Effect> {
    net(app, vigil::console::client::NetEvent::Message { conn, msg })
}

#[test]
fn only_a_reattach_with_a_snapshot_is_a_resync() {
    use vigil::console::client::NetEvent;
    let note = |app: &App| app.link.note.as_ref().map(|n| n.0.clone());
    // First attach: welcome then the snapshot of the session so far.
    let mut app = App::new(
        Keymap::default(),
        vigil::console::theme::Theme::builtin_dark(),
        vec!["dark".into()],
    );
    let seeded = trader();
    net(&mut app, NetEvent::Connected { conn: 1 });
    on_conn(&mut app, 1, welcome(Role::Trader, ResumeMode::Snapshot, 40));
    let snapshot = ServerMessage::Snapshot(Box::new(seeded.live.view.clone()));
    on_conn(&mut app, 1, snapshot.clone());
    assert_eq!(note(&app).as_deref(), Some("connected"));

    // Dropped, back with the missed events: resumed.
    let drop = |app: &mut App, conn: u64| {
        net(
            app,
            NetEvent::Disconnected {
                conn,
                attempt: 1,
                reason: "reset".into(),
            },
        );
        net(app, NetEvent::Connected { conn: conn + 1 });
    };
    drop(&mut app, 1);
    on_conn(&mut app, 2, welcome(Role::Trader, ResumeMode::Events, 40));
    assert_eq!(note(&app).as_deref(), Some("resumed"));

    // Dropped for too long: a snapshot replaces the state, and says so.
    drop(&mut app, 2);
    on_conn(&mut app, 3, welcome(Role::Trader, ResumeMode::Snapshot, 90));
    on_conn(&mut app, 3, snapshot);
    assert_eq!(note(&app).as_deref(), Some("resynchronised from snapshot"));
}

#[test]
fn acks_and_the_end_of_a_halt_reach_the_status_line() {
    let mut app = trader();
    keys(&mut app, &[press('p')]);
    assert_eq!(
        app.status,
        Some(("sent pause P-1 — waiting for ack".into(), StatusKind::Info))
    );
    app.feed(&[ack("c1", true, None)]);
    assert_eq!(
        app.status,
        Some(("✓ pause P-1 accepted".into(), StatusKind::Success))
    );
    keys(&mut app, &[press('j'), press('p')]);
    app.feed(&[ack("c2", false, Some("unknown order or order not working"))]);
    assert_eq!(
        app.status,
        Some((
            "✗ pause P-2 refused: unknown order or order not working".into(),
            StatusKind::Error
        ))
    );
    // An ack for a command we do not know changes nothing.
    app.feed(&[ack("c99", true, None)]);
    assert_eq!(app.status.as_ref().unwrap().1, StatusKind::Error);

    // Halt, then resume all: the ack arrives before the engine state event.
    let mut fx = Fx {
        seq: app.live.view.seq,
        ts: app.live.view.ts,
    };
    app.feed(&[fx.ev(engine_state(EngineState::Halted, Some("kill switch")))]);
    keys(&mut app, &[press('R')]);
    app.feed(&[ack("c3", true, None)]);
    assert_eq!(app.status.as_ref().unwrap().0, "✓ resume_all accepted");
    app.feed(&[fx.ev(engine_state(EngineState::Running, None))]);
    let (text, kind) = app.status.clone().unwrap();
    assert!(text.contains("halt ended"), "{text}");
    assert_eq!(kind, StatusKind::Success);
}

#[test]
fn command_line_verbs_do_what_their_keys_do() {
    // `:cancel P-2` asks the same question as `c` on P-2, and sends the same command.
    let mut by_key = trader();
    let key_fx = keys(&mut by_key, &[press('j'), press('c')]);
    let mut by_line = trader();
    let line_fx = by_line.run_command_line("cancel P-2");
    assert!(sent(&key_fx).is_empty() && sent(&line_fx).is_empty());
    assert_eq!(
        std::mem::discriminant(&by_key.mode),
        std::mem::discriminant(&by_line.mode)
    );
    let (Mode::Confirm(a), Mode::Confirm(b)) = (&by_key.mode, &by_line.mode) else {
        panic!("both ask first");
    };
    assert_eq!(a.kind, b.kind);
    assert_eq!(
        sent(&keys(&mut by_line, &[press('y')])),
        vec![Command::Cancel {
            order_id: "P-2".into()
        }]
    );
    // The selection did not move: the command named its order.
    let mut fresh = trader();
    fresh.run_command_line("pause P-2");
    assert_eq!(fresh.selected, None);
    // `:pause` of a paused order is refused here, not sent; `:resume` sends.
    assert!(sent(&fresh.run_command_line("pause P-3")).is_empty());
    assert_eq!(
        sent(&fresh.run_command_line("resume P-3")),
        vec![Command::Resume {
            order_id: "P-3".into()
        }]
    );
    // `:freeze` is `f`.
    let mut f = trader();
    f.run_command_line("freeze");
    let mut g = trader();
    keys(&mut g, &[press('f')]);
    assert_eq!(f.frozen.is_some(), g.frozen.is_some());
    assert!(f.frozen.is_some());
}

#[test]
fn an_engine_restart_reaches_the_status_line_and_the_alerts() {
    use vigil::console::client::NetEvent;
    let with = |instance: &str, restart: Option<Restart>| {
        let ServerMessage::Welcome(mut w) = welcome(Role::Trader, ResumeMode::Events, 40) else {
            unreachable!()
        };
        w.instance_id = instance.into();
        w.restart = restart;
        ServerMessage::Welcome(w)
    };
    let mut app = trader();
    net(&mut app, NetEvent::Connected { conn: 7 });
    on_conn(&mut app, 7, with("run-a", None));
    net(&mut app, NetEvent::Connected { conn: 8 });
    let restart = Restart {
        at_ts: 36_000_000_000_000,
        at_seq: 40,
        orders: 4,
    };
    on_conn(&mut app, 8, with("run-a", Some(restart)));
    assert_eq!(
        app.status.as_ref().map(|s| s.0.as_str()),
        Some("engine restarted at 10:00:00, recovered 4 orders")
    );
    assert!(app
        .live
        .alerts
        .iter_newest_first()
        .any(|a| a.code == "engine_restarted"));
    net(&mut app, NetEvent::Connected { conn: 9 });
    on_conn(&mut app, 9, with("run-b", None));
    let status = app.status.clone().unwrap();
    assert!(
        status.0.starts_with("engine restarted — state reloaded"),
        "{status:?}"
    );
    assert_eq!(status.1, StatusKind::Error);
}
