//! The feed handler and the replayed market on the real captures in
//! `../shared/data/market/` (or `$VIGIL_MARKET_DATA`). The captures are not
//! part of the project; these tests read them where they are.

use std::path::PathBuf;

use vigil::engine::feed::{open_capture, HandlerOptions, MarketEvent};
use vigil::engine::market::BookSide;
use vigil::engine::EngineOptions;
use vigil::protocol::{Event, OrderState};

const BTC: &str = "binance_spot_btcusdt_20240808.jsonl.gz";
const ETH: &str = "binance_spot_ethusdt_20240808.jsonl.gz";

fn capture(name: &str) -> PathBuf {
    let dir = std::env::var_os("VIGIL_MARKET_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/market"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "capture {} not found: set VIGIL_MARKET_DATA to the folder holding it",
        p.display()
    );
    p
}

/// Rebuild the book from depth diffs alone and compare it with the
/// top-of-book stream at matching update ids.
fn reconstruction(name: &str) -> vigil::engine::feed::FeedStats {
    let opts = HandlerOptions {
        top_of_book_repairs: false,
    };
    let mut src = open_capture(&capture(name), opts).unwrap();
    while src.next_event().is_some() {}
    let s = src.stats().clone();
    println!("{name}: {s}");
    s
}

#[test]
fn rebuilt_book_agrees_with_top_of_book() {
    for (name, lines) in [(BTC, 41_249), (ETH, 33_618)] {
        let s = reconstruction(name);
        assert_eq!(s.lines, lines);
        assert_eq!(s.snapshots, 1);
        assert!(s.bbo_checked > 1_000, "{s}");
        assert!(s.price_agreement() > 0.99, "{name}: {s}");
        assert!(s.full_agreement() > 0.97, "{name}: {s}");
    }
}

#[test]
fn engine_works_twap_and_almgren_chriss_on_the_replayed_btcusdt() {
    let setup = vigil::engine::capture_session::prepare(&capture(BTC), None, 7).unwrap();
    let (open, end) = (setup.times.open, setup.times.end);
    // Engine time is ns since midnight UTC of the capture's day: 23:54 to 00:00.
    assert!(
        open > 23 * 3_600_000_000_000 && end <= 86_401_000_000_000,
        "{open} {end}"
    );
    let mut e = setup.engine(&EngineOptions::default()).unwrap();
    let mut events: Vec<_> = e.drain_events().collect();
    while e.step() {
        events.extend(e.drain_events());
    }
    events.extend(e.drain_events());
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev.seq, i as u64 + 1);
    }
    let Event::Session { instruments, .. } = &events[0].event else {
        panic!("first event is not the session")
    };
    assert_eq!(instruments[0].symbol, "BTCUSDT");
    assert_eq!(
        (instruments[0].price_decimals, instruments[0].qty_decimals),
        (2, 5)
    );
    let view = e.view();
    assert_eq!(view.orders.len(), 2);
    let decisions = events
        .iter()
        .filter(|e| matches!(e.event, Event::Decision(_)))
        .count();
    assert!(decisions >= 40, "{decisions} decisions");
    for o in &view.orders {
        println!(
            "{} {:?} {} {}: filled {} of {} ({} fills, {} decisions), avg {:?}, slippage {:?} bps, {:?}",
            o.info.order_id,
            o.info.side,
            o.info.strategy,
            o.info.symbol,
            o.progress.filled,
            o.info.qty,
            o.fills,
            o.decisions,
            o.progress.avg_price,
            o.progress.slippage_bps,
            o.state
        );
        assert!(o.fills > 0, "{} never filled", o.info.order_id);
        assert!(
            o.filled_fraction() > 0.5,
            "{} filled too little",
            o.info.order_id
        );
        assert!(
            o.state.is_terminal() && o.state != OrderState::Rejected,
            "{:?}",
            o.state
        );
    }
    // Fills happen at replayed prices, within the capture's range.
    for ev in &events {
        if let Event::Fill { price, venue, .. } = &ev.event {
            if venue == "BINANCE" {
                assert!((55_000.0..65_000.0).contains(price), "{price}");
                let ticks = price / 0.01;
                assert!(
                    (ticks - ticks.round()).abs() < 1e-6,
                    "{price} is off the tick"
                );
            }
        }
    }
    // The end of the feed is reported with its summary.
    let summary = events.iter().find_map(|e| match &e.event {
        Event::Alert(a) if a.code == "feed_summary" => Some(a.message.clone()),
        _ => None,
    });
    let summary = summary.expect("a feed summary alert");
    println!("{summary}");
    assert!(summary.contains("41249 lines"), "{summary}");
}

/// Order-book imbalance at the touch, (bid size - ask size) / (sum), from
/// the top-of-book stream, against the direction of the next mid change.
#[derive(Default, Debug)]
struct Imbalance {
    n: u64,
    /// Sums for the correlation of imbalance with the sign of the next move.
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
    /// Next move up / total moves, by imbalance bucket (< -0.5, middle, > 0.5).
    up: [u64; 3],
    moves: [u64; 3],
}

impl Imbalance {
    fn corr(&self) -> f64 {
        let n = self.n as f64;
        let cov = self.sxy / n - self.sx / n * self.sy / n;
        let vx = self.sxx / n - (self.sx / n).powi(2);
        let vy = self.syy / n - (self.sy / n).powi(2);
        cov / (vx * vy).sqrt()
    }
    fn p_up(&self, b: usize) -> f64 {
        self.up[b] as f64 / self.moves[b].max(1) as f64
    }
}

fn imbalance(name: &str) -> Imbalance {
    let mut src = open_capture(&capture(name), HandlerOptions::default()).unwrap();
    let mut pending: Vec<f64> = Vec::new();
    let mut last_mid: Option<i64> = None;
    let mut m = Imbalance::default();
    while let Some(t) = src.next_event() {
        let MarketEvent::TopOfBook { bid, ask, .. } = t.event else {
            continue;
        };
        let mid2 = bid.0 + ask.0;
        if let Some(prev) = last_mid {
            if mid2 != prev {
                // Every quote since the last move is followed by this move.
                let y = if mid2 > prev { 1.0 } else { -1.0 };
                for x in pending.drain(..) {
                    m.n += 1;
                    m.sx += x;
                    m.sy += y;
                    m.sxx += x * x;
                    m.syy += y * y;
                    m.sxy += x * y;
                    let b = if x < -0.5 {
                        0
                    } else if x > 0.5 {
                        2
                    } else {
                        1
                    };
                    m.moves[b] += 1;
                    if y > 0.0 {
                        m.up[b] += 1;
                    }
                }
            }
        }
        last_mid = Some(mid2);
        let total = (bid.1 + ask.1) as f64;
        if total > 0.0 {
            pending.push((bid.1 - ask.1) as f64 / total);
        }
    }
    let _ = BookSide::Bid;
    m
}

#[test]
fn top_of_book_imbalance_predicts_the_next_mid_move() {
    for name in [BTC, ETH] {
        let m = imbalance(name);
        println!(
            "{name}: {} quotes; corr(imbalance, sign of next mid move) = {:.3}; \
             P(up | imbalance < -0.5) = {:.3}, P(up | middle) = {:.3}, P(up | imbalance > 0.5) = {:.3}",
            m.n,
            m.corr(),
            m.p_up(0),
            m.p_up(1),
            m.p_up(2)
        );
        assert!(m.n > 10_000);
        assert!(m.corr() > 0.2, "{name}: {m:?}");
        assert!(m.p_up(2) > 0.6 && m.p_up(0) < 0.4, "{name}: {m:?}");
    }
}
