//! One OMS connection: the first message must be a Logon for a configured
//! session; after it, bytes are framed, garbled frames dropped (logged, the
//! session stays up), messages handed to the session layer, and application
//! messages to the gateway one at a time, in sequence.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{Gateway, Slot};
use crate::fix::{Frame, Framer, Message, Out};

/// Time an OMS has to log on after connecting.
const LOGON_TIMEOUT: Duration = Duration::from_secs(10);
/// Unframed bytes held before the connection is taken for garbage.
const MAX_PENDING: usize = 256 * 1024;

pub(super) async fn accept_loop(listener: TcpListener, gateway: Arc<Gateway>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, peer, gateway.clone()));
            }
            Err(e) => {
                warn!("FIX accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Run `f` on the session and hand its answers to the connection, under
/// one lock: what the session numbered goes out in that order, never behind
/// a report another task sends meanwhile. Returns the application messages
/// it delivered.
pub(super) fn step(
    slot: &Mutex<Slot>,
    f: impl FnOnce(&mut crate::fix::Session) -> Vec<Out>,
) -> Vec<Message> {
    let mut slot = slot.lock().expect("fix slot");
    let outs = f(&mut slot.session);
    let mut delivered = Vec::new();
    for o in outs {
        match o {
            Out::Send(bytes) => {
                if let Some(link) = &slot.link {
                    let _ = link.send(bytes);
                }
            }
            Out::Deliver(m) => delivered.push(m),
            Out::Disconnect(why) => {
                info!("FIX {}: disconnecting: {why}", slot.session.config.name());
                slot.session.disconnected();
                // Dropping the sender ends the writer once it has flushed.
                slot.link = None;
            }
            Out::Warn(w) => warn!("FIX {w}"),
            Out::Info(i) => info!("FIX {i}"),
        }
    }
    delivered
}

/// Does this connection still hold the session?
fn still_ours(slot: &Mutex<Slot>, peer: SocketAddr) -> bool {
    let s = slot.lock().expect("fix slot");
    s.link.is_some() && s.peer == Some(peer)
}

async fn read_first(stream: &mut TcpStream, framer: &mut Framer) -> Option<Message> {
    let mut buf = vec![0u8; 8192];
    loop {
        while let Some(frame) = framer.next_frame() {
            match frame {
                Frame::Message(m, _) => return Some(m),
                Frame::Garbled(g) => warn!("FIX: before Logon, discarded {g}"),
                Frame::Unreadable { bad, .. } => {
                    warn!(
                        "FIX: first message unreadable ({:?}): disconnecting",
                        bad.text
                    );
                    return None;
                }
            }
        }
        if framer.pending() > MAX_PENDING {
            return None;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => framer.push(&buf[..n]),
        }
    }
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, gateway: Arc<Gateway>) {
    let mut framer = Framer::default();
    let first =
        match tokio::time::timeout(LOGON_TIMEOUT, read_first(&mut stream, &mut framer)).await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(_) => {
                warn!(%peer, "FIX: no Logon within {LOGON_TIMEOUT:?}: disconnecting");
                return;
            }
        };
    // FIX: the first message must be a Logon, else disconnect without a
    // word (there is no session yet to number an answer in).
    if first.msg_type() != "A" {
        warn!(%peer, "FIX: first message is {} not a Logon (35=A): disconnecting", first.msg_type());
        return;
    }
    let (sender, target) = (first.get(49).unwrap_or(""), first.get(56).unwrap_or(""));
    let Some(config) = gateway.config.find(sender, target) else {
        warn!(%peer, "FIX: Logon from unknown CompIDs {sender}→{target}: disconnecting");
        return;
    };
    let name = config.name();
    let slot = gateway.slots[&name].clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (outs, accepted) = {
        let mut s = slot.lock().expect("fix slot");
        let taken = s.session.state() != crate::fix::State::Idle;
        let outs = s.session.on_logon(&first, Instant::now());
        let accepted = !taken && s.session.is_logged_on();
        if accepted {
            s.link = Some(tx.clone());
            s.peer = Some(peer);
        }
        // The answers go out before the lock is let go (and, refused, on
        // this connection only).
        for o in &outs {
            if let Out::Send(b) = o {
                let _ = tx.send(b.clone());
            }
        }
        (outs, accepted)
    };
    let (mut reader, mut writer) = stream.into_split();
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    drop(tx);
    if !accepted {
        for o in outs {
            match o {
                Out::Warn(w) | Out::Disconnect(w) => warn!(%peer, "FIX {name}: logon refused: {w}"),
                _ => {}
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), write_task).await;
        return;
    }
    for o in outs {
        match o {
            Out::Warn(w) => warn!("FIX {w}"),
            Out::Info(i) => info!("FIX {i}"),
            _ => {}
        }
    }
    gateway.publish_status();
    info!(%peer, "FIX {name}: logged on");

    let mut buf = vec![0u8; 16 * 1024];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'conn: loop {
        // Frames already read (a Logon may come with more behind it) first.
        while let Some(frame) = framer.next_frame() {
            let now = Instant::now();
            let delivered = match frame {
                Frame::Message(m, _) => {
                    debug!("FIX {name} in: {}", m.display());
                    step(&slot, |s| s.on_message(m, now))
                }
                Frame::Garbled(g) => {
                    // FIX: a garbled message is ignored, its sequence
                    // number not consumed, the session kept.
                    warn!(%peer, "FIX {name}: discarded a garbled frame: {g}");
                    continue;
                }
                Frame::Unreadable { seq, msg_type, bad } => step(&slot, |s| {
                    s.on_unreadable(seq, msg_type.as_deref(), &bad.text, now)
                }),
            };
            for app in delivered {
                let seq = app.seq_num().unwrap_or(0);
                gateway.on_app(&name, app).await;
                // Consumed once handled: a crash before this leaves the
                // message to be resent, not lost.
                step(&slot, |s| s.app_handled(seq));
            }
            gateway.publish_status();
            if !still_ours(&slot, peer) {
                break 'conn;
            }
        }
        if framer.pending() > MAX_PENDING {
            warn!(%peer, "FIX {name}: {} bytes without a complete message: disconnecting", framer.pending());
            break 'conn;
        }
        tokio::select! {
            read = reader.read(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => break 'conn,
                    Ok(n) => framer.push(&buf[..n]),
                }
            }
            _ = tick.tick() => {
                step(&slot, |s| s.on_tick(Instant::now()));
                if !still_ours(&slot, peer) {
                    break 'conn;
                }
            }
        }
    }
    {
        let mut s = slot.lock().expect("fix slot");
        // Only if this connection still holds the session.
        if s.peer == Some(peer) {
            s.session.disconnected();
            s.link = None;
            s.peer = None;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), write_task).await;
    gateway.publish_status();
    info!(%peer, "FIX {name}: disconnected");
}
