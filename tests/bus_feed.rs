//! Market data on the bus, with a real nats-server: `vigil feed publish`
//! normalises the BTCUSDT capture onto the bus; engines read it with
//! `--market nats:BTCUSDT`. The session an engine trades from the bus is the
//! session it trades from the file, event for event; two engines read the
//! same subject; and as separate processes (feed handler, two engines) each
//! engine's own events reach its stream.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use support::nats::*;
use vigil::engine::capture_session::{prepare, prepare_source};
use vigil::engine::feed_bus;
use vigil::engine::EngineOptions;
use vigil::protocol::*;

fn capture() -> PathBuf {
    let dir = std::env::var_os("VIGIL_MARKET_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/market"));
    dir.join("binance_spot_btcusdt_20240808.jsonl.gz")
}

fn publish(url: &str) -> String {
    let out = Process::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["feed", "publish", "--nats", url, "--market"])
        .arg(format!("replay:{}", capture().display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A whole session run flat out: every event it emits.
fn run_to_end(setup: vigil::engine::capture_session::CaptureSetup) -> Vec<EventEnvelope> {
    let mut e = setup.engine(&EngineOptions::default()).unwrap();
    let mut events: Vec<_> = e.drain_events().collect();
    while e.step() {
        events.extend(e.drain_events());
    }
    events.extend(e.drain_events());
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_the_bus_is_the_session_from_the_file() {
    let dir = tempdir("feed");
    let server = NatsServer::start(free_port(), &dir.join("js"));
    let said = publish(&server.url());
    assert!(
        said.contains("published 41") && said.contains("BTCUSDT"),
        "{said}"
    );

    let from_file =
        tokio::task::spawn_blocking(|| run_to_end(prepare(&capture(), None, 7).unwrap()))
            .await
            .unwrap();
    assert!(from_file
        .iter()
        .any(|e| matches!(e.event, Event::Fill { .. })));
    // Two engines read the same subject: each gets the whole feed.
    for _ in 0..2 {
        let (header, source) = feed_bus::open(&server.url(), "BTCUSDT", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(header.symbol, "BTCUSDT");
        let from_bus = tokio::task::spawn_blocking(move || {
            run_to_end(
                prepare_source(Box::new(source), header.profile, "nats:BTCUSDT", None, 7).unwrap(),
            )
        })
        .await
        .unwrap();
        assert_eq!(from_bus.len(), from_file.len());
        for (a, b) in from_file.iter().zip(&from_bus) {
            assert_eq!(a, b, "the sessions differ at seq {}", a.seq);
        }
    }

    // A symbol nobody publishes: said plainly, after the wait.
    let err = feed_bus::open(&server.url(), "NOPEUSDT", Duration::from_millis(300))
        .await
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("no market data for NOPEUSDT"),
        "{err:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

struct Engine(Child);

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn engine_on_the_bus(url: &str, name: &str) -> Engine {
    Engine(
        Process::new(env!("CARGO_BIN_EXE_vigil"))
            .args([
                "engine",
                "--listen",
                "127.0.0.1:0",
                "--token",
                "trader-token",
                "--speed",
                "1e7",
                "--market",
                "nats:BTCUSDT",
                "--nats",
                url,
                "--engine-id",
                name,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The fills on an engine's stream once its session has ended.
async fn fills_when_ended(url: &str, engine: &str) -> Vec<(f64, f64)> {
    let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let stream = loop {
        match js
            .get_stream(format!("VIGIL_{}", engine.replace('-', "_")))
            .await
        {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("engine {engine} never reached the bus: {e}"),
        }
    };
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut fills = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(Ok(m))) = tokio::time::timeout(left, messages.next()).await else {
            panic!(
                "engine {engine}'s session did not end on the stream ({} fills)",
                fills.len()
            );
        };
        let ServerMessage::Event(env) =
            decode_server(std::str::from_utf8(&m.payload).unwrap()).unwrap()
        else {
            continue;
        };
        match env.event {
            Event::Fill { price, qty, .. } => fills.push((price, qty)),
            Event::EngineState {
                state: EngineState::Ended,
                ..
            } => return fills,
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_handler_and_two_engines_as_separate_processes() {
    let dir = tempdir("feed-procs");
    let server = NatsServer::start(free_port(), &dir.join("js"));
    let url = server.url();
    // The engines start first and wait for the feed to appear.
    let _a = engine_on_the_bus(&url, "md-1");
    let _b = engine_on_the_bus(&url, "md-2");
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish(&url);
    let a = fills_when_ended(&url, "md-1").await;
    let b = fills_when_ended(&url, "md-2").await;
    assert!(!a.is_empty(), "md-1 traded nothing");
    assert_eq!(a, b, "two engines on one feed, same seed: the same fills");
    let _ = std::fs::remove_dir_all(&dir);
}
