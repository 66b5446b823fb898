//! The console's side of the bus: one task that joins the NATS server and,
//! per engine, a lane task that asks the engine who we are (`hello` on its
//! command subject), finds where to start (a state saved before the
//! console's own restart, else the engine's keyframe, else its run's first
//! event) and reads the engine's JetStream stream from there with an ordered
//! pull consumer. The central task folds every lane into the `Fleet`, feeds
//! the merged messages to the app as if one engine sent them, routes each
//! command to the engine its order names, and saves where every lane is.
//!
//! Consumers pull: a console that stops reading holds nothing up in an
//! engine, which never waits for the bus.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::stream::Stream;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::merge::{Fleet, LaneLink, LaneVerdict};
use super::saved::{SavedLane, SavedState};
use crate::console::client::{ClientControl, NetEvent};
use crate::protocol::bus::{
    check_engine_id, Names, PresenceRecord, HEADER_INSTANCE, HEADER_SEQ, PRESENCE,
    PRESENCE_STALE_MS,
};
use crate::protocol::{
    decode_server, encode, Ack, ClientMessage, Command, ErrorCode, EventEnvelope, ServerMessage,
    SessionView, Welcome, PROTOCOL_VERSION,
};

/// How long a command may wait for its engine's answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Between attempts of a lane that cannot start.
const LANE_RETRY: Duration = Duration::from_secs(1);
/// The saved state is rewritten this often (and on quit).
const SAVE_EVERY: Duration = Duration::from_secs(2);
/// Lane messages waiting for the central task.
const LANE_QUEUE: usize = 4096;

/// Which engines a console over the bus follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engines {
    One(String),
    /// Every engine with a presence record, as they come.
    All,
}

impl Engines {
    pub fn parse(text: &str) -> Result<Engines> {
        if text == "all" {
            return Ok(Engines::All);
        }
        check_engine_id(text).map_err(|e| anyhow!("--engine: {e}"))?;
        Ok(Engines::One(text.to_string()))
    }
}

#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub url: String,
    pub token: String,
    pub engines: Engines,
    /// Where the console keeps each lane's position and view across its own
    /// restarts; none keeps nothing.
    pub resume_file: Option<PathBuf>,
}

/// What a lane tells the central task.
enum LaneMsg {
    Welcome(Welcome),
    Start {
        instance: String,
        view: Box<SessionView>,
        note: String,
    },
    Event {
        instance: String,
        env: Box<EventEnvelope>,
    },
    Trouble(String),
}

/// What the central task tells a lane.
enum LaneCmd {
    /// The lane skipped events: start again from the keyframe.
    FromKeyframe(String),
}

/// The answer to a command, for the central task.
struct Answer {
    id: String,
    /// (engine, its answer) for every engine the command went to.
    replies: Vec<(String, Result<Ack, String>)>,
}

pub fn spawn_fleet(
    config: FleetConfig,
    events: mpsc::Sender<NetEvent>,
    control: mpsc::UnboundedReceiver<ClientControl>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = run(config, events.clone(), control).await {
            let _ = events.send(NetEvent::Fatal(format!("{e:#}"))).await;
        }
    })
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

async fn connect(url: &str, events: &mpsc::Sender<NetEvent>) -> Result<async_nats::Client> {
    let mut attempt = 0u32;
    loop {
        if events.send(NetEvent::Connecting { attempt }).await.is_err() {
            bail!("the console has gone");
        }
        match async_nats::ConnectOptions::new()
            .name("vigil-console")
            .connection_timeout(Duration::from_secs(3))
            .connect(url)
            .await
        {
            Ok(c) => return Ok(c),
            Err(e) => {
                attempt += 1;
                let _ = events
                    .send(NetEvent::Disconnected {
                        conn: 0,
                        attempt,
                        reason: format!("NATS at {url}: {e}"),
                    })
                    .await;
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt.min(10)))).await;
            }
        }
    }
}

async fn run(
    config: FleetConfig,
    events: mpsc::Sender<NetEvent>,
    mut control: mpsc::UnboundedReceiver<ClientControl>,
) -> Result<()> {
    let client = connect(&config.url, &events).await?;
    let js = async_nats::jetstream::new(client.clone());
    let conn = 1;
    events
        .send(NetEvent::Connected { conn })
        .await
        .map_err(|_| anyhow!("the console has gone"))?;
    let saved = match &config.resume_file {
        Some(path) => SavedState::load(path, &config.url),
        None => SavedState::default(),
    };
    let presence = js.get_key_value(PRESENCE).await.with_context(|| {
        format!(
            "no presence bucket on {}: is any engine on this bus (vigil engine --nats)?",
            config.url
        )
    })?;
    let watch_key = match &config.engines {
        Engines::One(e) => e.clone(),
        Engines::All => ">".into(),
    };
    let mut presence_watch = Some(
        presence
            .watch_with_history(&watch_key)
            .await
            .context("watching the presence bucket")?,
    );

    let mut fleet = Fleet::new();
    // Bounded: a console that falls behind stops its lanes pulling from the
    // stream (JetStream holds the rest), instead of queueing without end.
    let (lane_tx, mut lane_rx) = mpsc::channel::<(String, LaneMsg)>(LANE_QUEUE);
    let (answer_tx, mut answer_rx) = mpsc::unbounded_channel::<Answer>();
    let mut lanes: HashMap<String, mpsc::UnboundedSender<LaneCmd>> = HashMap::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut tasks = Vec::new();
    let mut start_lane =
        |engine: &str,
         fleet: &mut Fleet,
         lanes: &mut HashMap<String, mpsc::UnboundedSender<LaneCmd>>| {
            fleet.add(engine);
            let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
            lanes.insert(engine.to_string(), cmd_tx);
            let lane = LaneTask {
                engine: engine.to_string(),
                token: config.token.clone(),
                client: client.clone(),
                js: js.clone(),
                saved: saved.lanes.get(engine).cloned(),
                out: lane_tx.clone(),
            };
            tasks.push(tokio::spawn(lane.run(cmd_rx)));
        };
    if let Engines::One(e) = &config.engines {
        start_lane(e, &mut fleet, &mut lanes);
    }

    let forward = |msgs: Vec<ServerMessage>| {
        let events = events.clone();
        async move {
            for msg in msgs {
                if events.send(NetEvent::Message { conn, msg }).await.is_err() {
                    return false;
                }
            }
            true
        }
    };

    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last_save = Instant::now();
    // Where every lane was at the last save: an idle bus is not rewritten.
    let mut saved_at: Vec<(String, String, u64)> = Vec::new();
    let mut last_statuses = Vec::new();
    loop {
        tokio::select! {
            entry = async { presence_watch.as_mut().expect("guarded").next().await }, if presence_watch.is_some() => {
                let entry = match entry {
                    Some(Ok(entry)) => entry,
                    Some(Err(_)) => continue,
                    // The watch ends when the server goes away; the tick
                    // below watches again once it is back.
                    None => {
                        presence_watch = None;
                        continue;
                    }
                };
                let Ok(record) = serde_json::from_slice::<PresenceRecord>(&entry.value) else { continue };
                if check_engine_id(&entry.key).is_err() {
                    continue;
                }
                seen.insert(entry.key.clone(), record.wall_ms);
                if !lanes.contains_key(&entry.key) {
                    start_lane(&entry.key, &mut fleet, &mut lanes);
                }
            }
            Some((engine, msg)) = lane_rx.recv() => {
                let out = match msg {
                    LaneMsg::Welcome(w) => fleet.welcome(&engine, w),
                    LaneMsg::Start { instance, view, note } => fleet.start(&engine, &instance, *view, note),
                    LaneMsg::Event { instance, env } => match fleet.event(&engine, &instance, &env) {
                        LaneVerdict::Forward(m) => m,
                        LaneVerdict::Gap { expected, got } => {
                            let why = format!("the stream skipped {expected}..{}", got.saturating_sub(1));
                            fleet.set_link(&engine, LaneLink::Joining);
                            if let Some(l) = lanes.get(&engine) {
                                let _ = l.send(LaneCmd::FromKeyframe(why));
                            }
                            Vec::new()
                        }
                    },
                    LaneMsg::Trouble(why) => {
                        fleet.set_link(&engine, LaneLink::Trouble(why));
                        Vec::new()
                    }
                };
                if !forward(out).await {
                    break;
                }
            }
            Some(answer) = answer_rx.recv() => {
                if !forward(vec![combine(&fleet, answer)]).await {
                    break;
                }
            }
            ctl = control.recv() => match ctl {
                None | Some(ClientControl::Shutdown) => break,
                Some(ClientControl::Reconnect { .. }) => {
                    // The merged count has no gaps of its own: what the app
                    // missed is made good by the whole picture again.
                    if !forward(vec![fleet.snapshot()]).await {
                        break;
                    }
                }
                Some(ClientControl::Send(msg)) => send_command(&client, &config.token, &fleet, None, msg, &answer_tx),
                Some(ClientControl::SendTo { engine, msg }) => send_command(&client, &config.token, &fleet, Some(engine), msg, &answer_tx),
            },
            _ = tick.tick() => {
                if presence_watch.is_none() {
                    presence_watch = presence.watch_with_history(&watch_key).await.ok();
                }
                let now = wall_ms();
                for (engine, at) in &seen {
                    let age = now.saturating_sub(*at);
                    if age > PRESENCE_STALE_MS {
                        fleet.set_link(engine, LaneLink::Trouble(format!("no presence for {} s: engine down?", age / 1000)));
                    } else if let Some(l) = fleet.lanes.get(engine) {
                        if matches!(&l.link, LaneLink::Trouble(w) if w.starts_with("no presence")) {
                            fleet.set_link(engine, if l.started() { LaneLink::Live } else { LaneLink::Joining });
                        }
                    }
                }
                let statuses = fleet.statuses();
                if statuses != last_statuses {
                    last_statuses = statuses.clone();
                    if events.send(NetEvent::Fleet(statuses)).await.is_err() {
                        break;
                    }
                }
                if last_save.elapsed() >= SAVE_EVERY {
                    last_save = Instant::now();
                    save(&config, &fleet, &mut saved_at);
                }
            }
        }
    }
    save(&config, &fleet, &mut saved_at);
    for t in tasks {
        t.abort();
    }
    Ok(())
}

fn save(config: &FleetConfig, fleet: &Fleet, saved_at: &mut Vec<(String, String, u64)>) {
    let Some(path) = &config.resume_file else {
        return;
    };
    let now: Vec<(String, String, u64)> = fleet
        .lanes
        .iter()
        .filter(|(_, l)| l.started())
        .map(|(e, l)| (e.clone(), l.instance.clone(), l.view.seq))
        .collect();
    if now == *saved_at {
        return;
    }
    let state = SavedState {
        url: config.url.clone(),
        lanes: fleet
            .lanes
            .iter()
            .filter(|(_, l)| l.started())
            .map(|(e, l)| {
                (
                    e.clone(),
                    SavedLane {
                        instance: l.instance.clone(),
                        seq: l.view.seq,
                        view: l.view.clone(),
                    },
                )
            })
            .collect(),
    };
    match state.save(path) {
        Ok(()) => *saved_at = now,
        Err(e) => tracing::warn!("console: could not save where it is on the bus: {e:#}"),
    }
}

/// One ack for the app out of the answers of every engine a command went
/// to: accepted only if every one accepted, with each refusal named.
fn combine(fleet: &Fleet, answer: Answer) -> ServerMessage {
    if let [(engine, Ok(ack))] = answer.replies.as_slice() {
        let mut ack = ack.clone();
        ack.id = answer.id;
        return fleet.ack(engine, ack);
    }
    let mut refusals = Vec::new();
    for (engine, reply) in &answer.replies {
        match reply {
            Ok(ack) if ack.ok => {}
            Ok(ack) => refusals.push(format!(
                "{engine}: {}",
                ack.reason.as_deref().unwrap_or("refused")
            )),
            Err(e) => refusals.push(format!("{engine}: {e}")),
        }
    }
    ServerMessage::Ack(Ack {
        id: answer.id,
        ok: refusals.is_empty() && !answer.replies.is_empty(),
        reason: if answer.replies.is_empty() {
            Some("no engine to send it to".into())
        } else if refusals.is_empty() {
            None
        } else {
            Some(refusals.join("; "))
        },
        seq: None,
        order_id: None,
    })
}

/// Send a command to the engine(s) it is for, answering through `answers`.
fn send_command(
    client: &async_nats::Client,
    token: &str,
    fleet: &Fleet,
    scope: Option<String>,
    msg: ClientMessage,
    answers: &mpsc::UnboundedSender<Answer>,
) {
    let ClientMessage::Command { id, command } = msg else {
        // Hello and pings belong to the WebSocket link; nothing to do here.
        return;
    };
    let targets: Vec<(String, Command)> = match super::qualify::route(&command) {
        Ok(Some((engine, local))) => vec![(engine, local)],
        Ok(None) => match scope {
            Some(engine) => vec![(engine, command)],
            None => {
                // Resume all lifts the halts there are, not a halt an
                // engine never had; everything else goes to every engine.
                let halted: Vec<&String> = fleet
                    .lanes
                    .iter()
                    .filter(|(_, l)| l.view.state == crate::protocol::EngineState::Halted)
                    .map(|(e, _)| e)
                    .collect();
                let to: Vec<&String> = match &command {
                    Command::ResumeAll if !halted.is_empty() => halted,
                    _ => fleet.lanes.keys().collect(),
                };
                to.into_iter()
                    .map(|e| (e.clone(), command.clone()))
                    .collect()
            }
        },
        Err(why) => {
            let _ = answers.send(Answer {
                id,
                replies: vec![(String::new(), Err(why))],
            });
            return;
        }
    };
    let client = client.clone();
    let token = token.to_string();
    let answers = answers.clone();
    tokio::spawn(async move {
        let mut replies = Vec::new();
        for (engine, command) in targets {
            let reply = request_command(&client, &token, &engine, &id, command).await;
            replies.push((engine, reply));
        }
        let _ = answers.send(Answer { id, replies });
    });
}

async fn request_command(
    client: &async_nats::Client,
    token: &str,
    engine: &str,
    id: &str,
    command: Command,
) -> Result<Ack, String> {
    let body = serde_json::json!({"type": "command", "id": id, "token": token, "command": command});
    let reply = tokio::time::timeout(
        COMMAND_TIMEOUT,
        client.request(Names::new(engine).commands(), body.to_string().into()),
    )
    .await
    .map_err(|_| format!("no answer within {} s", COMMAND_TIMEOUT.as_secs()))?
    .map_err(|e| format!("not delivered: {e}"))?;
    let text = std::str::from_utf8(&reply.payload).map_err(|_| "an answer that is not UTF-8")?;
    match decode_server(text) {
        Ok(ServerMessage::Ack(ack)) => Ok(ack),
        Ok(ServerMessage::Error { code, message }) => Err(format!("{code:?}: {message}")),
        Ok(other) => Err(format!("an unexpected answer: {}", encode(&other))),
        Err(e) => Err(format!("an answer that is not a vigil frame: {e}")),
    }
}

/// One engine's lane.
struct LaneTask {
    engine: String,
    token: String,
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    saved: Option<SavedLane>,
    out: mpsc::Sender<(String, LaneMsg)>,
}

/// Where a lane reads from next.
#[derive(Clone)]
enum ReadFrom {
    /// The saved state's position (first start only).
    Saved(Box<SavedLane>),
    Keyframe(Option<String>),
    /// Stream sequence (after a consumer error: where it left off).
    StreamSeq(u64),
}

impl LaneTask {
    async fn say(&self, msg: LaneMsg) -> bool {
        self.out.send((self.engine.clone(), msg)).await.is_ok()
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<LaneCmd>) {
        let mut from = match self.saved.take() {
            Some(s) => ReadFrom::Saved(Box::new(s)),
            None => ReadFrom::Keyframe(None),
        };
        loop {
            match self.attempt(from.clone(), &mut cmds).await {
                Ok(next) => from = next,
                Err(e) => {
                    if !self.say(LaneMsg::Trouble(format!("{e:#}"))).await {
                        return;
                    }
                    tokio::time::sleep(LANE_RETRY).await;
                    // A lane that was reading goes on where it was (nothing
                    // is skipped across an outage); one that had not started
                    // tries its start again.
                    if let ReadFrom::Keyframe(Some(_)) = from {
                        from = ReadFrom::Keyframe(None);
                    }
                }
            }
        }
    }

    async fn hello(&self) -> Result<Welcome> {
        let hello = encode_hello(&self.token);
        let reply = tokio::time::timeout(
            COMMAND_TIMEOUT,
            self.client
                .request(Names::new(&self.engine).commands(), hello.into()),
        )
        .await
        .map_err(|_| anyhow!("engine {} does not answer", self.engine))?
        .map_err(|e| anyhow!("engine {} does not answer ({e})", self.engine))?;
        let text = std::str::from_utf8(&reply.payload).context("a welcome that is not UTF-8")?;
        match decode_server(text) {
            Ok(ServerMessage::Welcome(w)) => Ok(w),
            Ok(ServerMessage::Error { code, message }) => {
                if code == ErrorCode::Unauthenticated {
                    bail!("engine {} refused the token: {message}", self.engine)
                }
                bail!("engine {}: {code:?}: {message}", self.engine)
            }
            Ok(_) | Err(_) => bail!("engine {} answered hello with something else", self.engine),
        }
    }

    /// Start once and read until something sends the lane elsewhere.
    async fn attempt(
        &mut self,
        from: ReadFrom,
        cmds: &mut mpsc::UnboundedReceiver<LaneCmd>,
    ) -> Result<ReadFrom> {
        let welcome = self.hello().await?;
        let instance = welcome.instance_id.clone();
        if !self.say(LaneMsg::Welcome(welcome)).await {
            bail!("the console has gone");
        }
        let names = Names::new(&self.engine);
        let stream = self
            .js
            .get_stream(names.stream())
            .await
            .with_context(|| format!("no stream {} yet", names.stream()))?;
        let start = match from {
            ReadFrom::StreamSeq(s) => s,
            ReadFrom::Saved(saved) => {
                let SavedLane {
                    instance: saved_run,
                    seq: saved_seq,
                    view,
                } = *saved;
                let same_run = saved_run == instance;
                let at = if same_run {
                    after(&stream, &instance, saved_seq).await?
                } else {
                    None
                };
                let resume_at = match at {
                    // The event right after the saved one is still on the
                    // stream: the lane goes on exactly where it stopped.
                    Some((at, seq)) if seq == saved_seq + 1 => Some(at),
                    // Nothing of this run past the saved seq: it is the latest.
                    None if same_run => Some(stream_head(&stream).await? + 1),
                    _ => None,
                };
                match resume_at {
                    Some(at) => {
                        self.say(LaneMsg::Start {
                            instance: instance.clone(),
                            view: Box::new(view),
                            note: format!(
                                "resumed from seq {saved_seq} after the console's restart: nothing missed"
                            ),
                        })
                        .await;
                        at
                    }
                    None => {
                        let why = if !same_run {
                            "the engine began a new run while the console was away".to_string()
                        } else {
                            format!(
                                "seq {} saved before the restart is no longer on the stream",
                                saved_seq + 1
                            )
                        };
                        self.start_from_keyframe(&stream, &instance, Some(why))
                            .await?
                    }
                }
            }
            ReadFrom::Keyframe(why) => self.start_from_keyframe(&stream, &instance, why).await?,
        };
        self.read(&stream, start, &instance, cmds).await
    }

    /// Load the keyframe of this run (or the run's start) and return the
    /// stream sequence to read from.
    async fn start_from_keyframe(
        &self,
        stream: &Stream,
        instance: &str,
        why: Option<String>,
    ) -> Result<u64> {
        let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
        let kv = self
            .js
            .get_stream(Names::keyframe_stream())
            .await
            .context("no keyframe bucket")?;
        let keyframe = kv
            .get_last_raw_message_by_subject(&Names::new(&self.engine).keyframe_subject())
            .await
            .ok()
            .filter(|m| header(&m.headers, HEADER_INSTANCE).as_deref() == Some(instance));
        if let Some(k) = keyframe {
            let text = std::str::from_utf8(&k.payload).context("a keyframe that is not UTF-8")?;
            let Ok(ServerMessage::Snapshot(view)) = decode_server(text) else {
                bail!("the keyframe of {} is not a snapshot frame", self.engine);
            };
            let seq = view.seq;
            let start = match after(stream, instance, seq).await? {
                Some((at, _)) => at,
                None => stream_head(stream).await? + 1,
            };
            self.say(LaneMsg::Start {
                instance: instance.to_string(),
                view,
                note: format!("from the keyframe at seq {seq}{why}"),
            })
            .await;
            return Ok(start);
        }
        // No keyframe of this run yet: its first event, if the stream has it.
        match after(stream, instance, 0).await? {
            Some((at, 1)) => Ok(at),
            _ => bail!(
                "no keyframe of engine {}'s run yet{why}: waiting",
                self.engine
            ),
        }
    }

    async fn read(
        &self,
        stream: &Stream,
        start: u64,
        instance: &str,
        cmds: &mut mpsc::UnboundedReceiver<LaneCmd>,
    ) -> Result<ReadFrom> {
        let consumer = stream
            .create_consumer(OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: start.max(1),
                },
                ..Default::default()
            })
            .await
            .context("reading the stream")?;
        let mut messages = consumer.messages().await.context("reading the stream")?;
        let mut next = start;
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(LaneCmd::FromKeyframe(why)) => return Ok(ReadFrom::Keyframe(Some(why))),
                    None => bail!("the console has gone"),
                },
                msg = messages.next() => {
                    let msg = match msg {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => {
                            self.say(LaneMsg::Trouble(format!("reading the stream: {e}"))).await;
                            tokio::time::sleep(LANE_RETRY).await;
                            return Ok(ReadFrom::StreamSeq(next));
                        }
                        None => return Ok(ReadFrom::StreamSeq(next)),
                    };
                    if let Ok(info) = msg.info() {
                        next = info.stream_sequence + 1;
                    }
                    let run = msg
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(HEADER_INSTANCE))
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_else(|| instance.to_string());
                    let Ok(text) = std::str::from_utf8(&msg.payload) else { continue };
                    // Something other than an event frame on the stream is
                    // not ours to show; the lane's seq check catches a loss.
                    let Ok(ServerMessage::Event(env)) = decode_server(text) else { continue };
                    if !self.say(LaneMsg::Event { instance: run, env: Box::new(env) }).await {
                        bail!("the console has gone");
                    }
                }
            }
        }
    }
}

fn encode_hello(token: &str) -> String {
    serde_json::to_string(&ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        token: token.to_string(),
        resume_from: None,
        instance_id: None,
    })
    .expect("a hello encodes")
}

fn header(h: &async_nats::HeaderMap, name: &str) -> Option<String> {
    h.get(name).map(|v| v.as_str().to_string())
}

async fn stream_head(stream: &Stream) -> Result<u64> {
    let mut s = stream.clone();
    Ok(s.info()
        .await
        .context("reading the stream's info")?
        .state
        .last_sequence)
}

/// The first message on the stream of run `instance` with a seq above
/// `seq`: (its stream sequence, its seq). The latest run is the stream's
/// tail and its seqs grow along it, so a binary search over stream
/// sequences finds it in a few dozen reads.
async fn after(stream: &Stream, instance: &str, seq: u64) -> Result<Option<(u64, u64)>> {
    let mut s = stream.clone();
    let state = s
        .info()
        .await
        .context("reading the stream's info")?
        .state
        .clone();
    if state.messages == 0 {
        return Ok(None);
    }
    let (mut lo, mut hi) = (state.first_sequence, state.last_sequence + 1);
    let mut found = None;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let m = stream.get_raw_message(mid).await;
        let (run, vseq) = match &m {
            Ok(m) => (
                header(&m.headers, HEADER_INSTANCE),
                header(&m.headers, HEADER_SEQ).and_then(|v| v.parse::<u64>().ok()),
            ),
            // A message gone from the middle (deleted): look further on.
            Err(_) => (None, None),
        };
        let past = run.as_deref() == Some(instance) && vseq.is_some_and(|v| v > seq);
        if past {
            found = Some((mid, vseq.unwrap_or(0)));
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(found)
}
