//! Execution cost measures shared by data generation, evaluation and reports.

use crate::protocol::view::OrderView;
use crate::protocol::Side;

/// Charge for every unit left unfilled at the end of a horizon, in bps of
/// the arrival price, on top of the price move: finishing it later would
/// cost at least a spread and some impact. Without it, not trading would
/// look free whenever prices do not drift.
pub const COMPLETION_BPS: f64 = 10.0;

/// Implementation shortfall of a finished order against its arrival price,
/// in bps (positive = cost): execution cost of the fills plus the
/// opportunity cost of the unfilled part at `end_mid`, plus the completion
/// charge for that part.
pub fn implementation_shortfall_bps(order: &OrderView, end_mid: f64) -> Option<f64> {
    let arrival = order.progress.arrival_price?;
    if arrival <= 0.0 || order.info.qty <= 0.0 {
        return None;
    }
    let sign = order.info.side.sign();
    let filled = order.progress.filled;
    let exec = order
        .progress
        .avg_price
        .map(|avg| sign * (avg - arrival) * filled)
        .unwrap_or(0.0);
    let unfilled = (order.info.qty - filled).max(0.0);
    let opportunity = unfilled * (sign * (end_mid - arrival) + arrival * COMPLETION_BPS * 1e-4);
    Some((exec + opportunity) / (order.info.qty * arrival) * 1e4)
}

/// Cost of trading from one point of an order to a later one, in bps of the
/// starting mid, per unit of the quantity involved (what the schedule planned
/// in between, or what was traded if more).
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    pub filled: f64,
    /// Sum of price × quantity of fills so far.
    pub notional: f64,
    pub scheduled: f64,
    pub mid: f64,
}

/// Fills are charged against the starting mid; the position left different
/// from the schedule at the end is marked at the end mid (a deficit still to
/// buy costs the move, a surplus already bought gains it), and a deficit also
/// pays the completion charge. Marking both ways keeps running ahead and
/// falling behind on the same footing.
pub fn window_cost_bps(side: Side, start: &Checkpoint, end: &Checkpoint) -> f64 {
    let sign = side.sign();
    let m0 = start.mid;
    let traded = end.filled - start.filled;
    let exec = sign * ((end.notional - start.notional) - m0 * traded);
    let gap = end.scheduled - end.filled;
    let marked = gap * sign * (end.mid - m0) + gap.max(0.0) * m0 * COMPLETION_BPS * 1e-4;
    let involved = (end.scheduled - start.filled).max(traded).max(1.0);
    (exec + marked) / (m0 * involved) * 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(filled: f64, notional: f64, scheduled: f64, mid: f64) -> Checkpoint {
        Checkpoint {
            filled,
            notional,
            scheduled,
            mid,
        }
    }

    #[test]
    fn on_schedule_pays_the_execution_against_the_start_mid() {
        // Bought 100 at 100.05 with the mid at 100: 5 bps.
        let c = window_cost_bps(
            Side::Buy,
            &at(0.0, 0.0, 0.0, 100.0),
            &at(100.0, 10_005.0, 100.0, 101.0),
        );
        assert!((c - 5.0).abs() < 1e-9, "{c}");
    }

    #[test]
    fn behind_pays_the_move_and_the_completion_charge_ahead_gains_the_move() {
        let start = at(0.0, 0.0, 0.0, 100.0);
        // Bought nothing of 100 planned; the mid rose 1%: 100 bps + 10 bps.
        let behind = window_cost_bps(Side::Buy, &start, &at(0.0, 0.0, 100.0, 101.0));
        assert!((behind - 110.0).abs() < 1e-9, "{behind}");
        // Bought 200 at 100 of 100 planned; the surplus gained the 1% move.
        let ahead = window_cost_bps(Side::Buy, &start, &at(200.0, 20_000.0, 100.0, 101.0));
        assert!((ahead - -50.0).abs() < 1e-9, "{ahead}");
        // A sell mirrors it.
        let sell = window_cost_bps(Side::Sell, &start, &at(0.0, 0.0, 100.0, 99.0));
        assert!((sell - 110.0).abs() < 1e-9, "{sell}");
    }

    #[test]
    fn a_tiny_plan_does_not_blow_the_cost_up() {
        // Near the end the schedule plans 1 lot but an action trades 500.
        let c = window_cost_bps(
            Side::Buy,
            &at(0.0, 0.0, 0.0, 100.0),
            &at(500.0, 50_010.0, 1.0, 100.0),
        );
        assert!(c.abs() < 5.0, "{c}");
    }
}
