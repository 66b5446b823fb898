//! Where a console over the bus is, kept across its own restarts: per engine
//! the run, the last seq applied and the view at that seq. A console that
//! starts again loads the view and reads the stream from the next event, so
//! it misses nothing that happened while it was away (and shows the alerts
//! and fills of that time); a file it cannot read is ignored with a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::protocol::SessionView;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedLane {
    pub instance: String,
    pub seq: u64,
    pub view: SessionView,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SavedState {
    /// The bus it was on: a file of another bus is not used.
    pub url: String,
    pub lanes: BTreeMap<String, SavedLane>,
}

impl SavedState {
    pub fn load(path: &Path, url: &str) -> SavedState {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return SavedState::default(),
            Err(e) => {
                tracing::warn!(
                    "console: {} not read ({e}); starting from keyframes",
                    path.display()
                );
                return SavedState::default();
            }
        };
        match serde_json::from_str::<SavedState>(&text) {
            Ok(s) if s.url == url => s,
            Ok(_) => SavedState::default(),
            Err(e) => {
                tracing::warn!(
                    "console: {} is not a saved console state ({e}); starting from keyframes",
                    path.display()
                );
                SavedState::default()
            }
        }
    }

    /// Written whole beside the file, then renamed over it: a crash leaves
    /// the old state or the new, never half of one.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// The default place: `$XDG_STATE_HOME/vigil/` (or `~/.local/state/vigil/`),
/// one file per bus address.
pub fn default_path(url: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    let name: String = url
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(base.join("vigil").join(format!("console-{name}.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_comes_back_and_a_broken_or_foreign_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s/console.json");
        let mut view = SessionView::new();
        view.seq = 41;
        let mut state = SavedState {
            url: "nats://a".into(),
            ..Default::default()
        };
        state.lanes.insert(
            "eu-1".into(),
            SavedLane {
                instance: "r1".into(),
                seq: 41,
                view,
            },
        );
        state.save(&path).unwrap();
        let back = SavedState::load(&path, "nats://a");
        assert_eq!(back.lanes["eu-1"].view.seq, 41);
        assert!(SavedState::load(&path, "nats://b").lanes.is_empty());
        std::fs::write(&path, "{not json").unwrap();
        assert!(SavedState::load(&path, "nats://a").lanes.is_empty());
    }
}
