//! `vigil console`: the terminal console attached to a running engine.

use std::path::PathBuf;

use anyhow::Result;

use super::{run_console, ConsoleOptions};

#[derive(clap::Args)]
pub struct LookArgs {
    /// Colour theme: dark, light, high-contrast, colorblind, or NAME.toml in the themes directory.
    #[arg(long, default_value = "dark")]
    pub theme: String,
    /// Keymap file (TOML) rebinding the default keys.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Directory holding NAME.toml themes (default ./themes if present).
    #[arg(long)]
    pub themes_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ConsoleArgs {
    /// WebSocket URL of the engine (ws:// or wss://), or a NATS bus
    /// (nats://HOST:PORT) to supervise the engines on it.
    #[arg(default_value = "ws://127.0.0.1:7878")]
    pub url: String,
    /// On a bus: the engine to follow, or `all` (every engine on the bus).
    #[arg(long, default_value = "all")]
    pub engine: String,
    /// On a bus: where the console keeps its place across its own restarts
    /// (default: $XDG_STATE_HOME/vigil/console-<bus>.json); `none` keeps nothing.
    #[arg(long)]
    pub resume_file: Option<std::path::PathBuf>,
    /// Access token (trader or viewer).
    #[arg(long, env = "VIGIL_TOKEN", default_value = "")]
    pub token: String,
    /// Trusted certificate authorities (PEM) for a wss:// engine (default: the system's).
    #[arg(long)]
    pub ca: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub look: LookArgs,
    #[command(flatten)]
    pub shadow: super::shadow::ShadowArgs,
}

pub fn console_options(url: String, token: String, look: LookArgs) -> ConsoleOptions {
    let mut opts = ConsoleOptions::new(url, token);
    opts.theme = look.theme;
    opts.keys = look.keys;
    if look.themes_dir.is_some() {
        opts.themes_dir = look.themes_dir;
    }
    opts
}

pub async fn run(args: ConsoleArgs) -> Result<()> {
    let mut opts = console_options(args.url, args.token, args.look);
    (opts.shadow, opts.divergence) = args.shadow.resolve()?;
    opts.ca = args.ca;
    if opts.url.starts_with("nats://") {
        let resume_file = match args.resume_file {
            Some(p) if p.as_os_str() == "none" => None,
            Some(p) => Some(p),
            None => super::fleet::saved::default_path(&opts.url),
        };
        opts.bus = Some(super::run::BusOptions {
            engines: super::fleet::Engines::parse(&args.engine)?,
            resume_file,
        });
    } else if args.engine != "all" || args.resume_file.is_some() {
        anyhow::bail!("--engine and --resume-file are for a console on a bus (nats://HOST:PORT)");
    }
    run_console(opts).await
}
