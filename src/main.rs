//! The `vigil` command line. Thin: the top-level commands, each handed to
//! the module that owns it (its arguments and runner live there).

use anyhow::Result;
use clap::{Parser, Subcommand};

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
    Demo(vigil::demo::DemoArgs),
    /// The terminal console, attached to a running engine.
    Console(vigil::console::cli::ConsoleArgs),
    /// Run the execution engine on the market simulator and serve clients over WebSocket.
    Engine(vigil::engine::cli::EngineArgs),
    /// Feed handlers on a NATS bus: publish a recorded capture's market data.
    #[command(subcommand)]
    Feed(vigil::engine::feed_bus::cli::FeedCommand),
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
    /// The fault suite: abusive clients, reconnect storms, kill -9, stalled clients, bad files, fuzzing, soak.
    Torture(vigil::torture::TortureArgs),
}

fn main() -> std::process::ExitCode {
    // Errors are for people: the message chain, no backtrace.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error as one line: parsers (TOML, for one) draw the offending source
/// under their message; the line and column they name are kept, the drawing
/// is not.
fn one_line(message: &str) -> String {
    let is_drawing = |l: &str| {
        let t = l.trim_start();
        let t = t
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
        t.is_empty() || t.starts_with('|')
    };
    message
        .lines()
        .filter(|l| !is_drawing(l))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(": ")
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    // The console owns the terminal: only headless commands log to stderr.
    if matches!(
        cli.command,
        Commands::Engine(_) | Commands::Bench | Commands::Feed(_)
    ) {
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
        Commands::Demo(args) => rt.block_on(vigil::demo::run(args)),
        Commands::Console(args) => rt.block_on(vigil::console::cli::run(args)),
        Commands::Engine(args) => rt.block_on(vigil::engine::cli::run(args)),
        Commands::Bench => rt.block_on(vigil::bench::run_all()),
        Commands::Feed(cmd) => rt.block_on(vigil::engine::feed_bus::cli::run(cmd)),
        Commands::Replay(args) => vigil::replay::cli::replay(args),
        Commands::Record(args) => vigil::replay::cli::record(args),
        Commands::Report(args) => vigil::report::cli::run(args),
        Commands::Model(cmd) => vigil::model::cli::run(cmd),
        Commands::Dataset(args) => vigil::learn::cli::dataset(args),
        Commands::Eval(args) => vigil::learn::cli::eval(args),
        Commands::Scenario(cmd) => vigil::engine::scenario_cli::run(cmd),
        Commands::Calibrate(cmd) => vigil::learn::cli::calibrate(cmd),
        Commands::Torture(args) => rt.block_on(vigil::torture::run(args)),
    }
}
