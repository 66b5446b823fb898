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
    /// WebSocket URL of the engine.
    #[arg(default_value = "ws://127.0.0.1:7878")]
    pub url: String,
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
    run_console(opts).await
}
