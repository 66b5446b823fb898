//! Almgren–Chriss: the mean-variance optimal trajectory for a linear
//! temporary impact model (Almgren & Chriss, "Optimal execution of portfolio
//! transactions", J. Risk 3, 2000). Holdings left at time t are
//! x(t) = X · sinh(κ(T−t)) / sinh(κT), with κ = √(λσ²/η): the more risk
//! averse (λ) or the more volatile (σ) relative to impact cost (η), the more
//! front-loaded. κ→0 recovers TWAP.
//!
//! Traders do not think in λ; they set an urgency in [0, 1]. We map it to the
//! dimensionless κT = 8·urgency, which spans TWAP (0) to "most of the order in
//! the first fifth of the horizon" (1).

use super::{anchored, DecisionContext, Strategy};

#[derive(Debug, Clone, Copy)]
pub struct AlmgrenChriss;

/// Fraction of the order done at horizon fraction `x` for a given κT.
pub fn ac_fraction(kappa_t: f64, x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    if kappa_t < 1e-6 {
        return x;
    }
    1.0 - (kappa_t * (1.0 - x)).sinh() / kappa_t.sinh()
}

impl Strategy for AlmgrenChriss {
    fn name(&self) -> &'static str {
        "almgren_chriss"
    }

    fn scheduled_qty(&self, ctx: &DecisionContext, t: u64) -> f64 {
        let kappa_t = 8.0 * ctx.params.urgency.clamp(0.0, 1.0);
        anchored(ctx, t, |x| ac_fraction(kappa_t, x))
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
    fn urgency_front_loads() {
        assert_eq!(ac_fraction(0.0, 0.3), 0.3);
        assert!((ac_fraction(4.0, 1.0) - 1.0).abs() < 1e-12);
        assert!(ac_fraction(4.0, 0.25) > 0.6);
        assert!(ac_fraction(1.0, 0.25) < ac_fraction(4.0, 0.25));
        let mut p = params();
        p.urgency = 0.0;
        let c = ctx(&p, START, 0.0);
        let patient = AlmgrenChriss.scheduled_qty(&c, START + 900_000_000_000);
        assert!((patient - 2500.0).abs() < 1.0);
        p.urgency = 1.0;
        let c = ctx(&p, START, 0.0);
        let urgent = AlmgrenChriss.scheduled_qty(&c, START + 900_000_000_000);
        assert!(urgent > 8000.0, "{urgent}");
    }
}
