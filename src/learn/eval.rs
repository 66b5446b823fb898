//! `vigil eval`: every strategy on the same held-out seeds, implementation
//! shortfall against arrival, with confidence intervals and paired
//! differences against the best classic strategy.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;

use super::cost::implementation_shortfall_bps;
use crate::engine::strategy::CLASSIC;
use crate::engine::{Engine, EngineOptions, Scenario, ScenarioFile};

/// Evaluation seeds start here; data generation uses seeds below it, so the
/// evaluation never sees a training seed.
pub const HELD_OUT_SEED_BASE: u64 = 1_000_000;

/// Seeds for choosing between candidate models (validation): apart from the
/// evaluation seeds, so the figures reported for a model are not the ones it
/// was chosen on.
pub const VALIDATION_SEED_BASE: u64 = 2_000_000;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub scenario: String,
    pub seeds: usize,
    pub strategies: Vec<String>,
    pub policy_path: Option<PathBuf>,
    pub threads: usize,
    /// First seed (default `HELD_OUT_SEED_BASE`); never a training seed.
    pub first_seed: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    pub mean_bps: f64,
    pub se_bps: f64,
    pub ci95_bps: [f64; 2],
}

impl Interval {
    /// Mean, standard error and a 95% interval (Student's t) of per-seed values.
    pub fn of(xs: &[f64]) -> Interval {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n.max(1.0);
        let var = if xs.len() > 1 {
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        let se = (var / n.max(1.0)).sqrt();
        let t = super::t975(xs.len().saturating_sub(1).max(1));
        Interval {
            mean_bps: mean,
            se_bps: se,
            ci95_bps: [mean - t * se, mean + t * se],
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
    /// Mean share of the quantity filled, in percent.
    pub filled_pct: std::collections::BTreeMap<String, f64>,
    /// Per-seed (strategy − best classic), in bps: negative = cheaper than the best classic.
    pub paired_vs_best_classic: std::collections::BTreeMap<String, Interval>,
}

/// Shortfall of one run, weighted by each order's notional at arrival, and
/// the share of the quantity filled.
fn run_once(scenario: &Scenario, seed: u64, policy: &Option<PathBuf>) -> Result<(f64, f64)> {
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
    let (mut cost, mut weight, mut qty, mut filled) = (0.0, 0.0, 0.0, 0.0);
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
        qty += o.info.qty;
        filled += o.progress.filled;
    }
    if weight <= 0.0 {
        bail!(
            "no order started in scenario {} (seed {seed})",
            scenario.name
        );
    }
    Ok((cost / weight, filled / qty.max(1.0)))
}

pub fn run(opts: &EvalOptions) -> Result<EvalReport> {
    if opts.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let first_seed = opts.first_seed.unwrap_or(HELD_OUT_SEED_BASE);
    if first_seed < HELD_OUT_SEED_BASE {
        bail!("--first-seed {first_seed} is a training seed: evaluation seeds start at {HELD_OUT_SEED_BASE}");
    }
    // A family draws each seed's day; a fixed scenario is the same every seed.
    let file = ScenarioFile::load(&opts.scenario)?;
    let days: Vec<(u64, Scenario)> = (0..opts.seeds)
        .map(|k| {
            let seed = first_seed + k as u64;
            file.realise(Some(seed)).map(|s| (seed, s))
        })
        .collect::<Result<_>>()?;
    if days.iter().all(|(_, d)| d.orders.is_empty()) {
        bail!("scenario {} has no orders to evaluate", file.name);
    }
    let mut jobs = Vec::new();
    for s in &opts.strategies {
        for (seed, day) in &days {
            let mut sc = day.clone();
            for o in sc.orders.iter_mut() {
                o.strategy = s.clone();
            }
            jobs.push((s.clone(), sc, *seed));
        }
    }
    let results = super::par_map(&jobs, opts.threads, |(_, sc, seed)| {
        run_once(sc, *seed, &opts.policy_path)
    });
    let mut per_seed: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut fills: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for ((name, _, _), r) in jobs.iter().zip(results) {
        let (is, filled) = r?;
        per_seed.entry(name.clone()).or_default().push(is);
        fills.entry(name.clone()).or_default().push(filled);
    }
    let filled_pct = fills
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().sum::<f64>() / v.len() as f64 * 100.0))
        .collect();
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
        scenario: file.name.clone(),
        seeds: opts.seeds,
        first_seed,
        strategies,
        per_seed_bps: per_seed,
        best_classic,
        filled_pct,
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
            "{:<16} {:>9} {:>8} {:>21} {:>28} {:>7}\n",
            "strategy", "mean", "se", "95% interval", "vs best classic (paired)", "filled"
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
                "{:<16} {:>9.2} {:>8.2} {:>10.2} .. {:<8.2} {:>28} {:>6.1}%\n",
                k,
                v.mean_bps,
                v.se_bps,
                v.ci95_bps[0],
                v.ci95_bps[1],
                paired,
                self.filled_pct.get(k).copied().unwrap_or(f64::NAN)
            ));
        }
        s
    }
}
