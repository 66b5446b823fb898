//! POV (percentage of volume): keep our fills at a target share of the
//! volume the market actually trades.

use super::{DecisionContext, Strategy};

#[derive(Debug, Clone, Copy)]
pub struct Pov;

impl Strategy for Pov {
    fn name(&self) -> &'static str {
        "pov"
    }

    fn scheduled_qty(&self, ctx: &DecisionContext, t: u64) -> f64 {
        // Observed volume so far, plus the expected volume until `t` at the
        // recent rate. Our own fills are part of the market's volume, so the
        // share of the *others'* volume is p/(1-p).
        let p = ctx.params.target_participation.clamp(0.0, 0.99);
        let ahead_s = t.saturating_sub(ctx.now) as f64 * 1e-9;
        let volume = ctx.market_volume_since_start + ctx.volume_rate * ahead_s;
        (volume * p).min(ctx.qty)
    }

    fn box_clone(&self) -> Box<dyn Strategy> {
        Box::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn tracks_observed_volume() {
        let p = params();
        let mut c = ctx(&p, START, 0.0);
        c.market_volume_since_start = 20_000.0;
        assert!((Pov.scheduled_qty(&c, START) - 2000.0).abs() < 1e-9);
        // One more minute at 50 lots/s: 3000 more volume, 300 more for us.
        assert!((Pov.scheduled_qty(&c, START + 60_000_000_000) - 2300.0).abs() < 1e-9);
        c.market_volume_since_start = 1e9;
        assert_eq!(Pov.scheduled_qty(&c, START), 10_000.0);
    }
}
