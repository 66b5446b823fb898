//! Which model serves an adaptive order, and whether it still may: the
//! registry's live model (the champion) and canaries, the canary's share
//! limits, and each model's live guard and kill switch. This sits beside the
//! strategies, not inside the model code: a model only scores features.
//!
//! The guard compares, over the orders a model serves, what they have cost
//! so far with what the baseline schedule would have cost over the same
//! intervals: each interval's scheduled quantity at that interval's market
//! VWAP (a paper baseline). The model's own cost is its fills against the
//! arrival price, plus the gap to the baseline's position marked at the
//! current mid. Past the threshold (once enough has traded to judge), the
//! model's orders follow the baseline schedule and a critical alert says why.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::onnx::PolicyModel;
use crate::model::registry::{DeploymentPolicy, ModelKind, Registry, REGISTRY_FILE};
use crate::protocol::{GuardState, ModelStateInfo, ModelStatus, ServedModel};

/// One deployed model.
#[derive(Clone)]
pub struct Deployed {
    pub name: String,
    pub status: ModelStatus,
    pub model: PolicyModel,
    pub guard: GuardState,
    pub reason: Option<String>,
    /// Orders and notional (price units) it serves this session.
    pub orders: u32,
    pub notional: f64,
    /// Guard window: sums over the model's orders since the last restore.
    cost_excess: f64,
    baseline_traded_value: f64,
    served_value: f64,
    /// What the figures were when the window (re)started.
    offset: (f64, f64, f64),
    last_reported: Option<f64>,
}

impl Deployed {
    fn new(name: String, status: ModelStatus, model: PolicyModel) -> Self {
        Deployed {
            name,
            status,
            model,
            guard: GuardState::Ok,
            reason: None,
            orders: 0,
            notional: 0.0,
            cost_excess: 0.0,
            baseline_traded_value: 0.0,
            served_value: 0.0,
            offset: (0.0, 0.0, 0.0),
            last_reported: None,
        }
    }

    pub fn served(&self) -> ServedModel {
        ServedModel {
            name: self.name.clone(),
            id: self.model.id.clone(),
            status: self.status,
        }
    }

    /// Cost against the baseline in bps, once there is enough to judge.
    fn figure(&self, policy: &DeploymentPolicy) -> Option<f64> {
        let cost = self.cost_excess - self.offset.0;
        let traded = self.baseline_traded_value - self.offset.1;
        let served = self.served_value - self.offset.2;
        (traded > 0.0 && traded >= policy.guard_min_traded_share * served)
            .then(|| cost / traded * 1e4)
    }
}

/// Per-order bookkeeping of the paper baseline.
#[derive(Debug, Clone, Default)]
pub struct GuardTrack {
    /// Baseline schedule (lots) at the last update, and when that was.
    pub last_scheduled: f64,
    pub last_ts: u64,
    /// Σ scheduled increments × sign × (interval VWAP − arrival), price units × lots.
    pub paper_cost: f64,
    /// This order's last contribution to its model's sums.
    pub contributed: (f64, f64),
    /// Its value is in its model's served total.
    pub counted: bool,
}

/// What the engine learns from one guard update.
pub enum GuardChange {
    None,
    /// The figure moved enough to be worth telling clients.
    Moved,
    Tripped,
}

#[derive(Clone)]
pub struct Deployment {
    pub models: Vec<Deployed>,
    pub policy: DeploymentPolicy,
    /// Where the models came from, for messages.
    pub source: String,
    adaptive_orders: u32,
    adaptive_notional: f64,
}

impl Deployment {
    /// A single model file given directly, outside the registry: it serves every order.
    pub fn explicit(path: &Path) -> Result<Deployment> {
        let model = PolicyModel::load(path)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "policy".into());
        Ok(Deployment {
            models: vec![Deployed::new(name, ModelStatus::Unregistered, model)],
            policy: DeploymentPolicy::default(),
            source: path.display().to_string(),
            adaptive_orders: 0,
            adaptive_notional: 0.0,
        })
    }

    /// The registry's live policy and canaries, each file checked against its hash.
    pub fn from_registry(path: &Path) -> Result<Deployment> {
        let registry = Registry::load(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut models = Vec::new();
        let serving = registry
            .live(ModelKind::Policy)
            .into_iter()
            .chain(registry.canaries(ModelKind::Policy));
        for entry in serving {
            let file = entry.verify(dir)?;
            let model = PolicyModel::load(&file)
                .with_context(|| format!("model {} of {}", entry.name, path.display()))?;
            models.push(Deployed::new(entry.name.clone(), entry.status, model));
        }
        Ok(Deployment {
            models,
            policy: registry.deployment,
            source: path.display().to_string(),
            adaptive_orders: 0,
            adaptive_notional: 0.0,
        })
    }

    /// `models/registry.toml` if there is one, else `models/policy.onnx` alone.
    pub fn default_location() -> Result<Deployment> {
        let registry = crate::model::default_model_path(REGISTRY_FILE);
        if registry.exists() {
            Deployment::from_registry(&registry)
        } else {
            Deployment::explicit(&crate::model::default_model_path("policy.onnx"))
        }
    }

    pub fn from_options(
        policy: Option<&PathBuf>,
        registry: Option<&PathBuf>,
    ) -> Result<Deployment> {
        match (policy, registry) {
            (Some(p), _) => Deployment::explicit(p),
            (None, Some(r)) => Deployment::from_registry(r),
            (None, None) => Deployment::default_location(),
        }
    }

    /// The champion: the live model, or an explicitly given one.
    pub fn champion(&self) -> Option<usize> {
        self.models
            .iter()
            .position(|m| matches!(m.status, ModelStatus::Live | ModelStatus::Unregistered))
    }

    pub fn find(&self, name_or_id: &str) -> Option<usize> {
        self.models
            .iter()
            .position(|m| m.name == name_or_id || m.model.id == name_or_id)
    }

    /// The model that serves a new adaptive order of `notional`: a canary
    /// while its share of orders and of notional stay within the limits,
    /// otherwise the champion. None when no model may take it: the order
    /// follows the baseline schedule.
    pub fn assign(&mut self, notional: f64) -> Option<usize> {
        let orders_after = self.adaptive_orders + 1;
        let notional_after = self.adaptive_notional + notional;
        let policy = self.policy;
        let canary = self.models.iter().position(|m| {
            m.status == ModelStatus::Canary
                && (m.orders + 1) as f64 <= policy.canary_max_order_share * orders_after as f64
                && m.notional + notional <= policy.canary_max_notional_share * notional_after
        });
        self.adaptive_orders = orders_after;
        self.adaptive_notional = notional_after;
        let slot = canary.or_else(|| self.champion())?;
        let m = &mut self.models[slot];
        m.orders += 1;
        m.notional += notional;
        Some(slot)
    }

    pub fn state(&self, slot: usize) -> ModelStateInfo {
        let m = &self.models[slot];
        ModelStateInfo {
            name: m.name.clone(),
            id: m.model.id.clone(),
            status: m.status,
            guard: m.guard,
            cost_vs_baseline_bps: m.figure(&self.policy),
            threshold_bps: self.policy.guard_threshold_bps,
            orders: m.orders,
            reason: m.reason.clone(),
        }
    }

    /// Fold one order's latest figures into its model's guard. `cost_excess`
    /// is the order's cost minus its paper baseline's (price units × lots);
    /// `baseline_value` what the baseline would have traded (price units).
    pub fn update(
        &mut self,
        slot: usize,
        track: &mut GuardTrack,
        cost_excess: f64,
        baseline_value: f64,
        order_value: f64,
    ) -> GuardChange {
        let policy = self.policy;
        let m = &mut self.models[slot];
        let (c0, b0) = track.contributed;
        m.cost_excess += cost_excess - c0;
        m.baseline_traded_value += baseline_value - b0;
        if !track.counted {
            track.counted = true;
            m.served_value += order_value;
        }
        track.contributed = (cost_excess, baseline_value);
        let Some(figure) = m.figure(&policy) else {
            return GuardChange::None;
        };
        if m.guard == GuardState::Ok && figure > policy.guard_threshold_bps {
            m.guard = GuardState::Tripped;
            m.reason = Some(format!(
                "its orders cost {figure:+.1} bps against the baseline schedule, past the {:.1} bps threshold",
                policy.guard_threshold_bps
            ));
            m.last_reported = Some(figure);
            return GuardChange::Tripped;
        }
        let moved = m
            .last_reported
            .is_none_or(|last| (figure - last).abs() >= 1.0);
        if moved {
            m.last_reported = Some(figure);
            GuardChange::Moved
        } else {
            GuardChange::None
        }
    }

    /// The trader's model kill switch.
    pub fn kill(&mut self, slot: usize, user: &str, reason: Option<&str>) -> Result<(), String> {
        let m = &mut self.models[slot];
        if m.guard == GuardState::Killed {
            return Err(format!("model {} is already switched off", m.name));
        }
        m.guard = GuardState::Killed;
        m.reason = Some(match reason {
            Some(r) if !r.trim().is_empty() => format!("switched off by {user}: {r}"),
            _ => format!("switched off by {user}"),
        });
        Ok(())
    }

    /// Undo a kill or a trip: the model serves again, and its guard judges
    /// from here on (what it cost before is not held against it twice).
    pub fn restore(&mut self, slot: usize, user: &str) -> Result<(), String> {
        let m = &mut self.models[slot];
        if m.guard == GuardState::Ok {
            return Err(format!("model {} is already serving", m.name));
        }
        m.guard = GuardState::Ok;
        m.reason = Some(format!("restored by {user}"));
        m.offset = (m.cost_excess, m.baseline_traded_value, m.served_value);
        m.last_reported = None;
        Ok(())
    }

    /// Why a model's orders follow the baseline, if they do.
    pub fn blocked(&self, slot: usize) -> Option<String> {
        let m = &self.models[slot];
        match m.guard {
            GuardState::Ok => None,
            GuardState::Tripped => Some(format!("model {} guard tripped", m.name)),
            GuardState::Killed => Some(format!("model {} switched off", m.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(n: usize, canary: bool) -> Deployment {
        // Deployment logic without model files: the fixture loads one model
        // and the slots share it.
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/contrarian.onnx");
        let model = PolicyModel::load(&path).unwrap();
        let mut models = vec![Deployed::new(
            "champ".into(),
            ModelStatus::Live,
            model.clone(),
        )];
        for i in 0..n {
            let status = if canary {
                ModelStatus::Canary
            } else {
                ModelStatus::Shadow
            };
            models.push(Deployed::new(format!("c{i}"), status, model.clone()));
        }
        Deployment {
            models,
            policy: DeploymentPolicy::default(),
            source: "test".into(),
            adaptive_orders: 0,
            adaptive_notional: 0.0,
        }
    }

    #[test]
    fn a_canary_never_exceeds_its_shares() {
        let mut d = fake(1, true);
        let mut canary_orders = 0;
        let mut canary_notional = 0.0;
        let mut total = 0.0;
        for i in 0..40 {
            let notional = 1e6 * (1.0 + (i % 7) as f64);
            total += notional;
            let slot = d.assign(notional).unwrap();
            if d.models[slot].status == ModelStatus::Canary {
                canary_orders += 1;
                canary_notional += notional;
            }
            assert!(canary_orders as f64 <= 0.25 * (i + 1) as f64 + 1e-9);
            assert!(canary_notional <= 0.25 * total + 1e-6);
        }
        // Within both limits it still gets a share of the flow.
        assert!(
            canary_orders >= 4,
            "the canary served {canary_orders} of 40"
        );
    }

    #[test]
    fn shadows_do_not_trade() {
        let mut d = fake(1, false);
        for _ in 0..10 {
            assert_eq!(d.assign(1e6), Some(0));
        }
    }

    #[test]
    fn the_guard_trips_past_its_threshold_and_a_restore_starts_afresh() {
        let mut d = fake(0, false);
        let slot = d.assign(1e6).unwrap();
        let mut t = GuardTrack::default();
        // Too little traded to judge: 10% of a 1M order.
        assert!(matches!(
            d.update(slot, &mut t, 1e4, 1e5, 1e6),
            GuardChange::None
        ));
        // 30 bps worse than the baseline over 300k.
        assert!(matches!(
            d.update(slot, &mut t, 900.0, 3e5, 1e6),
            GuardChange::Tripped
        ));
        assert_eq!(d.models[slot].guard, GuardState::Tripped);
        assert!(d.blocked(slot).unwrap().contains("guard tripped"));
        d.restore(slot, "alice").unwrap();
        assert!(d.blocked(slot).is_none());
        assert_eq!(d.state(slot).cost_vs_baseline_bps, None);
        d.kill(slot, "bob", Some("looks wrong")).unwrap();
        assert!(d.kill(slot, "bob", None).is_err());
        assert!(d.state(slot).reason.unwrap().contains("bob: looks wrong"));
    }
}
