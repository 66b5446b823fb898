//! Scripted sessions written straight to a journal, with no network and no
//! wall clock: a scenario, a seed and commands at fixed simulated times. The
//! engine is deterministic, so the same inputs give the same file byte for
//! byte — this is how `recordings/` is made (`vigil record`), and how tests
//! and benchmarks get journals.
//!
//! Script file (TOML):
//! ```toml
//! [[command]]
//! at = "10:05:00"          # applied once every event up to this time is processed
//! user = "alice"
//! command = { kind = "pause", order_id = "P-1" }
//! ```

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::engine::journal::{JournalHeader, JournalWriter};
use crate::engine::scenario::parse_clock;
use crate::engine::{Engine, EngineOptions, Scenario};
use crate::protocol::{encode_into, Command, Role, ServerMessage};

use super::mids::MidSampler;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedCommand {
    /// Simulated time of day, `HH:MM:SS`.
    pub at: String,
    #[serde(default = "default_user")]
    pub user: String,
    pub command: Command,
}

fn default_user() -> String {
    "trader".into()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub command: Vec<ScriptedCommand>,
}

impl Script {
    pub fn load(path: &Path) -> Result<Script> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading script {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("script {}", path.display()))
    }
}

/// The same scenario cut to `[from, to)` (`HH:MM:SS`): orders wholly outside
/// the window are dropped, the others clipped to it. Short sample sessions
/// are made this way.
pub fn window(scenario: &Scenario, from: &str, to: &str) -> Result<Scenario> {
    let (a, b) = (parse_clock(from)?, parse_clock(to)?);
    anyhow::ensure!(a < b, "the window {from}–{to} is empty");
    let day_start = parse_clock(scenario.start.as_deref().unwrap_or(&scenario.open))?;
    let day_end = parse_clock(scenario.end.as_deref().unwrap_or(&scenario.close))?;
    let mut s = scenario.clone();
    s.start = Some(from.to_string());
    s.end = Some(to.to_string());
    let mut orders = Vec::new();
    for o in &scenario.orders {
        let start = o.start.as_deref().map_or(Ok(day_start), parse_clock)?;
        let end = o.end.as_deref().map_or(Ok(day_end), parse_clock)?;
        let (cs, ce) = (start.max(a), end.min(b));
        if ce <= cs {
            continue;
        }
        // The same pace as in the whole day: quantity in proportion to the
        // part of the horizon kept, in round lots of 100.
        let mut o = o.clone();
        let share = (ce - cs) as f64 / (end - start).max(1) as f64;
        o.qty = ((o.qty * share / 100.0).round() * 100.0).max(100.0);
        orders.push(o);
    }
    s.orders = orders;
    Ok(s)
}

/// What a recording run produced.
#[derive(Debug, Clone)]
pub struct RecordSummary {
    pub events: u64,
    pub keyframes: u64,
    /// (command id, accepted, refusal reason).
    pub outcomes: Vec<(String, bool, Option<String>)>,
}

/// Run `scenario` as fast as possible with `script`, writing the journal to `path`.
/// Keyframes are written exactly as the live runner writes them.
pub fn record(
    scenario: &Scenario,
    seed: Option<u64>,
    script: &Script,
    path: &Path,
) -> Result<RecordSummary> {
    let mut engine = Engine::new(
        scenario,
        &EngineOptions {
            engine_id: "vigil-engine".into(),
            seed,
            ..Default::default()
        },
    )?;
    let header = JournalHeader::for_engine(&engine, scenario)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut journal = JournalWriter::create_at(path, &header)?;
    let mut commands = Vec::with_capacity(script.command.len());
    for (i, c) in script.command.iter().enumerate() {
        commands.push((parse_clock(&c.at)?, i, c));
    }
    commands.sort_by_key(|(t, i, _)| (*t, *i));
    let mut next_cmd = 0;
    let mut summary = RecordSummary {
        events: 0,
        keyframes: 0,
        outcomes: Vec::new(),
    };
    let mut buf = Vec::with_capacity(4096);
    let mut collect = |engine: &mut Engine, journal: &mut JournalWriter| -> Result<()> {
        let mut keyframe = false;
        for env in engine.drain_events() {
            encode_into(&ServerMessage::Event(env), &mut buf);
            journal.append_event_json(std::str::from_utf8(&buf).expect("UTF-8"))?;
            keyframe |= journal.keyframe_due();
            summary.events += 1;
        }
        if keyframe {
            journal.append_keyframe(engine.view())?;
            summary.keyframes += 1;
        }
        Ok(())
    };
    collect(&mut engine, &mut journal)?;
    let mut outcomes = Vec::new();
    loop {
        let next = engine.next_ts();
        if let Some((at, i, c)) = commands.get(next_cmd) {
            if next.is_none_or(|t| t > *at) {
                let id = format!("s{}", i + 1);
                let out = engine.apply_command(&id, &c.user, Role::Trader, &c.command);
                outcomes.push((id, out.ok, out.reason));
                collect(&mut engine, &mut journal)?;
                next_cmd += 1;
                continue;
            }
        }
        if next.is_none() {
            break;
        }
        engine.step();
        collect(&mut engine, &mut journal)?;
    }
    journal.flush()?;
    summary.outcomes = outcomes;
    Ok(summary)
}

/// A command to re-apply: where it took effect live (`command_applied`'s
/// seq and ts), by whom, what.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedCommand {
    pub seq: u64,
    pub ts: u64,
    pub user: String,
    pub command: Command,
}

/// Re-run a recorded session's scenario and seed with `commands` applied
/// where they took effect live, or without any. A command is applied between
/// events, after the last event at or before its time (as the runner and
/// `record` do); `mismatches` counts commands whose `command_applied` did
/// not land on the recorded seq (the re-run then diverges from the journal).
pub fn rerun(scenario: &Scenario, seed: u64, commands: &[TimedCommand]) -> Result<Rerun> {
    rerun_sampling(scenario, seed, commands, &mut MidSampler::default())
}

/// `rerun`, reading on the way the mids `sampler` asks for (see `mids`).
pub fn rerun_sampling(
    scenario: &Scenario,
    seed: u64,
    commands: &[TimedCommand],
    sampler: &mut MidSampler,
) -> Result<Rerun> {
    let mut engine = Engine::new(
        scenario,
        &EngineOptions {
            engine_id: "vigil-engine".into(),
            seed: Some(seed),
            ..Default::default()
        },
    )?;
    let mut events: Vec<_> = engine.drain_events().collect();
    let mut next = 0;
    let mut mismatches = 0;
    loop {
        while let Some(c) = commands.get(next) {
            let due = engine.now() > c.ts || engine.next_ts().is_none_or(|t| t > c.ts);
            if !due {
                break;
            }
            let out =
                engine.apply_command(&format!("r{}", next + 1), &c.user, Role::Trader, &c.command);
            mismatches += (out.seq != c.seq) as usize;
            events.extend(engine.drain_events());
            next += 1;
        }
        // Commands due by now are applied: the market as of any instant
        // before the next event is the one the engine holds.
        sampler.observe(&engine);
        if !engine.step() {
            events.extend(engine.drain_events());
            break;
        }
        events.extend(engine.drain_events());
    }
    sampler.finish(&engine);
    Ok(Rerun { events, mismatches })
}

pub struct Rerun {
    pub events: Vec<crate::protocol::EventEnvelope>,
    pub mismatches: usize,
}
