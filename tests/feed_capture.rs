//! The feed handler and the replayed market on the real captures in
//! `../shared/data/market/` (or `$VIGIL_MARKET_DATA`). The captures are not
//! part of the project; these tests read them where they are.

use std::path::PathBuf;

use vigil::engine::feed::{open_capture, FeedSource, HandlerOptions, MarketEvent};
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
