//! Routing a trade across venues: a background order sweeping the lit
//! venues that are up, best price first, a dark contra block crossing our
//! resting dark orders, and the one sequence every execution goes through
//! (the tape, our fill, our impact).

use super::{BookSide, Liquidity, MarketOut, Owner, Px, Qty, SymbolMarket};

/// Our side of a trade.
#[derive(Debug, Clone, Copy)]
pub(super) struct OurSide {
    pub child_id: u64,
    /// Our order bought (else sold).
    pub bought: bool,
    /// The fill's price in ticks (a dark cross may end in .5).
    pub price_ticks: f64,
    pub liquidity: Liquidity,
}

impl SymbolMarket {
    /// One trade on the tape. When one side of it is ours, that side's
    /// fill, and our trading's impact on the latent price: the sequence every
    /// execution goes through, whoever the aggressor and whatever the venue.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn print_trade(
        &mut self,
        ts: u64,
        sym: usize,
        venue: usize,
        tape_px: Px,
        qty: Qty,
        buyer_initiated: bool,
        ours: Option<OurSide>,
        out: &mut Vec<MarketOut>,
    ) {
        self.tape.record_trade(ts, tape_px, qty, buyer_initiated);
        if let Some(o) = ours {
            let signed = if o.bought { qty as f64 } else { -(qty as f64) };
            self.impact.on_fill(ts, signed);
            out.push(MarketOut::Fill {
                child_id: o.child_id,
                symbol: sym,
                venue,
                price_ticks: o.price_ticks,
                qty,
                liquidity: o.liquidity,
            });
        }
    }

    /// Sweep the lit venues that are up, best price first, for a background
    /// order. Our resting orders that get hit are reported as maker fills.
    pub(super) fn sweep(
        &mut self,
        ts: u64,
        sym: usize,
        aggressor: BookSide,
        qty: Qty,
        limit: Option<Px>,
        out: &mut Vec<MarketOut>,
    ) -> Qty {
        let mut left = qty;
        while left > 0 {
            // Best venue for the aggressor right now.
            let mut best: Option<(usize, Px)> = None;
            for (i, v) in self.venues.iter().enumerate() {
                if !v.up {
                    continue;
                }
                if let Some((p, _)) = v.book.best(aggressor.opposite()) {
                    let better = match (best, aggressor) {
                        (None, _) => true,
                        (Some((_, bp)), BookSide::Bid) => p < bp,
                        (Some((_, bp)), BookSide::Ask) => p > bp,
                    };
                    if better {
                        best = Some((i, p));
                    }
                }
            }
            let Some((venue, price)) = best else { break };
            if !aggressor.may_take(price, limit) {
                break;
            }
            // Take only the best level at this venue, then re-evaluate venues.
            let mut fills = std::mem::take(&mut self.scratch);
            fills.clear();
            let done = self.venues[venue]
                .book
                .take(aggressor, left, Some(price), |m| fills.push(m));
            for &m in &fills {
                let ours = match m.resting {
                    // The aggressor bought: our resting order sold to it.
                    Owner::Ours(child_id) => Some(OurSide {
                        child_id,
                        bought: aggressor != BookSide::Bid,
                        price_ticks: m.price as f64,
                        liquidity: Liquidity::Maker,
                    }),
                    Owner::Background => None,
                };
                self.print_trade(
                    ts,
                    sym,
                    venue,
                    m.price,
                    m.qty,
                    aggressor == BookSide::Bid,
                    ours,
                    out,
                );
            }
            self.scratch = fills;
            if done == 0 {
                break;
            }
            left -= done;
        }
        qty - left
    }

    /// A contra block of `size` on `contra`'s side meets our resting dark
    /// orders at the midpoint `mid` (ticks).
    pub(super) fn cross_dark(
        &mut self,
        ts: u64,
        sym: usize,
        contra: BookSide,
        size: Qty,
        mid: f64,
        out: &mut Vec<MarketOut>,
    ) {
        let Some(pool) = self.dark.as_mut() else {
            return;
        };
        if !pool.up {
            return;
        }
        let mut crosses = Vec::new();
        pool.cross(contra, size, &mut crosses);
        let venue = self.venues.len();
        for c in crosses {
            // A contra buyer bought from our resting seller, and the reverse.
            let ours = OurSide {
                child_id: c.child_id,
                bought: contra != BookSide::Bid,
                price_ticks: mid,
                liquidity: Liquidity::Maker,
            };
            let tape_px = mid.round() as Px;
            self.print_trade(
                ts,
                sym,
                venue,
                tape_px,
                c.qty,
                contra == BookSide::Bid,
                Some(ours),
                out,
            );
        }
    }
}
