//! How our own trading moves the latent price.
//!
//! Empirically, the price impact of a metaorder grows like the square root of
//! its size relative to daily volume — I ≈ Y·σ_daily·√(Q/ADV), with Y of order
//! one, roughly whatever the metaorder's duration (Tóth et al., "Anomalous
//! price impact and the critical nature of liquidity in financial markets",
//! PRX 2011; Almgren et al., "Direct estimation of equity market impact",
//! 2005) — and once the metaorder ends it relaxes to roughly two thirds of its
//! peak (Bershova & Rakhlin, "The non-linear market impact of large trades",
//! Quantitative Finance 2013; Moro et al., PRE 2009).
//!
//! Model: `active` is our signed traded volume of the metaorder the market
//! currently remembers. While we keep trading (no pause longer than
//! `grace_s`) it is not forgotten, so at the end of a metaorder of Q shares the
//! displacement is exactly Y·σ·√(Q/ADV) however long it took. Every increment
//! of √(active) adds the `permanent` share of itself to a permanent part and
//! the rest to a transient part; after a pause the transient part relaxes
//! (`active` decays with time constant `decay_s`), leaving the permanent share
//! of the peak. Trading back the other way lowers both.

use super::latent::ImpactParams;

#[derive(Debug, Clone)]
pub struct ImpactModel {
    params: ImpactParams,
    daily_vol_ticks: f64,
    adv_lots: f64,
    /// Signed volume of the remembered metaorder (lots).
    active: f64,
    permanent_ticks: f64,
    /// Time `active` was last decayed to.
    last_ts: u64,
    last_fill_ts: u64,
}

impl ImpactModel {
    pub fn new(params: ImpactParams, daily_vol_ticks: f64, adv_lots: f64) -> Self {
        ImpactModel {
            params,
            daily_vol_ticks,
            adv_lots: adv_lots.max(1.0),
            active: 0.0,
            permanent_ticks: 0.0,
            last_ts: 0,
            last_fill_ts: 0,
        }
    }

    /// Full displacement Y·σ·√(|q|/ADV) of a metaorder of `q` lots, in ticks.
    fn peak(&self, q: f64) -> f64 {
        self.params.y * self.daily_vol_ticks * q.signum() * (q.abs() / self.adv_lots).sqrt()
    }

    fn transient(&self, q: f64) -> f64 {
        (1.0 - self.params.permanent) * self.peak(q)
    }

    fn decay_to(&mut self, ts: u64) {
        if ts <= self.last_ts {
            return;
        }
        // Nothing to decay (the usual case: we have not traded this symbol),
        // or a transient part that never relaxes.
        if self.active == 0.0 || self.params.decay_s <= 0.0 {
            self.last_ts = ts;
            return;
        }
        // The metaorder is remembered until a pause longer than the grace period.
        let from = self
            .last_ts
            .max(self.last_fill_ts + (self.params.grace_s * 1e9) as u64);
        if ts > from {
            let dt = (ts - from) as f64 * 1e-9;
            self.active *= (-dt / self.params.decay_s).exp();
        }
        self.last_ts = ts;
    }

    /// Record one of our fills (`signed_lots` > 0 for a buy).
    pub fn on_fill(&mut self, ts: u64, signed_lots: f64) {
        self.decay_to(ts);
        let before = self.peak(self.active);
        self.active += signed_lots;
        let after = self.peak(self.active);
        self.permanent_ticks += self.params.permanent * (after - before);
        self.last_fill_ts = self.last_fill_ts.max(ts);
    }

    /// Current displacement of the latent price caused by our trading, in ticks.
    pub fn offset_ticks(&mut self, ts: u64) -> f64 {
        self.decay_to(ts);
        self.permanent_ticks + self.transient(self.active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000_000_000;

    fn model() -> ImpactModel {
        ImpactModel::new(ImpactParams::default(), 100.0, 1_000_000.0)
    }

    /// Trade q in 100 pieces over `minutes`, then the peak and what is left 3 h later.
    fn peak_and_after(q: f64, minutes: u64) -> (f64, f64) {
        let mut m = model();
        for i in 0..100u64 {
            m.on_fill(i * minutes * MIN / 100, q / 100.0);
        }
        let end = (99 * minutes * MIN) / 100;
        (m.offset_ticks(end), m.offset_ticks(end + 180 * MIN))
    }

    #[test]
    fn square_root_in_size_whatever_the_duration() {
        let (p1, _) = peak_and_after(10_000.0, 10);
        let (p4, _) = peak_and_after(40_000.0, 10);
        let ratio = p4 / p1;
        assert!((1.95..2.05).contains(&ratio), "ratio {ratio}");
        // Y·σ·√(Q/V) = 0.8 · 100 · √0.01 = 8 ticks, at 10 minutes or 4 hours.
        assert!((p1 - 8.0).abs() < 0.1, "{p1}");
        let (slow, _) = peak_and_after(10_000.0, 240);
        assert!((slow - 8.0).abs() < 0.1, "{slow}");
    }

    #[test]
    fn relaxes_to_two_thirds_after_the_metaorder() {
        let (p, later) = peak_and_after(10_000.0, 60);
        let kept = later / p;
        assert!((0.66..0.72).contains(&kept), "kept {kept}");
    }

    #[test]
    fn a_short_pause_is_not_the_end_of_the_metaorder() {
        let mut m = model();
        m.on_fill(0, 10_000.0);
        let p = m.offset_ticks(0);
        assert_eq!(m.offset_ticks(5 * MIN), p);
        assert!(m.offset_ticks(60 * MIN) < p);
    }

    #[test]
    fn without_decay_impact_depends_on_cumulative_volume_only() {
        let params = ImpactParams {
            decay_s: 0.0,
            ..ImpactParams::default()
        };
        let mut fast = ImpactModel::new(params, 100.0, 1_000_000.0);
        let mut slow = ImpactModel::new(params, 100.0, 1_000_000.0);
        fast.on_fill(0, 20_000.0);
        slow.on_fill(0, 10_000.0);
        slow.on_fill(300 * MIN, 10_000.0);
        let t = 400 * MIN;
        assert!((fast.offset_ticks(t) - slow.offset_ticks(t)).abs() < 1e-9);
    }

    #[test]
    fn sells_push_down_and_a_round_trip_leaves_nothing() {
        let mut m = model();
        m.on_fill(0, -50_000.0);
        assert!(m.offset_ticks(0) < 0.0);
        m.on_fill(MIN, 50_000.0);
        assert!(m.offset_ticks(MIN).abs() < 1e-9);
    }
}
