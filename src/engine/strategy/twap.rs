//! TWAP: the same quantity every unit of time.

use super::{anchored, DecisionContext, Strategy};

#[derive(Debug, Clone, Copy)]
pub struct Twap;

impl Strategy for Twap {
    fn name(&self) -> &'static str {
        "twap"
    }

    fn scheduled_qty(&self, ctx: &DecisionContext, t: u64) -> f64 {
        anchored(ctx, t, |x| x)
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
    fn linear_in_time_and_replans_from_the_anchor() {
        let p = params();
        let c = ctx(&p, START, 0.0);
        assert_eq!(Twap.scheduled_qty(&c, START), 0.0);
        assert!((Twap.scheduled_qty(&c, START + 900_000_000_000) - 2500.0).abs() < 1e-9);
        assert_eq!(Twap.scheduled_qty(&c, END + 1), 10_000.0);
        // Re-anchored at half time with 2000 done: the other 8000 spread evenly.
        let mut c = ctx(&p, START, 0.0);
        c.anchor_ts = START + 1_800_000_000_000;
        c.anchor_filled = 2000.0;
        assert!((Twap.scheduled_qty(&c, START + 2_700_000_000_000) - 6000.0).abs() < 1e-9);
    }
}
