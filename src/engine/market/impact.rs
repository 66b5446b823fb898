//! How our own trading moves the latent price.
//!
//! Empirically, the price impact of a metaorder grows like the square root of
//! its size relative to daily volume — I ≈ Y·σ_daily·√(Q/ADV), with Y of order
//! one (Tóth et al., "Anomalous price impact and the critical nature of
//! liquidity in financial markets", PRX 2011; Almgren et al., "Direct
//! estimation of equity market impact", 2005) — and after the metaorder ends
//! it relaxes to roughly two thirds of its peak (Bershova & Rakhlin 2013).
//!
//! Model: Q is our signed traded volume, forgotten exponentially with
//! timescale `tau`. The transient part is Y'·σ·sign(Q)·√(|Q|/ADV); every
//! increment of it also adds `phi` times itself to a permanent part. While an
//! order trades, total = (1+phi)·transient-ish, so Y' = Y/(1+phi); when Q has
//! decayed, phi/(1+phi) of the peak remains (2/3 with phi = 2).

#[derive(Debug, Clone)]
pub struct ImpactModel {
    /// Y' in the formula above, per daily volatility.
    coefficient: f64,
    phi: f64,
    tau_s: f64,
    daily_vol_ticks: f64,
    adv_lots: f64,
    net_volume: f64,
    permanent_ticks: f64,
    last_ts: u64,
}

impl ImpactModel {
    pub fn new(y: f64, daily_vol_ticks: f64, adv_lots: f64) -> Self {
        let phi = 2.0;
        ImpactModel {
            coefficient: y / (1.0 + phi),
            phi,
            tau_s: 1800.0,
            daily_vol_ticks,
            adv_lots: adv_lots.max(1.0),
            net_volume: 0.0,
            permanent_ticks: 0.0,
            last_ts: 0,
        }
    }

    fn transient(&self, q: f64) -> f64 {
        self.coefficient * self.daily_vol_ticks * q.signum() * (q.abs() / self.adv_lots).sqrt()
    }

    fn decay_to(&mut self, ts: u64) {
        // Nothing to decay (the usual case: we have not traded this symbol).
        if self.net_volume == 0.0 {
            self.last_ts = self.last_ts.max(ts);
            return;
        }
        if ts > self.last_ts {
            let dt = (ts - self.last_ts) as f64 * 1e-9;
            self.net_volume *= (-dt / self.tau_s).exp();
            self.last_ts = ts;
        }
    }

    /// Record one of our fills (`signed_lots` > 0 for a buy).
    pub fn on_fill(&mut self, ts: u64, signed_lots: f64) {
        self.decay_to(ts);
        let before = self.transient(self.net_volume);
        self.net_volume += signed_lots;
        let after = self.transient(self.net_volume);
        self.permanent_ticks += self.phi * (after - before);
    }

    /// Current displacement of the latent price caused by our trading, in ticks.
    pub fn offset_ticks(&mut self, ts: u64) -> f64 {
        self.decay_to(ts);
        self.permanent_ticks + self.transient(self.net_volume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impact_is_concave_and_partly_permanent() {
        let peak = |q: f64| {
            let mut m = ImpactModel::new(1.0, 100.0, 1_000_000.0);
            // Trade q in 100 pieces over 10 minutes.
            for i in 0..100u64 {
                m.on_fill(i * 6_000_000_000, q / 100.0);
            }
            let p = m.offset_ticks(600_000_000_000);
            let later = m.offset_ticks(600_000_000_000 + 6 * 3_600_000_000_000);
            (p, later)
        };
        let (p1, l1) = peak(10_000.0);
        let (p4, _) = peak(40_000.0);
        // Square root: four times the size, about twice the impact.
        let ratio = p4 / p1;
        assert!((1.8..2.2).contains(&ratio), "ratio {ratio}");
        // Relaxes, but not to zero: close to two thirds of the peak.
        let kept = l1 / p1;
        assert!((0.55..0.8).contains(&kept), "kept {kept}");
    }

    #[test]
    fn sells_push_down() {
        let mut m = ImpactModel::new(1.0, 100.0, 1_000_000.0);
        m.on_fill(0, -50_000.0);
        assert!(m.offset_ticks(0) < 0.0);
    }
}
