//! The engine core driven directly (no network): determinism, strategies,
//! commands and their effects.

use vigil::engine::{Engine, EngineOptions, Scenario};
use vigil::protocol::*;

fn engine(name: &str, seed: u64) -> Engine {
    let s = Scenario::load(name).unwrap();
    Engine::new(
        &s,
        &EngineOptions {
            seed: Some(seed),
            ..Default::default()
        },
    )
    .unwrap()
}

fn run_all(e: &mut Engine) -> Vec<EventEnvelope> {
    let mut all: Vec<EventEnvelope> = e.drain_events().collect();
    while e.step() {
        all.extend(e.drain_events());
    }
    all.extend(e.drain_events());
    all
}

#[test]
fn default_session_runs_to_the_end_with_gap_free_events() {
    let mut e = engine("default", 42);
    let events = run_all(&mut e);
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev.seq, i as u64 + 1);
    }
    assert!(events.windows(2).all(|w| w[0].ts <= w[1].ts));
    let view = e.view();
    assert_eq!(view.state, EngineState::Ended);
    for o in &view.orders {
        eprintln!(
            "{} {} {:?} {} filled {} sched {} avg {:?} slip {:?} state {:?} {:?} decisions {}",
            o.info.order_id,
            o.info.symbol,
            o.info.side,
            o.info.qty,
            o.progress.filled,
            o.progress.scheduled,
            o.progress.avg_price,
            o.progress.slippage_bps,
            o.state,
            o.state_reason,
            o.decisions
        );
        assert!(o.state.is_terminal());
    }
    let mut kinds = std::collections::BTreeMap::new();
    for ev in &events {
        *kinds.entry(ev.event.kind()).or_insert(0) += 1;
    }
    eprintln!("{kinds:?}");
    for m in &view.markets {
        eprintln!("{} volume {} last {:?}", m.symbol, m.volume, m.last);
    }
    for a in view.alerts.iter().take(30) {
        eprintln!("{:?} {} {} {:?}", a.severity, a.code, a.message, a.order_id);
    }
    // Every classic strategy made decisions.
    for strat in ["vwap", "twap", "pov", "almgren_chriss"] {
        assert!(
            events
                .iter()
                .any(|ev| matches!(&ev.event, Event::Decision(d) if d.strategy == strat)),
            "{strat}"
        );
    }
}
