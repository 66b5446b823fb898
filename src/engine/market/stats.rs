//! Rolling one-second statistics of a symbol's tape and mid price: the raw
//! material of volume-driven strategies (POV, VWAP) and of the features.

use super::book::Qty;

/// Seconds of history kept (30 minutes, the long volatility horizon).
pub const HISTORY_SECONDS: usize = 1800;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    volume: Qty,
    /// Σ price × quantity of the second's trades (ticks × lots).
    notional: f64,
    /// Buyer-initiated minus seller-initiated volume.
    signed: Qty,
    /// Mid price (ticks) at the end of the second.
    mid: f64,
}

#[derive(Debug, Clone)]
pub struct TapeStats {
    buckets: Vec<Bucket>,
    /// Absolute second of `buckets[head]`.
    current_second: u64,
    head: usize,
    filled: usize,
    pub cum_volume: Qty,
    pub last_trade_px: Option<i64>,
}

impl TapeStats {
    pub fn new(start_second: u64, mid: f64) -> Self {
        let mut buckets = vec![Bucket::default(); HISTORY_SECONDS];
        buckets[0].mid = mid;
        TapeStats {
            buckets,
            current_second: start_second,
            head: 0,
            filled: 1,
            cum_volume: 0,
            last_trade_px: None,
        }
    }

    fn roll_to(&mut self, second: u64) {
        if second <= self.current_second {
            return;
        }
        let mid = self.buckets[self.head].mid;
        let steps = (second - self.current_second).min(HISTORY_SECONDS as u64) as usize;
        for _ in 0..steps {
            self.head = (self.head + 1) % HISTORY_SECONDS;
            self.buckets[self.head] = Bucket {
                volume: 0,
                notional: 0.0,
                signed: 0,
                mid,
            };
        }
        self.filled = (self.filled + steps).min(HISTORY_SECONDS);
        self.current_second = second;
    }

    pub fn record_mid(&mut self, ts_ns: u64, mid: f64) {
        self.roll_to(ts_ns / 1_000_000_000);
        self.buckets[self.head].mid = mid;
    }

    /// `buyer_initiated` is true when the aggressor bought.
    pub fn record_trade(&mut self, ts_ns: u64, px: i64, qty: Qty, buyer_initiated: bool) {
        self.roll_to(ts_ns / 1_000_000_000);
        let b = &mut self.buckets[self.head];
        b.volume += qty;
        b.notional += px as f64 * qty as f64;
        b.signed += if buyer_initiated { qty } else { -qty };
        self.cum_volume += qty;
        self.last_trade_px = Some(px);
    }

    /// Buckets of the last `seconds` seconds, newest first.
    fn recent(&self, seconds: usize) -> impl Iterator<Item = &Bucket> {
        let n = seconds.min(self.filled);
        (0..n).map(move |i| &self.buckets[(self.head + HISTORY_SECONDS - i) % HISTORY_SECONDS])
    }

    /// Mid (ticks) `seconds` seconds ago, or the oldest one kept if the
    /// history is shorter; None before any second has passed.
    pub fn mid_seconds_ago(&self, seconds: usize) -> Option<f64> {
        let back = seconds.min(self.filled.saturating_sub(1));
        if back == 0 {
            return None;
        }
        Some(self.buckets[(self.head + HISTORY_SECONDS - back) % HISTORY_SECONDS].mid)
    }

    /// Seconds of history kept so far.
    pub fn seconds_kept(&self) -> usize {
        self.filled
    }

    /// Market volume over the last `seconds` seconds.
    pub fn volume(&self, seconds: usize) -> Qty {
        self.recent(seconds).map(|b| b.volume).sum()
    }

    /// Volume-weighted average trade price (ticks) over the last `seconds`
    /// seconds; None when nothing traded.
    pub fn vwap_ticks(&self, seconds: usize) -> Option<f64> {
        let (v, n) = self
            .recent(seconds)
            .fold((0, 0.0), |(v, n), b| (v + b.volume, n + b.notional));
        (v > 0).then(|| n / v as f64)
    }

    /// (signed volume, total volume) over the last `seconds` seconds.
    pub fn flow(&self, seconds: usize) -> (Qty, Qty) {
        self.recent(seconds)
            .fold((0, 0), |(s, v), b| (s + b.signed, v + b.volume))
    }

    /// Realised volatility of the mid over the last `seconds` seconds, in
    /// bps per square-root second (from one-second log returns).
    pub fn volatility_bps(&self, seconds: usize) -> f64 {
        let mids: Vec<f64> = self.recent(seconds + 1).map(|b| b.mid).collect();
        if mids.len() < 3 {
            return 0.0;
        }
        let rets: Vec<f64> = mids
            .windows(2)
            .filter(|w| w[0] > 0.0 && w[1] > 0.0)
            .map(|w| (w[0] / w[1]).ln() * 1e4)
            .collect();
        if rets.len() < 2 {
            return 0.0;
        }
        let mean = rets.iter().sum::<f64>() / rets.len() as f64;
        let var = rets.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (rets.len() - 1) as f64;
        var.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_roll_with_time() {
        let mut s = TapeStats::new(100, 1000.0);
        s.record_trade(100_000_000_000, 1000, 5, true);
        s.record_trade(101_500_000_000, 1001, 3, false);
        assert_eq!(s.volume(1), 3);
        assert_eq!(s.volume(2), 8);
        assert_eq!(s.flow(2), (2, 8));
        assert_eq!(s.vwap_ticks(2), Some((1000.0 * 5.0 + 1001.0 * 3.0) / 8.0));
        assert_eq!(s.vwap_ticks(1), Some(1001.0));
        // Jump past the whole history: everything old is forgotten.
        s.record_trade(5_000_000_000_000, 1001, 1, true);
        assert_eq!(s.volume(HISTORY_SECONDS), 1);
        assert_eq!(s.cum_volume, 9);
    }

    #[test]
    fn volatility_of_a_constant_mid_is_zero() {
        let mut s = TapeStats::new(0, 500.0);
        for t in 0..100u64 {
            s.record_mid(t * 1_000_000_000, 500.0);
        }
        assert_eq!(s.volatility_bps(60), 0.0);
        for t in 100..200u64 {
            let mid = if t % 2 == 0 { 500.0 } else { 501.0 };
            s.record_mid(t * 1_000_000_000, mid);
        }
        assert!(s.volatility_bps(60) > 10.0);
    }
}
