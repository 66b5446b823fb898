//! Decoded messages of a capture, produced on a thread of their own so that
//! inflating, decoding and the engine run side by side.
//!
//! Messages travel between the threads in chunks laid out flat: one array of
//! fixed-size records and one array holding the price levels of all of them.
//! Decoding a depth update therefore allocates nothing per message, and the
//! consumer reads the levels in place instead of copying them out.

use std::ops::Deref;
use std::sync::Arc;

use anyhow::Result;

use super::capture::LineReader;
use super::chain::{chain, ChainCursor, ChainWriter, Chunk};
use super::{Instrument, Level, Malformed, RawKind, RawMessage, VenueDecoder};
use crate::engine::prices::{Px, Qty};

/// Lines per chunk handed from the decoding thread.
const LINES_PER_CHUNK: usize = 1024;

/// The fixed-size part of a decoded line; `valid` is false for a line that
/// is not a message of the venue's format.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Record {
    pub valid: bool,
    pub kind: RawKind,
    pub aggressor_sold: bool,
    pub off_grid: u32,
    pub recv_ns: u64,
    pub first_id: u64,
    pub last_id: u64,
    pub bid: Level,
    pub ask: Level,
    pub price: Px,
    pub qty: Qty,
    /// Ranges of the bid and ask levels in the chunk's `levels`.
    bid_levels: (u32, u32),
    ask_levels: (u32, u32),
}

/// Decoded lines of one chunk of the capture.
#[derive(Debug, Default)]
pub(crate) struct DecodedChunk {
    records: Vec<Record>,
    levels: Vec<Level>,
}

/// A decoded message, borrowed from its chunk: the record's fields (through
/// `Deref`) and its level lists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Msg<'a> {
    record: &'a Record,
    pub bids: &'a [Level],
    pub asks: &'a [Level],
}

impl Deref for Msg<'_> {
    type Target = Record;
    fn deref(&self) -> &Record {
        self.record
    }
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

    fn clear(&mut self) {
        self.records.clear();
        self.levels.clear();
    }

    fn push(&mut self, decoded: Result<&RawMessage, Malformed>) {
        let Ok(m) = decoded else {
            self.records.push(Record::default());
            return;
        };
        let mut span = |levels: &[Level]| {
            let start = self.levels.len() as u32;
            self.levels.extend_from_slice(levels);
            (start, self.levels.len() as u32)
        };
        let bid_levels = span(&m.bids);
        let ask_levels = span(&m.asks);
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
            bid_levels,
            ask_levels,
        });
    }

    /// Message `i`, or None when that line was not a valid message.
    pub(crate) fn message(&self, i: usize) -> Option<Msg<'_>> {
        let record = &self.records[i];
        if !record.valid {
            return None;
        }
        let slice = |(a, b): (u32, u32)| &self.levels[a as usize..b as usize];
        Some(Msg {
            record,
            bids: slice(record.bid_levels),
            asks: slice(record.ask_levels),
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
    /// Position in the cursor's current chunk.
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
                        c.clear();
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
        Ok(DecodedReader { cursor, pos: 0 })
    }

    /// The chunk holding the next line and the line's index in it.
    pub(crate) fn next(&mut self) -> Option<(Arc<Chunk<DecodedChunk>>, usize)> {
        while self.cursor.current().is_none_or(|c| self.pos >= c.len()) {
            if !self.cursor.advance() {
                return None;
            }
            self.pos = 0;
        }
        self.pos += 1;
        Some((self.cursor.current_chunk().clone(), self.pos - 1))
    }

    /// Whether the capture ended early; None while still decoding.
    pub(crate) fn truncated(&self) -> Option<bool> {
        self.cursor.truncated()
    }
}
