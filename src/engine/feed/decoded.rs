//! Decoded messages of a capture, produced on a thread of their own so that
//! inflating, decoding and the engine run side by side.
//!
//! Messages travel between the threads in chunks laid out flat: one array of
//! fixed-size records and one array holding the price levels of all of them.
//! Decoding a depth update therefore allocates nothing per message, and the
//! consumer reads the levels in place instead of copying them out.

use std::sync::Arc;

use anyhow::Result;

use super::capture::LineReader;
use super::chain::{chain, ChainCursor, ChainWriter, Chunk};
use super::{Instrument, Level, Malformed, RawKind, RawMessage, VenueDecoder};
use crate::engine::market::{Px, Qty};

/// Lines per chunk handed from the decoding thread.
const LINES_PER_CHUNK: usize = 1024;

/// The fixed-size part of a decoded line; `valid` is false for a line that
/// is not a message of the venue's format.
#[derive(Debug, Clone, Copy)]
struct Record {
    valid: bool,
    kind: RawKind,
    aggressor_sold: bool,
    off_grid: u32,
    recv_ns: u64,
    first_id: u64,
    last_id: u64,
    bid: Level,
    ask: Level,
    price: Px,
    qty: Qty,
    /// Ranges of the bid and ask levels in the chunk's `levels`.
    bids: (u32, u32),
    asks: (u32, u32),
}

/// Decoded lines of one chunk of the capture.
#[derive(Debug, Default)]
pub(crate) struct DecodedChunk {
    records: Vec<Record>,
    levels: Vec<Level>,
}

/// A decoded message, borrowed from its chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Msg<'a> {
    pub kind: RawKind,
    pub recv_ns: u64,
    pub first_id: u64,
    pub last_id: u64,
    pub bids: &'a [Level],
    pub asks: &'a [Level],
    pub bid: Level,
    pub ask: Level,
    pub price: Px,
    pub qty: Qty,
    pub aggressor_sold: bool,
    pub off_grid: u32,
}

impl DecodedChunk {
    fn with_capacity(lines: usize) -> Self {
        DecodedChunk {
            records: Vec::with_capacity(lines),
            levels: Vec::with_capacity(lines * 4),
        }
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn push(&mut self, decoded: Result<&RawMessage, Malformed>) {
        let Ok(m) = decoded else {
            self.records.push(Record {
                valid: false,
                kind: RawKind::Unknown,
                aggressor_sold: false,
                off_grid: 0,
                recv_ns: 0,
                first_id: 0,
                last_id: 0,
                bid: (0, 0),
                ask: (0, 0),
                price: 0,
                qty: 0,
                bids: (0, 0),
                asks: (0, 0),
            });
            return;
        };
        let mut span = |levels: &[Level]| {
            let start = self.levels.len() as u32;
            self.levels.extend_from_slice(levels);
            (start, self.levels.len() as u32)
        };
        let bids = span(&m.bids);
        let asks = span(&m.asks);
        self.records.push(Record {
            valid: true,
            kind: m.kind,
            aggressor_sold: m.aggressor_sold,
            off_grid: m.off_grid,
            recv_ns: m.recv_ns,
            first_id: m.first_id,
            last_id: m.last_id,
            bid: m.bid,
            ask: m.ask,
            price: m.price,
            qty: m.qty,
            bids,
            asks,
        });
    }

    /// Message `i`, or None when that line was not a valid message.
    pub(crate) fn message(&self, i: usize) -> Option<Msg<'_>> {
        let r = &self.records[i];
        if !r.valid {
            return None;
        }
        let slice = |(a, b): (u32, u32)| &self.levels[a as usize..b as usize];
        Some(Msg {
            kind: r.kind,
            recv_ns: r.recv_ns,
            first_id: r.first_id,
            last_id: r.last_id,
            bids: slice(r.bids),
            asks: slice(r.asks),
            bid: r.bid,
            ask: r.ask,
            price: r.price,
            qty: r.qty,
            aggressor_sold: r.aggressor_sold,
            off_grid: r.off_grid,
        })
    }
}

/// Decoded chunks kept ahead of the engine.
const AHEAD: usize = 8;

/// A cursor over the decoded messages of a capture. Clones read the same
/// messages from the same position, like `LineReader`.
#[derive(Debug, Clone)]
pub(crate) struct DecodedReader {
    cursor: ChainCursor<DecodedChunk>,
    chunk: Option<Arc<Chunk<DecodedChunk>>>,
    pos: usize,
}

impl DecodedReader {
    /// Start decoding `lines` on a new thread.
    pub(crate) fn spawn<D: VenueDecoder>(
        mut lines: LineReader,
        mut decoder: D,
        inst: Instrument,
    ) -> Result<Self> {
        let (mut writer, cursor) = chain(Some(AHEAD));
        std::thread::Builder::new()
            .name("capture-decode".into())
            .spawn(move || {
                let take_chunk = |w: &ChainWriter<DecodedChunk>| match w.reuse() {
                    Some(mut c) => {
                        c.records.clear();
                        c.levels.clear();
                        c
                    }
                    None => DecodedChunk::with_capacity(LINES_PER_CHUNK),
                };
                let mut chunk = take_chunk(&writer);
                let mut raw = RawMessage::default();
                while let Some(line) = lines.next_line() {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line.is_empty() {
                        continue;
                    }
                    raw.off_grid = 0;
                    chunk.push(decoder.decode(line, &inst, &mut raw).map(|()| &raw));
                    if chunk.len() == LINES_PER_CHUNK {
                        let next = take_chunk(&writer);
                        if !writer.push(std::mem::replace(&mut chunk, next)) {
                            return;
                        }
                    }
                }
                if chunk.len() > 0 && !writer.push(chunk) {
                    return;
                }
                writer.finish(lines.truncated() == Some(true));
            })?;
        Ok(DecodedReader {
            cursor,
            chunk: None,
            pos: 0,
        })
    }

    /// The chunk holding the next line and the line's index in it.
    pub(crate) fn next(&mut self) -> Option<(Arc<Chunk<DecodedChunk>>, usize)> {
        loop {
            if let Some(c) = &self.chunk {
                if self.pos < c.len() {
                    self.pos += 1;
                    return Some((c.clone(), self.pos - 1));
                }
            }
            self.chunk = Some(self.cursor.advance()?.clone());
            self.pos = 0;
        }
    }

    /// Whether the capture ended early; None while still decoding.
    pub(crate) fn truncated(&self) -> Option<bool> {
        self.cursor.truncated()
    }
}
