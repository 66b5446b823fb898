//! The gates a model passes before it trades more: `vigil model promote`.
//!
//! 1. the file is the one registered (hash);
//! 2. its contract matches this build;
//! 3. on held-out seeds of the four market families it is cheaper than the
//!    current champion — the live model, or, when there is none, the
//!    baseline schedule that adaptive orders follow without a model (VWAP) —
//!    pooled over the families with the paired 95% interval of the
//!    difference below zero, and significantly worse on none of them;
//! 4. the simulator's calibration checks pass (square-root impact) and the
//!    model finds no free lunch where there is none.
//!
//! A gate that fails says why; later gates still run, so the report is whole
//! (except after a bad file, which nothing else should load).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::calibrate;
use super::eval::{self, EvalOptions, Interval};
use crate::model::onnx::PolicyModel;
use crate::model::registry::{ModelKind, Registry};

/// What adaptive orders follow when no model serves them.
pub const BASELINE: &str = "vwap";

/// The families a policy is judged on.
pub const EVALUATION_FAMILIES: &[&str] = &[
    "regime_family",
    "volatile_family",
    "calm_family",
    "thin_family",
];

#[derive(Debug, Clone)]
pub struct GateOptions {
    pub seeds: usize,
    pub threads: usize,
    pub families: Vec<String>,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            seeds: 30,
            threads: 2,
            families: EVALUATION_FAMILIES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub name: &'static str,
    pub pass: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub model: String,
    pub champion: String,
    pub gates: Vec<Gate>,
    /// Figures to keep in the registry beside the new status.
    pub metrics: BTreeMap<String, f64>,
}

impl GateReport {
    pub fn pass(&self) -> bool {
        self.gates.iter().all(|g| g.pass)
    }

    pub fn failures(&self) -> Vec<String> {
        self.gates
            .iter()
            .filter(|g| !g.pass)
            .map(|g| format!("{}: {}", g.name, g.detail))
            .collect()
    }

    pub fn table(&self) -> String {
        let mut s = format!("gates for {} (champion: {})\n", self.model, self.champion);
        for g in &self.gates {
            s.push_str(&format!(
                "  [{}] {:<12} {}\n",
                if g.pass { "pass" } else { "FAIL" },
                g.name,
                g.detail
            ));
        }
        s
    }
}

/// Per-seed implementation shortfall of one contender on a family's held-out seeds.
fn per_seed(
    family: &str,
    strategy: &str,
    policy: Option<&Path>,
    opts: &GateOptions,
) -> Result<Vec<f64>> {
    let r = eval::run(&EvalOptions {
        scenario: family.to_string(),
        seeds: opts.seeds,
        strategies: vec![strategy.to_string()],
        policy_path: policy.map(Path::to_path_buf),
        threads: opts.threads,
        first_seed: None,
    })?;
    Ok(r.per_seed_bps[strategy].clone())
}

pub fn check(
    registry: &Registry,
    dir: &Path,
    name: &str,
    opts: &GateOptions,
) -> Result<GateReport> {
    let entry = registry
        .get(name)
        .with_context(|| format!("no model {name} in the registry"))?;
    let champion = registry
        .live(ModelKind::Policy)
        .filter(|c| c.name != entry.name);
    let mut report = GateReport {
        model: entry.name.clone(),
        champion: champion
            .map(|c| c.name.clone())
            .unwrap_or_else(|| format!("the baseline schedule ({BASELINE})")),
        gates: Vec::new(),
        metrics: BTreeMap::new(),
    };
    let path = match entry.verify(dir) {
        Ok(p) => {
            report.gates.push(Gate {
                name: "file",
                pass: true,
                detail: format!("{} matches its registered sha256", p.display()),
            });
            p
        }
        Err(e) => {
            report.gates.push(Gate {
                name: "file",
                pass: false,
                detail: format!("{e:#}"),
            });
            return Ok(report);
        }
    };
    if entry.kind != ModelKind::Policy {
        report.gates.push(Gate {
            name: "kind",
            pass: false,
            detail: "only policy models serve orders; shadow models are not promoted".into(),
        });
        return Ok(report);
    }
    match PolicyModel::load(&path) {
        Ok(m) => report.gates.push(Gate {
            name: "contract",
            pass: true,
            detail: format!(
                "{} speaks contract {}",
                m.id,
                crate::model::CONTRACT_VERSION
            ),
        }),
        Err(e) => {
            report.gates.push(Gate {
                name: "contract",
                pass: false,
                detail: e.to_string(),
            });
            return Ok(report);
        }
    }

    // Held-out: candidate against the champion, paired by seed, pooled over families.
    let champion_path = match champion {
        Some(c) => Some(c.verify(dir)?),
        None => None,
    };
    let mut pooled = Vec::new();
    let mut lines = Vec::new();
    let mut worse = Vec::new();
    for family in &opts.families {
        let cand = per_seed(family, "adaptive", Some(&path), opts)?;
        let (against, label) = match &champion_path {
            Some(p) => (
                per_seed(family, "adaptive", Some(p), opts)?,
                report.champion.clone(),
            ),
            None => (
                per_seed(family, BASELINE, None, opts)?,
                BASELINE.to_string(),
            ),
        };
        let diffs: Vec<f64> = cand.iter().zip(&against).map(|(a, b)| a - b).collect();
        let i = Interval::of(&diffs);
        report.metrics.insert(
            format!("{family}.adaptive_bps"),
            Interval::of(&cand).mean_bps,
        );
        report
            .metrics
            .insert(format!("{family}.paired_bps"), i.mean_bps);
        report
            .metrics
            .insert(format!("{family}.paired_ci95_lo"), i.ci95_bps[0]);
        report
            .metrics
            .insert(format!("{family}.paired_ci95_hi"), i.ci95_bps[1]);
        lines.push(format!(
            "{family} {:+.1} [{:+.1}, {:+.1}] vs {label}",
            i.mean_bps, i.ci95_bps[0], i.ci95_bps[1]
        ));
        if i.ci95_bps[0] > 0.0 {
            worse.push(family.clone());
        }
        pooled.extend(diffs);
    }
    let all = Interval::of(&pooled);
    report
        .metrics
        .insert("pooled.paired_bps".into(), all.mean_bps);
    report
        .metrics
        .insert("pooled.paired_ci95_hi".into(), all.ci95_bps[1]);
    report
        .metrics
        .insert("held_out_seeds".into(), opts.seeds as f64);
    let significantly_worse = if worse.is_empty() {
        String::new()
    } else {
        format!("; significantly worse on {}", worse.join(", "))
    };
    report.gates.push(Gate {
        name: "held-out",
        pass: all.ci95_bps[1] < 0.0 && worse.is_empty(),
        detail: format!(
            "candidate − champion {:+.1} bps [{:+.1}, {:+.1}] over {} seeds of each family ({}); the pooled interval must lie below zero and no family be significantly worse{significantly_worse}",
            all.mean_bps,
            all.ci95_bps[0],
            all.ci95_bps[1],
            opts.seeds,
            lines.join("; ")
        ),
    });

    let impact = calibrate::impact(opts.seeds.clamp(2, 30), opts.threads)?;
    report
        .metrics
        .insert("calibration.impact_exponent".into(), impact.exponent);
    report
        .metrics
        .insert("calibration.decay_ratio".into(), impact.decay_ratio);
    let nfl = calibrate::no_free_lunch(opts.seeds.max(2), opts.threads, Some(path.clone()))?;
    report.metrics.insert(
        "no_free_lunch.adaptive_minus_ac_bps".into(),
        nfl.adaptive_minus_ac_bps.mean,
    );
    report.gates.push(Gate {
        name: "calibration",
        pass: impact.pass && nfl.pass,
        detail: format!(
            "impact exponent {:.3} (0.5 ± 0.1), decay {:.2} (about 2/3): {}; no free lunch: adaptive − AC {:+.1} [{:+.1}, {:+.1}]: {}",
            impact.exponent,
            impact.decay_ratio,
            if impact.pass { "ok" } else { "out of range" },
            nfl.adaptive_minus_ac_bps.mean,
            nfl.adaptive_minus_ac_bps.ci95[0],
            nfl.adaptive_minus_ac_bps.ci95[1],
            if nfl.pass { "ok" } else { "significantly cheaper than AC: a leak" }
        ),
    });
    Ok(report)
}
