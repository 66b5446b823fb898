//! `vigil feed publish`: a capture through the feed handler onto the bus.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use async_nats::jetstream::context::PublishAckFuture;
use tokio::sync::mpsc;

use crate::engine::feed::wire::{FeedFrame, FeedHeader};
use crate::engine::feed::{open_capture, profile, FeedSource, HandlerOptions};
use crate::protocol::bus::{FeedNames, FEEDS, HEADER_FEED_RUN};

/// Publishes awaiting their acknowledgement at once.
const IN_FLIGHT: usize = 512;
/// Frames read ahead of the publisher.
const READ_AHEAD: usize = 8192;

#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub url: String,
    pub capture: PathBuf,
    /// Capture seconds per wall second; `None` publishes as fast as the
    /// server acknowledges.
    pub speed: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Published {
    pub symbol: String,
    pub events: u64,
    pub elapsed: Duration,
    pub run: String,
}

fn tick_string(value: f64, decimals: u32) -> String {
    format!("{value:.*}", decimals as usize)
}

/// Read the capture on a thread of its own (decoding is CPU work) into
/// encoded frames, the handler's issue counters attached where they change.
fn reader(mut source: Box<dyn FeedSource>, out: mpsc::Sender<(u64, &'static str, String)>) {
    let mut n = 0u64;
    let mut issues = source.stats().issue_counts();
    while let Some(t) = source.next_event() {
        n += 1;
        let now = source.stats().issue_counts();
        let changed = (now != issues).then_some(now);
        issues = now;
        let frame = FeedFrame::of(n, &t, changed);
        let kind = frame.kind();
        let json = serde_json::to_string(&frame).expect("a frame encodes");
        if out.blocking_send((t.recv_ns, kind, json)).is_err() {
            return;
        }
    }
    n += 1;
    let end = FeedFrame::End {
        n,
        stats: source.stats().clone(),
    };
    let _ = out.blocking_send((0, "end", serde_json::to_string(&end).expect("encodes")));
}

pub async fn publish(opts: PublishOptions) -> Result<Published> {
    let path = opts.capture.clone();
    let (header, source) = tokio::task::spawn_blocking(move || -> Result<_> {
        let p = profile(open_capture(&path, HandlerOptions::default())?);
        let source = open_capture(&path, HandlerOptions::default())?;
        let inst = source.instrument().clone();
        if p.trades == 0 || p.first_mid_ticks <= 0.0 {
            anyhow::bail!(
                "{}: no usable quotes or trades in the capture ({})",
                path.display(),
                p.stats
            );
        }
        let header = FeedHeader {
            symbol: inst.symbol.clone(),
            venue: source.venue().to_string(),
            tick: tick_string(inst.tick_size(), inst.price_decimals()),
            lot: tick_string(inst.lot_size(), inst.qty_decimals()),
            profile: p,
            run: crate::engine::journal::new_instance_id(),
            source: path.display().to_string(),
        };
        Ok((header, source))
    })
    .await
    .map_err(|e| anyhow!("reading the capture: {e}"))??;
    super::check_symbol(&header.symbol)?;
    let names = FeedNames::new(&header.symbol);
    let client = async_nats::ConnectOptions::new()
        .name(format!("vigil-feed {}", header.symbol))
        .connection_timeout(Duration::from_secs(5))
        .connect(&opts.url)
        .await
        .with_context(|| format!("connecting to NATS at {}", opts.url))?;
    let js = async_nats::jetstream::new(client);
    let stream_config = async_nats::jetstream::stream::Config {
        name: names.stream(),
        subjects: vec![names.subjects()],
        max_age: Duration::from_secs(24 * 3600),
        max_bytes: 1 << 30,
        ..Default::default()
    };
    let stream = js
        .get_or_create_stream(stream_config)
        .await
        .with_context(|| {
            format!(
                "creating the stream {} (is JetStream enabled: nats-server -js?)",
                names.stream()
            )
        })?;
    // A new publication replaces the old: readers start from its header.
    stream
        .purge()
        .await
        .with_context(|| format!("emptying the stream {}", names.stream()))?;
    let feeds = crate::engine::bus::open_bucket(&js, FEEDS, Duration::ZERO, 1 << 20).await?;
    feeds
        .put(&header.symbol, serde_json::to_vec(&header)?.into())
        .await
        .context("writing the feed's header")?;

    let (tx, mut rx) = mpsc::channel(READ_AHEAD);
    let reading = std::thread::Builder::new()
        .name("feed-publish".into())
        .spawn(move || reader(source, tx))
        .context("starting the capture reader")?;
    let started = Instant::now();
    let first_recv = header.profile.first_recv_ns;
    let mut pending: VecDeque<PublishAckFuture> = VecDeque::new();
    let mut events = 0u64;
    while let Some((recv_ns, kind, json)) = rx.recv().await {
        if let (Some(speed), true) = (opts.speed, recv_ns > 0) {
            // The capture's own clock, `speed` times faster.
            let due =
                Duration::from_secs_f64(recv_ns.saturating_sub(first_recv) as f64 / 1e9 / speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(HEADER_FEED_RUN, header.run.as_str());
        let ack = js
            .publish_with_headers(names.subject(kind), headers, json.into())
            .await
            .with_context(|| format!("publishing to {}", names.subject(kind)))?;
        pending.push_back(ack);
        if pending.len() >= IN_FLIGHT {
            pending
                .pop_front()
                .expect("not empty")
                .await
                .context("the server did not store an event")?;
        }
        if kind != "end" {
            events += 1;
        }
    }
    for ack in pending {
        ack.await.context("the server did not store an event")?;
    }
    let _ = reading.join();
    Ok(Published {
        symbol: header.symbol,
        events,
        elapsed: started.elapsed(),
        run: header.run,
    })
}
