//! Training data.
//!
//! From the simulator, by rollout-based approximate policy iteration: the
//! scenario's own strategies (with some random exploration) visit states;
//! at a sample of decision points the engine is cloned once per action, the
//! action is forced for that one decision, the baseline strategy continues
//! for `horizon_s`, and the execution cost over that window is measured
//! (`cost::window_cost_bps`). All clones share the simulator's random state,
//! so the actions are compared under common random numbers: the same
//! background flow, differing only through what the action did. The label is
//! the cheapest action; every action's cost is kept for cost-sensitive training.
//!
//! From recordings: every decision in a journal becomes a row with the action
//! actually taken and the cost realised over the following window.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::cost::{window_cost_bps, Checkpoint};
use crate::engine::journal::Journal;
use crate::engine::{Engine, EngineOptions, Scenario};
use crate::model::contract::FEATURES;
use crate::model::Action;
use crate::protocol::{Command, Event, EventEnvelope, Role, SessionView, Side};

#[derive(Debug, Clone)]
pub struct DatasetOptions {
    pub scenarios: Vec<String>,
    pub episodes: usize,
    pub seed: u64,
    pub horizon_s: f64,
    /// Share of decision points that get rollouts.
    pub sample_prob: f64,
    /// Probability that the behaviour policy takes a random action instead.
    pub explore: f64,
    pub threads: usize,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        DatasetOptions {
            scenarios: vec!["regime_shift".into()],
            episodes: 4,
            seed: 0,
            horizon_s: 300.0,
            sample_prob: 0.1,
            explore: 0.3,
            threads: 2,
        }
    }
}

/// Column names of the CSV, in order.
pub fn columns() -> Vec<String> {
    let mut c: Vec<String> = ["source", "seed", "order_id", "ts"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    c.extend(FEATURES.iter().map(|f| f.name.to_string()));
    c.push("action_taken".into());
    c.extend(Action::ALL.iter().map(|a| format!("cost_{}", a.name())));
    c.push("best_action".into());
    c
}

/// The schema written next to the CSV.
pub fn schema_json(kind: &str, horizon_s: f64) -> serde_json::Value {
    serde_json::json!({
        "format": "csv",
        "kind": kind,
        "columns": columns(),
        "features": "normalised model inputs, see models/features.json",
        "action_taken": "action of the behaviour policy (simulator) or of the engine (recording)",
        "cost_<action>": format!(
            "execution cost in bps over the next {horizon_s} s per unit the schedule planned, \
             with that action forced once and the baseline after it (simulator); only the \
             taken action's column is filled for recordings, others are empty"
        ),
        "best_action": "argmin of the cost columns (simulator); empty for recordings",
    })
}

fn checkpoint(view: &SessionView, order_id: &str, mid: f64) -> Option<(Side, Checkpoint)> {
    let o = view.order(order_id)?;
    let filled = o.progress.filled;
    Some((
        o.info.side,
        Checkpoint {
            filled,
            notional: o.progress.avg_price.unwrap_or(0.0) * filled,
            scheduled: o.progress.scheduled,
            mid,
        },
    ))
}

fn force(engine: &mut Engine, order_id: &str, action: Action) {
    let cmd = Command::Override {
        order_id: order_id.into(),
        action: Some(action.name().into()),
        strategy: None,
        decisions: Some(1),
    };
    engine.apply_command("rollout", "rollout", Role::Trader, &cmd);
}

/// One simulated episode: rows of CSV text.
fn episode(scenario: &Scenario, seed: u64, opts: &DatasetOptions) -> Result<Vec<String>> {
    let mut engine = Engine::new(
        scenario,
        &EngineOptions {
            seed: Some(seed),
            ..Default::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_DA7A);
    let horizon = (opts.horizon_s * 1e9) as u64;
    let mut rows = Vec::new();
    engine.drain_events().for_each(drop);
    while !engine.is_ended() {
        let Some(order_id) = engine.next_decision_due().map(str::to_string) else {
            engine.step();
            engine.drain_events().for_each(drop);
            continue;
        };
        let symbol = engine
            .view()
            .order(&order_id)
            .map(|o| o.info.symbol.clone())
            .unwrap_or_default();
        let mid = engine.mid_price(&symbol).unwrap_or(0.0);
        let sampled = rng.random::<f64>() < opts.sample_prob;
        let mut costs = Vec::new();
        if sampled {
            let (side, start) =
                checkpoint(engine.view(), &order_id, mid).context("order vanished")?;
            for action in Action::ALL {
                let mut branch = engine.clone();
                force(&mut branch, &order_id, action);
                branch.run_until(engine.now() + horizon);
                let end_mid = branch.mid_price(&symbol).unwrap_or(mid);
                let (_, end) =
                    checkpoint(branch.view(), &order_id, end_mid).context("order vanished")?;
                costs.push(window_cost_bps(side, &start, &end));
            }
        }
        if rng.random::<f64>() < opts.explore {
            let a = Action::ALL[rng.random_range(0..Action::ALL.len())];
            force(&mut engine, &order_id, a);
        }
        // Process events until this order's decision is out.
        let mut decision = None;
        while decision.is_none() && !engine.is_ended() {
            engine.step();
            for env in engine.drain_events() {
                if let Event::Decision(d) = env.event {
                    if d.order_id == order_id {
                        decision = Some(d);
                    }
                }
            }
        }
        if let (true, Some(d)) = (sampled, decision) {
            let best = costs
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| Action::ALL[i].name())
                .unwrap_or("");
            rows.push(row(
                &scenario.name,
                seed,
                &order_id,
                engine.now(),
                &d.features,
                &d.action,
                &costs,
                best,
            ));
        }
    }
    Ok(rows)
}

#[allow(clippy::too_many_arguments)]
fn row(
    source: &str,
    seed: u64,
    order_id: &str,
    ts: u64,
    features: &[f64],
    action: &str,
    costs: &[f64],
    best: &str,
) -> String {
    let mut s = format!("{source},{seed},{order_id},{ts}");
    for f in features {
        s.push_str(&format!(",{f:.6}"));
    }
    s.push(',');
    s.push_str(action);
    for i in 0..Action::ALL.len() {
        s.push(',');
        if let Some(c) = costs.get(i) {
            s.push_str(&format!("{c:.4}"));
        }
    }
    s.push(',');
    s.push_str(best);
    s
}

pub struct Summary {
    pub rows: usize,
    pub csv: PathBuf,
    pub schema: PathBuf,
}

fn write(out: &Path, rows: &[String], schema: serde_json::Value) -> Result<Summary> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?,
    );
    writeln!(f, "{}", columns().join(","))?;
    for r in rows {
        writeln!(f, "{r}")?;
    }
    f.flush()?;
    let schema_path = out.with_extension("schema.json");
    std::fs::write(&schema_path, serde_json::to_string_pretty(&schema)? + "\n")?;
    Ok(Summary {
        rows: rows.len(),
        csv: out.to_path_buf(),
        schema: schema_path,
    })
}

/// Generate rollout data from the simulator into `out` (CSV) and its schema.
pub fn from_simulator(opts: &DatasetOptions, out: &Path) -> Result<Summary> {
    let scenarios: Vec<Scenario> = opts
        .scenarios
        .iter()
        .map(|s| Scenario::load(s))
        .collect::<Result<_>>()?;
    // Episode e uses scenario e mod n and seed `seed + e`: deterministic, and
    // the same whatever the number of threads.
    let jobs: Vec<(usize, u64)> = (0..opts.episodes)
        .map(|e| (e % scenarios.len(), opts.seed + e as u64))
        .collect();
    let threads = opts.threads.max(1).min(jobs.len().max(1));
    let mut results: Vec<Option<Result<Vec<String>>>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let chunks: Vec<Vec<usize>> = (0..threads)
            .map(|t| (t..jobs.len()).step_by(threads).collect())
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|idx| {
                let (scenarios, jobs) = (&scenarios, &jobs);
                scope.spawn(move || {
                    idx.into_iter()
                        .map(|i| (i, episode(&scenarios[jobs[i].0], jobs[i].1, opts)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("episode thread panicked") {
                results[i] = Some(r);
            }
        }
    });
    let mut rows = Vec::new();
    for r in results.into_iter().flatten() {
        rows.extend(r?);
    }
    write(
        out,
        &rows,
        schema_json("simulator rollouts", opts.horizon_s),
    )
}

/// Turn recorded sessions into rows: features, the action taken, and the
/// cost realised over the next `horizon_s` seconds.
pub fn from_recordings(paths: &[PathBuf], horizon_s: f64, out: &Path) -> Result<Summary> {
    let mut rows = Vec::new();
    for path in paths {
        let journal = Journal::open(path)?;
        if let Some(t) = &journal.truncated {
            eprintln!(
                "{}: read up to line {} ({})",
                path.display(),
                t.line,
                t.reason
            );
        }
        let events: Vec<&EventEnvelope> = journal.events().collect();
        rows.extend(recording_rows(
            &journal.header.session_id,
            journal.header.seed,
            &events,
            horizon_s,
        ));
    }
    write(out, &rows, schema_json("recorded decisions", horizon_s))
}

fn recording_rows(
    source: &str,
    seed: u64,
    events: &[&EventEnvelope],
    horizon_s: f64,
) -> Vec<String> {
    let horizon = (horizon_s * 1e9) as u64;
    let mut view = SessionView::new();
    let mut rows = Vec::new();
    // Views at each decision, then resolved once the window has passed.
    struct Open {
        order_id: String,
        ts: u64,
        features: Vec<f64>,
        action: String,
        side: Side,
        start: Checkpoint,
        symbol: String,
    }
    let mut open: Vec<Open> = Vec::new();
    let mid_of = |v: &SessionView, sym: &str| {
        v.market(sym).and_then(|m| match (m.bid, m.ask) {
            (Some(b), Some(a)) => Some((a + b) / 2.0),
            _ => m.last,
        })
    };
    for env in events {
        // Resolve windows that end before this event.
        let mut still = Vec::new();
        for o in open.drain(..) {
            if env.ts > o.ts + horizon {
                let end_mid = mid_of(&view, &o.symbol).unwrap_or(o.start.mid);
                if let Some((_, end)) = checkpoint(&view, &o.order_id, end_mid) {
                    let mut costs = vec![None; Action::ALL.len()];
                    if let Some(a) = Action::from_name(&o.action) {
                        costs[a.index()] = Some(window_cost_bps(o.side, &o.start, &end));
                    }
                    let mut r = format!("{source},{seed},{},{}", o.order_id, o.ts);
                    for f in &o.features {
                        r.push_str(&format!(",{f:.6}"));
                    }
                    r.push(',');
                    r.push_str(&o.action);
                    for c in costs {
                        r.push(',');
                        if let Some(c) = c {
                            r.push_str(&format!("{c:.4}"));
                        }
                    }
                    r.push(',');
                    rows.push(r);
                }
            } else {
                still.push(o);
            }
        }
        open = still;
        if let Event::Decision(d) = &env.event {
            if let Some(o) = view.order(&d.order_id) {
                let symbol = o.info.symbol.clone();
                if let Some(mid) = mid_of(&view, &symbol) {
                    if let Some((side, start)) = checkpoint(&view, &d.order_id, mid) {
                        open.push(Open {
                            order_id: d.order_id.clone(),
                            ts: env.ts,
                            features: d.features.clone(),
                            action: d.action.clone(),
                            side,
                            start,
                            symbol,
                        });
                    }
                }
            }
        }
        view.apply(env);
    }
    rows
}
