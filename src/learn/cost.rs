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

/// Cost of trading from one point of an order to a later one, per unit of
/// what the schedule planned in between, in bps of the starting mid.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    pub filled: f64,
    /// Sum of price × quantity of fills so far.
    pub notional: f64,
    pub scheduled: f64,
    pub mid: f64,
}

pub fn window_cost_bps(side: Side, start: &Checkpoint, end: &Checkpoint) -> f64 {
    let sign = side.sign();
    let m0 = start.mid;
    let traded = end.filled - start.filled;
    let exec = sign * ((end.notional - start.notional) - m0 * traded);
    let deficit = (end.scheduled - end.filled).max(0.0);
    let behind = deficit * (sign * (end.mid - m0) + m0 * COMPLETION_BPS * 1e-4);
    let planned = (end.scheduled - start.filled).max(1.0);
    (exec + behind) / (m0 * planned) * 1e4
}
