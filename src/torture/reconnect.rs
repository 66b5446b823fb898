//! A reconnect storm: the console's own client talks to the engine through a
//! TCP proxy that cuts the connection at random moments, again and again.
//! Afterwards the console's state must equal the engine's, with every event
//! applied exactly once, in sequence.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::net::{self, TRADER};
use super::{Row, Scale};
use crate::console::client::{spawn_client, ClientConfig, ClientControl, NetEvent};
use crate::console::state::{ConsoleState, Outcome};
use crate::protocol::{decode_server, ServerMessage};

/// Forward connections to `upstream`; while `cutting`, each lives a random
/// 10–250 ms and is then dropped mid-stream.
async fn proxy(
    listener: TcpListener,
    upstream: std::net::SocketAddr,
    cutting: Arc<AtomicBool>,
    cuts: Arc<AtomicU64>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        let life = Duration::from_millis(rng.random_range(10..250));
        let cutting = cutting.clone();
        let cuts = cuts.clone();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let relay = tokio::io::copy_bidirectional(&mut client, &mut server);
            tokio::pin!(relay);
            loop {
                tokio::select! {
                    _ = &mut relay => return,
                    _ = tokio::time::sleep(life) => {
                        if cutting.load(Ordering::Relaxed) {
                            cuts.fetch_add(1, Ordering::Relaxed);
                            return; // both sockets dropped: the cut
                        }
                    }
                }
            }
        });
    }
}

/// The storm is the same size in both forms: 100 cuts take about 15 s.
pub async fn run(_scale: Scale) -> Result<Row> {
    let wanted_cuts = 100;
    let engine = net::engine("default", 300.0).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_addr = listener.local_addr()?;
    let cutting = Arc::new(AtomicBool::new(true));
    let cuts = Arc::new(AtomicU64::new(0));
    let proxy_task = tokio::spawn(proxy(listener, engine.addr, cutting.clone(), cuts.clone()));

    let mut config = ClientConfig::new(format!("ws://{proxy_addr}"), TRADER);
    config.backoff_initial = Duration::from_millis(5);
    config.backoff_max = Duration::from_millis(20);
    let (tx, mut rx) = mpsc::channel(4096);
    let (ctl, ctl_rx) = mpsc::unbounded_channel();
    let client = spawn_client(config, tx, ctl_rx);

    let mut state = ConsoleState::new();
    let (mut applied, mut duplicates, mut gaps, mut snapshots, mut out_of_order) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut last_applied: Option<u64> = None;
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut settled_at: Option<Instant> = None;
    loop {
        if cuts.load(Ordering::Relaxed) >= wanted_cuts && settled_at.is_none() {
            cutting.store(false, Ordering::Relaxed);
            settled_at = Some(Instant::now());
        }
        if let Some(t) = settled_at {
            // Caught up with the engine, and quiet long enough to be sure.
            let published = *engine.handle.shared.published.borrow();
            if state.view.seq == published && t.elapsed() > Duration::from_secs(1) {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the console did not catch up within 180 s ({} cuts)",
                cuts.load(Ordering::Relaxed)
            );
        }
        let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await else {
            continue;
        };
        let NetEvent::Message { msg, .. } = ev else {
            continue;
        };
        let seq = match &msg {
            ServerMessage::Event(e) => Some(e.seq),
            _ => None,
        };
        match state.apply(&msg) {
            Outcome::Applied => {
                applied += 1;
                if let (Some(s), Some(l)) = (seq, last_applied) {
                    out_of_order += (s != l + 1) as u64;
                }
                last_applied = seq.or(last_applied);
            }
            Outcome::Duplicate => duplicates += 1,
            Outcome::Gap { .. } => {
                gaps += 1;
                let _ = ctl.send(ClientControl::Reconnect {
                    resume_from: Some(state.view.seq),
                });
            }
            Outcome::Snapshot => {
                snapshots += 1;
                last_applied = Some(state.view.seq);
            }
            _ => {}
        }
    }
    let _ = ctl.send(ClientControl::Shutdown);
    let _ = client.await;
    proxy_task.abort();
    // The engine's own view at the same seq.
    let (seq, frame) = engine
        .handle
        .snapshot()
        .await
        .ok_or_else(|| anyhow::anyhow!("engine stopped"))?;
    let ServerMessage::Snapshot(view) = decode_server(&frame)? else {
        bail!("not a snapshot");
    };
    let same = seq == state.view.seq && *view == state.view;
    engine.handle.shutdown();
    engine.hub.abort();
    let n = cuts.load(Ordering::Relaxed);
    Ok(Row {
        name: "reconnect",
        figure: format!(
            "{n} cuts: {applied} events applied, 0 expected twice/missed: {out_of_order} out of order, {gaps} gaps; state {}",
            if same { "equal" } else { "DIFFERENT" }
        ),
        pass: same && out_of_order == 0 && gaps == 0 && n >= wanted_cuts,
        detail: format!(
            "through a proxy cutting each connection after 10–250 ms; {duplicates} re-sent events ignored as duplicates, {snapshots} snapshots; final seq {seq}; pass: console view == engine view, every event applied once in order"
        ),
    })
}
