//! The bus measured beside the WebSocket path (`vigil bench`, when
//! `nats-server` is on the PATH): three engines flat out into one console's
//! reducer, over JetStream and over three WebSockets; and command → ack by
//! request/reply. A nats-server of its own on a free port, store in a
//! temporary directory.

use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::percentile;
use crate::console::state::ConsoleState;
use crate::engine::bus::{self, BusOptions, Names};
use crate::engine::hub::Tokens;
use crate::engine::serve::{self, RunningEngine, ServeOptions};
use crate::engine::Scenario;
use crate::protocol::*;

const TOKEN: &str = "bench-token";
const ENGINES: usize = 3;

struct Server(Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_server() -> Result<Option<(Server, String)>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let store = std::env::temp_dir().join(format!("vigil-bench-nats-{}", std::process::id()));
    let child = match Process::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return Ok(None),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Some((
        Server(child, store),
        format!("nats://127.0.0.1:{port}"),
    )))
}

async fn engine(id: &str, speed: f64, seed: u64) -> Result<RunningEngine> {
    let mut tokens = Tokens::default();
    tokens.add(TOKEN, "bench", Role::Trader)?;
    let mut opts = ServeOptions::new("127.0.0.1:0", Scenario::load("default")?, tokens);
    opts.speed = speed;
    opts.seed = Some(seed);
    opts.engine_id = id.into();
    serve::start(opts).await
}

fn wall_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i128
}

/// Three engines flat out, every event through JetStream into one reducer:
/// (events, events/s, latencies stored → applied).
async fn three_engines_on_the_bus(url: &str) -> Result<(usize, f64, Vec<Duration>)> {
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client);
    let mut engines = Vec::new();
    let mut buses = Vec::new();
    for i in 0..ENGINES {
        let id = format!("bench-{i}");
        let e = engine(&id, 1e7, 40 + i as u64).await?;
        buses.push(
            bus::start(
                BusOptions::new(url, &id, "default"),
                e.handle.clone(),
                e.access.clone(),
            )
            .await?,
        );
        engines.push(e);
    }
    let mut streams = futures_util::stream::SelectAll::new();
    for i in 0..ENGINES {
        let names = Names {
            engine: format!("bench-{i}"),
        };
        let stream = js.get_stream(names.stream()).await?;
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
            .await?;
        streams.push(consumer.messages().await?.map(move |m| (i, m)));
    }
    let mut states: Vec<ConsoleState> = (0..ENGINES).map(|_| ConsoleState::new()).collect();
    let mut ended = [false; ENGINES];
    let mut latencies = Vec::new();
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while !ended.iter().all(|e| *e) && Instant::now() < deadline {
        let Ok(Some((i, m))) = tokio::time::timeout(Duration::from_secs(10), streams.next()).await
        else {
            break;
        };
        let m = m.map_err(|e| anyhow::anyhow!("{e}"))?;
        first.get_or_insert_with(Instant::now);
        let msg = decode_server(std::str::from_utf8(&m.payload)?)?;
        states[i].apply(&msg);
        if let Ok(info) = m.info() {
            let stored = info.published.unix_timestamp_nanos();
            latencies.push(Duration::from_nanos((wall_ns() - stored).max(0) as u64));
        }
        if let ServerMessage::Event(env) = &msg {
            if matches!(
                env.event,
                Event::EngineState {
                    state: EngineState::Ended,
                    ..
                }
            ) {
                ended[i] = true;
            }
        }
    }
    let secs = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(1.0);
    for b in &buses {
        b.stop();
    }
    for e in &engines {
        e.handle.shutdown();
    }
    latencies.sort();
    Ok((latencies.len(), latencies.len() as f64 / secs, latencies))
}

/// The same three engines, each to its own WebSocket, into one reducer per engine.
async fn three_engines_on_websockets() -> Result<(usize, f64)> {
    let mut engines = Vec::new();
    for i in 0..ENGINES {
        engines.push(engine(&format!("ws-{i}"), 1e7, 40 + i as u64).await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for e in &engines {
        let url = e.url();
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
            let hello = ClientMessage::Hello {
                protocol: 1,
                token: TOKEN.into(),
                resume_from: Some(0),
                instance_id: None,
            };
            ws.send(Message::text(encode(&hello))).await?;
            let mut state = ConsoleState::new();
            let mut n = 0usize;
            while let Some(msg) = ws.next().await {
                let Message::Text(t) = msg? else { continue };
                let msg = decode_server(t.as_str())?;
                state.apply(&msg);
                if let ServerMessage::Event(_) = &msg {
                    n += 1;
                }
                // A client that falls behind is resynchronised from a
                // snapshot, which may already show the day's end.
                if state.view.state == EngineState::Ended {
                    break;
                }
            }
            anyhow::Ok(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    for e in &engines {
        e.handle.shutdown();
    }
    Ok((total, total as f64 / secs))
}

/// Command → ack by request/reply on the bus.
async fn command_round_trip(url: &str, commands: usize) -> Result<Vec<Duration>> {
    let e = engine("bench-cmd", 60.0, 1).await?;
    let b = bus::start(
        BusOptions::new(url, "bench-cmd", "default"),
        e.handle.clone(),
        e.access.clone(),
    )
    .await?;
    let client = async_nats::connect(url).await?;
    let mut latencies = Vec::with_capacity(commands);
    for i in 0..commands {
        let urgency = if i % 2 == 0 { 0.4 } else { 0.6 };
        let body = format!(
            r#"{{"type":"command","id":"b{i}","token":"{TOKEN}","command":{{"kind":"retune","order_id":"P-1","params":{{"urgency":{urgency}}}}}}}"#
        );
        let sent = Instant::now();
        let reply = client
            .request("vigil.bench-cmd.cmd", body.into())
            .await
            .context("a command over the bus")?;
        latencies.push(sent.elapsed());
        anyhow::ensure!(
            reply.payload.starts_with(br#"{"type":"ack""#),
            "not an ack: {:?}",
            reply.payload
        );
    }
    b.stop();
    e.handle.shutdown();
    latencies.sort();
    Ok(latencies)
}

/// One engine flat out through a whole default day; `consoles` bus
/// consoles (the console's own link, `console::fleet`, each into its own
/// reducer) following it. Returns (the engine's day in seconds, its events,
/// each console's lag behind the engine's end).
async fn fan_out(url: &str, consoles: usize, run: usize) -> Result<(f64, u64, Vec<Duration>)> {
    use crate::console::client::{ClientControl, NetEvent};
    use crate::console::fleet::{spawn_fleet, Engines, FleetConfig};
    let id = format!("fan-{consoles}-{run}");
    let e = engine(&id, 1e7, 50).await?;
    let b = bus::start(
        BusOptions::new(url, &id, "default"),
        e.handle.clone(),
        e.access.clone(),
    )
    .await?;
    let mut followers = Vec::new();
    for _ in 0..consoles {
        let (net_tx, mut net_rx) = tokio::sync::mpsc::channel(65_536);
        let (ctl_tx, ctl_rx) = tokio::sync::mpsc::unbounded_channel();
        let link = spawn_fleet(
            FleetConfig {
                url: url.into(),
                token: TOKEN.into(),
                engines: Engines::One(id.clone()),
                resume_file: None,
            },
            net_tx,
            ctl_rx,
        );
        followers.push((
            tokio::spawn(async move {
                let mut state = ConsoleState::new();
                while let Some(ev) = net_rx.recv().await {
                    if let NetEvent::Message { msg, .. } = ev {
                        state.apply(&msg);
                        if state.view.state == EngineState::Ended {
                            return Some(Instant::now());
                        }
                    }
                }
                None
            }),
            ctl_tx,
            link,
        ));
    }
    // The engine's day: from now until its session has ended.
    let start = Instant::now();
    let ended_at = loop {
        let (_, snap) = e.handle.snapshot().await.context("the engine stopped")?;
        if snap.contains("\"state\":\"ended\"") {
            break Instant::now();
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(300),
            "the day did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let events = *e.handle.shared.published.borrow();
    let mut lags = Vec::new();
    for (follower, ctl, link) in followers {
        let done = tokio::time::timeout(Duration::from_secs(120), follower)
            .await
            .context("a console did not catch up")??;
        let done = done.context("a console's link ended early")?;
        lags.push(done.saturating_duration_since(ended_at));
        let _ = ctl.send(ClientControl::Shutdown);
        let _ = link.await;
    }
    b.stop();
    e.handle.shutdown();
    lags.sort();
    Ok(((ended_at - start).as_secs_f64(), events, lags))
}

pub async fn run() -> Result<()> {
    let Some((_server, url)) = start_server()? else {
        println!("bus: skipped (no nats-server on the PATH; apt-get install nats-server)");
        return Ok(());
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (n, rate, lat) = three_engines_on_the_bus(&url).await?;
    println!(
        "bus, 3 engines → 1 reducer:   {:>10.3} M events/s ({n} events, every one applied; the three days' ends shown after {:.2} s); stored → applied p50 {:.1} ms, p99 {:.1} ms",
        rate / 1e6,
        n as f64 / rate,
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    let (n, rate) = three_engines_on_websockets().await?;
    println!(
        "websocket, 3 engines:         {:>10.3} M events/s ({n} events; the three days' ends shown after {:.2} s: a client behind is resynchronised from a snapshot, so it applies fewer)",
        rate / 1e6,
        n as f64 / rate
    );
    for (run, consoles) in [0usize, 20, 0, 20].into_iter().enumerate() {
        let (secs, events, lags) = fan_out(&url, consoles, run).await?;
        let lag = if lags.is_empty() {
            String::new()
        } else {
            format!(
                "; consoles behind the engine's end: p50 {:.0} ms, max {:.0} ms",
                ms(percentile(&lags, 0.5)),
                ms(*lags.last().expect("not empty"))
            )
        };
        println!(
            "fan-out, 1 engine, {consoles:>2} consoles: engine {:.3} M events/s ({events} events in {secs:.2} s){lag}",
            events as f64 / secs / 1e6
        );
    }
    let lat = command_round_trip(&url, 1000).await?;
    println!(
        "command → ack over the bus:   p50 {:.3} ms, p99 {:.3} ms over {} commands",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        lat.len()
    );
    Ok(())
}
