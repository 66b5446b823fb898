//! A FIX session's memory across restarts: the next sequence number each way,
//! every message sent (for ResendRequests), and a few facts the application
//! keeps with it (which engine event it reported last, an order's current
//! ClOrdID). One append-only file per session, replayed on open.
//!
//! Records, one per line:
//! `S <seq> <hex bytes>`   a message sent with MsgSeqNum `seq`
//! `R <seq>`               the next expected incoming MsgSeqNum is now `seq`
//! `N <seq>`               the next outgoing MsgSeqNum is now `seq` (resets)
//! `K <key> <value>`       an application fact (last write wins)
//! `D <prefix>`            facts whose key starts with `prefix` forgotten
//!
//! Each record is one `write`: it survives the process being killed. With
//! `sync` it is also fsync'd, so it survives the machine (the cost is one
//! disk flush per message).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub struct SessionStore {
    path: PathBuf,
    file: Option<File>,
    sync: bool,
    next_out: u64,
    next_in: u64,
    sent: BTreeMap<u64, Vec<u8>>,
    facts: HashMap<String, String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl SessionStore {
    /// Open (or create) the store of one session in `dir`.
    pub fn open(dir: &Path, name: &str, sync: bool) -> Result<SessionStore> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the FIX store {}", dir.display()))?;
        let path = dir.join(format!("{name}.store"));
        let mut store = SessionStore {
            path: path.clone(),
            file: None,
            sync,
            next_out: 1,
            next_in: 1,
            sent: BTreeMap::new(),
            facts: HashMap::new(),
        };
        if path.exists() {
            let f = File::open(&path).with_context(|| format!("reading {}", path.display()))?;
            let mut good = 0u64;
            for (n, line) in BufReader::new(f).split(b'\n').enumerate() {
                let line = line.with_context(|| format!("reading {}", path.display()))?;
                // A torn last line (killed mid-write) is dropped; anything
                // else unreadable is an error, not silently lost state.
                let text = String::from_utf8_lossy(&line);
                match store.replay(&text) {
                    Some(()) => good += line.len() as u64 + 1,
                    None => {
                        let len = std::fs::metadata(&path)?.len();
                        if good + line.len() as u64 >= len {
                            tracing::warn!(
                                "{}: dropping a torn last record at line {}",
                                path.display(),
                                n + 1
                            );
                            let f = OpenOptions::new().write(true).open(&path)?;
                            f.set_len(good)?;
                            break;
                        }
                        anyhow::bail!(
                            "{} line {}: not a FIX store record: {:.60}",
                            path.display(),
                            n + 1,
                            text
                        );
                    }
                }
            }
        }
        store.file = Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?,
        );
        Ok(store)
    }

    fn replay(&mut self, line: &str) -> Option<()> {
        let mut parts = line.splitn(3, ' ');
        match (parts.next()?, parts.next(), parts.next()) {
            ("S", Some(seq), Some(bytes)) => {
                let seq: u64 = seq.parse().ok()?;
                self.sent.insert(seq, unhex(bytes)?);
                self.next_out = self.next_out.max(seq + 1);
            }
            ("R", Some(seq), None) => self.next_in = seq.parse().ok()?,
            ("N", Some(seq), None) => {
                self.next_out = seq.parse().ok()?;
                let keep = self.next_out;
                self.sent.retain(|s, _| *s < keep);
            }
            ("D", Some(prefix), None) => self.facts.retain(|k, _| !k.starts_with(prefix)),
            ("K", Some(key), value) => {
                self.facts
                    .insert(key.to_string(), value.unwrap_or("").to_string());
            }
            _ => return None,
        }
        Some(())
    }

    fn append(&mut self, record: &str) -> Result<()> {
        let file = self.file.as_mut().expect("store is open");
        file.write_all(record.as_bytes())
            .and_then(|()| if self.sync { file.sync_data() } else { Ok(()) })
            .with_context(|| format!("writing {}", self.path.display()))
    }

    pub fn next_out(&self) -> u64 {
        self.next_out
    }

    pub fn next_in(&self) -> u64 {
        self.next_in
    }

    /// Record a message about to be sent under the next outgoing seq.
    pub fn record_sent(&mut self, seq: u64, bytes: &[u8]) -> Result<()> {
        self.append(&format!("S {seq} {}\n", hex(bytes)))?;
        self.sent.insert(seq, bytes.to_vec());
        self.next_out = seq + 1;
        Ok(())
    }

    pub fn set_next_in(&mut self, seq: u64) -> Result<()> {
        if seq != self.next_in {
            self.append(&format!("R {seq}\n"))?;
            self.next_in = seq;
        }
        Ok(())
    }

    /// Both sequence numbers back to 1 (Logon with ResetSeqNumFlag).
    /// (and the facts under `forget` dropped: a new FIX day, ClOrdIDs may repeat).
    pub fn reset(&mut self, forget: &str) -> Result<()> {
        self.append(&format!("N 1\nR 1\nD {forget}\n"))?;
        self.next_out = 1;
        self.next_in = 1;
        self.sent.clear();
        self.facts.retain(|k, _| !k.starts_with(forget));
        Ok(())
    }

    /// Record a sent message and a fact in one write (the fact says the
    /// message was made: a crash keeps both or neither, short of a torn write).
    pub fn record_sent_with_fact(
        &mut self,
        seq: u64,
        bytes: &[u8],
        key: &str,
        value: &str,
    ) -> Result<()> {
        self.append(&format!("S {seq} {}\nK {key} {value}\n", hex(bytes)))?;
        self.sent.insert(seq, bytes.to_vec());
        self.next_out = seq + 1;
        self.facts.insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// Messages sent with seq in `from..=to`.
    pub fn sent_range(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, &[u8])> {
        self.sent
            .range(from..=to.max(from))
            .map(|(s, b)| (*s, b.as_slice()))
    }

    pub fn fact(&self, key: &str) -> Option<&str> {
        self.facts.get(key).map(String::as_str)
    }

    pub fn set_fact(&mut self, key: &str, value: &str) -> Result<()> {
        debug_assert!(!key.contains(' ') && !value.contains('\n'));
        if self.facts.get(key).map(String::as_str) == Some(value) {
            return Ok(());
        }
        self.append(&format!("K {key} {value}\n"))?;
        self.facts.insert(key.to_string(), value.to_string());
        Ok(())
    }

    pub fn facts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.facts.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_store_continues_and_a_torn_record_is_dropped() {
        let dir = std::env::temp_dir().join(format!("vigil-fix-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let mut s = SessionStore::open(&dir, "OMS1-VIGIL", false).unwrap();
            s.record_sent(1, b"8=FIX.4.4\x01a").unwrap();
            s.record_sent(2, b"8=FIX.4.4\x01b").unwrap();
            s.set_next_in(5).unwrap();
            s.set_fact("order.P-1", "A-2").unwrap();
        }
        // Killed mid-write: half a record at the end.
        let path = dir.join("OMS1-VIGIL.store");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"S 3 8=").unwrap();
        let s = SessionStore::open(&dir, "OMS1-VIGIL", false).unwrap();
        assert_eq!((s.next_out(), s.next_in()), (3, 5));
        assert_eq!(s.sent_range(2, 9).count(), 1);
        assert_eq!(s.fact("order.P-1"), Some("A-2"));
        // Garbage in the middle is an error, not lost state.
        std::fs::write(&path, "S 1 00\nnonsense\nR 4\n").unwrap();
        let err = SessionStore::open(&dir, "OMS1-VIGIL", false).err().unwrap();
        assert!(err.to_string().contains("line 2"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
