//! The `vigil` command line. Thin: parses arguments and calls into the library.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
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
    /// Run the execution engine on the market simulator and serve clients over WebSocket.
    Engine(EngineArgs),
}

#[derive(clap::Args)]
struct EngineArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: String,
    /// Built-in scenario name (default, calm, volatile, thin, regime_shift) or a TOML file.
    /// With a replayed market: the orders and controls to use (default: a TWAP
    /// buy and an Almgren-Chriss sell sized to the capture's volume).
    #[arg(long)]
    scenario: Option<String>,
    /// Market to trade on: `sim` (the simulator) or `replay:FILE` (a recorded
    /// exchange capture, replayed).
    #[arg(long, default_value = "sim")]
    market: String,
    /// Seed of the simulator (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Simulated seconds per wall second; 1e6 or more runs as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Write a journal of the session into this directory.
    #[arg(long)]
    record: Option<PathBuf>,
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

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new()?;
    match cli.command {
        Commands::Engine(args) => rt.block_on(run_engine(args)),
    }
}

async fn run_engine(args: EngineArgs) -> Result<()> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed must be a positive number, got {}", args.speed);
    }
    let scenario = args.scenario.as_deref().map(Scenario::load).transpose()?;
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
    let running = match replay {
        None => {
            serve::start(ServeOptions {
                listen: args.listen,
                scenario: match scenario {
                    Some(s) => s,
                    None => Scenario::load("default")?,
                },
                seed: args.seed,
                speed: args.speed,
                record: args.record,
                tokens,
                engine_id: args.engine_id,
            })
            .await?
        }
        Some(path) => {
            let setup =
                vigil::engine::feed::session::prepare(&path, scenario, args.seed.unwrap_or(1))?;
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
                seed: args.seed,
            })?;
            serve::start_engine(
                engine,
                ServeOptions {
                    listen: args.listen,
                    scenario,
                    seed: args.seed,
                    speed: args.speed,
                    record: args.record,
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
