//! The engine on a NATS bus with JetStream (`vigil engine --nats URL`):
//!
//! - `publisher`: every event frame WebSocket clients get, in order, onto the
//!   stream `VIGIL_<ENGINE>` at `vigil.<engine>.events.<kind>`, each with a
//!   `Nats-Msg-Id` of run epoch and seq (JetStream drops a republished
//!   duplicate); a keyframe (the snapshot a late joiner starts from) in the
//!   KV bucket `vigil_keyframes` under the engine's name.
//! - `presence`: which engines are up (`vigil_presence` KV bucket, a short
//!   max age): scenario, clock, state, last seq; a second engine with the same
//!   name refuses to start.
//! - `commands`: request/reply on `vigil.<engine>.cmd`, the WebSocket
//!   `command` frame with a `token`, answered with the same `ack` (or `error`)
//!   frame, through `EngineHandle::command` — the path every command takes.
//!
//! The engine never waits for the bus: the publisher reads the engine's own
//! event log, so a bus that is slow or down costs the engine nothing. When the
//! bus has been down so long that the log no longer holds the next event, the
//! publisher writes a keyframe and goes on from it (see docs/bus.md).

mod commands;
mod presence;
mod publisher;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tracing::{info, warn};

use super::hub::Access;
use super::runner::EngineHandle;

/// How the engine joins the bus.
#[derive(Debug, Clone)]
pub struct BusOptions {
    pub url: String,
    /// The engine's name on the bus (subjects, stream, presence).
    pub engine_id: String,
    /// What the scenario or market is, for the presence record.
    pub market: String,
    /// Events older than this leave the stream.
    pub max_age: Duration,
    /// The stream's size limit, bytes.
    pub max_bytes: i64,
}

impl BusOptions {
    pub fn new(
        url: impl Into<String>,
        engine_id: impl Into<String>,
        market: impl Into<String>,
    ) -> Self {
        BusOptions {
            url: url.into(),
            engine_id: engine_id.into(),
            market: market.into(),
            max_age: Duration::from_secs(24 * 3600),
            max_bytes: 1 << 30,
        }
    }
}

pub use crate::protocol::bus::{Names, KEYFRAMES, PRESENCE};

/// An engine name that is one NATS subject token and a valid stream name.
pub fn check_engine_id(id: &str) -> Result<()> {
    crate::protocol::bus::check_engine_id(id).map_err(|e| anyhow::anyhow!("--engine-id: {e}"))
}

/// A key-value bucket, created if absent. Its stream is created here, the
/// way JetStream's KV convention lays it out (`KV_<bucket>`, subjects
/// `$KV.<bucket>.>`, one value per key, rollups, direct get), rather than
/// with `create_key_value`: that first reads the account's info, which
/// async-nats 0.51 cannot parse from a 2.9 server (Debian's).
pub async fn open_bucket(
    js: &async_nats::jetstream::Context,
    bucket: &str,
    max_age: Duration,
    max_value: i32,
) -> Result<async_nats::jetstream::kv::Store> {
    use async_nats::jetstream::stream;
    let config = stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        max_message_size: max_value,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    };
    js.get_or_create_stream(config).await.with_context(|| {
        format!("creating the bucket {bucket} (is JetStream enabled: nats-server -js?)")
    })?;
    js.get_key_value(bucket)
        .await
        .with_context(|| format!("opening the bucket {bucket}"))
}

pub struct RunningBus {
    pub client: async_nats::Client,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The last event seq the server acknowledged.
    pub acked: Arc<std::sync::atomic::AtomicU64>,
}

impl RunningBus {
    /// Wait (up to `limit`) until the server has every event up to `seq`.
    pub async fn drain(&self, seq: u64, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.acked.load(std::sync::atomic::Ordering::Relaxed) < seq {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Connect, claim the engine's name, create the stream and buckets, and start
/// publishing and answering commands.
pub async fn start(
    opts: BusOptions,
    engine: EngineHandle,
    access: Arc<Access>,
) -> Result<RunningBus> {
    check_engine_id(&opts.engine_id)?;
    let names = Names {
        engine: opts.engine_id.clone(),
    };
    let client = async_nats::ConnectOptions::new()
        .name(format!("vigil-engine {}", opts.engine_id))
        .connection_timeout(Duration::from_secs(5))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Disconnected => {
                    warn!("bus: disconnected from NATS; events wait in the engine's log")
                }
                async_nats::Event::Connected => info!("bus: connected to NATS"),
                other => info!("bus: {other}"),
            }
        })
        .connect(&opts.url)
        .await
        .with_context(|| format!("connecting to NATS at {}", opts.url))?;
    let js = async_nats::jetstream::new(client.clone());
    let presence = presence::Presence::open(&js, &names, &opts, &engine).await?;
    let stream = async_nats::jetstream::stream::Config {
        name: names.stream(),
        subjects: vec![names.events()],
        max_age: opts.max_age,
        max_bytes: opts.max_bytes,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    js.get_or_create_stream(stream).await.with_context(|| {
        format!(
            "creating the JetStream stream {} (is JetStream enabled: nats-server -js?)",
            names.stream()
        )
    })?;
    open_bucket(&js, KEYFRAMES, Duration::ZERO, 8 << 20).await?;
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(publisher::run(
        js.clone(),
        names.clone(),
        engine.clone(),
        acked.clone(),
    )));
    tasks.push(tokio::spawn(presence.run()));
    let subscriber = client
        .subscribe(names.commands())
        .await
        .context("subscribing to the command subject")?;
    tasks.push(tokio::spawn(commands::serve(
        client.clone(),
        subscriber,
        engine,
        access,
    )));
    info!(
        "bus: engine {} on {} (stream {})",
        opts.engine_id,
        opts.url,
        names.stream()
    );
    Ok(RunningBus {
        client,
        tasks,
        acked,
    })
}
