//! What the market reports back: our fills (with their fees of attention:
//! the order's progress, a finished order), venue cancels, data issues of a
//! replayed feed and its end.

use super::Engine;
use crate::engine::market::{ChildKind, MarketOut};
use crate::protocol::*;

impl Engine {
    pub(super) fn forget_done_children(&mut self, i: usize) {
        let o = &mut self.orders[i];
        let owner = &mut self.child_owner;
        o.children.retain(|c| {
            let done = c.open_qty() <= 0 || matches!(c.kind, ChildKind::Ioc { .. });
            if done {
                owner.remove(&c.id);
            }
            !done
        });
    }

    pub(super) fn on_market_out(&mut self, out: &[MarketOut]) {
        let mut touched: Vec<usize> = Vec::new();
        for o in out {
            match *o {
                MarketOut::Fill {
                    child_id,
                    symbol,
                    venue,
                    price_ticks,
                    qty,
                    liquidity,
                } => {
                    let Some(&i) = self.child_owner.get(&child_id) else {
                        continue;
                    };
                    let spec = &self.market.symbols[symbol].spec;
                    let (tick, lot) = (spec.tick_size, spec.lot_size);
                    let (venue_name, venue_kind) = self.market.venue(symbol, venue);
                    let venue_name = venue_name.to_string();
                    let ord = &mut self.orders[i];
                    let qty = qty.min(ord.remaining());
                    if qty <= 0 {
                        continue;
                    }
                    let price = price_ticks * tick;
                    ord.filled += qty;
                    ord.notional += price * qty as f64;
                    ord.recent_fills.push_back((self.now, qty));
                    if venue_kind == VenueKind::Dark {
                        ord.dark_filled += qty as f64;
                    }
                    if let Some(c) = ord.children.iter_mut().find(|c| c.id == child_id) {
                        c.filled += qty;
                    }
                    let order_id = ord.id.clone();
                    self.emit(Event::Fill {
                        order_id,
                        child_id: format!("C-{child_id}"),
                        venue: venue_name,
                        venue_kind,
                        price,
                        qty: qty as f64 * lot,
                        liquidity,
                    });
                    if !touched.contains(&i) {
                        touched.push(i);
                    }
                }
                MarketOut::Cancelled { child_id, qty } => {
                    let Some(i) = self.child_owner.remove(&child_id) else {
                        continue;
                    };
                    let lot = self.market.symbols[self.orders[i].symbol].spec.lot_size;
                    self.orders[i].children.retain(|c| c.id != child_id);
                    let order_id = self.orders[i].id.clone();
                    self.emit(Event::ChildCancelled {
                        order_id,
                        child_id: format!("C-{child_id}"),
                        qty: qty as f64 * lot,
                        reason: "cancelled by venue".into(),
                    });
                    if !touched.contains(&i) {
                        touched.push(i);
                    }
                }
                MarketOut::DataIssue {
                    symbol,
                    issue,
                    new,
                    total,
                } => {
                    let sym = &self.market.symbols[symbol].spec.symbol;
                    let message = format!(
                        "{sym} feed: {} ({new} new, {total} in all)",
                        issue.describe()
                    );
                    self.alert(None, Severity::Warning, issue.code(), message);
                }
                MarketOut::FeedEnded { symbol } => {
                    let sym = &self.market.symbols[symbol].spec.symbol;
                    if let Some(stats) = self.market.feed_stats(symbol) {
                        let message = format!("{sym} feed ended: {stats}");
                        // The summary line of a replay, also for whoever reads the log.
                        tracing::warn!("{message}");
                        let severity = if stats.issues_total > 0 {
                            Severity::Warning
                        } else {
                            Severity::Info
                        };
                        self.alert(None, severity, "feed_summary", message);
                    }
                }
            }
        }
        for i in touched {
            let o = &mut self.orders[i];
            let owner = &mut self.child_owner;
            o.children.retain(|c| {
                let open = c.open_qty() > 0;
                if !open {
                    owner.remove(&c.id);
                }
                open
            });
            if self.orders[i].remaining() == 0 && !self.orders[i].state.is_terminal() {
                self.emit_progress(i);
                self.finish_order(i, None);
            } else {
                self.emit_progress(i);
            }
        }
    }
}
