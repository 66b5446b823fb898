//! The console reducer: snapshot + events, gaps, duplicates, acks, bounds.

mod common;

use common::*;
use vigil::console::app::Effect;
use vigil::console::state::{ConsoleState, Outcome, DECISIONS_KEPT, SERIES_POINTS};
use vigil::protocol::*;

fn snapshot_of(msgs: &[ServerMessage]) -> ServerMessage {
    let mut view = SessionView::new();
    for m in msgs {
        if let ServerMessage::Event(e) = m {
            view.apply(e);
        }
    }
    ServerMessage::Snapshot(Box::new(view))
}

#[test]
fn snapshot_then_events_builds_the_picture() {
    let mut fx = Fx::new();
    let first = small_session(&mut fx);
    let mut s = ConsoleState::new();
    assert_eq!(s.apply(&snapshot_of(&first)), Outcome::Snapshot);
    assert_eq!(s.view.seq, fx.seq);
    assert_eq!(s.view.orders.len(), 3);
    assert_eq!(s.alerts.len(), 2, "alerts inherited from the snapshot");
    assert_eq!(s.apply(&fx.ev(fill("P-2", 49.95, 100.0))), Outcome::Applied);
    assert_eq!(
        s.apply(&fx.ev(progress("P-2", 2600.0, 2100.0, 49.9, -1.0))),
        Outcome::Applied
    );
    assert_eq!(s.view.order("P-2").unwrap().progress.filled, 2600.0);
    let h = s.history("P-2").unwrap();
    assert_eq!(h.fills.points().len(), 1);
    assert_eq!(h.executed.last().unwrap().1, 2600.0);
}

#[test]
fn duplicates_are_ignored_and_gaps_reported() {
    let mut fx = Fx::new();
    let msgs = small_session(&mut fx);
    let mut s = ConsoleState::new();
    for m in &msgs {
        s.apply(m);
    }
    let before = s.view.clone();
    // Resume overlap: the engine resends an event we already have.
    assert_eq!(s.apply(&msgs[msgs.len() - 1]), Outcome::Duplicate);
    assert_eq!(s.view, before);
    fx.seq += 3; // three events lost
    let late = fx.ev(fill("P-1", 100.0, 10.0));
    assert_eq!(
        s.apply(&late),
        Outcome::Gap {
            expected: before.seq + 1,
            got: before.seq + 4
        }
    );
    assert_eq!(s.view, before, "a gapped event is never applied");
}

#[test]
fn reducer_is_deterministic() {
    let mut fx = Fx::new();
    let msgs = small_session(&mut fx);
    let (mut a, mut b) = (ConsoleState::new(), ConsoleState::new());
    for m in &msgs {
        a.apply(m);
        b.apply(m);
    }
    assert_eq!(a.view, b.view);
    assert_eq!(
        a.history("P-1").unwrap().executed.points(),
        b.history("P-1").unwrap().executed.points()
    );
}

#[test]
fn acks_resolve_pending_commands_and_refusals_keep_the_reason() {
    let mut fx = Fx::new();
    let mut s = ConsoleState::new();
    for m in small_session(&mut fx) {
        s.apply(&m);
    }
    s.command_sent(
        "c1".into(),
        Command::Pause {
            order_id: "P-1".into(),
        },
    );
    s.command_sent(
        "c2".into(),
        Command::Cancel {
            order_id: "P-2".into(),
        },
    );
    assert!(s.is_pending("P-1") && s.is_pending("P-2"));
    assert_eq!(s.apply(&ack("c1", true, None)), Outcome::Ack { ok: true });
    assert!(!s.is_pending("P-1"));
    assert!(s.last_outcome_for("P-1").unwrap().ok);
    s.apply(&ack("c2", false, Some("order is in a closing auction")));
    let out = s.last_outcome_for("P-2").unwrap();
    assert!(!out.ok);
    assert_eq!(out.reason.as_deref(), Some("order is in a closing auction"));
    let newest = s.alerts.newest().unwrap();
    assert_eq!(newest.code, "refused");
    assert!(newest.message.contains("closing auction"));
    assert_eq!(newest.order_id.as_deref(), Some("P-2"));
    // An unknown ack is harmless.
    s.apply(&ack("c99", true, None));
}

#[test]
fn command_applied_resolves_a_command_whose_ack_was_lost() {
    let mut fx = Fx::new();
    let mut s = ConsoleState::new();
    for m in small_session(&mut fx) {
        s.apply(&m);
    }
    let cmd = Command::Pause {
        order_id: "P-1".into(),
    };
    s.command_sent("c7".into(), cmd.clone());
    s.apply(&fx.ev(Event::CommandApplied {
        command_id: "c7".into(),
        user: "alice".into(),
        command: cmd,
        ok: true,
        reason: None,
    }));
    assert!(!s.is_pending("P-1"));
}

#[test]
fn histories_stay_bounded() {
    let mut fx = Fx::new();
    let mut s = ConsoleState::new();
    for m in small_session(&mut fx) {
        s.apply(&m);
    }
    for i in 0..20_000 {
        s.apply(&fx.ev(decision("P-1", "passive", 0.7)));
        s.apply(&fx.ev(progress("P-1", i as f64, i as f64, 100.0, 1.0)));
        s.apply(&fx.ev(market("ACME", 100.0 + i as f64 * 1e-4)));
    }
    let h = s.history("P-1").unwrap();
    assert_eq!(h.decisions.len(), DECISIONS_KEPT);
    assert!(h.executed.points().len() <= SERIES_POINTS);
    assert!(s.prices["ACME"].points().len() <= SERIES_POINTS);
}

#[test]
fn a_gap_in_the_app_triggers_a_resync_never_a_silent_gap() {
    let mut fx = Fx::new();
    let mut app = app(Role::Trader);
    app.feed(&small_session(&mut fx));
    let seq = app.live.view.seq;
    fx.seq += 2;
    let effects = app.feed(&[fx.ev(fill("P-1", 100.0, 1.0))]);
    assert_eq!(
        effects,
        vec![Effect::Reconnect {
            resume_from: Some(seq)
        }]
    );
    assert_eq!(app.live.alerts.newest().unwrap().code, "gap");
    // Later messages from the same (abandoned) connection are dropped, not re-gapped.
    let effects = app.feed(&[fx.ev(fill("P-1", 100.0, 1.0))]);
    assert!(effects.is_empty());
    assert_eq!(app.live.view.seq, seq);
}

fn welcome_of(instance: &str, restart: Option<Restart>) -> ServerMessage {
    let ServerMessage::Welcome(mut w) = welcome(Role::Trader, ResumeMode::Events, 10) else {
        unreachable!()
    };
    w.instance_id = instance.into();
    w.restart = restart;
    ServerMessage::Welcome(w)
}

#[test]
fn a_recovered_run_is_announced_once_and_another_run_replaces_the_state() {
    use vigil::console::state::RunChange;
    let mut s = ConsoleState::new();
    assert!(matches!(
        s.apply(&welcome_of("run-a", None)),
        Outcome::Welcome {
            run: RunChange::Same,
            ..
        }
    ));
    let r = Restart {
        at_ts: 36_000_000_000_000,
        at_seq: 900,
        orders: 4,
    };
    assert!(matches!(
        s.apply(&welcome_of("run-a", Some(r.clone()))),
        Outcome::Welcome { run: RunChange::Recovered(x), .. } if x == r
    ));
    // The same restart seen again on a reconnect is not news.
    assert!(matches!(
        s.apply(&welcome_of("run-a", Some(r))),
        Outcome::Welcome {
            run: RunChange::Same,
            ..
        }
    ));
    assert!(matches!(
        s.apply(&welcome_of("run-b", None)),
        Outcome::Welcome {
            run: RunChange::Replaced,
            ..
        }
    ));
}
