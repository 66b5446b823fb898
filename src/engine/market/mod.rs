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
pub mod dark;
pub mod impact;
pub mod ladder;
pub mod latent;
pub mod regime;
pub mod replay;
pub mod stats;

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal};

pub use book::{BookSide, Match, OrderBook, Owner, Px, Qty};
pub use dark::{DarkCross, DarkOrder, DarkPool};
pub use impact::ImpactModel;
pub use latent::{Dynamics, ImpactParams, LatentPath, PathConditions};
pub use regime::{Regime, RegimeParams};
pub use replay::{CaptureProfile, ReplayFlow};
pub use stats::TapeStats;

use crate::engine::feed::{DataIssue, FeedSource, FeedStats};
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

/// Per-symbol baseline flow intensities, derived from the spec.
#[derive(Debug, Clone)]
struct FlowParams {
    market_rate: f64,
    market_size: f64,
    limit_rate: f64,
    limit_size: f64,
    cancel_rate_per_order: f64,
    half_spread_ticks: f64,
    placement_ticks: f64,
    sigma_ticks: f64,
    dark_rate: f64,
    dark_size: f64,
}

impl FlowParams {
    fn from_spec(spec: &SymbolSpec) -> Self {
        let adv_lots = spec.adv / spec.lot_size;
        // More active names trade more often and in larger clips.
        let base_rate = (0.2 * (spec.adv / 100_000.0).sqrt()).clamp(0.1, 20.0);
        // Marketable limit orders trade too, so market orders carry only part
        // of the volume (the 0.4 and 0.5 factors).
        let per_order = adv_lots / TRADING_SECONDS / base_rate;
        let market_size = (0.4 * per_order).max(1.0);
        let half_spread_ticks = (spec.spread / spec.tick_size / 2.0).max(0.5);
        // How much of that a day really trades depends on the spread in ticks
        // (fewer limit orders cross a wide spread) and a little on the name's
        // activity; all flow rates are scaled so a calm day trades about the
        // configured ADV whatever the spread (see `volume_tracks_adv`).
        let scale = 1.0 / volume_ratio(2.0 * half_spread_ticks, spec.adv);
        let market_rate = base_rate * scale;
        let limit_rate = 10.0 * market_rate;
        FlowParams {
            market_rate,
            market_size,
            limit_rate,
            limit_size: (0.5 * per_order).max(1.0),
            // About 300 resting orders per symbol in steady state.
            cancel_rate_per_order: limit_rate / 300.0,
            half_spread_ticks,
            placement_ticks: half_spread_ticks.max(1.0) * 2.0,
            sigma_ticks: spec.daily_vol * spec.reference_price
                / spec.tick_size
                / TRADING_SECONDS.sqrt(),
            dark_rate: base_rate / 8.0,
            dark_size: (2.5 * per_order).max(1.0),
        }
    }
}

/// Daily volume over ADV of the unscaled flow on a calm day, measured on a
/// grid of spreads (ticks) at an ADV of 2M (`volume_grid_report` in the market
/// tests), with a mild decline for busier names (≈ ADV^-0.13 over 1M–6M).
fn volume_ratio(spread_ticks: f64, adv: f64) -> f64 {
    const GRID: [(f64, f64); 5] = [
        (1.0, 1.05),
        (2.0, 0.82),
        (3.0, 0.61),
        (5.0, 0.47),
        (10.0, 0.40),
    ];
    let t = spread_ticks.clamp(GRID[0].0, GRID[GRID.len() - 1].0);
    let at_2m = GRID
        .windows(2)
        .find(|w| t <= w[1].0)
        .map(|w| {
            let f = (t - w[0].0) / (w[1].0 - w[0].0);
            w[0].1 + f * (w[1].1 - w[0].1)
        })
        .unwrap_or(GRID[GRID.len() - 1].1);
    at_2m * (adv.max(1.0) / 2.0e6).powf(-0.13)
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
    replay: Option<Box<ReplayFlow>>,
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
    fn new(spec: SymbolSpec, seed: u64, index: usize, open_ts: u64) -> Self {
        let flow = FlowParams::from_spec(&spec);
        let mut rng = ChaCha8Rng::seed_from_u64(
            seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(index as u64 + 1)),
        );
        let dark_rng = ChaCha8Rng::seed_from_u64(
            seed ^ (0xD1B5_4A32_D192_ED03u64.wrapping_mul(index as u64 + 1)),
        );
        let reference = (spec.reference_price / spec.tick_size).round();
        let latent = LatentPath::new(
            seed ^ (0x2545_F491_4F6C_DD1Du64.wrapping_mul(index as u64 + 1)),
            open_ts,
            reference,
            flow.sigma_ticks,
        );
        let venues = spec
            .lit_venues
            .iter()
            .map(|(name, share)| LitVenue {
                name: name.clone(),
                book: OrderBook::new(),
                up: true,
                share: *share,
            })
            .collect();
        let dark = spec.dark_pool.clone().map(DarkPool::new);
        let adv_lots = spec.adv / spec.lot_size;
        let impact = ImpactModel::new(
            spec.dynamics.impact,
            spec.daily_vol * spec.reference_price / spec.tick_size,
            adv_lots,
        );
        let regime = spec.regime;
        let first_flow = open_ts + (rng.sample::<f64, _>(Exp1) * NS / flow.limit_rate) as u64;
        let mut m = SymbolMarket {
            tape: TapeStats::new(open_ts / 1_000_000_000, reference),
            spec,
            flow,
            venues,
            dark,
            rng,
            dark_rng,
            latent,
            regime,
            vol_shock: None,
            impact,
            next_flow_ts: first_flow,
            next_dark_ts: u64::MAX,
            events_since_prune: 0,
            scratch: Vec::new(),
            replay: None,
        };
        m.next_dark_ts = m.draw_dark_time(open_ts);
        m.seed_books();
        m
    }

    /// Give every venue a plausible opening book around the reference price.
    fn seed_books(&mut self) {
        let center = self.latent.value();
        let hs = self.flow.half_spread_ticks;
        for v in 0..self.venues.len() {
            for level in 0..15 {
                for _ in 0..3 {
                    let bid = (center - hs).floor() as Px - level;
                    let ask = (center + hs).ceil() as Px + level;
                    let qb = self.draw_limit_size(1.0);
                    let qa = self.draw_limit_size(1.0);
                    self.venues[v]
                        .book
                        .add(BookSide::Bid, bid, qb, Owner::Background);
                    self.venues[v]
                        .book
                        .add(BookSide::Ask, ask, qa, Owner::Background);
                }
            }
        }
    }

    fn draw_limit_size(&mut self, depth: f64) -> Qty {
        // Log-normal sizes with a heavy-ish right tail, mean ≈ limit_size·depth.
        let z: f64 = self.rng.sample(StandardNormal);
        let size = self.flow.limit_size * depth * (0.6 * z - 0.18).exp();
        (size.round() as Qty).max(1)
    }

    fn draw_market_size(&mut self) -> Qty {
        let z: f64 = self.rng.sample(StandardNormal);
        let size = self.flow.market_size * (0.8 * z - 0.32).exp();
        (size.round() as Qty).max(1)
    }

    fn draw_dark_time(&mut self, now: u64) -> u64 {
        if self.dark.is_none() {
            return u64::MAX;
        }
        let e: f64 = self.dark_rng.sample(Exp1);
        now + (e * NS / self.flow.dark_rate).max(1.0) as u64
    }

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

    /// Bring the latent path up to `ts`.
    fn advance_latent(&mut self, ts: u64, open: u64, close: u64) {
        let conditions = PathConditions {
            regime: self.regime.params(),
            vol_shock: self.vol_shock,
            open,
            close,
            dynamics: self.spec.dynamics,
        };
        self.latent.advance(ts, &conditions);
    }

    /// The latent price including our impact (ticks).
    fn efficient(&mut self, ts: u64) -> f64 {
        self.latent.value() + self.impact.offset_ticks(ts)
    }

    fn intraday_shape(&self, ts: u64, open: u64, close: u64) -> f64 {
        if self.spec.dynamics.intraday_profile {
            LatentPath::intraday_shape(ts, open, close)
        } else {
            1.0
        }
    }

    /// How far informed participants lean towards the latent price: the
    /// logistic slope on (latent − mid) in half spreads, scaled by the
    /// market's `informed_flow`.
    fn lean(&self, base: f64) -> f64 {
        base * self.spec.dynamics.informed_flow
    }

    fn background_orders(&self) -> usize {
        self.venues
            .iter()
            .filter(|v| v.up)
            .map(|v| v.book.background_orders())
            .sum()
    }

    fn pick_venue(&mut self) -> Option<usize> {
        let total: f64 = self.venues.iter().filter(|v| v.up).map(|v| v.share).sum();
        if total <= 0.0 {
            return None;
        }
        let mut x = self.rng.random::<f64>() * total;
        for (i, v) in self.venues.iter().enumerate() {
            if !v.up {
                continue;
            }
            if x < v.share {
                return Some(i);
            }
            x -= v.share;
        }
        self.venues.iter().rposition(|v| v.up)
    }

    /// Sweep the lit venues that are up, best price first, for a background
    /// order. Our resting orders that get hit are reported as maker fills.
    fn sweep(
        &mut self,
        ts: u64,
        sym: usize,
        aggressor: BookSide,
        qty: Qty,
        limit: Option<Px>,
        out: &mut Vec<MarketOut>,
    ) -> Qty {
        let mut left = qty;
        while left > 0 {
            // Best venue for the aggressor right now.
            let mut best: Option<(usize, Px)> = None;
            for (i, v) in self.venues.iter().enumerate() {
                if !v.up {
                    continue;
                }
                if let Some((p, _)) = v.book.best(aggressor.opposite()) {
                    let better = match (best, aggressor) {
                        (None, _) => true,
                        (Some((_, bp)), BookSide::Bid) => p < bp,
                        (Some((_, bp)), BookSide::Ask) => p > bp,
                    };
                    if better {
                        best = Some((i, p));
                    }
                }
            }
            let Some((venue, price)) = best else { break };
            let crosses = match (aggressor, limit) {
                (_, None) => true,
                (BookSide::Bid, Some(l)) => price <= l,
                (BookSide::Ask, Some(l)) => price >= l,
            };
            if !crosses {
                break;
            }
            // Take only the best level at this venue, then re-evaluate venues.
            let mut fills = std::mem::take(&mut self.scratch);
            fills.clear();
            let done = self.venues[venue]
                .book
                .take(aggressor, left, Some(price), |m| fills.push(m));
            for &m in &fills {
                self.tape
                    .record_trade(ts, m.price, m.qty, aggressor == BookSide::Bid);
                if let Owner::Ours(child_id) = m.resting {
                    let signed = if aggressor == BookSide::Bid {
                        -(m.qty as f64)
                    } else {
                        m.qty as f64
                    };
                    self.impact.on_fill(ts, signed);
                    out.push(MarketOut::Fill {
                        child_id,
                        symbol: sym,
                        venue,
                        price_ticks: m.price as f64,
                        qty: m.qty,
                        liquidity: Liquidity::Maker,
                    });
                }
            }
            self.scratch = fills;
            if done == 0 {
                break;
            }
            left -= done;
        }
        qty - left
    }

    /// Process the next background flow event (limit, cancel or market order).
    fn flow_event(&mut self, sym: usize, open: u64, close: u64, out: &mut Vec<MarketOut>) {
        let ts = self.next_flow_ts;
        let rp = self.regime.params();
        self.advance_latent(ts, open, close);
        let shock = match self.vol_shock {
            Some((until, m)) if ts < until => m,
            _ => 1.0,
        };
        let shape = self.intraday_shape(ts, open, close);

        let efficient = self.efficient(ts);
        let quote = self.quote();
        let hs = self.flow.half_spread_ticks * rp.spread * shock.sqrt();
        let mid = quote.mid().unwrap_or(efficient);

        let activity = shape * rp.rate * shock.sqrt();
        let limit_rate = self.flow.limit_rate * activity;
        let market_rate = self.flow.market_rate * activity;
        let cancel_rate = self.flow.cancel_rate_per_order * self.background_orders() as f64;
        let total = limit_rate + market_rate + cancel_rate;
        let u = self.rng.random::<f64>() * total;

        if u < limit_rate {
            // Patient participants join the side the price is heading away
            // from: when the latent price is above the mid, bids build up.
            let lean = ((efficient - mid) / hs.max(0.5)).clamp(-6.0, 6.0);
            let p_bid = 1.0 / (1.0 + (-self.lean(0.8) * lean).exp());
            let side = if self.rng.random::<f64>() < p_bid {
                BookSide::Bid
            } else {
                BookSide::Ask
            };
            let offset = self.rng.sample::<f64, _>(Exp1) * self.flow.placement_ticks * rp.spread;
            // Orders are placed relative to the latent price, so the book leans
            // towards where the price is going.
            let price = match side {
                BookSide::Bid => (efficient - hs - offset + 0.5).floor() as Px,
                BookSide::Ask => (efficient + hs + offset - 0.5).ceil() as Px,
            };
            // Most patient orders join the best quote rather than improve it;
            // the few that improve it move the quote towards the latent price.
            let price = match (side, quote.bid, quote.ask) {
                (BookSide::Bid, Some((b, _)), Some((a, _)))
                    if price > b && price < a && self.rng.random::<f64>() < 0.6 =>
                {
                    b
                }
                (BookSide::Ask, Some((b, _)), Some((a, _)))
                    if price < a && price > b && self.rng.random::<f64>() < 0.6 =>
                {
                    a
                }
                _ => price,
            };
            let qty = self.draw_limit_size(rp.depth);
            let crossed = match side {
                BookSide::Bid => quote.ask.is_some_and(|(a, _)| price >= a),
                BookSide::Ask => quote.bid.is_some_and(|(b, _)| price <= b),
            };
            let left = if crossed {
                qty - self.sweep(ts, sym, side, qty, Some(price), out)
            } else {
                qty
            };
            if left > 0 {
                if let Some(v) = self.pick_venue() {
                    self.venues[v]
                        .book
                        .add(side, price, left, Owner::Background);
                }
            }
        } else if u < limit_rate + market_rate {
            // Direction leans towards the latent price: informed flow.
            let lean = ((efficient - mid) / hs.max(0.5)).clamp(-6.0, 6.0);
            let p_buy = 1.0 / (1.0 + (-self.lean(1.2) * lean).exp());
            let side = if self.rng.random::<f64>() < p_buy {
                BookSide::Bid
            } else {
                BookSide::Ask
            };
            let qty = self.draw_market_size();
            // Protective limit: a market order never walks more than ~8 half
            // spreads through a thin book.
            let protect = (8.0 * hs).max(4.0);
            let limit = match side {
                BookSide::Bid => (mid + protect).ceil() as Px,
                BookSide::Ask => (mid - protect).floor() as Px,
            };
            self.sweep(ts, sym, side, qty, Some(limit), out);
        } else {
            let n = self.venues.len();
            let mut weights = 0usize;
            for v in self.venues.iter().filter(|v| v.up) {
                weights += v.book.background_orders();
            }
            if weights > 0 {
                let mut x = (self.rng.random::<f64>() * weights as f64) as usize;
                let mut venue = n - 1;
                for (i, v) in self.venues.iter().enumerate() {
                    if !v.up {
                        continue;
                    }
                    let w = v.book.background_orders();
                    if x < w {
                        venue = i;
                        break;
                    }
                    x -= w;
                }
                let side = if self.rng.random::<bool>() {
                    BookSide::Bid
                } else {
                    BookSide::Ask
                };
                let (lp, op) = (self.rng.random::<f64>(), self.rng.random::<f64>());
                self.venues[venue].book.cancel_background(side, 25, lp, op);
            }
        }

        self.events_since_prune += 1;
        if self.events_since_prune >= 512 {
            self.events_since_prune = 0;
            let far = (60.0 * hs).max(60.0) as Px;
            for v in self.venues.iter_mut() {
                v.book.prune_far(far);
            }
        }
        let mid_now = self.mid_ticks();
        self.tape.record_mid(ts, mid_now);

        let rate = (limit_rate
            + market_rate
            + self.flow.cancel_rate_per_order * self.background_orders() as f64)
            .max(1e-3);
        let e: f64 = self.rng.sample(Exp1);
        self.next_flow_ts = ts + ((e / rate) * NS).max(1.0) as u64;
    }

    /// A hidden contra block arrives in the dark pool.
    fn dark_event(&mut self, sym: usize, open: u64, close: u64, out: &mut Vec<MarketOut>) {
        let ts = self.next_dark_ts;
        self.next_dark_ts = self.draw_dark_time(ts);
        self.advance_latent(ts, open, close);
        let efficient = self.efficient(ts);
        let mid = self.mid_ticks();
        let hs = self.flow.half_spread_ticks.max(0.5);
        // Adverse selection: contra sellers arrive more when the price is about
        // to fall (latent below mid), contra buyers when it is about to rise.
        let lean = ((efficient - mid) / hs).clamp(-6.0, 6.0);
        let p_contra_buyer = 1.0 / (1.0 + (-self.lean(1.5) * lean).exp());
        let contra = if self.dark_rng.random::<f64>() < p_contra_buyer {
            BookSide::Bid
        } else {
            BookSide::Ask
        };
        let z: f64 = self.dark_rng.sample(StandardNormal);
        let size = ((self.flow.dark_size * (0.9 * z - 0.4).exp()).round() as Qty).max(1);
        let Some(pool) = self.dark.as_mut() else {
            return;
        };
        if !pool.up {
            return;
        }
        let mut crosses = Vec::new();
        pool.cross(contra, size, &mut crosses);
        let venue = self.venues.len();
        for c in crosses {
            self.tape
                .record_trade(ts, mid.round() as Px, c.qty, contra == BookSide::Bid);
            let signed = if contra == BookSide::Bid {
                -(c.qty as f64)
            } else {
                c.qty as f64
            };
            self.impact.on_fill(ts, signed);
            out.push(MarketOut::Fill {
                child_id: c.child_id,
                symbol: sym,
                venue,
                price_ticks: mid,
                qty: c.qty,
                liquidity: Liquidity::Maker,
            });
        }
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

    /// A market whose symbols replay recorded feeds: each spec's first lit
    /// venue follows its feed, its dark pool (if any) is simulated. Engine
    /// time is nanoseconds since midnight UTC of the earliest feed's first day.
    pub fn replayed(
        feeds: Vec<(SymbolSpec, Box<dyn FeedSource>)>,
        seed: u64,
        open_ts: u64,
        close_ts: u64,
    ) -> Self {
        let flows: Vec<(SymbolSpec, ReplayFlow)> = feeds
            .into_iter()
            .map(|(spec, src)| (spec, ReplayFlow::new(src)))
            .collect();
        let day_start = flows
            .iter()
            .filter_map(|(_, f)| f.first_recv_ns())
            .min()
            .map(|t| t / replay::DAY_NS * replay::DAY_NS)
            .unwrap_or(0);
        let symbols = flows
            .into_iter()
            .enumerate()
            .map(|(i, (spec, mut flow))| {
                let mut s = SymbolMarket::new(spec, seed, i, open_ts);
                for v in s.venues.iter_mut() {
                    v.book.clear();
                }
                flow.set_day_start(day_start);
                s.next_flow_ts = flow.next_ts();
                if let Some(mid) = s.quote().mid() {
                    s.latent.set(mid);
                }
                s.replay = Some(Box::new(flow));
                s
            })
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

    fn forget_finished(&mut self, start: usize, out: &[MarketOut]) {
        for o in &out[start..] {
            if let MarketOut::Fill {
                child_id,
                symbol,
                venue,
                ..
            } = *o
            {
                let s = &self.symbols[symbol];
                let still_resting = if venue < s.venues.len() {
                    self.children
                        .get(&child_id)
                        .and_then(|loc| {
                            s.venues[venue]
                                .book
                                .queue_ahead(loc.side, loc.price, child_id)
                        })
                        .is_some()
                } else {
                    s.dark
                        .as_ref()
                        .is_some_and(|d| d.resting().iter().any(|r| r.child_id == child_id))
                };
                if !still_resting {
                    self.children.remove(&child_id);
                }
            }
        }
    }

    /// Send one of our child orders to a venue. Immediate executions are appended to `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &mut self,
        ts: u64,
        child_id: u64,
        sym: usize,
        venue: usize,
        side: BookSide,
        qty: Qty,
        kind: ChildKind,
        out: &mut Vec<MarketOut>,
    ) -> Result<(), SubmitError> {
        if qty <= 0 {
            return Err(SubmitError::BadQuantity);
        }
        let s = self.symbols.get_mut(sym).ok_or(SubmitError::UnknownVenue)?;
        let lit = s.venues.len();
        match kind {
            ChildKind::Limit { price } | ChildKind::Ioc { price } => {
                let v = s.venues.get_mut(venue).ok_or(SubmitError::UnknownVenue)?;
                if !v.up {
                    return Err(SubmitError::VenueDown);
                }
                let mut matches = Vec::new();
                let done = v.book.take(side, qty, Some(price), |m| matches.push(m));
                for m in &matches {
                    s.tape
                        .record_trade(ts, m.price, m.qty, side == BookSide::Bid);
                    let signed = if side == BookSide::Bid {
                        m.qty as f64
                    } else {
                        -(m.qty as f64)
                    };
                    s.impact.on_fill(ts, signed);
                    out.push(MarketOut::Fill {
                        child_id,
                        symbol: sym,
                        venue,
                        price_ticks: m.price as f64,
                        qty: m.qty,
                        liquidity: Liquidity::Taker,
                    });
                    if let Owner::Ours(other) = m.resting {
                        // Two of our own orders crossed (opposite parents on one
                        // symbol): the resting one filled too.
                        out.push(MarketOut::Fill {
                            child_id: other,
                            symbol: sym,
                            venue,
                            price_ticks: m.price as f64,
                            qty: m.qty,
                            liquidity: Liquidity::Maker,
                        });
                    }
                }
                let left = qty - done;
                if left > 0 {
                    if matches!(kind, ChildKind::Limit { .. }) {
                        s.venues[venue]
                            .book
                            .add(side, price, left, Owner::Ours(child_id));
                        self.children.insert(
                            child_id,
                            ChildLocation {
                                symbol: sym,
                                venue,
                                side,
                                price,
                            },
                        );
                    } else {
                        out.push(MarketOut::Cancelled {
                            child_id,
                            qty: left,
                        });
                    }
                }
                Ok(())
            }
            ChildKind::MidPeg { min_qty } => {
                if venue != lit {
                    return Err(if venue < lit {
                        SubmitError::WrongOrderType
                    } else {
                        SubmitError::UnknownVenue
                    });
                }
                let pool = s.dark.as_mut().ok_or(SubmitError::UnknownVenue)?;
                if !pool.up {
                    return Err(SubmitError::VenueDown);
                }
                pool.add(DarkOrder {
                    child_id,
                    side,
                    qty,
                    min_qty: min_qty.clamp(1, qty),
                });
                self.children.insert(
                    child_id,
                    ChildLocation {
                        symbol: sym,
                        venue,
                        side,
                        price: 0,
                    },
                );
                Ok(())
            }
        }
    }

    /// Cancel one of our resting child orders. Returns the quantity that was
    /// still open, or None if it is no longer resting (filled or unknown).
    pub fn cancel(&mut self, child_id: u64) -> Option<Qty> {
        let loc = self.children.remove(&child_id)?;
        let s = &mut self.symbols[loc.symbol];
        if loc.venue < s.venues.len() {
            s.venues[loc.venue]
                .book
                .cancel_ours(loc.side, loc.price, child_id)
        } else {
            s.dark.as_mut()?.cancel(child_id)
        }
    }

    /// Take a venue down (its book is lost, our orders there are cancelled) or bring it back.
    pub fn set_venue_up(&mut self, sym: usize, venue: usize, up: bool, out: &mut Vec<MarketOut>) {
        let s = &mut self.symbols[sym];
        let removed = if venue < s.venues.len() {
            let v = &mut s.venues[venue];
            v.up = up;
            if up {
                Vec::new()
            } else {
                v.book.clear()
            }
        } else if let Some(d) = s.dark.as_mut() {
            d.up = up;
            if up {
                Vec::new()
            } else {
                d.clear()
            }
        } else {
            Vec::new()
        };
        for (child_id, qty) in removed {
            self.children.remove(&child_id);
            out.push(MarketOut::Cancelled { child_id, qty });
        }
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
