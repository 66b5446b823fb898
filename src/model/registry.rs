//! The model registry, `models/registry.toml`: every model file the desk
//! knows, its hash, contract version, card and deployment status (`shadow`
//! → `canary` → `live` → `retired`), the held-out figures that justified the
//! status, and the history of its promotions. The engine asks it which
//! models serve orders; `vigil model promote` changes it only through the
//! gates (`learn::gates`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::protocol::ModelStatus;

/// Where the registry lives in a checkout (see `default_model_path`).
pub const REGISTRY_FILE: &str = "registry.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    #[serde(default)]
    pub deployment: DeploymentPolicy,
    #[serde(default)]
    pub models: Vec<ModelEntry>,
}

/// How new models are phased in and watched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentPolicy {
    /// A canary serves at most this share of the adaptive orders…
    pub canary_max_order_share: f64,
    /// …and at most this share of their notional.
    pub canary_max_notional_share: f64,
    /// A model whose orders cost this much more than the baseline schedule
    /// (bps of what the baseline traded) is switched to the baseline.
    pub guard_threshold_bps: f64,
    /// The guard judges once the baseline would have traded this share of the
    /// model's orders (before that, costs are noise).
    pub guard_min_traded_share: f64,
}

impl Default for DeploymentPolicy {
    fn default() -> Self {
        DeploymentPolicy {
            canary_max_order_share: 0.25,
            canary_max_notional_share: 0.25,
            guard_threshold_bps: 25.0,
            guard_min_traded_share: 0.2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Serves the engine's adaptive orders.
    Policy,
    /// Scores decisions in the console beside the engine.
    Shadow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    pub kind: ModelKind,
    /// Relative to the registry's directory.
    pub file: String,
    /// Full SHA-256 of the file, hex.
    pub sha256: String,
    pub contract_version: u32,
    /// Model card, relative to the registry's directory.
    #[serde(default)]
    pub card: String,
    pub status: ModelStatus,
    /// Held-out figures behind the status, e.g. `regime_family.paired_bps = -12.3`.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub history: Vec<StatusChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// Wall-clock time (UTC, RFC 3339) of the change.
    pub at: String,
    pub from: ModelStatus,
    pub to: ModelStatus,
    pub by: String,
    pub reason: String,
}

/// SHA-256 of a file, hex.
pub fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The current UTC time as RFC 3339, from the system clock.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

impl Registry {
    pub fn load(path: &Path) -> Result<Registry> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the model registry {}", path.display()))?;
        let r: Registry = toml::from_str(&text)
            .with_context(|| format!("the model registry {} is not valid", path.display()))?;
        r.validate()
            .with_context(|| format!("the model registry {}", path.display()))?;
        Ok(r)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate()?;
        let text = format!(
            "# The model registry: which models exist, their deployment status and why.\n\
             # Changed by `vigil model register|promote|retire`; read by the engine.\n\n{}",
            toml::to_string(self)?
        );
        // Write beside, then rename: a crash never leaves half a registry.
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        let d = &self.deployment;
        for (name, v) in [
            ("canary_max_order_share", d.canary_max_order_share),
            ("canary_max_notional_share", d.canary_max_notional_share),
            ("guard_min_traded_share", d.guard_min_traded_share),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                bail!("deployment.{name} must be within 0..1, got {v}");
            }
        }
        if !(d.guard_threshold_bps.is_finite() && d.guard_threshold_bps > 0.0) {
            bail!(
                "deployment.guard_threshold_bps must be positive, got {}",
                d.guard_threshold_bps
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for m in &self.models {
            if !names.insert(&m.name) {
                bail!("model {} is listed twice", m.name);
            }
            if m.sha256.len() != 64 || !m.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                bail!("model {}: sha256 must be 64 hex digits", m.name);
            }
        }
        for kind in [ModelKind::Policy, ModelKind::Shadow] {
            let live = self
                .models
                .iter()
                .filter(|m| m.kind == kind && m.status == ModelStatus::Live)
                .count();
            if live > 1 {
                bail!("{live} live {kind:?} models: at most one may be live");
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut ModelEntry> {
        self.models.iter_mut().find(|m| m.name == name)
    }

    /// The champion of a kind: its live model.
    pub fn live(&self, kind: ModelKind) -> Option<&ModelEntry> {
        self.models
            .iter()
            .find(|m| m.kind == kind && m.status == ModelStatus::Live)
    }

    pub fn canaries(&self, kind: ModelKind) -> impl Iterator<Item = &ModelEntry> {
        self.models
            .iter()
            .filter(move |m| m.kind == kind && m.status == ModelStatus::Canary)
    }

    /// Change a model's status and record why.
    pub fn set_status(
        &mut self,
        name: &str,
        to: ModelStatus,
        by: &str,
        reason: &str,
    ) -> Result<()> {
        let m = self
            .get_mut(name)
            .with_context(|| format!("no model {name} in the registry"))?;
        let from = m.status;
        m.status = to;
        m.history.push(StatusChange {
            at: now_rfc3339(),
            from,
            to,
            by: by.to_string(),
            reason: reason.to_string(),
        });
        Ok(())
    }
}

impl ModelEntry {
    pub fn path(&self, registry_dir: &Path) -> PathBuf {
        registry_dir.join(&self.file)
    }

    /// The file must be the one that was registered.
    pub fn verify(&self, registry_dir: &Path) -> Result<PathBuf> {
        let path = self.path(registry_dir);
        let have = file_sha256(&path)?;
        if have != self.sha256 {
            bail!(
                "model {}: {} has sha256 {}…, the registry says {}… (the file changed without `vigil model register`)",
                self.name,
                path.display(),
                &have[..12],
                &self.sha256[..12.min(self.sha256.len())]
            );
        }
        Ok(path)
    }

    /// `name@hash`, as decisions carry it.
    pub fn id(&self) -> String {
        format!(
            "{}@{}",
            self.name,
            &self.sha256[..12.min(self.sha256.len())]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, status: ModelStatus) -> ModelEntry {
        ModelEntry {
            name: name.into(),
            kind: ModelKind::Policy,
            file: format!("{name}.onnx"),
            sha256: "ab".repeat(32),
            contract_version: 2,
            card: String::new(),
            status,
            metrics: BTreeMap::new(),
            history: Vec::new(),
        }
    }

    #[test]
    fn round_trips_and_records_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.toml");
        let mut r = Registry {
            models: vec![
                entry("a", ModelStatus::Live),
                entry("b", ModelStatus::Shadow),
            ],
            ..Default::default()
        };
        r.set_status("b", ModelStatus::Canary, "alice", "gates passed")
            .unwrap();
        r.save(&path).unwrap();
        let back = Registry::load(&path).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.live(ModelKind::Policy).unwrap().name, "a");
        assert_eq!(back.canaries(ModelKind::Policy).count(), 1);
        let h = &back.get("b").unwrap().history[0];
        assert_eq!(
            (h.from, h.to, h.by.as_str()),
            (ModelStatus::Shadow, ModelStatus::Canary, "alice")
        );
        assert!(h.at.ends_with('Z') && h.at.len() == 20, "{}", h.at);
    }

    #[test]
    fn bad_registries_are_explained() {
        let two_live = Registry {
            models: vec![entry("a", ModelStatus::Live), entry("b", ModelStatus::Live)],
            ..Default::default()
        };
        assert!(
            format!("{:#}", two_live.validate().unwrap_err()).contains("at most one may be live")
        );
        let mut bad_hash = entry("a", ModelStatus::Live);
        bad_hash.sha256 = "xyz".into();
        let r = Registry {
            models: vec![bad_hash],
            ..Default::default()
        };
        assert!(format!("{:#}", r.validate().unwrap_err()).contains("64 hex digits"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.toml");
        std::fs::write(&path, "[[models]]\nname = 1\n").unwrap();
        assert!(format!("{:#}", Registry::load(&path).unwrap_err()).contains("not valid"));
    }

    #[test]
    fn a_changed_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.onnx"), b"one").unwrap();
        let mut e = entry("a", ModelStatus::Live);
        e.sha256 = file_sha256(&dir.path().join("a.onnx")).unwrap();
        assert!(e.verify(dir.path()).is_ok());
        std::fs::write(dir.path().join("a.onnx"), b"two").unwrap();
        let err = format!("{:#}", e.verify(dir.path()).unwrap_err());
        assert!(err.contains("changed without"), "{err}");
    }

    #[test]
    fn the_clock_reads_as_a_date() {
        let t = now_rfc3339();
        assert!(t.starts_with("20") && t.as_bytes()[10] == b'T', "{t}");
    }
}
