//! The replayed market: a symbol whose lit venue follows a recorded feed
//! instead of simulated flow.
//!
//! What it models: our aggressive orders take the displayed liquidity at the
//! recorded prices (through `Market::submit`, as in the simulator); our
//! passive orders join the back of their level (behind everything displayed
//! when they arrived), move up only when recorded trades eat the queue ahead
//! of them, and fill when prints reach or go through their price.
//!
//! What it cannot model: the recorded market does not react to us. Liquidity
//! we take comes back with the next update of that level, nobody trades
//! against our quotes unless a recorded trade happens to, and our orders
//! never move the price. The simulated dark pool stays available beside it.

use super::{BookSide, MarketOut, Owner, SymbolMarket};
use crate::engine::feed::{DataIssue, FeedSource, FeedStats, MarketEvent, Timed};
use crate::protocol::Liquidity;

pub const DAY_NS: u64 = 86_400_000_000_000;

/// Feed-driven flow of one symbol.
pub struct ReplayFlow {
    source: Box<dyn FeedSource>,
    next: Option<Timed>,
    /// Receive time (ns since the epoch) of the session day's midnight UTC:
    /// engine time is receive time minus this, and may run past 24 h.
    day_start_ns: u64,
    /// Issue counters already reported.
    reported: [u64; DataIssue::ALL.len()],
    reported_total: u64,
    end_reported: bool,
}

impl Clone for ReplayFlow {
    fn clone(&self) -> Self {
        ReplayFlow {
            source: self.source.boxed_clone(),
            next: self.next.clone(),
            day_start_ns: self.day_start_ns,
            reported: self.reported,
            reported_total: self.reported_total,
            end_reported: self.end_reported,
        }
    }
}

impl std::fmt::Debug for ReplayFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayFlow")
            .field("instrument", self.source.instrument())
            .field("next", &self.next)
            .field("day_start_ns", &self.day_start_ns)
            .finish()
    }
}

impl ReplayFlow {
    pub fn new(mut source: Box<dyn FeedSource>) -> ReplayFlow {
        let next = source.next_event();
        let day_start_ns = next
            .as_ref()
            .map(|t| t.recv_ns / DAY_NS * DAY_NS)
            .unwrap_or(0);
        ReplayFlow {
            source,
            next,
            day_start_ns,
            reported: [0; DataIssue::ALL.len()],
            reported_total: 0,
            end_reported: false,
        }
    }

    /// Receive time of the first event still to come, ns since the epoch.
    pub fn first_recv_ns(&self) -> Option<u64> {
        self.next.as_ref().map(|t| t.recv_ns)
    }

    pub fn set_day_start(&mut self, day_start_ns: u64) {
        self.day_start_ns = day_start_ns;
    }

    pub fn day_start(&self) -> u64 {
        self.day_start_ns
    }

    pub fn stats(&self) -> &FeedStats {
        self.source.stats()
    }

    pub fn source(&self) -> &dyn FeedSource {
        self.source.as_ref()
    }

    /// Engine time of the next event; u64::MAX once the feed is exhausted.
    pub fn next_ts(&self) -> u64 {
        match &self.next {
            Some(t) => t.recv_ns.saturating_sub(self.day_start_ns),
            None => u64::MAX,
        }
    }

    /// New issues since the last call, reported as market outputs.
    fn report_issues(&mut self, sym: usize, out: &mut Vec<MarketOut>) {
        let stats = self.source.stats();
        if stats.issues_total != self.reported_total {
            self.reported_total = stats.issues_total;
            for (k, issue) in DataIssue::ALL.into_iter().enumerate() {
                let n = stats.issue(issue);
                if n > self.reported[k] {
                    out.push(MarketOut::DataIssue {
                        symbol: sym,
                        issue,
                        new: n - self.reported[k],
                        total: n,
                    });
                    self.reported[k] = n;
                }
            }
        }
        if self.next.is_none() && !self.end_reported {
            self.end_reported = true;
            out.push(MarketOut::FeedEnded { symbol: sym });
        }
    }
}

impl SymbolMarket {
    /// Apply the next recorded event. Only the replayed symbol's first lit
    /// venue follows the feed (a capture is one venue).
    pub(super) fn replay_event(&mut self, sym: usize, out: &mut Vec<MarketOut>) {
        let ts = self.next_flow_ts;
        let Some(flow) = self.replay.as_mut() else {
            return;
        };
        let Some(Timed { event, .. }) = flow.next.take() else {
            self.next_flow_ts = u64::MAX;
            return;
        };
        flow.next = flow.source.next_event();
        let book = &mut self.venues[0].book;
        match event {
            MarketEvent::Book { reset, changes, .. } => {
                if reset {
                    book.clear_background();
                }
                for c in &changes {
                    book.set_background(c.side, c.price, c.qty);
                }
            }
            MarketEvent::TopOfBook {
                bid,
                ask,
                repair: true,
                ..
            } => book.repair_background(bid, ask),
            MarketEvent::TopOfBook { .. } => {}
            MarketEvent::Trade {
                price,
                qty,
                aggressor,
                ..
            } => {
                self.tape
                    .record_trade(ts, price, qty, aggressor == BookSide::Bid);
                let passive = aggressor.opposite();
                book.replay_trade(passive, price, qty, |m| {
                    if let Owner::Ours(child_id) = m.resting {
                        out.push(MarketOut::Fill {
                            child_id,
                            symbol: sym,
                            venue: 0,
                            price_ticks: m.price as f64,
                            qty: m.qty,
                            liquidity: Liquidity::Maker,
                        });
                    }
                });
            }
        }
        // The dark pool's adverse selection leans on the latent price; in a
        // replay the best estimate of it is the recorded mid.
        if let Some(mid) = self.quote().mid() {
            self.latent.set(mid);
        }
        self.tape.record_mid(ts, self.latent.value());
        if let Some(flow) = self.replay.as_mut() {
            flow.report_issues(sym, out);
            self.next_flow_ts = flow.next_ts();
        }
    }
}

/// What a capture looks like as a whole: used to size default orders and to
/// describe the instrument to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureProfile {
    pub first_recv_ns: u64,
    pub last_recv_ns: u64,
    /// Traded volume over the capture, in lots.
    pub volume_lots: i64,
    pub trades: u64,
    /// First mid seen on the top-of-book stream, in ticks.
    pub first_mid_ticks: f64,
    /// Median quoted spread, in ticks.
    pub median_spread_ticks: f64,
    /// Standard deviation of one-second mid log returns (fraction).
    pub vol_per_sqrt_s: f64,
    pub stats: FeedStats,
}

impl CaptureProfile {
    pub fn duration_s(&self) -> f64 {
        self.last_recv_ns.saturating_sub(self.first_recv_ns) as f64 / 1e9
    }
}

/// Read a whole feed and summarise it. The feed is consumed: a clone read
/// while the original waits at the start would hold the whole capture in
/// memory (see `feed::chain`).
pub fn profile(mut s: Box<dyn FeedSource>) -> CaptureProfile {
    let mut p = CaptureProfile {
        first_recv_ns: 0,
        last_recv_ns: 0,
        volume_lots: 0,
        trades: 0,
        first_mid_ticks: 0.0,
        median_spread_ticks: 1.0,
        vol_per_sqrt_s: 0.0,
        stats: FeedStats::default(),
    };
    let mut spreads = Vec::new();
    let mut second_mids: Vec<f64> = Vec::new();
    let mut current_second = None;
    let mut last_mid = None;
    let mut first = true;
    while let Some(t) = s.next_event() {
        if first {
            p.first_recv_ns = t.recv_ns;
            first = false;
        }
        p.last_recv_ns = p.last_recv_ns.max(t.recv_ns);
        match t.event {
            MarketEvent::Trade { qty, .. } => {
                p.volume_lots += qty;
                p.trades += 1;
            }
            MarketEvent::TopOfBook { bid, ask, .. } => {
                let mid = (bid.0 + ask.0) as f64 / 2.0;
                if p.first_mid_ticks == 0.0 {
                    p.first_mid_ticks = mid;
                }
                spreads.push(ask.0 - bid.0);
                last_mid = Some(mid);
            }
            MarketEvent::Book { .. } => {}
        }
        let sec = t.recv_ns / 1_000_000_000;
        if current_second != Some(sec) {
            if let Some(m) = last_mid {
                second_mids.push(m);
            }
            current_second = Some(sec);
        }
    }
    if !spreads.is_empty() {
        let mid = spreads.len() / 2;
        let (_, m, _) = spreads.select_nth_unstable(mid);
        p.median_spread_ticks = *m as f64;
    }
    let rets: Vec<f64> = second_mids
        .windows(2)
        .filter(|w| w[0] > 0.0 && w[1] > 0.0)
        .map(|w| (w[1] / w[0]).ln())
        .collect();
    if rets.len() > 2 {
        let mean = rets.iter().sum::<f64>() / rets.len() as f64;
        let var = rets.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (rets.len() - 1) as f64;
        p.vol_per_sqrt_s = var.sqrt();
    }
    p.stats = s.stats().clone();
    p
}
