//! A chain of chunks handed from one producing thread to any number of
//! cursors, with bounded look-ahead and buffer reuse.
//!
//! The replay runs as a pipeline (inflate → decode → engine), each stage on
//! its own thread, passing chunks along. Every cursor holds the chunk it is
//! reading, and each chunk holds the next one, so:
//! - a cursor clones cheaply and a clone reads exactly the same chunks from
//!   the same place (the market, and with it the engine, clones and stays
//!   deterministic);
//! - a chunk every cursor has passed is freed at once, its buffer going back
//!   to the producer for reuse: a long capture never sits in memory whole,
//!   and the few buffers in flight stay warm in cache;
//! - the producer stays at most `ahead` chunks in front of the slowest
//!   cursor, except when a cursor is waiting for data (a cursor parked far
//!   behind another must not stall the one that is reading).

use std::ops::Deref;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// Buffers of freed chunks kept for reuse.
const SPARE_BUFFERS: usize = 16;

#[derive(Debug)]
struct State<T> {
    done: bool,
    /// The producer's input ended early or was damaged.
    truncated: bool,
    /// Chunks published and not yet freed.
    live: usize,
    /// Cursors in existence; none left means nobody will read further.
    cursors: usize,
    /// A cursor is waiting for a chunk not written yet.
    hungry: bool,
    spare: Vec<T>,
}

#[derive(Debug)]
struct Shared<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One chunk of the chain.
#[derive(Debug)]
pub(crate) struct Chunk<T> {
    /// None only for the chain's empty first link and while being freed.
    data: Option<T>,
    next: OnceLock<Arc<Chunk<T>>>,
    shared: Arc<Shared<T>>,
}

impl<T> Deref for Chunk<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("only the chain's head link is empty and it is never read")
    }
}

impl<T> Chunk<T> {
    /// Give this chunk's buffer back to the producer.
    fn release(&mut self) {
        if let Some(data) = self.data.take() {
            let mut s = self.shared.lock();
            s.live -= 1;
            if s.spare.len() < SPARE_BUFFERS {
                s.spare.push(data);
            }
            drop(s);
            self.shared.changed.notify_all();
        }
    }
}

impl<T> Drop for Chunk<T> {
    fn drop(&mut self) {
        self.release();
        // Free the rest of the chain iteratively: dropping a long chain
        // link by link would recurse once per chunk.
        let mut next = self.next.take();
        while let Some(link) = next {
            match Arc::try_unwrap(link) {
                Ok(mut chunk) => {
                    chunk.release();
                    next = chunk.next.take();
                }
                // Still held by a cursor (or the producer): it stays.
                Err(_) => break,
            }
        }
    }
}

/// The producing end.
#[derive(Debug)]
pub(crate) struct ChainWriter<T> {
    shared: Arc<Shared<T>>,
    tail: Arc<Chunk<T>>,
    /// Look-ahead bound; None for a producer that runs before any reader.
    ahead: Option<usize>,
}

/// A reading position: the chunk being read. Clones are independent cursors.
#[derive(Debug)]
pub(crate) struct ChainCursor<T> {
    shared: Arc<Shared<T>>,
    current: Arc<Chunk<T>>,
}

/// A new chain: its producer, kept at most `ahead` chunks in front of the
/// slowest cursor (None: unbounded), and a cursor at its start.
pub(crate) fn chain<T>(ahead: Option<usize>) -> (ChainWriter<T>, ChainCursor<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            done: false,
            truncated: false,
            live: 0,
            cursors: 1,
            hungry: false,
            spare: Vec::new(),
        }),
        changed: Condvar::new(),
    });
    let head = Arc::new(Chunk {
        data: None,
        next: OnceLock::new(),
        shared: shared.clone(),
    });
    (
        ChainWriter {
            shared: shared.clone(),
            tail: head.clone(),
            ahead,
        },
        ChainCursor {
            shared,
            current: head,
        },
    )
}

impl<T> ChainWriter<T> {
    /// A buffer of a freed chunk, to fill again.
    pub(crate) fn reuse(&self) -> Option<T> {
        self.shared.lock().spare.pop()
    }

    /// Publish a chunk, after waiting for room. Returns false when no cursor
    /// is left to read it (the producer may stop).
    pub(crate) fn push(&mut self, data: T) -> bool {
        let mut s = self.shared.lock();
        if let Some(ahead) = self.ahead {
            while s.live >= ahead && !s.hungry && s.cursors > 0 {
                s = self
                    .shared
                    .changed
                    .wait(s)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        if s.cursors == 0 {
            return false;
        }
        s.live += 1;
        s.hungry = false;
        drop(s);
        let chunk = Arc::new(Chunk {
            data: Some(data),
            next: OnceLock::new(),
            shared: self.shared.clone(),
        });
        // Only this writer links chunks, always at the tail.
        let _ = self.tail.next.set(chunk.clone());
        self.tail = chunk;
        self.shared.changed.notify_all();
        true
    }

    /// No more chunks; `truncated` when the input ended early or was damaged.
    pub(crate) fn finish(self, truncated: bool) {
        let mut s = self.shared.lock();
        s.done = true;
        s.truncated |= truncated;
        drop(s);
        self.shared.changed.notify_all();
    }
}

impl<T> ChainCursor<T> {
    /// The chunk being read; None before the first `advance`.
    pub(crate) fn current(&self) -> Option<&T> {
        self.current.data.as_ref()
    }

    /// The chunk being read, shared (to keep reading it while the cursor is
    /// borrowed elsewhere).
    pub(crate) fn current_chunk(&self) -> &Arc<Chunk<T>> {
        &self.current
    }

    /// Move to the next chunk, waiting for the producer if needed; false at
    /// the end of the chain.
    pub(crate) fn advance(&mut self) -> bool {
        let next = match self.current.next.get() {
            Some(n) => n.clone(),
            None => {
                let mut s = self.shared.lock();
                loop {
                    if let Some(n) = self.current.next.get() {
                        break n.clone();
                    }
                    if s.done {
                        return false;
                    }
                    s.hungry = true;
                    self.shared.changed.notify_all();
                    s = self
                        .shared
                        .changed
                        .wait(s)
                        .unwrap_or_else(|e| e.into_inner());
                }
            }
        };
        // Replacing the current chunk may free it (outside the lock: freeing
        // takes the lock).
        self.current = next;
        true
    }

    /// Whether the input ended early or was damaged; None until the
    /// producer has finished.
    pub(crate) fn truncated(&self) -> Option<bool> {
        let s = self.shared.lock();
        s.done.then_some(s.truncated)
    }
}

impl<T> Clone for ChainCursor<T> {
    fn clone(&self) -> Self {
        self.shared.lock().cursors += 1;
        ChainCursor {
            shared: self.shared.clone(),
            current: self.current.clone(),
        }
    }
}

impl<T> Drop for ChainCursor<T> {
    fn drop(&mut self) {
        self.shared.lock().cursors -= 1;
        self.shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut c: ChainCursor<u32>) -> Vec<u32> {
        let mut v = Vec::new();
        while c.advance() {
            v.push(*c.current().unwrap());
        }
        v
    }

    #[test]
    fn cursors_and_clones_read_every_chunk_in_order() {
        let (mut w, c) = chain::<u32>(Some(2));
        let parked = c.clone();
        let t = std::thread::spawn(move || {
            for i in 0..1000 {
                assert!(w.push(i));
            }
            w.finish(false);
        });
        // One cursor reads everything while a clone stays parked at the
        // start: the producer must not wait for the parked one.
        assert_eq!(read_all(c), (0..1000).collect::<Vec<_>>());
        t.join().unwrap();
        assert_eq!(parked.truncated(), Some(false));
        assert_eq!(read_all(parked), (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn look_ahead_is_bounded_and_buffers_come_back() {
        let (mut w, mut c) = chain::<Vec<u8>>(Some(3));
        let shared = w.shared.clone();
        let t = std::thread::spawn(move || {
            let mut fresh = 0;
            for i in 0..200u8 {
                let mut buf = w.reuse().unwrap_or_else(|| {
                    fresh += 1;
                    Vec::new()
                });
                buf.clear();
                buf.push(i);
                assert!(w.push(buf));
            }
            w.finish(false);
            fresh
        });
        let mut seen = 0u8;
        while c.advance() {
            assert_eq!(c.current().unwrap()[0], seen);
            seen = seen.wrapping_add(1);
            assert!(shared.lock().live <= 4, "producer ran ahead");
        }
        assert_eq!(seen, 200);
        let fresh = t.join().unwrap();
        assert!(fresh < 20, "{fresh} buffers allocated for 200 chunks");
    }

    #[test]
    fn producer_stops_when_every_cursor_is_gone() {
        let (mut w, c) = chain::<u32>(Some(1));
        drop(c);
        assert!(!w.push(1));
    }

    #[test]
    fn a_long_chain_frees_without_recursing() {
        let (mut w, c) = chain::<u32>(None);
        for i in 0..1_000_000 {
            w.push(i);
        }
        w.finish(false);
        drop(c);
    }
}
