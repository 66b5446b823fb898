//! The FIX acceptor against bad input, byte by byte over loopback TCP: what
//! an independent FIX engine would never send (garbage, wrong checksums and
//! lengths, messages before Logon, unknown CompIDs) and what an OMS may well
//! send (a duplicate ClOrdID, a quantity of 0 or 1e18, a NaN or empty price,
//! an unknown symbol, a viewer's order). Each gets the answer FIX prescribes;
//! the session stays up where FIX says it should; the engine keeps serving.
//! (The conversation an OMS normally has is tested against QuickFIX in
//! `tests/fix.rs`.)

mod support;

use std::time::{Duration, Instant};

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vigil::engine::fix_gateway;
use vigil::fix::message::{checksum, encode, utc_timestamp, Body, Header};
use vigil::fix::{FixConfig, Frame, Framer, Message};
use vigil::protocol::*;

const CONFIG: &str = r#"
[[sessions]]
sender_comp_id = "OMS1"
target_comp_id = "VIGIL"
user = "desk"
role = "trader"

[[sessions]]
sender_comp_id = "WATCH"
target_comp_id = "VIGIL"
user = "auditor"
role = "viewer"
"#;

struct Oms {
    stream: TcpStream,
    framer: Framer,
    sender: &'static str,
    seq: u64,
}

impl Oms {
    async fn connect(addr: std::net::SocketAddr, sender: &'static str) -> Oms {
        Oms {
            stream: TcpStream::connect(addr).await.unwrap(),
            framer: Framer::default(),
            sender,
            seq: 1,
        }
    }

    fn frame(&mut self, body: &Body) -> Vec<u8> {
        let now = utc_timestamp(std::time::SystemTime::now());
        let bytes = encode(
            &Header {
                sender: self.sender,
                target: "VIGIL",
                seq: self.seq,
                sending_time: &now,
                orig_sending_time: None,
            },
            body,
        );
        self.seq += 1;
        bytes
    }

    async fn send(&mut self, body: Body) {
        let bytes = self.frame(&body);
        self.stream.write_all(&bytes).await.unwrap();
    }

    async fn raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next message from vigil, skipping heartbeats; None if the
    /// connection closed or nothing came within 5 s.
    async fn next(&mut self) -> Option<Message> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 4096];
        loop {
            while let Some(f) = self.framer.next_frame() {
                match f {
                    Frame::Message(m, _) if m.msg_type() == "0" => continue,
                    Frame::Message(m, _) => return Some(m),
                    other => panic!("vigil sent a bad frame: {other:?}"),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => self.framer.push(&buf[..n]),
            }
        }
    }

    /// The next message of type `t`, skipping fills and the like.
    async fn next_of(&mut self, t: &str) -> Message {
        loop {
            let m = self
                .next()
                .await
                .unwrap_or_else(|| panic!("no {t} from vigil"));
            if m.msg_type() == t {
                return m;
            }
        }
    }

    /// The next ExecutionReport that is not a fill (fills may come first).
    async fn next_report(&mut self) -> Message {
        loop {
            let er = self.next_of("8").await;
            if er.get(150) != Some("F") {
                return er;
            }
        }
    }

    async fn logon(&mut self) {
        self.send(Body::new("A").set(98, 0).set(108, 30)).await;
        let m = self.next().await.expect("a Logon answer");
        assert_eq!(m.msg_type(), "A", "{}", m.display());
    }

    /// Is the session still up? A TestRequest must come back as a Heartbeat.
    async fn alive(&mut self, id: &str) {
        self.send(Body::new("1").set(112, id)).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 4096];
        loop {
            while let Some(f) = self.framer.next_frame() {
                if let Frame::Message(m, _) = f {
                    if m.msg_type() == "0" && m.get(112) == Some(id) {
                        return;
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.framer.push(&buf[..n]),
                _ => panic!("the session is down: no answer to TestRequest {id}"),
            }
        }
    }

    async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn now() -> String {
    utc_timestamp(std::time::SystemTime::now())
}

/// `body` with `tag` set to `value` (replaced, not repeated).
fn with(mut body: Body, tag: u32, value: &str) -> Body {
    body.fields.retain(|(t, _)| *t != tag);
    body.set(tag, value)
}

fn order(cl: &str, symbol: &str, qty: &str) -> Body {
    Body::new("D")
        .set(11, cl)
        .set(55, symbol)
        .set(54, 1)
        .set(38, qty)
        .set(40, 1)
        .set(60, now())
        .set(847, 1000)
        .set(848, "duration_s=1200")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_answer_fix_prescribes() {
    let engine = start_engine("default", 7, 1.0, None).await;
    let store = tempdir("fix-bad-input");
    let cfg = FixConfig::parse(CONFIG, "test").unwrap();
    let gw = fix_gateway::start("127.0.0.1:0", cfg, &store, engine.handle.clone())
        .await
        .unwrap();

    // Before Logon: any other message, or unknown CompIDs, and the
    // connection is dropped without a word.
    let mut early = Oms::connect(gw.addr, "OMS1").await;
    early.send(order("E-1", "ACME", "100")).await;
    assert!(
        early.closed().await,
        "a message before Logon must end the connection"
    );
    let mut stranger = Oms::connect(gw.addr, "NOBODY").await;
    stranger.send(Body::new("A").set(98, 0).set(108, 30)).await;
    assert!(stranger.closed().await, "unknown CompIDs must not log on");

    // Junk before the Logon is skipped.
    let mut oms = Oms::connect(gw.addr, "OMS1").await;
    oms.raw(b"\x00\x01GET / HTTP/1.1\r\n\r\n").await;
    oms.logon().await;

    // Garbled frames: discarded, no sequence number used, session up.
    let mut bad_sum = oms.frame(&Body::new("1").set(112, "X"));
    oms.seq -= 1;
    let n = bad_sum.len();
    bad_sum[n - 2] = if bad_sum[n - 2] == b'0' { b'1' } else { b'0' };
    oms.raw(&bad_sum).await;
    let good = String::from_utf8(oms.frame(&Body::new("1").set(112, "Y"))).unwrap();
    oms.seq -= 1;
    let len_at = good.find("\x019=").unwrap() + 3;
    let len_end = len_at + good[len_at..].find('\x01').unwrap();
    let declared: usize = good[len_at..len_end].parse().unwrap();
    let wrong_len = format!("{}{}{}", &good[..len_at], declared + 3, &good[len_end..]);
    oms.raw(wrong_len.as_bytes()).await;
    oms.raw(b"\xff\xfe garbage \x01\x01").await;
    oms.alive("after-garbage").await;

    // A field that is not tag=value: session Reject, invalid tag.
    let text = format!(
        "35=D\x0149=OMS1\x0156=VIGIL\x0134={}\x0152={}\x01abc=1\x01",
        oms.seq,
        now()
    );
    oms.seq += 1;
    let mut m = format!("8=FIX.4.4\x019={}\x01{text}", text.len()).into_bytes();
    let sum = checksum(&m);
    m.extend(format!("10={sum:03}\x01").bytes());
    oms.raw(&m).await;
    let r = oms.next_of("3").await;
    assert_eq!(r.get(373), Some("0"), "{}", r.display());

    // Quantities, prices, symbols: each fault its answer.
    oms.send(order("Q-0", "ACME", "0")).await;
    let er = oms.next_of("8").await;
    assert_eq!(
        (er.get(11), er.get(39), er.get(103)),
        (Some("Q-0"), Some("8"), Some("13")),
        "{}",
        er.display()
    );

    oms.send(order("Q-E", "ACME", "1e18")).await;
    let r = oms.next_of("3").await;
    assert_eq!(
        (r.get(373), r.get(371)),
        (Some("6"), Some("38")),
        "{}",
        r.display()
    );

    oms.send(order("Q-BIG", "ACME", "1000000000000000000"))
        .await;
    let er = oms.next_of("8").await;
    assert_eq!(
        (er.get(11), er.get(39), er.get(103)),
        (Some("Q-BIG"), Some("8"), Some("3")),
        "{}",
        er.display()
    );
    assert!(
        er.get(58).unwrap().contains("average daily volume"),
        "{}",
        er.display()
    );

    oms.send(with(order("P-NAN", "ACME", "100"), 40, "2").set(44, "NaN"))
        .await;
    let r = oms.next_of("3").await;
    assert_eq!(
        (r.get(373), r.get(371)),
        (Some("6"), Some("44")),
        "{}",
        r.display()
    );

    oms.send(order("P-EMPTY", "ACME", "100").set(44, "")).await;
    let r = oms.next_of("3").await;
    assert_eq!(
        (r.get(373), r.get(371)),
        (Some("4"), Some("44")),
        "{}",
        r.display()
    );

    oms.send(order("S-1", "NOPE", "100")).await;
    let er = oms.next_of("8").await;
    assert_eq!(
        (er.get(39), er.get(103)),
        (Some("8"), Some("1")),
        "{}",
        er.display()
    );

    // A good order, then the same ClOrdID again.
    oms.send(order("G-1", "ACME", "1000")).await;
    let er = oms.next_of("8").await;
    assert_eq!(
        (er.get(11), er.get(150), er.get(39)),
        (Some("G-1"), Some("0"), Some("0")),
        "{}",
        er.display()
    );
    let order_id = er.get(37).unwrap().to_string();
    oms.send(order("G-1", "ACME", "1000")).await;
    let er = loop {
        let er = oms.next_of("8").await;
        if er.get(39) == Some("8") {
            break er;
        }
    };
    assert_eq!(
        (er.get(11), er.get(103)),
        (Some("G-1"), Some("6")),
        "{}",
        er.display()
    );

    // A cancel of an order that does not exist: OrderCancelReject, unknown order.
    oms.send(
        Body::new("F")
            .set(11, "C-1")
            .set(41, "NOT-THERE")
            .set(55, "ACME")
            .set(54, 1)
            .set(60, now()),
    )
    .await;
    let cr = oms.next_of("9").await;
    assert_eq!(
        (cr.get(434), cr.get(102)),
        (Some("1"), Some("1")),
        "{}",
        cr.display()
    );

    // A message type vigil does not take: BusinessMessageReject.
    oms.send(Body::new("R").set(131, "Q-1")).await;
    let bmr = oms.next_of("j").await;
    assert_eq!(
        (bmr.get(372), bmr.get(380)),
        (Some("R"), Some("3")),
        "{}",
        bmr.display()
    );

    oms.alive("after-bad-orders").await;

    // A viewer session may look, not trade: the console's permission guard.
    let mut viewer = Oms::connect(gw.addr, "WATCH").await;
    viewer.logon().await;
    viewer.send(order("V-1", "ACME", "100")).await;
    let er = viewer.next_of("8").await;
    assert_eq!(er.get(39), Some("8"), "{}", er.display());
    assert!(er.get(58).unwrap().contains("viewer"), "{}", er.display());

    // What a trader does at the console reaches the OMS too: the kill
    // switch suspends its order, releasing it restates it, a cancel cancels it.
    let console = |c: Command| {
        let h = engine.handle.clone();
        async move { h.command("k", "alice", Role::Trader, c).await.unwrap() }
    };
    assert!(
        console(Command::KillSwitch {
            reason: Some("venue acting up".into())
        })
        .await
        .ok
    );
    let er = oms.next_report().await;
    assert_eq!(
        (er.get(11), er.get(150), er.get(39)),
        (Some("G-1"), Some("9"), Some("9")),
        "{}",
        er.display()
    );
    assert!(console(Command::ResumeAll).await.ok);
    let er = oms.next_report().await;
    assert_eq!(
        (er.get(150), er.get(378)),
        (Some("D"), Some("4")),
        "{}",
        er.display()
    );
    assert!(
        console(Command::Cancel {
            order_id: order_id.clone()
        })
        .await
        .ok
    );
    let er = oms.next_report().await;
    assert_eq!(
        (er.get(11), er.get(150), er.get(39), er.get(151)),
        (Some("G-1"), Some("4"), Some("4"), Some("0")),
        "{}",
        er.display()
    );
    assert!(er.get(58).unwrap().contains("alice"), "{}", er.display());

    // Through all of it the engine kept working: the FIX order is in its
    // view, with where it came from.
    let (_, snap) = engine.handle.snapshot().await.unwrap();
    let ServerMessage::Snapshot(view) = decode_server(&snap).unwrap() else {
        panic!()
    };
    let o = view
        .order(&order_id)
        .expect("the FIX order is in the engine");
    let origin = o.info.origin.as_ref().unwrap();
    assert_eq!(
        (origin.fix_session.as_str(), origin.cl_ord_id.as_str()),
        ("OMS1→VIGIL", "G-1")
    );
    let _ = std::fs::remove_dir_all(&store);
}

/// An OMS that writes its Logon, an order and its cancel in one go gets
/// them handled in order (the cancel finds the order), and a second
/// connection claiming the session is turned away without disturbing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_messages_and_a_second_connection() {
    let engine = start_engine("default", 8, 1.0, None).await;
    let store = tempdir("fix-pipelined");
    let cfg = FixConfig::parse(CONFIG, "test").unwrap();
    let gw = fix_gateway::start("127.0.0.1:0", cfg, &store, engine.handle.clone())
        .await
        .unwrap();
    let mut oms = Oms::connect(gw.addr, "OMS1").await;
    let mut burst = oms.frame(&Body::new("A").set(98, 0).set(108, 30));
    burst.extend(oms.frame(&order("P-1", "ACME", "1000")));
    burst.extend(oms.frame(&order("P-2", "ACME", "2000")));
    burst.extend(
        oms.frame(
            &Body::new("F")
                .set(11, "X-1")
                .set(41, "P-1")
                .set(55, "ACME")
                .set(54, 1)
                .set(60, now()),
        ),
    );
    oms.raw(&burst).await;
    assert_eq!(oms.next().await.unwrap().msg_type(), "A");
    let new1 = oms.next_report().await;
    assert_eq!(
        (new1.get(11), new1.get(150)),
        (Some("P-1"), Some("0")),
        "{}",
        new1.display()
    );
    let new2 = oms.next_report().await;
    assert_eq!(
        (new2.get(11), new2.get(150)),
        (Some("P-2"), Some("0")),
        "{}",
        new2.display()
    );
    let cancelled = oms.next_report().await;
    assert_eq!(
        (cancelled.get(11), cancelled.get(41), cancelled.get(150)),
        (Some("X-1"), Some("P-1"), Some("4")),
        "{}",
        cancelled.display()
    );

    // Two live orders under the kill switch: each its own ExecID.
    let mut both = Oms::connect(gw.addr, "OMS1").await;
    both.send(Body::new("A").set(98, 0).set(108, 30)).await;
    assert!(
        both.closed().await,
        "a second connection for a logged-on session is refused"
    );
    oms.send(order("P-3", "ACME", "500")).await;
    assert_eq!(oms.next_report().await.get(11), Some("P-3"));
    let h = engine.handle.clone();
    assert!(
        h.command(
            "k",
            "alice",
            Role::Trader,
            Command::KillSwitch { reason: None }
        )
        .await
        .unwrap()
        .ok
    );
    let a = oms.next_report().await;
    let b = oms.next_report().await;
    assert_eq!((a.get(150), b.get(150)), (Some("9"), Some("9")));
    assert_ne!(
        a.get(17),
        b.get(17),
        "ExecIDs repeat: {} / {}",
        a.display(),
        b.display()
    );
    oms.alive("after-the-second-connection").await;
    let _ = std::fs::remove_dir_all(&store);
}
