//! Command-line arguments of `vigil replay`, kept here so `main.rs` stays thin.

use std::path::PathBuf;

use anyhow::Result;

use super::run::{run_replay, ReplayOptions};
use super::shadow::Shadow;

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The journal to replay (a `.vigil` file written by `--record`), or a NATS
    /// server (`nats://HOST:PORT`) whose JetStream stream holds the session of `--engine`.
    pub file: PathBuf,
    /// With a nats:// source: the engine whose session to replay.
    #[arg(long)]
    pub engine: Option<String>,
    /// Shadow model (ONNX) re-scoring every recorded decision: "what would this model have said?"
    /// (default: models/shadow.onnx when present).
    #[arg(long)]
    pub shadow: Option<PathBuf>,
    /// Start playing at once.
    #[arg(long)]
    pub play: bool,
    /// Start at this time of day (HH:MM:SS).
    #[arg(long, alias = "from")]
    pub at: Option<String>,
    /// Colour theme: dark, light, high-contrast, colorblind, or NAME.toml in the themes directory.
    #[arg(long, default_value = "dark")]
    pub theme: String,
    /// Keymap file (TOML): [keys] for the console, [replay] for the transport keys.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Directory holding NAME.toml themes (default ./themes if present).
    #[arg(long)]
    pub themes_dir: Option<PathBuf>,
}

/// The shadow to run: `--shadow FILE`, else the default model when present.
/// Returns the model, or a note saying why there is none.
/// A shadow model, or a note saying why there is none.
pub type ShadowChoice = (Option<Box<dyn Shadow>>, Option<String>);

pub fn load_shadow(path: Option<&PathBuf>) -> Result<ShadowChoice> {
    use super::onnx_shadow::{OnnxShadow, DEFAULT_SHADOW};
    match path {
        // Asked for by name: failing to load it is an error.
        Some(p) => Ok((Some(Box::new(OnnxShadow::load(p)?)), None)),
        None => {
            let p = std::path::Path::new(DEFAULT_SHADOW);
            if !p.exists() {
                return Ok((
                    None,
                    Some(format!("no shadow model ({DEFAULT_SHADOW} not found)")),
                ));
            }
            match OnnxShadow::load(p) {
                Ok(s) => Ok((Some(Box::new(s)), None)),
                Err(e) => Ok((None, Some(format!("shadow model not loaded: {e:#}")))),
            }
        }
    }
}

pub fn replay(args: ReplayArgs) -> Result<()> {
    let (shadow, note) = load_shadow(args.shadow.as_ref())?;
    let source = args.file.to_string_lossy().into_owned();
    // A session on the bus is read into a journal first, then replayed as one.
    let _fetched;
    let file = if source.starts_with("nats://") {
        let Some(engine) = &args.engine else {
            anyhow::bail!(
                "replaying from {source} needs --engine NAME (the engine whose stream to read)"
            );
        };
        let dir =
            std::env::temp_dir().join(format!("vigil-replay-{engine}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let path = rt.block_on(super::from_bus::fetch(&source, engine, &dir))?;
        _fetched = TempDir(dir);
        path
    } else {
        if args.engine.is_some() {
            anyhow::bail!("--engine is for a nats:// source; {source} is a journal file");
        }
        args.file
    };
    let mut opts = ReplayOptions::new(file);
    opts.theme = args.theme;
    opts.keys = args.keys;
    if args.themes_dir.is_some() {
        opts.themes_dir = args.themes_dir;
    }
    opts.play = args.play;
    opts.start_at = args.at;
    run_replay(opts, shadow, note)
}

/// A directory removed when the replay ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(clap::Args)]
pub struct RecordArgs {
    /// Built-in scenario name or a TOML file.
    #[arg(long, default_value = "default")]
    pub scenario: String,
    /// Seed of the simulator (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Commands to apply at fixed simulated times (TOML: [[command]] at, user, command).
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Cut the session to start at this time of day (HH:MM:SS) …
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// … and end at this one.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// The journal to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// `vigil record`: a scripted session, as fast as possible, into a journal.
/// Same scenario, seed and script give the same file, byte for byte.
pub fn record(args: RecordArgs) -> Result<()> {
    let mut scenario = crate::engine::Scenario::load_seeded(&args.scenario, args.seed)?;
    if let (Some(from), Some(to)) = (&args.from, &args.to) {
        scenario = super::record::window(&scenario, from, to)?;
    }
    let script = match &args.script {
        Some(p) => super::record::Script::load(p)?,
        None => super::record::Script::default(),
    };
    let s = super::record::record(&scenario, args.seed, &script, &args.out)?;
    println!(
        "{}: {} events, {} keyframes",
        args.out.display(),
        s.events,
        s.keyframes
    );
    for (id, ok, reason) in &s.outcomes {
        match reason {
            Some(r) if !ok => println!("  command {id}: refused: {r}"),
            _ => println!("  command {id}: applied"),
        }
    }
    Ok(())
}
