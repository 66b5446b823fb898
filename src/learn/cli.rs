//! `vigil dataset` and `vigil eval`: the learning loop's commands.

use std::path::PathBuf;

use anyhow::Result;

use crate::model::cli::OnnxArgs;

#[derive(clap::Args)]
pub struct DatasetArgs {
    /// Scenarios or families to simulate (episodes cycle through them; a
    /// family draws each episode's day from its seed).
    #[arg(long, num_args = 1.., default_values = ["regime_family", "volatile_family", "calm_family", "thin_family"])]
    scenario: Vec<String>,
    #[arg(long, default_value_t = 4)]
    episodes: usize,
    /// First seed; episode e uses seed + e. Evaluation seeds start at 1,000,000.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Recorded sessions to turn into data instead of simulating.
    #[arg(long, num_args = 1..)]
    from: Vec<PathBuf>,
    /// Cost window after each decision, in simulated seconds.
    #[arg(long, default_value_t = 1800.0)]
    horizon: f64,
    /// Share of decision points that get rollouts.
    #[arg(long, default_value_t = 0.05)]
    sample: f64,
    /// Futures drawn per (state, action), shared by every action (common random numbers).
    #[arg(long, default_value_t = 8)]
    rollouts: usize,
    /// Decisions a rollout holds its action before the baseline takes over.
    #[arg(long, default_value_t = 6)]
    hold: u32,
    /// Probability that the behaviour policy leaves the baseline for a random action.
    #[arg(long, default_value_t = 0.3)]
    explore: f64,
    /// The strategy orders run and rollouts continue with (`adaptive` needs --policy:
    /// a second round of policy iteration).
    #[arg(long, default_value = "vwap")]
    baseline: String,
    /// Policy model for `--baseline adaptive`.
    #[arg(long)]
    policy: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Output CSV (its schema goes next to it as .schema.json).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Scenario or family (each held-out seed draws its own day from a family).
    #[arg(long, default_value = "regime_family")]
    scenario: String,
    #[arg(long, default_value_t = 10)]
    seeds: usize,
    /// Strategies to compare.
    #[arg(long, num_args = 1.., default_values = ["twap", "vwap", "pov", "almgren_chriss", "adaptive"])]
    strategies: Vec<String>,
    /// Policy model for the adaptive strategy (default models/policy.onnx).
    #[arg(long)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    onnx: OnnxArgs,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// First seed (default 1,000,000, the held-out evaluation seeds; 2,000,000 on are for
    /// choosing between candidate models). Training seeds (below 1,000,000) are refused.
    #[arg(long)]
    first_seed: Option<u64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn dataset(args: DatasetArgs) -> Result<()> {
    use crate::learn::dataset;
    let summary = if args.from.is_empty() {
        let opts = dataset::DatasetOptions {
            scenarios: args.scenario,
            episodes: args.episodes,
            seed: args.seed,
            horizon_s: args.horizon,
            sample_prob: args.sample,
            explore: args.explore,
            threads: args.threads,
            rollouts: args.rollouts,
            hold: args.hold,
            baseline: args.baseline,
            policy: args.policy,
        };
        dataset::from_simulator(&opts, &args.out)?
    } else {
        dataset::from_recordings(&args.from, args.horizon, &args.out)?
    };
    println!(
        "wrote {} rows to {} (schema {})",
        summary.rows,
        summary.csv.display(),
        summary.schema.display()
    );
    if let Some(n) = &summary.noise {
        println!(
            "label noise: advantage standard error {:.2} bps against an advantage range of {:.2} bps; \
             cheapest action agrees between halves of the rollouts in {}",
            n.advantage_se_bps,
            n.advantage_range_bps,
            n.split_half_agreement
                .map(|a| format!("{:.0}% of rows", a * 100.0))
                .unwrap_or_else(|| "(one rollout: not measured)".into())
        );
    }
    Ok(())
}

pub fn eval(args: EvalArgs) -> Result<()> {
    crate::model::onnx::init_backend(args.onnx.onnx_runtime.as_deref())?;
    let report = crate::learn::eval::run(&crate::learn::eval::EvalOptions {
        scenario: args.scenario,
        seeds: args.seeds,
        strategies: args.strategies,
        policy_path: args.policy,
        threads: args.threads,
        first_seed: args.first_seed,
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum CalibrateCommand {
    /// Square-root impact: metaorders of 0.5–20% of ADV, paired with the same days without them.
    Impact {
        #[arg(long, default_value_t = 30)]
        seeds: usize,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Adaptive against Almgren–Chriss where nothing observable predicts prices.
    NoFreeLunch {
        #[arg(long, default_value_t = 30)]
        seeds: usize,
        /// Policy model for the adaptive strategy (default models/policy.onnx).
        #[arg(long)]
        policy: Option<PathBuf>,
        #[command(flatten)]
        onnx: OnnxArgs,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long)]
        json: bool,
    },
    /// The default scenario's 500,000-share order beside the square-root law.
    BigOrder {
        #[arg(long, default_value_t = 30)]
        seeds: usize,
        #[arg(long)]
        policy: Option<PathBuf>,
        #[command(flatten)]
        onnx: OnnxArgs,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long)]
        json: bool,
    },
}

/// `vigil calibrate …`; exits non-zero when a check fails.
pub fn calibrate(cmd: CalibrateCommand) -> Result<()> {
    use crate::learn::calibrate as c;
    fn show<T: serde::Serialize>(json: bool, report: &T, table: String) -> Result<()> {
        if json {
            println!("{}", serde_json::to_string(report)?);
        } else {
            print!("{table}");
        }
        Ok(())
    }
    match cmd {
        CalibrateCommand::Impact {
            seeds,
            threads,
            json,
        } => {
            let r = c::impact(seeds, threads)?;
            show(json, &r, r.table())?;
            if !r.pass {
                anyhow::bail!("impact calibration failed");
            }
        }
        CalibrateCommand::NoFreeLunch {
            seeds,
            policy,
            onnx,
            threads,
            json,
        } => {
            crate::model::onnx::init_backend(onnx.onnx_runtime.as_deref())?;
            let r = c::no_free_lunch(seeds, threads, policy)?;
            show(json, &r, r.table())?;
            if !r.pass {
                anyhow::bail!("the adaptive policy beats Almgren–Chriss where it cannot: a leak");
            }
        }
        CalibrateCommand::BigOrder {
            seeds,
            policy,
            onnx,
            threads,
            json,
        } => {
            crate::model::onnx::init_backend(onnx.onnx_runtime.as_deref())?;
            let r = c::big_order(seeds, threads, policy)?;
            show(json, &r, r.table())?;
        }
    }
    Ok(())
}
