//! `vigil replay nats://HOST:PORT --engine NAME`: a session read back from
//! the engine's JetStream stream instead of its journal file. The stream's
//! events are written, in order and checked gap-free, into a journal (header
//! from the session's first event, keyframes as the engine's own writer puts
//! them), which the replay console then opens like any other.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;

use crate::engine::journal::{JournalHeader, JournalWriter};
use crate::protocol::{decode_server, Event, ServerMessage, SessionView};

/// Wait this long for the next message before taking the stream as read.
const QUIET: Duration = Duration::from_secs(2);

/// Read the stream of engine `engine` on the server at `url` into a journal in `dir`.
pub async fn fetch(url: &str, engine: &str, dir: &Path) -> Result<PathBuf> {
    crate::protocol::bus::check_engine_id(engine).map_err(anyhow::Error::msg)?;
    let names = crate::protocol::bus::Names::new(engine);
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(names.stream()).await.with_context(|| {
        format!(
            "no stream {} on {url}: is engine {engine} on this bus?",
            names.stream()
        )
    })?;
    let last = stream
        .info()
        .await
        .context("reading the stream's info")?
        .state
        .last_sequence;
    if last == 0 {
        bail!(
            "the stream {} is empty: engine {engine} has published nothing yet",
            names.stream()
        );
    }
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .context("reading the stream")?;
    let mut messages = consumer.messages().await.context("reading the stream")?;
    let mut writer: Option<JournalWriter> = None;
    let mut view = SessionView::new();
    let mut next_seq = 1u64;
    let mut last_ts = 0;
    let mut instance: Option<String> = None;
    loop {
        let msg = match tokio::time::timeout(QUIET, messages.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => bail!("reading the stream: {e}"),
            Ok(None) | Err(_) => break,
        };
        let stream_seq = msg.info().map(|i| i.stream_sequence).unwrap_or(0);
        let text =
            std::str::from_utf8(&msg.payload).context("a stream message that is not UTF-8")?;
        let env = match decode_server(text) {
            Ok(ServerMessage::Event(env)) => env,
            Ok(_) => bail!("stream message {stream_seq} is not an event frame"),
            Err(e) => bail!("stream message {stream_seq} is not a vigil frame: {e}"),
        };
        // An engine restarted afresh under the same name starts a new run
        // (a new epoch, seq from 1): the latest run is the one replayed.
        let run = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(crate::protocol::bus::HEADER_INSTANCE))
            .map(|v| v.as_str().to_string());
        if run.is_some() && instance.is_some() && run != instance && env.seq == 1 {
            if let Some(w) = writer.take() {
                let _ = std::fs::remove_file(w.path());
            }
            view = SessionView::new();
            next_seq = 1;
        }
        if run.is_some() {
            instance = run;
        }
        // The same run can appear twice (republished after an outage past
        // the duplicate window): what was applied already is dropped.
        if env.seq < next_seq {
            continue;
        }
        if env.seq > next_seq {
            bail!(
                "the stream skips events {next_seq}..{} (retention, or the bus was down longer than the engine's log): replay the engine's journal instead",
                env.seq - 1
            );
        }
        if writer.is_none() {
            let Event::Session {
                engine_id,
                session_id,
                scenario,
                seed,
                ..
            } = &env.event
            else {
                bail!("the stream does not begin with the session's first event: replay the engine's journal instead");
            };
            let header = JournalHeader {
                format: 1,
                engine_version: env!("CARGO_PKG_VERSION").into(),
                engine_id: engine_id.clone(),
                session_id: session_id.clone(),
                scenario: scenario.clone(),
                seed: *seed,
                ..Default::default()
            };
            writer = Some(JournalWriter::create(dir, &header)?);
        }
        let w = writer.as_mut().expect("created above");
        w.append_event_json(text)?;
        view.apply(&env);
        if w.keyframe_due() {
            w.append_keyframe(&view)?;
        }
        next_seq = env.seq + 1;
        last_ts = env.ts;
        if stream_seq >= last {
            break;
        }
    }
    let Some(mut w) = writer else {
        bail!("nothing could be read from the stream {}", names.stream());
    };
    w.append_end(next_seq - 1, last_ts)?;
    w.flush()?;
    Ok(w.path().to_path_buf())
}
