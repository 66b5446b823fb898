//! Capture files: line-oriented text, usually gzip-compressed.
//!
//! Inflating is the most expensive single step of a replay, so it runs on its
//! own thread and hands over newline-aligned chunks of text through a chunk
//! chain (`chain`): the consumer parses lines while the next chunk is being
//! inflated (the two cores work side by side), a cursor clones cheaply and a
//! clone reads exactly the same lines (the market, and with it the engine,
//! stays clonable and deterministic), and only a few chunks are in memory at
//! a time.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::Path;

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;

use super::chain::{chain, ChainCursor, ChainWriter};

/// Size of the chunks handed from the inflating thread to the reader.
const CHUNK: usize = 128 * 1024;
/// Chunks inflated ahead of the slowest reader (about 1.5 MB).
const AHEAD: usize = 12;

/// A cursor over the lines of a capture. Cloning it gives an independent
/// cursor at the same position over the same data.
#[derive(Debug, Clone)]
pub struct LineReader {
    cursor: ChainCursor<Vec<u8>>,
    /// Read position in the cursor's current chunk.
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
        let (writer, cursor) = chain(Some(AHEAD));
        std::thread::Builder::new()
            .name("capture-inflate".into())
            .spawn(move || {
                let source = std::io::Cursor::new(head).chain(file);
                if gz {
                    pump(
                        MultiGzDecoder::new(BufReader::with_capacity(64 * 1024, source)),
                        writer,
                    )
                } else {
                    pump(source, writer)
                };
            })
            .context("starting the capture reader thread")?;
        Ok(LineReader::over(cursor))
    }

    /// Lines from bytes already in memory (tests and fixtures).
    pub fn from_bytes(data: Vec<u8>) -> LineReader {
        let (writer, cursor) = chain(None);
        pump(std::io::Cursor::new(data), writer);
        LineReader::over(cursor)
    }

    /// Lines of a gzip stream already in memory.
    pub fn from_gzip_bytes(data: Vec<u8>) -> LineReader {
        let (writer, cursor) = chain(None);
        pump(MultiGzDecoder::new(std::io::Cursor::new(data)), writer);
        LineReader::over(cursor)
    }

    fn over(cursor: ChainCursor<Vec<u8>>) -> LineReader {
        LineReader { cursor, pos: 0 }
    }

    /// The next line without its newline (a trailing '\r' is kept), or None
    /// at the end of the data.
    #[inline]
    pub fn next_line(&mut self) -> Option<&[u8]> {
        while self.cursor.current().is_none_or(|c| self.pos >= c.len()) {
            if !self.cursor.advance() {
                return None;
            }
            self.pos = 0;
        }
        let chunk = self.cursor.current()?;
        let rest = &chunk[self.pos..];
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let start = self.pos;
        self.pos += len + 1;
        Some(&chunk[start..start + len])
    }

    /// Whether the compressed stream was cut short or damaged; None while it
    /// is still being read.
    pub fn truncated(&self) -> Option<bool> {
        self.cursor.truncated()
    }
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

/// Move everything from `r` into the chain in newline-aligned chunks, read
/// straight into reused buffers. Stops early when no reader is left. The
/// input ending in an error (truncated or corrupt compression) marks the
/// chain truncated: the text before the error is kept, up to its last
/// complete line.
fn pump(mut r: impl Read, mut out: ChainWriter<Vec<u8>>) {
    // Buffers are kept at their full length (zeroed once, when new), so a
    // reused buffer is read into without clearing it again.
    let take_buffer = |out: &ChainWriter<Vec<u8>>| {
        let mut b = out.reuse().unwrap_or_default();
        if b.len() < CHUNK {
            b.resize(CHUNK, 0);
        }
        b
    };
    let mut buf = take_buffer(&out);
    let mut filled = 0;
    let mut failed = false;
    loop {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                failed = true;
                break;
            }
        }
        if filled < buf.len() {
            continue;
        }
        // Full: hand over the complete lines, carry the partial one over.
        let Some(nl) = memchr::memrchr(b'\n', &buf) else {
            // A line longer than the buffer: make room for it.
            buf.resize(buf.len() * 2, 0);
            continue;
        };
        let carry = filled - (nl + 1);
        let mut next = take_buffer(&out);
        if next.len() < carry * 2 {
            next.resize(carry * 2, 0);
        }
        next[..carry].copy_from_slice(&buf[nl + 1..filled]);
        buf.truncate(nl + 1);
        if !out.push(std::mem::replace(&mut buf, next)) {
            return;
        }
        filled = carry;
    }
    buf.truncate(filled);
    if failed {
        // The last line is incomplete: a half line must not be parsed as a message.
        match memchr::memrchr(b'\n', &buf) {
            Some(nl) => buf.truncate(nl + 1),
            None => buf.clear(),
        }
    }
    if !buf.is_empty() && !out.push(buf) {
        return;
    }
    out.finish(failed);
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
    fn lines_longer_than_a_chunk_and_many_chunks() {
        let long = "x".repeat(3 * CHUNK + 17);
        let mut text = Vec::new();
        for i in 0..50_000 {
            writeln!(text, "{i}").unwrap();
            if i % 10_000 == 0 {
                writeln!(text, "{long}").unwrap();
            }
        }
        let mut expect = Vec::new();
        for i in 0..50_000 {
            expect.push(i.to_string());
            if i % 10_000 == 0 {
                expect.push(long.clone());
            }
        }
        assert_eq!(lines(LineReader::from_bytes(text.clone())), expect);
        // Through the background inflater, with its bounded look-ahead.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.gz");
        std::fs::write(&path, gzip(&text)).unwrap();
        let r = LineReader::open(&path).unwrap();
        let parked = r.clone();
        assert_eq!(lines(r), expect);
        assert_eq!(parked.truncated(), Some(false));
        assert_eq!(lines(parked), expect);
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
