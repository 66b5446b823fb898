//! Tactics: turn an action and the order's schedule into child orders. One
//! implementation for every strategy, so actions mean the same thing whether
//! a rule or a model chose them.

use super::market::{BookSide, ChildKind, Px, Qty, SymbolMarket};
use super::risk::Proposal;
use crate::model::Action;
use crate::protocol::{OrderParams, Side};

/// How much to execute this interval (lots), before the participation cap.
/// Resting actions aim to be on schedule at the next decision; `aggressive`
/// takes only the schedule's increment; `catch_up` takes the whole shortfall;
/// `ahead` also takes the next three increments, so repeated it runs ahead of
/// the schedule (as far as the participation cap lets it).
pub fn target_qty(
    action: Action,
    sched_now: f64,
    sched_next: f64,
    filled: f64,
    remaining: f64,
) -> f64 {
    let to_next = (sched_next - filled).max(0.0);
    let increment = (sched_next - sched_now).max(0.0);
    let q = match action {
        Action::Wait => 0.0,
        Action::Passive | Action::Dark | Action::Mixed => to_next,
        Action::Aggressive => increment.max(to_next.min(increment * 2.0)),
        Action::CatchUp => to_next,
        Action::Ahead => to_next + 3.0 * increment,
    };
    q.min(remaining).max(0.0).round()
}

/// Lit venues the order may use that are up, by index.
fn lit_venues(sym: &SymbolMarket, params: &OrderParams) -> Vec<usize> {
    sym.venues
        .iter()
        .enumerate()
        .filter(|(_, v)| v.up && (params.venues.is_empty() || params.venues.contains(&v.name)))
        .map(|(i, _)| i)
        .collect()
}

/// Index of the dark pool if the order may use it and it is up.
pub fn dark_venue(sym: &SymbolMarket, params: &OrderParams) -> Option<usize> {
    let d = sym.dark.as_ref()?;
    (d.up && (params.venues.is_empty() || params.venues.contains(&d.name)))
        .then_some(sym.venues.len())
}

fn book_side(side: Side) -> BookSide {
    match side {
        Side::Buy => BookSide::Bid,
        Side::Sell => BookSide::Ask,
    }
}

/// Clamp a price to the order's limit (in ticks).
fn within_limit(side: Side, price: Px, limit: Option<Px>) -> Px {
    match (side, limit) {
        (Side::Buy, Some(l)) => price.min(l),
        (Side::Sell, Some(l)) => price.max(l),
        _ => price,
    }
}

/// Split `qty` into the fewest clips no larger than `max_clip`, of nearly
/// equal size (so no tiny tail clip falls under a minimum size).
fn clips(qty: Qty, max_clip: Qty) -> impl Iterator<Item = Qty> {
    let max_clip = max_clip.max(1);
    let n = if qty <= 0 {
        0
    } else {
        (qty + max_clip - 1) / max_clip
    };
    let (base, extra) = if n > 0 { (qty / n, qty % n) } else { (0, 0) };
    (0..n).map(move |i| base + Qty::from(i < extra))
}

pub struct TacticInput<'a> {
    pub action: Action,
    pub qty: Qty,
    /// What is left of the parent order: a final remainder may be below the minimum clip.
    pub remaining: Qty,
    pub side: Side,
    pub params: &'a OrderParams,
    pub limit_ticks: Option<Px>,
    pub max_clip: Qty,
    pub min_clip: Qty,
}

/// Child orders for one decision.
pub fn plan(sym: &SymbolMarket, t: &TacticInput) -> Vec<Proposal> {
    if t.qty <= 0 || t.action == Action::Wait || (t.qty < t.min_clip && t.qty < t.remaining) {
        return Vec::new();
    }
    let lit = lit_venues(sym, t.params);
    let dark = dark_venue(sym, t.params);
    let mut out = Vec::new();
    match t.action {
        Action::Wait => {}
        Action::Passive => passive(sym, t, &lit, t.qty, &mut out),
        Action::Dark => match dark {
            Some(d) => dark_peg(t, d, t.qty, &mut out),
            None => passive(sym, t, &lit, t.qty, &mut out),
        },
        // Too small to split into two clips of the minimum size: all passive.
        Action::Mixed if t.qty < 2 * t.min_clip => passive(sym, t, &lit, t.qty, &mut out),
        Action::Mixed => match dark {
            Some(d) => {
                let half = t.qty / 2;
                passive(sym, t, &lit, t.qty - half, &mut out);
                dark_peg(t, d, half, &mut out);
            }
            None => passive(sym, t, &lit, t.qty, &mut out),
        },
        Action::Aggressive => aggressive(sym, t, &lit, 1, &mut out),
        Action::CatchUp | Action::Ahead => aggressive(sym, t, &lit, 3, &mut out),
    }
    out
}

fn passive(sym: &SymbolMarket, t: &TacticInput, lit: &[usize], qty: Qty, out: &mut Vec<Proposal>) {
    if lit.is_empty() || qty <= 0 {
        return;
    }
    let near = book_side(t.side);
    // Best near-touch price among allowed venues, and the venues quoting it.
    let best = lit
        .iter()
        .filter_map(|&v| sym.venues[v].book.best(near).map(|(p, q)| (v, p, q)))
        .max_by_key(|&(_, p, q)| match t.side {
            Side::Buy => (p, -q),
            Side::Sell => (-p, -q),
        });
    let Some((first_venue, price, _)) = best else {
        return;
    };
    let price = within_limit(t.side, price, t.limit_ticks);
    // Spread clips over the venues, starting with the one with the shortest
    // queue at the best price.
    let mut order: Vec<usize> = vec![first_venue];
    order.extend(lit.iter().copied().filter(|v| *v != first_venue));
    for (i, q) in clips(qty, t.max_clip).enumerate() {
        out.push(Proposal {
            venue: order[i % order.len()],
            kind: ChildKind::Limit { price },
            qty: q,
        });
    }
}

fn dark_peg(t: &TacticInput, dark: usize, qty: Qty, out: &mut Vec<Proposal>) {
    for q in clips(qty, t.max_clip) {
        out.push(Proposal {
            venue: dark,
            kind: ChildKind::MidPeg {
                min_qty: t.min_clip.min(q),
            },
            qty: q,
        });
    }
}

fn aggressive(
    sym: &SymbolMarket,
    t: &TacticInput,
    lit: &[usize],
    walk: Px,
    out: &mut Vec<Proposal>,
) {
    let far = book_side(t.side).opposite();
    let mut quotes: Vec<(usize, Px)> = lit
        .iter()
        .filter_map(|&v| sym.venues[v].book.best(far).map(|(p, _)| (v, p)))
        .collect();
    if quotes.is_empty() {
        return;
    }
    quotes.sort_by_key(|&(_, p)| match t.side {
        Side::Buy => p,
        Side::Sell => -p,
    });
    let best = quotes[0].1;
    let price = within_limit(
        t.side,
        match t.side {
            Side::Buy => best + walk,
            Side::Sell => best - walk,
        },
        t.limit_ticks,
    );
    // Allocate by displayed liquidity up to our price, venue by venue; what
    // is not displayed goes to the best venue (and may partly not fill).
    let mut left = t.qty;
    let mut alloc: Vec<(usize, Qty)> = Vec::new();
    for &(v, _) in &quotes {
        if left <= 0 {
            break;
        }
        let shown: Qty = sym.venues[v]
            .book
            .levels(far)
            .take_while(|(p, _)| match t.side {
                Side::Buy => *p <= price,
                Side::Sell => *p >= price,
            })
            .map(|(_, q)| q)
            .sum();
        let take = shown.min(left);
        if take > 0 {
            alloc.push((v, take));
            left -= take;
        }
    }
    if left > 0 {
        match alloc.first_mut() {
            Some(first) => first.1 += left,
            None => alloc.push((quotes[0].0, left)),
        }
    }
    // Slivers below the minimum child size go with the first venue's clip.
    let slivers: Qty = alloc
        .iter()
        .skip(1)
        .filter(|(_, q)| *q < t.min_clip)
        .map(|(_, q)| q)
        .sum();
    let first = alloc.first().map(|(v, _)| *v);
    alloc.retain(|(v, q)| Some(*v) == first || *q >= t.min_clip);
    if slivers > 0 {
        match alloc.first_mut() {
            Some(first) => first.1 += slivers,
            None => alloc.push((quotes[0].0, slivers)),
        }
    }
    for (v, q) in alloc {
        for c in clips(q, t.max_clip) {
            out.push(Proposal {
                venue: v,
                kind: ChildKind::Ioc { price },
                qty: c,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_by_action() {
        // Schedule: 1000 done by now, 1200 by next decision; we have 900.
        assert_eq!(target_qty(Action::Wait, 1000.0, 1200.0, 900.0, 5000.0), 0.0);
        assert_eq!(
            target_qty(Action::Passive, 1000.0, 1200.0, 900.0, 5000.0),
            300.0
        );
        assert_eq!(
            target_qty(Action::Aggressive, 1000.0, 1200.0, 900.0, 5000.0),
            300.0
        );
        assert_eq!(
            target_qty(Action::Aggressive, 1000.0, 1200.0, 0.0, 5000.0),
            400.0
        );
        assert_eq!(
            target_qty(Action::CatchUp, 1000.0, 1200.0, 0.0, 5000.0),
            1200.0
        );
        assert_eq!(
            target_qty(Action::CatchUp, 1000.0, 1200.0, 0.0, 700.0),
            700.0
        );
        assert_eq!(
            target_qty(Action::Ahead, 1000.0, 1200.0, 900.0, 5000.0),
            900.0
        );
        assert_eq!(
            target_qty(Action::Ahead, 1000.0, 1200.0, 900.0, 500.0),
            500.0
        );
    }

    #[test]
    fn clips_cover_the_quantity() {
        assert_eq!(clips(10, 4).collect::<Vec<_>>(), vec![4, 3, 3]);
        assert_eq!(clips(0, 4).count(), 0);
        assert_eq!(clips(3, 4).collect::<Vec<_>>(), vec![3]);
    }
}
