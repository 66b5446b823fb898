//! FIX order entry against an independent FIX engine: QuickFIX (Debian's
//! libquickfix-dev, validating every message against FIX44.xml) drives the
//! real `vigil engine --fix-listen` binary, the way an OMS would: logon, an
//! order that fills over the simulated day, a replace, a cancel, an order
//! the pre-trade collar rejects, a disconnect and reconnect with
//! ResendRequests both ways, and sequence numbers surviving an engine
//! restart. The peer is `tests/fix_peer/oms.cpp` (see its README).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vigil::engine::journal::{Journal, Record};
use vigil::protocol::Event;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Build the QuickFIX peer (cached under target/fix-peer) and return it.
fn peer_binary() -> PathBuf {
    let out = Command::new(repo().join("tests/fix_peer/build.sh"))
        .output()
        .expect("running tests/fix_peer/build.sh");
    assert!(
        out.status.success(),
        "building the QuickFIX peer failed (./test installs libquickfix-dev):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    repo().join(
        stdout
            .lines()
            .last()
            .expect("build.sh prints the binary")
            .trim(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-fix-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Lines a child prints, read on a thread so its pipe never fills.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// Everything it printed, for the checks at the end and for failures.
    log: Vec<String>,
    seen: usize,
}

impl Peer {
    fn spawn(bin: &Path, port: u16, store: &Path) -> Peer {
        let mut child = Command::new(bin)
            .args(["--port", &port.to_string(), "--store"])
            .arg(store)
            .arg("--dict")
            .arg(repo().join("target/fix-peer/FIX44.xml"))
            .args(["--heartbeat", "2", "--reconnect", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the QuickFIX peer");
        let stdin = child.stdin.take().unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let mut p = Peer {
            child,
            stdin,
            lines,
            log: Vec::new(),
            seen: 0,
        };
        p.wait(|l| l == "READY", 10);
        p
    }

    fn cmd(&mut self, c: &str) {
        writeln!(self.stdin, "{c}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Where the output is now: `wait_since` looks from here.
    fn mark(&self) -> usize {
        self.log.len()
    }

    /// A line printed since `mark` that `want` accepts, whatever came
    /// between (for things whose order FIX leaves open).
    fn wait_since(&mut self, mark: usize, want: impl Fn(&str) -> bool, secs: u64) -> String {
        if let Some(l) = self.log[mark..].iter().find(|l| want(l)) {
            return l.clone();
        }
        self.seen = self.seen.max(mark);
        self.wait(want, secs)
    }

    /// The first line from now on that `want` accepts.
    fn wait(&mut self, want: impl Fn(&str) -> bool, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            while self.seen < self.log.len() {
                self.seen += 1;
                if want(&self.log[self.seen - 1]) {
                    return self.log[self.seen - 1].clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.log.push(l),
                Err(_) => {
                    let all = std::env::temp_dir().join("vigil-fix-peer-stdout.log");
                    let _ = std::fs::write(&all, self.log.join("\n"));
                    panic!(
                        "the peer did not print what was expected within {secs} s (all of its output: {}); the last of it:\n{}",
                        all.display(),
                        self.log[self.log.len().saturating_sub(30)..].join("\n")
                    )
                }
            }
        }
    }

    /// An `ER` line's fields: ClOrdID, OrigClOrdID, OrderID, ExecType,
    /// OrdStatus, CumQty, LeavesQty, AvgPx, LastPx, LastQty, PossDup, seq,
    /// OrdRejReason, Text.
    fn er(&mut self, want: impl Fn(&[&str]) -> bool, secs: u64) -> Vec<String> {
        let line = self.wait(
            |l| {
                let f: Vec<&str> = l.split(' ').collect();
                f[0] == "ER" && f.len() >= 15 && want(&f[1..])
            },
            secs,
        );
        let mut f: Vec<String> = line.splitn(15, ' ').skip(1).map(str::to_string).collect();
        f.resize(14, String::new());
        f
    }

    fn seqs(&mut self) -> (u64, u64) {
        self.cmd("seqs");
        let l = self.wait(|l| l.starts_with("SEQ "), 10);
        let f: Vec<u64> = l.split(' ').skip(1).map(|v| v.parse().unwrap()).collect();
        (f[0], f[1])
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Engine {
    child: Child,
    journal: Option<PathBuf>,
}

impl Engine {
    fn start(fix_port: u16, config: &Path, store: &Path, record: &Path) -> Engine {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args([
                "engine",
                "--listen",
                "127.0.0.1:0",
                "--token",
                "fix-test-token",
            ])
            .args(["--seed", "11", "--speed", "30"])
            .args([
                "--fix-listen",
                &format!("127.0.0.1:{fix_port}"),
                "--fix-config",
            ])
            .arg(config)
            .arg("--fix-store")
            .arg(store)
            .arg("--record")
            .arg(record)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting vigil engine");
        let lines = lines_of(child.stdout.take().unwrap());
        let mut journal = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("vigil engine did not start its FIX acceptor");
            if let Some(p) = line.strip_prefix("recording to ") {
                journal = Some(PathBuf::from(p));
            }
            if line.starts_with("FIX 4.4 acceptor on") {
                break;
            }
        }
        // Keep draining its output.
        std::thread::spawn(move || for _ in lines {});
        Engine { child, journal }
    }

    /// Ctrl-C: the engine logs the OMS out and finishes its journal.
    fn stop(mut self) -> Option<PathBuf> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "vigil engine exited with {status}");
                return self.journal.take();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("vigil engine did not stop on SIGINT");
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CONFIG: &str = r#"
[[sessions]]
sender_comp_id = "OMS1"
target_comp_id = "VIGIL"
user = "desk"
role = "trader"
"#;

#[test]
fn an_oms_on_quickfix_trades_through_vigil_and_survives_disconnects_and_restarts() {
    let bin = peer_binary();
    let dir = tempdir("e2e");
    let config = dir.join("fix.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let (store, record) = (dir.join("fix-store"), dir.join("recordings"));
    let port = free_port();
    let engine = Engine::start(port, &config, &store, &record);
    let mut oms = Peer::spawn(&bin, port, &dir.join("oms"));
    oms.cmd("start");
    oms.wait(|l| l == "LOGON", 20);

    // An order that fills over the simulated day, a TWAP over 300 s.
    oms.cmd("nos A-1 ACME buy 3000 1000 duration_s=300");
    let new = oms.er(|f| f[0] == "A-1" && f[3] == "0", 20);
    assert_eq!(
        (new[4].as_str(), new[5].as_str(), new[6].as_str()),
        ("0", "0", "3000"),
        "{new:?}"
    );
    let order_id = new[2].clone();
    let fill = oms.er(|f| f[0] == "A-1" && f[3] == "F", 60);
    assert_eq!(fill[4], "1", "partially filled: {fill:?}");
    let (cum, leaves): (f64, f64) = (fill[5].parse().unwrap(), fill[6].parse().unwrap());
    assert_eq!(cum + leaves, 3000.0, "{fill:?}");

    // Replace: more quantity, more urgency.
    oms.cmd("replace A-2 A-1 ACME buy 4000 urgency=0.8");
    let replaced = oms.er(|f| f[0] == "A-2" && f[3] == "5", 20);
    assert_eq!(
        (replaced[1].as_str(), replaced[2].as_str()),
        ("A-1", order_id.as_str())
    );
    let (cum, leaves): (f64, f64) = (replaced[5].parse().unwrap(), replaced[6].parse().unwrap());
    assert_eq!(cum + leaves, 4000.0, "{replaced:?}");

    // A limit far outside the collar: rejected by the pre-trade checks.
    oms.cmd("nos R-1 ACME buy 1000 1000 - 1000");
    let rejected = oms.er(|f| f[0] == "R-1", 20);
    assert_eq!(
        (rejected[3].as_str(), rejected[4].as_str()),
        ("8", "8"),
        "{rejected:?}"
    );
    assert!(rejected[13].contains("limit_price"), "{rejected:?}");

    // A VWAP sell, cancelled.
    oms.cmd("nos B-1 ACME sell 2000 1 duration_s=600");
    oms.er(|f| f[0] == "B-1" && f[3] == "0", 20);
    oms.cmd("cancel C-1 B-1 ACME sell 2000");
    let cancelled = oms.er(|f| f[0] == "C-1" && f[3] == "4", 20);
    assert_eq!(
        (
            cancelled[1].as_str(),
            cancelled[4].as_str(),
            cancelled[6].as_str()
        ),
        ("B-1", "4", "0")
    );

    // Away for a while: the order keeps filling, and the OMS sends an
    // order while logged out (QuickFIX numbers and stores it).
    oms.cmd("stop");
    oms.wait(|l| l == "LOGOUT", 20);
    std::thread::sleep(Duration::from_secs(2));
    oms.cmd("nos D-1 ACME buy 500 1000 duration_s=120");
    let back = oms.mark();
    oms.cmd("start");
    oms.wait(|l| l == "LOGON", 20);
    // vigil numbered the reports it made meanwhile: QuickFIX asks for them
    // and gets them again, marked PossDup.
    oms.wait_since(back, |l| l.starts_with("ADMIN_OUT 2 "), 20);
    oms.wait_since(
        back,
        |l| l.starts_with("ER A-2 ") && l.split(' ').nth(11) == Some("Y"),
        20,
    );
    // And vigil asks QuickFIX for the order it missed, and works it.
    oms.wait_since(back, |l| l.starts_with("ADMIN_IN 2 "), 20);
    oms.wait_since(
        back,
        |l| l.starts_with("ER D-1 - ") && l.split(' ').nth(4) == Some("0"),
        20,
    );

    // The first order fills completely by the end of its horizon.
    let filled = oms.er(|f| f[0] == "A-2" && f[4] == "2", 90);
    assert_eq!(
        (filled[5].as_str(), filled[6].as_str()),
        ("4000", "0"),
        "{filled:?}"
    );

    // Restart the engine: the sequence numbers continue.
    oms.cmd("stop");
    oms.wait(|l| l == "LOGOUT", 20);
    let (_, expected_from_vigil) = oms.seqs();
    let journal = engine.stop().expect("the engine recorded");
    let engine = Engine::start(port, &config, &store, &record);
    let back = oms.mark();
    oms.cmd("start");
    let logon = oms.wait(|l| l.starts_with("ADMIN_IN A "), 30);
    let seq: u64 = logon.split(' ').nth(2).unwrap().parse().unwrap();
    assert_eq!(
        seq, expected_from_vigil,
        "vigil's Logon after its restart continues its numbers: {logon}"
    );
    oms.wait_since(back, |l| l == "LOGON", 20);
    let (sender, target) = oms.seqs();
    assert!(
        target > expected_from_vigil && sender > 1,
        "{sender} {target}"
    );
    oms.cmd("nos E-1 ACME buy 700 1000 duration_s=120");
    let e1 = oms.er(|f| f[0] == "E-1" && f[3] == "0", 20);
    oms.er(|f| f[0] == "E-1" && f[3] == "F", 30);

    // kill -9 mid-order: the next engine recovers the run from its journal
    // (same run, same order ids) and the OMS, reconnecting by itself, hears
    // of E-1 again without a report twice or a quantity going back.
    let mut killed = engine;
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let back = oms.mark();
    let engine = Engine::start(port, &config, &store, &record);
    oms.wait_since(back, |l| l == "LOGON", 30);
    let done = oms.er(|f| f[0] == "E-1" && (f[4] == "2" || f[4] == "3"), 60);
    assert_eq!(
        done[2], e1[2],
        "the recovered run kept the order id: {done:?}"
    );
    let mut last_cum = 0.0;
    let mut seen_seqs = std::collections::HashSet::new();
    for l in oms.log.iter().filter(|l| l.starts_with("ER E-1 ")) {
        let f: Vec<&str> = l.split(' ').collect();
        assert!(seen_seqs.insert(f[12].to_string()) || f[11] == "Y", "{l}");
        if f[11] == "N" {
            let cum: f64 = f[6].parse().unwrap();
            assert!(cum >= last_cum, "CumQty went back after the recovery: {l}");
            last_cum = cum;
        }
    }
    drop(engine);
    drop(killed);

    // QuickFIX, validating against FIX44.xml, found nothing wrong with
    // anything vigil sent, and no sequence reset ever happened.
    for l in &oms.log {
        assert!(
            !l.starts_with("ADMIN_OUT 3 "),
            "QuickFIX rejected a message of vigil's: {l}"
        );
        assert!(!l.starts_with("INVALID"), "{l}");
        assert!(
            !l.starts_with("APP_OUT j"),
            "QuickFIX refused a message of vigil's: {l}"
        );
        assert!(!l.contains("gapfill=N"), "a sequence reset: {l}");
    }

    // The journal has the OMS's commands under its session's name.
    let journal = Journal::open(&journal).unwrap();
    let fix_commands: Vec<(String, String)> = journal
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) => match &e.event {
                Event::CommandApplied { user, command, .. } if user == "desk@FIX:OMS1→VIGIL" => {
                    Some((command.kind().to_string(), format!("{command:?}")))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    let kinds: Vec<&str> = fix_commands.iter().map(|(k, _)| k.as_str()).collect();
    for k in ["new_order", "retune", "cancel"] {
        assert!(kinds.contains(&k), "no FIX {k} in the journal: {kinds:?}");
    }
    assert!(journal.events().any(|e| matches!(&e.event,
        Event::OrderNew { order } if order.origin.as_ref().is_some_and(|o| o.cl_ord_id == "A-1"))));
    let _ = std::fs::remove_dir_all(&dir);
}
