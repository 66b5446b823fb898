//! `vigil demo`: an embedded engine on a loopback port with the console
//! attached through the same WebSocket path as any client — the newcomer's
//! first command. It joins the engine and the console, which never import
//! each other, so it lives above both.

use anyhow::Result;

use crate::console::cli::{console_options, LookArgs};
use crate::console::run_console;
use crate::engine::cli::{check_speed, MarketArgs};
use crate::engine::hub::Tokens;
use crate::engine::serve::{self, ServeOptions};
use crate::engine::Scenario;
use crate::protocol::Role;

#[derive(clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub market: MarketArgs,
    /// Simulated seconds per wall second (100: a trading day in about four minutes).
    #[arg(long, default_value_t = 100.0)]
    pub speed: f64,
    #[command(flatten)]
    pub look: LookArgs,
    #[command(flatten)]
    pub shadow: crate::console::shadow::ShadowArgs,
}

pub async fn run(args: DemoArgs) -> Result<()> {
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
        tls: None,
        journal_sync: Default::default(),
        capture: None,
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
