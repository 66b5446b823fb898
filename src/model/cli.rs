//! `vigil model …`: the contract file, model checks and benchmarks, and the
//! model registry (list, register, promote through the gates, retire).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::registry::{file_sha256, ModelEntry, ModelKind, Registry, REGISTRY_FILE};
use crate::protocol::ModelStatus;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Write the feature/action contract (default models/features.json); --check compares instead.
    Contract {
        #[arg(long, default_value = "models/features.json")]
        out: PathBuf,
        /// Fail if the file differs from this build's contract instead of writing it.
        #[arg(long)]
        check: bool,
    },
    /// Inference latency per decision (batch 1) on the chosen backend.
    Bench {
        file: PathBuf,
        #[command(flatten)]
        onnx: OnnxArgs,
        /// Number of timed inferences.
        #[arg(long, default_value_t = 20_000)]
        iterations: usize,
    },
    /// Every registered model: hash, contract version, status and held-out figures.
    List {
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Add a model file to the registry, as a shadow (it trades nothing yet).
    Register {
        file: PathBuf,
        #[arg(long)]
        name: String,
        /// Model card (default: the file with .md).
        #[arg(long)]
        card: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "policy")]
        kind: KindArg,
        #[command(flatten)]
        registry: RegistryArgs,
        #[command(flatten)]
        onnx: OnnxArgs,
    },
    /// Promote a model to canary or live; refused unless every gate passes.
    Promote {
        name: String,
        #[arg(long, value_enum)]
        to: PromoteTo,
        /// Held-out seeds per evaluation family.
        #[arg(long, default_value_t = 30)]
        seeds: usize,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Who promotes (recorded; default $USER).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
        #[command(flatten)]
        onnx: OnnxArgs,
    },
    /// Take a model out of service (recorded).
    Retire {
        name: String,
        #[arg(long)]
        by: Option<String>,
        #[arg(long, default_value = "retired")]
        reason: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Load a model, validate its contract, report inputs/outputs and a test inference.
    Check {
        file: PathBuf,
        #[command(flatten)]
        onnx: OnnxArgs,
        /// Feature vectors to score (JSON array of arrays); prints the probabilities as JSON.
        #[arg(long)]
        inputs: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct RegistryArgs {
    /// The model registry (default models/registry.toml).
    #[arg(long)]
    registry: Option<PathBuf>,
}

impl RegistryArgs {
    fn path(&self) -> PathBuf {
        self.registry
            .clone()
            .unwrap_or_else(|| super::default_model_path(REGISTRY_FILE))
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Policy,
    Shadow,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PromoteTo {
    Canary,
    Live,
}

#[derive(clap::Args)]
pub struct OnnxArgs {
    /// Use ONNX Runtime from this shared library instead of the embedded tract backend
    /// (also VIGIL_ORT_DYLIB).
    #[arg(long, env = "VIGIL_ORT_DYLIB")]
    pub onnx_runtime: Option<PathBuf>,
}

pub fn run(cmd: ModelCommand) -> Result<()> {
    use super::contract::contract_file_text;
    use super::onnx::{init_backend, PolicyModel};
    match cmd {
        ModelCommand::Contract { out, check } => {
            let want = contract_file_text();
            if check {
                let have = std::fs::read_to_string(&out)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", out.display()))?;
                if have != want {
                    bail!(
                        "{} is out of date: run `vigil model contract` and commit it",
                        out.display()
                    );
                }
                println!("{} matches the contract", out.display());
            } else {
                if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&out, want)?;
                println!("wrote {}", out.display());
            }
            Ok(())
        }
        ModelCommand::List { registry } => list(&registry.path()),
        ModelCommand::Register {
            file,
            name,
            card,
            kind,
            registry,
            onnx,
        } => {
            init_backend(onnx.onnx_runtime.as_deref())?;
            register(&registry.path(), &file, &name, card.as_deref(), kind)
        }
        ModelCommand::Promote {
            name,
            to,
            seeds,
            threads,
            by,
            registry,
            onnx,
        } => {
            init_backend(onnx.onnx_runtime.as_deref())?;
            promote(&registry.path(), &name, to, seeds, threads, &who(by))
        }
        ModelCommand::Retire {
            name,
            by,
            reason,
            registry,
        } => {
            let path = registry.path();
            let mut r = Registry::load(&path)?;
            if r.get(&name)
                .is_some_and(|m| m.status == ModelStatus::Retired)
            {
                bail!("model {name} is already retired");
            }
            r.set_status(&name, ModelStatus::Retired, &who(by), &reason)?;
            r.save(&path)?;
            println!("{name}: retired");
            Ok(())
        }
        ModelCommand::Bench {
            file,
            onnx,
            iterations,
        } => {
            let backend = init_backend(onnx.onnx_runtime.as_deref())?;
            let model = PolicyModel::load(&file)?;
            let n = crate::model::contract::FEATURE_COUNT;
            // Varied inputs, so no backend can cache one answer.
            let inputs: Vec<Vec<f64>> = (0..256)
                .map(|i| {
                    (0..n)
                        .map(|j| (((i * n + j) as f64 * 0.618).fract() - 0.5) * 2.0)
                        .collect()
                })
                .collect();
            for x in inputs.iter().take(200) {
                model.predict(x)?;
            }
            let mut lat = Vec::with_capacity(iterations);
            for i in 0..iterations.max(1) {
                let t = std::time::Instant::now();
                std::hint::black_box(model.predict(&inputs[i % inputs.len()])?);
                lat.push(t.elapsed());
            }
            lat.sort();
            let us = |p: f64| crate::bench::percentile(&lat, p).as_secs_f64() * 1e6;
            println!(
                "{} on {backend}: p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs over {} inferences (batch 1)",
                model.id,
                us(0.5),
                us(0.99),
                lat.iter().map(|d| d.as_secs_f64()).sum::<f64>() / lat.len() as f64 * 1e6,
                lat.len()
            );
            Ok(())
        }
        ModelCommand::Check { file, onnx, inputs } => {
            let backend = init_backend(onnx.onnx_runtime.as_deref())?;
            let model = PolicyModel::load(&file)?;
            if let Some(path) = inputs {
                let text = std::fs::read_to_string(&path)?;
                let rows: Vec<Vec<f64>> = serde_json::from_str(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "{}: expected a JSON array of feature arrays: {e}",
                        path.display()
                    )
                })?;
                let out: Vec<Vec<f64>> = rows
                    .iter()
                    .map(|r| model.predict(r))
                    .collect::<Result<_, _>>()?;
                println!("{}", serde_json::to_string(&out)?);
                return Ok(());
            }
            let report = model.report()?;
            println!("model    {}", report.id);
            println!("backend  {backend}");
            println!(
                "contract version {} (features and actions match)",
                report.contract_version
            );
            for i in &report.inputs {
                println!("input    {i}");
            }
            for o in &report.outputs {
                println!("output   {o}");
            }
            let probs = model.predict(&[0.0; crate::model::contract::FEATURE_COUNT])?;
            let names: Vec<_> = crate::model::Action::ALL.iter().map(|a| a.name()).collect();
            let shown: Vec<String> = names
                .iter()
                .zip(&probs)
                .map(|(n, p)| format!("{n}={p:.3}"))
                .collect();
            println!("test inference (all features 0): {}", shown.join(" "));
            Ok(())
        }
    }
}

fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn registry_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn list(path: &Path) -> Result<()> {
    let r = Registry::load(path)?;
    let dir = registry_dir(path);
    println!(
        "{:<22} {:<7} {:<8} {:>8} {:<14} held-out figures",
        "model", "kind", "status", "contract", "sha256"
    );
    for m in &r.models {
        let file_state = match m.verify(dir) {
            Ok(_) => "",
            Err(_) => " (FILE CHANGED OR MISSING)",
        };
        let figures: Vec<String> = m
            .metrics
            .iter()
            .filter(|(k, _)| k.ends_with(".paired_bps") || k.ends_with(".adaptive_bps"))
            .map(|(k, v)| format!("{k} {v:+.1}"))
            .collect();
        println!(
            "{:<22} {:<7} {:<8} {:>8} {:<14} {}{}",
            m.name,
            match m.kind {
                ModelKind::Policy => "policy",
                ModelKind::Shadow => "shadow",
            },
            m.status.name(),
            m.contract_version,
            &m.sha256[..12],
            if figures.is_empty() {
                "-".to_string()
            } else {
                figures.join(", ")
            },
            file_state
        );
        if let Some(h) = m.history.last() {
            println!(
                "{:<22} last change {} {} → {} by {}: {}",
                "",
                h.at,
                h.from.name(),
                h.to.name(),
                h.by,
                h.reason
            );
        }
    }
    let d = &r.deployment;
    println!(
        "deployment: canary ≤ {:.0}% of adaptive orders and ≤ {:.0}% of their notional; guard at {:+.1} bps vs the baseline once {:.0}% has traded",
        d.canary_max_order_share * 100.0,
        d.canary_max_notional_share * 100.0,
        d.guard_threshold_bps,
        d.guard_min_traded_share * 100.0
    );
    Ok(())
}

fn register(
    path: &Path,
    file: &Path,
    name: &str,
    card: Option<&Path>,
    kind: KindArg,
) -> Result<()> {
    let mut r = if path.exists() {
        Registry::load(path)?
    } else {
        Registry::default()
    };
    if r.get(name).is_some() {
        bail!("a model named {name} is already registered");
    }
    // Only a model that loads and speaks this contract gets in.
    super::onnx::PolicyModel::load(file)?;
    let dir = registry_dir(path);
    let relative = |p: &Path| -> Result<String> {
        let abs = std::fs::canonicalize(p).with_context(|| format!("{}", p.display()))?;
        let base = std::fs::canonicalize(dir).with_context(|| format!("{}", dir.display()))?;
        abs.strip_prefix(&base)
            .map(|x| x.to_string_lossy().into_owned())
            .map_err(|_| {
                anyhow::anyhow!(
                    "{} is not inside the registry's directory {}",
                    p.display(),
                    dir.display()
                )
            })
    };
    let card = card
        .map(Path::to_path_buf)
        .unwrap_or_else(|| file.with_extension("md"));
    r.models.push(ModelEntry {
        name: name.to_string(),
        kind: match kind {
            KindArg::Policy => ModelKind::Policy,
            KindArg::Shadow => ModelKind::Shadow,
        },
        file: relative(file)?,
        sha256: file_sha256(file)?,
        contract_version: super::CONTRACT_VERSION,
        card: if card.exists() {
            relative(&card)?
        } else {
            String::new()
        },
        status: ModelStatus::Shadow,
        metrics: Default::default(),
        history: Vec::new(),
    });
    r.save(path)?;
    println!("{name}: registered as shadow ({})", file.display());
    Ok(())
}

fn promote(
    path: &Path,
    name: &str,
    to: PromoteTo,
    seeds: usize,
    threads: usize,
    by: &str,
) -> Result<()> {
    let mut r = Registry::load(path)?;
    let to = match to {
        PromoteTo::Canary => ModelStatus::Canary,
        PromoteTo::Live => ModelStatus::Live,
    };
    let entry = r
        .get(name)
        .with_context(|| format!("no model {name} in the registry"))?;
    if entry.status == to {
        bail!("model {name} is already {}", to.name());
    }
    if entry.status == ModelStatus::Retired {
        bail!("model {name} is retired: register a new model instead");
    }
    let opts = crate::learn::gates::GateOptions {
        seeds,
        threads,
        ..Default::default()
    };
    let report = crate::learn::gates::check(&r, registry_dir(path), name, &opts)?;
    print!("{}", report.table());
    if !report.pass() {
        bail!(
            "promotion of {name} to {} refused: {}",
            to.name(),
            report.failures().join("; ")
        );
    }
    let reason = format!(
        "gates passed ({} held-out seeds per family): {}",
        seeds,
        report
            .gates
            .iter()
            .find(|g| g.name == "held-out")
            .map(|g| g.detail.clone())
            .unwrap_or_default()
    );
    if to == ModelStatus::Live {
        let previous: Vec<String> = r
            .models
            .iter()
            .filter(|m| {
                m.kind == ModelKind::Policy && m.status == ModelStatus::Live && m.name != name
            })
            .map(|m| m.name.clone())
            .collect();
        for p in previous {
            r.set_status(&p, ModelStatus::Retired, by, &format!("replaced by {name}"))?;
        }
    }
    r.set_status(name, to, by, &reason)?;
    if let Some(m) = r.get_mut(name) {
        m.metrics = report.metrics.clone();
    }
    r.save(path)?;
    println!("{name}: promoted to {}", to.name());
    Ok(())
}
