use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Supervise machine-learning execution algorithms"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The terminal console, attached to a running engine.
    Console {
        /// WebSocket URL of the engine.
        #[arg(default_value = "ws://127.0.0.1:7878")]
        url: String,
        /// Access token (trader or viewer).
        #[arg(long, env = "VIGIL_TOKEN", default_value = "")]
        token: String,
        /// Colour theme: dark, light, high-contrast, colorblind, or a file in ./themes.
        #[arg(long, default_value = "dark")]
        theme: String,
        /// Keymap file (TOML) rebinding the default keys.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Directory holding NAME.toml themes (default ./themes if present).
        #[arg(long)]
        themes_dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Console {
            url,
            token,
            theme,
            keys,
            themes_dir,
        } => {
            let mut opts = vigil::console::ConsoleOptions::new(url, token);
            opts.theme = theme;
            opts.keys = keys;
            if themes_dir.is_some() {
                opts.themes_dir = themes_dir;
            }
            vigil::console::run_console(opts).await
        }
    }
}
