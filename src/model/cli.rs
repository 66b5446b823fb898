//! `vigil model …`: the contract file, model checks and benchmarks.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;

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
