//! A price-time-priority limit order book for one lit venue. Prices are in
//! integer ticks and quantities in integer lots, so matching never drifts.
//! Our child orders sit in the same queues as background orders and earn
//! their place in line like anyone else.

use std::collections::VecDeque;
use std::ops::Bound;

use crate::engine::prices::PriceLadder;
pub use crate::engine::prices::{BookSide, Px, Qty};

/// Who owns a resting order: the anonymous background flow, or one of our child orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Background,
    Ours(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resting {
    pub qty: Qty,
    pub owner: Owner,
}

#[derive(Debug, Clone, Default)]
pub struct Level {
    pub orders: VecDeque<Resting>,
    pub total: Qty,
}

impl Level {
    /// Execute up to `qty` against the queue in time priority, each
    /// execution passed to `on_match`. Returns what is left of `qty` and how
    /// many background orders were used up.
    fn drain_front(
        &mut self,
        price: Px,
        qty: Qty,
        mut on_match: impl FnMut(Match),
    ) -> (Qty, usize) {
        let mut left = qty;
        let mut removed_background = 0;
        while left > 0 {
            let Some(front) = self.orders.front_mut() else {
                break;
            };
            let q = front.qty.min(left);
            front.qty -= q;
            self.total -= q;
            left -= q;
            on_match(Match {
                price,
                qty: q,
                resting: front.owner,
            });
            if front.qty == 0 {
                if front.owner == Owner::Background {
                    removed_background += 1;
                }
                self.orders.pop_front();
            }
        }
        (left, removed_background)
    }
}

/// One execution against a resting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub price: Px,
    pub qty: Qty,
    /// Owner of the resting (passive) side.
    pub resting: Owner,
}

#[derive(Debug, Clone, Default)]
pub struct OrderBook {
    bids: PriceLadder<Level>,
    asks: PriceLadder<Level>,
    /// Number of resting background orders (drives the cancel rate).
    background_orders: usize,
    /// Emptied level queues kept for reuse: a replayed book creates and
    /// removes levels at every update, and this spares an allocation each.
    spare: Vec<VecDeque<Resting>>,
}

impl OrderBook {
    pub fn new() -> Self {
        Self::default()
    }

    fn side(&self, side: BookSide) -> &PriceLadder<Level> {
        match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        }
    }

    fn side_mut(&mut self, side: BookSide) -> &mut PriceLadder<Level> {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    #[inline]
    pub fn best_bid(&self) -> Option<(Px, Qty)> {
        self.bids.last().map(|(p, l)| (p, l.total))
    }

    #[inline]
    pub fn best_ask(&self) -> Option<(Px, Qty)> {
        self.asks.first().map(|(p, l)| (p, l.total))
    }

    #[inline]
    pub fn best(&self, side: BookSide) -> Option<(Px, Qty)> {
        match side {
            BookSide::Bid => self.best_bid(),
            BookSide::Ask => self.best_ask(),
        }
    }

    pub fn background_orders(&self) -> usize {
        self.background_orders
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// Total quantity over the first `levels` price levels of a side.
    pub fn depth(&self, side: BookSide, levels: usize) -> Qty {
        match side {
            BookSide::Bid => self
                .bids
                .iter()
                .rev()
                .take(levels)
                .map(|(_, l)| l.total)
                .sum(),
            BookSide::Ask => self.asks.iter().take(levels).map(|(_, l)| l.total).sum(),
        }
    }

    /// Price levels of a side, best first, as (price, total quantity).
    pub fn levels(&self, side: BookSide) -> Box<dyn Iterator<Item = (Px, Qty)> + '_> {
        match side {
            BookSide::Bid => Box::new(self.bids.iter().rev().map(|(p, l)| (p, l.total))),
            BookSide::Ask => Box::new(self.asks.iter().map(|(p, l)| (p, l.total))),
        }
    }

    /// Queue a resting order at the back of its price level.
    pub fn add(&mut self, side: BookSide, price: Px, qty: Qty, owner: Owner) {
        debug_assert!(qty > 0);
        if owner == Owner::Background {
            self.background_orders += 1;
        }
        let level = self
            .side_mut(side)
            .get_or_insert_with(price, Level::default);
        level.orders.push_back(Resting { qty, owner });
        level.total += qty;
    }

    /// Execute an incoming order of `qty` on `aggressor` side against the
    /// opposite side, best price first then time priority, never past `limit`.
    /// Each execution is passed to `on_match`. Returns the quantity executed.
    pub fn take(
        &mut self,
        aggressor: BookSide,
        qty: Qty,
        limit: Option<Px>,
        mut on_match: impl FnMut(Match),
    ) -> Qty {
        let mut left = qty;
        let mut removed_background = 0usize;
        let book = self.side_mut(aggressor.opposite());
        while left > 0 {
            let best = match aggressor {
                BookSide::Bid => book.first_mut(),
                BookSide::Ask => book.last_mut(),
            };
            let Some((price, level)) = best else { break };
            if !aggressor.may_take(price, limit) {
                break;
            }
            let (rest, used) = level.drain_front(price, left, &mut on_match);
            left = rest;
            removed_background += used;
            if level.orders.is_empty() {
                book.remove(price);
            }
        }
        self.background_orders -= removed_background;
        qty - left
    }

    /// Remove one of our orders. Returns the quantity that was still resting.
    pub fn cancel_ours(&mut self, side: BookSide, price: Px, child: u64) -> Option<Qty> {
        let book = self.side_mut(side);
        let level = book.get_mut(price)?;
        let pos = level
            .orders
            .iter()
            .position(|r| r.owner == Owner::Ours(child))?;
        let r = level.orders.remove(pos)?;
        level.total -= r.qty;
        if level.orders.is_empty() {
            book.remove(price);
        }
        Some(r.qty)
    }

    /// Quantity queued ahead of our child order at its level (its queue position).
    pub fn queue_ahead(&self, side: BookSide, price: Px, child: u64) -> Option<Qty> {
        let level = self.side(side).get(price)?;
        let mut ahead = 0;
        for r in &level.orders {
            if r.owner == Owner::Ours(child) {
                return Some(ahead);
            }
            ahead += r.qty;
        }
        None
    }

    /// Cancel (part of) a background order chosen by the caller's random
    /// draws: `level_pick` selects a level among the first `max_levels`
    /// (uniform on [0,1)), `order_pick` an order in it. Returns the quantity
    /// removed, 0 when the side holds no background order there.
    pub fn cancel_background(
        &mut self,
        side: BookSide,
        max_levels: usize,
        level_pick: f64,
        order_pick: f64,
    ) -> Qty {
        let book = self.side_mut(side);
        let n = book.len().min(max_levels);
        if n == 0 {
            return 0;
        }
        let k = ((level_pick * n as f64) as usize).min(n - 1);
        let price = match side {
            BookSide::Bid => book.iter().rev().nth(k).map(|(p, _)| p),
            BookSide::Ask => book.iter().nth(k).map(|(p, _)| p),
        };
        let Some(price) = price else { return 0 };
        let Some(level) = book.get_mut(price) else {
            return 0;
        };
        let len = level.orders.len();
        let start = ((order_pick * len as f64) as usize).min(len - 1);
        // Walk from the drawn position to the first background order, so our
        // own orders are never cancelled by the crowd.
        let found = (0..len)
            .map(|i| (start + i) % len)
            .find(|&i| level.orders[i].owner == Owner::Background);
        let Some(i) = found else { return 0 };
        let removed = level.orders.remove(i).map(|r| r.qty).unwrap_or(0);
        level.total -= removed;
        if level.orders.is_empty() {
            book.remove(price);
        }
        self.background_orders -= 1;
        removed
    }

    /// Drop background liquidity that has wandered more than `max_ticks` away
    /// from the touch: real participants cancel stale far-away quotes, and a
    /// bounded book keeps matching fast. Our orders are kept.
    pub fn prune_far(&mut self, max_ticks: Px) {
        let best_bid = self.best_bid().map(|b| b.0);
        let best_ask = self.best_ask().map(|a| a.0);
        let mut removed = 0usize;
        if let Some(bb) = best_bid {
            removed += prune_side(&mut self.bids, |p| p < bb - max_ticks);
        }
        if let Some(ba) = best_ask {
            removed += prune_side(&mut self.asks, |p| p > ba + max_ticks);
        }
        self.background_orders -= removed;
    }

    /// Remove everything (a venue outage wipes its book). Returns our orders
    /// that were resting, so the caller can report them cancelled.
    pub fn clear(&mut self) -> Vec<(u64, Qty)> {
        let mut ours = Vec::new();
        for (_, level) in self.bids.iter().chain(self.asks.iter()) {
            for r in &level.orders {
                if let Owner::Ours(id) = r.owner {
                    ours.push((id, r.qty));
                }
            }
        }
        self.bids.clear();
        self.asks.clear();
        self.background_orders = 0;
        ours
    }
}

// ---- replayed books -------------------------------------------------------
//
// A replayed venue's book mirrors a recorded feed, which gives level totals,
// not orders. Background liquidity is kept as anonymous blocks around our
// orders: size that appears at a level joins behind us, size that goes is
// taken from behind us first, and only trades advance us in the queue. That
// is the conservative queue model.
impl OrderBook {
    /// Set the background (non-ours) quantity at a level to `qty`.
    pub fn set_background(&mut self, side: BookSide, price: Px, qty: Qty) {
        let book = match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        };
        let Some(level) = book.get_mut(price) else {
            if qty > 0 {
                let mut orders = self.spare.pop().unwrap_or_default();
                orders.push_back(Resting {
                    qty,
                    owner: Owner::Background,
                });
                book.insert(price, Level { orders, total: qty });
                self.background_orders += 1;
            }
            return;
        };
        // Fast path: a level of one background block (no order of ours).
        if level.orders.len() == 1 && level.orders[0].owner == Owner::Background {
            if qty > 0 {
                level.orders[0].qty = qty;
                level.total = qty;
            } else {
                let mut l = book.remove(price).expect("level just found");
                if self.spare.len() < 1024 {
                    l.orders.clear();
                    self.spare.push(l.orders);
                }
                self.background_orders -= 1;
            }
            return;
        }
        let bg: Qty = level
            .orders
            .iter()
            .filter(|r| r.owner == Owner::Background)
            .map(|r| r.qty)
            .sum();
        if qty > bg {
            let add = qty - bg;
            match level.orders.back_mut() {
                Some(r) if r.owner == Owner::Background => r.qty += add,
                _ => {
                    level.orders.push_back(Resting {
                        qty: add,
                        owner: Owner::Background,
                    });
                    self.background_orders += 1;
                }
            }
            level.total += add;
        } else if qty < bg {
            let mut cut = bg - qty;
            let mut i = level.orders.len();
            while cut > 0 && i > 0 {
                i -= 1;
                let r = &mut level.orders[i];
                if r.owner != Owner::Background {
                    continue;
                }
                let c = r.qty.min(cut);
                r.qty -= c;
                cut -= c;
                level.total -= c;
                if r.qty == 0 {
                    level.orders.remove(i);
                    self.background_orders -= 1;
                }
            }
            if level.orders.is_empty() {
                book.remove(price);
            }
        }
    }

    /// Follow a top-of-book message newer than the book: background through
    /// the quote is stale and goes, the touch shows the quoted sizes. Our
    /// orders inside the spread stay.
    pub fn repair_background(&mut self, bid: (Px, Qty), ask: (Px, Qty)) {
        for (side, (touch, qty)) in [(BookSide::Bid, bid), (BookSide::Ask, ask)] {
            let book = self.side(side);
            let through: Vec<Px> = match side {
                BookSide::Bid => book.range((Bound::Excluded(touch), Bound::Unbounded)),
                BookSide::Ask => book.range((Bound::Unbounded, Bound::Excluded(touch))),
            }
            .map(|(p, _)| p)
            .collect();
            for p in through {
                self.set_background(side, p, 0);
            }
            self.set_background(side, touch, qty);
        }
    }

    /// Remove all background liquidity, keeping our orders (a snapshot
    /// replaces the recorded book, not our place in it).
    pub fn clear_background(&mut self) {
        for book in [&mut self.bids, &mut self.asks] {
            book.retain(|_, level| {
                level.orders.retain(|r| r.owner != Owner::Background);
                level.total = level.orders.iter().map(|r| r.qty).sum();
                !level.orders.is_empty()
            });
        }
        self.background_orders = 0;
    }

    /// A recorded trade of `qty` at `price` hit the `passive` side. Our
    /// orders at prices the trade went through (better than `price` for the
    /// aggressor) fill completely: the print proves that level was taken.
    /// At `price` itself the trade eats the queue from the front, so we fill
    /// only with what is left after the quantity ahead of us.
    pub fn replay_trade(
        &mut self,
        passive: BookSide,
        price: Px,
        qty: Qty,
        mut on_match: impl FnMut(Match),
    ) {
        let book = match passive {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        };
        let through: Vec<Px> = match passive {
            BookSide::Bid => book.range((Bound::Excluded(price), Bound::Unbounded)),
            BookSide::Ask => book.range((Bound::Unbounded, Bound::Excluded(price))),
        }
        .filter(|(_, l)| l.orders.iter().any(|r| r.owner != Owner::Background))
        .map(|(p, _)| p)
        .collect();
        for p in through {
            let Some(level) = book.get_mut(p) else {
                continue;
            };
            level.orders.retain(|r| {
                if r.owner == Owner::Background {
                    return true;
                }
                on_match(Match {
                    price: p,
                    qty: r.qty,
                    resting: r.owner,
                });
                false
            });
            level.total = level.orders.iter().map(|r| r.qty).sum();
            if level.orders.is_empty() {
                book.remove(p);
            }
        }
        let Some(level) = book.get_mut(price) else {
            return;
        };
        // Only our orders' executions are reported: the background's
        // happened in the recorded market already.
        let (_, removed_background) = level.drain_front(price, qty, |m| {
            if m.resting != Owner::Background {
                on_match(m);
            }
        });
        if level.orders.is_empty() {
            book.remove(price);
        }
        self.background_orders -= removed_background;
    }
}

fn prune_side(book: &mut PriceLadder<Level>, far: impl Fn(Px) -> bool) -> usize {
    let mut removed = 0;
    book.retain(|p, level| {
        if !far(p) {
            return true;
        }
        let before = level.orders.len();
        level.orders.retain(|r| r.owner != Owner::Background);
        removed += before - level.orders.len();
        level.total = level.orders.iter().map(|r| r.qty).sum();
        !level.orders.is_empty()
    });
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(book: &mut OrderBook, side: BookSide, qty: Qty, limit: Option<Px>) -> Vec<Match> {
        let mut v = Vec::new();
        book.take(side, qty, limit, |m| v.push(m));
        v
    }

    #[test]
    fn price_priority_then_time_priority() {
        let mut b = OrderBook::new();
        b.add(BookSide::Ask, 101, 10, Owner::Background);
        b.add(BookSide::Ask, 100, 5, Owner::Ours(1));
        b.add(BookSide::Ask, 100, 7, Owner::Background);
        let m = collect(&mut b, BookSide::Bid, 15, None);
        assert_eq!(
            m,
            vec![
                Match {
                    price: 100,
                    qty: 5,
                    resting: Owner::Ours(1)
                },
                Match {
                    price: 100,
                    qty: 7,
                    resting: Owner::Background
                },
                Match {
                    price: 101,
                    qty: 3,
                    resting: Owner::Background
                },
            ]
        );
        assert_eq!(b.best_ask(), Some((101, 7)));
    }

    #[test]
    fn limit_stops_the_sweep_and_partial_fills_keep_queue_place() {
        let mut b = OrderBook::new();
        b.add(BookSide::Bid, 99, 10, Owner::Background);
        b.add(BookSide::Bid, 99, 10, Owner::Ours(7));
        b.add(BookSide::Bid, 98, 50, Owner::Background);
        assert_eq!(b.queue_ahead(BookSide::Bid, 99, 7), Some(10));
        let m = collect(&mut b, BookSide::Ask, 14, Some(99));
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[1],
            Match {
                price: 99,
                qty: 4,
                resting: Owner::Ours(7)
            }
        );
        assert_eq!(b.queue_ahead(BookSide::Bid, 99, 7), Some(0));
        // Limit 99 never reaches the 98 level.
        let m = collect(&mut b, BookSide::Ask, 100, Some(99));
        assert_eq!(
            m,
            vec![Match {
                price: 99,
                qty: 6,
                resting: Owner::Ours(7)
            }]
        );
        assert_eq!(b.best_bid(), Some((98, 50)));
    }

    #[test]
    fn cancel_ours_returns_remaining_and_cleans_level() {
        let mut b = OrderBook::new();
        b.add(BookSide::Bid, 50, 3, Owner::Ours(2));
        assert_eq!(b.cancel_ours(BookSide::Bid, 50, 2), Some(3));
        assert_eq!(b.cancel_ours(BookSide::Bid, 50, 2), None);
        assert!(b.is_empty());
    }

    #[test]
    fn background_cancel_never_touches_our_orders() {
        let mut b = OrderBook::new();
        b.add(BookSide::Ask, 10, 4, Owner::Ours(1));
        assert_eq!(b.cancel_background(BookSide::Ask, 5, 0.0, 0.0), 0);
        b.add(BookSide::Ask, 10, 6, Owner::Background);
        assert_eq!(b.cancel_background(BookSide::Ask, 5, 0.0, 0.0), 6);
        assert_eq!(b.best_ask(), Some((10, 4)));
        assert_eq!(b.background_orders(), 0);
    }

    #[test]
    fn replayed_sizes_join_behind_and_leave_from_behind_us() {
        let mut b = OrderBook::new();
        b.set_background(BookSide::Bid, 100, 10);
        b.add(BookSide::Bid, 100, 4, Owner::Ours(1));
        assert_eq!(b.queue_ahead(BookSide::Bid, 100, 1), Some(10));
        // More size arrives: it queues behind us.
        b.set_background(BookSide::Bid, 100, 15);
        assert_eq!(b.queue_ahead(BookSide::Bid, 100, 1), Some(10));
        // Size leaves: taken from behind us first, then from ahead.
        b.set_background(BookSide::Bid, 100, 12);
        assert_eq!(b.queue_ahead(BookSide::Bid, 100, 1), Some(10));
        b.set_background(BookSide::Bid, 100, 6);
        assert_eq!(b.queue_ahead(BookSide::Bid, 100, 1), Some(6));
        assert_eq!(b.best_bid(), Some((100, 10)));
        b.set_background(BookSide::Bid, 100, 0);
        assert_eq!(b.best_bid(), Some((100, 4)));
        b.clear_background();
        assert_eq!(b.best_bid(), Some((100, 4)));
    }

    #[test]
    fn replayed_trades_fill_us_only_after_the_queue_or_through_us() {
        let mut b = OrderBook::new();
        b.set_background(BookSide::Ask, 101, 5);
        b.add(BookSide::Ask, 101, 3, Owner::Ours(1));
        b.add(BookSide::Ask, 100, 2, Owner::Ours(2));
        let mut m = Vec::new();
        // A buy of 6 at 101: trades through our 100 ask, then 5 ahead of us at 101, 1 of ours.
        b.replay_trade(BookSide::Ask, 101, 6, |x| m.push(x));
        assert_eq!(
            m,
            vec![
                Match {
                    price: 100,
                    qty: 2,
                    resting: Owner::Ours(2)
                },
                Match {
                    price: 101,
                    qty: 1,
                    resting: Owner::Ours(1)
                },
            ]
        );
        assert_eq!(b.best_ask(), Some((101, 2)));
        // A sell print hits bids, never our asks.
        m.clear();
        b.replay_trade(BookSide::Bid, 99, 1, |x| m.push(x));
        assert!(m.is_empty());
        // A buy printing above our ask went through it.
        b.replay_trade(BookSide::Ask, 102, 1, |x| m.push(x));
        assert_eq!(
            m,
            vec![Match {
                price: 101,
                qty: 2,
                resting: Owner::Ours(1)
            }]
        );
    }

    #[test]
    fn prune_keeps_ours_and_counts_background() {
        let mut b = OrderBook::new();
        b.add(BookSide::Bid, 100, 1, Owner::Background);
        b.add(BookSide::Bid, 10, 1, Owner::Background);
        b.add(BookSide::Bid, 10, 1, Owner::Ours(3));
        b.prune_far(20);
        assert_eq!(b.background_orders(), 1);
        assert_eq!(b.depth(BookSide::Bid, 10), 2);
        assert_eq!(b.clear(), vec![(3, 1)]);
    }
}
