//! `vigil engine`: the execution engine on the simulator or a replayed
//! capture, serving clients over WebSocket.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::hub::Tokens;
use super::serve::{self, ServeOptions};
use super::Scenario;
use crate::protocol::Role;

#[derive(clap::Args)]
pub struct MarketArgs {
    /// Built-in scenario or market family (`vigil scenario list`) or a TOML file
    /// (default: `default`; with a replayed market, a TWAP buy and an Almgren–Chriss sell
    /// sized to the capture's volume).
    #[arg(long)]
    pub scenario: Option<String>,
    /// Seed of the simulator, from which a family also draws its day (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write a journal of the session into this directory.
    #[arg(long)]
    pub record: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct EngineArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: String,
    #[command(flatten)]
    pub session: MarketArgs,
    /// Market to trade on: `sim` (the simulator) or `replay:FILE` (a recorded exchange
    /// capture, replayed).
    #[arg(long, default_value = "sim")]
    pub market: String,
    /// Simulated seconds per wall second; 1e6 or more runs as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Token that grants the trader role.
    #[arg(long, env = "VIGIL_TOKEN")]
    pub token: Option<String>,
    /// Token that grants the read-only viewer role.
    #[arg(long)]
    pub viewer_token: Option<String>,
    /// TOML file of users: [[users]] token = "…", user = "…", role = "trader" | "viewer".
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Name this engine reports to clients.
    #[arg(long, default_value = "vigil-engine")]
    pub engine_id: String,
}

pub fn check_speed(speed: f64) -> Result<()> {
    if !(speed.is_finite() && speed > 0.0) {
        bail!("--speed must be a positive number, got {speed}");
    }
    Ok(())
}

pub async fn run(args: EngineArgs) -> Result<()> {
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
            let setup = super::capture_session::prepare(&path, scenario, seed.unwrap_or(1))?;
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
            let engine = setup.engine(&super::EngineOptions {
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
