//! Feed handlers: recorded exchange captures → normalised market events.
//!
//! Layers, each replaceable on its own:
//! - `capture`: the container (gzip or plain text, one message per line),
//!   inflated on a background thread.
//! - a `VenueDecoder` per venue format (`binance`): one line → one raw message
//!   in integer ticks and lots. Another venue is one more decoder module.
//! - `FeedHandler`: venue-independent sequencing and book reconstruction
//!   (`l2`), reconciliation with the top-of-book stream and bad-data
//!   accounting. It yields validated `MarketEvent`s through `FeedSource`,
//!   which is all the replayed market depends on.

pub mod binance;
pub mod capture;
mod chain;
pub mod decimal;
mod decoded;
pub mod l2;
pub mod profile;
pub mod wire;

use std::collections::VecDeque;
use std::fmt;
use std::path::Path;

use anyhow::{bail, Result};

use self::capture::LineReader;
use self::decoded::{DecodedReader, Msg};
use self::l2::L2Book;
pub use self::profile::{profile, CaptureProfile, DAY_NS};
use super::prices::{BookSide, Px, Qty};

/// An instrument's price and quantity grids, exact: the tick and the lot are
/// integers in units of 10⁻⁸, so prices are whole ticks and sizes whole lots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub symbol: String,
    pub tick_units: i64,
    pub lot_units: i64,
    /// Decimals of the tick and lot when they are powers of ten (the common
    /// case, decoded without division).
    pub tick_decimals: Option<u32>,
    pub lot_decimals: Option<u32>,
}

impl Instrument {
    /// From decimal strings, e.g. `Instrument::new("BTCUSDT", "0.01", "0.00001")`.
    pub fn new(symbol: &str, tick: &str, lot: &str) -> Result<Instrument> {
        let (Some(tick_units), Some(lot_units)) =
            (decimal::step_units(tick), decimal::step_units(lot))
        else {
            bail!("tick {tick} and lot {lot} must be positive decimals with at most 8 places");
        };
        Ok(Instrument {
            symbol: symbol.to_string(),
            tick_units,
            lot_units,
            tick_decimals: decimal::pow10_decimals(tick_units),
            lot_decimals: decimal::pow10_decimals(lot_units),
        })
    }
    pub fn tick_size(&self) -> f64 {
        self.tick_units as f64 / decimal::UNIT as f64
    }
    pub fn lot_size(&self) -> f64 {
        self.lot_units as f64 / decimal::UNIT as f64
    }
    pub fn price_decimals(&self) -> u32 {
        decimal::decimals_of(self.tick_units)
    }
    pub fn qty_decimals(&self) -> u32 {
        decimal::decimals_of(self.lot_units)
    }
    pub fn format_price(&self, ticks: Px) -> String {
        decimal::format_steps(ticks, self.tick_units)
    }
    pub fn format_qty(&self, lots: Qty) -> String {
        decimal::format_steps(lots, self.lot_units)
    }
}

/// One change of a price level: `qty` is the new total (0 removes the level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelChange {
    pub side: BookSide,
    pub price: Px,
    pub qty: Qty,
}

/// A normalised market event, the engine's view of any venue's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    /// Level changes to apply, in order. `reset` means the book was replaced
    /// by a snapshot first (clear it before applying).
    Book {
        update_id: u64,
        reset: bool,
        changes: Vec<LevelChange>,
    },
    /// The venue's own best bid and offer. With `repair`, it is newer than
    /// the book and the handler has repaired its book from it (levels through
    /// the quote removed, touch sizes set): a mirror of the book does the same.
    TopOfBook {
        update_id: u64,
        bid: (Px, Qty),
        ask: (Px, Qty),
        repair: bool,
    },
    /// A print on the tape; `aggressor` is the side that crossed the spread.
    Trade {
        trade_id: u64,
        price: Px,
        qty: Qty,
        aggressor: BookSide,
    },
}

/// An event with its local receive time (ns since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed {
    pub recv_ns: u64,
    pub event: MarketEvent,
}

/// What a decoder made of one line, before sequencing and validation.
#[derive(Debug, Clone, Default)]
pub struct RawMessage {
    pub kind: RawKind,
    pub recv_ns: u64,
    pub first_id: u64,
    pub last_id: u64,
    pub bids: Vec<(Px, Qty)>,
    pub asks: Vec<(Px, Qty)>,
    pub bid: (Px, Qty),
    pub ask: (Px, Qty),
    pub price: Px,
    pub qty: Qty,
    pub aggressor_sold: bool,
    /// Values that were not on the instrument's grid (dropped or rounded down).
    pub off_grid: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RawKind {
    #[default]
    Depth,
    Snapshot,
    TopOfBook,
    Trade,
    /// A well-formed message from a stream this handler does not consume.
    Unknown,
}

/// A line that is not a valid message of the venue's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// A price level as (price in ticks, size in lots).
pub type Level = (Px, Qty);
/// A recorded depth update: first and last update id, bid and ask levels.
type DepthRecord = (u64, u64, Vec<Level>, Vec<Level>);

/// A venue's message format. Implementations are pure: one line in, one raw
/// message out, with prices and sizes already on the instrument's grid.
pub trait VenueDecoder: Clone + Send + 'static {
    /// Short venue name shown as the replayed lit venue.
    fn venue(&self) -> &'static str;
    /// Decode one line into `out` (its vectors are reused between calls).
    fn decode(
        &mut self,
        line: &[u8],
        inst: &Instrument,
        out: &mut RawMessage,
    ) -> Result<(), Malformed>;
    /// The instrument a capture is about, from its first lines.
    fn identify(&self, first_lines: &[&[u8]]) -> Option<Instrument>;
}

/// Kinds of bad or suspicious data, each counted and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataIssue {
    /// Depth update ids skip ahead: updates were lost, the book may be wrong
    /// until the top-of-book stream or a snapshot repairs it.
    Gap,
    /// Update, top-of-book or trade id at or below one already applied: dropped.
    OutOfOrder,
    /// The rebuilt book crossed (best bid ≥ best ask): stale levels removed.
    Crossed,
    /// A well-formed message from a stream the handler does not know: skipped.
    UnknownStream,
    /// A line that is not a valid message: skipped.
    Corrupt,
    /// The compressed capture ended early or is damaged: replay stops there.
    Truncated,
    /// A price or size not on the instrument's tick or lot grid.
    OffGrid,
}

impl DataIssue {
    pub const ALL: [DataIssue; 7] = [
        DataIssue::Gap,
        DataIssue::OutOfOrder,
        DataIssue::Crossed,
        DataIssue::UnknownStream,
        DataIssue::Corrupt,
        DataIssue::Truncated,
        DataIssue::OffGrid,
    ];
    /// Stable code, used as the alert code.
    pub fn code(self) -> &'static str {
        match self {
            DataIssue::Gap => "feed_gap",
            DataIssue::OutOfOrder => "feed_out_of_order",
            DataIssue::Crossed => "feed_crossed_book",
            DataIssue::UnknownStream => "feed_unknown_stream",
            DataIssue::Corrupt => "feed_corrupt_line",
            DataIssue::Truncated => "feed_truncated",
            DataIssue::OffGrid => "feed_off_grid",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            DataIssue::Gap => "depth updates missing (update-id gap)",
            DataIssue::OutOfOrder => "out-of-order or duplicate ids dropped",
            DataIssue::Crossed => "crossed book repaired",
            DataIssue::UnknownStream => "messages from unknown streams skipped",
            DataIssue::Corrupt => "corrupt lines skipped",
            DataIssue::Truncated => "capture truncated",
            DataIssue::OffGrid => "values off the tick/lot grid",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of one feed: traffic, data issues and the agreement of the
/// rebuilt book with the venue's top-of-book stream.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeedStats {
    /// Source lines read (messages, good or bad).
    pub lines: u64,
    pub depth_updates: u64,
    pub snapshots: u64,
    pub top_of_book: u64,
    pub trades: u64,
    /// Depth updates superseded by a snapshot (normal resync, not an issue).
    pub superseded: u64,
    issues: [u64; 7],
    /// Sum of all issue counters, to notice a new issue cheaply.
    pub issues_total: u64,
    /// Top-of-book messages compared with the rebuilt book at the same update id.
    pub bbo_checked: u64,
    /// ... whose best bid and ask prices agreed.
    pub bbo_price_agree: u64,
    /// ... whose prices and sizes agreed.
    pub bbo_full_agree: u64,
}

impl FeedStats {
    pub fn issue(&self, i: DataIssue) -> u64 {
        self.issues[i.index()]
    }
    pub fn count(&mut self, i: DataIssue, n: u64) {
        self.issues[i.index()] += n;
        self.issues_total += n;
    }
    /// Every issue counter, in `DataIssue::ALL` order.
    pub fn issue_counts(&self) -> [u64; 7] {
        self.issues
    }
    /// Take over another reader's counters (a feed read off the bus reports
    /// the issues its publisher's handler found, at the same points).
    pub fn set_issue_counts(&mut self, counts: [u64; 7]) {
        self.issues = counts;
        self.issues_total = counts.iter().sum();
    }
    /// Share of checked top-of-book messages whose prices the rebuilt book matched.
    pub fn price_agreement(&self) -> f64 {
        ratio(self.bbo_price_agree, self.bbo_checked)
    }
    pub fn full_agreement(&self) -> f64 {
        ratio(self.bbo_full_agree, self.bbo_checked)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for FeedStats {
    /// The one-line summary printed at the end of a replay.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} lines: {} depth, {} snapshot, {} top-of-book, {} trades; book vs top-of-book: \
             {:.2}% prices, {:.2}% prices+sizes of {} checks",
            self.lines,
            self.depth_updates,
            self.snapshots,
            self.top_of_book,
            self.trades,
            100.0 * self.price_agreement(),
            100.0 * self.full_agreement(),
            self.bbo_checked
        )?;
        if self.issues_total == 0 {
            write!(f, "; no data issues")
        } else {
            for i in DataIssue::ALL {
                let n = self.issue(i);
                if n > 0 {
                    write!(f, "; {n} {}", i.describe())?;
                }
            }
            Ok(())
        }
    }
}

/// A source of validated, normalised market events for one instrument.
pub trait FeedSource: Send {
    fn instrument(&self) -> &Instrument;
    fn venue(&self) -> &'static str;
    /// The next event, or None at the end of the data.
    fn next_event(&mut self) -> Option<Timed>;
    fn stats(&self) -> &FeedStats;
    /// An independent copy at the same position (the market clones).
    fn boxed_clone(&self) -> Box<dyn FeedSource>;
}

/// Options of the venue-independent part of a feed handler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandlerOptions {
    /// Use each top-of-book message that is newer than the book to repair it
    /// (drop stale levels through the quote, set the touch sizes). Off, the
    /// book is rebuilt from depth diffs alone (to measure reconstruction).
    pub top_of_book_repairs: bool,
}

impl Default for HandlerOptions {
    fn default() -> Self {
        HandlerOptions {
            top_of_book_repairs: true,
        }
    }
}

/// Depth updates kept to re-apply after a snapshot that is older than them.
const REPLAY_BUFFER: usize = 32;

/// Sequencing, book reconstruction and validation over any venue decoder.
#[derive(Clone)]
pub struct FeedHandler<D: VenueDecoder> {
    decoder: D,
    inst: Instrument,
    messages: DecodedReader,
    opts: HandlerOptions,
    book: L2Book,
    stats: FeedStats,
    last_trade_id: Option<u64>,
    last_bbo_id: u64,
    /// Recent top-of-book messages (update id, bid, ask) not yet compared
    /// with the book, oldest first.
    pending_bbo: VecDeque<(u64, Level, Level)>,
    /// Recent depth updates (first id, last id, bids, asks), so a snapshot
    /// taken before some of them can be brought forward.
    recent_depth: VecDeque<DepthRecord>,
    /// A snapshot was just applied: depth updates it already contains are
    /// expected (superseded), not out of order.
    after_snapshot: bool,
    /// Reused buffer for the changes of top-of-book repairs.
    scratch: Vec<LevelChange>,
    finished: bool,
}

impl<D: VenueDecoder> FeedHandler<D> {
    /// Open a capture; the instrument is taken from its first lines unless given.
    pub fn open(
        path: &Path,
        decoder: D,
        inst: Option<Instrument>,
        opts: HandlerOptions,
    ) -> Result<Self> {
        let lines = LineReader::open(path)?;
        Self::with_lines(lines, decoder, inst, opts)
    }

    pub fn with_lines(
        lines: LineReader,
        decoder: D,
        inst: Option<Instrument>,
        opts: HandlerOptions,
    ) -> Result<Self> {
        let inst = match inst {
            Some(i) => i,
            None => {
                let mut peek = lines.clone();
                let mut first: Vec<Vec<u8>> = Vec::new();
                while first.len() < 16 {
                    match peek.next_line() {
                        Some(l) => first.push(l.to_vec()),
                        None => break,
                    }
                }
                let refs: Vec<&[u8]> = first.iter().map(|l| l.as_slice()).collect();
                match decoder.identify(&refs) {
                    Some(i) => i,
                    None => bail!(
                        "cannot tell which instrument this {} capture is about",
                        decoder.venue()
                    ),
                }
            }
        };
        let messages = DecodedReader::spawn(lines, decoder.clone(), inst.clone())?;
        Ok(FeedHandler {
            decoder,
            inst,
            messages,
            opts,
            book: L2Book::default(),
            stats: FeedStats::default(),
            last_trade_id: None,
            last_bbo_id: 0,
            pending_bbo: VecDeque::new(),
            recent_depth: VecDeque::new(),
            after_snapshot: false,
            scratch: Vec::new(),
            finished: false,
        })
    }

    /// The reconstructed book (without our orders).
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// Compare the book, now at update id `u`, with the top-of-book messages
    /// up to that id: a top-of-book message with id v ≤ u gives the touch
    /// after update v, and when no later one with an id ≤ u exists the touch
    /// did not change between v and u, so the rebuilt book must show it.
    fn reconcile(&mut self, u: u64) {
        let mut latest = None;
        while let Some(&(id, bid, ask)) = self.pending_bbo.front() {
            if id > u {
                break;
            }
            latest = Some((bid, ask));
            self.pending_bbo.pop_front();
        }
        let Some((bid, ask)) = latest else { return };
        if !self.book.synced() {
            return;
        }
        self.stats.bbo_checked += 1;
        let (bb, ba) = (self.book.best(BookSide::Bid), self.book.best(BookSide::Ask));
        if bb.map(|b| b.0) == Some(bid.0) && ba.map(|a| a.0) == Some(ask.0) {
            self.stats.bbo_price_agree += 1;
            if bb == Some(bid) && ba == Some(ask) {
                self.stats.bbo_full_agree += 1;
            }
        }
    }

    /// Turn a decoded message into validated events; None when it is dropped.
    fn process(&mut self, m: &Msg<'_>) -> Option<MarketEvent> {
        if m.off_grid > 0 {
            self.stats.count(DataIssue::OffGrid, m.off_grid as u64);
        }
        match m.kind {
            RawKind::Unknown => {
                self.stats.count(DataIssue::UnknownStream, 1);
                None
            }
            RawKind::Trade => self.on_trade(m),
            RawKind::TopOfBook => self.on_top_of_book(m),
            RawKind::Snapshot => self.on_snapshot(m),
            RawKind::Depth => self.on_depth(m),
        }
    }

    fn on_trade(&mut self, raw: &Msg<'_>) -> Option<MarketEvent> {
        if self.last_trade_id.is_some_and(|t| raw.last_id <= t) {
            self.stats.count(DataIssue::OutOfOrder, 1);
            return None;
        }
        if raw.price <= 0 || raw.qty <= 0 {
            self.stats.count(DataIssue::Corrupt, 1);
            return None;
        }
        self.last_trade_id = Some(raw.last_id);
        self.stats.trades += 1;
        Some(MarketEvent::Trade {
            trade_id: raw.last_id,
            price: raw.price,
            qty: raw.qty,
            aggressor: if raw.aggressor_sold {
                BookSide::Ask
            } else {
                BookSide::Bid
            },
        })
    }

    fn on_top_of_book(&mut self, m: &Msg<'_>) -> Option<MarketEvent> {
        let (id, bid, ask) = (m.last_id, m.bid, m.ask);
        if id < self.last_bbo_id {
            self.stats.count(DataIssue::OutOfOrder, 1);
            return None;
        }
        if bid.0 >= ask.0 || bid.0 <= 0 {
            self.stats.count(DataIssue::Crossed, 1);
            return None;
        }
        self.last_bbo_id = id;
        self.stats.top_of_book += 1;
        if self.pending_bbo.len() >= 256 {
            self.pending_bbo.pop_front();
        }
        self.pending_bbo.push_back((id, bid, ask));
        if id == self.book.last_id() {
            self.reconcile(id);
        }
        // Also before a snapshot or after a gap: the venue's own quote is
        // then the best repair available.
        let repair = self.opts.top_of_book_repairs && id > self.book.last_id();
        if repair {
            self.scratch.clear();
            self.book.repair_from_top(bid, ask, &mut self.scratch);
        }
        Some(MarketEvent::TopOfBook {
            update_id: id,
            bid,
            ask,
            repair,
        })
    }

    fn on_snapshot(&mut self, m: &Msg<'_>) -> Option<MarketEvent> {
        self.stats.snapshots += 1;
        let last = m.last_id;
        let mut changes = Vec::with_capacity(m.bids.len() + m.asks.len());
        self.book.reset(last, m.bids, m.asks, &mut changes);
        // Updates received before the snapshot but newer than it carry the
        // book forward again (the venue's documented resync procedure).
        let mut carried = 0;
        for (first, u, bids, asks) in &self.recent_depth {
            if *u > self.book.last_id() {
                if *first > self.book.last_id() + 1 {
                    self.stats.count(DataIssue::Gap, 1);
                    self.book.mark_gap();
                }
                self.book.apply(*u, bids, asks, &mut changes);
                carried += 1;
            }
        }
        self.after_snapshot = carried == 0;
        if self.book.uncross(&[], &mut changes) > 0 {
            self.stats.count(DataIssue::Crossed, 1);
        }
        let u = self.book.last_id();
        self.reconcile(u);
        Some(MarketEvent::Book {
            update_id: u,
            reset: true,
            changes,
        })
    }

    fn on_depth(&mut self, m: &Msg<'_>) -> Option<MarketEvent> {
        let (first, last) = (m.first_id, m.last_id);
        let book_last = self.book.last_id();
        if book_last != 0 && last <= book_last {
            if self.after_snapshot {
                self.stats.superseded += 1;
            } else {
                self.stats.count(DataIssue::OutOfOrder, 1);
            }
            return None;
        }
        if first > last {
            self.stats.count(DataIssue::Corrupt, 1);
            return None;
        }
        self.after_snapshot = false;
        if book_last != 0 && first > book_last + 1 {
            self.stats.count(DataIssue::Gap, 1);
            self.book.mark_gap();
        }
        self.stats.depth_updates += 1;
        let mut changes = Vec::with_capacity(m.bids.len() + m.asks.len());
        self.book.apply(last, m.bids, m.asks, &mut changes);
        if self.book.uncross(m.bids, &mut changes) > 0 {
            self.stats.count(DataIssue::Crossed, 1);
        }
        if !self.book.snapshot_seen() {
            // Until a snapshot arrives, keep the updates to bring it forward.
            if self.recent_depth.len() >= REPLAY_BUFFER {
                self.recent_depth.pop_front();
            }
            self.recent_depth
                .push_back((first, last, m.bids.to_vec(), m.asks.to_vec()));
        }
        self.reconcile(last);
        Some(MarketEvent::Book {
            update_id: last,
            reset: false,
            changes,
        })
    }
}

impl<D: VenueDecoder> FeedSource for FeedHandler<D> {
    fn instrument(&self) -> &Instrument {
        &self.inst
    }

    fn venue(&self) -> &'static str {
        self.decoder.venue()
    }

    fn next_event(&mut self) -> Option<Timed> {
        if self.finished {
            return None;
        }
        loop {
            let Some((chunk, i)) = self.messages.next() else {
                self.finished = true;
                if self.messages.truncated() == Some(true) {
                    self.stats.count(DataIssue::Truncated, 1);
                }
                return None;
            };
            self.stats.lines += 1;
            let Some(m) = chunk.message(i) else {
                self.stats.count(DataIssue::Corrupt, 1);
                continue;
            };
            if let Some(event) = self.process(&m) {
                return Some(Timed {
                    recv_ns: m.recv_ns,
                    event,
                });
            }
        }
    }

    fn stats(&self) -> &FeedStats {
        &self.stats
    }

    fn boxed_clone(&self) -> Box<dyn FeedSource> {
        Box::new(self.clone())
    }
}

/// Open a capture with the decoder for its venue. Only one venue format is
/// known today; the file name or a `venue:` prefix would choose among more.
pub fn open_capture(path: &Path, opts: HandlerOptions) -> Result<Box<dyn FeedSource>> {
    let h = FeedHandler::open(path, binance::BinanceDecoder, None, opts)?;
    Ok(Box::new(h))
}
