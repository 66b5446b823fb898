//! A client that stops reading: the engine's event rate must not notice it,
//! and the client is dropped after `STALL_TIMEOUT` (the documented policy: a
//! client that falls `MAX_LAG` events behind is resynchronised from a
//! snapshot; one that reads nothing at all is let go).

use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::SinkExt;
use tokio::io::AsyncReadExt;

use super::net::{self, hello, TRADER, VIEWER};
use super::{Row, Scale};
use crate::engine::hub::STALL_TIMEOUT;

/// Events per second of an engine running a whole day flat out, with one
/// reading client attached and, if asked, one that never reads (its receive
/// buffer small, so the engine's sends to it back up at once).
async fn rate(stall: bool, wait_drop: bool) -> Result<(f64, Option<Duration>)> {
    let engine = net::engine("default", 1e6).await?;
    let mut reader = net::ws_from("127.0.0.1".parse()?, engine.addr).await?;
    reader.send(hello(TRADER, None)).await?;
    let stalled = if stall {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        socket.bind("127.0.0.3:0".parse()?)?;
        let tcp = socket.connect(engine.addr).await?;
        let (mut ws, _) =
            tokio_tungstenite::client_async(format!("ws://{}", engine.addr), tcp).await?;
        ws.send(hello(VIEWER, None)).await?;
        Some(ws)
    } else {
        None
    };
    // The reader drains its socket, as a console does.
    let drain = tokio::spawn(async move {
        use futures_util::StreamExt;
        while reader.next().await.is_some() {}
    });
    let t = Instant::now();
    let day_over = |e: &crate::engine::serve::RunningEngine| {
        let last = *e.handle.shared.published.borrow();
        let log = e.handle.shared.log.lock().expect("log");
        log.read_from(last, 1)
            .and_then(|f| f.first().map(|(_, f)| f.contains("\"state\":\"ended\"")))
            .unwrap_or(false)
    };
    while !day_over(&engine) {
        if t.elapsed() > Duration::from_secs(120) {
            anyhow::bail!("the day did not end within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let r = *engine.handle.shared.published.borrow() as f64 / t.elapsed().as_secs_f64();
    // The stalled client, the engine still running: let go within the
    // timeout, its socket then reads to an end.
    let mut dropped_after = None;
    if let Some(ws) = stalled.filter(|_| wait_drop) {
        // Read nothing past the timeout (reading would un-stall it), then see
        // whether the engine has closed: what it had buffered, then the end.
        let t = Instant::now();
        tokio::time::sleep(STALL_TIMEOUT + Duration::from_secs(3)).await;
        let mut tcp = ws.into_inner();
        let mut buf = vec![0u8; 1 << 16];
        let drain_until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < drain_until {
            match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    dropped_after = Some(t.elapsed());
                    break;
                }
                Ok(Ok(_)) => continue,
                Err(_) => break,
            }
        }
    }
    drain.abort();
    engine.handle.shutdown();
    engine.hub.abort();
    Ok((r, dropped_after))
}

pub async fn run(scale: Scale) -> Result<Row> {
    let rounds = scale.pick(9, 3);
    let (mut quiet, mut with_stall) = (Vec::new(), Vec::new());
    let mut dropped_after = None;
    for i in 0..rounds {
        quiet.push(rate(false, false).await?.0);
        // The drop is waited for once: it takes the whole timeout.
        let (r, d) = rate(true, i == 0).await?;
        with_stall.push(r);
        dropped_after = dropped_after.or(d);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (q, s) = (median(&mut quiet), median(&mut with_stall));
    let change = (s - q) / q * 100.0;
    Ok(Row {
        name: "stalled",
        figure: format!(
            "event rate {:.2} M/s quiet, {:.2} M/s with a stalled client ({change:+.1}%); stalled client dropped: {}",
            q / 1e6,
            s / 1e6,
            dropped_after.map_or("NO".into(), |d| format!("within {:.0} s", d.as_secs_f64()))
        ),
        pass: change.abs() <= 20.0 && dropped_after.is_some(),
        detail: format!(
            "median of {rounds} full days each way, engine flat out (events published per second of the day); the engine drops a client whose socket accepts nothing for {} s; pass: rate within ±20%, client dropped",
            STALL_TIMEOUT.as_secs()
        ),
    })
}
