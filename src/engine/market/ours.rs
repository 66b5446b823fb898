//! Our own orders at the venues: sending a child order (executing what it
//! can at once, resting the rest), cancelling it, knowing where it rests,
//! and what a venue outage does to it.

use super::routing::OurSide;
use super::{
    BookSide, ChildKind, ChildLocation, DarkOrder, Liquidity, Market, MarketOut, Owner, Qty,
    SubmitError,
};

impl Market {
    pub(super) fn forget_finished(&mut self, start: usize, out: &[MarketOut]) {
        for o in &out[start..] {
            if let MarketOut::Fill {
                child_id,
                symbol,
                venue,
                ..
            } = *o
            {
                let s = &self.symbols[symbol];
                let still_resting = if venue < s.venues.len() {
                    self.children
                        .get(&child_id)
                        .and_then(|loc| {
                            s.venues[venue]
                                .book
                                .queue_ahead(loc.side, loc.price, child_id)
                        })
                        .is_some()
                } else {
                    s.dark
                        .as_ref()
                        .is_some_and(|d| d.resting().iter().any(|r| r.child_id == child_id))
                };
                if !still_resting {
                    self.children.remove(&child_id);
                }
            }
        }
    }

    /// Send one of our child orders to a venue. Immediate executions are appended to `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &mut self,
        ts: u64,
        child_id: u64,
        sym: usize,
        venue: usize,
        side: BookSide,
        qty: Qty,
        kind: ChildKind,
        out: &mut Vec<MarketOut>,
    ) -> Result<(), SubmitError> {
        if qty <= 0 {
            return Err(SubmitError::BadQuantity);
        }
        let s = self.symbols.get_mut(sym).ok_or(SubmitError::UnknownVenue)?;
        let lit = s.venues.len();
        match kind {
            ChildKind::Limit { price } | ChildKind::Ioc { price } => {
                let v = s.venues.get_mut(venue).ok_or(SubmitError::UnknownVenue)?;
                if !v.up {
                    return Err(SubmitError::VenueDown);
                }
                let mut matches = Vec::new();
                let done = v.book.take(side, qty, Some(price), |m| matches.push(m));
                for m in &matches {
                    let ours = OurSide {
                        child_id,
                        bought: side == BookSide::Bid,
                        price_ticks: m.price as f64,
                        liquidity: Liquidity::Taker,
                    };
                    let buyer_initiated = side == BookSide::Bid;
                    s.print_trade(
                        ts,
                        sym,
                        venue,
                        m.price,
                        m.qty,
                        buyer_initiated,
                        Some(ours),
                        out,
                    );
                    if let Owner::Ours(other) = m.resting {
                        // Two of our own orders crossed (opposite parents on one
                        // symbol): the resting one filled too.
                        out.push(MarketOut::Fill {
                            child_id: other,
                            symbol: sym,
                            venue,
                            price_ticks: m.price as f64,
                            qty: m.qty,
                            liquidity: Liquidity::Maker,
                        });
                    }
                }
                let left = qty - done;
                if left > 0 {
                    if matches!(kind, ChildKind::Limit { .. }) {
                        s.venues[venue]
                            .book
                            .add(side, price, left, Owner::Ours(child_id));
                        self.children.insert(
                            child_id,
                            ChildLocation {
                                symbol: sym,
                                venue,
                                side,
                                price,
                            },
                        );
                    } else {
                        out.push(MarketOut::Cancelled {
                            child_id,
                            qty: left,
                        });
                    }
                }
                Ok(())
            }
            ChildKind::MidPeg { min_qty } => {
                if venue != lit {
                    return Err(if venue < lit {
                        SubmitError::WrongOrderType
                    } else {
                        SubmitError::UnknownVenue
                    });
                }
                let pool = s.dark.as_mut().ok_or(SubmitError::UnknownVenue)?;
                if !pool.up {
                    return Err(SubmitError::VenueDown);
                }
                pool.add(DarkOrder {
                    child_id,
                    side,
                    qty,
                    min_qty: min_qty.clamp(1, qty),
                });
                self.children.insert(
                    child_id,
                    ChildLocation {
                        symbol: sym,
                        venue,
                        side,
                        price: 0,
                    },
                );
                Ok(())
            }
        }
    }

    /// Cancel one of our resting child orders. Returns the quantity that was
    /// still open, or None if it is no longer resting (filled or unknown).
    pub fn cancel(&mut self, child_id: u64) -> Option<Qty> {
        let loc = self.children.remove(&child_id)?;
        let s = &mut self.symbols[loc.symbol];
        if loc.venue < s.venues.len() {
            s.venues[loc.venue]
                .book
                .cancel_ours(loc.side, loc.price, child_id)
        } else {
            s.dark.as_mut()?.cancel(child_id)
        }
    }

    /// Take a venue down (its book is lost, our orders there are cancelled) or bring it back.
    pub fn set_venue_up(&mut self, sym: usize, venue: usize, up: bool, out: &mut Vec<MarketOut>) {
        let s = &mut self.symbols[sym];
        let removed = if venue < s.venues.len() {
            let v = &mut s.venues[venue];
            v.up = up;
            if up {
                Vec::new()
            } else {
                v.book.clear()
            }
        } else if let Some(d) = s.dark.as_mut() {
            d.up = up;
            if up {
                Vec::new()
            } else {
                d.clear()
            }
        } else {
            Vec::new()
        };
        for (child_id, qty) in removed {
            self.children.remove(&child_id);
            out.push(MarketOut::Cancelled { child_id, qty });
        }
    }
}
