//! The FIX 4.4 acceptor beside the WebSocket hub: OMSs log on, send parent
//! orders, cancel and replace them, and hear of everything that happens to
//! them in ExecutionReports.
//!
//! - `connection`: one TCP connection: framing, the session layer
//!   (`crate::fix::Session`), ticks, and the hand-off of application messages.
//! - `entry`: an application message → an engine request or its refusal.
//! - `reports`: engine events → ExecutionReports, whoever acted on the order.
//!
//! Commands go through `EngineHandle::command`, the path console commands
//! take: the same permission guard (the session's role), the same journal
//! record (the user is the session), the same acknowledgement.

mod connection;
pub mod entry;
pub mod reports;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::runner::EngineHandle;
use crate::fix::{Body, FixConfig, FixRole, Session, SessionStore};
use crate::protocol::{decode_server, Command, FixSessionInfo, Role, ServerMessage};
use entry::{Refused, Request};
use reports::{Book, Pending};

/// One configured session and, while an OMS is logged on, its connection.
pub(crate) struct Slot {
    pub session: Session,
    /// Bytes for the connection's writer.
    pub link: Option<mpsc::UnboundedSender<Vec<u8>>>,
    pub peer: Option<SocketAddr>,
}

pub struct Gateway {
    engine: EngineHandle,
    config: FixConfig,
    slots: HashMap<String, Arc<Mutex<Slot>>>,
    book: Mutex<Book>,
    /// Prefix of ExecIDs: unique across runs of the engine.
    exec_prefix: String,
    /// The last engine event the report loop has been through.
    processed: tokio::sync::watch::Sender<u64>,
}

/// A running acceptor.
pub struct RunningGateway {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    pub task: tokio::task::JoinHandle<()>,
    pub reports: tokio::task::JoinHandle<()>,
}

impl Gateway {
    fn slot(&self, session: &str) -> Option<&Arc<Mutex<Slot>>> {
        self.slots.get(session)
    }

    /// Send an application message on a session: numbered and stored even
    /// while the OMS is away (it gets it on its next Logon, by resend).
    fn send_app(&self, session: &str, body: &Body) {
        self.send_app_noting(session, body, None);
    }

    /// `send_app`, with a fact stored in the same record as the message.
    fn send_app_noting(&self, session: &str, body: &Body, note: Option<(&str, &str)>) {
        let Some(slot) = self.slot(session) else {
            return;
        };
        let mut slot = slot.lock().expect("fix slot");
        let sent = match note {
            Some((k, v)) => slot.session.send_app_noting(body, Instant::now(), k, v),
            None => slot.session.send_app(body, Instant::now()),
        };
        match sent {
            Ok(bytes) => {
                if slot.session.is_logged_on() {
                    if let Some(link) = &slot.link {
                        let _ = link.send(bytes);
                    }
                }
            }
            Err(e) => warn!("FIX {session}: cannot store an outgoing message: {e:#}"),
        }
    }

    /// Tell the hub (and so every console) the sessions' state.
    fn publish_status(&self) {
        let book = self.book.lock().expect("fix book");
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for t in book.orders.values() {
            *counts.entry(t.session.as_str()).or_default() += 1;
        }
        let mut infos: Vec<FixSessionInfo> = self
            .config
            .sessions
            .iter()
            .map(|c| {
                let name = c.name();
                let slot = self.slots[&name].lock().expect("fix slot");
                FixSessionInfo {
                    session: name.clone(),
                    user: c.user.clone(),
                    role: role(c.role),
                    logged_on: slot.session.is_logged_on(),
                    peer: slot.peer.map(|p| p.to_string()),
                    next_in: slot.session.next_in(),
                    next_out: slot.session.next_out(),
                    orders: counts.get(name.as_str()).copied().unwrap_or(0),
                }
            })
            .collect();
        infos.sort_by(|a, b| a.session.cmp(&b.session));
        self.engine.shared.fix.send_if_modified(|now| {
            if *now == infos {
                false
            } else {
                *now = infos;
                true
            }
        });
    }

    /// An application message, in sequence, from a logged-on session.
    async fn on_app(&self, session: &str, msg: crate::fix::Message) {
        let Some(cfg) = self
            .config
            .sessions
            .iter()
            .find(|c| c.name() == session)
            .cloned()
        else {
            return;
        };
        let user = format!("{}@FIX:{}", cfg.user, session);
        let role = role(cfg.role);
        let seq = msg.seq_num();
        let request = match entry::parse(&msg, &cfg) {
            Ok(r) => r,
            Err(refused) => return self.refuse(session, seq, msg.msg_type(), refused),
        };
        let command_id = |cl: &str| command_id(session, cl);
        match request {
            Request::New {
                cl_ord_id,
                mut order,
            } => {
                if self.known_cl_ord_id(session, &cl_ord_id) {
                    let text = format!("duplicate ClOrdID {cl_ord_id}: it names an order already");
                    return self.refuse(
                        session,
                        seq,
                        "D",
                        Refused::Order {
                            cl_ord_id,
                            symbol: order.symbol,
                            side: Some(order.side),
                            qty: order.qty,
                            reason: entry::ord_rej::DUPLICATE,
                            text,
                        },
                    );
                }
                order.origin = Some(crate::protocol::OrderOrigin {
                    fix_session: session.to_string(),
                    cl_ord_id: cl_ord_id.clone(),
                });
                let (symbol, side, qty) = (order.symbol.clone(), order.side, order.qty);
                let outcome = self
                    .engine
                    .command(
                        &command_id(&cl_ord_id),
                        &user,
                        role,
                        Command::NewOrder { order },
                    )
                    .await;
                match outcome {
                    Some(o) if o.ok => {
                        if let Some(id) = &o.order_id {
                            self.remember(session, &cl_ord_id, id);
                        }
                        self.reported_up_to(o.seq).await;
                    }
                    other => {
                        let text = other
                            .and_then(|o| o.reason)
                            .unwrap_or_else(|| "the engine has stopped".into());
                        let reason = entry::rejection_code(&text);
                        self.refuse(
                            session,
                            seq,
                            "D",
                            Refused::Order {
                                cl_ord_id,
                                symbol,
                                side: Some(side),
                                qty,
                                reason,
                                text,
                            },
                        );
                    }
                }
            }
            Request::Cancel { cl_ord_id, orig } => {
                let kind = Pending::Cancel {
                    cl_ord_id: cl_ord_id.clone(),
                    orig: orig.clone(),
                };
                self.amend(
                    session,
                    seq,
                    &user,
                    role,
                    cl_ord_id,
                    orig,
                    kind,
                    1,
                    |order_id| Command::Cancel { order_id },
                )
                .await;
            }
            Request::Replace {
                cl_ord_id,
                orig,
                params,
            } => {
                let kind = Pending::Replace {
                    cl_ord_id: cl_ord_id.clone(),
                    orig: orig.clone(),
                };
                self.amend(
                    session,
                    seq,
                    &user,
                    role,
                    cl_ord_id,
                    orig,
                    kind,
                    2,
                    move |order_id| Command::Retune { order_id, params },
                )
                .await;
            }
        }
    }

    /// A cancel or a replace of an order the OMS sent.
    #[allow(clippy::too_many_arguments)]
    async fn amend(
        &self,
        session: &str,
        seq: Option<u64>,
        user: &str,
        role: Role,
        cl_ord_id: String,
        orig: String,
        pending: Pending,
        response_to: u8,
        command: impl FnOnce(String) -> Command,
    ) {
        let cancel_reject = |reason: u32, text: String| Refused::Cancel {
            cl_ord_id: cl_ord_id.clone(),
            orig: orig.clone(),
            response_to,
            reason,
            text,
        };
        if self.known_cl_ord_id(session, &cl_ord_id) {
            let text = format!("duplicate ClOrdID {cl_ord_id}");
            return self.refuse(session, seq, "F", cancel_reject(6, text));
        }
        let order_id = {
            let book = self.book.lock().expect("fix book");
            match book.by_cl_ord_id(session, &orig) {
                Some(t) if t.state.is_terminal() => {
                    Err((0, format!("order {orig} is {} already", t.state.as_str())))
                }
                Some(t) if t.pending.is_some() => Err((
                    3,
                    format!("order {orig} has a cancel or replace in progress"),
                )),
                Some(t) => Ok(t.order_id.clone()),
                None => Err((
                    1,
                    format!("unknown order: no live order has ClOrdID {orig} on this session"),
                )),
            }
        };
        let order_id = match order_id {
            Ok(id) => id,
            Err((reason, text)) => {
                return self.refuse(session, seq, "F", cancel_reject(reason, text))
            }
        };
        if let Some(t) = self
            .book
            .lock()
            .expect("fix book")
            .orders
            .get_mut(&order_id)
        {
            t.pending = Some(pending.clone());
        }
        let outcome = self
            .engine
            .command(
                &command_id(session, &cl_ord_id),
                user,
                role,
                command(order_id.clone()),
            )
            .await;
        match outcome {
            Some(o) if o.ok => {
                self.remember(session, &cl_ord_id, &order_id);
                self.reported_up_to(o.seq).await;
            }
            other => {
                let text = other
                    .and_then(|o| o.reason)
                    .unwrap_or_else(|| "the engine has stopped".into());
                // If the order's end overtook the request, its report went
                // out already and the OMS needs no reject.
                let still_pending = {
                    let mut book = self.book.lock().expect("fix book");
                    match book.orders.get_mut(&order_id) {
                        Some(t) if t.pending.as_ref() == Some(&pending) => {
                            t.pending = None;
                            true
                        }
                        _ => false,
                    }
                };
                if still_pending {
                    self.refuse(session, seq, "F", cancel_reject(99, text));
                }
            }
        }
    }

    /// Wait until the report loop has been through event `seq`, so the next
    /// message from the OMS (a cancel right behind its order) finds the
    /// order where the engine has it.
    async fn reported_up_to(&self, seq: u64) {
        let mut seen = self.processed.subscribe();
        let wait = seen.wait_for(|&p| p >= seq);
        if tokio::time::timeout(std::time::Duration::from_secs(2), wait)
            .await
            .is_err()
        {
            warn!("FIX gateway: reports lag the engine by more than 2 s");
        }
    }

    /// A ClOrdID this session has used already (kept in its store).
    fn known_cl_ord_id(&self, session: &str, cl_ord_id: &str) -> bool {
        self.slot(session).is_some_and(|s| {
            s.lock()
                .expect("fix slot")
                .session
                .store()
                .fact(&format!("cl.{cl_ord_id}"))
                .is_some()
        })
    }

    fn remember(&self, session: &str, cl_ord_id: &str, order_id: &str) {
        if let Some(slot) = self.slot(session) {
            let mut slot = slot.lock().expect("fix slot");
            let store = slot.session.store_mut();
            if let Err(e) = store.set_fact(&format!("cl.{cl_ord_id}"), order_id) {
                warn!("FIX {session}: cannot store ClOrdID {cl_ord_id}: {e:#}");
            }
        }
    }

    /// Answer a message that cannot be carried out.
    fn refuse(&self, session: &str, seq: Option<u64>, msg_type: &str, refused: Refused) {
        let exec_id = format!("{}-R{}", self.exec_prefix, seq.unwrap_or(0));
        let body = match refused {
            Refused::Session { reason, tag, text } => {
                let Some(slot) = self.slot(session) else {
                    return;
                };
                connection::step(slot, |s| {
                    s.reject(
                        seq,
                        Some(msg_type),
                        reason,
                        Some(tag),
                        &text,
                        Instant::now(),
                    )
                });
                return;
            }
            Refused::Business {
                reason,
                ref_id,
                text,
            } => Body::new("j")
                .set_opt(45, seq)
                .set(372, msg_type)
                .set_opt(379, ref_id)
                .set(380, reason)
                .set(58, text),
            Refused::Order {
                cl_ord_id,
                symbol,
                side,
                qty,
                reason,
                text,
            } => {
                if let Err(e) = self
                    .slot(session)
                    .map(|s| {
                        s.lock()
                            .expect("fix slot")
                            .session
                            .store_mut()
                            .set_fact(&format!("cl.{cl_ord_id}"), "rejected")
                    })
                    .transpose()
                {
                    warn!("FIX {session}: {e:#}");
                }
                reports::rejected_new(&cl_ord_id, &symbol, side, qty, &exec_id, reason, &text)
            }
            Refused::Cancel {
                cl_ord_id,
                orig,
                response_to,
                reason,
                text,
            } => {
                let (order_id, status) = {
                    let book = self.book.lock().expect("fix book");
                    match book.by_cl_ord_id(session, &orig) {
                        Some(t) => (t.order_id.clone(), t.ord_status()),
                        None => ("NONE".to_string(), "8"),
                    }
                };
                reports::cancel_reject(
                    &order_id,
                    status,
                    &cl_ord_id,
                    &orig,
                    response_to,
                    reason,
                    &text,
                )
            }
        };
        info!(
            "FIX {session}: refused {msg_type} {}: {}",
            seq.unwrap_or(0),
            body.fields
                .iter()
                .find(|(t, _)| *t == 58)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        );
        self.send_app(session, &body);
    }

    /// Follow the engine's event stream and report on the OMSs' orders.
    async fn report_loop(self: Arc<Self>) {
        let mut published = self.engine.shared.published.subscribe();
        let instance = self.engine.shared.instance_id.clone();
        // What each session was told already (a restarted gateway re-reads
        // a recovered run's history without telling it twice).
        let reported: HashMap<String, u64> = self
            .slots
            .iter()
            .map(|(name, slot)| {
                let s = slot.lock().expect("fix slot");
                let seq = s
                    .session
                    .store()
                    .fact(&format!("event.{instance}"))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                (name.clone(), seq)
            })
            .collect();
        let mut cursor = 1u64;
        loop {
            let frames = {
                let log = self.engine.shared.log.lock().expect("event log");
                log.read_from(cursor, 4096)
            };
            let frames = match frames {
                Some(f) => f,
                None => {
                    // The log no longer reaches back to the cursor (a long
                    // recovered history): pick the orders up from a snapshot
                    // and report from there on.
                    let Some((seq, frame)) = self.engine.snapshot().await else {
                        return;
                    };
                    if let Ok(ServerMessage::Snapshot(view)) = decode_server(&frame) {
                        let current = |session: &str, order_id: &str| {
                            self.current_cl_ord_id(session, order_id)
                        };
                        self.book.lock().expect("fix book").seed(&view, &current);
                    }
                    warn!("FIX gateway: events {cursor}..{seq} are no longer held; orders taken from a snapshot at {seq}, reports for what happened before it are not sent");
                    cursor = seq + 1;
                    continue;
                }
            };
            if frames.is_empty() {
                self.processed.send_replace(cursor - 1);
                if published.changed().await.is_err() {
                    return;
                }
                continue;
            }
            for (seq, frame) in frames {
                cursor = seq + 1;
                if !reports::may_concern_orders(&frame) {
                    continue;
                }
                let Ok(ServerMessage::Event(env)) = decode_server(&frame) else {
                    continue;
                };
                let due = {
                    let mut book = self.book.lock().expect("fix book");
                    let current =
                        |session: &str, order_id: &str| self.current_cl_ord_id(session, order_id);
                    book.apply(&env, &self.exec_prefix, &current)
                };
                let due: Vec<_> = due
                    .into_iter()
                    .filter(|r| reported.get(&r.session).is_none_or(|&done| seq > done))
                    .collect();
                let event_key = format!("event.{instance}");
                let seq_text = seq.to_string();
                for (i, r) in due.iter().enumerate() {
                    if let Some((_, cl)) = r.body.fields.iter().find(|(t, _)| *t == 11) {
                        if let Some((_, id)) = r.body.fields.iter().find(|(t, _)| *t == 37) {
                            self.set_current(&r.session, id, cl);
                        }
                    }
                    // The session's last report of this event says, in the
                    // same store record, that the event is reported: a crash
                    // re-sends at worst (same ExecIDs), never loses one.
                    let last_for_session = !due[i + 1..].iter().any(|o| o.session == r.session);
                    let note = last_for_session.then_some((event_key.as_str(), seq_text.as_str()));
                    self.send_app_noting(&r.session, &r.body, note);
                }
            }
            self.processed.send_replace(cursor - 1);
            self.publish_status();
        }
    }

    /// Order ids are a run's own: a fresh run numbers its orders from P-1 again.
    fn current_key(&self, order_id: &str) -> String {
        format!("current.{}.{order_id}", self.engine.shared.instance_id)
    }

    fn current_cl_ord_id(&self, session: &str, order_id: &str) -> Option<String> {
        let slot = self.slot(session)?.lock().expect("fix slot");
        slot.session
            .store()
            .fact(&self.current_key(order_id))
            .map(str::to_string)
    }

    fn set_current(&self, session: &str, order_id: &str, cl: &str) {
        if let Some(slot) = self.slot(session) {
            let mut s = slot.lock().expect("fix slot");
            if let Err(e) = s
                .session
                .store_mut()
                .set_fact(&self.current_key(order_id), cl)
            {
                warn!("FIX {session}: {e:#}");
            }
        }
    }

    pub fn session_count(&self) -> usize {
        self.slots.len()
    }

    /// Ask every logged-on OMS to log out (the engine is shutting down).
    pub fn logout_all(&self, text: &str) {
        for slot in self.slots.values() {
            connection::step(slot, |s| s.logout(text, Instant::now()));
        }
    }
}

/// The id a FIX request's command carries: its session and ClOrdID.
pub(crate) fn command_id(session: &str, cl_ord_id: &str) -> String {
    format!("fix:{session}:{cl_ord_id}")
}

fn role(r: FixRole) -> Role {
    match r {
        FixRole::Trader => Role::Trader,
        FixRole::Viewer => Role::Viewer,
    }
}

/// Open every session's store and start accepting on `listen`.
pub async fn start(
    listen: &str,
    config: FixConfig,
    store: &Path,
    engine: EngineHandle,
) -> Result<RunningGateway> {
    let mut slots = HashMap::new();
    for c in &config.sessions {
        let s = SessionStore::open(store, &c.store_name(), c.store_sync)
            .with_context(|| format!("FIX session {}", c.name()))?;
        info!(
            "FIX session {}: next in {}, next out {} (store {})",
            c.name(),
            s.next_in(),
            s.next_out(),
            store.display()
        );
        slots.insert(
            c.name(),
            Arc::new(Mutex::new(Slot {
                session: Session::new(c.clone(), s),
                link: None,
                peer: None,
            })),
        );
    }
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("FIX: listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let exec_prefix = engine.shared.instance_id.chars().take(8).collect();
    let gateway = Arc::new(Gateway {
        engine,
        config,
        slots,
        book: Mutex::new(Book::default()),
        exec_prefix,
        processed: tokio::sync::watch::channel(0).0,
    });
    gateway.publish_status();
    let reports = tokio::spawn(gateway.clone().report_loop());
    let task = tokio::spawn(connection::accept_loop(listener, gateway.clone()));
    info!("FIX acceptor on {addr}");
    Ok(RunningGateway {
        addr,
        gateway,
        task,
        reports,
    })
}

/// Where `--fix-store` points by default.
pub fn default_store() -> PathBuf {
    PathBuf::from("fix-store")
}
