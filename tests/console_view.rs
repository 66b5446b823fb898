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
    assert!(find(&buf, "HALTED — KILL SWITCH").is_some());
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
