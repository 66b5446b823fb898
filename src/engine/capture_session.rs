//! A whole engine session over a recorded capture (`--market replay:FILE`):
//! the market replayed from it, the instrument as the engine sees it, the
//! session clock and the orders. It sits above the feed handler, the market
//! and the engine core, and joins them.

use std::path::Path;

use anyhow::{bail, Result};

use crate::engine::feed::{
    open_capture, profile, CaptureProfile, FeedSource, HandlerOptions, DAY_NS,
};
use crate::engine::market::{Market, Regime, TRADING_SECONDS};
use crate::engine::scenario::{
    format_clock, Controls, OrderConfig, Scenario, SymbolConfig, VenueConfig,
};
use crate::engine::{Engine, EngineOptions, SessionTimes};
use crate::protocol::{RetuneParams, Side};

/// Share of the capture's traded volume each default order works.
pub const DEFAULT_ORDER_SHARE: f64 = 0.02;
/// Time given to the book to fill in before orders start.
const WARMUP_NS: u64 = 1_000_000_000;

pub struct CaptureSetup {
    pub market: Market,
    pub scenario: Scenario,
    pub times: SessionTimes,
    pub profile: CaptureProfile,
}

impl CaptureSetup {
    pub fn engine(self, opts: &EngineOptions) -> Result<Engine> {
        Engine::with_market(self.market, &self.scenario, opts, self.times)
    }
}

/// The symbol as the engine knows it, from what the capture shows.
fn symbol_config(src: &dyn FeedSource, p: &CaptureProfile) -> SymbolConfig {
    let inst = src.instrument();
    let tick = inst.tick_size();
    let secs = p.duration_s().max(1.0);
    // The engine measures volume against a 6.5-hour trading day; scale the
    // capture's rate to that day so ADV-based checks and rates match the tape.
    let adv =
        (p.volume_lots as f64 * inst.lot_size() * TRADING_SECONDS / secs).max(inst.lot_size());
    let daily_vol = if p.vol_per_sqrt_s > 0.0 {
        p.vol_per_sqrt_s * TRADING_SECONDS.sqrt()
    } else {
        0.01
    };
    SymbolConfig {
        symbol: inst.symbol.clone(),
        reference_price: (p.first_mid_ticks * tick).max(tick),
        tick_size: tick,
        lot_size: inst.lot_size(),
        adv,
        spread: p.median_spread_ticks.max(1.0) * tick,
        daily_vol,
        regime: Regime::Calm,
        lit_venues: vec![VenueConfig {
            name: src.venue().into(),
            share: 1.0,
        }],
        dark_pool: Some("DARK".into()),
    }
}

/// The default orders: a TWAP buy and an Almgren–Chriss sell, each a small
/// share of what traded in the capture, over the whole replay.
pub fn default_orders(symbol: &str, volume: f64, lot: f64) -> Vec<OrderConfig> {
    let lots = ((volume * DEFAULT_ORDER_SHARE) / lot).floor().max(1.0);
    let qty = lots * lot;
    [
        ("TWAP-BUY", Side::Buy, "twap"),
        ("AC-SELL", Side::Sell, "almgren_chriss"),
    ]
    .into_iter()
    .map(|(id, side, strategy)| OrderConfig {
        id: Some(id.into()),
        symbol: symbol.into(),
        side,
        qty,
        strategy: strategy.into(),
        start: None,
        end: None,
        params: RetuneParams::default(),
    })
    .collect()
}

/// Prepare a replay of `path`. With a scenario, its controls, intervals,
/// events and orders are used (its orders must be for the capture's symbol;
/// its market parameters are replaced by the capture's); without one, the
/// default TWAP and Almgren–Chriss orders are created.
pub fn prepare(path: &Path, scenario: Option<Scenario>, seed: u64) -> Result<CaptureSetup> {
    // The profile reads the whole capture through a source of its own, and
    // the engine's source starts fresh.
    let p = profile(open_capture(path, HandlerOptions::default())?);
    let source = open_capture(path, HandlerOptions::default())?;
    prepare_source(source, p, &path.display().to_string(), scenario, seed)
}

/// Prepare a session over any feed of one capture (a file, or the bus)
/// whose whole `profile` is known; `label` names it in messages.
pub fn prepare_source(
    source: Box<dyn FeedSource>,
    p: CaptureProfile,
    label: &str,
    scenario: Option<Scenario>,
    seed: u64,
) -> Result<CaptureSetup> {
    if p.trades == 0 || p.first_mid_ticks <= 0.0 {
        bail!(
            "{label}: no usable quotes or trades in the capture ({})",
            p.stats
        );
    }
    let sym = symbol_config(source.as_ref(), &p);
    let day = p.first_recv_ns / DAY_NS * DAY_NS;
    let open = p.first_recv_ns - day;
    let close = p.last_recv_ns - day + 1;
    let times = SessionTimes {
        open,
        close,
        start: (open + WARMUP_NS).min(close - 1),
        end: close,
    };
    let symbol = sym.symbol.clone();
    let volume = p.volume_lots as f64 * sym.lot_size;
    let lot = sym.lot_size;
    let mut scenario = match scenario {
        Some(mut s) => {
            if let Some(o) = s.orders.iter().find(|o| o.symbol != symbol) {
                bail!(
                    "scenario {} has an order for {} but the capture is {symbol}",
                    s.name,
                    o.symbol
                );
            }
            s.symbols = Vec::new();
            s
        }
        None => Scenario {
            name: format!("replay-{}", symbol.to_ascii_lowercase()),
            description: format!("replay of {label}"),
            seed,
            open: String::new(),
            close: String::new(),
            start: None,
            end: None,
            decision_interval_s: 5.0,
            market_summary_interval_s: 1.0,
            controls: Controls::default(),
            dynamics: Default::default(),
            symbols: Vec::new(),
            events: Vec::new(),
            orders: default_orders(&symbol, volume, lot),
        },
    };
    // The clock of the capture (may pass 24:00 when it crosses midnight).
    scenario.open = format_clock(times.open);
    scenario.close = format_clock(times.close);
    scenario.start = Some(format_clock(times.start));
    scenario.end = Some(format_clock(times.end));
    scenario.symbols = vec![sym];
    let specs = scenario.market_specs();
    let market = Market::from_capture(
        vec![(specs[0].clone(), source)],
        scenario.seed,
        times.open,
        times.close,
    );
    Ok(CaptureSetup {
        market,
        scenario,
        times,
        profile: p,
    })
}
