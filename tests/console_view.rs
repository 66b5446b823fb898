//! Screens on ratatui's TestBackend: text snapshots plus style checks for the
//! states a trader must never miss.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use vigil::console::app::{App, Msg};
use vigil::console::view::view;
use vigil::protocol::*;

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| view(app, f)).unwrap();
    term.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
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

fn trader_app() -> App {
    let mut app = app(Role::Trader);
    app.feed(&small_session(&mut Fx::new()));
    app
}

#[test]
fn main_screen() {
    let app = trader_app();
    let buf = draw(&app, 160, 45);
    insta::assert_snapshot!("main_screen", text(&buf));
}

#[test]
fn paused_row_is_styled_and_labelled() {
    let app = trader_app();
    let buf = draw(&app, 160, 45);
    let (x, y) = find(&buf, "PAUSED").expect("PAUSED label on the P-3 row");
    assert_eq!(buf[(x, y)].fg, app.theme.paused);
    let (ix, iy) = find(&buf, "P-3").unwrap();
    assert_eq!(iy, y);
    assert_eq!(
        buf[(ix, iy)].fg,
        app.theme.paused,
        "the whole row reads as paused"
    );
}

#[test]
fn halted_header_is_unmistakable() {
    let mut app = trader_app();
    let mut fx = Fx {
        seq: app.live.view.seq,
        ts: app.live.view.ts,
    };
    app.feed(&[fx.ev(engine_state(
        EngineState::Halted,
        Some("kill switch by alice"),
    ))]);
    let buf = draw(&app, 160, 45);
    for x in [0, 80, 159] {
        assert_eq!(buf[(x, 0)].bg, app.theme.halted_bg, "header cell {x}");
    }
    let (_, y) = find(&buf, "ENGINE HALTED").unwrap();
    assert_eq!(y, 1, "banner right under the header");
    assert_eq!(buf[(0, 1)].bg, app.theme.halted_bg);
    assert!(find(&buf, "■ HALTED").is_some());
    assert!(find(&buf, "nothing sent until R (resume all)").is_some());
    assert!(
        find(&buf, "HALTED — KILL SWITCH").is_none(),
        "the header says it once; the banner gives the reason"
    );
    assert!(find(&buf, "kill switch by alice").is_some());
    insta::assert_snapshot!(
        "halted_header",
        text(&buf).lines().take(3).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn stale_banner_after_two_silent_seconds() {
    let mut app = trader_app();
    let t0 = Instant::now();
    app.update(
        Msg::Net(vigil::console::client::NetEvent::Message {
            conn: 1,
            msg: ServerMessage::Heartbeat { seq: 0, ts: 0 },
        }),
        t0,
    );
    app.update(Msg::Tick, t0 + Duration::from_millis(1500));
    assert!(find(&draw(&app, 160, 45), "STALE").is_none());
    app.update(Msg::Tick, t0 + Duration::from_millis(2100));
    let buf = draw(&app, 160, 45);
    let (x, y) = find(&buf, "STALE — no data").expect("stale banner");
    assert_eq!(buf[(x, y)].bg, app.theme.stale_bg);
    assert!(find(&buf, "◌ STALE").is_some(), "header link state");
    assert_eq!(app.live.alerts.newest().unwrap().code, "stale_data");
    // Any message clears it.
    app.feed(&[ServerMessage::Heartbeat { seq: 0, ts: 0 }]);
    assert!(find(&draw(&app, 160, 45), "STALE").is_none());
}

#[test]
fn refused_command_shows_the_engine_reason() {
    let mut app = trader_app();
    app.update(
        Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('p'),
            crossterm::event::KeyModifiers::NONE,
        )),
        Instant::now(),
    );
    let buf = draw(&app, 160, 45);
    let (x, y) = find(&buf, "⧗ pause P-1").expect("pending in the detail pane");
    assert_eq!(buf[(x, y)].fg, app.theme.pending);
    app.feed(&[ack("c1", false, Some("risk: order is below minimum size"))]);
    let buf = draw(&app, 160, 45);
    let (x, y) = find(&buf, "REFUSED: risk: order is below minimum size").expect("reason shown");
    assert_eq!(buf[(x, y)].fg, app.theme.refused);
    assert!(find(&buf, "⧗ pause").is_none(), "no longer pending");
    insta::assert_snapshot!("refused_command", text(&buf));
}

#[test]
fn viewer_screen_says_read_only() {
    let mut app = app(Role::Viewer);
    app.feed(&small_session(&mut Fx::new()));
    let buf = draw(&app, 160, 45);
    assert!(find(&buf, "viewer (read-only)").is_some());
    let (x, y) = find(&buf, "read-only: connected as viewer").expect("footer tells why");
    assert_eq!(buf[(x, y)].fg, app.theme.warn);
    assert!(find(&buf, "KILL").is_none(), "no command keys offered");
}

#[test]
fn frozen_banner_and_overlays() {
    let mut app = trader_app();
    let key = |c: char| {
        Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        ))
    };
    app.update(key('f'), Instant::now());
    let buf = draw(&app, 160, 45);
    let (x, y) = find(&buf, "FROZEN").unwrap();
    assert_eq!(buf[(x, y)].bg, app.theme.frozen_bg);
    app.update(key('K'), Instant::now());
    let buf = draw(&app, 160, 45);
    assert!(find(&buf, "Halt ALL orders").is_some());
    let (x, y) = find(&buf, "[ No ]").unwrap();
    assert!(
        buf[(x, y)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED),
        "focus on No"
    );
    insta::assert_snapshot!("kill_switch_confirm", text(&buf));
}

#[test]
fn colorblind_theme_keeps_symbols() {
    let mut app = trader_app();
    app.theme = vigil::console::theme::ThemeSource { dir: None }
        .load("colorblind")
        .unwrap();
    let buf = draw(&app, 160, 45);
    assert!(find(&buf, "▼").is_some() || find(&buf, "▲").is_some());
    assert!(find(&buf, "PAUSED").is_some());
}

#[test]
fn a_thousand_orders_render_only_what_fits() {
    let mut app = app(Role::Trader);
    app.feed(&many_orders(&mut Fx::new(), 1000));
    app.selected = Some("P-500".into());
    let buf = draw(&app, 200, 60);
    assert!(
        find(&buf, "P-500 ").is_some(),
        "selected row scrolled into view"
    );
    assert!(find(&buf, "Orders 1000/1000").is_some());
}

fn key(c: char) -> Msg {
    Msg::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::NONE,
    ))
}

fn line_of(buf: &Buffer, y: u16) -> String {
    text(buf).lines().nth(y as usize).unwrap_or("").to_string()
}

fn next_fx(app: &App) -> Fx {
    Fx {
        seq: app.live.view.seq,
        ts: app.live.view.ts,
    }
}

/// An engine-side alert and a refused command: header and pane agree.
fn app_with_refusal() -> App {
    let mut app = trader_app();
    app.update(key('p'), Instant::now());
    app.feed(&[ack(
        "c1",
        false,
        Some("unknown order or order not working: P-1 finished at 09:30:10"),
    )]);
    app
}

#[test]
fn narrow_80x24_keeps_what_matters() {
    let mut app = app_with_refusal();
    let buf = draw(&app, 80, 24);
    let head = line_of(&buf, 0);
    for needed in ["● live", "▶ RUNNING", "trader", "⚠ 3 alerts"] {
        assert!(head.contains(needed), "header lacks {needed:?}: {head}");
    }
    let screen = text(&buf);
    assert!(screen.contains("STATE"), "{screen}");
    assert!(screen.contains("⏸ PAUSED"), "{screen}");
    assert!(screen.contains("Alerts (3)"), "{screen}");
    let foot = line_of(&buf, 23);
    assert!(foot.trim_end().ends_with("? help  q quit"), "{foot}");
    let status = format!("{} {}", line_of(&buf, 21).trim(), line_of(&buf, 22).trim());
    assert_eq!(
        status, "✗ pause P-1 refused: unknown order or order not working: P-1 finished at 09:30:10",
        "{screen}"
    );
    insta::assert_snapshot!("narrow_80x24", screen);

    // Halted: the header still says so, with the link state, and every live
    // row carries the halt.
    let mut fx = next_fx(&app);
    app.feed(&[fx.ev(engine_state(
        EngineState::Halted,
        Some("kill switch by alice: operator kill switch"),
    ))]);
    let buf = draw(&app, 80, 24);
    let head = line_of(&buf, 0);
    assert!(
        head.contains("■ HALTED") && head.contains("● live"),
        "{head}"
    );
    assert!(text(&buf).contains("■HALT"), "{}", text(&buf));
    insta::assert_snapshot!("narrow_80x24_halted", text(&buf));
}

#[test]
fn medium_100x30() {
    let app = app_with_refusal();
    let buf = draw(&app, 100, 30);
    let screen = text(&buf);
    for needed in [
        "▶ RUNNING",
        "trader",
        "⚠ 3 alerts",
        "STATE",
        "SLIP bps",
        "PAUSED",
    ] {
        assert!(screen.contains(needed), "lacks {needed:?}:\n{screen}");
    }
    assert!(line_of(&buf, 29).trim_end().ends_with("? help  q quit"));
    insta::assert_snapshot!("medium_100x30", screen);
}

#[test]
fn ack_updates_the_status_line() {
    let mut app = trader_app();
    app.update(key('p'), Instant::now());
    assert!(app.status.as_ref().unwrap().0.contains("waiting for ack"));
    app.feed(&[ack("c1", true, None)]);
    let buf = draw(&app, 160, 45);
    assert!(
        line_of(&buf, 44).starts_with(" ✓ pause P-1 accepted"),
        "{}",
        line_of(&buf, 44)
    );
    assert_eq!(buf[(1, 44)].fg, app.theme.ok);
    assert!(find(&buf, "waiting for ack").is_none());

    // A refusal: the whole reason, however long, in the status line.
    let reason = "unknown order or order not working: P-1 finished at 09:30:10";
    app.update(key('p'), Instant::now());
    app.feed(&[ack("c2", false, Some(reason))]);
    let buf = draw(&app, 160, 45);
    let status = format!(" ✗ pause P-1 refused: {reason}");
    assert!(
        line_of(&buf, 44).starts_with(&status),
        "{}",
        line_of(&buf, 44)
    );
    assert_eq!(buf[(1, 44)].fg, app.theme.refused);
    // On 80 columns the status takes lines of its own above the keys.
    let buf = draw(&app, 80, 24);
    let shown = format!("{} {}", line_of(&buf, 21).trim(), line_of(&buf, 22).trim());
    assert_eq!(shown, status.trim(), "{}", text(&buf));
    assert!(line_of(&buf, 23).trim_end().ends_with("? help  q quit"));
}

#[test]
fn the_newest_alert_wraps_so_its_reason_can_be_read() {
    let app = app_with_refusal();
    let buf = draw(&app, 160, 45);
    // The pane is narrow: the end of the reason is on a continuation line.
    assert!(
        find(&buf, "P-1 finished at 09:30:10").is_some(),
        "{}",
        text(&buf)
    );
}

#[test]
fn first_connect_is_not_a_resync() {
    let app = trader_app();
    let note = app.link.note.as_ref().map(|n| n.0.as_str());
    assert_eq!(note, Some("connected"));
    assert!(find(&draw(&app, 160, 45), "resynchronised").is_none());
}

#[test]
fn halt_marks_live_rows_and_its_end_is_announced() {
    let mut app = trader_app();
    let mut fx = next_fx(&app);
    app.feed(&[fx.ev(engine_state(
        EngineState::Halted,
        Some("kill switch by alice"),
    ))]);
    let buf = draw(&app, 160, 45);
    let (x, y) = find(&buf, "working ■HALT").expect("halt on the P-1 row");
    assert!(line_of(&buf, y).contains("P-1"));
    let hx = x + "working ".chars().count() as u16;
    assert_eq!(buf[(hx, y)].bg, app.theme.halted_bg);
    let (_, py) = find(&buf, "P-3").unwrap();
    assert!(
        !line_of(&buf, py).contains("■HALT"),
        "a paused row is not trading anyway"
    );

    app.update(key('R'), Instant::now());
    app.feed(&[
        fx.ev(engine_state(EngineState::Running, None)),
        ack("c1", true, None),
    ]);
    let status = &app.status.as_ref().unwrap().0;
    assert!(status.contains("halt ended"), "{status}");
    let buf = draw(&app, 160, 45);
    assert!(find(&buf, "■HALT").is_none());
}

#[test]
fn no_alert_icon_when_there_are_none() {
    let mut app = app(Role::Trader);
    let mut fx = Fx::new();
    app.feed(&[
        fx.ev(session()),
        fx.ev(order_new("P-1", "ACME", Side::Buy, 1000.0, "twap")),
    ]);
    let buf = draw(&app, 160, 45);
    let head = line_of(&buf, 0);
    assert!(head.contains("no alerts") && !head.contains('⚠'), "{head}");
    assert!(find(&buf, "Alerts (0)").is_some());
}

#[test]
fn rule_strategies_say_rule_and_explain_actions() {
    let mut app = app(Role::Trader);
    let mut fx = Fx::new();
    let rule = |action: &str| {
        let actions = vigil::model::contract::contract_info().actions;
        let probs = actions
            .iter()
            .map(|a| if a == action { 1.0 } else { 0.0 })
            .collect();
        Event::Decision(Box::new(DecisionInfo {
            order_id: "P-1".into(),
            strategy: "almgren_chriss".into(),
            action: action.into(),
            confidence: 1.0,
            probs,
            features: vec![0.1; vigil::model::contract::contract_info().features.len()],
            model: "rule".into(),
            model_status: None,
            overridden: false,
            fell_back: false,
            fallback_reason: None,
            target_qty: 100.0,
            children: vec![],
        }))
    };
    app.feed(&[
        fx.ev(session()),
        fx.ev(order_new(
            "P-1",
            "ACME",
            Side::Buy,
            1000.0,
            "almgren_chriss",
        )),
        fx.ev(order_state("P-1", OrderState::Working)),
        fx.ev(rule("wait")),
        fx.ev(rule("mixed")),
        fx.ev(rule("catch_up")),
    ]);
    let buf = draw(&app, 160, 45);
    let (_, y) = find(&buf, "▶P-1").unwrap();
    let row = line_of(&buf, y);
    assert!(row.contains(" AC ") && row.contains("rule"), "{row}");
    assert!(!row.contains("1.00"), "{row}");
    assert!(find(&buf, "catch_up    rule  catch up to schedule").is_some());
    assert!(find(&buf, "mixed       rule  half passive, half dark").is_some());
    assert!(find(&buf, "wait        rule  send nothing").is_some());
    assert!(find(&buf, "WHAT IT DOES").is_some());
    // The detail title has no dangling separator without a state reason.
    assert!(
        find(&buf, "P-1 · ACME almgren_chriss ─").is_some(),
        "{}",
        text(&buf)
    );
}

#[test]
fn help_lists_every_key_and_the_slip_sign() {
    let mut app = trader_app();
    app.update(key('?'), Instant::now());
    for (w, h) in [(160, 45), (80, 24)] {
        let buf = draw(&app, w, h);
        for needed in [
            "j/↓",
            "k/↑",
            "Enter/Tab",
            "q/^c",
            "g/Home",
            "quit",
            "positive = cost",
        ] {
            assert!(
                find(&buf, needed).is_some(),
                "{w}x{h} lacks {needed:?}:\n{}",
                text(&buf)
            );
        }
    }
    insta::assert_snapshot!("help_80x24", text(&draw(&app, 80, 24)));
}

#[test]
fn kill_switch_dialog_hint_is_whole_at_80_columns() {
    let mut app = trader_app();
    app.update(key('K'), Instant::now());
    let buf = draw(&app, 80, 24);
    assert!(
        find(&buf, "Enter picks the focused one").is_some(),
        "{}",
        text(&buf)
    );
}

#[test]
fn an_order_from_an_oms_shows_its_fix_session_and_the_header_the_sessions() {
    let mut app = trader_app();
    let mut fx = next_fx(&app);
    let Event::OrderNew { order } = order_new("P-9", "ACME", Side::Buy, 3000.0, "twap") else {
        unreachable!()
    };
    let order = OrderInfo {
        origin: Some(OrderOrigin {
            fix_session: "OMS1→VIGIL".into(),
            cl_ord_id: "A-77".into(),
        }),
        ..order
    };
    app.feed(&[
        fx.ev(Event::OrderNew { order }),
        ServerMessage::FixSessions {
            sessions: vec![FixSessionInfo {
                session: "OMS1→VIGIL".into(),
                user: "desk".into(),
                role: Role::Trader,
                logged_on: true,
                peer: Some("127.0.0.1:40000".into()),
                next_in: 12,
                next_out: 40,
                orders: 1,
            }],
        },
    ]);
    let buf = draw(&app, 160, 45);
    assert!(
        line_of(&buf, 0).contains("FIX OMS1→VIGIL ● in 12 out 40"),
        "{}",
        line_of(&buf, 0)
    );
    let (_, y) = find(&buf, "P-9").expect("the FIX order in the blotter");
    let row = line_of(&buf, y);
    let id_cell = &row[row.find("P-9").unwrap()..row.find("ACME").unwrap()];
    assert_eq!(id_cell.trim_end(), "P-9   ⇄", "{row}");
    let (_, other) = find(&buf, "P-1").unwrap();
    assert!(
        !line_of(&buf, other).contains('⇄'),
        "only the FIX order is marked"
    );
    // Its detail names where it came from.
    for _ in 0..10 {
        if text(&draw(&app, 160, 45)).contains("ClOrdID A-77") {
            break;
        }
        app.update(key('j'), Instant::now());
    }
    let screen = text(&draw(&app, 160, 45));
    assert!(
        screen.contains("origin  FIX OMS1→VIGIL · ClOrdID A-77"),
        "{screen}"
    );
    // Logged out: the header says so.
    app.feed(&[ServerMessage::FixSessions {
        sessions: vec![FixSessionInfo {
            session: "OMS1→VIGIL".into(),
            user: "desk".into(),
            role: Role::Trader,
            logged_on: false,
            peer: None,
            next_in: 12,
            next_out: 41,
            orders: 1,
        }],
    }]);
    let buf = draw(&app, 160, 45);
    assert!(
        line_of(&buf, 0).contains("FIX OMS1→VIGIL ○"),
        "{}",
        line_of(&buf, 0)
    );
}
