//! The engine's events onto JetStream, in order, from the engine's own log.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::Context;
use tracing::{info, warn};

use super::Names;
use crate::engine::runner::EngineHandle;

/// Publishes awaiting their acknowledgement at once.
const IN_FLIGHT: usize = 256;
/// A keyframe at least this often while events flow.
const KEYFRAME_EVERY: Duration = Duration::from_secs(5);
const KEYFRAME_EVENTS: u64 = 20_000;
/// Wait before retrying after the server did not acknowledge.
const RETRY: Duration = Duration::from_millis(500);

/// The event kind of an encoded event frame (`"kind":"fill"` → `fill`).
pub fn kind_of(frame: &str) -> &str {
    frame
        .find("\"kind\":\"")
        .and_then(|at| {
            let rest = &frame[at + 8..];
            rest.find('"').map(|end| &rest[..end])
        })
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or("unknown")
}

pub async fn run(js: Context, names: Names, engine: EngineHandle, acked: Arc<AtomicU64>) {
    let instance = engine.shared.instance_id.clone();
    let mut published = engine.shared.published.subscribe();
    let mut cursor = 1u64;
    let mut pending: VecDeque<(u64, PublishAckFuture)> = VecDeque::new();
    let mut last_keyframe = Instant::now() - KEYFRAME_EVERY;
    let mut keyframe_seq = 0u64;
    loop {
        let frames = engine
            .shared
            .log
            .lock()
            .expect("event log")
            .read_from(cursor, IN_FLIGHT);
        let frames = match frames {
            Some(f) => f,
            None => {
                // The bus was away longer than the log reaches back: say so,
                // write the state as a keyframe and go on from there.
                let Some((seq, snapshot)) = engine.snapshot().await else {
                    return;
                };
                warn!(
                    "bus: events {cursor}..{seq} are no longer in the engine's log; keyframe at {seq} instead"
                );
                if put_keyframe(&js, &names, &instance, seq, &snapshot).await {
                    keyframe_seq = seq;
                    last_keyframe = Instant::now();
                }
                cursor = seq + 1;
                continue;
            }
        };
        if frames.is_empty() && pending.is_empty() {
            if last_keyframe.elapsed() >= KEYFRAME_EVERY && cursor > keyframe_seq + 1 {
                if let Some((seq, snapshot)) = engine.snapshot().await {
                    if put_keyframe(&js, &names, &instance, seq, &snapshot).await {
                        keyframe_seq = seq;
                        last_keyframe = Instant::now();
                    }
                }
            }
            tokio::select! {
                r = published.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(KEYFRAME_EVERY) => {}
            }
            continue;
        }
        let mut failed = None;
        for (seq, frame) in frames {
            if pending.len() >= IN_FLIGHT {
                break;
            }
            match publish(&js, &names, &instance, seq, &frame).await {
                Ok(ack) => {
                    pending.push_back((seq, ack));
                    cursor = seq + 1;
                }
                Err(e) => {
                    failed = Some((seq, e));
                    break;
                }
            }
        }
        // Acknowledgements in order: the first one missing sends the cursor
        // back to it (JetStream drops what it already had by Nats-Msg-Id).
        while let Some((seq, ack)) = pending.pop_front() {
            if let Err(e) = ack.await {
                failed = Some((seq, e.to_string()));
                pending.clear();
                break;
            }
            acked.store(seq, Ordering::Relaxed);
        }
        if let Some((seq, e)) = failed {
            warn!("bus: event {seq} not acknowledged ({e}); retrying");
            cursor = seq;
            tokio::time::sleep(RETRY).await;
            continue;
        }
        if cursor > keyframe_seq + KEYFRAME_EVENTS || last_keyframe.elapsed() >= KEYFRAME_EVERY {
            if let Some((seq, snapshot)) = engine.snapshot().await {
                if put_keyframe(&js, &names, &instance, seq, &snapshot).await {
                    keyframe_seq = seq;
                    last_keyframe = Instant::now();
                }
            }
        }
    }
}

async fn publish(
    js: &Context,
    names: &Names,
    instance: &str,
    seq: u64,
    frame: &Arc<str>,
) -> Result<PublishAckFuture, String> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("{instance}:{seq}").as_str());
    headers.insert(crate::protocol::bus::HEADER_INSTANCE, instance);
    headers.insert(crate::protocol::bus::HEADER_SEQ, seq.to_string().as_str());
    js.publish_with_headers(
        names.event(kind_of(frame)),
        headers,
        bytes::Bytes::copy_from_slice(frame.as_bytes()),
    )
    .await
    .map_err(|e| e.to_string())
}

/// The keyframe is the bucket's value under the engine's name, written as a
/// plain message on the bucket's subject so it can carry the run and seq it
/// belongs to (KV readers see the value; a console also reads the headers to
/// know which run the keyframe is of).
async fn put_keyframe(
    js: &Context,
    names: &Names,
    instance: &str,
    seq: u64,
    snapshot: &Arc<str>,
) -> bool {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(crate::protocol::bus::HEADER_INSTANCE, instance);
    headers.insert(crate::protocol::bus::HEADER_SEQ, seq.to_string().as_str());
    let sent = js
        .publish_with_headers(
            names.keyframe_subject(),
            headers,
            bytes::Bytes::copy_from_slice(snapshot.as_bytes()),
        )
        .await;
    let acked = match sent {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match acked {
        Ok(()) => true,
        Err(e) => {
            info!("bus: keyframe not written ({e})");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kinds_from_frames() {
        assert_eq!(
            super::kind_of(
                r#"{"type":"event","seq":3,"ts":1,"event":{"kind":"fill","order_id":"P-1"}}"#
            ),
            "fill"
        );
        assert_eq!(super::kind_of(r#"{"kind":"a.b"}"#), "unknown");
        assert_eq!(super::kind_of("no kind"), "unknown");
    }
}
