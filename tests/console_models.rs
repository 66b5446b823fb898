//! The console's view of deployed models: which model (and status) serves an
//! order, its guard, the model kill switch (asks, sends, undoes), and what a
//! fallback looks like. Screens on ratatui's TestBackend.

mod common;

use std::time::Instant;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vigil::console::app::{App, Effect, Mode, Msg};
use vigil::console::view::view;
use vigil::protocol::*;

fn press(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn keys(app: &mut App, keys: &[KeyEvent]) -> Vec<Command> {
    keys.iter()
        .flat_map(|k| app.update(Msg::Key(*k), Instant::now()))
        .filter_map(|e| match e {
            Effect::Send(ClientMessage::Command { command, .. }) => Some(command),
            _ => None,
        })
        .collect()
}

fn screen(app: &App) -> String {
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    term.draw(|f| view(app, f)).unwrap();
    let buf = term.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn served_order(id: &str, status: ModelStatus) -> Event {
    let Event::OrderNew { mut order } = order_new(id, "ACME", Side::Buy, 10_000.0, "adaptive")
    else {
        unreachable!()
    };
    order.model = Some(ServedModel {
        name: "pol-7".into(),
        id: "policy@abc123".into(),
        status,
    });
    Event::OrderNew { order }
}

fn model_state(guard: GuardState, cost: Option<f64>, reason: Option<&str>) -> Event {
    Event::ModelState(ModelStateInfo {
        name: "pol-7".into(),
        id: "policy@abc123".into(),
        status: ModelStatus::Canary,
        guard,
        cost_vs_baseline_bps: cost,
        threshold_bps: 25.0,
        orders: 3,
        reason: reason.map(str::to_string),
    })
}

fn session_with_model(role: Role) -> (App, Fx) {
    let mut app = app(role);
    let mut fx = Fx::new();
    app.feed(&[
        fx.ev(session()),
        fx.ev(served_order("P-1", ModelStatus::Canary)),
        fx.ev(order_state("P-1", OrderState::Working)),
        fx.ev(model_state(GuardState::Ok, Some(-2.5), None)),
        fx.ev(market("ACME", 100.0)),
        fx.ev(decision("P-1", "passive", 0.7)),
    ]);
    (app, fx)
}

#[test]
fn the_detail_pane_says_which_model_serves_the_order_and_how_its_guard_stands() {
    let (app, _) = session_with_model(Role::Trader);
    let s = screen(&app);
    assert!(
        s.contains("pol-7 (canary) · guard ok, -2.5 bps vs baseline (limit +25)"),
        "{s}"
    );
    assert!(s.contains("adaptiv·c"), "the blotter marks a canary:\n{s}");
}

#[test]
fn x_asks_then_switches_the_model_off_and_x_again_restores_it() {
    let (mut app, mut fx) = session_with_model(Role::Trader);
    // X opens the confirmation; X again never confirms.
    assert!(keys(&mut app, &[press('X'), press('X')]).is_empty());
    assert!(matches!(app.mode, Mode::Confirm(_)));
    let s = screen(&app);
    assert!(
        s.contains("Switch off model pol-7? Its 3 orders go to the baseline."),
        "{s}"
    );
    let sent = keys(&mut app, &[press('y')]);
    assert_eq!(
        sent,
        vec![Command::KillModel {
            model: "pol-7".into(),
            reason: Some("operator model kill switch".into())
        }]
    );
    app.feed(&[
        fx.ev(model_state(
            GuardState::Killed,
            Some(-2.5),
            Some("switched off by alice"),
        )),
        fx.ev(Event::Decision(Box::new(DecisionInfo {
            fell_back: true,
            fallback_reason: Some("model pol-7 switched off".into()),
            ..match decision("P-1", "mixed", 0.7) {
                Event::Decision(d) => *d,
                _ => unreachable!(),
            }
        }))),
    ]);
    let s = screen(&app);
    assert!(
        s.contains("⊘ pol-7 (canary) off: switched off by alice"),
        "{s}"
    );
    assert!(
        s.contains("last decision followed the baseline: model pol-7 switched off"),
        "{s}"
    );
    assert!(
        s.contains("adaptive⊘"),
        "the blotter marks a model that is off:\n{s}"
    );
    // Now X offers the undo.
    keys(&mut app, &[press('X')]);
    assert!(screen(&app).contains("Let model pol-7 serve its orders again?"));
    assert_eq!(
        keys(&mut app, &[press('y')]),
        vec![Command::RestoreModel {
            model: "pol-7".into()
        }]
    );
}

#[test]
fn a_viewer_cannot_switch_a_model_off_and_an_order_without_a_model_says_so() {
    let (mut app, _) = session_with_model(Role::Viewer);
    assert!(keys(&mut app, &[press('X'), press('y')]).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    let mut app = app_with_rule_order();
    assert!(keys(&mut app, &[press('X')]).is_empty());
    let status = app.status.as_ref().map(|s| s.0.clone()).unwrap_or_default();
    assert!(status.contains("not served by a model"), "{status}");
}

fn app_with_rule_order() -> App {
    let mut app = app(Role::Trader);
    let mut fx = Fx::new();
    app.feed(&[
        fx.ev(session()),
        fx.ev(order_new("P-9", "ACME", Side::Buy, 1_000.0, "twap")),
        fx.ev(order_state("P-9", OrderState::Working)),
    ]);
    app
}
