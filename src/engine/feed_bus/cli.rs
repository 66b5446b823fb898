//! `vigil feed …`: feed handlers as processes of their own.

use std::path::PathBuf;

use anyhow::{bail, Result};

#[derive(clap::Subcommand)]
pub enum FeedCommand {
    /// Normalise a recorded capture and publish it on a NATS bus
    /// (vigil.md.<SYMBOL>.…), for engines run with --market nats:SYMBOL.
    Publish(PublishArgs),
}

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The market to publish: replay:FILE (a recorded exchange capture).
    #[arg(long)]
    pub market: String,
    /// The NATS server (with JetStream), e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    pub nats: String,
    /// Capture seconds per wall second (default: as fast as the server stores them).
    #[arg(long)]
    pub speed: Option<f64>,
}

pub async fn run(cmd: FeedCommand) -> Result<()> {
    match cmd {
        FeedCommand::Publish(args) => {
            let Some(path) = args
                .market
                .strip_prefix("replay:")
                .filter(|p| !p.is_empty())
            else {
                bail!("--market must be replay:FILE, got {}", args.market);
            };
            if let Some(s) = args.speed {
                if !(s.is_finite() && s > 0.0) {
                    bail!("--speed must be a positive number, got {s}");
                }
            }
            let done = super::publish(super::PublishOptions {
                url: args.nats.clone(),
                capture: PathBuf::from(path),
                speed: args.speed,
            })
            .await?;
            println!(
                "published {} events of {} on {} in {:.2} s (run {}): engines read it with --market nats:{} --nats {}",
                done.events,
                done.symbol,
                args.nats,
                done.elapsed.as_secs_f64(),
                done.run,
                done.symbol,
                args.nats
            );
            Ok(())
        }
    }
}
