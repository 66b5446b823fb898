//! Command-line arguments of `vigil report`.

use std::path::PathBuf;

use anyhow::Result;

use super::tca::FeeSchedule;
use super::{report, Format, ReportOptions};

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The journal to analyse (a `.vigil` file).
    pub file: PathBuf,
    /// Directory for the report and its charts (default: report-<file stem>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Shadow model (ONNX) to measure agreement and divergence episodes against.
    #[arg(long)]
    pub shadow: Option<PathBuf>,
    /// Skip the counterfactual re-simulations.
    #[arg(long)]
    pub no_counterfactual: bool,
    /// Classic strategy of the counterfactual (vwap, twap, pov, almgren_chriss).
    #[arg(long, default_value = "vwap")]
    pub classic: String,
}

pub fn run(args: ReportArgs) -> Result<()> {
    let out = args.out.unwrap_or_else(|| {
        let stem = args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "session".into());
        PathBuf::from(format!("report-{stem}"))
    });
    let (mut shadow, note) = crate::replay::cli::load_shadow(args.shadow.as_ref())?;
    let opts = ReportOptions {
        out,
        format: args.format,
        fees: FeeSchedule::default(),
        counterfactual: !args.no_counterfactual,
        classic: args.classic,
    };
    let done = report(&args.file, &opts, shadow.as_deref_mut())?;
    println!("{}", done.document.display());
    for c in &done.charts {
        println!("{}", c.display());
    }
    for n in done.notes.iter().chain(note.iter()) {
        eprintln!("note: {n}");
    }
    Ok(())
}
