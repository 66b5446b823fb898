//! `--market nats:SYMBOL`: a symbol's market data read off the bus as a
//! `FeedSource`. A task reads the stream (an ordered pull consumer, from the
//! publication's first event) into a buffer every copy of the source reads
//! from; the engine's thread waits for the next event when it is ahead of
//! the feed. Checked as it arrives: frames of another publication are
//! skipped, a duplicate number dropped, a gap or an unreadable frame ends
//! the feed there (counted as `gap` / `corrupt`, so the engine says so);
//! a feed that stops without its end mark for `STALL` ends as truncated.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_nats::jetstream::consumer::pull::OrderedConfig;
use futures_util::StreamExt;

use crate::engine::feed::wire::{FeedFrame, FeedHeader, WithIssues};
use crate::engine::feed::{DataIssue, FeedSource, FeedStats, Instrument, Timed};
use crate::protocol::bus::{FeedNames, FEEDS, HEADER_FEED_RUN};

/// No data for this long, and no end mark: the feed is taken as ended.
const STALL: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Buffer {
    events: Vec<WithIssues>,
    /// The publisher's final counters, once the end mark arrived.
    end: Option<FeedStats>,
    /// Why the feed ended early, with the issue to count.
    broken: Option<(DataIssue, String)>,
}

struct Shared {
    buffer: Mutex<Buffer>,
    arrived: Condvar,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut Buffer)) {
        if let Ok(mut b) = self.buffer.lock() {
            f(&mut b);
        }
        self.arrived.notify_all();
    }
}

/// One symbol's feed from the bus.
#[derive(Clone)]
pub struct BusFeed {
    shared: Arc<Shared>,
    pos: usize,
    stats: FeedStats,
    instrument: Instrument,
    venue: &'static str,
    done: bool,
}

impl FeedSource for BusFeed {
    fn instrument(&self) -> &Instrument {
        &self.instrument
    }
    fn venue(&self) -> &'static str {
        self.venue
    }
    fn next_event(&mut self) -> Option<Timed> {
        if self.done {
            return None;
        }
        let mut b = self.shared.buffer.lock().ok()?;
        loop {
            if let Some((t, issues)) = b.events.get(self.pos) {
                self.pos += 1;
                if let Some(counts) = issues {
                    self.stats.set_issue_counts(*counts);
                }
                return Some(t.clone());
            }
            if let Some(stats) = &b.end {
                self.stats = stats.clone();
                self.done = true;
                return None;
            }
            if let Some((issue, why)) = &b.broken {
                tracing::warn!("feed {}: {why}", self.instrument.symbol);
                self.stats.count(*issue, 1);
                self.done = true;
                return None;
            }
            let (next, timeout) = self.shared.arrived.wait_timeout(b, STALL).ok()?;
            b = next;
            if timeout.timed_out() && b.events.len() <= self.pos && b.end.is_none() {
                b.broken = Some((
                    DataIssue::Truncated,
                    format!("no market data for {} s and no end mark", STALL.as_secs()),
                ));
            }
        }
    }
    fn stats(&self) -> &FeedStats {
        &self.stats
    }
    fn boxed_clone(&self) -> Box<dyn FeedSource> {
        Box::new(self.clone())
    }
}

/// The feed of `symbol` on the bus at `url`: its header (waited for up to
/// `wait`) and a source reading it from its first event.
pub async fn open(url: &str, symbol: &str, wait: Duration) -> Result<(FeedHeader, BusFeed)> {
    super::check_symbol(symbol)?;
    let names = FeedNames::new(symbol);
    let client = async_nats::ConnectOptions::new()
        .name(format!("vigil-engine feed {symbol}"))
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    let js = async_nats::jetstream::new(client);
    let deadline = tokio::time::Instant::now() + wait;
    let header = loop {
        let found = match js.get_key_value(FEEDS).await {
            Ok(kv) => kv.get(symbol).await.ok().flatten(),
            Err(_) => None,
        };
        if let Some(bytes) = found {
            break serde_json::from_slice::<FeedHeader>(&bytes).map_err(|e| {
                anyhow!("the feed header of {symbol} on the bus is not readable: {e}")
            })?;
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("no market data for {symbol} on {url}: is `vigil feed publish --market replay:FILE --nats {url}` running?");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let instrument = Instrument::new(&header.symbol, &header.tick, &header.lot)
        .with_context(|| format!("the feed header of {symbol}"))?;
    let stream = js
        .get_stream(names.stream())
        .await
        .with_context(|| format!("no stream {} for {symbol}", names.stream()))?;
    let consumer = stream
        .create_consumer(OrderedConfig::default())
        .await
        .context("reading the market-data stream")?;
    let mut messages = consumer
        .messages()
        .await
        .context("reading the market-data stream")?;
    let shared = Arc::new(Shared {
        buffer: Mutex::new(Buffer::default()),
        arrived: Condvar::new(),
    });
    let filler = shared.clone();
    let run = header.run.clone();
    tokio::spawn(async move {
        let mut expected = 1u64;
        while let Some(msg) = messages.next().await {
            let Ok(msg) = msg else {
                // The ordered consumer recreates itself after an outage.
                continue;
            };
            let of_run = msg
                .headers
                .as_ref()
                .and_then(|h| h.get(HEADER_FEED_RUN))
                .is_some_and(|r| r.as_str() == run);
            if !of_run {
                continue;
            }
            let frame = match serde_json::from_slice::<FeedFrame>(&msg.payload) {
                Ok(f) => f,
                Err(e) => {
                    filler.update(|b| {
                        b.broken = Some((DataIssue::Corrupt, format!("an unreadable frame: {e}")))
                    });
                    return;
                }
            };
            let n = frame.number();
            if n < expected {
                continue;
            }
            if n > expected {
                filler.update(|b| {
                    b.broken = Some((
                        DataIssue::Gap,
                        format!("the stream skips events {expected}..{}", n - 1),
                    ))
                });
                return;
            }
            expected += 1;
            match frame {
                FeedFrame::End { stats, .. } => {
                    filler.update(|b| b.end = Some(stats));
                    return;
                }
                other => match other.event() {
                    Ok(Some(e)) => filler.update(|b| b.events.push(e)),
                    Ok(None) => {}
                    Err(why) => {
                        filler.update(|b| b.broken = Some((DataIssue::Corrupt, why)));
                        return;
                    }
                },
            }
        }
    });
    // The venue name lives as long as the process: sources hand it out as
    // `&'static str`, like the decoders' own names.
    let venue: &'static str = Box::leak(header.venue.clone().into_boxed_str());
    Ok((
        header,
        BusFeed {
            shared,
            pos: 0,
            stats: FeedStats::default(),
            instrument,
            venue,
            done: false,
        },
    ))
}
