//! `vigil scenario …`: the built-in scenarios and families, and the day a
//! family draws for a seed.

use anyhow::Result;
use clap::Subcommand;

use super::scenario::{ScenarioFile, BUILTIN};

#[derive(Subcommand)]
pub enum ScenarioCommand {
    /// The built-in scenarios and families, one line each.
    List,
    /// The concrete scenario (TOML) a name or file gives for a seed: a family
    /// draws its day from the seed.
    Show {
        /// Built-in name or TOML file.
        name: String,
        /// Seed (default: the file's own).
        #[arg(long)]
        seed: Option<u64>,
    },
}

pub fn run(cmd: ScenarioCommand) -> Result<()> {
    match cmd {
        ScenarioCommand::List => {
            for (name, _) in BUILTIN {
                let f = ScenarioFile::load(name)?;
                let kind = if f.is_family() { "family" } else { "fixed " };
                println!("{name:<16} {kind}  {}", f.description);
            }
        }
        ScenarioCommand::Show { name, seed } => {
            let s = ScenarioFile::load(&name)?.realise(seed)?;
            print!("{}", toml::to_string(&s)?);
        }
    }
    Ok(())
}
