//! Capture files: line-oriented text, usually gzip-compressed.
//!
//! Inflating is the most expensive single step of a replay, so it runs on its
//! own thread and hands over newline-aligned chunks of text; the consumer
//! parses lines while the next chunk is being inflated (the two cores work
//! side by side). The chunks are kept in an append-only log shared by every
//! cursor, so a cursor clones cheaply and a clone reads exactly the same lines
//! (the market, and with it the engine, stays clonable and deterministic).

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;

/// Size of the chunks handed from the inflating thread to the reader.
const CHUNK: usize = 256 * 1024;

#[derive(Debug)]
struct LogState<T> {
    chunks: Vec<Arc<Vec<T>>>,
    done: bool,
    /// The compressed stream ended early or was damaged: what came before is
    /// kept, the incomplete last line is dropped.
    truncated: bool,
}

/// An append-only log of chunks, written by one thread, read by any number
/// of cursors (each waits for the chunk it needs).
#[derive(Debug)]
pub(crate) struct ChunkLog<T> {
    state: Mutex<LogState<T>>,
    ready: Condvar,
}

impl<T> Default for ChunkLog<T> {
    fn default() -> Self {
        ChunkLog {
            state: Mutex::new(LogState {
                chunks: Vec::new(),
                done: false,
                truncated: false,
            }),
            ready: Condvar::new(),
        }
    }
}

impl<T> ChunkLog<T> {
    pub(crate) fn push(&self, chunk: Vec<T>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.chunks.push(Arc::new(chunk));
        self.ready.notify_all();
    }

    pub(crate) fn finish(&self, truncated: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.done = true;
        s.truncated |= truncated;
        self.ready.notify_all();
    }

    /// Chunk `i`, waiting for it if the inflater has not produced it yet.
    /// None once the log is complete and shorter than `i + 1`.
    pub(crate) fn get(&self, i: usize) -> Option<Arc<Vec<T>>> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(c) = s.chunks.get(i) {
                return Some(c.clone());
            }
            if s.done {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    pub(crate) fn truncated(&self) -> Option<bool> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.done.then_some(s.truncated)
    }
}

/// A cursor over the lines of a capture. Cloning it gives an independent
/// cursor at the same position over the same data.
#[derive(Debug, Clone)]
pub struct LineReader {
    log: Arc<ChunkLog<u8>>,
    next_chunk: usize,
    chunk: Arc<Vec<u8>>,
    pos: usize,
}

impl LineReader {
    /// Open a capture file; gzip is recognised by its magic bytes, anything
    /// else is read as plain text. Inflating starts at once in the background.
    pub fn open(path: &Path) -> Result<LineReader> {
        let mut file =
            File::open(path).with_context(|| format!("opening capture {}", path.display()))?;
        let mut magic = [0u8; 2];
        let n = read_full(&mut file, &mut magic).context("reading capture header")?;
        let gz = n == 2 && magic == [0x1f, 0x8b];
        let head = magic[..n].to_vec();
        let log = Arc::new(ChunkLog::default());
        let writer = log.clone();
        std::thread::Builder::new()
            .name("capture-inflate".into())
            .spawn(move || {
                let source = std::io::Cursor::new(head).chain(file);
                let truncated = if gz {
                    pump(
                        MultiGzDecoder::new(BufReader::with_capacity(CHUNK, source)),
                        &writer,
                    )
                } else {
                    pump(source, &writer)
                };
                writer.finish(truncated);
            })
            .context("starting the capture reader thread")?;
        Ok(LineReader::over(log))
    }

    /// Lines from bytes already in memory (tests and fixtures).
    pub fn from_bytes(data: Vec<u8>) -> LineReader {
        let log = Arc::new(ChunkLog::default());
        let truncated = pump(std::io::Cursor::new(data), &log);
        log.finish(truncated);
        LineReader::over(log)
    }

    /// Lines of a gzip stream already in memory.
    pub fn from_gzip_bytes(data: Vec<u8>) -> LineReader {
        let log = Arc::new(ChunkLog::default());
        let truncated = pump(MultiGzDecoder::new(std::io::Cursor::new(data)), &log);
        log.finish(truncated);
        LineReader::over(log)
    }

    fn over(log: Arc<ChunkLog<u8>>) -> LineReader {
        LineReader {
            log,
            next_chunk: 0,
            chunk: Arc::new(Vec::new()),
            pos: 0,
        }
    }

    /// The next line without its newline (a trailing '\r' is kept), or None
    /// at the end of the data.
    #[inline]
    pub fn next_line(&mut self) -> Option<&[u8]> {
        while self.pos >= self.chunk.len() {
            self.chunk = self.log.get(self.next_chunk)?;
            self.next_chunk += 1;
            self.pos = 0;
        }
        let rest = &self.chunk[self.pos..];
        let len = memchr_newline(rest).unwrap_or(rest.len());
        let start = self.pos;
        self.pos += len + 1;
        Some(&self.chunk[start..start + len])
    }

    /// Whether the compressed stream was cut short or damaged; None while it
    /// is still being read.
    pub fn truncated(&self) -> Option<bool> {
        self.log.truncated()
    }
}

#[inline]
fn memchr_newline(s: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', s)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Move everything from `r` into the log in newline-aligned chunks. Returns
/// true when the input ended in an error (truncated or corrupt compression):
/// the text before the error is kept, up to its last complete line.
fn pump(mut r: impl Read, log: &ChunkLog<u8>) -> bool {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
    let mut tmp = vec![0u8; CHUNK / 2];
    let mut failed = false;
    loop {
        match r.read(&mut tmp) {
            Ok(0) => break,
            Ok(k) => buf.extend_from_slice(&tmp[..k]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                failed = true;
                break;
            }
        }
        if buf.len() >= CHUNK {
            if let Some(nl) = memchr::memrchr(b'\n', &buf) {
                let rest = buf[nl + 1..].to_vec();
                buf.truncate(nl + 1);
                let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK * 2));
                log.push(full);
                buf.extend_from_slice(&rest);
            }
        }
    }
    if failed {
        // The last line is incomplete: a half line must not be parsed as a message.
        match memchr::memrchr(b'\n', &buf) {
            Some(nl) => buf.truncate(nl + 1),
            None => buf.clear(),
        }
    }
    if !buf.is_empty() {
        log.push(buf);
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn lines(mut r: LineReader) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(l) = r.next_line() {
            v.push(String::from_utf8_lossy(l).into_owned());
        }
        v
    }

    #[test]
    fn reads_plain_and_gzip_lines() {
        let text = b"a\nbb\n\nccc".to_vec();
        assert_eq!(
            lines(LineReader::from_bytes(text.clone())),
            ["a", "bb", "", "ccc"]
        );
        let r = LineReader::from_gzip_bytes(gzip(&text));
        assert_eq!(r.truncated(), Some(false));
        assert_eq!(lines(r), ["a", "bb", "", "ccc"]);
    }

    #[test]
    fn truncated_gzip_keeps_complete_lines() {
        let mut text = Vec::new();
        for i in 0..20_000 {
            writeln!(text, "line {i} with some padding to make it longer").unwrap();
        }
        let gz = gzip(&text);
        let cut = gz[..gz.len() / 2].to_vec();
        let r = LineReader::from_gzip_bytes(cut);
        assert_eq!(r.truncated(), Some(true));
        let got = lines(r);
        assert!(!got.is_empty() && got.len() < 20_000);
        for (i, l) in got.iter().enumerate() {
            assert_eq!(l, &format!("line {i} with some padding to make it longer"));
        }
    }

    #[test]
    fn clones_read_the_same_lines() {
        let mut r = LineReader::from_bytes(b"1\n2\n3\n".to_vec());
        r.next_line();
        let c = r.clone();
        assert_eq!(lines(r), ["2", "3"]);
        assert_eq!(lines(c), ["2", "3"]);
    }
}
