//! The console's shadow model, end to end through `App::update`: a decision
//! event asks for a score, the worker thread answers, and the answer shows as
//! a divergence marker, an alert and the detail pane's side-by-side bars.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use tokio::sync::mpsc::{self, error::TryRecvError, UnboundedReceiver};
use vigil::console::app::{App, Effect, Msg};
use vigil::console::shadow::{
    ShadowEvent, ShadowState, ShadowStatus, ShadowWorker, Thresholds, REALERT_AFTER,
};
use vigil::console::state::AlertSource;
use vigil::console::view::view;
use vigil::model::Action;
use vigil::protocol::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| view(app, f)).unwrap();
    term.backend().buffer().clone()
}

fn lines(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// The worker's next event, waiting for it (the model loads on its thread).
fn next_event(rx: &mut UnboundedReceiver<ShadowEvent>) -> ShadowEvent {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.try_recv() {
            Ok(ev) => return ev,
            Err(TryRecvError::Empty) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("no answer from the shadow worker: {e:?}"),
        }
    }
}

struct Shadowed {
    app: App,
    worker: ShadowWorker,
    rx: UnboundedReceiver<ShadowEvent>,
}

/// A connected trader console with a shadow worker on `model`, as `run_console` sets it up.
fn shadowed(model: PathBuf) -> Shadowed {
    let mut app = app(Role::Trader);
    app.shadow = ShadowState::new(
        ShadowStatus::Loading {
            path: model.clone(),
        },
        Thresholds::default(),
    );
    let (tx, rx) = mpsc::unbounded_channel();
    let worker = ShadowWorker::spawn(model, tx);
    Shadowed { app, worker, rx }
}

impl Shadowed {
    /// Let the worker report on its model, and fold that into the app.
    fn settle(&mut self) -> ShadowEvent {
        let ev = next_event(&mut self.rx);
        self.app.update(Msg::Shadow(ev.clone()), Instant::now());
        ev
    }

    /// Feed server messages; hand every scoring request to the worker, as the
    /// runtime does, and fold its answers back in. Returns the requests made.
    fn feed(&mut self, msgs: &[ServerMessage]) -> usize {
        let effects = self.app.feed(msgs);
        let mut asked = 0;
        for e in effects {
            if let Effect::Shadow(req) = e {
                assert!(self.worker.submit(req), "the queue takes the request");
                asked += 1;
            }
        }
        for _ in 0..asked {
            let ev = next_event(&mut self.rx);
            assert!(matches!(ev, ShadowEvent::Scored { .. }), "{ev:?}");
            self.app.update(Msg::Shadow(ev), Instant::now());
        }
        asked
    }
}

fn one_order(fx: &mut Fx) -> Vec<ServerMessage> {
    vec![
        fx.ev(session()),
        fx.ev(order_new("P-1", "ACME", Side::Buy, 10_000.0, "adaptive")),
        fx.ev(order_state("P-1", OrderState::Working)),
        fx.ev(market("ACME", 100.0)),
    ]
}

fn divergence_alerts(app: &App) -> Vec<(Option<String>, String)> {
    app.live
        .alerts
        .iter_newest_first()
        .filter(|a| a.code == "divergence")
        .map(|a| {
            assert_eq!(a.source, AlertSource::Console);
            (a.order_id.clone(), a.message.clone())
        })
        .collect()
}

#[test]
fn contrarian_shadow_flags_a_passive_decision() {
    let mut s = shadowed(fixture("contrarian.onnx"));
    let model_id = match s.settle() {
        ShadowEvent::Ready { model_id } => model_id,
        other => panic!("the fixture loads: {other:?}"),
    };
    assert!(model_id.starts_with("fixture@"), "{model_id}");

    let mut fx = Fx::new();
    assert_eq!(s.feed(&one_order(&mut fx)), 0, "only decisions are scored");
    assert_eq!(s.feed(&[fx.ev(decision("P-1", "passive", 0.7))]), 1);

    // The marker.
    let d = s.app.live.divergence.get("P-1").expect("P-1 is flagged");
    assert_eq!(d.live_action, "passive");
    assert_eq!(d.shadow_action, "aggressive");
    assert!(
        d.note.contains("shadow prefers aggressive at 90%"),
        "{}",
        d.note
    );
    assert!(d.note.contains("TV 0.85"), "{}", d.note);
    // The alert, with the order and why.
    let alerts = divergence_alerts(&s.app);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0.as_deref(), Some("P-1"));
    assert!(
        alerts[0].1.contains("P-1")
            && alerts[0].1.contains("says aggressive, engine did passive")
            && alerts[0].1.contains(&model_id),
        "{}",
        alerts[0].1
    );

    // The screen: blotter marker, header, and both distributions in the detail pane.
    let buf = draw(&s.app, 160, 45);
    let screen = lines(&buf);
    let text = screen.join("\n");
    assert!(
        screen[0].contains(&format!("shadow {model_id}")),
        "{}",
        screen[0]
    );
    let row = screen
        .iter()
        .find(|l| l.contains("P-1") && l.contains("ACME") && l.contains("working"))
        .expect("P-1 row");
    assert!(row.contains('≠'), "{row}");
    assert!(
        text.contains(&format!(
            "shadow {model_id} ≠ DIVERGES · TV 0.85 · agreement 0% (last 1)"
        )),
        "{text}"
    );
    // One row per action under the column heads, in the contract's order.
    let (ax, ay) = find(&buf, "ACTION     ENGINE").expect("the comparison's column heads");
    let (sx, _) = find(&buf, "SHADOW").unwrap();
    let row = |action: Action| -> String {
        let y = ay + 1 + action.index() as u16;
        (ax..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
    };
    let aggressive = row(Action::Aggressive);
    assert!(
        aggressive.starts_with("aggressive ▌········· 0.05   █████████· 0.90"),
        "engine 5%, shadow 90% aggressive: {aggressive}"
    );
    let passive = row(Action::Passive);
    assert!(
        passive.starts_with("passive    ███████··· 0.70   ▏········· 0.02"),
        "engine 70%, shadow 2% passive: {passive}"
    );
    // The engine's choice is highlighted; the shadow's, as a divergence.
    let ay_aggr = ay + 1 + Action::Aggressive.index() as u16;
    assert_eq!(buf[(sx, ay_aggr)].fg, s.app.theme.critical);
    assert_eq!(
        buf[(ax, ay + 1 + Action::Passive.index() as u16)].fg,
        s.app.theme.accent
    );

    // A second diverging decision keeps the marker but raises no new alert.
    s.feed(&[fx.ev(decision("P-1", "dark", 0.8))]);
    assert_eq!(s.app.live.divergence["P-1"].live_action, "dark");
    assert_eq!(divergence_alerts(&s.app).len(), 1);

    // When the engine goes aggressive too, they agree and the marker clears.
    s.feed(&[fx.ev(decision("P-1", "aggressive", 0.9))]);
    assert!(!s.app.live.divergence.contains_key("P-1"));
    let score = &s.app.live.shadow["P-1"];
    assert!(
        score.judgement.agrees && score.judgement.tv < 0.05,
        "{score:?}"
    );
    assert_eq!(score.agreement, Some((1.0 / 3.0, 3)));
    let text = lines(&draw(&s.app, 160, 45)).join("\n");
    assert!(
        text.contains(&format!("shadow {model_id} = agrees")),
        "{text}"
    );
    assert_eq!(s.app.shadow.scored, 3);
    assert_eq!(s.app.shadow.unscored, 0);

    // Diverging again soon after: the marker is back, the alerts pane is spared…
    s.feed(&[fx.ev(decision("P-1", "passive", 0.7))]);
    assert!(s.app.live.divergence.contains_key("P-1"));
    assert_eq!(divergence_alerts(&s.app).len(), 1);
    // … but an episode starting five simulated minutes later is news again.
    s.feed(&[fx.ev(decision("P-1", "aggressive", 0.9))]);
    fx.ts += REALERT_AFTER;
    s.feed(&[fx.ev(decision("P-1", "passive", 0.7))]);
    assert_eq!(divergence_alerts(&s.app).len(), 2);
}

#[test]
fn thresholds_decide_what_counts() {
    // Lenient enough that 90% against a 70% passive engine passes.
    let mut s = shadowed(fixture("contrarian.onnx"));
    s.app.shadow.thresholds = Thresholds {
        confidence: 0.95,
        tv: 0.9,
        ..Thresholds::default()
    };
    s.settle();
    let mut fx = Fx::new();
    s.feed(&one_order(&mut fx));
    s.feed(&[fx.ev(decision("P-1", "passive", 0.7))]);
    assert!(s.app.live.divergence.is_empty());
    assert!(divergence_alerts(&s.app).is_empty());
    // After enough disagreements the rolling agreement rate catches it.
    for _ in 0..9 {
        s.feed(&[fx.ev(decision("P-1", "passive", 0.7))]);
    }
    let d = &s.app.live.divergence["P-1"];
    assert!(
        d.note.contains("agreement 0% over the last 10"),
        "{}",
        d.note
    );
    assert_eq!(divergence_alerts(&s.app).len(), 1);
}

#[test]
fn missing_shadow_model_leaves_the_console_working() {
    let mut s = shadowed(PathBuf::from("tests/fixtures/no_such_shadow.onnx"));
    match s.settle() {
        ShadowEvent::Unavailable { reason } => {
            assert!(reason.contains("no_such_shadow.onnx not found"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.app.shadow.status, ShadowStatus::Off { .. }));
    // Decisions are no longer sent anywhere; everything else goes on.
    let mut fx = Fx::new();
    let effects = s.app.feed(&small_session(&mut fx));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Shadow(_))),
        "{effects:?}"
    );
    assert!(s.app.live.divergence.is_empty() && s.app.live.shadow.is_empty());
    assert_eq!(s.app.live.view.orders.len(), 3);
    let screen = lines(&draw(&s.app, 160, 45));
    assert!(
        screen[0].contains("shadow off: tests/fixtures/no_such_shadow.onnx not found"),
        "{}",
        screen[0]
    );
    assert!(screen[0].contains("● live"), "{}", screen[0]);
    let text = screen.join("\n");
    assert!(text.contains("P-2") && text.contains("PAUSED"), "{text}");
    assert!(s
        .app
        .feed(&[fx.ev(decision("P-1", "passive", 0.7))])
        .is_empty());
}

#[test]
fn invalid_shadow_model_is_refused_with_its_reason() {
    let mut s = shadowed(fixture("not_a_model.onnx"));
    let ShadowEvent::Unavailable { reason } = s.settle() else {
        panic!("refused")
    };
    assert!(reason.contains("not_a_model.onnx"), "{reason}");
    let header = lines(&draw(&s.app, 200, 45)).remove(0);
    assert!(header.contains("shadow off: "), "{header}");
    let mut s = shadowed(fixture("wrong_features.onnx"));
    let ShadowEvent::Unavailable { reason } = s.settle() else {
        panic!("refused")
    };
    assert!(reason.contains("contract"), "{reason}");
}

#[test]
fn no_shadow_configured_changes_nothing_on_screen() {
    let mut app = app(Role::Trader);
    let effects = app.feed(&small_session(&mut Fx::new()));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Shadow(_))));
    let header = lines(&draw(&app, 160, 45)).remove(0);
    assert!(!header.contains("shadow"), "{header}");
}

/// Cell position of the first occurrence of `needle`.
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
