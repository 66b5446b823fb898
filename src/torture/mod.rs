//! `vigil torture`: the fault suite. Each row breaks something on purpose and
//! prints the figure that says how vigil took it; the last line sums up. The
//! short form (`--short`, run in CI) does every row with fewer repetitions.
//!
//! - `abuse`: abusive clients hammer the engine while a trader works;
//! - `reconnect`: a proxy cuts the console's connection over and over;
//! - `kill9`: the engine process is killed mid-day and recovered, repeatedly;
//! - `stalled`: a client that stops reading;
//! - `bad_files`: every file vigil reads, broken every way;
//! - `fuzz`: the decoders, fed generated input;
//! - `soak`: memory of a console and an engine over long runs.

mod abuse;
mod bad_files;
mod fuzz;
mod kill9;
mod net;
mod reconnect;
mod soak;
mod stalled;

use std::time::Instant;

use anyhow::{bail, Result};

#[derive(clap::Args)]
pub struct TortureArgs {
    /// The CI form: every row, fewer repetitions (about a minute or two).
    #[arg(long)]
    pub short: bool,
    /// Run only these rows (comma-separated: abuse, reconnect, kill9, stalled,
    /// bad_files, fuzz, soak).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// One row of the table.
pub struct Row {
    pub name: &'static str,
    /// The measured figure, as the README table shows it.
    pub figure: String,
    pub pass: bool,
    /// What was done, and the pass criterion.
    pub detail: String,
}

/// Sizes of a run: the full suite or its short form.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub short: bool,
}

impl Scale {
    /// Whether this binary is an unoptimised (debug) build, where CI runs the
    /// short form: CPU-bound rows then take a tenth of their work.
    pub fn debug_build(self) -> bool {
        cfg!(debug_assertions)
    }

    pub fn pick<T>(self, full: T, short: T) -> T {
        if self.short {
            short
        } else {
            full
        }
    }
}

/// Resident memory of this process, bytes (Linux).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A scratch directory removed when dropped.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let p = std::env::temp_dir().join(format!(
            "vigil-torture-{what}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p)?;
        Ok(Scratch(p))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

const ROWS: [&str; 7] = [
    "abuse",
    "reconnect",
    "kill9",
    "stalled",
    "bad_files",
    "fuzz",
    "soak",
];

pub async fn run(args: TortureArgs) -> Result<()> {
    for o in &args.only {
        if !ROWS.contains(&o.as_str()) {
            bail!("--only: unknown row {o:?} (rows: {})", ROWS.join(", "));
        }
    }
    let scale = Scale { short: args.short };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let started = Instant::now();
    println!(
        "vigil torture{} — {} cores",
        if args.short { " --short" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("{:<10} {:<6} {:<58} detail", "row", "result", "figure");
    let mut rows = Vec::new();
    for name in ROWS {
        if !wanted(name) {
            continue;
        }
        let t = Instant::now();
        let row = match name {
            "abuse" => abuse::run(scale).await,
            "reconnect" => reconnect::run(scale).await,
            "kill9" => kill9::run(scale).await,
            "stalled" => stalled::run(scale).await,
            "bad_files" => tokio::task::spawn_blocking(move || bad_files::run(scale)).await?,
            "fuzz" => tokio::task::spawn_blocking(move || fuzz::run(scale)).await?,
            "soak" => tokio::task::spawn_blocking(move || soak::run(scale)).await?,
            _ => unreachable!(),
        };
        let row = row.unwrap_or_else(|e| Row {
            name,
            figure: "could not run".into(),
            pass: false,
            detail: format!("{e:#}"),
        });
        println!(
            "{:<10} {:<6} {:<58} {} ({:.1} s)",
            row.name,
            if row.pass { "PASS" } else { "FAIL" },
            row.figure,
            row.detail,
            t.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    let passed = rows.iter().filter(|r| r.pass).count();
    println!(
        "torture: {passed}/{} rows passed in {:.0} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    if passed != rows.len() {
        bail!("{} torture rows failed", rows.len() - passed);
    }
    Ok(())
}
