//! Memory over long runs, accelerated: a console fed the equivalent of an
//! hour at 1,000 events/s (every event decoded from its wire frame and
//! applied, as the live console does), and an engine over a full simulated day.

use anyhow::Result;

use super::{mib, rss_bytes, Row, Scale};
use crate::console::state::ConsoleState;
use crate::engine::{Engine, EngineOptions, Scenario};
use crate::protocol::{decode_server, encode, EventEnvelope, ServerMessage};

const CONSOLE_LIMIT: u64 = 100 << 20;

pub fn run(scale: Scale) -> Result<Row> {
    let events_wanted: u64 =
        scale.pick(3_600_000, 600_000) / if scale.debug_build() { 10 } else { 1 };
    // The engine over a full day (flat out, no journal): peak and final memory.
    let engine_start = rss_bytes();
    let mut engine_peak = engine_start;
    let scenario = Scenario::load("default")?;
    let mut e = Engine::new(&scenario, &EngineOptions::default())?;
    let mut day: Vec<String> = Vec::new();
    let mut steps = 0u64;
    while e.step() {
        for env in e.drain_events() {
            day.push(encode(&ServerMessage::Event(env)));
        }
        steps += 1;
        if steps.is_multiple_of(100_000) {
            engine_peak = engine_peak.max(rss_bytes());
        }
    }
    day.extend(
        e.drain_events()
            .map(|env| encode(&ServerMessage::Event(env))),
    );
    engine_peak = engine_peak.max(rss_bytes());
    drop(e);
    let day_events = day.len() as u64;

    // The console: the day's frames again and again, numbered on as one
    // long session, until the hour's worth has been applied.
    let console_start = rss_bytes();
    let mut state = ConsoleState::new();
    let mut applied = 0u64;
    let mut seq = 0u64;
    let mut peak = console_start;
    'outer: loop {
        for frame in &day {
            let ServerMessage::Event(env) = decode_server(frame)? else {
                continue;
            };
            seq += 1;
            let env = EventEnvelope { seq, ..env };
            state.apply(&ServerMessage::Event(env));
            applied += 1;
            if applied.is_multiple_of(200_000) {
                peak = peak.max(rss_bytes());
            }
            if applied >= events_wanted {
                break 'outer;
            }
        }
    }
    peak = peak.max(rss_bytes());
    let console_growth = peak.saturating_sub(console_start);
    let console_rss = peak;
    Ok(Row {
        name: "soak",
        figure: format!(
            "console state +{:.0} MiB after {:.1} M events (process {:.0} MiB); engine day peak {:.0} MiB",
            mib(console_growth),
            applied as f64 / 1e6,
            mib(console_rss),
            mib(engine_peak)
        ),
        pass: console_growth <= CONSOLE_LIMIT,
        detail: format!(
            "{:.0} simulated minutes at 1,000 events/s; the default day is {day_events} events (engine +{:.0} MiB over it, the day's frames kept for the console included); pass: the console's state grows by ≤ 100 MiB",
            applied as f64 / 1000.0 / 60.0,
            mib(engine_peak.saturating_sub(engine_start))
        ),
    })
}
