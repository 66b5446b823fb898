//! Prices and quantities on the instrument's grid, the two sides of a book,
//! and the price ladder books are built on. A leaf: the simulated market and
//! the feed handlers both build on it, and it needs neither.

pub mod ladder;

pub use ladder::PriceLadder;

/// Price in ticks.
pub type Px = i64;
/// Quantity in lots.
pub type Qty = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookSide {
    Bid,
    Ask,
}

impl BookSide {
    pub fn opposite(self) -> BookSide {
        match self {
            BookSide::Bid => BookSide::Ask,
            BookSide::Ask => BookSide::Bid,
        }
    }

    /// Whether an aggressor on this side, limited to `limit` (none: a market
    /// order), may trade at `price`.
    #[inline]
    pub fn may_take(self, price: Px, limit: Option<Px>) -> bool {
        match (self, limit) {
            (_, None) => true,
            (BookSide::Bid, Some(l)) => price <= l,
            (BookSide::Ask, Some(l)) => price >= l,
        }
    }
}
