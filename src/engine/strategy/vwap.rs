//! VWAP: trade in proportion to the expected intraday volume profile.

use super::{time_fraction, DecisionContext, Strategy};

/// Share of a day's volume traded by session fraction `x` (0 = open, 1 =
/// close), for the U-shaped profile the simulator uses:
/// u(x) = ½(1 + 3(2x−1)²), whose integral is ½(x + ((2x−1)³ + 1)/2).
pub fn intraday_volume_cdf(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    0.5 * (x + ((2.0 * x - 1.0).powi(3) + 1.0) / 2.0)
}

#[derive(Debug, Clone, Copy)]
pub struct Vwap;

impl Strategy for Vwap {
    fn name(&self) -> &'static str {
        "vwap"
    }

    fn scheduled_qty(&self, ctx: &DecisionContext, t: u64) -> f64 {
        let day = |ts: u64| intraday_volume_cdf(time_fraction(ctx.open, ctx.close, ts));
        let (from, to) = (day(ctx.anchor_ts), day(ctx.end));
        let remaining = (ctx.qty - ctx.anchor_filled).max(0.0);
        if to <= from {
            return if t >= ctx.end {
                ctx.qty
            } else {
                ctx.anchor_filled
            };
        }
        let frac = ((day(t.min(ctx.end)) - from) / (to - from)).clamp(0.0, 1.0);
        ctx.anchor_filled + remaining * frac
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
    fn profile_is_u_shaped_and_normalised() {
        assert_eq!(intraday_volume_cdf(0.0), 0.0);
        assert!((intraday_volume_cdf(1.0) - 1.0).abs() < 1e-12);
        assert!((intraday_volume_cdf(0.5) - 0.5).abs() < 1e-12);
        // The first tenth of the day carries more volume than a midday tenth.
        let open = intraday_volume_cdf(0.1);
        let midday = intraday_volume_cdf(0.55) - intraday_volume_cdf(0.45);
        assert!(open > 1.5 * midday);
    }

    #[test]
    fn front_loads_a_morning_order() {
        let p = params();
        let c = ctx(&p, START, 0.0);
        // Horizon 10:00-11:00 is on the falling side of the U: more than half
        // the order is scheduled in the first half hour.
        let half = Vwap.scheduled_qty(&c, START + 1_800_000_000_000);
        assert!(half > 5000.0 && half < 6500.0, "{half}");
        assert!((Vwap.scheduled_qty(&c, END) - 10_000.0).abs() < 1e-9);
    }
}
