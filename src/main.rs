//! The `vigil` command line. Thin: parses arguments and calls into the library.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use vigil::console::{run_console, ConsoleOptions};
use vigil::engine::hub::Tokens;
use vigil::engine::serve::{self, ServeOptions};
use vigil::engine::Scenario;
use vigil::protocol::Role;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Supervise machine-learning execution algorithms, and the engine they run on"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// An embedded engine on the default scenario with the console attached: the quickest look.
    Demo(DemoArgs),
    /// The terminal console, attached to a running engine.
    Console(ConsoleArgs),
    /// Run the execution engine on the market simulator and serve clients over WebSocket.
    Engine(EngineArgs),
    /// Measure simulator throughput, event encoding and command round trips.
    Bench,
    /// Replay a recorded session in the console, read-only, with timeline controls.
    Replay(vigil::replay::cli::ReplayArgs),
    /// Run a scenario with scripted commands as fast as possible into a journal (deterministic).
    Record(vigil::replay::cli::RecordArgs),
    /// Post-trade report of a recording: costs, the model, interventions, counterfactuals, charts.
    Report(vigil::report::cli::ReportArgs),
    /// The model contract and model files.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Generate training data from the simulator (rollouts) or from recorded sessions.
    Dataset(DatasetArgs),
    /// Run every strategy on held-out seeds and compare implementation shortfall.
    Eval(EvalArgs),
}

#[derive(Subcommand)]
enum ModelCommand {
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
struct OnnxArgs {
    /// Use ONNX Runtime from this shared library instead of the embedded tract backend
    /// (also VIGIL_ORT_DYLIB).
    #[arg(long, env = "VIGIL_ORT_DYLIB")]
    onnx_runtime: Option<PathBuf>,
}

#[derive(clap::Args)]
struct DatasetArgs {
    /// Scenarios to simulate (episodes cycle through them).
    #[arg(long, num_args = 1.., default_value = "regime_shift")]
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
    #[arg(long, default_value_t = 300.0)]
    horizon: f64,
    /// Share of decision points that get rollouts.
    #[arg(long, default_value_t = 0.1)]
    sample: f64,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Output CSV (its schema goes next to it as .schema.json).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct EvalArgs {
    #[arg(long, default_value = "regime_shift")]
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
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct MarketArgs {
    /// Built-in scenario name (default, calm, volatile, thin, regime_shift) or a TOML file
    /// (default: `default`; with a replayed market, a TWAP buy and an Almgren–Chriss sell
    /// sized to the capture's volume).
    #[arg(long)]
    scenario: Option<String>,
    /// Seed of the simulator (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Write a journal of the session into this directory.
    #[arg(long)]
    record: Option<PathBuf>,
}

#[derive(clap::Args)]
struct LookArgs {
    /// Colour theme: dark, light, high-contrast, colorblind, or NAME.toml in the themes directory.
    #[arg(long, default_value = "dark")]
    theme: String,
    /// Keymap file (TOML) rebinding the default keys.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Directory holding NAME.toml themes (default ./themes if present).
    #[arg(long)]
    themes_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct DemoArgs {
    #[command(flatten)]
    market: MarketArgs,
    /// Simulated seconds per wall second (100: a trading day in about four minutes).
    #[arg(long, default_value_t = 100.0)]
    speed: f64,
    #[command(flatten)]
    look: LookArgs,
    #[command(flatten)]
    shadow: vigil::console::shadow::ShadowArgs,
}

#[derive(clap::Args)]
struct ConsoleArgs {
    /// WebSocket URL of the engine.
    #[arg(default_value = "ws://127.0.0.1:7878")]
    url: String,
    /// Access token (trader or viewer).
    #[arg(long, env = "VIGIL_TOKEN", default_value = "")]
    token: String,
    #[command(flatten)]
    look: LookArgs,
    #[command(flatten)]
    shadow: vigil::console::shadow::ShadowArgs,
}

#[derive(clap::Args)]
struct EngineArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: String,
    #[command(flatten)]
    session: MarketArgs,
    /// Market to trade on: `sim` (the simulator) or `replay:FILE` (a recorded exchange
    /// capture, replayed).
    #[arg(long, default_value = "sim")]
    market: String,
    /// Simulated seconds per wall second; 1e6 or more runs as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Token that grants the trader role.
    #[arg(long, env = "VIGIL_TOKEN")]
    token: Option<String>,
    /// Token that grants the read-only viewer role.
    #[arg(long)]
    viewer_token: Option<String>,
    /// TOML file of users: [[users]] token = "…", user = "…", role = "trader" | "viewer".
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Name this engine reports to clients.
    #[arg(long, default_value = "vigil-engine")]
    engine_id: String,
}

fn main() -> std::process::ExitCode {
    // Errors are for people: the message chain, no backtrace.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    // The console owns the terminal: only headless commands log to stderr.
    if matches!(cli.command, Commands::Engine(_) | Commands::Bench) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = tokio::runtime::Runtime::new()?;
    match cli.command {
        Commands::Demo(args) => rt.block_on(run_demo(args)),
        Commands::Console(args) => {
            let mut opts = console_options(args.url, args.token, args.look);
            (opts.shadow, opts.divergence) = args.shadow.resolve()?;
            rt.block_on(run_console(opts))
        }
        Commands::Engine(args) => rt.block_on(run_engine(args)),
        Commands::Bench => rt.block_on(vigil::bench::run_all()),
        Commands::Replay(args) => vigil::replay::cli::replay(args),
        Commands::Record(args) => vigil::replay::cli::record(args),
        Commands::Report(args) => vigil::report::cli::run(args),
        Commands::Model(cmd) => run_model(cmd),
        Commands::Dataset(args) => run_dataset(args),
        Commands::Eval(args) => run_eval(args),
    }
}

fn console_options(url: String, token: String, look: LookArgs) -> ConsoleOptions {
    let mut opts = ConsoleOptions::new(url, token);
    opts.theme = look.theme;
    opts.keys = look.keys;
    if look.themes_dir.is_some() {
        opts.themes_dir = look.themes_dir;
    }
    opts
}

fn check_speed(speed: f64) -> Result<()> {
    if !(speed.is_finite() && speed > 0.0) {
        bail!("--speed must be a positive number, got {speed}");
    }
    Ok(())
}

async fn run_demo(args: DemoArgs) -> Result<()> {
    check_speed(args.speed)?;
    let scenario = Scenario::load(args.market.scenario.as_deref().unwrap_or("default"))?;
    // A one-off token: the embedded engine listens on loopback only.
    let token = format!("demo-{:016x}", rand::random::<u64>());
    let mut tokens = Tokens::default();
    tokens.add(&token, "demo-trader", Role::Trader)?;
    let running = serve::start(ServeOptions {
        listen: "127.0.0.1:0".into(),
        scenario,
        seed: args.market.seed,
        speed: args.speed,
        record: args.market.record,
        tokens,
        engine_id: "vigil-demo".into(),
    })
    .await?;
    // The console attaches through the same WebSocket path as any client.
    let mut opts = console_options(running.url(), token, args.look);
    (opts.shadow, opts.divergence) = args.shadow.resolve()?;
    let result = run_console(opts).await;
    running.handle.shutdown();
    if let Some(j) = &running.journal {
        println!("session recorded to {}", j.display());
    }
    result
}

async fn run_engine(args: EngineArgs) -> Result<()> {
    check_speed(args.speed)?;
    let scenario = args
        .session
        .scenario
        .as_deref()
        .map(Scenario::load)
        .transpose()?;
    let replay = match args.market.as_str() {
        "sim" => None,
        m => match m.strip_prefix("replay:") {
            Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
            _ => bail!("--market must be sim or replay:FILE, got {m}"),
        },
    };
    let mut tokens = Tokens::default();
    if let Some(t) = &args.token {
        tokens.add(t, "trader", Role::Trader)?;
    }
    if let Some(v) = &args.viewer_token {
        tokens.add(v, "viewer", Role::Viewer)?;
    }
    if let Some(f) = &args.tokens {
        tokens.load_file(f)?;
    }
    if tokens.is_empty() {
        bail!("no way in: give --token T (or VIGIL_TOKEN), --viewer-token V or --tokens FILE");
    }
    let seed = args.session.seed;
    let running = match replay {
        None => {
            serve::start(ServeOptions {
                listen: args.listen,
                scenario: match scenario {
                    Some(s) => s,
                    None => Scenario::load("default")?,
                },
                seed,
                speed: args.speed,
                record: args.session.record,
                tokens,
                engine_id: args.engine_id,
            })
            .await?
        }
        Some(path) => {
            let setup = vigil::engine::feed::session::prepare(&path, scenario, seed.unwrap_or(1))?;
            let sym = &setup.scenario.symbols[0];
            println!(
                "replaying {} ({}, tick {}, lot {}, {:.0} s): {}",
                path.display(),
                sym.symbol,
                sym.tick_size,
                sym.lot_size,
                setup.profile.duration_s(),
                setup.profile.stats
            );
            let scenario = setup.scenario.clone();
            let engine = setup.engine(&vigil::engine::EngineOptions {
                engine_id: args.engine_id.clone(),
                seed,
                ..Default::default()
            })?;
            serve::start_engine(
                engine,
                ServeOptions {
                    listen: args.listen,
                    scenario,
                    seed,
                    speed: args.speed,
                    record: args.session.record,
                    tokens,
                    engine_id: args.engine_id,
                },
            )
            .await?
        }
    };
    println!("vigil engine listening on {}", running.url());
    if let Some(j) = &running.journal {
        println!("recording to {}", j.display());
    }
    tokio::select! {
        r = running.hub => r??,
        _ = tokio::signal::ctrl_c() => {
            running.handle.shutdown();
            println!("shutting down");
        }
    }
    Ok(())
}

fn run_model(cmd: ModelCommand) -> Result<()> {
    use vigil::model::contract::contract_file_text;
    use vigil::model::onnx::{init_backend, PolicyModel};
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
            let n = vigil::model::contract::FEATURE_COUNT;
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
            let us = |p: f64| vigil::bench::percentile(&lat, p).as_secs_f64() * 1e6;
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
            let probs = model.predict(&[0.0; vigil::model::contract::FEATURE_COUNT])?;
            let names: Vec<_> = vigil::model::Action::ALL.iter().map(|a| a.name()).collect();
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

fn run_dataset(args: DatasetArgs) -> Result<()> {
    use vigil::learn::dataset;
    let summary = if args.from.is_empty() {
        let opts = dataset::DatasetOptions {
            scenarios: args.scenario,
            episodes: args.episodes,
            seed: args.seed,
            horizon_s: args.horizon,
            sample_prob: args.sample,
            threads: args.threads,
            ..Default::default()
        };
        if opts.seed + opts.episodes as u64 > vigil::learn::eval::HELD_OUT_SEED_BASE {
            bail!(
                "training seeds must stay below {} (held out for evaluation)",
                vigil::learn::eval::HELD_OUT_SEED_BASE
            );
        }
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
    Ok(())
}

fn run_eval(args: EvalArgs) -> Result<()> {
    vigil::model::onnx::init_backend(args.onnx.onnx_runtime.as_deref())?;
    let report = vigil::learn::eval::run(&vigil::learn::eval::EvalOptions {
        scenario: args.scenario,
        seeds: args.seeds,
        strategies: args.strategies,
        policy_path: args.policy,
        threads: args.threads,
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
