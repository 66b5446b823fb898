//! Crash recovery: a journal cut anywhere (what `kill -9` leaves) recovers to
//! the run an uninterrupted engine would have had; acknowledged commands
//! survive a real `kill -9` of the engine process; clients resume across the
//! restart, and a fresh engine on the same address is told apart from the
//! run a client left.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use support::{start_engine, Client, TRADER};
use vigil::engine::journal::{CommandRecord, Journal, Record};
use vigil::engine::recovery;
use vigil::engine::{Engine, EngineOptions, Scenario};
use vigil::protocol::*;

fn commands_script() -> Vec<(String, Command)> {
    let p = |id: &str| id.to_string();
    vec![
        (p("c1"), Command::Pause { order_id: p("P-1") }),
        (
            p("c2"),
            Command::Retune {
                order_id: p("P-2"),
                params: RetuneParams {
                    urgency: Some(0.9),
                    ..Default::default()
                },
            },
        ),
        (
            p("c3"),
            Command::Override {
                order_id: p("P-3"),
                action: Some("passive".into()),
                strategy: None,
                decisions: Some(5),
            },
        ),
        (p("c4"), Command::Resume { order_id: p("P-1") }),
        (
            p("c5"),
            Command::KillSwitch {
                reason: Some("drill".into()),
            },
        ),
        (p("c6"), Command::ResumeAll),
        (p("c7"), Command::Cancel { order_id: p("P-4") }),
    ]
}

/// A session run by the real engine (runner, hub, journal) with commands
/// sent over WebSocket while it trades, shut down cleanly at the day's end.
async fn recorded_day(dir: &Path) -> PathBuf {
    let engine = start_engine("default", 7, 3000.0, Some(dir.to_path_buf())).await;
    let mut c = Client::connect(&engine.url()).await;
    c.hello(TRADER, None).await;
    for (id, cmd) in commands_script() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let ack = c.command(&id, cmd).await;
        assert!(ack.seq.is_some(), "{ack:?}");
    }
    c.until(|m| {
        matches!(m, ServerMessage::Event(e) if matches!(e.event, Event::EngineState { state: EngineState::Ended, .. }))
    })
    .await;
    let path = engine.journal.clone().unwrap();
    engine.handle.shutdown();
    engine.thread.join().unwrap().unwrap();
    path
}

fn encoded(engine: &mut Engine, out: &mut Vec<String>) {
    for env in engine.drain_events() {
        out.push(encode(&ServerMessage::Event(env)));
    }
}

/// The uninterrupted run with these commands, applied at their recorded points.
fn uninterrupted(journal: &Journal, commands: &[CommandRecord]) -> Vec<String> {
    let scenario: Scenario = toml::from_str(&journal.header.scenario_toml).unwrap();
    let mut engine = Engine::new(
        &scenario,
        &EngineOptions {
            engine_id: journal.header.engine_id.clone(),
            seed: Some(journal.header.seed),
            ..Default::default()
        },
    )
    .unwrap();
    let mut out = Vec::new();
    encoded(&mut engine, &mut out);
    let mut next = commands.iter().peekable();
    loop {
        while let Some(c) = next.next_if(|c| c.step == engine.steps()) {
            engine.apply_command(&c.id, &c.user, c.role, &c.command);
            encoded(&mut engine, &mut out);
        }
        if !engine.step() {
            encoded(&mut engine, &mut out);
            break;
        }
        encoded(&mut engine, &mut out);
    }
    assert!(next.next().is_none(), "every command found its point");
    out
}

/// The events of a journal file exactly as written (the JSON of each good
/// event record, in order).
fn raw_events(path: &Path) -> Vec<String> {
    let mut r = vigil::engine::journal::JournalReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(e) = r.next_entry().unwrap() {
        if let vigil::engine::journal::Entry::Event { .. } = e {
            out.push(r.last_json().to_string());
        }
    }
    out
}

fn assert_same(got: &[String], want: &[String], what: &str) {
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!("{what}: event {i} differs:\n{}\n{}", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len(), "{what}: as many events");
}

fn command_records(j: &Journal) -> Vec<CommandRecord> {
    j.records
        .iter()
        .filter_map(|r| match r {
            Record::Command(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_cut_anywhere_recovers_to_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let full_path = recorded_day(dir.path()).await;
    let full = Journal::open(&full_path).unwrap();
    assert!(matches!(full.records.last(), Some(Record::End { .. })));
    let commands = command_records(&full);
    assert_eq!(commands.len(), commands_script().len());
    // The live run is the uninterrupted run: the commands' points reproduce it.
    assert_same(
        &uninterrupted(&full, &commands),
        &raw_events(&full_path),
        "the live run",
    );
    let bytes = std::fs::read(&full_path).unwrap();
    let header_end = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .unwrap()
        .0
        + 1;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut cuts: Vec<usize> = (0..4)
        .map(|_| rng.random_range(header_end..bytes.len() - 1))
        .collect();
    // Right after the first command record: written ahead, not yet applied.
    let text = String::from_utf8_lossy(&bytes);
    let cmd_at = text.find("{\"type\":\"command\"").unwrap();
    cuts.push(cmd_at + text[cmd_at..].find('\n').unwrap() + 1);
    for cut in cuts {
        let crash = dir.path().join(format!("crash-{cut}.vigil"));
        std::fs::write(&crash, &bytes[..cut]).unwrap();
        let before = Journal::open(&crash).unwrap();
        let expected = uninterrupted(&before, &command_records(&before));
        let mut got = raw_events(&crash);
        let mut r = recovery::recover(&crash, &EngineOptions::default())
            .unwrap_or_else(|e| panic!("cut at byte {cut}: {e:#}"));
        assert_eq!(
            r.restart.at_seq,
            before.events().last().map_or(0, |e| e.seq)
        );
        got.extend(r.unwritten.iter().map(|(_, _, f)| f.to_string()));
        while r.engine.step() {
            encoded(&mut r.engine, &mut got);
        }
        encoded(&mut r.engine, &mut got);
        assert_same(&got, &expected, &format!("cut at byte {cut}"));
        // The recovered journal reads back whole, a recovery mark after the cut.
        drop(r);
        let again = Journal::open(&crash).unwrap();
        assert!(again.truncated.is_none(), "{:?}", again.truncated);
        assert!(matches!(again.records.last(), Some(Record::Recovered(_))));
    }
}

#[test]
fn a_clean_or_foreign_journal_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let path = rt.block_on(async {
        let engine = start_engine("calm", 3, 1e6, Some(dir.path().to_path_buf())).await;
        let mut c = Client::connect(&engine.url()).await;
        c.hello(TRADER, None).await;
        c.until(|m| matches!(m, ServerMessage::Event(e) if matches!(e.event, Event::EngineState { state: EngineState::Ended, .. })))
            .await;
        let p = engine.journal.clone().unwrap();
        engine.handle.shutdown();
        engine.thread.join().unwrap().unwrap();
        p
    });
    let err = recovery::recover(&path, &EngineOptions::default())
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("clean shutdown"), "{err:#}");
    assert!(recovery::find_unclean(dir.path()).unwrap().is_none());
    // Tamper with an event: the re-run no longer reproduces it, and says where.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.pop(); // the end mark
    let i = lines
        .iter()
        .position(|l| l.contains("\"order_progress\""))
        .unwrap();
    let json = lines[i]
        .split_once(' ')
        .unwrap()
        .1
        .replacen("\"filled\":", "\"filled\":1", 1);
    lines[i] = format!("{:08x} {json}", crc32fast::hash(json.as_bytes()));
    let bad = dir.path().join("tampered.vigil");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let err = format!(
        "{:#}",
        recovery::recover(&bad, &EngineOptions::default())
            .err()
            .unwrap()
    );
    assert!(err.contains("does not reproduce"), "{err}");
}

// ---- a real kill -9 ----

struct EngineProc {
    child: Child,
    url: String,
    /// What it printed up to its address.
    printed: Vec<String>,
}

impl Drop for EngineProc {
    // A failed assertion must not leave an engine running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_engine(args: &[&str]) -> EngineProc {
    let mut child = Proc::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("engine")
        .args(["--listen", "127.0.0.1:0", "--token", TRADER])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("engine printed its address");
        if let Some(url) = line.strip_prefix("vigil engine listening on ") {
            break url.to_string();
        }
        printed.push(line);
    };
    EngineProc {
        child,
        url,
        printed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commands_survive_kill_9_and_the_day_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().to_str().unwrap().to_string();
    let mut engine = spawn_engine(&[
        "--scenario",
        "default",
        "--seed",
        "5",
        "--speed",
        "2000",
        "--record",
        &record,
    ]);
    let mut c = Client::connect(&engine.url).await;
    let first = c.hello(TRADER, None).await;
    let mut acked = Vec::new();
    for i in 0..40 {
        let cmd = if i % 2 == 0 {
            Command::Pause {
                order_id: "P-2".into(),
            }
        } else {
            Command::Resume {
                order_id: "P-2".into(),
            }
        };
        let id = format!("k{i}");
        let ack = c.command(&id, cmd).await;
        acked.push((id, ack.ok));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Commands in flight when the engine dies: sent, never acknowledged.
    for i in 0..5 {
        c.send(&ClientMessage::Command {
            id: format!("inflight{i}"),
            command: Command::Pause {
                order_id: "P-3".into(),
            },
        })
        .await;
    }
    engine.child.kill().unwrap(); // SIGKILL
    engine.child.wait().unwrap();
    let seen = c.events.clone();
    let last_seen = seen.last().map(|e| e.seq).unwrap();

    let mut recovered = spawn_engine(&["--record", &record, "--speed", "5000"]);
    let note = &recovered.printed;
    assert!(note.iter().any(|l| l.starts_with("recovered ")), "{note:?}");
    let mut c2 = Client::connect(&recovered.url).await;
    let w = c2
        .hello_in(TRADER, Some(last_seen), Some(first.instance_id.clone()))
        .await;
    assert_eq!(
        w.instance_id, first.instance_id,
        "recovery keeps the run epoch"
    );
    assert_eq!(w.resume, ResumeMode::Events, "the sequence continues");
    let restart = w.restart.expect("the welcome says the engine restarted");
    assert!(
        restart.orders >= 7 && restart.at_seq >= last_seen,
        "{restart:?}"
    );
    c2.until(|m| matches!(m, ServerMessage::Event(e) if matches!(e.event, Event::EngineState { state: EngineState::Ended, .. })))
        .await;
    assert_eq!(
        c2.events.first().map(|e| e.seq),
        Some(last_seen + 1),
        "no gap, nothing twice"
    );
    // A clean stop writes the end mark.
    Proc::new("kill")
        .args(["-INT", &recovered.child.id().to_string()])
        .status()
        .unwrap();
    assert!(recovered.child.wait().unwrap().success());

    let journals: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(journals.len(), 1, "recovery continues the same journal");
    let j = Journal::open(&journals[0].path()).unwrap();
    assert!(j.truncated.is_none());
    assert!(matches!(j.records.last(), Some(Record::End { .. })));
    let events: Vec<&EventEnvelope> = j.events().collect();
    // 0 journaled events lost: everything the first client saw is in the journal, unchanged.
    for e in &seen {
        assert_eq!(events[e.seq as usize - 1], e, "seq {}", e.seq);
    }
    // 0 acknowledged commands lost, each applied with the outcome acknowledged.
    for (id, ok) in &acked {
        let applied = events.iter().find_map(|e| match &e.event {
            Event::CommandApplied { command_id, ok, .. } if command_id == id => Some(*ok),
            _ => None,
        });
        assert_eq!(applied, Some(*ok), "command {id}");
    }
    // The recovered session ran to the end of the day.
    assert!(events.iter().any(|e| matches!(
        e.event,
        Event::EngineState {
            state: EngineState::Ended,
            ..
        }
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_engine_on_the_same_address_is_another_run() {
    let a = start_engine("calm", 1, 50.0, None).await;
    let addr = a.addr;
    let mut c = Client::connect(&a.url()).await;
    let wa = c.hello(TRADER, None).await;
    while c.events.len() < 20 {
        c.recv().await;
    }
    let seen = c.events.last().unwrap().seq;
    a.handle.shutdown();
    a.hub.abort();
    let _ = a.hub.await;
    drop(c);
    // A new engine, no recovery, on the same port.
    let mut tokens = vigil::engine::hub::Tokens::default();
    tokens.add(TRADER, "alice", Role::Trader).unwrap();
    let mut opts = vigil::engine::serve::ServeOptions::new(
        addr.to_string(),
        Scenario::load("calm").unwrap(),
        tokens,
    );
    opts.seed = Some(1);
    opts.speed = 50.0;
    let b = vigil::engine::serve::start(opts).await.unwrap();
    let mut c = Client::connect(&b.url()).await;
    while *b.handle.shared.published.borrow() < seen {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wb = c
        .hello_in(TRADER, Some(seen), Some(wa.instance_id.clone()))
        .await;
    assert_ne!(wb.instance_id, wa.instance_id);
    assert_eq!(
        wb.resume,
        ResumeMode::Snapshot,
        "another run's seq means nothing here"
    );
    assert!(wb.restart.is_none());
    // Within its own run, a client resumes with events as before.
    let mut c = Client::connect(&b.url()).await;
    let w = c
        .hello_in(TRADER, Some(seen), Some(wb.instance_id.clone()))
        .await;
    assert_eq!(w.resume, ResumeMode::Events);
}

// ---- a journal that cannot be written ----

/// A disk that fills up after `left` bytes.
struct FillsUp {
    left: usize,
}

impl std::io::Write for FillsUp {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.left {
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.left -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl vigil::engine::journal::JournalSink for FillsUp {
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_cannot_be_written_halts_trading_and_says_why() {
    use vigil::engine::journal::{JournalHeader, JournalWriter};
    use vigil::engine::runner::{self, RunnerOptions};
    let scenario = Scenario::load("default").unwrap();
    let engine = Engine::new(
        &scenario,
        &EngineOptions {
            seed: Some(9),
            ..Default::default()
        },
    )
    .unwrap();
    let header = JournalHeader::for_engine(&engine, &scenario).unwrap();
    let journal = JournalWriter::over(
        Box::new(FillsUp { left: 400_000 }),
        Path::new("full-disk.vigil"),
        &header,
    )
    .unwrap();
    let (handle, thread) = runner::spawn(engine, RunnerOptions::new(1e6, Some(journal))).unwrap();
    let view = loop {
        let (_, frame) = handle.snapshot().await.expect("the engine keeps serving");
        let ServerMessage::Snapshot(view) = decode_server(&frame).unwrap() else {
            panic!("not a snapshot")
        };
        if view.state == EngineState::Halted {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let alert = view
        .alerts
        .iter()
        .find(|a| a.code == "journal_failed")
        .expect("a critical alert says why");
    assert_eq!(alert.severity, Severity::Critical);
    assert!(alert.message.contains("No space left"), "{}", alert.message);
    // Trading does not resume without a record, even when asked.
    let out = handle
        .command("r1", "alice", Role::Trader, Command::ResumeAll)
        .await
        .unwrap();
    assert!(!out.ok && out.reason.unwrap().contains("journal"));
    // Let the day run on: after the halt, no child order is sent and nothing fills.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = handle.shared.log.lock().unwrap();
    let first = log.first_seq().unwrap();
    let frames = log.read_from(first, usize::MAX).unwrap();
    let events: Vec<EventEnvelope> = frames
        .iter()
        .map(|(_, f)| match decode_server(f).unwrap() {
            ServerMessage::Event(e) => e,
            _ => unreachable!(),
        })
        .collect();
    let halt = events
        .iter()
        .position(|e| matches!(&e.event, Event::EngineState { state: EngineState::Halted, reason: Some(r) } if r.contains("journal")))
        .expect("the halt is in the log");
    assert!(
        events[halt..]
            .iter()
            .all(|e| !matches!(e.event, Event::ChildSent { .. } | Event::Fill { .. })),
        "nothing trades without a record"
    );
    drop(log);
    handle.shutdown();
    assert!(thread.join().unwrap().is_ok());
}
