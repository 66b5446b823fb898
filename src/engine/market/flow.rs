//! Background flow: the participants around our orders. Limit orders lean
//! towards the latent price and join the best quote, market orders lean
//! the same way, cancels thin the book, and dark contra blocks arrive at
//! random, more often on the side the price is about to move against. The
//! rates follow the intraday profile and the regime.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal};

use super::{
    BookSide, DarkPool, ImpactModel, LatentPath, LitVenue, MarketOut, OrderBook, Owner,
    PathConditions, Px, Qty, SymbolMarket, SymbolSpec, TapeStats, NS, TRADING_SECONDS,
};

/// Per-symbol baseline flow intensities, derived from the spec.
#[derive(Debug, Clone)]
pub(super) struct FlowParams {
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
    pub(super) fn from_spec(spec: &SymbolSpec) -> Self {
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

impl SymbolMarket {
    pub(super) fn new(spec: SymbolSpec, seed: u64, index: usize, open_ts: u64) -> Self {
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
    pub(super) fn seed_books(&mut self) {
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

    pub(super) fn draw_limit_size(&mut self, depth: f64) -> Qty {
        // Log-normal sizes with a heavy-ish right tail, mean ≈ limit_size·depth.
        let z: f64 = self.rng.sample(StandardNormal);
        let size = self.flow.limit_size * depth * (0.6 * z - 0.18).exp();
        (size.round() as Qty).max(1)
    }

    pub(super) fn draw_market_size(&mut self) -> Qty {
        let z: f64 = self.rng.sample(StandardNormal);
        let size = self.flow.market_size * (0.8 * z - 0.32).exp();
        (size.round() as Qty).max(1)
    }

    pub(super) fn draw_dark_time(&mut self, now: u64) -> u64 {
        if self.dark.is_none() {
            return u64::MAX;
        }
        let e: f64 = self.dark_rng.sample(Exp1);
        now + (e * NS / self.flow.dark_rate).max(1.0) as u64
    }

    /// Bring the latent path up to `ts`.
    pub(super) fn advance_latent(&mut self, ts: u64, open: u64, close: u64) {
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
    pub(super) fn efficient(&mut self, ts: u64) -> f64 {
        self.latent.value() + self.impact.offset_ticks(ts)
    }

    pub(super) fn intraday_shape(&self, ts: u64, open: u64, close: u64) -> f64 {
        if self.spec.dynamics.intraday_profile {
            LatentPath::intraday_shape(ts, open, close)
        } else {
            1.0
        }
    }

    /// How far informed participants lean towards the latent price: the
    /// logistic slope on (latent − mid) in half spreads, scaled by the
    /// market's `informed_flow`.
    pub(super) fn lean(&self, base: f64) -> f64 {
        base * self.spec.dynamics.informed_flow
    }

    pub(super) fn pick_venue(&mut self) -> Option<usize> {
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

    /// Process the next background flow event (limit, cancel or market order).
    pub(super) fn flow_event(
        &mut self,
        sym: usize,
        open: u64,
        close: u64,
        out: &mut Vec<MarketOut>,
    ) {
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
    pub(super) fn dark_event(
        &mut self,
        sym: usize,
        open: u64,
        close: u64,
        out: &mut Vec<MarketOut>,
    ) {
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
        self.cross_dark(ts, sym, contra, size, mid, out);
    }
}
