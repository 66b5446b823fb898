//! The FIX 4.4 session layer of an acceptor, as a state machine with no I/O:
//! it is handed each well-framed incoming message and the passing of time,
//! and answers with what to send, what to hand the application, and when to
//! hang up. Sequence numbers and sent messages live in a `SessionStore`, so a
//! restart continues them.
//!
//! Rules followed (FIX 4.4 session protocol, volume 2):
//! - Logon must come first; CompIDs, EncryptMethod (98=0) and HeartBtInt are
//!   checked; ResetSeqNumFlag (141=Y) resets both sequence numbers.
//! - MsgSeqNum: as expected → processed; higher → a ResendRequest for the gap
//!   (the message is dropped: the resend brings it again); lower without
//!   PossDupFlag → Logout and disconnect; lower with PossDupFlag → ignored.
//! - ResendRequest is answered from the store: application messages again
//!   with PossDupFlag=Y and OrigSendingTime, session messages replaced by
//!   SequenceReset-GapFill.
//! - SequenceReset: GapFill moves the expected number forward in sequence;
//!   Reset moves it regardless of MsgSeqNum; backwards is rejected.
//! - Heartbeats every HeartBtInt without traffic; a TestRequest after
//!   HeartBtInt × 1.2 of silence, and a disconnect when that goes unanswered.
//! - A well-framed message with an unreadable or missing field gets a session
//!   Reject (35=3) with the reason, and still consumes its sequence number.

use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;

use super::config::SessionConfig;
use super::message::{
    body_of, encode, is_admin, utc_timestamp, Body, Frame, Framer, Header, Message,
};
use super::store::SessionStore;

/// SessionRejectReason (373) values used here.
pub mod reject {
    pub const INVALID_TAG: u32 = 0;
    pub const REQUIRED_TAG_MISSING: u32 = 1;
    pub const TAG_WITHOUT_VALUE: u32 = 4;
    pub const VALUE_INCORRECT: u32 = 5;
    pub const INCORRECT_DATA_FORMAT: u32 = 6;
    pub const COMPID_PROBLEM: u32 = 9;
    pub const INVALID_MSG_TYPE: u32 = 11;
    pub const TAG_REPEATED: u32 = 13;
}

/// What the session wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Send(Vec<u8>),
    /// An application message, in sequence, for the application to handle.
    Deliver(Message),
    Disconnect(String),
    Warn(String),
    Info(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No connection, or one that has not logged on.
    Idle,
    Active,
    /// We sent a Logout and wait for the answer.
    LoggingOut(Instant),
}

/// How long to wait for the answer to our Logout.
const LOGOUT_WAIT: Duration = Duration::from_secs(10);

pub struct Session {
    pub config: SessionConfig,
    store: SessionStore,
    state: State,
    heartbeat: Duration,
    last_in: Instant,
    last_out: Instant,
    test_request: Option<(String, Instant)>,
    /// The highest incoming MsgSeqNum a ResendRequest of ours is waiting for.
    resend_until: Option<u64>,
    test_counter: u64,
}

/// A message is missing a field the session needs, or has it in a bad form.
struct Refusal {
    reason: u32,
    tag: Option<u32>,
    text: String,
}

fn refusal(reason: u32, tag: u32, text: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        tag: Some(tag),
        text: text.into(),
    }
}

impl Session {
    pub fn new(config: SessionConfig, store: SessionStore) -> Session {
        let now = Instant::now();
        Session {
            config,
            store,
            state: State::Idle,
            heartbeat: Duration::from_secs(30),
            last_in: now,
            last_out: now,
            test_request: None,
            resend_until: None,
            test_counter: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_logged_on(&self) -> bool {
        self.state == State::Active
    }

    pub fn next_in(&self) -> u64 {
        self.store.next_in()
    }

    pub fn next_out(&self) -> u64 {
        self.store.next_out()
    }

    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut SessionStore {
        &mut self.store
    }

    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// The connection went away (either side): the session waits for the next Logon.
    pub fn disconnected(&mut self) {
        self.state = State::Idle;
        self.test_request = None;
        self.resend_until = None;
    }

    /// Encode and store a message under the next outgoing sequence number.
    /// Session messages are not kept (a resend replaces them by a gap fill),
    /// only the number they used.
    fn stamp(&mut self, body: &Body, now: Instant) -> Result<Vec<u8>> {
        self.stamp_noting(body, now, None)
    }

    /// `stamp`, with an application fact written in the same store record.
    fn stamp_noting(
        &mut self,
        body: &Body,
        now: Instant,
        fact: Option<(&str, &str)>,
    ) -> Result<Vec<u8>> {
        let seq = self.store.next_out();
        let sending_time = utc_timestamp(SystemTime::now());
        let bytes = encode(
            &Header {
                sender: &self.config.target_comp_id,
                target: &self.config.sender_comp_id,
                seq,
                sending_time: &sending_time,
                orig_sending_time: None,
            },
            body,
        );
        let kept: &[u8] = if body.is_admin() { &[] } else { &bytes };
        match fact {
            Some((key, value)) => self.store.record_sent_with_fact(seq, kept, key, value)?,
            None => self.store.record_sent(seq, kept)?,
        }
        self.last_out = now;
        Ok(bytes)
    }

    /// An application message: numbered and stored whether or not the OMS
    /// is connected; the bytes are for the connection if there is one (an
    /// OMS that was away asks for them with a ResendRequest on its Logon).
    pub fn send_app_noting(
        &mut self,
        body: &Body,
        now: Instant,
        key: &str,
        value: &str,
    ) -> Result<Vec<u8>> {
        debug_assert!(!body.is_admin());
        self.stamp_noting(body, now, Some((key, value)))
    }

    pub fn send_app(&mut self, body: &Body, now: Instant) -> Result<Vec<u8>> {
        debug_assert!(!body.is_admin());
        self.stamp(body, now)
    }

    fn send(&mut self, body: Body, now: Instant, out: &mut Vec<Out>) {
        match self.stamp(&body, now) {
            Ok(b) => out.push(Out::Send(b)),
            Err(e) => {
                out.push(Out::Warn(format!("FIX store write failed: {e:#}")));
                out.push(Out::Disconnect(
                    "the FIX session store cannot be written".into(),
                ));
            }
        }
    }

    /// A session-level Reject (35=3) of message `ref_seq`.
    pub fn reject(
        &mut self,
        ref_seq: Option<u64>,
        ref_type: Option<&str>,
        reason: u32,
        ref_tag: Option<u32>,
        text: &str,
        now: Instant,
    ) -> Vec<Out> {
        let mut out = vec![Out::Warn(format!(
            "{}: rejecting message {}: {text}",
            self.config.name(),
            ref_seq.unwrap_or(0)
        ))];
        let body = Body::new("3")
            .set(45, ref_seq.unwrap_or(0))
            .set_opt(371, ref_tag)
            .set_opt(372, ref_type.filter(|t| !t.is_empty()))
            .set(373, reason)
            .set(58, text);
        self.send(body, now, &mut out);
        out
    }

    /// Ask the OMS to log out (engine shutting down, configuration change).
    pub fn logout(&mut self, text: &str, now: Instant) -> Vec<Out> {
        let mut out = Vec::new();
        if self.state == State::Active {
            self.send(Body::new("5").set(58, text), now, &mut out);
            self.state = State::LoggingOut(now);
        }
        out
    }

    fn logout_and_close(&mut self, text: String, now: Instant) -> Vec<Out> {
        let mut out = vec![Out::Warn(format!("{}: {text}", self.config.name()))];
        self.send(Body::new("5").set(58, &text), now, &mut out);
        out.push(Out::Disconnect(text));
        self.state = State::Idle;
        out
    }

    /// The first message of a connection, already known to be a Logon for
    /// this session's CompIDs.
    pub fn on_logon(&mut self, msg: &Message, now: Instant) -> Vec<Out> {
        if self.state != State::Idle {
            // Another connection holds the session: refuse this one without
            // touching the live one (not even its last-heard time, or a
            // half-open old connection would never time out).
            return vec![Out::Disconnect(format!(
                "session {} is already logged on",
                self.config.name()
            ))];
        }
        self.last_in = now;
        let Some(seq) = msg.seq_num() else {
            return vec![Out::Disconnect("Logon without a MsgSeqNum (34)".into())];
        };
        if msg.get(98).unwrap_or("0") != "0" {
            return self.logout_and_close(
                "EncryptMethod (98) must be 0: vigil accepts no FIX-level encryption".into(),
                now,
            );
        }
        let hb = match msg.get(108).map(str::parse::<u64>) {
            Some(Ok(s)) if s <= 3600 => s,
            _ => {
                return self.logout_and_close(
                    format!(
                        "HeartBtInt (108) must be 0-3600 seconds, got {:?}",
                        msg.get(108).unwrap_or("")
                    ),
                    now,
                )
            }
        };
        let reset = msg.get(141) == Some("Y");
        if reset {
            if let Err(e) = self.store.reset("cl.") {
                return vec![
                    Out::Warn(format!("FIX store: {e:#}")),
                    Out::Disconnect("store not writable".into()),
                ];
            }
        }
        let expected = self.store.next_in();
        if seq < expected {
            return self.logout_and_close(
                format!("MsgSeqNum too low, expecting {expected} but received {seq}"),
                now,
            );
        }
        self.heartbeat = Duration::from_secs(hb);
        self.state = State::Active;
        self.test_request = None;
        let mut out = vec![Out::Info(format!(
            "{} logged on (heartbeat {hb} s, next in {expected}, next out {})",
            self.config.name(),
            self.store.next_out()
        ))];
        let answer = Body::new("A")
            .set(98, 0)
            .set(108, hb)
            .set_opt(141, reset.then_some("Y"));
        self.send(answer, now, &mut out);
        if seq > expected {
            self.ask_resend(expected, seq, now, &mut out);
        } else if let Err(e) = self.store.set_next_in(seq.saturating_add(1)) {
            out.push(Out::Warn(format!("FIX store: {e:#}")));
        }
        out
    }

    fn ask_resend(&mut self, from: u64, seen: u64, now: Instant, out: &mut Vec<Out>) {
        // One ResendRequest at a time: it asks for everything from the gap
        // on, so later messages are covered by it too.
        if let Some(until) = self.resend_until {
            self.resend_until = Some(until.max(seen));
            return;
        }
        out.push(Out::Info(format!(
            "{}: gap, expecting {from} but received {seen}: asking for a resend",
            self.config.name()
        )));
        self.resend_until = Some(seen);
        self.send(Body::new("2").set(7, from).set(16, 0), now, out);
    }

    /// A frame that is well framed but has a field that is not `tag=value`.
    pub fn on_unreadable(
        &mut self,
        seq: Option<u64>,
        msg_type: Option<&str>,
        field: &str,
        now: Instant,
    ) -> Vec<Out> {
        self.last_in = now;
        let mut out = self.reject(
            seq,
            msg_type,
            reject::INVALID_TAG,
            None,
            &format!("field {field:?} is not tag=value with a numeric tag"),
            now,
        );
        if seq == Some(self.store.next_in()) {
            self.consume(seq.unwrap_or(0), &mut out);
        }
        out
    }

    /// The application has handled the message `seq` delivered to it.
    pub fn app_handled(&mut self, seq: u64) -> Vec<Out> {
        let mut out = Vec::new();
        if seq == self.store.next_in() {
            self.consume(seq, &mut out);
        }
        out
    }

    fn consume(&mut self, seq: u64, out: &mut Vec<Out>) {
        if let Err(e) = self.store.set_next_in(seq.saturating_add(1)) {
            out.push(Out::Warn(format!("FIX store: {e:#}")));
        }
        if self.resend_until.is_some_and(|u| seq >= u) {
            self.resend_until = None;
        }
    }

    /// Every message after the Logon.
    pub fn on_message(&mut self, msg: Message, now: Instant) -> Vec<Out> {
        self.last_in = now;
        // Anything the peer sends shows it is alive, whatever a TestRequest asked.
        self.test_request = None;
        let mut out = Vec::new();
        let msg_type = msg.msg_type().to_string();
        if msg.get(49) != Some(self.config.sender_comp_id.as_str())
            || msg.get(56) != Some(self.config.target_comp_id.as_str())
        {
            let text = format!(
                "CompID problem: this session is {} → {}, the message says {} → {}",
                self.config.sender_comp_id,
                self.config.target_comp_id,
                msg.get(49).unwrap_or("?"),
                msg.get(56).unwrap_or("?")
            );
            out.extend(self.reject(
                msg.seq_num(),
                Some(&msg_type),
                reject::COMPID_PROBLEM,
                Some(49),
                &text,
                now,
            ));
            out.extend(self.logout_and_close(text, now));
            return out;
        }
        let Some(seq) = msg.seq_num() else {
            return self.logout_and_close("a message without a MsgSeqNum (34)".into(), now);
        };
        let expected = self.store.next_in();
        let poss_dup = msg.get(43) == Some("Y");
        // SequenceReset-Reset ignores MsgSeqNum altogether.
        if msg_type == "4" && msg.get(123) != Some("Y") {
            self.sequence_reset(&msg, seq, now, &mut out);
            return out;
        }
        if seq < expected {
            if poss_dup {
                out.push(Out::Info(format!(
                    "{}: duplicate {seq} ignored (PossDupFlag)",
                    self.config.name()
                )));
                return out;
            }
            return self.logout_and_close(
                format!("MsgSeqNum too low, expecting {expected} but received {seq}"),
                now,
            );
        }
        if seq > expected {
            // A ResendRequest is answered even out of order, or both sides
            // would wait on each other.
            if msg_type == "2" {
                self.resend(&msg, now, &mut out);
            }
            if msg_type == "5" {
                out.extend(self.logout_and_close("logout requested".into(), now));
                return out;
            }
            self.ask_resend(expected, seq, now, &mut out);
            return out;
        }
        if let Some(r) = self.check_common(&msg) {
            out.extend(self.reject(Some(seq), Some(&msg_type), r.reason, r.tag, &r.text, now));
            self.consume(seq, &mut out);
            return out;
        }
        match msg_type.as_str() {
            "0" => {
                if let (Some(id), Some((pending, _))) = (msg.get(112), &self.test_request) {
                    if id == pending {
                        self.test_request = None;
                    }
                }
            }
            "1" => match msg.get(112) {
                Some(id) if !id.is_empty() => self.send(Body::new("0").set(112, id), now, &mut out),
                _ => out.extend(self.reject(
                    Some(seq),
                    Some("1"),
                    reject::REQUIRED_TAG_MISSING,
                    Some(112),
                    "TestRequest needs a TestReqID (112)",
                    now,
                )),
            },
            "2" => self.resend(&msg, now, &mut out),
            "3" => out.push(Out::Warn(format!(
                "{}: the OMS rejected our message {}: {}",
                self.config.name(),
                msg.get(45).unwrap_or("?"),
                msg.get(58).unwrap_or("(no text)")
            ))),
            "4" => self.gap_fill(&msg, seq, now, &mut out),
            "5" => {
                self.consume(seq, &mut out);
                if !matches!(self.state, State::LoggingOut(_)) {
                    self.send(Body::new("5"), now, &mut out);
                }
                self.state = State::Idle;
                out.push(Out::Disconnect(format!(
                    "logout: {}",
                    msg.get(58).unwrap_or("requested by the OMS")
                )));
                return out;
            }
            "A" => {
                out.extend(self.reject(
                    Some(seq),
                    Some("A"),
                    reject::VALUE_INCORRECT,
                    Some(35),
                    "already logged on: Logon is only for the start",
                    now,
                ));
            }
            t if is_admin(t) => unreachable!("every admin type is handled"),
            t if t.is_empty() || t.len() > 2 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                out.extend(self.reject(
                    Some(seq),
                    Some(t),
                    reject::INVALID_MSG_TYPE,
                    Some(35),
                    &format!("MsgType {t:?} is not a FIX message type"),
                    now,
                ));
            }
            _ => {
                // Consumed by `app_handled` once the application is done
                // with it: a crash in between leaves it to be resent.
                out.push(Out::Deliver(msg));
                return out;
            }
        }
        if msg_type != "4" {
            self.consume(seq, &mut out);
        }
        out
    }

    /// Checks every message gets: SendingTime, tags not repeated, values present.
    fn check_common(&self, msg: &Message) -> Option<Refusal> {
        if let Some((tag, _)) = msg.fields.iter().find(|(_, v)| v.is_empty()) {
            return Some(refusal(
                reject::TAG_WITHOUT_VALUE,
                *tag,
                format!("tag {tag} has no value"),
            ));
        }
        if let Some(tag) = msg.repeated_tag() {
            return Some(refusal(
                reject::TAG_REPEATED,
                tag,
                format!("tag {tag} appears more than once"),
            ));
        }
        match msg.get(52) {
            None => Some(refusal(
                reject::REQUIRED_TAG_MISSING,
                52,
                "SendingTime (52) is missing",
            )),
            Some(t) if !super::message::is_utc_timestamp(t) => Some(refusal(
                reject::INCORRECT_DATA_FORMAT,
                52,
                format!("SendingTime (52) {t:?} is not YYYYMMDD-HH:MM:SS[.sss]"),
            )),
            _ if msg.get(43) == Some("Y") && msg.get(122).is_none() => Some(refusal(
                reject::REQUIRED_TAG_MISSING,
                122,
                "a PossDup message needs OrigSendingTime (122)",
            )),
            _ => None,
        }
    }

    fn resend(&mut self, msg: &Message, now: Instant, out: &mut Vec<Out>) {
        let parse = |t| msg.get(t).and_then(|v| v.parse::<u64>().ok());
        let (Some(begin), Some(end)) = (parse(7), parse(16)) else {
            let tag = if parse(7).is_none() { 7 } else { 16 };
            out.extend(self.reject(
                msg.seq_num(),
                Some("2"),
                reject::REQUIRED_TAG_MISSING,
                Some(tag),
                "ResendRequest needs BeginSeqNo (7) and EndSeqNo (16) as numbers",
                now,
            ));
            return;
        };
        let last = self.store.next_out() - 1;
        let end = if end == 0 || end > last { last } else { end };
        out.push(Out::Info(format!(
            "{}: resending {begin}..{end}",
            self.config.name()
        )));
        let sending_time = utc_timestamp(SystemTime::now());
        let mut gap_from: Option<u64> = None;
        let stored: Vec<(u64, Vec<u8>)> = self
            .store
            .sent_range(begin.max(1), end)
            .map(|(s, b)| (s, b.to_vec()))
            .collect();
        let mut frames = Vec::new();
        let mut seq = begin.max(1);
        let mut stored = stored.into_iter().peekable();
        while seq <= end {
            let app = match stored.peek() {
                Some((s, b)) if *s == seq && !b.is_empty() => stored.next().map(|(_, b)| b),
                Some((s, _)) if *s == seq => {
                    stored.next();
                    None
                }
                _ => None,
            };
            match app.and_then(|b| parse_stored(&b)) {
                Some(original) => {
                    if let Some(from) = gap_from.take() {
                        frames.push(self.gap_fill_frame(from, seq, &sending_time));
                    }
                    let orig_time = original.get(52).unwrap_or(&sending_time).to_string();
                    frames.push(encode(
                        &Header {
                            sender: &self.config.target_comp_id,
                            target: &self.config.sender_comp_id,
                            seq,
                            sending_time: &sending_time,
                            orig_sending_time: Some(&orig_time),
                        },
                        &body_of(&original),
                    ));
                }
                None => {
                    gap_from.get_or_insert(seq);
                }
            }
            seq += 1;
        }
        if let Some(from) = gap_from {
            frames.push(self.gap_fill_frame(from, end + 1, &sending_time));
        }
        self.last_out = now;
        out.extend(frames.into_iter().map(Out::Send));
    }

    fn gap_fill_frame(&self, from: u64, next: u64, sending_time: &str) -> Vec<u8> {
        encode(
            &Header {
                sender: &self.config.target_comp_id,
                target: &self.config.sender_comp_id,
                seq: from,
                sending_time,
                orig_sending_time: Some(sending_time),
            },
            &Body::new("4").set(123, "Y").set(36, next),
        )
    }

    fn new_seq_no(&mut self, msg: &Message, now: Instant, out: &mut Vec<Out>) -> Option<u64> {
        match msg.get(36).map(str::parse::<u64>) {
            Some(Ok(n)) if n <= super::message::MAX_SEQ => Some(n),
            Some(Ok(n)) => {
                let text = format!("NewSeqNo {n} is beyond any sequence number");
                out.extend(self.reject(
                    msg.seq_num(),
                    Some("4"),
                    reject::VALUE_INCORRECT,
                    Some(36),
                    &text,
                    now,
                ));
                None
            }
            Some(Err(_)) => {
                out.extend(self.reject(
                    msg.seq_num(),
                    Some("4"),
                    reject::INCORRECT_DATA_FORMAT,
                    Some(36),
                    "NewSeqNo (36) is not a number",
                    now,
                ));
                None
            }
            None => {
                out.extend(self.reject(
                    msg.seq_num(),
                    Some("4"),
                    reject::REQUIRED_TAG_MISSING,
                    Some(36),
                    "SequenceReset needs NewSeqNo (36)",
                    now,
                ));
                None
            }
        }
    }

    /// SequenceReset-Reset: MsgSeqNum does not matter, NewSeqNo does.
    fn sequence_reset(&mut self, msg: &Message, seq: u64, now: Instant, out: &mut Vec<Out>) {
        let Some(new) = self.new_seq_no(msg, now, out) else {
            return;
        };
        let expected = self.store.next_in();
        if new < expected {
            out.extend(self.reject(Some(seq), Some("4"), reject::VALUE_INCORRECT, Some(36), &format!("NewSeqNo {new} is below the expected {expected}: sequence numbers never go back"), now));
            return;
        }
        out.push(Out::Info(format!(
            "{}: sequence reset to {new}",
            self.config.name()
        )));
        if let Err(e) = self.store.set_next_in(new) {
            out.push(Out::Warn(format!("FIX store: {e:#}")));
        }
        self.resend_until = None;
    }

    /// SequenceReset-GapFill, in sequence.
    fn gap_fill(&mut self, msg: &Message, seq: u64, now: Instant, out: &mut Vec<Out>) {
        let Some(new) = self.new_seq_no(msg, now, out) else {
            self.consume(seq, out);
            return;
        };
        if new <= seq {
            out.extend(self.reject(
                Some(seq),
                Some("4"),
                reject::VALUE_INCORRECT,
                Some(36),
                &format!("GapFill NewSeqNo {new} must be above its MsgSeqNum {seq}"),
                now,
            ));
            self.consume(seq, out);
            return;
        }
        if let Err(e) = self.store.set_next_in(new) {
            out.push(Out::Warn(format!("FIX store: {e:#}")));
        }
        if self.resend_until.is_some_and(|u| new > u) {
            self.resend_until = None;
        }
    }

    /// The passing of time: heartbeats, test requests, a silent peer, a
    /// Logout that is not answered.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Out> {
        let mut out = Vec::new();
        match self.state {
            State::Idle => {}
            State::LoggingOut(since) => {
                if now.duration_since(since) >= LOGOUT_WAIT {
                    self.state = State::Idle;
                    out.push(Out::Disconnect("no answer to our Logout".into()));
                }
            }
            // HeartBtInt 0: the peer asked for no heartbeats.
            State::Active if self.heartbeat.is_zero() => {}
            State::Active => {
                let silence = now.duration_since(self.last_in);
                let patience = self.heartbeat.mul_f64(1.2);
                match &self.test_request {
                    Some((_, sent)) if now.duration_since(*sent) >= patience => {
                        self.state = State::Idle;
                        out.push(Out::Warn(format!(
                            "{}: no answer to a TestRequest: disconnecting",
                            self.config.name()
                        )));
                        out.push(Out::Disconnect(
                            "no heartbeat and no answer to a TestRequest".into(),
                        ));
                        return out;
                    }
                    None if silence >= patience => {
                        self.test_counter += 1;
                        let id = format!("TEST-{}", self.test_counter);
                        self.test_request = Some((id.clone(), now));
                        self.send(Body::new("1").set(112, id), now, &mut out);
                    }
                    _ => {}
                }
                if now.duration_since(self.last_out) >= self.heartbeat {
                    self.send(Body::new("0"), now, &mut out);
                }
            }
        }
        out
    }
}

fn parse_stored(bytes: &[u8]) -> Option<Message> {
    let mut f = Framer::default();
    f.push(bytes);
    match f.next_frame()? {
        Frame::Message(m, _) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::config::FixRole;

    fn config() -> SessionConfig {
        SessionConfig {
            sender_comp_id: "OMS1".into(),
            target_comp_id: "VIGIL".into(),
            user: "desk".into(),
            role: FixRole::Trader,
            store_sync: false,
            default_duration_s: 1800.0,
        }
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("vigil-fix-session-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn session(d: &std::path::Path) -> Session {
        Session::new(
            config(),
            SessionStore::open(d, "OMS1-VIGIL", false).unwrap(),
        )
    }

    fn from_oms(seq: u64, body: Body) -> Message {
        let bytes = encode(
            &Header {
                sender: "OMS1",
                target: "VIGIL",
                seq,
                sending_time: "20261203-10:00:00.000",
                orig_sending_time: None,
            },
            &body,
        );
        parse_stored(&bytes).unwrap()
    }

    fn sent(out: &[Out]) -> Vec<Message> {
        out.iter()
            .filter_map(|o| match o {
                Out::Send(b) => parse_stored(b),
                _ => None,
            })
            .collect()
    }

    fn logon(s: &mut Session, seq: u64) -> Vec<Out> {
        s.on_logon(
            &from_oms(seq, Body::new("A").set(98, 0).set(108, 30)),
            Instant::now(),
        )
    }

    #[test]
    fn logon_gap_resend_and_restart() {
        let d = dir("gap");
        let mut s = session(&d);
        let out = logon(&mut s, 1);
        assert_eq!(sent(&out)[0].msg_type(), "A");
        assert!(s.is_logged_on());
        // Two application messages, one heartbeat of ours in between.
        let now = Instant::now();
        s.send_app(&Body::new("8").set(11, "A-1"), now).unwrap();
        s.send(Body::new("0"), now, &mut Vec::new());
        s.send_app(&Body::new("8").set(11, "A-2"), now).unwrap();
        // A gap from the OMS: seq 2 expected, 4 received → ResendRequest 2..0.
        let out = s.on_message(from_oms(4, Body::new("D").set(11, "X")), now);
        let asked = sent(&out);
        assert_eq!(asked[0].msg_type(), "2");
        assert_eq!((asked[0].get(7), asked[0].get(16)), (Some("2"), Some("0")));
        assert!(!out.iter().any(|o| matches!(o, Out::Deliver(_))));
        // The OMS asks us to resend everything: Logon → gap fill, app
        // messages with PossDupFlag, the heartbeat → gap fill.
        let out = s.on_message(from_oms(2, Body::new("2").set(7, 1).set(16, 0)), now);
        let resent = sent(&out);
        let kinds: Vec<_> = resent
            .iter()
            .map(|m| {
                (
                    m.msg_type().to_string(),
                    m.seq_num().unwrap(),
                    m.get(43).map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("4".into(), 1, Some("Y".into())),
                ("8".into(), 2, Some("Y".into())),
                ("4".into(), 3, Some("Y".into())),
                ("8".into(), 4, Some("Y".into())),
                // Our own ResendRequest.
                ("4".into(), 5, Some("Y".into())),
            ]
        );
        assert_eq!(resent[0].get(36), Some("2"));
        assert_eq!(resent[1].get(11), Some("A-1"));
        assert!(resent[1].get(122).is_some());
        // After a restart, the numbers continue.
        let (next_in, next_out) = (s.next_in(), s.next_out());
        drop(s);
        let s = session(&d);
        assert_eq!((s.next_in(), s.next_out()), (next_in, next_out));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn low_sequence_numbers_and_bad_fields() {
        let d = dir("low");
        let mut s = session(&d);
        logon(&mut s, 1);
        let now = Instant::now();
        // Missing SendingTime → Reject 373=1, sequence consumed.
        let mut m = from_oms(2, Body::new("D"));
        m.fields.retain(|(t, _)| *t != 52);
        let out = s.on_message(m, now);
        let r = &sent(&out)[0];
        assert_eq!(
            (r.msg_type(), r.get(373), r.get(371), r.get(45)),
            ("3", Some("1"), Some("52"), Some("2"))
        );
        assert_eq!(s.next_in(), 3);
        // Unknown message type shape → 373=11.
        let out = s.on_message(from_oms(3, Body::new("ZZZ")), now);
        assert_eq!(sent(&out)[0].get(373), Some("11"));
        // A duplicate with PossDupFlag is ignored; without it, logout.
        let mut dup = from_oms(2, Body::new("D"));
        dup.fields.push((43, "Y".into()));
        dup.fields.push((122, "20261203-10:00:00.000".into()));
        assert!(sent(&s.on_message(dup, now)).is_empty());
        let out = s.on_message(from_oms(2, Body::new("D")), now);
        assert_eq!(sent(&out)[0].msg_type(), "5");
        assert!(out.iter().any(|o| matches!(o, Out::Disconnect(_))));
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Seeded mutations of real messages, and random bytes, through the
    /// framer and the session: whatever arrives, nothing panics.
    #[test]
    fn mutated_input_never_panics() {
        let d = dir("fuzz");
        let mut s = session(&d);
        logon(&mut s, 1);
        let samples: Vec<Vec<u8>> = [
            Body::new("D")
                .set(11, "A-1")
                .set(55, "ACME")
                .set(54, 1)
                .set(38, 100)
                .set(40, 1),
            Body::new("2").set(7, 1).set(16, 0),
            Body::new("4").set(123, "Y").set(36, 9),
            Body::new("4").set(36, 3),
            Body::new("1").set(112, "T"),
            Body::new("5"),
        ]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            encode(
                &Header {
                    sender: "OMS1",
                    target: "VIGIL",
                    seq: i as u64 + 2,
                    sending_time: "20261203-10:00:00",
                    orig_sending_time: None,
                },
                b,
            )
        })
        .collect();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut framer = Framer::default();
        let now = Instant::now();
        for round in 0..20_000 {
            let mut bytes = samples[(next() % samples.len() as u64) as usize].clone();
            match round % 4 {
                0 => {
                    let i = (next() % bytes.len() as u64) as usize;
                    bytes[i] = next() as u8;
                }
                1 => bytes.truncate((next() % bytes.len() as u64) as usize),
                2 => bytes = (0..(next() % 64)).map(|_| next() as u8).collect(),
                _ => {
                    let i = (next() % bytes.len() as u64) as usize;
                    bytes.insert(i, [b'=', 0x01, b'9', b'8'][(next() % 4) as usize]);
                }
            }
            framer.push(&bytes);
            while let Some(frame) = framer.next_frame() {
                let outs = match frame {
                    Frame::Message(m, _) => s.on_message(m, now),
                    Frame::Unreadable { seq, msg_type, bad } => {
                        s.on_unreadable(seq, msg_type.as_deref(), &bad.text, now)
                    }
                    Frame::Garbled(_) => continue,
                };
                if outs.iter().any(|o| matches!(o, Out::Disconnect(_))) {
                    s.disconnected();
                    let seq = s.next_in();
                    logon(&mut s, seq);
                }
            }
            assert!(framer.pending() <= 2 * super::super::message::MAX_BODY);
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn heartbeats_and_test_requests() {
        let d = dir("hb");
        let mut s = session(&d);
        s.on_logon(
            &from_oms(1, Body::new("A").set(98, 0).set(108, 1)),
            Instant::now(),
        );
        let t0 = Instant::now();
        let out = s.on_tick(t0 + Duration::from_millis(1300));
        let kinds: Vec<_> = sent(&out)
            .iter()
            .map(|m| m.msg_type().to_string())
            .collect();
        // The TestRequest is traffic: no heartbeat is due with it.
        assert_eq!(kinds, ["1"]);
        let out = s.on_tick(t0 + Duration::from_millis(2700));
        assert!(
            out.iter().any(|o| matches!(o, Out::Disconnect(_))),
            "{out:?}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
