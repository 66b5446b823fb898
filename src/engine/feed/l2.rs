//! Price-level (L2) book rebuilt from depth updates. Every change it makes is
//! also reported as a `LevelChange`, so a consumer mirroring the book (the
//! replayed venue) stays identical to it.

use super::LevelChange;
use crate::engine::prices::{BookSide, PriceLadder, Px, Qty};

#[derive(Debug, Clone, Default)]
pub struct L2Book {
    bids: PriceLadder<Qty>,
    asks: PriceLadder<Qty>,
    last_id: u64,
    snapshot_seen: bool,
    /// Updates were lost since the last snapshot.
    gap: bool,
}

impl L2Book {
    /// Update id of the last change applied (0 before any).
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    pub fn snapshot_seen(&self) -> bool {
        self.snapshot_seen
    }

    /// Complete and consistent: a snapshot was applied and no update lost since.
    pub fn synced(&self) -> bool {
        self.snapshot_seen && !self.gap
    }

    pub fn mark_gap(&mut self) {
        self.gap = true;
    }

    pub fn best(&self, side: BookSide) -> Option<(Px, Qty)> {
        match side {
            BookSide::Bid => self.bids.last().map(|(p, q)| (p, *q)),
            BookSide::Ask => self.asks.first().map(|(p, q)| (p, *q)),
        }
    }

    /// Levels of a side, best first.
    pub fn levels(&self, side: BookSide) -> Box<dyn Iterator<Item = (Px, Qty)> + '_> {
        match side {
            BookSide::Bid => Box::new(self.bids.iter().rev().map(|(p, q)| (p, *q))),
            BookSide::Ask => Box::new(self.asks.iter().map(|(p, q)| (p, *q))),
        }
    }

    pub fn len(&self, side: BookSide) -> usize {
        match side {
            BookSide::Bid => self.bids.len(),
            BookSide::Ask => self.asks.len(),
        }
    }

    #[inline]
    fn set(&mut self, side: BookSide, price: Px, qty: Qty, changes: &mut Vec<LevelChange>) {
        let book = match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        };
        if qty > 0 {
            if book.insert(price, qty) == Some(qty) {
                return;
            }
        } else if book.remove(price).is_none() {
            return;
        }
        changes.push(LevelChange { side, price, qty });
    }

    /// Apply one depth update (absolute sizes) and move to update id `last_id`.
    pub fn apply(
        &mut self,
        last_id: u64,
        bids: &[(Px, Qty)],
        asks: &[(Px, Qty)],
        changes: &mut Vec<LevelChange>,
    ) {
        for &(p, q) in bids {
            self.set(BookSide::Bid, p, q, changes);
        }
        for &(p, q) in asks {
            self.set(BookSide::Ask, p, q, changes);
        }
        self.last_id = self.last_id.max(last_id);
    }

    /// Replace the book with a full snapshot taken at update id `last_id`.
    pub fn reset(
        &mut self,
        last_id: u64,
        bids: &[(Px, Qty)],
        asks: &[(Px, Qty)],
        changes: &mut Vec<LevelChange>,
    ) {
        self.bids.clear();
        self.asks.clear();
        self.last_id = last_id;
        self.snapshot_seen = true;
        self.gap = false;
        for &(p, q) in bids {
            self.set(BookSide::Bid, p, q, changes);
        }
        for &(p, q) in asks {
            self.set(BookSide::Ask, p, q, changes);
        }
    }

    /// Remove levels until the best bid is below the best ask. The side whose
    /// best level the latest update did not set is the stale one (`fresh_bids`
    /// are the bid levels the update set). Returns the levels removed.
    pub fn uncross(&mut self, fresh_bids: &[(Px, Qty)], changes: &mut Vec<LevelChange>) -> usize {
        let mut removed = 0;
        while let (Some((b, _)), Some((a, _))) =
            (self.best(BookSide::Bid), self.best(BookSide::Ask))
        {
            if b < a {
                break;
            }
            let bid_is_fresh = fresh_bids.iter().any(|&(p, q)| p == b && q > 0);
            if bid_is_fresh {
                self.set(BookSide::Ask, a, 0, changes);
            } else {
                self.set(BookSide::Bid, b, 0, changes);
            }
            removed += 1;
        }
        removed
    }

    /// Bring the touch in line with a newer top-of-book message: levels
    /// better than the quoted best are stale (their removal has not reached
    /// us yet), and the quoted sizes are the current ones.
    pub fn repair_from_top(
        &mut self,
        bid: (Px, Qty),
        ask: (Px, Qty),
        changes: &mut Vec<LevelChange>,
    ) {
        while let Some((p, _)) = self.best(BookSide::Bid) {
            if p <= bid.0 {
                break;
            }
            self.set(BookSide::Bid, p, 0, changes);
        }
        while let Some((p, _)) = self.best(BookSide::Ask) {
            if p >= ask.0 {
                break;
            }
            self.set(BookSide::Ask, p, 0, changes);
        }
        self.set(BookSide::Bid, bid.0, bid.1, changes);
        self.set(BookSide::Ask, ask.0, ask.1, changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_absolute_sizes_and_reports_changes() {
        let mut b = L2Book::default();
        let mut ch = Vec::new();
        b.apply(5, &[(100, 3), (99, 2)], &[(101, 4)], &mut ch);
        assert_eq!(ch.len(), 3);
        ch.clear();
        // Same size again: no change; zero removes.
        b.apply(6, &[(100, 3), (99, 0)], &[], &mut ch);
        assert_eq!(
            ch,
            vec![LevelChange {
                side: BookSide::Bid,
                price: 99,
                qty: 0
            }]
        );
        assert_eq!(b.best(BookSide::Bid), Some((100, 3)));
        assert_eq!(b.last_id(), 6);
        assert!(!b.synced());
    }

    #[test]
    fn uncross_removes_the_stale_side() {
        let mut b = L2Book::default();
        let mut ch = Vec::new();
        b.reset(1, &[(100, 1)], &[(101, 1), (102, 1)], &mut ch);
        ch.clear();
        // A fresh bid at 101 crosses the old ask at 101: the ask goes.
        b.apply(2, &[(101, 5)], &[], &mut ch);
        assert_eq!(b.uncross(&[(101, 5)], &mut ch), 1);
        assert_eq!(b.best(BookSide::Ask), Some((102, 1)));
        assert_eq!(b.best(BookSide::Bid), Some((101, 5)));
        // A fresh ask at 100 crossing an old bid: the bids at or above go.
        b.apply(3, &[], &[(100, 2)], &mut ch);
        assert_eq!(b.uncross(&[], &mut ch), 2);
        assert_eq!(b.best(BookSide::Bid), None);
    }

    #[test]
    fn top_of_book_repair_drops_stale_levels() {
        let mut b = L2Book::default();
        let mut ch = Vec::new();
        b.reset(1, &[(100, 1), (99, 1)], &[(103, 1)], &mut ch);
        ch.clear();
        b.repair_from_top((99, 7), (102, 2), &mut ch);
        assert_eq!(b.best(BookSide::Bid), Some((99, 7)));
        assert_eq!(b.best(BookSide::Ask), Some((102, 2)));
        assert_eq!(ch.len(), 3);
    }
}
