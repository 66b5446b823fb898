//! A market replayed from a capture: a symbol whose lit venue follows a
//! recorded feed instead of simulated flow. (Replaying a *journal* — a
//! recorded session in the console — is `crate::replay`, another thing.)
//!
//! What it models: our aggressive orders take the displayed liquidity at the
//! recorded prices (through `Market::submit`, as in the simulator); our
//! passive orders join the back of their level (behind everything displayed
//! when they arrived), move up only when recorded trades eat the queue ahead
//! of them, and fill when prints reach or go through their price.
//!
//! What it cannot model: the recorded market does not react to us. Liquidity
//! we take comes back with the next update of that level, nobody trades
//! against our quotes unless a recorded trade happens to, and our orders
//! never move the price. The simulated dark pool stays available beside it.

use std::collections::HashMap;

use super::{BookSide, Market, MarketOut, Owner, SymbolMarket, SymbolSpec};
use crate::engine::feed::{DataIssue, FeedSource, FeedStats, MarketEvent, Timed, DAY_NS};
use crate::protocol::Liquidity;

/// Feed-driven flow of one symbol.
pub struct CaptureFlow {
    source: Box<dyn FeedSource>,
    next: Option<Timed>,
    /// Receive time (ns since the epoch) of the session day's midnight UTC:
    /// engine time is receive time minus this, and may run past 24 h.
    day_start_ns: u64,
    /// Issue counters already reported.
    reported: [u64; DataIssue::ALL.len()],
    reported_total: u64,
    end_reported: bool,
}

impl Clone for CaptureFlow {
    fn clone(&self) -> Self {
        CaptureFlow {
            source: self.source.boxed_clone(),
            next: self.next.clone(),
            day_start_ns: self.day_start_ns,
            reported: self.reported,
            reported_total: self.reported_total,
            end_reported: self.end_reported,
        }
    }
}

impl std::fmt::Debug for CaptureFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFlow")
            .field("instrument", self.source.instrument())
            .field("next", &self.next)
            .field("day_start_ns", &self.day_start_ns)
            .finish()
    }
}

impl CaptureFlow {
    pub fn new(mut source: Box<dyn FeedSource>) -> CaptureFlow {
        let next = source.next_event();
        let day_start_ns = next
            .as_ref()
            .map(|t| t.recv_ns / DAY_NS * DAY_NS)
            .unwrap_or(0);
        CaptureFlow {
            source,
            next,
            day_start_ns,
            reported: [0; DataIssue::ALL.len()],
            reported_total: 0,
            end_reported: false,
        }
    }

    /// Receive time of the first event still to come, ns since the epoch.
    pub fn first_recv_ns(&self) -> Option<u64> {
        self.next.as_ref().map(|t| t.recv_ns)
    }

    pub fn set_day_start(&mut self, day_start_ns: u64) {
        self.day_start_ns = day_start_ns;
    }

    pub fn day_start(&self) -> u64 {
        self.day_start_ns
    }

    pub fn stats(&self) -> &FeedStats {
        self.source.stats()
    }

    pub fn source(&self) -> &dyn FeedSource {
        self.source.as_ref()
    }

    /// Engine time of the next event; u64::MAX once the feed is exhausted.
    pub fn next_ts(&self) -> u64 {
        match &self.next {
            Some(t) => t.recv_ns.saturating_sub(self.day_start_ns),
            None => u64::MAX,
        }
    }

    /// New issues since the last call, reported as market outputs.
    fn report_issues(&mut self, sym: usize, out: &mut Vec<MarketOut>) {
        let stats = self.source.stats();
        if stats.issues_total != self.reported_total {
            self.reported_total = stats.issues_total;
            for (k, issue) in DataIssue::ALL.into_iter().enumerate() {
                let n = stats.issue(issue);
                if n > self.reported[k] {
                    out.push(MarketOut::DataIssue {
                        symbol: sym,
                        issue,
                        new: n - self.reported[k],
                        total: n,
                    });
                    self.reported[k] = n;
                }
            }
        }
        if self.next.is_none() && !self.end_reported {
            self.end_reported = true;
            out.push(MarketOut::FeedEnded { symbol: sym });
        }
    }
}

impl SymbolMarket {
    /// Apply the next recorded event. Only the replayed symbol's first lit
    /// venue follows the feed (a capture is one venue).
    pub(super) fn replay_event(&mut self, sym: usize, out: &mut Vec<MarketOut>) {
        let ts = self.next_flow_ts;
        let Some(flow) = self.replay.as_mut() else {
            return;
        };
        let Some(Timed { event, .. }) = flow.next.take() else {
            self.next_flow_ts = u64::MAX;
            return;
        };
        flow.next = flow.source.next_event();
        let book = &mut self.venues[0].book;
        match event {
            MarketEvent::Book { reset, changes, .. } => {
                if reset {
                    book.clear_background();
                }
                for c in &changes {
                    book.set_background(c.side, c.price, c.qty);
                }
            }
            MarketEvent::TopOfBook {
                bid,
                ask,
                repair: true,
                ..
            } => book.repair_background(bid, ask),
            MarketEvent::TopOfBook { .. } => {}
            MarketEvent::Trade {
                price,
                qty,
                aggressor,
                ..
            } => {
                self.tape
                    .record_trade(ts, price, qty, aggressor == BookSide::Bid);
                let passive = aggressor.opposite();
                book.replay_trade(passive, price, qty, |m| {
                    if let Owner::Ours(child_id) = m.resting {
                        out.push(MarketOut::Fill {
                            child_id,
                            symbol: sym,
                            venue: 0,
                            price_ticks: m.price as f64,
                            qty: m.qty,
                            liquidity: Liquidity::Maker,
                        });
                    }
                });
            }
        }
        // The dark pool's adverse selection leans on the latent price; in a
        // replay the best estimate of it is the recorded mid.
        if let Some(mid) = self.quote().mid() {
            self.latent.set(mid);
        }
        self.tape.record_mid(ts, self.latent.value());
        if let Some(flow) = self.replay.as_mut() {
            flow.report_issues(sym, out);
            self.next_flow_ts = flow.next_ts();
        }
    }
}

impl Market {
    /// A market whose symbols replay recorded feeds: each spec's first lit
    /// venue follows its feed, its dark pool (if any) is simulated. Engine
    /// time is nanoseconds since midnight UTC of the earliest feed's first day.
    pub fn from_capture(
        feeds: Vec<(SymbolSpec, Box<dyn FeedSource>)>,
        seed: u64,
        open_ts: u64,
        close_ts: u64,
    ) -> Self {
        let flows: Vec<(SymbolSpec, CaptureFlow)> = feeds
            .into_iter()
            .map(|(spec, src)| (spec, CaptureFlow::new(src)))
            .collect();
        let day_start = flows
            .iter()
            .filter_map(|(_, f)| f.first_recv_ns())
            .min()
            .map(|t| t / DAY_NS * DAY_NS)
            .unwrap_or(0);
        let symbols = flows
            .into_iter()
            .enumerate()
            .map(|(i, (spec, mut flow))| {
                let mut s = SymbolMarket::new(spec, seed, i, open_ts);
                for v in s.venues.iter_mut() {
                    v.book.clear();
                }
                flow.set_day_start(day_start);
                s.next_flow_ts = flow.next_ts();
                if let Some(mid) = s.quote().mid() {
                    s.latent.set(mid);
                }
                s.replay = Some(Box::new(flow));
                s
            })
            .collect();
        Market {
            symbols,
            open_ts,
            close_ts,
            children: HashMap::new(),
            events: 0,
        }
    }
}
