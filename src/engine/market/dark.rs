//! A dark pool: our orders rest hidden at the midpoint and cross against
//! contra liquidity that arrives unseen. Fills are uncertain (contra blocks
//! come at random), need a minimum size, and are adversely selected: contra
//! sellers show up more often when the price is about to fall, which is when a
//! buyer would rather not have bought.

use super::book::{BookSide, Qty};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DarkOrder {
    pub child_id: u64,
    pub side: BookSide,
    pub qty: Qty,
    pub min_qty: Qty,
}

#[derive(Debug, Clone)]
pub struct DarkPool {
    pub name: String,
    pub up: bool,
    orders: Vec<DarkOrder>,
}

/// One cross in the pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DarkCross {
    pub child_id: u64,
    pub qty: Qty,
}

impl DarkPool {
    pub fn new(name: String) -> Self {
        DarkPool {
            name,
            up: true,
            orders: Vec::new(),
        }
    }

    pub fn add(&mut self, order: DarkOrder) {
        self.orders.push(order);
    }

    pub fn cancel(&mut self, child_id: u64) -> Option<Qty> {
        let pos = self.orders.iter().position(|o| o.child_id == child_id)?;
        Some(self.orders.remove(pos).qty)
    }

    pub fn resting(&self) -> &[DarkOrder] {
        &self.orders
    }

    /// A contra block of `size` arrives on `contra_side` (the side of the
    /// hidden counterparty). It crosses our resting orders on the other side in
    /// time priority, each only if the block can satisfy its minimum size.
    pub fn cross(&mut self, contra_side: BookSide, size: Qty, out: &mut Vec<DarkCross>) {
        let mut left = size;
        for o in self.orders.iter_mut() {
            if left <= 0 {
                break;
            }
            if o.side == contra_side || o.qty == 0 {
                continue;
            }
            let q = o.qty.min(left);
            if q < o.min_qty.min(o.qty) {
                continue;
            }
            o.qty -= q;
            left -= q;
            out.push(DarkCross {
                child_id: o.child_id,
                qty: q,
            });
        }
        self.orders.retain(|o| o.qty > 0);
    }

    /// The venue went down: everything resting is cancelled.
    pub fn clear(&mut self) -> Vec<(u64, Qty)> {
        self.orders.drain(..).map(|o| (o.child_id, o.qty)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crosses_respect_side_and_minimum_size() {
        let mut d = DarkPool::new("DARK".into());
        d.add(DarkOrder {
            child_id: 1,
            side: BookSide::Bid,
            qty: 1000,
            min_qty: 500,
        });
        d.add(DarkOrder {
            child_id: 2,
            side: BookSide::Bid,
            qty: 300,
            min_qty: 100,
        });
        let mut out = Vec::new();
        // A contra buyer never fills our buys.
        d.cross(BookSide::Bid, 5000, &mut out);
        assert!(out.is_empty());
        // 400 is below order 1's minimum but fills order 2.
        d.cross(BookSide::Ask, 400, &mut out);
        assert_eq!(
            out,
            vec![DarkCross {
                child_id: 2,
                qty: 300
            }]
        );
        out.clear();
        d.cross(BookSide::Ask, 700, &mut out);
        assert_eq!(
            out,
            vec![DarkCross {
                child_id: 1,
                qty: 700
            }]
        );
        assert_eq!(d.cancel(1), Some(300));
        assert!(d.resting().is_empty());
    }
}
