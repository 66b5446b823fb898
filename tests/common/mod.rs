//! Fixture builder: realistic protocol messages for console tests and benches.
#![allow(dead_code)]

use vigil::console::app::App;
use vigil::console::keymap::Keymap;
use vigil::console::theme::Theme;
use vigil::model::contract::contract_info;
use vigil::protocol::*;

/// 09:30:00 in simulated nanoseconds.
pub const OPEN: u64 = 9 * 3600 * 1_000_000_000 + 30 * 60 * 1_000_000_000;

/// Builds gap-free event messages with advancing simulated time.
pub struct Fx {
    pub seq: u64,
    pub ts: u64,
}

impl Default for Fx {
    fn default() -> Self {
        Fx { seq: 0, ts: OPEN }
    }
}

impl Fx {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wrap an event with the next seq, 100 ms after the previous one.
    pub fn ev(&mut self, event: Event) -> ServerMessage {
        self.seq += 1;
        self.ts += 100_000_000;
        ServerMessage::Event(EventEnvelope {
            seq: self.seq,
            ts: self.ts,
            event,
        })
    }

    pub fn envelope(&mut self, event: Event) -> EventEnvelope {
        match self.ev(event) {
            ServerMessage::Event(e) => e,
            _ => unreachable!(),
        }
    }
}

pub fn welcome(role: Role, resume: ResumeMode, last_seq: u64) -> ServerMessage {
    ServerMessage::Welcome(Welcome {
        protocol: 1,
        engine_id: "eng-1".into(),
        session_id: "s-1".into(),
        role,
        user: match role {
            Role::Trader => "alice".into(),
            Role::Viewer => "bob".into(),
        },
        last_seq,
        resume,
        instance_id: "run-1".into(),
        restart: None,
    })
}

pub fn session() -> Event {
    let venues = |names: &[(&str, VenueKind)]| {
        names
            .iter()
            .map(|(n, k)| VenueInfo {
                name: n.to_string(),
                kind: *k,
            })
            .collect::<Vec<_>>()
    };
    let inst = |symbol: &str| InstrumentInfo {
        symbol: symbol.into(),
        tick_size: 0.01,
        lot_size: 1.0,
        price_decimals: 2,
        qty_decimals: 0,
        venues: venues(&[("XLIT", VenueKind::Lit), ("XDRK", VenueKind::Dark)]),
    };
    Event::Session {
        engine_id: "eng-1".into(),
        session_id: "s-1".into(),
        scenario: "fixture".into(),
        seed: 7,
        instruments: vec![inst("ACME"), inst("BOLT")],
        contract: contract_info(),
    }
}

pub fn params() -> OrderParams {
    OrderParams {
        urgency: 0.5,
        max_participation: 0.2,
        target_participation: 0.1,
        limit_price: None,
        min_child_qty: 100.0,
        max_child_qty: 2000.0,
        venues: vec![],
    }
}

pub fn order_new(id: &str, symbol: &str, side: Side, qty: f64, strategy: &str) -> Event {
    Event::OrderNew {
        order: OrderInfo {
            order_id: id.into(),
            symbol: symbol.into(),
            side,
            qty,
            strategy: strategy.into(),
            start_ts: OPEN,
            end_ts: OPEN + 3600 * 1_000_000_000,
            params: params(),
            model: None,
            origin: None,
        },
    }
}

pub fn order_state(id: &str, state: OrderState) -> Event {
    Event::OrderState {
        order_id: id.into(),
        state,
        reason: None,
    }
}

pub fn progress(id: &str, filled: f64, scheduled: f64, avg: f64, slip: f64) -> Event {
    Event::OrderProgress {
        order_id: id.into(),
        progress: Progress {
            filled,
            scheduled,
            working: 200.0,
            avg_price: Some(avg),
            arrival_price: Some(100.0),
            slippage_bps: Some(slip),
        },
    }
}

pub fn decision(id: &str, action: &str, confidence: f64) -> Event {
    let actions = contract_info().actions;
    let idx = actions.iter().position(|a| a == action).unwrap_or(0);
    let probs: Vec<f64> = (0..actions.len())
        .map(|i| {
            if i == idx {
                confidence
            } else {
                (1.0 - confidence) / (actions.len() - 1) as f64
            }
        })
        .collect();
    let features: Vec<f64> = (0..contract_info().features.len())
        .map(|i| (i as f64 * 0.37).sin())
        .collect();
    Event::Decision(Box::new(DecisionInfo {
        order_id: id.into(),
        strategy: "adaptive".into(),
        action: action.into(),
        confidence,
        probs,
        features,
        model: "policy@abc123".into(),
        model_status: Some(ModelStatus::Live),
        overridden: false,
        fell_back: false,
        fallback_reason: None,
        target_qty: 300.0,
        children: vec![],
    }))
}

pub fn market(symbol: &str, mid: f64) -> Event {
    // Prices sit on the tick grid, as the engine sends them.
    let tick = |x: f64| (x * 100.0).round() / 100.0;
    let mid = tick(mid);
    Event::Market(MarketSummary {
        symbol: symbol.into(),
        bid: Some(tick(mid - 0.01)),
        ask: Some(tick(mid + 0.01)),
        bid_size: 500.0,
        ask_size: 700.0,
        last: Some(mid),
        volume: 1_000_000.0,
        regime: "normal".into(),
        venues_down: vec![],
    })
}

pub fn fill(id: &str, price: f64, qty: f64) -> Event {
    Event::Fill {
        order_id: id.into(),
        child_id: format!("{id}-c1"),
        venue: "XLIT".into(),
        venue_kind: VenueKind::Lit,
        price,
        qty,
        liquidity: Liquidity::Maker,
    }
}

pub fn alert(id: u64, severity: Severity, code: &str, msg: &str, order: Option<&str>) -> Event {
    Event::Alert(AlertInfo {
        alert_id: id,
        severity,
        code: code.into(),
        message: msg.into(),
        order_id: order.map(str::to_string),
    })
}

pub fn engine_state(state: EngineState, reason: Option<&str>) -> Event {
    Event::EngineState {
        state,
        reason: reason.map(str::to_string),
    }
}

pub fn ack(id: &str, ok: bool, reason: Option<&str>) -> ServerMessage {
    ServerMessage::Ack(Ack {
        id: id.into(),
        ok,
        reason: reason.map(str::to_string),
        seq: None,
        order_id: None,
    })
}

/// A live-looking session: three orders in different states, market data,
/// fills, decisions and alerts.
pub fn small_session(fx: &mut Fx) -> Vec<ServerMessage> {
    let mut m = vec![fx.ev(session())];
    m.push(fx.ev(order_new("P-1", "ACME", Side::Buy, 10_000.0, "adaptive")));
    m.push(fx.ev(order_new("P-2", "BOLT", Side::Sell, 5_000.0, "twap")));
    m.push(fx.ev(order_new("P-3", "ACME", Side::Buy, 2_000.0, "vwap")));
    for id in ["P-1", "P-2", "P-3"] {
        m.push(fx.ev(order_state(id, OrderState::Working)));
    }
    for i in 0..30 {
        let px = 100.0 + (i as f64 * 0.3).sin() * 0.2;
        m.push(fx.ev(market("ACME", px)));
        m.push(fx.ev(market("BOLT", 50.0 - i as f64 * 0.01)));
        if i % 3 == 0 {
            m.push(fx.ev(decision(
                "P-1",
                ["passive", "dark", "aggressive"][i % 3],
                0.6 + 0.01 * i as f64,
            )));
            m.push(fx.ev(fill("P-1", px, 200.0)));
            let filled = 200.0 * (i / 3 + 1) as f64;
            m.push(fx.ev(progress("P-1", filled, filled * 1.2, px, 3.4)));
        }
    }
    m.push(fx.ev(progress("P-2", 2_500.0, 2_000.0, 49.9, -1.2)));
    m.push(fx.ev(decision("P-2", "wait", 0.31)));
    m.push(fx.ev(progress("P-3", 1_000.0, 1_000.0, 100.05, 0.5)));
    m.push(fx.ev(order_state("P-3", OrderState::Paused)));
    m.push(fx.ev(alert(
        1,
        Severity::Warning,
        "low_confidence",
        "confidence 0.31 below 0.40: falling back to schedule",
        Some("P-2"),
    )));
    m.push(fx.ev(alert(
        2,
        Severity::Critical,
        "venue_outage",
        "XDRK unavailable",
        None,
    )));
    m
}

/// `n` orders with some progress each (for benches and scrolling).
pub fn many_orders(fx: &mut Fx, n: usize) -> Vec<ServerMessage> {
    let mut m = vec![fx.ev(session())];
    for i in 0..n {
        let id = format!("P-{}", i + 1);
        let sym = if i % 2 == 0 { "ACME" } else { "BOLT" };
        let side = if i % 3 == 0 { Side::Sell } else { Side::Buy };
        m.push(fx.ev(order_new(&id, sym, side, 1000.0 + i as f64, "adaptive")));
        m.push(fx.ev(order_state(&id, OrderState::Working)));
        m.push(fx.ev(decision(&id, "passive", 0.7)));
        m.push(fx.ev(progress(&id, (i % 10) as f64 * 90.0, 450.0, 100.0, 1.5)));
    }
    for i in 0..200 {
        m.push(fx.ev(market("ACME", 100.0 + (i as f64 * 0.1).sin())));
    }
    m
}

pub fn app(role: Role) -> App {
    App::new(
        Keymap::default(),
        Theme::builtin_dark(),
        vec!["dark".into(), "light".into()],
    )
    .with_test_link(role)
}

/// Extension to drive an `App` as if connected.
pub trait Drive {
    fn with_test_link(self, role: Role) -> Self;
    fn feed(&mut self, msgs: &[ServerMessage]) -> Vec<vigil::console::app::Effect>;
}

impl Drive for App {
    fn with_test_link(mut self, role: Role) -> Self {
        let now = std::time::Instant::now();
        use vigil::console::app::Msg;
        use vigil::console::client::NetEvent;
        self.update(Msg::Net(NetEvent::Connected { conn: 1 }), now);
        self.update(
            Msg::Net(NetEvent::Message {
                conn: 1,
                msg: welcome(role, ResumeMode::Snapshot, 0),
            }),
            now,
        );
        self
    }

    fn feed(&mut self, msgs: &[ServerMessage]) -> Vec<vigil::console::app::Effect> {
        use vigil::console::app::Msg;
        use vigil::console::client::NetEvent;
        let now = std::time::Instant::now();
        let mut out = Vec::new();
        for m in msgs {
            out.extend(self.update(
                Msg::Net(NetEvent::Message {
                    conn: 1,
                    msg: m.clone(),
                }),
                now,
            ));
        }
        out
    }
}
