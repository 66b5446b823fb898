//! The market simulator: per symbol, several lit venues with price-time
//! priority books and a dark pool, driven by background order flow around a
//! latent "efficient" price.
//!
//! Why the signals carry information: background participants place limit
//! orders and choose the direction of market orders relative to the latent
//! price, which leads the quoted mid. When the latent price rises, bids get
//! more aggressive and asks thin out (order-book imbalance and microprice lean
//! up), buyer-initiated trades dominate (signed flow), and then the mid
//! follows. Our own fills shift the latent price through `ImpactModel`, so the
//! flow reacts to us.
//!
//! Everything is a pure function of the seed and of the calls made: the state
//! clones, and a clone continues exactly like the original.

pub mod book;
pub mod captured;
pub mod dark;
mod flow;
pub mod impact;
pub mod latent;
mod ours;
pub mod regime;
mod routing;
pub mod stats;

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use book::{BookSide, Match, OrderBook, Owner, Px, Qty};
pub use captured::CaptureFlow;
pub use dark::{DarkCross, DarkOrder, DarkPool};
pub use impact::ImpactModel;
pub use latent::{Dynamics, ImpactParams, LatentPath, PathConditions};
pub use regime::{Regime, RegimeParams};
pub use stats::TapeStats;

use flow::FlowParams;

use crate::engine::feed::{DataIssue, FeedStats};
use crate::protocol::{Liquidity, VenueKind};

const NS: f64 = 1e9;
/// Trading seconds in a day, for scaling daily volatility and volume.
pub const TRADING_SECONDS: f64 = 23_400.0;

/// Static description of one simulated symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolSpec {
    pub symbol: String,
    pub reference_price: f64,
    pub tick_size: f64,
    pub lot_size: f64,
    /// Average daily volume, in shares (units).
    pub adv: f64,
    /// Typical quoted spread, in price units.
    pub spread: f64,
    /// Daily volatility as a fraction of price (0.02 = 2%).
    pub daily_vol: f64,
    pub lit_venues: Vec<(String, f64)>,
    pub dark_pool: Option<String>,
    pub regime: Regime,
    pub dynamics: Dynamics,
}

#[derive(Debug, Clone)]
pub struct LitVenue {
    pub name: String,
    pub book: OrderBook,
    pub up: bool,
    /// Share of background limit orders routed here.
    pub share: f64,
}

/// Where one of our child orders rests, so it can be cancelled.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ChildLocation {
    symbol: usize,
    venue: usize,
    side: BookSide,
    price: Px,
}

#[derive(Debug, Clone)]
pub struct SymbolMarket {
    pub spec: SymbolSpec,
    flow: FlowParams,
    pub venues: Vec<LitVenue>,
    pub dark: Option<DarkPool>,
    rng: ChaCha8Rng,
    dark_rng: ChaCha8Rng,
    /// Latent price in ticks, before our impact.
    latent: LatentPath,
    pub regime: Regime,
    vol_shock: Option<(u64, f64)>,
    pub impact: ImpactModel,
    pub tape: TapeStats,
    next_flow_ts: u64,
    next_dark_ts: u64,
    events_since_prune: u32,
    /// Reused buffer for matches, so the hot path does not allocate.
    scratch: Vec<Match>,
    /// Set when the lit venue replays a recorded feed instead of simulated flow.
    replay: Option<Box<CaptureFlow>>,
}

/// Something the market reports back to the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MarketOut {
    /// One of our child orders traded.
    Fill {
        child_id: u64,
        symbol: usize,
        venue: usize,
        /// Price in ticks; may end in .5 for a dark midpoint cross.
        price_ticks: f64,
        qty: Qty,
        liquidity: Liquidity,
    },
    /// One of our resting orders was removed by the venue (outage).
    Cancelled { child_id: u64, qty: Qty },
    /// A replayed feed met bad data (`new` more, `total` so far).
    DataIssue {
        symbol: usize,
        issue: DataIssue,
        new: u64,
        total: u64,
    },
    /// A replayed feed has no more data.
    FeedEnded { symbol: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("venue is down")]
    VenueDown,
    #[error("no such venue")]
    UnknownVenue,
    #[error("order type not accepted by this venue")]
    WrongOrderType,
    #[error("quantity must be positive")]
    BadQuantity,
}

/// How a child order executes at its venue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChildKind {
    /// Limit order on a lit venue: crosses what it can at `price` or better, rests the rest.
    Limit { price: Px },
    /// Immediate-or-cancel limit: crosses what it can, never rests.
    Ioc { price: Px },
    /// Dark pool order pegged to the midpoint.
    MidPeg { min_qty: Qty },
}

/// Quotes of one symbol across its lit venues that are up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quote {
    pub bid: Option<(Px, Qty)>,
    pub ask: Option<(Px, Qty)>,
}

impl Quote {
    pub fn mid(&self) -> Option<f64> {
        match (self.bid, self.ask) {
            (Some((b, _)), Some((a, _))) => Some((b + a) as f64 / 2.0),
            _ => None,
        }
    }
    pub fn spread(&self) -> Option<Px> {
        match (self.bid, self.ask) {
            (Some((b, _)), Some((a, _))) => Some(a - b),
            _ => None,
        }
    }
}

impl SymbolMarket {
    pub fn quote(&self) -> Quote {
        let mut q = Quote::default();
        for v in self.venues.iter().filter(|v| v.up) {
            if let Some((p, s)) = v.book.best_bid() {
                q.bid = Some(match q.bid {
                    Some((bp, bs)) if bp == p => (p, bs + s),
                    Some((bp, bs)) if bp > p => (bp, bs),
                    _ => (p, s),
                });
            }
            if let Some((p, s)) = v.book.best_ask() {
                q.ask = Some(match q.ask {
                    Some((ap, as_)) if ap == p => (p, as_ + s),
                    Some((ap, as_)) if ap < p => (ap, as_),
                    _ => (p, s),
                });
            }
        }
        q
    }

    /// Depth over the first `levels` levels of each venue that is up.
    pub fn depth(&self, side: BookSide, levels: usize) -> Qty {
        self.venues
            .iter()
            .filter(|v| v.up)
            .map(|v| v.book.depth(side, levels))
            .sum()
    }

    /// Mid in ticks, or the latent price when a side of the book is empty.
    pub fn mid_ticks(&self) -> f64 {
        self.quote().mid().unwrap_or(self.latent.value())
    }

    fn background_orders(&self) -> usize {
        self.venues
            .iter()
            .filter(|v| v.up)
            .map(|v| v.book.background_orders())
            .sum()
    }
}

/// The whole simulated market.
#[derive(Debug, Clone)]
pub struct Market {
    pub symbols: Vec<SymbolMarket>,
    open_ts: u64,
    close_ts: u64,
    children: HashMap<u64, ChildLocation>,
    events: u64,
}

impl Market {
    pub fn new(specs: Vec<SymbolSpec>, seed: u64, open_ts: u64, close_ts: u64) -> Self {
        let symbols = specs
            .into_iter()
            .enumerate()
            .map(|(i, s)| SymbolMarket::new(s, seed, i, open_ts))
            .collect();
        Market {
            symbols,
            open_ts,
            close_ts,
            children: HashMap::new(),
            events: 0,
        }
    }

    /// Counters of a replayed symbol's feed (None for simulated symbols).
    pub fn feed_stats(&self, sym: usize) -> Option<&FeedStats> {
        self.symbols.get(sym)?.replay.as_ref().map(|r| r.stats())
    }

    /// Number of background events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn symbol_index(&self, symbol: &str) -> Option<usize> {
        self.symbols.iter().position(|s| s.spec.symbol == symbol)
    }

    /// Names and kinds of a symbol's venues, lit first then the dark pool.
    pub fn venues(&self, sym: usize) -> Vec<(String, VenueKind)> {
        let s = &self.symbols[sym];
        let mut v: Vec<_> = s
            .venues
            .iter()
            .map(|v| (v.name.clone(), VenueKind::Lit))
            .collect();
        if let Some(d) = &s.dark {
            v.push((d.name.clone(), VenueKind::Dark));
        }
        v
    }

    /// Name and kind of one venue without allocating (hot path: every fill).
    pub fn venue(&self, sym: usize, venue: usize) -> (&str, VenueKind) {
        let s = &self.symbols[sym];
        match s.venues.get(venue) {
            Some(v) => (&v.name, VenueKind::Lit),
            None => (
                s.dark.as_ref().map(|d| d.name.as_str()).unwrap_or("?"),
                VenueKind::Dark,
            ),
        }
    }

    pub fn venue_index(&self, sym: usize, name: &str) -> Option<usize> {
        self.venues(sym).iter().position(|(n, _)| n == name)
    }

    pub fn venue_up(&self, sym: usize, venue: usize) -> bool {
        let s = &self.symbols[sym];
        if venue < s.venues.len() {
            s.venues[venue].up
        } else {
            s.dark.as_ref().is_some_and(|d| d.up)
        }
    }

    /// Time of the next background event, across all symbols.
    pub fn next_event_ts(&self) -> u64 {
        self.symbols
            .iter()
            .map(|s| s.next_flow_ts.min(s.next_dark_ts))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Process the single next background event. Our fills, if any, are appended to `out`.
    pub fn step(&mut self, out: &mut Vec<MarketOut>) -> u64 {
        let Some((sym, ts, dark)) = self
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if s.next_dark_ts < s.next_flow_ts {
                    (i, s.next_dark_ts, true)
                } else {
                    (i, s.next_flow_ts, false)
                }
            })
            .min_by_key(|(_, t, _)| *t)
        else {
            return u64::MAX;
        };
        let start = out.len();
        let (open, close) = (self.open_ts, self.close_ts);
        if dark {
            self.symbols[sym].dark_event(sym, open, close, out);
        } else if self.symbols[sym].replay.is_some() {
            self.symbols[sym].replay_event(sym, out);
        } else {
            self.symbols[sym].flow_event(sym, open, close, out);
        }
        self.forget_finished(start, out);
        self.events += 1;
        ts
    }

    /// Switch a symbol's regime at `ts` (the latent path up to `ts` keeps the old one).
    pub fn set_regime(&mut self, ts: u64, sym: usize, regime: Regime) {
        let (open, close) = (self.open_ts, self.close_ts);
        self.symbols[sym].advance_latent(ts, open, close);
        self.symbols[sym].regime = regime;
    }

    /// Multiply volatility by `factor` from `ts` until `until`.
    pub fn vol_shock(&mut self, ts: u64, sym: usize, factor: f64, until: u64) {
        let (open, close) = (self.open_ts, self.close_ts);
        self.symbols[sym].advance_latent(ts, open, close);
        self.symbols[sym].vol_shock = Some((until, factor));
    }

    /// Draw the market's future from new random streams, keeping everything
    /// that has happened: several rollouts from one state see different
    /// futures, and rollouts with the same `salt` see the same one.
    pub fn reseed(&mut self, salt: u64) {
        for s in self.symbols.iter_mut() {
            let a: u64 = s.rng.random();
            let b: u64 = s.dark_rng.random();
            s.rng = ChaCha8Rng::seed_from_u64(a ^ salt.wrapping_mul(0xA24B_AED4_963E_E407));
            s.dark_rng = ChaCha8Rng::seed_from_u64(b ^ salt.wrapping_mul(0x9FB2_1C65_1E98_DF25));
            s.latent.reseed(salt);
        }
    }
}

#[cfg(test)]
mod tests;
