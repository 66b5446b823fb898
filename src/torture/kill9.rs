//! `kill -9` of the engine process at random points of a day with commands in
//! flight, each time restarted on the same journal (which recovers it): no
//! acknowledged command and no journalled event may be lost, and the day
//! must finish.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as Proc, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use tokio_tungstenite::tungstenite::Message;

use super::net::TRADER;
use super::{Row, Scale};
use crate::engine::journal::{Journal, Record};
use crate::protocol::{
    decode_server, encode, ClientMessage, Command, EngineState, Event, EventEnvelope,
    ServerMessage, PROTOCOL_VERSION,
};

struct Engine {
    child: Child,
    url: String,
}

/// Start `vigil engine` (this very binary) and wait for its address.
fn start(args: &[&str]) -> Result<Engine> {
    let exe = std::env::current_exe()?;
    let mut child = Proc::new(exe)
        .arg("engine")
        .args(["--listen", "127.0.0.1:0", "--token", TRADER])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the engine")?;
    let out = child.stdout.take().context("engine stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .context("the engine did not start within 120 s")?;
        if let Some(url) = line.strip_prefix("vigil engine listening on ") {
            return Ok(Engine {
                child,
                url: url.to_string(),
            });
        }
    }
}

struct Session {
    /// (command id, ok) of every acknowledged command.
    acked: Vec<(String, bool)>,
    /// Every event received, across all engine runs.
    seen: Vec<EventEnvelope>,
    instance: Option<String>,
    ended: bool,
}

/// Trade against `url` until `until`, then leave commands in flight.
async fn work(url: &str, s: &mut Session, until: Instant, n: &mut u64) -> Result<()> {
    let mut ws = crate::tls::dial(url, None, Default::default()).await?;
    let last = s.seen.last().map(|e| e.seq);
    ws.send(Message::text(encode(&ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        token: TRADER.into(),
        resume_from: last,
        instance_id: s.instance.clone(),
    })))
    .await?;
    let mut pending: Option<String> = None;
    loop {
        if pending.is_none() {
            if Instant::now() >= until {
                // In flight when the engine dies: sent, never acknowledged.
                for k in 0..3 {
                    let cmd = ClientMessage::Command {
                        id: format!("inflight-{n}-{k}"),
                        command: Command::Pause {
                            order_id: "P-3".into(),
                        },
                    };
                    ws.send(Message::text(encode(&cmd))).await?;
                }
                return Ok(());
            }
            *n += 1;
            let id = format!("k{n}");
            let command = if (*n).is_multiple_of(2) {
                Command::Pause {
                    order_id: "P-2".into(),
                }
            } else {
                Command::Resume {
                    order_id: "P-2".into(),
                }
            };
            ws.send(Message::text(encode(&ClientMessage::Command {
                id: id.clone(),
                command,
            })))
            .await?;
            pending = Some(id);
        }
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .context("engine silent for 30 s")?
            .context("connection closed")??;
        let Message::Text(text) = msg else { continue };
        match decode_server(text.as_str())? {
            ServerMessage::Welcome(w) => {
                if s.instance.as_ref().is_some_and(|i| *i != w.instance_id) {
                    bail!("the recovered engine is another run");
                }
                s.instance = Some(w.instance_id);
            }
            ServerMessage::Snapshot(_) if !s.seen.is_empty() => {
                bail!("resumed with a snapshot, not the missed events");
            }
            ServerMessage::Event(e) => {
                if let Some(l) = s.seen.last() {
                    if e.seq != l.seq + 1 {
                        bail!("event {} after {}: a gap or a repeat", e.seq, l.seq);
                    }
                }
                s.ended |= matches!(
                    e.event,
                    Event::EngineState {
                        state: EngineState::Ended,
                        ..
                    }
                );
                s.seen.push(e);
            }
            ServerMessage::Ack(a) if pending.as_deref() == Some(a.id.as_str()) => {
                s.acked.push((a.id, a.ok));
                pending = None;
            }
            _ => {}
        }
    }
}

pub async fn run(scale: Scale) -> Result<Row> {
    let kills = scale.pick(20, 3);
    let dir = super::Scratch::new("kill9")?;
    let record = dir.path().to_str().context("temp dir name")?.to_string();
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let mut s = Session {
        acked: Vec::new(),
        seen: Vec::new(),
        instance: None,
        ended: false,
    };
    let mut n = 0;
    let mut restarts = Vec::new();
    for k in 0..kills {
        let t = Instant::now();
        let mut e = if k == 0 {
            start(&[
                "--scenario",
                "default",
                "--seed",
                "21",
                "--speed",
                "1500",
                "--record",
                &record,
            ])?
        } else {
            start(&["--record", &record, "--speed", "1500"])?
        };
        if k > 0 {
            restarts.push(t.elapsed());
        }
        let until = Instant::now() + Duration::from_millis(rng.random_range(200..900));
        let worked = work(&e.url, &mut s, until, &mut n).await;
        e.child.kill()?; // SIGKILL
        e.child.wait()?;
        worked.with_context(|| format!("run {}", k + 1))?;
    }
    // The last recovery runs the day out, fast.
    let t = Instant::now();
    let mut e = start(&["--record", &record, "--speed", "1e6"])?;
    restarts.push(t.elapsed());
    let deadline = Instant::now() + Duration::from_secs(600);
    while !s.ended {
        if Instant::now() > deadline {
            bail!("the recovered day did not finish");
        }
        work(
            &e.url,
            &mut s,
            Instant::now() + Duration::from_millis(500),
            &mut n,
        )
        .await?;
    }
    let _ = Proc::new("kill")
        .args(["-INT", &e.child.id().to_string()])
        .status();
    let clean = e.child.wait()?.success();
    verify(dir.path(), &s, kills, clean, &restarts)
}

fn verify(
    dir: &Path,
    s: &Session,
    kills: usize,
    clean: bool,
    restarts: &[Duration],
) -> Result<Row> {
    let files: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    if files.len() != 1 {
        bail!(
            "{} journals where recovery should have continued one",
            files.len()
        );
    }
    let j = Journal::open(&files[0].path())?;
    let events: Vec<&EventEnvelope> = j.events().collect();
    let lost_events = s
        .seen
        .iter()
        .filter(|e| events.get(e.seq as usize - 1) != Some(e))
        .count();
    let applied: std::collections::HashMap<&str, bool> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::CommandApplied { command_id, ok, .. } => Some((command_id.as_str(), *ok)),
            _ => None,
        })
        .collect();
    let lost_commands = s
        .acked
        .iter()
        .filter(|(id, ok)| applied.get(id.as_str()) != Some(ok))
        .count();
    let recoveries = j
        .records
        .iter()
        .filter(|r| matches!(r, Record::Recovered(_)))
        .count();
    let finished = events.iter().any(|e| {
        matches!(
            e.event,
            Event::EngineState {
                state: EngineState::Ended,
                ..
            }
        )
    });
    let ended_mark = matches!(j.records.last(), Some(Record::End { .. }));
    let mean = restarts.iter().map(|d| d.as_secs_f64()).sum::<f64>() / restarts.len().max(1) as f64;
    let max = restarts.iter().map(|d| d.as_secs_f64()).fold(0.0, f64::max);
    Ok(Row {
        name: "kill9",
        figure: format!(
            "{kills} kills: {} acked commands, {lost_commands} lost; {} events, {lost_events} lost; day finished: {}",
            s.acked.len(),
            events.len(),
            if finished { "yes" } else { "NO" }
        ),
        pass: lost_commands == 0
            && lost_events == 0
            && finished
            && ended_mark
            && clean
            && recoveries == kills
            && j.truncated.is_none(),
        detail: format!(
            "{}SIGKILL at random points 0.2–0.9 s into each run (speed 1500×), 3 commands in flight each time; {recoveries} recoveries of one journal, restart to listening {mean:.2} s mean, {max:.2} s max; a client resumed each time with no gap",
            {
                let mut why = Vec::new();
                if !ended_mark { why.push("no end mark".to_string()); }
                if !clean { why.push("unclean exit".into()); }
                if recoveries != kills { why.push(format!("{recoveries} recovery marks")); }
                if let Some(t) = &j.truncated { why.push(format!("journal cut: {}", t.reason)); }
                if why.is_empty() { String::new() } else { format!("[{}] ", why.join(", ")) }
            }
        ),
    })
}
