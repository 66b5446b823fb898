//! Training data.
//!
//! From the simulator, by rollout-based approximate policy iteration: the
//! baseline strategy (with some random exploration) visits states; at a
//! sample of decision points the engine is cloned once per action and per
//! rollout, the action is forced for `hold` decisions without re-planning the
//! schedule, the baseline continues for `horizon_s`, and the execution cost
//! over that window is measured (`cost::window_cost_bps`). Rollout k of every
//! action draws the same future (the market is reseeded with k: common random
//! numbers), so actions are compared on the same price path and the same
//! background flow, differing only through what the action did; the K
//! rollouts average over futures. The label is the cheapest action on
//! average; every action's mean cost and the standard error of its advantage
//! (cost minus the mean over actions) are kept for cost-sensitive training.
//!
//! Scenarios may be families: episode e draws its own day from its seed.
//!
//! From recordings: every decision in a journal becomes a row with the action
//! actually taken and the cost realised over the following window.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::cost::{window_cost_bps, Checkpoint};
use crate::engine::journal::Journal;
use crate::engine::{Engine, EngineOptions, ScenarioFile};
use crate::model::contract::FEATURES;
use crate::model::Action;
use crate::protocol::{Event, EventEnvelope, SessionView, Side};

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
    /// Futures drawn per (state, action).
    pub rollouts: usize,
    /// Decisions a rollout holds its action for before the baseline takes over.
    pub hold: u32,
    /// The strategy every order runs and rollouts continue with: the
    /// adaptive policy's baseline (VWAP), or `adaptive` with `policy` for a
    /// second round of policy iteration (labels of the learned policy).
    pub baseline: String,
    pub policy: Option<PathBuf>,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        DatasetOptions {
            scenarios: vec!["regime_family".into()],
            episodes: 4,
            seed: 0,
            horizon_s: 1800.0,
            sample_prob: 0.05,
            explore: 0.3,
            threads: 2,
            rollouts: 8,
            hold: 6,
            baseline: "vwap".into(),
            policy: None,
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
    c.extend(Action::ALL.iter().map(|a| format!("se_{}", a.name())));
    c.push("best_action".into());
    c
}

/// The schema written next to the CSV.
pub fn schema_json(
    kind: &str,
    opts: Option<&DatasetOptions>,
    horizon_s: f64,
    noise: Option<&LabelNoise>,
) -> serde_json::Value {
    serde_json::json!({
        "format": "csv",
        "kind": kind,
        "columns": columns(),
        "features": "normalised model inputs, see models/features.json",
        "action_taken": "action of the behaviour policy (simulator) or of the engine (recording)",
        "cost_<action>": format!(
            "execution cost in bps over the next {horizon_s} s per unit the schedule planned, \
             with that action held for the first decisions and the baseline after it, averaged \
             over the rollouts (simulator); only the taken action's column is filled for \
             recordings, others are empty"
        ),
        "se_<action>": "standard error over the rollouts of the action's advantage (its cost minus \
             the mean over actions in the same rollout); empty for recordings",
        "best_action": "argmin of the cost columns (simulator); empty for recordings",
        "options": opts.map(|o| serde_json::json!({
            "scenarios": o.scenarios,
            "episodes": o.episodes,
            "first_seed": o.seed,
            "horizon_s": o.horizon_s,
            "sample": o.sample_prob,
            "explore": o.explore,
            "rollouts": o.rollouts,
            "hold": o.hold,
            "baseline": o.baseline,
            "policy": o.policy.as_ref().map(|p| p.display().to_string()),
        })),
        "label_noise": noise,
    })
}

/// How noisy the labels are, measured on the rows themselves.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LabelNoise {
    pub rows: usize,
    pub rollouts: usize,
    /// Mean over rows and actions of the standard error of an action's advantage (bps).
    pub advantage_se_bps: f64,
    /// Mean over rows of the spread of the mean advantages (max − min, bps): the signal.
    pub advantage_range_bps: f64,
    /// Share of rows whose cheapest action is the same when computed from the
    /// first and from the second half of the rollouts (test–retest of the label).
    pub split_half_agreement: Option<f64>,
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

/// Rollout costs of every action from the engine's current state, which is
/// a pending decision of `order_id`: costs[k][a] for rollout k, action a.
fn rollouts(
    engine: &Engine,
    order_id: &str,
    symbol: &str,
    opts: &DatasetOptions,
) -> Result<Vec<Vec<f64>>> {
    let horizon = (opts.horizon_s * 1e9) as u64;
    let mid = engine.mid_price(symbol).unwrap_or(0.0);
    let (side, start) = checkpoint(engine.view(), order_id, mid).context("order vanished")?;
    let mut costs = Vec::with_capacity(opts.rollouts);
    for k in 0..opts.rollouts {
        let mut row = Vec::with_capacity(Action::ALL.len());
        for action in Action::ALL {
            let mut branch = engine.clone();
            branch.reseed_market(k as u64 + 1);
            branch
                .force_action(order_id, action, opts.hold)
                .map_err(anyhow::Error::msg)?;
            branch.run_until(engine.now() + horizon);
            let end_mid = branch.mid_price(symbol).unwrap_or(mid);
            let (_, end) =
                checkpoint(branch.view(), order_id, end_mid).context("order vanished")?;
            row.push(window_cost_bps(side, &start, &end));
        }
        costs.push(row);
    }
    Ok(costs)
}

/// Per action: mean cost over rollouts, and the standard error of its advantage.
fn summarise(costs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let n = Action::ALL.len();
    let k = costs.len().max(1) as f64;
    let mean: Vec<f64> = (0..n)
        .map(|a| costs.iter().map(|r| r[a]).sum::<f64>() / k)
        .collect();
    let adv: Vec<Vec<f64>> = costs
        .iter()
        .map(|r| {
            let m = r.iter().sum::<f64>() / n as f64;
            r.iter().map(|c| c - m).collect()
        })
        .collect();
    let se = (0..n)
        .map(|a| {
            if costs.len() < 2 {
                return f64::NAN;
            }
            let m = adv.iter().map(|r| r[a]).sum::<f64>() / k;
            let var = adv.iter().map(|r| (r[a] - m).powi(2)).sum::<f64>() / (k - 1.0);
            (var / k).sqrt()
        })
        .collect();
    (mean, se)
}

fn argmin(xs: &[f64]) -> usize {
    xs.iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

/// One labelled row with what is needed to measure label noise.
struct Labelled {
    csv: String,
    se: Vec<f64>,
    mean: Vec<f64>,
    halves_agree: Option<bool>,
}

/// One simulated episode.
fn episode(file: &ScenarioFile, seed: u64, opts: &DatasetOptions) -> Result<Vec<Labelled>> {
    let mut scenario = file.realise(Some(seed))?;
    for o in scenario.orders.iter_mut() {
        o.strategy = opts.baseline.clone();
    }
    let mut engine = Engine::new(
        &scenario,
        &EngineOptions {
            seed: Some(seed),
            policy_path: opts.policy.clone(),
            ..Default::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_DA7A);
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
        let sampled = rng.random::<f64>() < opts.sample_prob;
        let costs = if sampled {
            Some(rollouts(&engine, &order_id, &symbol, opts)?)
        } else {
            None
        };
        // The behaviour policy: the baseline, with random detours that
        // take the order off its schedule (ahead or behind), so the data
        // cover the states a policy reaches.
        if rng.random::<f64>() < opts.explore {
            let a = Action::ALL[rng.random_range(0..Action::ALL.len())];
            let n = rng.random_range(1..=opts.hold.max(1));
            engine
                .force_action(&order_id, a, n)
                .map_err(anyhow::Error::msg)?;
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
        if let (Some(costs), Some(d)) = (costs, decision) {
            let (mean, se) = summarise(&costs);
            let best = Action::ALL[argmin(&mean)].name();
            let halves_agree = (costs.len() >= 2).then(|| {
                let h = costs.len() / 2;
                argmin(&summarise(&costs[..h]).0) == argmin(&summarise(&costs[h..]).0)
            });
            rows.push(Labelled {
                csv: row(
                    &scenario.name,
                    seed,
                    &order_id,
                    engine.now(),
                    &d.features,
                    &d.action,
                    &mean,
                    &se,
                    best,
                ),
                se,
                mean,
                halves_agree,
            });
        }
    }
    Ok(rows)
}

fn label_noise(rows: &[Labelled], rollouts: usize) -> LabelNoise {
    let n = rows.len().max(1) as f64;
    let ses: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.se.iter().copied())
        .filter(|x| x.is_finite())
        .collect();
    let agree: Vec<bool> = rows.iter().filter_map(|r| r.halves_agree).collect();
    LabelNoise {
        rows: rows.len(),
        rollouts,
        advantage_se_bps: if ses.is_empty() {
            f64::NAN
        } else {
            ses.iter().sum::<f64>() / ses.len() as f64
        },
        advantage_range_bps: rows
            .iter()
            .map(|r| {
                let (lo, hi) = r
                    .mean
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), c| (l.min(*c), h.max(*c)));
                hi - lo
            })
            .sum::<f64>()
            / n,
        split_half_agreement: (!agree.is_empty())
            .then(|| agree.iter().filter(|a| **a).count() as f64 / agree.len() as f64),
    }
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
    se: &[f64],
    best: &str,
) -> String {
    let mut s = format!("{source},{seed},{order_id},{ts}");
    for f in features {
        s.push_str(&format!(",{f:.6}"));
    }
    s.push(',');
    s.push_str(action);
    for column in [costs, se] {
        for i in 0..Action::ALL.len() {
            s.push(',');
            if let Some(c) = column.get(i).filter(|c| c.is_finite()) {
                s.push_str(&format!("{c:.4}"));
            }
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
    pub noise: Option<LabelNoise>,
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
        noise: None,
    })
}

/// Generate rollout data from the simulator into `out` (CSV) and its schema.
pub fn from_simulator(opts: &DatasetOptions, out: &Path) -> Result<Summary> {
    if opts.rollouts == 0 {
        bail!("--rollouts must be at least 1");
    }
    if !(opts.horizon_s.is_finite() && opts.horizon_s > 0.0) {
        bail!("--horizon must be a positive number of seconds");
    }
    let files: Vec<ScenarioFile> = opts
        .scenarios
        .iter()
        .map(|s| ScenarioFile::load(s))
        .collect::<Result<_>>()?;
    if files.is_empty() {
        bail!("no scenario given");
    }
    if opts.baseline == "adaptive" && opts.policy.is_none() {
        bail!("--baseline adaptive needs --policy FILE: the model whose decisions rollouts continue with");
    }
    if opts.baseline != "adaptive" {
        crate::engine::strategy::make(&opts.baseline, None)
            .map_err(|e| anyhow::anyhow!("--baseline: {e}"))?;
    }
    // Episode e uses scenario e mod n and seed `seed + e`: deterministic, and
    // the same whatever the number of threads.
    let jobs: Vec<(usize, u64)> = (0..opts.episodes)
        .map(|e| (e % files.len(), opts.seed + e as u64))
        .collect();
    if let Some((_, last)) = jobs.last() {
        if *last >= super::eval::HELD_OUT_SEED_BASE {
            bail!(
                "training seeds must stay below {} (evaluation seeds start there)",
                super::eval::HELD_OUT_SEED_BASE
            );
        }
    }
    let results = super::par_map(&jobs, opts.threads, |(f, seed)| {
        episode(&files[*f], *seed, opts)
    });
    let mut rows = Vec::new();
    for r in results {
        rows.extend(r?);
    }
    let noise = label_noise(&rows, opts.rollouts);
    let csv: Vec<String> = rows.into_iter().map(|r| r.csv).collect();
    let mut summary = write(
        out,
        &csv,
        schema_json(
            "simulator rollouts",
            Some(opts),
            opts.horizon_s,
            Some(&noise),
        ),
    )?;
    summary.noise = Some(noise);
    Ok(summary)
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
    write(
        out,
        &rows,
        schema_json("recorded decisions", None, horizon_s, None),
    )
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
                    // No rollouts, so no standard errors.
                    for _ in Action::ALL {
                        r.push(',');
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
