//! The divergence rules: when a shadow model's view of a decision counts
//! as disagreeing with the engine's, and the data that says so. A leaf used
//! by the live console, replay and the report alike, so a divergence means
//! the same thing everywhere.
//!
//! Three rules, each with a threshold: (a) the shadow's top action differs
//! from the engine's and the shadow is sure of it; (b) the two distributions
//! are far apart (total variation), for a model's decision only; (c) the
//! order's rolling agreement rate is low, for models only, once the order has
//! had enough decisions.

use std::collections::VecDeque;
use std::fmt;

use crate::model::contract::{CONTRACT_VERSION, FEATURE_COUNT};
use crate::model::onnx::argmax;
use crate::model::{Action, FEATURES};
use crate::protocol::{ContractInfo, DecisionInfo, Ts};

/// Simulated time after a divergence alert during which the same order
/// raises no new one (episodes that stop and start again would flood the pane).
pub const REALERT_AFTER: Ts = 5 * 60 * 1_000_000_000;

/// When a decision counts as divergent. Every probability threshold is in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// (a) The shadow's top action differs from the engine's and the shadow
    /// gives it at least this probability.
    pub confidence: f64,
    /// (b) Total-variation distance between the two distributions at least this.
    pub tv: f64,
    /// (c) The order's rolling agreement rate (shadow top action == engine
    /// action) below this.
    pub agreement: f64,
    /// Decisions in the rolling agreement window.
    pub window: usize,
    /// Decisions an order needs before rule (c) applies: one early
    /// disagreement is not yet a low agreement rate.
    pub min_decisions: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            confidence: 0.6,
            tv: 0.5,
            agreement: 0.6,
            window: 20,
            min_decisions: 10,
        }
    }
}

impl Thresholds {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("--divergence-confidence", self.confidence),
            ("--divergence-tv", self.tv),
            ("--divergence-agreement", self.agreement),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        if self.window == 0 {
            return Err("the agreement window needs at least one decision".into());
        }
        Ok(())
    }
}

/// Why one decision diverges. Actions are indices into `Action::ALL`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// (a) The shadow prefers another action, and is sure enough of it.
    TopAction {
        shadow_action: usize,
        confidence: f64,
        threshold: f64,
    },
    /// (b) The two distributions are far apart.
    Distribution { tv: f64, threshold: f64 },
    /// (c) The order's agreement rate over its last `over` decisions is low.
    Agreement {
        rate: f64,
        over: usize,
        threshold: f64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::TopAction {
                shadow_action,
                confidence,
                threshold,
            } => write!(
                f,
                "shadow prefers {} at {:.0}% (≥ {:.0}%)",
                action_name(*shadow_action),
                confidence * 100.0,
                threshold * 100.0
            ),
            Reason::Distribution { tv, threshold } => {
                write!(f, "distributions differ, TV {tv:.2} (≥ {threshold:.2})")
            }
            Reason::Agreement {
                rate,
                over,
                threshold,
            } => write!(
                f,
                "agreement {:.0}% over the last {over} decisions (< {:.0}%)",
                rate * 100.0,
                threshold * 100.0
            ),
        }
    }
}

/// What the rules make of one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub shadow_action: usize,
    pub shadow_confidence: f64,
    pub agrees: bool,
    pub tv: f64,
    /// Empty when the decision does not diverge.
    pub reasons: Vec<Reason>,
}

impl Judgement {
    /// The reasons on one line (empty when the decision does not diverge).
    pub fn why(&self) -> String {
        self.reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Name of action `i` of `Action::ALL` (`?` out of range).
pub fn action_name(i: usize) -> &'static str {
    Action::ALL.get(i).map_or("?", |a| a.name())
}

/// Scale a non-negative vector to sum 1 (a zero or invalid vector stays as is).
pub fn normalised(p: &[f64]) -> Vec<f64> {
    let sum: f64 = p.iter().filter(|x| x.is_finite()).map(|x| x.max(0.0)).sum();
    p.iter()
        .map(|x| {
            let x = if x.is_finite() { x.max(0.0) } else { 0.0 };
            if sum > 0.0 {
                x / sum
            } else {
                x
            }
        })
        .collect()
}

/// Total-variation distance, ½·Σ|p−q|, of two distributions over the same
/// actions (a missing entry counts as 0). Both are normalised first.
pub fn total_variation(p: &[f64], q: &[f64]) -> f64 {
    let (p, q) = (normalised(p), normalised(q));
    let n = p.len().max(q.len());
    let at = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(0.0);
    0.5 * (0..n).map(|i| (at(&p, i) - at(&q, i)).abs()).sum::<f64>()
}

/// The divergence rules for one decision. `engine_probs` and `shadow_probs`
/// are in `Action::ALL` order; `engine_probs` is `None` when the engine
/// reported no real distribution (a rule-based strategy's one-hot vector):
/// the distance rule (b) then does not apply, since it would only restate
/// how little the shadow likes the rule's action. `agreement` is the order's
/// rolling agreement rate (including this decision) and the number of
/// decisions it covers.
pub fn judge(
    t: &Thresholds,
    engine_action: usize,
    engine_probs: Option<&[f64]>,
    shadow_probs: &[f64],
    agreement: Option<(f64, usize)>,
) -> Judgement {
    let shadow = normalised(shadow_probs);
    let (shadow_action, shadow_confidence) = argmax(&shadow);
    let agrees = shadow_action == engine_action;
    let one_hot = Action::ALL.get(engine_action).map(|a| a.one_hot());
    let tv = match (engine_probs, &one_hot) {
        (Some(p), _) => total_variation(p, shadow_probs),
        (None, Some(h)) => total_variation(h, shadow_probs),
        (None, None) => 1.0,
    };
    let mut reasons = Vec::new();
    if !agrees && shadow_confidence >= t.confidence {
        reasons.push(Reason::TopAction {
            shadow_action,
            confidence: shadow_confidence,
            threshold: t.confidence,
        });
    }
    if engine_probs.is_some() && tv >= t.tv {
        reasons.push(Reason::Distribution {
            tv,
            threshold: t.tv,
        });
    }
    // The agreement rate judges a model against the shadow; a rule-based
    // strategy following its schedule would sit below it all day, which is
    // noise, not news (a confident disagreement, rule (a), still shows).
    if let (Some(_), Some((rate, over))) = (engine_probs, agreement) {
        if over >= t.min_decisions.max(1) && rate < t.agreement {
            reasons.push(Reason::Agreement {
                rate,
                over,
                threshold: t.agreement,
            });
        }
    }
    Judgement {
        shadow_action,
        shadow_confidence,
        agrees,
        tv,
        reasons,
    }
}

/// One scored decision as the rules see it, the way the live console and
/// replay both judge it: the shadow's top action joins the order's agreement
/// window, then `judge` runs with the window's rate. Returns the judgement
/// and that rate.
pub fn judge_request(
    t: &Thresholds,
    window: &mut AgreementWindow,
    req: &ShadowRequest,
    shadow_probs: &[f64],
) -> (Judgement, Option<(f64, usize)>) {
    window.push(argmax(shadow_probs).0 == req.engine_action);
    let agreement = window.rate();
    let j = judge(
        t,
        req.engine_action,
        req.engine_distribution
            .then_some(req.engine_probs.as_slice()),
        shadow_probs,
        agreement,
    );
    (j, agreement)
}

/// Whether the shadow agreed with the engine on an order's last `cap` decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementWindow {
    recent: VecDeque<bool>,
    cap: usize,
}

impl AgreementWindow {
    pub fn new(cap: usize) -> Self {
        AgreementWindow {
            recent: VecDeque::with_capacity(cap.max(1)),
            cap: cap.max(1),
        }
    }

    pub fn push(&mut self, agrees: bool) {
        if self.recent.len() == self.cap {
            self.recent.pop_front();
        }
        self.recent.push_back(agrees);
    }

    /// Agreement rate and the number of decisions it covers (none yet: `None`).
    pub fn rate(&self) -> Option<(f64, usize)> {
        let n = self.recent.len();
        (n > 0).then(|| {
            (
                self.recent.iter().filter(|a| **a).count() as f64 / n as f64,
                n,
            )
        })
    }
}

/// One decision for the worker to score, already in the shadow's contract
/// order (features as `FEATURES`, probabilities as `Action::ALL`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowRequest {
    pub order_id: String,
    pub ts: Ts,
    pub engine_model: String,
    pub engine_action: usize,
    pub engine_probs: Vec<f64>,
    /// `engine_probs` is a model's distribution, not a rule's one-hot vector.
    pub engine_distribution: bool,
    pub features: Vec<f64>,
}

/// Map a decision from the engine's contract onto the shadow's. Columns are
/// matched by name, so an engine that orders them differently still works;
/// one that lacks a feature or speaks another contract version is refused.
pub fn request_for(
    contract: &ContractInfo,
    ts: Ts,
    d: &DecisionInfo,
) -> Result<ShadowRequest, String> {
    if contract.version != 0 && contract.version != CONTRACT_VERSION {
        return Err(format!(
            "the engine speaks contract v{}, the shadow model v{CONTRACT_VERSION}",
            contract.version
        ));
    }
    let engine_action = Action::from_name(&d.action)
        .ok_or_else(|| format!("action `{}` is unknown to the shadow model", d.action))?
        .index();
    let features = if contract.features.is_empty() {
        if d.features.len() != FEATURE_COUNT {
            return Err(format!(
                "{} features given, {FEATURE_COUNT} expected",
                d.features.len()
            ));
        }
        d.features.clone()
    } else {
        FEATURES
            .iter()
            .map(|f| {
                contract
                    .features
                    .iter()
                    .position(|n| n == f.name)
                    .and_then(|i| d.features.get(i).copied())
                    .ok_or_else(|| format!("the decision has no `{}` feature", f.name))
            })
            .collect::<Result<Vec<f64>, String>>()?
    };
    let engine_names: Vec<&str> = if contract.actions.is_empty() {
        Action::ALL.iter().map(|a| a.name()).collect()
    } else {
        contract.actions.iter().map(String::as_str).collect()
    };
    let mut engine_probs: Vec<f64> = Action::ALL
        .iter()
        .map(|a| {
            engine_names
                .iter()
                .position(|n| *n == a.name())
                .and_then(|i| d.probs.get(i).copied())
                .unwrap_or(0.0)
        })
        .collect();
    let mut engine_distribution = d.model != "rule";
    if engine_probs.iter().all(|p| *p <= 0.0 || !p.is_finite()) {
        // No distribution reported: the engine was certain of its action.
        engine_probs = Action::ALL[engine_action].one_hot();
        engine_distribution = false;
    }
    Ok(ShadowRequest {
        order_id: d.order_id.clone(),
        ts,
        engine_model: d.model.clone(),
        engine_action,
        engine_probs,
        engine_distribution,
        features,
    })
}

/// The latest shadow score of an order: both distributions, for the detail pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowScore {
    pub ts: Ts,
    pub model_id: String,
    pub engine_model: String,
    pub engine_action: usize,
    pub engine_probs: Vec<f64>,
    pub shadow_probs: Vec<f64>,
    pub judgement: Judgement,
    /// The order's rolling agreement rate and how many decisions it covers.
    pub agreement: Option<(f64, usize)>,
}

/// Marker set by a shadow model when it disagrees with the live decision
/// (the console's shadow live, the recording's shadow in replay).
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    pub ts: Ts,
    pub live_action: String,
    pub shadow_action: String,
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSIVE: usize = 1;
    const AGGRESSIVE: usize = 4;

    fn dist(top: usize, p: f64) -> Vec<f64> {
        let n = Action::ALL.len();
        (0..n)
            .map(|i| {
                if i == top {
                    p
                } else {
                    (1.0 - p) / (n - 1) as f64
                }
            })
            .collect()
    }

    #[test]
    fn agreement_raises_no_flag() {
        let t = Thresholds::default();
        let j = judge(
            &t,
            PASSIVE,
            Some(&dist(PASSIVE, 0.7)),
            &dist(PASSIVE, 0.8),
            Some((1.0, 20)),
        );
        assert!(j.agrees);
        assert!(j.reasons.is_empty(), "{:?}", j.reasons);
        assert!(j.tv < 0.2);
    }

    #[test]
    fn confident_different_top_action_flags_a() {
        let t = Thresholds {
            tv: 1.0,
            ..Thresholds::default()
        };
        let j = judge(
            &t,
            PASSIVE,
            Some(&dist(PASSIVE, 0.5)),
            &dist(AGGRESSIVE, 0.65),
            None,
        );
        assert!(!j.agrees);
        assert_eq!(j.shadow_action, AGGRESSIVE);
        assert!(matches!(
            j.reasons.as_slice(),
            [Reason::TopAction {
                shadow_action: AGGRESSIVE,
                ..
            }]
        ));
        assert!(j.reasons[0].to_string().contains("aggressive at 65%"));
        // The same disagreement with a hesitant shadow is no divergence.
        let j = judge(
            &t,
            PASSIVE,
            Some(&dist(PASSIVE, 0.5)),
            &dist(AGGRESSIVE, 0.4),
            None,
        );
        assert!(!j.agrees);
        assert!(j.reasons.is_empty(), "{:?}", j.reasons);
    }

    #[test]
    fn far_apart_distributions_flag_b_even_with_the_same_top_action() {
        let t = Thresholds::default();
        let engine = Action::Passive.one_hot();
        let mut shadow = vec![0.0; Action::ALL.len()];
        shadow[PASSIVE] = 0.35;
        shadow[AGGRESSIVE] = 0.3;
        shadow[0] = 0.35 - 1e-9;
        shadow[2] = 1e-9;
        let j = judge(&t, PASSIVE, Some(&engine), &shadow, None);
        assert!(j.agrees, "same top action");
        assert!((j.tv - 0.65).abs() < 1e-6, "tv {}", j.tv);
        assert!(matches!(
            j.reasons.as_slice(),
            [Reason::Distribution { .. }]
        ));
        // A rule's one-hot vector is no distribution: (b) does not apply.
        let j = judge(&t, PASSIVE, None, &shadow, None);
        assert!((j.tv - 0.65).abs() < 1e-6, "tv {}", j.tv);
        assert!(j.reasons.is_empty(), "{:?}", j.reasons);
    }

    #[test]
    fn low_rolling_agreement_flags_c_once_enough_decisions() {
        let t = Thresholds::default();
        let mut w = AgreementWindow::new(t.window);
        // Agreeing now, but only 2 of the last 10 agreed.
        for i in 0..10 {
            w.push(i >= 8);
        }
        let (rate, n) = w.rate().unwrap();
        assert_eq!(n, 10);
        assert!((rate - 0.2).abs() < 1e-12);
        let j = judge(
            &t,
            PASSIVE,
            Some(&dist(PASSIVE, 0.6)),
            &dist(PASSIVE, 0.6),
            w.rate(),
        );
        assert!(matches!(
            j.reasons.as_slice(),
            [Reason::Agreement { over: 10, .. }]
        ));
        // Too few decisions yet: no verdict on the rate.
        let mut young = AgreementWindow::new(t.window);
        young.push(false);
        young.push(true);
        let j = judge(
            &t,
            PASSIVE,
            Some(&dist(PASSIVE, 0.6)),
            &dist(PASSIVE, 0.6),
            young.rate(),
        );
        assert!(j.reasons.is_empty());
    }

    #[test]
    fn agreement_window_keeps_the_last_n() {
        let mut w = AgreementWindow::new(20);
        for _ in 0..20 {
            w.push(false);
        }
        for _ in 0..20 {
            w.push(true);
        }
        assert_eq!(w.rate(), Some((1.0, 20)));
        assert_eq!(AgreementWindow::new(20).rate(), None);
    }

    #[test]
    fn total_variation_bounds() {
        let a = Action::Wait.one_hot();
        let b = Action::CatchUp.one_hot();
        assert!((total_variation(&a, &b) - 1.0).abs() < 1e-12);
        assert!(total_variation(&a, &a).abs() < 1e-12);
        // Unnormalised input is normalised first.
        let twice: Vec<f64> = a.iter().map(|x| x * 2.0).collect();
        assert!(total_variation(&a, &twice).abs() < 1e-12);
    }

    #[test]
    fn requests_follow_the_engine_contract_by_name() {
        let mut contract = crate::model::contract::contract_info();
        contract.features.reverse();
        contract.actions.reverse();
        let features: Vec<f64> = (0..FEATURE_COUNT).map(|i| i as f64).collect();
        let mut probs = vec![0.0; Action::ALL.len()];
        // `passive` sits at index len-2 once reversed.
        probs[Action::ALL.len() - 2] = 1.0;
        let d = DecisionInfo {
            order_id: "P-1".into(),
            strategy: "adaptive".into(),
            action: "passive".into(),
            confidence: 1.0,
            probs,
            features: features.clone(),
            model: "policy@1".into(),
            model_status: None,
            overridden: false,
            fell_back: false,
            fallback_reason: None,
            target_qty: 100.0,
            children: vec![],
        };
        let r = request_for(&contract, 7, &d).unwrap();
        let want: Vec<f64> = features.iter().rev().copied().collect();
        assert_eq!(r.features, want);
        assert_eq!(r.engine_probs, Action::Passive.one_hot());
        assert_eq!(r.engine_action, PASSIVE);
        assert!(r.engine_distribution, "a model's decision, even a sure one");
        let rule = DecisionInfo {
            model: "rule".into(),
            ..d.clone()
        };
        assert!(
            !request_for(&contract, 7, &rule)
                .unwrap()
                .engine_distribution
        );

        let mut bad = d.clone();
        bad.action = "buy_everything".into();
        assert!(request_for(&contract, 7, &bad).is_err());
        contract.version = CONTRACT_VERSION + 1;
        assert!(request_for(&contract, 7, &d)
            .unwrap_err()
            .contains("contract"));
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(Thresholds::default().validate().is_ok());
        let t = Thresholds {
            tv: 1.5,
            ..Thresholds::default()
        };
        assert!(t.validate().unwrap_err().contains("--divergence-tv"));
    }
}
