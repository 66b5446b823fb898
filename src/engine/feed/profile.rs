//! What a capture looks like as a whole, read once before it is replayed:
//! its time span, volume, first mid, median spread and volatility, and its
//! data-quality counts. Used to describe the instrument to the engine and to
//! size default orders.

use super::{FeedSource, FeedStats, MarketEvent};

/// Nanoseconds in a day: captures are clocked from their first day's midnight UTC.
pub const DAY_NS: u64 = 86_400_000_000_000;

/// What a capture looks like as a whole: used to size default orders and to
/// describe the instrument to the engine.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
