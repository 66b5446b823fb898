//! `vigil eval`: every strategy on the same held-out seeds, implementation
//! shortfall against arrival, with confidence intervals and paired
//! differences against the best classic strategy.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;

use super::cost::implementation_shortfall_bps;
use crate::engine::strategy::CLASSIC;
use crate::engine::{Engine, EngineOptions, Scenario};

/// Evaluation seeds start here; data generation uses seeds below it, so the
/// evaluation never sees a training seed.
pub const HELD_OUT_SEED_BASE: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub scenario: String,
    pub seeds: usize,
    pub strategies: Vec<String>,
    pub policy_path: Option<PathBuf>,
    pub threads: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    pub mean_bps: f64,
    pub se_bps: f64,
    pub ci95_bps: [f64; 2],
}

impl Interval {
    fn of(xs: &[f64]) -> Interval {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n.max(1.0);
        let var = if xs.len() > 1 {
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        let se = (var / n.max(1.0)).sqrt();
        // Normal approximation; with few seeds the interval is optimistic,
        // which the README's table says.
        Interval {
            mean_bps: mean,
            se_bps: se,
            ci95_bps: [mean - 1.96 * se, mean + 1.96 * se],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub scenario: String,
    pub seeds: usize,
    pub first_seed: u64,
    pub strategies: std::collections::BTreeMap<String, Interval>,
    pub per_seed_bps: std::collections::BTreeMap<String, Vec<f64>>,
    pub best_classic: String,
    /// Per-seed (strategy − best classic), in bps: negative = cheaper than the best classic.
    pub paired_vs_best_classic: std::collections::BTreeMap<String, Interval>,
}

/// Shortfall of one run, weighted by each order's notional at arrival.
fn run_once(scenario: &Scenario, seed: u64, policy: &Option<PathBuf>) -> Result<f64> {
    let opts = EngineOptions {
        seed: Some(seed),
        policy_path: policy.clone(),
        ..Default::default()
    };
    let mut engine = Engine::new(scenario, &opts)?;
    while engine.step() {
        engine.drain_events().for_each(drop);
    }
    let view = engine.view();
    let (mut cost, mut weight) = (0.0, 0.0);
    for o in &view.orders {
        let Some(end_mid) = engine.mid_price(&o.info.symbol) else {
            continue;
        };
        let Some(is) = implementation_shortfall_bps(o, end_mid) else {
            continue;
        };
        let w = o.info.qty * o.progress.arrival_price.unwrap_or(0.0);
        cost += is * w;
        weight += w;
    }
    if weight <= 0.0 {
        bail!(
            "no order started in scenario {} (seed {seed})",
            scenario.name
        );
    }
    Ok(cost / weight)
}

pub fn run(opts: &EvalOptions) -> Result<EvalReport> {
    if opts.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let base = Scenario::load(&opts.scenario)?;
    if base.orders.is_empty() {
        bail!("scenario {} has no orders to evaluate", base.name);
    }
    let mut jobs = Vec::new();
    for s in &opts.strategies {
        let mut sc = base.clone();
        for o in sc.orders.iter_mut() {
            o.strategy = s.clone();
        }
        for k in 0..opts.seeds {
            jobs.push((s.clone(), sc.clone(), HELD_OUT_SEED_BASE + k as u64));
        }
    }
    let threads = opts.threads.max(1);
    let mut results: Vec<Option<Result<f64>>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let jobs = &jobs;
                scope.spawn(move || {
                    (t..jobs.len())
                        .step_by(threads)
                        .map(|i| (i, run_once(&jobs[i].1, jobs[i].2, &opts.policy_path)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("evaluation thread panicked") {
                results[i] = Some(r);
            }
        }
    });
    let mut per_seed: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for ((name, _, _), r) in jobs.iter().zip(results) {
        let r = r.expect("every job ran")?;
        per_seed.entry(name.clone()).or_default().push(r);
    }
    let strategies: std::collections::BTreeMap<_, _> = per_seed
        .iter()
        .map(|(k, v)| (k.clone(), Interval::of(v)))
        .collect();
    let best_classic = strategies
        .iter()
        .filter(|(k, _)| CLASSIC.contains(&k.as_str()))
        .min_by(|a, b| a.1.mean_bps.total_cmp(&b.1.mean_bps))
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    let mut paired = std::collections::BTreeMap::new();
    if let Some(best) = per_seed.get(&best_classic) {
        for (k, v) in &per_seed {
            if *k != best_classic {
                let diffs: Vec<f64> = v.iter().zip(best).map(|(a, b)| a - b).collect();
                paired.insert(k.clone(), Interval::of(&diffs));
            }
        }
    }
    Ok(EvalReport {
        scenario: base.name.clone(),
        seeds: opts.seeds,
        first_seed: HELD_OUT_SEED_BASE,
        strategies,
        per_seed_bps: per_seed,
        best_classic,
        paired_vs_best_classic: paired,
    })
}

impl EvalReport {
    pub fn table(&self) -> String {
        let mut s = format!(
            "scenario {}, {} held-out seeds from {}: implementation shortfall vs arrival (bps, lower is better)\n",
            self.scenario, self.seeds, self.first_seed
        );
        s.push_str(&format!(
            "{:<16} {:>9} {:>8} {:>21} {:>24}\n",
            "strategy", "mean", "se", "95% interval", "vs best classic (paired)"
        ));
        for (k, v) in &self.strategies {
            let paired = self
                .paired_vs_best_classic
                .get(k)
                .map(|p| {
                    format!(
                        "{:+.2} [{:+.2}, {:+.2}]",
                        p.mean_bps, p.ci95_bps[0], p.ci95_bps[1]
                    )
                })
                .unwrap_or_else(|| "(best classic)".into());
            s.push_str(&format!(
                "{:<16} {:>9.2} {:>8.2} {:>10.2} .. {:<8.2} {:>24}\n",
                k, v.mean_bps, v.se_bps, v.ci95_bps[0], v.ci95_bps[1], paired
            ));
        }
        s
    }
}
