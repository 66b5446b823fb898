//! Normalised market data as it travels on the bus (`vigil feed publish`
//! → `vigil engine --market nats:SYMBOL`): the feed handler's `Timed`
//! events in integer ticks and lots, numbered from 1, with the handler's
//! issue counters when they change, and a header saying what the data is
//! (instrument, venue, the capture's profile). JSON, so any client can read
//! it; the numbers are integers, so nothing is lost on the way.

use serde::{Deserialize, Serialize};

use super::{CaptureProfile, FeedStats, LevelChange, MarketEvent, Timed};
use crate::engine::prices::BookSide;

/// What a published feed is: read before the first event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedHeader {
    pub symbol: String,
    pub venue: String,
    /// Tick and lot as decimal strings (`"0.01"`, `"0.00001"`).
    pub tick: String,
    pub lot: String,
    pub profile: CaptureProfile,
    /// One publication of the capture; a new publish has a new one.
    pub run: String,
    /// Where it came from (for the engine's session description).
    pub source: String,
}

fn side_code(s: BookSide) -> u8 {
    match s {
        BookSide::Bid => 0,
        BookSide::Ask => 1,
    }
}

fn side_of(code: u8) -> Option<BookSide> {
    match code {
        0 => Some(BookSide::Bid),
        1 => Some(BookSide::Ask),
        _ => None,
    }
}

/// An event and the handler's issue counters after it, when they changed.
pub type WithIssues = (Timed, Option<[u64; 7]>);

/// One message on the market-data stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum FeedFrame {
    /// Level changes `[side (0 bid, 1 ask), price ticks, qty lots]`.
    Book {
        n: u64,
        r: u64,
        u: u64,
        #[serde(default)]
        x: bool,
        c: Vec<(u8, i64, i64)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        i: Option<[u64; 7]>,
    },
    Top {
        n: u64,
        r: u64,
        u: u64,
        b: (i64, i64),
        a: (i64, i64),
        #[serde(default)]
        f: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        i: Option<[u64; 7]>,
    },
    Trade {
        n: u64,
        r: u64,
        t: u64,
        p: i64,
        q: i64,
        s: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        i: Option<[u64; 7]>,
    },
    /// The data ended; the handler's final counters.
    End { n: u64, stats: FeedStats },
}

impl FeedFrame {
    /// The frame of event number `n`, with the issue counters if they changed.
    pub fn of(n: u64, t: &Timed, issues: Option<[u64; 7]>) -> FeedFrame {
        let r = t.recv_ns;
        match &t.event {
            MarketEvent::Book {
                update_id,
                reset,
                changes,
            } => FeedFrame::Book {
                n,
                r,
                u: *update_id,
                x: *reset,
                c: changes
                    .iter()
                    .map(|c| (side_code(c.side), c.price, c.qty))
                    .collect(),
                i: issues,
            },
            MarketEvent::TopOfBook {
                update_id,
                bid,
                ask,
                repair,
            } => FeedFrame::Top {
                n,
                r,
                u: *update_id,
                b: *bid,
                a: *ask,
                f: *repair,
                i: issues,
            },
            MarketEvent::Trade {
                trade_id,
                price,
                qty,
                aggressor,
            } => FeedFrame::Trade {
                n,
                r,
                t: *trade_id,
                p: *price,
                q: *qty,
                s: side_code(*aggressor),
                i: issues,
            },
        }
    }

    pub fn number(&self) -> u64 {
        match self {
            FeedFrame::Book { n, .. }
            | FeedFrame::Top { n, .. }
            | FeedFrame::Trade { n, .. }
            | FeedFrame::End { n, .. } => *n,
        }
    }

    /// The subject suffix: `book`, `top`, `trade`, `end`.
    pub fn kind(&self) -> &'static str {
        match self {
            FeedFrame::Book { .. } => "book",
            FeedFrame::Top { .. } => "top",
            FeedFrame::Trade { .. } => "trade",
            FeedFrame::End { .. } => "end",
        }
    }

    /// The event back, with the issue counters it carried. `Err` for a
    /// frame that names a side that does not exist; `Ok(None)` for `End`.
    pub fn event(self) -> Result<Option<WithIssues>, String> {
        let bad = |s: u8| format!("side {s} is neither 0 (bid) nor 1 (ask)");
        Ok(Some(match self {
            FeedFrame::Book { r, u, x, c, i, .. } => {
                let mut changes = Vec::with_capacity(c.len());
                for (s, price, qty) in c {
                    let side = side_of(s).ok_or_else(|| bad(s))?;
                    changes.push(LevelChange { side, price, qty });
                }
                (
                    Timed {
                        recv_ns: r,
                        event: MarketEvent::Book {
                            update_id: u,
                            reset: x,
                            changes,
                        },
                    },
                    i,
                )
            }
            FeedFrame::Top {
                r, u, b, a, f, i, ..
            } => (
                Timed {
                    recv_ns: r,
                    event: MarketEvent::TopOfBook {
                        update_id: u,
                        bid: b,
                        ask: a,
                        repair: f,
                    },
                },
                i,
            ),
            FeedFrame::Trade {
                r, t, p, q, s, i, ..
            } => (
                Timed {
                    recv_ns: r,
                    event: MarketEvent::Trade {
                        trade_id: t,
                        price: p,
                        qty: q,
                        aggressor: side_of(s).ok_or_else(|| bad(s))?,
                    },
                },
                i,
            ),
            FeedFrame::End { .. } => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_survives_the_wire() {
        let events = [
            MarketEvent::Book {
                update_id: 7,
                reset: true,
                changes: vec![
                    LevelChange {
                        side: BookSide::Bid,
                        price: 6_000_000,
                        qty: 12_345,
                    },
                    LevelChange {
                        side: BookSide::Ask,
                        price: 6_000_001,
                        qty: 0,
                    },
                ],
            },
            MarketEvent::TopOfBook {
                update_id: 8,
                bid: (1, 2),
                ask: (3, 4),
                repair: true,
            },
            MarketEvent::Trade {
                trade_id: 9,
                price: 5,
                qty: 6,
                aggressor: BookSide::Ask,
            },
        ];
        for (k, event) in events.into_iter().enumerate() {
            let t = Timed {
                recv_ns: 1_723_075_200_000_000_123 + k as u64,
                event,
            };
            let issues = (k == 1).then_some([1, 0, 0, 0, 0, 0, 2]);
            let json = serde_json::to_string(&FeedFrame::of(k as u64 + 1, &t, issues)).unwrap();
            let back: FeedFrame = serde_json::from_str(&json).unwrap();
            assert_eq!(back.number(), k as u64 + 1);
            assert_eq!(back.event().unwrap(), Some((t, issues)), "{json}");
        }
        let bad: FeedFrame =
            serde_json::from_str(r#"{"k":"trade","n":1,"r":1,"t":1,"p":1,"q":1,"s":7}"#).unwrap();
        assert!(bad.event().is_err());
    }
}
