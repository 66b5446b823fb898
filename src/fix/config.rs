//! The FIX acceptor's configuration (`--fix-config FILE`, TOML):
//!
//! ```toml
//! [[sessions]]
//! sender_comp_id = "OMS1"      # the OMS's CompID (its SenderCompID, 49)
//! target_comp_id = "VIGIL"     # ours (the TargetCompID, 56, it sends to)
//! user = "oms-desk"            # who the journal says sent its commands
//! role = "trader"              # trader | viewer: the console's permission guard
//! # store_sync = false         # fsync the session store on every message
//! # default_duration_s = 1800  # horizon of an order that names none in 848
//! ```

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixRole {
    Trader,
    Viewer,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub sender_comp_id: String,
    pub target_comp_id: String,
    pub user: String,
    pub role: FixRole,
    #[serde(default)]
    pub store_sync: bool,
    #[serde(default = "default_duration")]
    pub default_duration_s: f64,
}

fn default_duration() -> f64 {
    1800.0
}

impl SessionConfig {
    /// `OMS1→VIGIL`: how the console and the journal name the session.
    pub fn name(&self) -> String {
        format!("{}→{}", self.sender_comp_id, self.target_comp_id)
    }

    /// The session store's file name.
    pub fn store_name(&self) -> String {
        format!("{}-{}", self.sender_comp_id, self.target_comp_id)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixConfig {
    pub sessions: Vec<SessionConfig>,
}

fn comp_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

impl FixConfig {
    pub fn parse(text: &str, origin: &str) -> Result<FixConfig> {
        let cfg: FixConfig =
            toml::from_str(text).with_context(|| format!("{origin}: not a FIX configuration"))?;
        if cfg.sessions.is_empty() {
            bail!("{origin}: no [[sessions]]: an acceptor with no session accepts nobody");
        }
        let mut seen = std::collections::HashSet::new();
        for s in &cfg.sessions {
            for (what, id) in [
                ("sender_comp_id", &s.sender_comp_id),
                ("target_comp_id", &s.target_comp_id),
            ] {
                if !comp_id_ok(id) {
                    bail!("{origin}: {what} {id:?} must be 1-64 letters, digits, '_', '-' or '.'");
                }
            }
            if s.user.trim().is_empty() {
                bail!("{origin}: session {} has an empty user", s.name());
            }
            if !s.default_duration_s.is_finite() || s.default_duration_s < 1.0 {
                bail!(
                    "{origin}: session {}: default_duration_s must be at least 1",
                    s.name()
                );
            }
            if !seen.insert((s.sender_comp_id.clone(), s.target_comp_id.clone())) {
                bail!("{origin}: session {} is configured twice", s.name());
            }
        }
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<FixConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the FIX configuration {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The session an OMS logging on as `sender` to `target` belongs to.
    pub fn find(&self, sender: &str, target: &str) -> Option<&SessionConfig> {
        self.sessions
            .iter()
            .find(|s| s.sender_comp_id == sender && s.target_comp_id == target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked() {
        let ok = "[[sessions]]\nsender_comp_id='OMS1'\ntarget_comp_id='VIGIL'\nuser='desk'\nrole='trader'\n";
        let c = FixConfig::parse(ok, "t").unwrap();
        assert_eq!(c.find("OMS1", "VIGIL").unwrap().name(), "OMS1→VIGIL");
        assert!(c.find("VIGIL", "OMS1").is_none());
        for (bad, says) in [
            ("sessions = []", "no [[sessions]]"),
            (
                &ok.replace("trader", "admin") as &str,
                "not a FIX configuration",
            ),
            (&ok.replace("'OMS1'", "'OMS 1'"), "sender_comp_id"),
            (&format!("{ok}{ok}"), "configured twice"),
            (&ok.replace("user='desk'", "user=' '"), "empty user"),
        ] {
            let e = format!("{:#}", FixConfig::parse(bad, "t").unwrap_err());
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
