//! Crash recovery: continue a session from its journal.
//!
//! The engine is deterministic given its scenario, seed (or capture) and the
//! commands it applied, and the journal holds all three: the header carries
//! the scenario and seed, and every command is written ahead with the exact
//! point (step count and seq) where it took effect. Recovery re-runs the
//! session from the start, applying each command at its point, and checks
//! every event it regenerates against the journal's, byte for byte: orders,
//! fills, pauses, retunes, overrides, model kills and alerts come back because
//! they are re-done, not re-read, and a journal the engine cannot reproduce (a
//! different engine version or model) is refused rather than guessed at.
//! Events the crashed run produced but had not written are produced again and
//! written now; the run then goes on exactly as an uninterrupted one would.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::journal::{Entry, JournalHeader, JournalReader, JournalWriter, RecoveryRecord};
use super::runner::{event_frame, LOG_CAPACITY};
use super::{Engine, EngineOptions, Scenario};
use crate::protocol::Restart;

/// A session rebuilt from its journal, ready to run on.
pub struct Recovered {
    pub engine: Engine,
    pub scenario: Scenario,
    pub header: JournalHeader,
    /// The journal, reopened after its last good record.
    pub journal: JournalWriter,
    /// The last events of the run before (seq, frame), for clients that resume.
    pub history: Vec<(u64, Arc<str>)>,
    /// Events the re-run produced past the journal's end: (seq, ts, frame).
    pub unwritten: Vec<(u64, u64, Arc<str>)>,
    pub restart: Restart,
    /// Commands re-applied.
    pub commands: usize,
    /// Why the journal's last record was cut off, if it was.
    pub torn: Option<String>,
}

/// Whether a journal ends with the clean-shutdown mark. Reads only its tail.
pub fn ended_cleanly(path: &Path) -> Result<bool> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(4096);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)?;
    let Some(body) = tail.strip_suffix(b"\n") else {
        return Ok(false);
    };
    let last = body.rsplit(|b| *b == b'\n').next().unwrap_or(body);
    Ok(super::journal::unframe(last).is_ok_and(|j| j.starts_with("{\"type\":\"end\"")))
}

/// The newest journal in `dir` that did not end cleanly, if any.
pub fn find_unclean(dir: &Path) -> Result<Option<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("vigil") {
            continue;
        }
        let Ok(modified) = e.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
            newest = Some((modified, p));
        }
    }
    match newest {
        Some((_, p)) if !ended_cleanly(&p)? => Ok(Some(p)),
        _ => Ok(None),
    }
}

/// The journal to recover from `path`: the file itself, or the newest
/// unclean journal in a directory.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        return find_unclean(path)?.with_context(|| {
            format!(
                "{}: no journal there ended without a clean shutdown; nothing to recover",
                path.display()
            )
        });
    }
    Ok(path.to_path_buf())
}

/// The engine the journal's header describes, built afresh at the start of its day.
fn rebuild(header: &JournalHeader, scenario: &Scenario, base: &EngineOptions) -> Result<Engine> {
    let opts = EngineOptions {
        engine_id: header.engine_id.clone(),
        seed: Some(header.seed),
        ..base.clone()
    };
    match &header.capture {
        None => Engine::new(scenario, &opts),
        Some(capture) => {
            let setup = super::capture_session::prepare(
                Path::new(capture),
                Some(scenario.clone()),
                header.seed,
            )
            .with_context(|| format!("re-opening the capture {capture} the session replayed"))?;
            setup.engine(&opts)
        }
    }
}

/// Events the engine has produced and not yet matched against the journal.
struct Produced {
    queue: VecDeque<(u64, u64, Arc<str>)>,
    buf: Vec<u8>,
}

impl Produced {
    fn take_from(&mut self, engine: &mut Engine) {
        for env in engine.drain_events() {
            let (seq, ts) = (env.seq, env.ts);
            let frame = event_frame(env, &mut self.buf);
            self.queue.push_back((seq, ts, frame));
        }
    }
}

/// Rebuild the session in the journal at `path` and reopen the journal for
/// writing. `base` gives the model options (registry, policy) the run used.
pub fn recover(path: &Path, base: &EngineOptions) -> Result<Recovered> {
    if ended_cleanly(path)? {
        bail!(
            "{} ended with a clean shutdown: there is nothing to recover (start a new session instead)",
            path.display()
        );
    }
    let mut reader = JournalReader::open(path)?;
    let header = match reader.next_entry()? {
        Some(Entry::Header(h)) => h,
        _ => {
            let (_, t) = reader.finish()?;
            bail!(
                "{}: no readable header{}",
                path.display(),
                t.map(|t| format!(" ({})", t.reason)).unwrap_or_default()
            );
        }
    };
    if header.engine_version != env!("CARGO_PKG_VERSION") {
        bail!(
            "{} was written by vigil {}, this is {}: recovery re-runs the session and needs the same engine",
            path.display(),
            header.engine_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    let scenario: Scenario = toml::from_str(&header.scenario_toml)
        .with_context(|| format!("{}: the header's scenario cannot be read", path.display()))?;
    let mut engine = rebuild(&header, &scenario, base)?;
    if engine.model_ids() != header.model_ids {
        bail!(
            "{}: the session ran with models [{}], this engine would load [{}]; recover with the same models",
            path.display(),
            header.model_ids.join(", "),
            engine.model_ids().join(", ")
        );
    }
    let mut produced = Produced {
        queue: VecDeque::new(),
        buf: Vec::with_capacity(4096),
    };
    let mut history: VecDeque<(u64, Arc<str>)> = VecDeque::new();
    let mut commands = 0;
    let diverged = |what: String| -> anyhow::Error {
        anyhow::anyhow!(
            "{}: the re-run does not reproduce the journal ({what}); it cannot be recovered deterministically",
            path.display()
        )
    };
    produced.take_from(&mut engine);
    while let Some(entry) = reader.next_entry()? {
        match entry {
            Entry::Event { env, .. } => {
                while produced.queue.is_empty() {
                    if !engine.step() {
                        produced.take_from(&mut engine);
                        if produced.queue.is_empty() {
                            return Err(diverged(format!(
                                "the session ended before event {}",
                                env.seq
                            )));
                        }
                        break;
                    }
                    produced.take_from(&mut engine);
                }
                let (seq, _, frame) = produced.queue.pop_front().expect("not empty");
                if seq != env.seq || &*frame != reader.last_json() {
                    return Err(diverged(format!(
                        "event {} differs: journal {}, re-run {}",
                        env.seq,
                        clip(reader.last_json()),
                        clip(&frame)
                    )));
                }
                if history.len() == LOG_CAPACITY {
                    history.pop_front();
                }
                history.push_back((seq, frame));
            }
            Entry::Command(c) => {
                if !produced.queue.is_empty() {
                    return Err(diverged(format!(
                        "command {} came before event {} was written",
                        c.id, produced.queue[0].0
                    )));
                }
                while engine.steps() < c.step {
                    if !engine.step() {
                        break;
                    }
                    produced.take_from(&mut engine);
                    if !produced.queue.is_empty() {
                        return Err(diverged(format!(
                            "event {} appeared before command {}",
                            produced.queue[0].0, c.id
                        )));
                    }
                }
                if engine.steps() != c.step || engine.seq() != c.seq {
                    return Err(diverged(format!(
                        "command {} was applied at step {} seq {}, the re-run is at step {} seq {}",
                        c.id,
                        c.step,
                        c.seq,
                        engine.steps(),
                        engine.seq()
                    )));
                }
                engine.apply_command(&c.id, &c.user, c.role, &c.command);
                produced.take_from(&mut engine);
                commands += 1;
            }
            Entry::Header(_) | Entry::Keyframe { .. } | Entry::Recovered(_) => {}
            Entry::End { .. } => bail!("{}: ended cleanly; nothing to recover", path.display()),
        }
    }
    let good_len = reader.offset();
    let (_, truncated) = reader.finish()?;
    let at_seq = history.back().map(|(s, _)| *s).unwrap_or(0);
    let restart = Restart {
        at_ts: engine.now(),
        at_seq,
        orders: engine.order_count(),
    };
    let mut journal = JournalWriter::reopen(path, good_len)?;
    journal.append_recovered(&RecoveryRecord {
        at_seq,
        at_ts: restart.at_ts,
        orders: restart.orders,
        wall: crate::model::registry::now_rfc3339(),
    })?;
    Ok(Recovered {
        engine,
        scenario,
        header,
        journal,
        history: history.into(),
        unwritten: produced.queue.into(),
        restart,
        commands,
        torn: truncated.map(|t| t.reason),
    })
}

fn clip(s: &str) -> String {
    if s.len() <= 160 {
        return s.to_string();
    }
    let mut end = 160;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
