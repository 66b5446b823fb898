//! Runs the engine core on its own thread: paces the simulated clock against
//! wall time, applies commands between events, writes the journal, and
//! publishes encoded events to the hub. The core never waits for a client.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::{oneshot, watch};

use super::core::{CommandOutcome, Engine};
use super::journal::{CommandRecord, JournalWriter};
use crate::protocol::{encode, encode_into, Command, Role, ServerMessage};

/// Encoded events kept for clients that resume or fall behind.
pub const LOG_CAPACITY: usize = 200_000;
/// Largest batch of events processed before publishing.
const BATCH: usize = 2048;
/// Longest time events wait before being published when running flat out.
const MAX_BATCH_DELAY: Duration = Duration::from_millis(5);

/// An event as clients receive it (and the journal records it), encoded
/// through the reused buffer `buf`.
pub fn event_frame(env: crate::protocol::EventEnvelope, buf: &mut Vec<u8>) -> Arc<str> {
    encode_into(&ServerMessage::Event(env), buf);
    std::str::from_utf8(buf)
        .expect("serde_json writes UTF-8")
        .into()
}

/// Requests to the engine thread.
#[allow(clippy::large_enum_variant)] // short-lived, one per request
pub enum Control {
    Command {
        id: String,
        user: String,
        role: Role,
        command: Command,
        reply: oneshot::Sender<CommandOutcome>,
    },
    /// A snapshot consistent with a sequence number: (seq, encoded snapshot message).
    Snapshot {
        reply: oneshot::Sender<(u64, Arc<str>)>,
    },
    Shutdown,
}

/// Events already encoded, shared with the hub.
pub struct EventLog {
    events: VecDeque<(u64, Arc<str>)>,
    capacity: usize,
}

impl EventLog {
    fn new(capacity: usize) -> Self {
        EventLog {
            events: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity,
        }
    }

    fn push(&mut self, seq: u64, frame: Arc<str>) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back((seq, frame));
    }

    /// Oldest sequence number still held.
    pub fn first_seq(&self) -> Option<u64> {
        self.events.front().map(|(s, _)| *s)
    }

    /// Frames with seq ≥ `from`, up to `max` of them, or None if `from` is no longer held.
    pub fn read_from(&self, from: u64, max: usize) -> Option<Vec<(u64, Arc<str>)>> {
        let first = match self.first_seq() {
            Some(f) => f,
            None => return if from <= 1 { Some(Vec::new()) } else { None },
        };
        if from < first {
            return None;
        }
        let start = (from - first) as usize;
        Some(self.events.iter().skip(start).take(max).cloned().collect())
    }
}

/// What the hub shares with the engine thread.
pub struct Shared {
    pub log: Mutex<EventLog>,
    /// Last published seq; the hub's connection tasks wait on it.
    pub published: watch::Sender<u64>,
    /// Simulated time of the last published event (for heartbeats).
    pub sim_ts: AtomicU64,
    pub engine_id: String,
    pub session_id: String,
    /// This run's epoch (see `JournalHeader::instance_id`).
    pub instance_id: String,
    /// Set when this run was recovered from a journal.
    pub restart: Option<crate::protocol::Restart>,
    /// The FIX gateway's sessions (empty without one), for the hub to show.
    pub fix: watch::Sender<Vec<crate::protocol::FixSessionInfo>>,
}

/// A handle on a running engine thread.
#[derive(Clone)]
pub struct EngineHandle {
    pub control: mpsc::Sender<Control>,
    pub shared: Arc<Shared>,
}

impl EngineHandle {
    pub async fn command(
        &self,
        id: &str,
        user: &str,
        role: Role,
        command: Command,
    ) -> Option<CommandOutcome> {
        let (tx, rx) = oneshot::channel();
        self.control
            .send(Control::Command {
                id: id.into(),
                user: user.into(),
                role,
                command,
                reply: tx,
            })
            .ok()?;
        rx.await.ok()
    }

    pub async fn snapshot(&self) -> Option<(u64, Arc<str>)> {
        let (tx, rx) = oneshot::channel();
        self.control.send(Control::Snapshot { reply: tx }).ok()?;
        rx.await.ok()
    }

    pub fn shutdown(&self) {
        let _ = self.control.send(Control::Shutdown);
    }
}

pub struct RunnerOptions {
    /// Simulated seconds per wall second; ≥ 1e6 runs as fast as possible.
    pub speed: f64,
    pub journal: Option<JournalWriter>,
    pub instance_id: String,
    /// A recovered run: when it took over, and the events of the run before
    /// (encoded, oldest first) so clients that were connected resume from them.
    pub restart: Option<crate::protocol::Restart>,
    pub history: Vec<(u64, Arc<str>)>,
    /// Events a recovered run regenerated past the journal's end: (seq, ts,
    /// frame). They are written and published first.
    pub unwritten: Vec<(u64, u64, Arc<str>)>,
}

impl RunnerOptions {
    pub fn new(speed: f64, journal: Option<JournalWriter>) -> Self {
        RunnerOptions {
            speed,
            journal,
            instance_id: super::journal::new_instance_id(),
            restart: None,
            history: Vec::new(),
            unwritten: Vec::new(),
        }
    }
}

/// Start the engine on its own thread.
pub fn spawn(
    engine: Engine,
    mut opts: RunnerOptions,
) -> Result<(EngineHandle, std::thread::JoinHandle<Result<()>>)> {
    let (tx, rx) = mpsc::channel();
    let view = engine.view();
    let mut log = EventLog::new(LOG_CAPACITY);
    let mut last = 0;
    for (seq, frame) in std::mem::take(&mut opts.history) {
        last = seq;
        log.push(seq, frame);
    }
    let shared = Arc::new(Shared {
        log: Mutex::new(log),
        published: watch::channel(last).0,
        sim_ts: AtomicU64::new(engine.now()),
        engine_id: view.engine_id.clone(),
        session_id: view.session_id.clone(),
        instance_id: opts.instance_id.clone(),
        restart: opts.restart.clone(),
        fix: watch::channel(Vec::new()).0,
    });
    let handle = EngineHandle {
        control: tx,
        shared: shared.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("vigil-engine".into())
        .spawn(move || {
            let unwritten = std::mem::take(&mut opts.unwritten);
            let mut runner = Runner::new(engine, opts, shared);
            runner.take_unwritten(unwritten);
            runner.run(rx)
        })?;
    Ok((handle, thread))
}

struct Runner {
    engine: Engine,
    speed: f64,
    journal: Option<JournalWriter>,
    shared: Arc<Shared>,
    pending: Vec<(u64, Arc<str>)>,
    wall_start: Instant,
    sim_start: u64,
    /// Reused encoding buffer.
    buf: Vec<u8>,
}

impl Runner {
    fn new(engine: Engine, opts: RunnerOptions, shared: Arc<Shared>) -> Self {
        let sim_start = engine.now();
        Runner {
            engine,
            speed: opts.speed,
            journal: opts.journal,
            shared,
            pending: Vec::new(),
            wall_start: Instant::now(),
            sim_start,
            buf: Vec::with_capacity(4096),
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Control>) -> Result<()> {
        self.collect();
        self.publish();
        let mut last_publish = Instant::now();
        loop {
            // Commands first: they apply between events.
            loop {
                match rx.try_recv() {
                    Ok(c) => {
                        if !self.handle(c)? {
                            return self.finish();
                        }
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => return self.finish(),
                }
            }
            let Some(next) = self.engine.next_ts() else {
                // Session over: keep serving snapshots and commands.
                self.publish();
                match rx.recv() {
                    Ok(c) => {
                        if !self.handle(c)? {
                            return self.finish();
                        }
                        continue;
                    }
                    Err(_) => return self.finish(),
                }
            };
            if self.speed < 1e6 {
                let due = self.wall_start
                    + Duration::from_secs_f64(
                        next.saturating_sub(self.sim_start) as f64 * 1e-9 / self.speed,
                    );
                let now = Instant::now();
                if due > now {
                    self.publish();
                    last_publish = Instant::now();
                    match rx.recv_timeout(due - now) {
                        Ok(c) => {
                            if !self.handle(c)? {
                                return self.finish();
                            }
                            continue;
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return self.finish(),
                    }
                }
            }
            self.engine.step();
            self.collect();
            if self.pending.len() >= BATCH || last_publish.elapsed() >= MAX_BATCH_DELAY {
                self.publish();
                last_publish = Instant::now();
            }
        }
    }

    /// Apply one control message. Returns false on shutdown.
    fn handle(&mut self, c: Control) -> Result<bool> {
        match c {
            Control::Command {
                id,
                user,
                role,
                command,
                reply,
            } => {
                // Written ahead: the command is on record before it takes effect.
                if let Some(j) = self.journal.as_mut() {
                    let record = CommandRecord {
                        step: self.engine.steps(),
                        seq: self.engine.seq(),
                        ts: self.engine.now(),
                        id: id.clone(),
                        user: user.clone(),
                        role,
                        command: command.clone(),
                    };
                    if let Err(e) = j.append_command(&record) {
                        self.journal_failed(e);
                    }
                }
                let outcome = self.engine.apply_command(&id, &user, role, &command);
                self.collect();
                // The journal holds the command's effects before the client hears of it.
                if let Some(j) = self.journal.as_mut() {
                    if let Err(e) = j.commit_command() {
                        self.journal_failed(e);
                    }
                }
                self.publish();
                let _ = reply.send(outcome);
            }
            Control::Snapshot { reply } => {
                self.collect();
                self.publish();
                let view = self.engine.view();
                let frame: Arc<str> =
                    encode(&ServerMessage::Snapshot(Box::new(view.clone()))).into();
                let _ = reply.send((view.seq, frame));
            }
            Control::Shutdown => return Ok(false),
        }
        Ok(true)
    }

    /// Events already encoded (by recovery) but not yet written: write them
    /// and queue them for clients, as `collect` does with the engine's own.
    fn take_unwritten(&mut self, events: Vec<(u64, u64, Arc<str>)>) {
        for (seq, ts, frame) in events {
            if let Some(Err(e)) = self.journal.as_mut().map(|j| j.append_event_json(&frame)) {
                self.journal_failed(e);
            }
            self.shared.sim_ts.store(ts, Ordering::Relaxed);
            self.pending.push((seq, frame));
        }
    }

    /// Encode new events and append them to the journal buffer.
    fn collect(&mut self) {
        let mut keyframe = false;
        let mut failed = None;
        let mut buf = std::mem::take(&mut self.buf);
        for env in self.engine.drain_events() {
            let seq = env.seq;
            let ts = env.ts;
            let frame = event_frame(env, &mut buf);
            if let Some(j) = self.journal.as_mut() {
                if failed.is_none() {
                    match j.append_event_json(&frame) {
                        Ok(()) => keyframe |= j.keyframe_due(),
                        Err(e) => failed = Some(e),
                    }
                }
            }
            self.shared.sim_ts.store(ts, Ordering::Relaxed);
            self.pending.push((seq, frame));
        }
        self.buf = buf;
        if let Some(e) = failed {
            self.journal_failed(e);
            return;
        }
        if keyframe {
            let view = self.engine.view().clone();
            if let Some(Err(e)) = self.journal.as_mut().map(|j| j.append_keyframe(&view)) {
                self.journal_failed(e);
            }
        }
    }

    /// The journal cannot be written: stop writing it, halt trading (nothing
    /// trades without a record), say why, and keep serving clients.
    fn journal_failed(&mut self, e: anyhow::Error) {
        let Some(j) = self.journal.take() else { return };
        let why = format!("{}: {e:#}", j.path().display());
        tracing::error!("journal write failed, trading halted: {why}");
        self.engine.halt_unrecorded(&format!("{e:#}"));
        // The halt's own events go to clients only: the journal is gone.
        self.collect();
    }

    /// Flush the journal, then make pending events visible to clients.
    fn publish(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if let Some(Err(e)) = self.journal.as_mut().map(|j| j.flush()) {
            self.journal_failed(e);
        }
        let last = self.pending.last().map(|(s, _)| *s).unwrap_or(0);
        {
            let mut log = self.shared.log.lock().expect("event log lock");
            for (seq, frame) in self.pending.drain(..) {
                log.push(seq, frame);
            }
        }
        self.shared.published.send_replace(last);
    }

    fn finish(mut self) -> Result<()> {
        self.collect();
        self.publish();
        if let Some(j) = self.journal.as_mut() {
            j.append_end(self.engine.seq(), self.engine.now())?;
        }
        Ok(())
    }
}
