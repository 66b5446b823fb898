//! The feature vector of the model contract, computed from the market and the
//! order. Raw values are normalised by `model::FEATURES`.

use super::market::{BookSide, SymbolMarket};
use super::orders::ParentOrder;
use crate::model::contract::{FEATURES, FEATURE_COUNT};

/// Participation and flow windows.
pub const PARTICIPATION_WINDOW_NS: u64 = 300_000_000_000;
const FLOW_WINDOW_S: usize = 30;

/// Raw (unnormalised) feature values, in contract order.
pub fn raw(
    sym: &SymbolMarket,
    order: &mut ParentOrder,
    now: u64,
    scheduled: f64,
) -> [f64; FEATURE_COUNT] {
    let sign = order.side.sign();
    let horizon = order.end_ts.saturating_sub(order.start_ts).max(1) as f64;
    let qty = order.qty.max(1) as f64;
    let quote = sym.quote();
    let mid = sym.mid_ticks();
    let (spread_bps, imb_top, micro) = match (quote.bid, quote.ask) {
        (Some((b, bs)), Some((a, as_))) if a > b && bs + as_ > 0 => {
            let half = (a - b) as f64 / 2.0;
            let total = (bs + as_) as f64;
            let micro = (b as f64 * as_ as f64 + a as f64 * bs as f64) / total;
            (
                (a - b) as f64 / mid * 1e4,
                (bs - as_) as f64 / total,
                (micro - mid) / half,
            )
        }
        _ => (0.0, 0.0, 0.0),
    };
    let (db, da) = (sym.depth(BookSide::Bid, 5), sym.depth(BookSide::Ask, 5));
    let imb_depth = if db + da > 0 {
        (db - da) as f64 / (db + da) as f64
    } else {
        0.0
    };
    let vol_short = sym.tape.volatility_bps(60);
    let vol_long = sym.tape.volatility_bps(1800);
    let vol_ratio = if vol_long > 0.0 {
        vol_short / vol_long
    } else {
        1.0
    };
    let (signed, total) = sym.tape.flow(FLOW_WINDOW_S);
    let flow = if total > 0 {
        signed as f64 / total as f64
    } else {
        0.0
    };
    let ret = order
        .arrival_mid
        .filter(|a| *a > 0.0)
        .map(|a| (mid - a) / a * 1e4)
        .unwrap_or(0.0);
    let dark_rate = if order.dark_sent > 0.0 {
        (order.dark_filled / order.dark_sent).min(1.0)
    } else {
        0.0
    };
    let ours = order.recent_volume(now, PARTICIPATION_WINDOW_NS) as f64;
    let market = sym
        .tape
        .volume((PARTICIPATION_WINDOW_NS / 1_000_000_000) as usize) as f64;
    let participation = if market > 0.0 {
        (ours / market).min(1.0)
    } else {
        0.0
    };
    let momentum = |seconds: usize| momentum_z(sym, mid, vol_long, seconds);
    [
        order.end_ts.saturating_sub(now) as f64 / horizon,
        order.remaining() as f64 / qty,
        (order.filled as f64 - scheduled) / qty,
        spread_bps,
        sign * imb_top,
        sign * imb_depth,
        sign * micro,
        vol_short,
        vol_ratio,
        sign * flow,
        sign * ret,
        dark_rate,
        participation,
        sign * momentum(300),
        sign * momentum(1800),
    ]
}

/// Mid move over the last `seconds` (or the history kept, if shorter) as a
/// z-score: its size against what the long-horizon volatility makes typical
/// over that time. A trend shows as a persistent score far from zero.
fn momentum_z(sym: &SymbolMarket, mid: f64, vol_bps: f64, seconds: usize) -> f64 {
    let Some(then) = sym.tape.mid_seconds_ago(seconds) else {
        return 0.0;
    };
    if then <= 0.0 || vol_bps <= 0.0 {
        return 0.0;
    }
    let span = seconds
        .min(sym.tape.seconds_kept().saturating_sub(1))
        .max(1) as f64;
    (mid - then) / then * 1e4 / (vol_bps * span.sqrt())
}

/// Normalised features, as models consume them and decision events carry them.
pub fn normalised(raw: &[f64; FEATURE_COUNT]) -> Vec<f64> {
    raw.iter()
        .zip(FEATURES.iter())
        .map(|(x, f)| f.normalise(*x))
        .collect()
}
