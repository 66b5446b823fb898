//! Replay's transport keys, rebindable from the same keymap file as the
//! console, in a `[replay]` table:
//!
//! ```toml
//! [keys]
//! quit = ["q"]
//! [replay]
//! play_pause = ["space", "P"]
//! seek_back = ["Left", "h"]
//! ```
//! Replay keys are looked up before the console's; keys they do not take
//! (selection, detail, filter, help, themes, quit…) work as in the console.

use std::path::Path;

use anyhow::{anyhow, Result};

use crate::console::keymap::Keymap;

crate::bindable_actions! {
    /// Replay's transport keys.
    pub enum ReplayAction, what = "replay action", unbound_shift_is_plain = false;
    PlayPause => "play_pause", ["space"], "play / pause";
    Faster => "faster", ["+", "="], "faster (¼× … 64×, max)";
    Slower => "slower", ["-"], "slower";
    SeekBack => "seek_back", ["Left"], "back 10 s";
    SeekForward => "seek_forward", ["Right"], "forward 10 s";
    SeekBackLong => "seek_back_long", ["shift-Left"], "back 1 min";
    SeekForwardLong => "seek_forward_long", ["shift-Right"], "forward 1 min";
    PrevDecision => "prev_decision", ["["], "previous decision of the selected order";
    NextDecision => "next_decision", ["]"], "next decision of the selected order";
    NextMarker => "next_marker", ["n"], "next intervention, alert or divergence";
    PrevMarker => "prev_marker", ["N"], "previous intervention, alert or divergence";
    Start => "start", ["g"], "start of the recording";
    End => "end", ["G"], "end of the recording";
}

/// Replay's keys: the console's keymap type over replay's actions.
pub type ReplayKeymap = Keymap<ReplayAction>;

/// Both keymaps from one file's text: `[replay]` for replay, the rest for the console.
pub fn keymaps_from_toml(text: &str, file: &str) -> Result<(Keymap, ReplayKeymap)> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("keymap file {file}: {}", e.message()))?;
    let mut replay = ReplayKeymap::default();
    if let Some(r) = table.remove("replay") {
        let r = r
            .as_table()
            .ok_or_else(|| anyhow!("keymap file {file}: `replay` must be a table"))?;
        replay.apply_table(r, "replay", file)?;
    }
    let rest = toml::to_string(&table)?;
    Ok((Keymap::from_toml(&rest, file)?, replay))
}

pub fn load_keymaps(path: Option<&Path>) -> Result<(Keymap, ReplayKeymap)> {
    match path {
        None => Ok((Keymap::default(), ReplayKeymap::default())),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow!("cannot read keymap file {}: {e}", p.display()))?;
            keymaps_from_toml(&text, &p.display().to_string())
        }
    }
}
