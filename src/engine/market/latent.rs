//! The latent ("efficient") price of a symbol before our impact, and the
//! knobs of how the simulated market behaves beyond its instrument's numbers.
//!
//! The path evolves on a fixed time grid from a random stream of its own, so
//! it is a function of the seed, the regime schedule and the clock only: two
//! runs of one seed see the same path whatever our orders did. That makes
//! comparisons between runs paired in the strongest sense (common random
//! numbers): a rollout of `wait` and one of `aggressive`, or a run with a
//! metaorder and one without, differ only through what our orders did.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::regime::RegimeParams;
use super::TRADING_SECONDS;

/// Step of the latent path.
pub const GRID_NS: u64 = 250_000_000;

/// How the simulated market behaves. The defaults are the calibrated market;
/// the other settings exist to build worlds with known properties (e.g. one
/// where no observable signal predicts prices, for `vigil calibrate no-free-lunch`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dynamics {
    /// How strongly background flow leans towards the latent price (1 = as
    /// calibrated; 0 = uninformed flow: the side of limit orders, market
    /// orders and dark contra blocks is a coin toss).
    pub informed_flow: f64,
    /// Stochastic volatility with a ten-minute memory (volatility clustering).
    pub vol_clustering: bool,
    /// U-shaped intraday activity and volatility.
    pub intraday_profile: bool,
    pub impact: ImpactParams,
}

impl Default for Dynamics {
    fn default() -> Self {
        Dynamics {
            informed_flow: 1.0,
            vol_clustering: true,
            intraday_profile: true,
            impact: ImpactParams::default(),
        }
    }
}

impl Dynamics {
    pub fn is_default(&self) -> bool {
        *self == Dynamics::default()
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.informed_flow.is_finite() && (0.0..=5.0).contains(&self.informed_flow)) {
            return Err(format!(
                "dynamics.informed_flow must be within 0..5, got {}",
                self.informed_flow
            ));
        }
        self.impact.validate()
    }
}

/// The square-root impact of our own trading (see `impact.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImpactParams {
    /// Y in I = Y·σ_daily·√(Q/ADV): peak impact of a metaorder of Q shares.
    pub y: f64,
    /// Share of the peak that stays once the metaorder's transient part has relaxed.
    pub permanent: f64,
    /// Relaxation time of the transient part once the metaorder pauses or ends
    /// (seconds); 0 = it never relaxes (impact depends on the cumulative volume only).
    pub decay_s: f64,
    /// A pause shorter than this does not end the metaorder (seconds).
    pub grace_s: f64,
}

impl Default for ImpactParams {
    fn default() -> Self {
        ImpactParams {
            y: 0.8,
            permanent: 2.0 / 3.0,
            decay_s: 1800.0,
            grace_s: 600.0,
        }
    }
}

impl ImpactParams {
    fn validate(&self) -> Result<(), String> {
        let finite = [self.y, self.permanent, self.decay_s, self.grace_s]
            .iter()
            .all(|x| x.is_finite() && *x >= 0.0);
        if !finite || self.y > 10.0 || self.permanent > 1.0 {
            return Err(format!(
                "dynamics.impact needs y in 0..10, permanent in 0..1, decay_s and grace_s ≥ 0: {self:?}"
            ));
        }
        Ok(())
    }
}

/// The latent price path of one symbol, in ticks.
#[derive(Debug, Clone)]
pub struct LatentPath {
    rng: ChaCha8Rng,
    value: f64,
    /// Log of the stochastic volatility multiplier (mean-reverting: clustering).
    log_vol: f64,
    /// Grid time the path has reached.
    ts: u64,
    /// Baseline volatility, ticks per √second.
    sigma_ticks: f64,
    /// A replayed market has no simulated path: the value is set from the feed.
    frozen: bool,
}

/// What the path needs to know about the market while it advances.
#[derive(Debug, Clone, Copy)]
pub struct PathConditions {
    pub regime: RegimeParams,
    pub vol_shock: Option<(u64, f64)>,
    pub open: u64,
    pub close: u64,
    pub dynamics: Dynamics,
}

impl LatentPath {
    pub fn new(seed: u64, start_ts: u64, value: f64, sigma_ticks: f64) -> Self {
        LatentPath {
            rng: ChaCha8Rng::seed_from_u64(seed),
            value,
            log_vol: 0.0,
            ts: start_ts,
            sigma_ticks,
            frozen: false,
        }
    }

    pub fn value(&self) -> f64 {
        self.value
    }

    /// Follow a recorded market instead of simulating.
    pub fn set(&mut self, value: f64) {
        self.frozen = true;
        self.value = value;
    }

    /// Draw the rest of the path from a new stream (rollouts: several futures
    /// from one state). Deterministic in the current state and `salt`.
    pub fn reseed(&mut self, salt: u64) {
        use rand::Rng;
        let base: u64 = self.rng.random();
        self.rng = ChaCha8Rng::seed_from_u64(base ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    /// Intraday activity: twice the average at the open and the close, half
    /// at midday; integrates to 1 over the session.
    pub fn intraday_shape(ts: u64, open: u64, close: u64) -> f64 {
        if close <= open {
            return 1.0;
        }
        let x = ((ts.saturating_sub(open)) as f64 / (close - open) as f64).clamp(0.0, 1.0);
        0.5 * (1.0 + 3.0 * (2.0 * x - 1.0).powi(2))
    }

    /// Advance the path over every grid point up to `to`.
    pub fn advance(&mut self, to: u64, c: &PathConditions) {
        if self.frozen {
            return;
        }
        let dt = GRID_NS as f64 * 1e-9;
        let drift = c.regime.drift * self.sigma_ticks * TRADING_SECONDS.sqrt() / TRADING_SECONDS;
        while self.ts + GRID_NS <= to {
            self.ts += GRID_NS;
            let z_vol: f64 = StandardNormal.sample(&mut self.rng);
            let z: f64 = StandardNormal.sample(&mut self.rng);
            if c.dynamics.vol_clustering {
                // Log-OU with a ten-minute memory.
                let kappa = 1.0 / 600.0;
                self.log_vol += -kappa * self.log_vol * dt + 0.02 * dt.sqrt() * z_vol;
                self.log_vol = self.log_vol.clamp(-1.5, 1.5);
            }
            let shock = match c.vol_shock {
                Some((until, m)) if self.ts < until => m,
                _ => 1.0,
            };
            let shape = if c.dynamics.intraday_profile {
                Self::intraday_shape(self.ts, c.open, c.close)
            } else {
                1.0
            };
            // 0.9: stochastic volatility and the intraday shape add variance
            // on top; this keeps realised daily volatility near the configured one.
            let scale = if c.dynamics.vol_clustering || c.dynamics.intraday_profile {
                0.9
            } else {
                1.0
            };
            let sigma =
                scale * self.sigma_ticks * c.regime.vol * shock * self.log_vol.exp() * shape.sqrt();
            self.value += drift * dt + sigma * dt.sqrt() * z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::market::Regime;

    fn conditions() -> PathConditions {
        PathConditions {
            regime: Regime::Calm.params(),
            vol_shock: None,
            open: 0,
            close: 23_400_000_000_000,
            dynamics: Dynamics::default(),
        }
    }

    #[test]
    fn the_path_depends_on_time_only_not_on_how_often_it_is_read() {
        let c = conditions();
        let mut a = LatentPath::new(3, 0, 1000.0, 1.0);
        let mut b = a.clone();
        a.advance(3_600_000_000_000, &c);
        for k in 1..=7_200 {
            b.advance(k * 500_000_000, &c);
        }
        assert_eq!(a.value(), b.value());
    }

    #[test]
    fn reseeding_changes_the_future_only() {
        let c = conditions();
        let mut a = LatentPath::new(3, 0, 1000.0, 1.0);
        a.advance(600_000_000_000, &c);
        let here = a.value();
        let mut b = a.clone();
        b.reseed(1);
        let mut b2 = a.clone();
        b2.reseed(1);
        assert_eq!(b.value(), here);
        a.advance(1_200_000_000_000, &c);
        b.advance(1_200_000_000_000, &c);
        b2.advance(1_200_000_000_000, &c);
        assert_ne!(a.value(), b.value());
        assert_eq!(b.value(), b2.value());
    }

    #[test]
    fn daily_volatility_is_near_the_configured_one() {
        // σ = 1 tick/√s over a 23,400 s day: a daily standard deviation of
        // 153 ticks, in a regime that does not scale volatility.
        let mut c = conditions();
        c.regime.vol = 1.0;
        let mut moves = Vec::new();
        for seed in 0..200 {
            let mut p = LatentPath::new(seed, 0, 0.0, 1.0);
            p.advance(23_400_000_000_000, &c);
            moves.push(p.value());
        }
        let var = moves.iter().map(|x| x * x).sum::<f64>() / moves.len() as f64;
        let daily = var.sqrt() / TRADING_SECONDS.sqrt();
        assert!((0.75..1.25).contains(&daily), "daily vol {daily} of 1");
    }
}
