//! `vigil engine`: the execution engine on the simulator or a replayed
//! capture, serving clients over WebSocket.

use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::hub::Tokens;
use super::journal::{JournalReader, SyncPolicy};
use super::recovery;
use super::serve::{self, RunningEngine, ServeOptions};
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
    /// Market to trade on: `sim` (the simulator), `replay:FILE` (a recorded exchange
    /// capture, replayed) or `nats:SYMBOL` (market data `vigil feed publish` puts on the
    /// bus given by --nats).
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
    /// Serve wss:// with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain ws:// on an address other machines can reach (tokens then
    /// cross the network readable by anyone on the path).
    #[arg(long)]
    pub insecure_plaintext: bool,
    /// Continue the session in this journal (or the newest unfinished one in this
    /// directory) after a crash. Scenario, seed and market come from the journal.
    #[arg(long, conflicts_with_all = ["scenario", "seed", "market", "fresh"])]
    pub recover: Option<PathBuf>,
    /// With --record DIR: start a new session even if DIR holds one that ended
    /// without a clean shutdown (by default that one is recovered).
    #[arg(long)]
    pub fresh: bool,
    /// How durable the journal is before the engine moves on: os (flushed to the
    /// operating system), commands (and each command fsync'd before its ack), batch
    /// (and every published batch fsync'd).
    #[arg(long, value_enum, default_value_t = SyncPolicy::Commands)]
    pub journal_sync: SyncPolicy,
    #[command(flatten)]
    pub fix: FixArgs,
    /// Publish events to, and take commands from, a NATS server with JetStream
    /// (e.g. nats://127.0.0.1:4222), as --engine-id.
    #[arg(long)]
    pub nats: Option<String>,
}

/// Order entry from OMSs over FIX 4.4.
#[derive(clap::Args, Clone)]
pub struct FixArgs {
    /// Accept FIX 4.4 sessions on this address (e.g. 127.0.0.1:9878); needs --fix-config.
    #[arg(long, requires = "fix_config")]
    pub fix_listen: Option<String>,
    /// TOML file of FIX sessions: [[sessions]] sender_comp_id, target_comp_id, user, role.
    #[arg(long, requires = "fix_listen")]
    pub fix_config: Option<PathBuf>,
    /// Directory of each FIX session's sequence numbers and sent messages.
    #[arg(long, default_value = "fix-store")]
    pub fix_store: PathBuf,
}

/// The FIX acceptor to start beside the hub, its configuration read (and
/// checked) before the engine starts.
struct FixPlan {
    listen: String,
    config: crate::fix::FixConfig,
    store: PathBuf,
}

fn fix_plan(args: &FixArgs) -> Result<Option<FixPlan>> {
    match (&args.fix_listen, &args.fix_config) {
        (Some(listen), Some(config)) => Ok(Some(FixPlan {
            listen: listen.clone(),
            config: crate::fix::FixConfig::load(config)?,
            store: args.fix_store.clone(),
        })),
        _ => Ok(None),
    }
}

/// Refuse plain WebSocket on an address other machines can reach.
pub fn check_transport(listen: &str, tls: bool, insecure_plaintext: bool) -> Result<()> {
    if tls || insecure_plaintext {
        return Ok(());
    }
    let addrs: Vec<_> = listen
        .to_socket_addrs()
        .with_context(|| format!("--listen {listen} is not an address"))?
        .collect();
    if let Some(open) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        bail!(
            "refusing to listen on {open} without TLS: tokens and commands would cross the network in plain text. \
             Give --tls-cert FILE --tls-key FILE to serve wss://, or --insecure-plaintext to accept the risk"
        );
    }
    Ok(())
}

/// The unfinished session in `dir` that starting `scenario`/`seed` there should
/// continue: the newest journal without a clean shutdown, if it is of the same
/// scenario (and seed, when one is given).
fn unfinished_session(dir: &Path, scenario: &str, seed: Option<u64>) -> Result<Option<PathBuf>> {
    let Some(path) = recovery::find_unclean(dir)? else {
        return Ok(None);
    };
    let header = match JournalReader::open(&path).and_then(|mut r| {
        r.next_entry()?;
        r.finish()
    }) {
        Ok((h, _)) => h,
        Err(e) => {
            eprintln!(
                "note: {} is unreadable ({e:#}); starting a new session",
                path.display()
            );
            return Ok(None);
        }
    };
    if header.scenario != scenario || seed.is_some_and(|s| s != header.seed) {
        eprintln!(
            "note: {} ({} seed {}) ended without a clean shutdown; it is another session, so a new one starts (vigil engine --recover {} continues it)",
            path.display(),
            header.scenario,
            header.seed,
            path.display()
        );
        return Ok(None);
    }
    Ok(Some(path))
}

pub fn check_speed(speed: f64) -> Result<()> {
    if !(speed.is_finite() && speed > 0.0) {
        bail!("--speed must be a positive number, got {speed}");
    }
    Ok(())
}

pub async fn run(args: EngineArgs) -> Result<()> {
    check_speed(args.speed)?;
    let fix = fix_plan(&args.fix)?;
    if args.nats.is_some() {
        super::bus::check_engine_id(&args.engine_id)?;
    }
    let bus = |market: String| {
        args.nats
            .as_ref()
            .map(|url| super::bus::BusOptions::new(url.clone(), args.engine_id.clone(), market))
    };
    let scenario = args
        .session
        .scenario
        .as_deref()
        .map(|s| Scenario::load_seeded(s, args.session.seed))
        .transpose()?;
    let mut bus_feed = None;
    let replay = match args.market.as_str() {
        "sim" => None,
        m => match (m.strip_prefix("replay:"), m.strip_prefix("nats:")) {
            (Some(path), _) if !path.is_empty() => Some(PathBuf::from(path)),
            (_, Some(symbol)) if !symbol.is_empty() => {
                let Some(url) = &args.nats else {
                    bail!("--market nats:{symbol} reads market data from a bus: give --nats URL");
                };
                super::feed_bus::check_symbol(symbol)?;
                bus_feed = Some((url.clone(), symbol.to_string()));
                None
            }
            _ => bail!("--market must be sim, replay:FILE or nats:SYMBOL, got {m}"),
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
    check_transport(
        &args.listen,
        args.tls_cert.is_some(),
        args.insecure_plaintext,
    )?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(crate::tls::acceptor(c, k)?),
        _ => None,
    };
    let seed = args.session.seed;
    let recover_from = match (&args.recover, &args.session.record) {
        (Some(p), _) => Some(recovery::resolve(p)?),
        (None, Some(dir)) if !args.fresh => {
            let name = match &scenario {
                Some(s) => s.name.clone(),
                None if replay.is_none() => Scenario::load("default")?.name,
                None => String::new(),
            };
            unfinished_session(dir, &name, seed)?
        }
        _ => None,
    };
    let options = |scenario: Scenario, tokens: Tokens, tls, capture| ServeOptions {
        listen: args.listen.clone(),
        scenario,
        seed,
        speed: args.speed,
        record: args.session.record.clone(),
        tokens,
        engine_id: args.engine_id.clone(),
        tls,
        journal_sync: args.journal_sync,
        capture,
    };
    if let Some(path) = recover_from {
        println!(
            "recovering {} (it ended without a clean shutdown)",
            path.display()
        );
        let started = std::time::Instant::now();
        let recovered = recovery::recover(&path, &Default::default())?;
        println!(
            "recovered {} orders and {} commands up to seq {} in {:.2} s{}",
            recovered.restart.orders,
            recovered.commands,
            recovered.restart.at_seq,
            started.elapsed().as_secs_f64(),
            recovered
                .torn
                .as_ref()
                .map(|t| format!(" (its torn last record was cut off: {t})"))
                .unwrap_or_default()
        );
        let scenario = recovered.scenario.clone();
        let market = scenario.name.clone();
        let running =
            serve::start_recovered(recovered, options(scenario, tokens, tls, None)).await?;
        return serve_until_stopped(running, fix, bus(market)).await;
    }
    if let Some((url, symbol)) = bus_feed {
        if recover_from.is_some() {
            bail!("an engine on a bus feed cannot be recovered from its journal (the feed is not kept with it): start it with --fresh");
        }
        let (header, source) =
            super::feed_bus::open(&url, &symbol, std::time::Duration::from_secs(10)).await?;
        println!(
            "trading on {} from the bus ({}, published from {}): {}",
            header.symbol, header.venue, header.source, header.profile.stats
        );
        let profile = header.profile.clone();
        let label = format!("nats:{symbol}");
        let seed_or_one = seed.unwrap_or(1);
        // The first event is read while the session is set up: off the
        // runtime's threads, the feed's reader runs on them.
        let setup = tokio::task::spawn_blocking(move || {
            super::capture_session::prepare_source(
                Box::new(source),
                profile,
                &label,
                scenario,
                seed_or_one,
            )
        })
        .await??;
        let (engine, scenario) = capture_engine(setup, &args.engine_id, seed)?;
        let running = serve::start_engine(engine, options(scenario, tokens, tls, None)).await?;
        return serve_until_stopped(running, fix, bus(format!("nats:{symbol}"))).await;
    }
    let market = match &replay {
        Some(path) => format!("replay:{}", path.display()),
        None => scenario
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "default".into()),
    };
    let running = match replay {
        None => {
            let scenario = match scenario {
                Some(s) => s,
                None => Scenario::load("default")?,
            };
            serve::start(options(scenario, tokens, tls, None)).await?
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
            let (engine, scenario) = capture_engine(setup, &args.engine_id, seed)?;
            let capture = std::path::absolute(&path).ok();
            serve::start_engine(engine, options(scenario, tokens, tls, capture)).await?
        }
    };
    serve_until_stopped(running, fix, bus(market)).await
}

/// The engine of a captured market (from a file or the bus), and its scenario.
fn capture_engine(
    setup: super::capture_session::CaptureSetup,
    engine_id: &str,
    seed: Option<u64>,
) -> Result<(super::Engine, Scenario)> {
    let scenario = setup.scenario.clone();
    let engine = setup.engine(&super::EngineOptions {
        engine_id: engine_id.to_string(),
        seed,
        ..Default::default()
    })?;
    Ok((engine, scenario))
}

/// Serve until the hub fails or Ctrl-C; on Ctrl-C the engine finishes its
/// journal (the clean-shutdown mark) before the process exits.
async fn serve_until_stopped(
    running: RunningEngine,
    fix: Option<FixPlan>,
    bus: Option<super::bus::BusOptions>,
) -> Result<()> {
    println!("vigil engine listening on {}", running.url());
    if let Some(j) = &running.journal {
        println!("recording to {}", j.display());
    }
    let gateway = match fix {
        Some(plan) => {
            let g = super::fix_gateway::start(
                &plan.listen,
                plan.config,
                &plan.store,
                running.handle.clone(),
            )
            .await?;
            println!(
                "FIX 4.4 acceptor on {} ({} sessions, store {})",
                g.addr,
                g.gateway.session_count(),
                plan.store.display()
            );
            Some(g)
        }
        None => None,
    };
    let bus = match bus {
        Some(opts) => {
            let url = opts.url.clone();
            let b = super::bus::start(opts, running.handle.clone(), running.access.clone()).await?;
            println!("on the bus at {url} as {}", running.handle.shared.engine_id);
            Some(b)
        }
        None => None,
    };
    let RunningEngine {
        handle,
        thread,
        hub,
        ..
    } = running;
    let served: Result<()> = tokio::select! {
        r = hub => r.map_err(anyhow::Error::from).and_then(|r| r),
        _ = tokio::signal::ctrl_c() => {
            println!("shutting down");
            Ok(())
        }
    };
    if let Some(g) = &gateway {
        // OMSs hear the engine is going (and answer) before it goes.
        g.gateway.logout_all("the engine is shutting down");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    handle.shutdown();
    match tokio::task::spawn_blocking(move || thread.join()).await? {
        Ok(r) => r.context("the engine stopped with an error")?,
        Err(_) => bail!("the engine thread panicked"),
    }
    if let Some(b) = &bus {
        // The engine's last events reach the server before the process goes.
        let last = *handle.shared.published.borrow();
        if !b.drain(last, std::time::Duration::from_secs(3)).await {
            eprintln!(
                "the bus did not acknowledge the last events by shutdown (the journal has them)"
            );
        }
        b.stop();
    }
    served
}
