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
    /// The model contract, model files and the model registry.
    #[command(subcommand)]
    Model(vigil::model::cli::ModelCommand),
    /// Generate training data from the simulator (rollouts) or from recorded sessions.
    Dataset(vigil::learn::cli::DatasetArgs),
    /// Run every strategy on held-out seeds and compare implementation shortfall.
    Eval(vigil::learn::cli::EvalArgs),
    /// The built-in scenarios and families, and the day a family draws for a seed.
    #[command(subcommand)]
    Scenario(vigil::engine::scenario_cli::ScenarioCommand),
    /// Checks the simulator must pass: square-root impact, no free lunch, the big order.
    #[command(subcommand)]
    Calibrate(vigil::learn::cli::CalibrateCommand),
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
        Commands::Model(cmd) => vigil::model::cli::run(cmd),
        Commands::Dataset(args) => vigil::learn::cli::dataset(args),
        Commands::Eval(args) => vigil::learn::cli::eval(args),
        Commands::Scenario(cmd) => vigil::engine::scenario_cli::run(cmd),
        Commands::Calibrate(cmd) => vigil::learn::cli::calibrate(cmd),
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
    let scenario = Scenario::load_seeded(
        args.market.scenario.as_deref().unwrap_or("default"),
        args.market.seed,
    )?;
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
        .map(|s| Scenario::load_seeded(s, args.session.seed))
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
            let setup =
                vigil::engine::capture_session::prepare(&path, scenario, seed.unwrap_or(1))?;
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
