//! The journal: an append-only record of a session, written as it happens.
//!
//! Format (text, one record per line, greppable):
//! ```text
//! VIGIL-JOURNAL 1
//! <crc32> {"type":"header", ...}
//! <crc32> {"type":"event","seq":1,"ts":...,"event":{...}}     (exactly what clients receive)
//! <crc32> {"type":"keyframe","seq":5000,"view":{...}}        (every KEYFRAME_EVERY events)
//! <crc32> {"type":"command","step":..,"seq":..,"id":..,...}   (before the command is applied)
//! <crc32> {"type":"recovered","at_seq":..,...}                (a run recovered from here on)
//! <crc32> {"type":"end","seq":..,"ts":..}                      (clean shutdown)
//! ```
//! `<crc32>` is the CRC-32 of the JSON text in 8 hex digits: a torn or
//! corrupted record is detected, and reading stops there with the reason. The
//! writer flushes to the OS before events are published to clients, so a
//! `kill -9` never loses an event a client has seen.
//!
//! Commands are written ahead: the command record (with the exact point, step
//! and seq, at which it is applied) is written before the engine applies it,
//! and the client's ack is sent only once the command's events are written
//! too. How far "written" goes is the [`SyncPolicy`]: by default the command
//! record and its events are fsync'd (`sync_data`), so an acknowledged
//! command survives a power cut as well as a `kill -9`. A journal without an
//! `end` record was not shut down cleanly: `vigil engine --recover` continues it.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{Engine, Scenario};
use crate::protocol::{decode_server, Command, EventEnvelope, Role, ServerMessage, SessionView};

pub const MAGIC: &str = "VIGIL-JOURNAL 1";
pub const KEYFRAME_EVERY: u64 = 5000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    pub format: u32,
    pub engine_version: String,
    pub engine_id: String,
    pub session_id: String,
    pub scenario: String,
    pub seed: u64,
    /// Models serving the engine's decisions (`name@hash`, `Engine::model_ids`),
    /// empty when only rules decide.
    pub model_ids: Vec<String>,
    /// The scenario's TOML text, so a session can be re-simulated from its journal.
    pub scenario_toml: String,
    /// This run's epoch: a fresh start draws a new one, recovery keeps it, so a
    /// client can tell whether the engine it resumes against is the one it left.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance_id: String,
    /// The exchange capture the market replays, when it is not the simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
}

/// A fresh run epoch: 16 hex digits from the operating system's randomness.
pub fn new_instance_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl JournalHeader {
    /// The header for `engine`, about to run `scenario` (the same for a live
    /// engine and a scripted recording, so their journals agree).
    pub fn for_engine(engine: &Engine, scenario: &Scenario) -> Result<JournalHeader> {
        let view = engine.view();
        Ok(JournalHeader {
            format: 1,
            engine_version: env!("CARGO_PKG_VERSION").into(),
            engine_id: view.engine_id.clone(),
            session_id: view.session_id.clone(),
            scenario: view.scenario.clone(),
            seed: view.seed,
            model_ids: engine.model_ids(),
            scenario_toml: toml::to_string(scenario).context("serialising the scenario")?,
            // A live engine draws its epoch (`serve`); a scripted recording has
            // none, so it regenerates byte for byte.
            instance_id: String::new(),
            capture: None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Header(JournalHeader),
    Event(EventEnvelope),
    Keyframe { seq: u64, view: Box<SessionView> },
    Command(CommandRecord),
    Recovered(RecoveryRecord),
    End { seq: u64, ts: u64 },
}

/// A command as the engine received it, written before it is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// The engine's step count and last seq when the command was applied: the
    /// exact point between two steps where recovery applies it again.
    pub step: u64,
    pub seq: u64,
    pub ts: u64,
    pub id: String,
    pub user: String,
    pub role: Role,
    pub command: Command,
}

/// A run recovered from the journal: where it took over, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryRecord {
    pub at_seq: u64,
    pub at_ts: u64,
    pub orders: usize,
    /// Wall-clock time of the recovery (RFC 3339, UTC).
    pub wall: String,
}

/// How far each write goes before the engine moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SyncPolicy {
    /// Flush to the operating system before publishing; never fsync. Survives
    /// a crash of the engine, not of the machine.
    Os,
    /// As `os`, and fsync each command record before the command is applied and
    /// its events before it is acknowledged.
    #[default]
    Commands,
    /// As `commands`, and fsync every published batch of events (group commit).
    Batch,
}

/// Where journal bytes go: a file, or (in tests) a writer that fails on cue.
pub trait JournalSink: Write + Send {
    /// Make everything written so far durable.
    fn sync(&mut self) -> io::Result<()>;
}

impl JournalSink for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

fn frame(json: &str) -> String {
    format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()))
}

pub struct JournalWriter {
    out: BufWriter<Box<dyn JournalSink>>,
    path: PathBuf,
    since_keyframe: u64,
    policy: SyncPolicy,
}

impl JournalWriter {
    /// Create `<dir>/<session_id>.vigil` (or `-2`, `-3`… if taken).
    pub fn create(dir: &Path, header: &JournalHeader) -> Result<JournalWriter> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut path = dir.join(format!("{}.vigil", header.session_id));
        let mut n = 2;
        while path.exists() {
            path = dir.join(format!("{}-{n}.vigil", header.session_id));
            n += 1;
        }
        Self::create_at(&path, header)
    }

    pub fn create_at(path: &Path, header: &JournalHeader) -> Result<JournalWriter> {
        let file =
            File::create(path).with_context(|| format!("creating journal {}", path.display()))?;
        Self::over(Box::new(file), path, header)
    }

    /// A journal written to `sink` (which `path` names in messages).
    pub fn over(
        sink: Box<dyn JournalSink>,
        path: &Path,
        header: &JournalHeader,
    ) -> Result<JournalWriter> {
        let mut out = BufWriter::with_capacity(1 << 16, sink);
        writeln!(out, "{MAGIC}")?;
        let json = serde_json::to_string(&Record::Header(header.clone()))?;
        out.write_all(frame(&json).as_bytes())?;
        out.flush()?;
        Ok(JournalWriter {
            out,
            path: path.to_path_buf(),
            since_keyframe: 0,
            policy: SyncPolicy::default(),
        })
    }

    /// Continue an existing journal after its last good record (`good_len`
    /// bytes): a torn last record is cut off, and writing resumes there.
    pub fn reopen(path: &Path, good_len: u64) -> Result<JournalWriter> {
        let mut file = OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("opening journal {} for writing", path.display()))?;
        file.set_len(good_len).with_context(|| {
            format!("cutting journal {} to its last good record", path.display())
        })?;
        file.seek(SeekFrom::End(0))?;
        Ok(JournalWriter {
            out: BufWriter::with_capacity(1 << 16, Box::new(file)),
            path: path.to_path_buf(),
            since_keyframe: 0,
            policy: SyncPolicy::default(),
        })
    }

    pub fn with_policy(mut self, policy: SyncPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append an event, given as the JSON text clients receive.
    pub fn append_event_json(&mut self, json: &str) -> Result<()> {
        self.out.write_all(frame(json).as_bytes())?;
        self.since_keyframe += 1;
        Ok(())
    }

    /// Whether it is time for a keyframe.
    pub fn keyframe_due(&self) -> bool {
        self.since_keyframe >= KEYFRAME_EVERY
    }

    pub fn append_keyframe(&mut self, view: &SessionView) -> Result<()> {
        let json = serde_json::to_string(&Record::Keyframe {
            seq: view.seq,
            view: Box::new(view.clone()),
        })?;
        self.out.write_all(frame(&json).as_bytes())?;
        self.since_keyframe = 0;
        Ok(())
    }

    fn append_record(&mut self, record: &Record) -> Result<()> {
        let json = serde_json::to_string(record)?;
        self.out.write_all(frame(&json).as_bytes())?;
        Ok(())
    }

    /// Write a command ahead of applying it, as durably as the policy says.
    pub fn append_command(&mut self, command: &CommandRecord) -> Result<()> {
        self.append_record(&Record::Command(command.clone()))?;
        self.commit_command()
    }

    /// Make a command's effects durable before it is acknowledged.
    pub fn commit_command(&mut self) -> Result<()> {
        self.out.flush()?;
        if self.policy != SyncPolicy::Os {
            self.out.get_mut().sync()?;
        }
        Ok(())
    }

    pub fn append_recovered(&mut self, r: &RecoveryRecord) -> Result<()> {
        self.append_record(&Record::Recovered(r.clone()))?;
        self.commit_command()
    }

    /// The clean-shutdown mark: a journal that ends with it needs no recovery.
    pub fn append_end(&mut self, seq: u64, ts: u64) -> Result<()> {
        self.append_record(&Record::End { seq, ts })?;
        self.commit_command()
    }

    /// Hand everything written so far to the operating system (and, with the
    /// `batch` policy, to the disk).
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        if self.policy == SyncPolicy::Batch {
            self.out.get_mut().sync()?;
        }
        Ok(())
    }
}

/// Why reading stopped before the end of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Truncation {
    pub line: usize,
    pub byte_offset: u64,
    pub reason: String,
}

/// A journal read back: everything up to the last good record.
#[derive(Debug, Clone)]
pub struct Journal {
    pub header: JournalHeader,
    pub records: Vec<Record>,
    pub truncated: Option<Truncation>,
}

impl Journal {
    pub fn events(&self) -> impl Iterator<Item = &EventEnvelope> {
        self.records.iter().filter_map(|r| match r {
            Record::Event(e) => Some(e),
            _ => None,
        })
    }

    pub fn open(path: &Path) -> Result<Journal> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Self::read(BufReader::new(file), &path.display().to_string())
    }

    pub fn read(input: impl BufRead, origin: &str) -> Result<Journal> {
        let mut reader = JournalReader::new(input, origin)?;
        let mut records = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            records.push(match entry {
                Entry::Header(h) => Record::Header(h),
                Entry::Event { env, .. } => Record::Event(env),
                Entry::Keyframe { seq, view } => Record::Keyframe { seq, view },
                Entry::Command(c) => Record::Command(c),
                Entry::Recovered(r) => Record::Recovered(r),
                Entry::End { seq, ts } => Record::End { seq, ts },
            });
        }
        let (header, truncated) = reader.finish()?;
        Ok(Journal {
            header,
            records,
            truncated,
        })
    }
}

/// One record of a journal as the reader hands it out.
#[derive(Debug, Clone)]
pub enum Entry {
    Header(JournalHeader),
    Event {
        /// Byte offset of the record's line (for reading it again later).
        offset: u64,
        env: EventEnvelope,
    },
    Keyframe {
        seq: u64,
        view: Box<SessionView>,
    },
    Command(CommandRecord),
    Recovered(RecoveryRecord),
    End {
        seq: u64,
        ts: u64,
    },
}

/// Check one framed line (`<crc32> <json>`, without the newline) and return its JSON.
pub fn unframe(line: &[u8]) -> std::result::Result<&str, String> {
    let line = std::str::from_utf8(line).map_err(|_| "record is not UTF-8".to_string())?;
    let (crc, json) = match line.split_once(' ') {
        Some((c, j)) if c.len() == 8 => (c, j),
        _ => return Err("record has no checksum".into()),
    };
    if u32::from_str_radix(crc, 16).ok() != Some(crc32fast::hash(json.as_bytes())) {
        return Err("checksum mismatch (corrupt record)".into());
    }
    Ok(json)
}

/// Whether a record's JSON is a keyframe (without decoding it).
pub fn is_keyframe(json: &str) -> bool {
    json.starts_with("{\"type\":\"keyframe\"")
}

/// The kind of a record that is neither an event, a header nor a keyframe.
fn control_record(json: &str) -> Option<&'static str> {
    // Called for every record: a prefix test, no allocation.
    let kind = json.strip_prefix("{\"type\":\"")?;
    ["command", "recovered", "end"]
        .into_iter()
        .find(|k| kind.strip_prefix(k).is_some_and(|r| r.starts_with('"')))
}

/// Decode an event record's JSON (exactly the frame clients received).
pub fn decode_event(json: &str) -> std::result::Result<EventEnvelope, String> {
    match decode_server(json) {
        Ok(ServerMessage::Event(env)) => Ok(env),
        Ok(_) => Err("a record that is not an event".into()),
        Err(e) => Err(format!("undecodable record: {e}")),
    }
}

/// Reads a journal front to back, the one place that knows its rules: the
/// magic line, one header first, every record's checksum, events without a
/// sequence gap, and a cut-short or corrupt record ending the read with the
/// reason (everything before it is good).
pub struct JournalReader<R> {
    input: R,
    origin: String,
    buf: Vec<u8>,
    offset: u64,
    line_no: usize,
    header: Option<JournalHeader>,
    last_seq: u64,
    truncated: Option<Truncation>,
}

impl JournalReader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        JournalReader::new(
            BufReader::with_capacity(1 << 20, file),
            &path.display().to_string(),
        )
    }
}

impl<R: BufRead> JournalReader<R> {
    pub fn new(mut input: R, origin: &str) -> Result<Self> {
        let mut first = Vec::new();
        (&mut input).take(64).read_until(b'\n', &mut first)?;
        if String::from_utf8_lossy(&first).trim_end() != MAGIC {
            bail!("{origin} is not a vigil journal (it does not start with \"{MAGIC}\")");
        }
        Ok(JournalReader {
            input,
            origin: origin.to_string(),
            buf: Vec::new(),
            offset: first.len() as u64,
            line_no: 1,
            header: None,
            last_seq: 0,
            truncated: None,
        })
    }

    /// Byte offset just past the last good record read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The JSON text of the record `next_entry` returned last (an event's is
    /// exactly the frame clients received).
    pub fn last_json(&self) -> &str {
        let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        unframe(line).unwrap_or("")
    }

    /// The next good record; None at the end of the file or where reading
    /// stopped (`finish` says why). Events before the header are an error.
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        if self.truncated.is_some() {
            return Ok(None);
        }
        self.buf.clear();
        let n = self.input.read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        let line_start = self.offset;
        let stop = |this: &mut Self, reason: String| {
            this.truncated = Some(Truncation {
                line: this.line_no,
                byte_offset: line_start,
                reason,
            });
            Ok(None)
        };
        if self.buf.last() != Some(&b'\n') {
            return stop(self, "the last record is cut short (no end of line)".into());
        }
        let json = match unframe(&self.buf[..self.buf.len() - 1]) {
            Ok(j) => j,
            Err(reason) => return stop(self, reason),
        };
        // Events are nearly every record: they are told first, by prefix.
        let is_event = json.starts_with("{\"type\":\"event\"");
        let entry = if !is_event && json.starts_with("{\"type\":\"header\"") {
            if self.header.is_some() {
                return stop(self, "second header".into());
            }
            match serde_json::from_str::<Record>(json) {
                Ok(Record::Header(h)) => {
                    self.header = Some(h.clone());
                    Entry::Header(h)
                }
                Ok(_) => return stop(self, "undecodable header".into()),
                Err(e) => return stop(self, format!("undecodable header: {e}")),
            }
        } else if !is_event && is_keyframe(json) {
            match serde_json::from_str::<Record>(json) {
                Ok(Record::Keyframe { seq, view }) => Entry::Keyframe { seq, view },
                _ => return stop(self, "undecodable keyframe".into()),
            }
        } else if let Some(kind) = control_record(json).filter(|_| !is_event) {
            if self.header.is_none() {
                bail!("{}: records before the header", self.origin);
            }
            match serde_json::from_str::<Record>(json) {
                Ok(Record::Command(c)) => Entry::Command(c),
                Ok(Record::Recovered(r)) => Entry::Recovered(r),
                Ok(Record::End { seq, ts }) => Entry::End { seq, ts },
                Ok(_) => return stop(self, format!("undecodable {kind} record")),
                Err(e) => return stop(self, format!("undecodable {kind} record: {e}")),
            }
        } else {
            if self.header.is_none() {
                bail!("{}: events before the header", self.origin);
            }
            let env = match decode_event(json) {
                Ok(env) => env,
                Err(reason) => return stop(self, reason),
            };
            if self.last_seq != 0 && env.seq != self.last_seq + 1 {
                let reason = format!("sequence gap: {} after {}", env.seq, self.last_seq);
                return stop(self, reason);
            }
            self.last_seq = env.seq;
            Entry::Event {
                offset: line_start,
                env,
            }
        };
        self.offset += n as u64;
        Ok(Some(entry))
    }

    /// The header (a journal without one is an error) and why reading stopped early, if it did.
    pub fn finish(self) -> Result<(JournalHeader, Option<Truncation>)> {
        let header = self
            .header
            .ok_or_else(|| anyhow::anyhow!("{}: the journal has no header", self.origin))?;
        Ok((header, self.truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{EngineState, Event};

    fn header() -> JournalHeader {
        JournalHeader {
            format: 1,
            engine_version: "test".into(),
            engine_id: "e".into(),
            session_id: "s-1".into(),
            scenario: "calm".into(),
            seed: 1,
            model_ids: vec![],
            scenario_toml: String::new(),
            instance_id: String::new(),
            capture: None,
        }
    }

    fn event(seq: u64) -> String {
        crate::protocol::encode(&crate::protocol::ServerMessage::Event(EventEnvelope {
            seq,
            ts: seq * 10,
            event: Event::EngineState {
                state: EngineState::Running,
                reason: None,
            },
        }))
    }

    #[test]
    fn round_trip_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JournalWriter::create(dir.path(), &header()).unwrap();
        for s in 1..=3 {
            w.append_event_json(&event(s)).unwrap();
        }
        w.flush().unwrap();
        let path = w.path().to_path_buf();
        drop(w);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.events().count(), 3);
        assert!(j.truncated.is_none());
        // Cut the file in the middle of the last record.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.events().count(), 2);
        let t = j.truncated.unwrap();
        assert!(t.reason.contains("cut short"), "{t:?}");
        assert_eq!(t.line, 5);
        // Flip a byte inside the second event: reading stops before it.
        let mut bytes = std::fs::read(&path).unwrap();
        let second = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(2)
            .unwrap()
            .0
            + 20;
        bytes[second] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.events().count(), 1);
        assert!(j.truncated.unwrap().reason.contains("checksum"));
    }

    #[test]
    fn not_a_journal_is_a_clear_error() {
        let err = Journal::read(&b"hello world\n"[..], "notes.txt")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a vigil journal"), "{err}");
        let err = Journal::read(&b""[..], "empty").unwrap_err().to_string();
        assert!(err.contains("not a vigil journal"), "{err}");
    }
}
