//! `vigil bench`: measurements of the engine's hot paths, run in one process
//! so a newcomer can reproduce the README's figures with one command.

pub mod bus;

use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::engine::hub::Tokens;
use crate::engine::market::MarketOut;
use crate::engine::serve::{self, ServeOptions};
use crate::engine::{Engine, EngineOptions, Scenario};
use crate::protocol::*;

/// Background market events per second, simulator alone, one thread.
pub fn simulator_throughput(scenario: &Scenario, events: u64) -> Result<f64> {
    let engine = Engine::new(scenario, &EngineOptions::default())?;
    let mut market = engine.market().clone();
    let mut out: Vec<MarketOut> = Vec::with_capacity(64);
    let start = Instant::now();
    for _ in 0..events {
        out.clear();
        market.step(&mut out);
    }
    Ok(events as f64 / start.elapsed().as_secs_f64())
}

/// Whole engine (market + strategies + controls + event emission), events
/// of every kind processed per second, no clients attached.
pub fn engine_throughput(scenario: &Scenario) -> Result<(u64, u64, f64)> {
    let mut engine = Engine::new(scenario, &EngineOptions::default())?;
    let start = Instant::now();
    let mut emitted = 0u64;
    while engine.step() {
        emitted += engine.drain_events().count() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((engine.market().events(), emitted, secs))
}

/// Events encoded to JSON frames per second, over a real session's events.
/// Returns (events, events/s, bytes/s).
pub fn encoding_throughput(scenario: &Scenario) -> Result<(usize, f64, f64)> {
    let mut engine = Engine::new(scenario, &EngineOptions::default())?;
    let mut events = Vec::new();
    while engine.step() && events.len() < 200_000 {
        events.extend(engine.drain_events().map(ServerMessage::Event));
    }
    let start = Instant::now();
    let mut bytes = 0usize;
    let rounds = 3;
    let mut buf = Vec::with_capacity(4096);
    for _ in 0..rounds {
        for e in &events {
            // As the engine does: encode into a reused buffer, then make the shared frame.
            encode_into(e, &mut buf);
            let frame: std::sync::Arc<str> = std::str::from_utf8(&buf).expect("utf-8").into();
            bytes += frame.len();
        }
    }
    std::hint::black_box(bytes);
    let secs = start.elapsed().as_secs_f64();
    Ok((
        events.len(),
        (events.len() * rounds) as f64 / secs,
        bytes as f64 / secs,
    ))
}

/// Latencies of command → ack over a loopback WebSocket, as a client sees them.
pub async fn command_round_trip(commands: usize) -> Result<Vec<Duration>> {
    command_round_trip_journalled(commands, None).await
}

/// The same with a journal written under `journal` (its directory and sync
/// policy): what durability costs an acknowledgement.
pub async fn command_round_trip_journalled(
    commands: usize,
    journal: Option<(std::path::PathBuf, crate::engine::journal::SyncPolicy)>,
) -> Result<Vec<Duration>> {
    let (record, journal_sync) = match journal {
        Some((dir, policy)) => (Some(dir), policy),
        None => (None, Default::default()),
    };
    let mut tokens = Tokens::default();
    tokens.add("bench-token", "bench", Role::Trader)?;
    let running = serve::start(ServeOptions {
        listen: "127.0.0.1:0".into(),
        scenario: Scenario::load("default")?,
        seed: None,
        speed: 60.0,
        record,
        tokens,
        engine_id: "bench".into(),
        tls: None,
        journal_sync,
        capture: None,
    })
    .await?;
    let (mut ws, _) = tokio_tungstenite::connect_async(running.url()).await?;
    let hello = ClientMessage::Hello {
        protocol: 1,
        token: "bench-token".into(),
        resume_from: None,
        instance_id: None,
    };
    ws.send(Message::text(encode(&hello))).await?;
    let mut latencies = Vec::with_capacity(commands);
    for i in 0..commands {
        let command = if i % 2 == 0 {
            Command::Retune {
                order_id: "P-1".into(),
                params: RetuneParams {
                    urgency: Some(0.4),
                    ..Default::default()
                },
            }
        } else {
            Command::Retune {
                order_id: "P-1".into(),
                params: RetuneParams {
                    urgency: Some(0.6),
                    ..Default::default()
                },
            }
        };
        let id = format!("b{i}");
        let frame = encode(&ClientMessage::Command {
            id: id.clone(),
            command,
        });
        let sent = Instant::now();
        ws.send(Message::text(frame)).await?;
        loop {
            let Some(msg) = ws.next().await else {
                anyhow::bail!("engine closed the connection")
            };
            if let Message::Text(t) = msg? {
                // Cheap check first: only decode what may be our ack.
                if t.as_str().starts_with(r#"{"type":"ack""#) {
                    if let ServerMessage::Ack(a) = decode_server(t.as_str())? {
                        if a.id == id {
                            latencies.push(sent.elapsed());
                            break;
                        }
                    }
                }
            }
        }
    }
    running.handle.shutdown();
    latencies.sort();
    Ok(latencies)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Run everything and print a report.
pub async fn run_all() -> Result<()> {
    let default = Scenario::load("default")?;
    println!(
        "vigil bench ({} cores available)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let sim = tokio::task::spawn_blocking({
        let s = default.clone();
        move || simulator_throughput(&s, 5_000_000)
    })
    .await??;
    println!(
        "simulator, no clients:        {:>10.2} M market events/s (target ≥ 2)",
        sim / 1e6
    );
    let (market_events, emitted, secs) = tokio::task::spawn_blocking({
        let s = default.clone();
        move || engine_throughput(&s)
    })
    .await??;
    println!(
        "engine, full default day:     {:>10.2} M market events/s ({market_events} market events, {emitted} protocol events in {secs:.2} s)",
        market_events as f64 / secs / 1e6
    );
    let (n, enc, bytes) =
        tokio::task::spawn_blocking(move || encoding_throughput(&default)).await??;
    println!(
        "event encoding (JSON):        {:>10.2} M events/s, {:.0} MB/s, over {n} real events (target ≥ 1)",
        enc / 1e6,
        bytes / 1e6
    );
    let lat = command_round_trip(2000).await?;
    println!(
        "command → ack over loopback:  p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} commands (target p99 ≤ 2 ms)",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        percentile(&lat, 1.0).as_secs_f64() * 1e3,
        lat.len()
    );
    // What the journal's durability costs an ack, policy by policy (the journal
    // in the current directory's filesystem, as `--record` would put it).
    use crate::engine::journal::SyncPolicy;
    for policy in [SyncPolicy::Os, SyncPolicy::Commands, SyncPolicy::Batch] {
        let dir =
            std::env::current_dir()?.join(format!(".vigil-bench-journal-{}", std::process::id()));
        let lat = command_round_trip_journalled(1000, Some((dir.clone(), policy))).await;
        let _ = std::fs::remove_dir_all(&dir);
        let lat = lat?;
        println!(
            "  with a journal, sync {:<9} p50 {:.3} ms, p99 {:.3} ms over {} commands",
            format!("{policy:?}").to_lowercase() + ":",
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.len()
        );
    }
    bus::run().await
}
