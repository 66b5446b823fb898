//! The shadow model: a second, local policy that scores every decision the
//! engine makes and flags where it disagrees (divergence).
//!
//! Three parts, kept apart so each can be tested on its own:
//! - the rules (`judge`, `total_variation`, `AgreementWindow`): pure functions
//!   from two probability vectors to the reasons they diverge, if any;
//! - `ShadowState`: what the app keeps (status, thresholds, per-order
//!   agreement windows); it turns decision events into `ShadowRequest`s and
//!   folds the worker's answers into the `ConsoleState` (marker, alert, scores);
//! - `ShadowWorker`: loads the ONNX model and runs inference on its own thread,
//!   so a slow or broken model never holds up the screen.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use tokio::sync::mpsc::UnboundedSender;

use crate::divergence::normalised;
pub use crate::divergence::{
    action_name, judge, judge_request, request_for, total_variation, AgreementWindow, Divergence,
    Judgement, Reason, ShadowRequest, ShadowScore, Thresholds, REALERT_AFTER,
};
use crate::model::onnx::{ModelError, PolicyModel};
use crate::protocol::{ContractInfo, DecisionInfo, Severity, Ts};

use super::state::ConsoleState;

/// Decisions waiting for the worker; beyond this new ones are skipped (and counted).
pub const SHADOW_QUEUE: usize = 4096;

/// What the worker reports back, as an app message.
#[derive(Debug, Clone, PartialEq)]
pub enum ShadowEvent {
    /// The model loaded; scoring has started.
    Ready { model_id: String },
    /// No shadow this session (missing or invalid model, worker gone).
    Unavailable { reason: String },
    /// The answer to one request.
    Scored {
        request: ShadowRequest,
        model_id: String,
        probs: Result<Vec<f64>, String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ShadowStatus {
    /// No shadow configured (tests, replay): nothing is shown.
    None,
    /// The worker is loading the model; decisions are queued meanwhile.
    Loading {
        path: PathBuf,
    },
    On {
        model_id: String,
    },
    /// No shadow this session, and why (shown in the header).
    Off {
        reason: String,
    },
}

/// The app's side of the shadow.
#[derive(Debug, Clone)]
pub struct ShadowState {
    pub status: ShadowStatus,
    pub thresholds: Thresholds,
    windows: HashMap<String, AgreementWindow>,
    /// When each order's last divergence alert was raised.
    last_alert: HashMap<String, Ts>,
    pub scored: u64,
    /// Decisions not scored: refused by `request_for`, dropped from a full
    /// queue, or failed inference.
    pub unscored: u64,
    pub last_problem: Option<String>,
}

impl Default for ShadowState {
    fn default() -> Self {
        ShadowState::new(ShadowStatus::None, Thresholds::default())
    }
}

impl ShadowState {
    pub fn new(status: ShadowStatus, thresholds: Thresholds) -> Self {
        ShadowState {
            status,
            thresholds,
            windows: HashMap::new(),
            last_alert: HashMap::new(),
            scored: 0,
            unscored: 0,
            last_problem: None,
        }
    }

    /// Decisions are sent to the worker while it loads or runs.
    pub fn wants_decisions(&self) -> bool {
        matches!(
            self.status,
            ShadowStatus::Loading { .. } | ShadowStatus::On { .. }
        )
    }

    /// The request for a decision the state has just applied, if it should be scored.
    pub fn request(
        &mut self,
        contract: &ContractInfo,
        ts: Ts,
        d: &DecisionInfo,
    ) -> Option<ShadowRequest> {
        if !self.wants_decisions() {
            return None;
        }
        match request_for(contract, ts, d) {
            Ok(r) => Some(r),
            Err(e) => {
                self.not_scored(e);
                None
            }
        }
    }

    pub fn not_scored(&mut self, why: impl Into<String>) {
        self.unscored += 1;
        self.last_problem = Some(why.into());
    }

    /// Fold a worker event into the shadow's own state (status, agreement
    /// windows, alert pacing). For a score, what it means for the console's
    /// state comes back as an outcome for the app to apply: the state has one
    /// writer.
    #[must_use = "the outcome is what the score means for the state: apply it"]
    pub fn on_event(&mut self, ev: ShadowEvent, state: &ConsoleState) -> Option<ScoreOutcome> {
        match ev {
            ShadowEvent::Ready { model_id } => self.status = ShadowStatus::On { model_id },
            ShadowEvent::Unavailable { reason } => self.status = ShadowStatus::Off { reason },
            ShadowEvent::Scored {
                request,
                model_id,
                probs,
            } => match probs {
                Ok(probs) => return Some(self.score(request, model_id, probs, state)),
                Err(e) => self.not_scored(e),
            },
        }
        None
    }

    fn score(
        &mut self,
        req: ShadowRequest,
        model_id: String,
        shadow_probs: Vec<f64>,
        state: &ConsoleState,
    ) -> ScoreOutcome {
        let t = self.thresholds;
        let window = self
            .windows
            .entry(req.order_id.clone())
            .or_insert_with(|| AgreementWindow::new(t.window));
        let (j, agreement) = judge_request(&t, window, &req, &shadow_probs);
        self.scored += 1;
        let mut out = ScoreOutcome {
            order_id: req.order_id.clone(),
            divergence: None,
            alert: None,
            score: None,
        };
        if !j.reasons.is_empty() {
            let why = j.why();
            let live_action = action_name(req.engine_action).to_string();
            let shadow_action = action_name(j.shadow_action).to_string();
            // One alert per episode (the marker says it goes on), and none for
            // an episode that starts again soon after the last alert.
            let quiet = self
                .last_alert
                .get(&req.order_id)
                .is_none_or(|at| req.ts >= at.saturating_add(REALERT_AFTER));
            if quiet && !state.divergence.contains_key(&req.order_id) {
                self.last_alert.insert(req.order_id.clone(), req.ts);
                out.alert = Some(format!(
                    "{}: shadow {model_id} says {shadow_action}, engine did {live_action} — {why}",
                    req.order_id
                ));
            }
            out.divergence = Some(Divergence {
                ts: req.ts,
                live_action,
                shadow_action,
                note: why,
            });
        }
        out.score = Some(ShadowScore {
            ts: req.ts,
            model_id,
            engine_model: req.engine_model,
            engine_action: req.engine_action,
            engine_probs: req.engine_probs,
            shadow_probs: normalised(&shadow_probs),
            judgement: j,
            agreement,
        });
        out
    }
}

/// What one score means for the console's state: the order's divergence
/// marker (None clears it), an alert when a divergence episode starts, and
/// the latest distributions for the detail pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreOutcome {
    pub order_id: String,
    pub divergence: Option<Divergence>,
    pub alert: Option<String>,
    pub score: Option<ShadowScore>,
}

impl ScoreOutcome {
    /// Apply it to the state (the app does, as the state's one writer).
    pub fn apply(self, state: &mut ConsoleState) {
        if let Some(message) = self.alert {
            state.push_order_alert(
                Severity::Warning,
                "divergence",
                Some(&self.order_id),
                message,
            );
        }
        state.set_divergence(&self.order_id, self.divergence);
        if let Some(score) = self.score {
            state.shadow.insert(self.order_id, score);
        }
    }
}

/// A short reason for the header: the missing file, or the model's error.
pub fn unavailable_reason(e: &ModelError) -> String {
    match e {
        ModelError::Missing(p) => format!("{} not found", p.display()),
        other => other.to_string(),
    }
}

/// The inference thread. Dropping the handle stops it after the request in
/// hand; `submit` never blocks.
pub struct ShadowWorker {
    tx: SyncSender<ShadowRequest>,
}

impl ShadowWorker {
    /// Load `path` and score requests on a thread of its own; every outcome
    /// (ready, unavailable, each score) is sent on `events`.
    pub fn spawn(path: PathBuf, events: UnboundedSender<ShadowEvent>) -> ShadowWorker {
        let (tx, rx) = sync_channel(SHADOW_QUEUE);
        let fallback = events.clone();
        let spawned = std::thread::Builder::new()
            .name("vigil-shadow".into())
            .spawn(move || worker(path, rx, events));
        if let Err(e) = spawned {
            let _ = fallback.send(ShadowEvent::Unavailable {
                reason: format!("cannot start the shadow thread: {e}"),
            });
        }
        ShadowWorker { tx }
    }

    /// Queue a request; `false` when it had to be dropped (queue full, worker gone).
    pub fn submit(&self, req: ShadowRequest) -> bool {
        match self.tx.try_send(req) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

fn worker(path: PathBuf, rx: Receiver<ShadowRequest>, events: UnboundedSender<ShadowEvent>) {
    let model = match PolicyModel::load(&path) {
        Ok(m) => m,
        Err(e) => {
            let _ = events.send(ShadowEvent::Unavailable {
                reason: unavailable_reason(&e),
            });
            return;
        }
    };
    if events
        .send(ShadowEvent::Ready {
            model_id: model.id.clone(),
        })
        .is_err()
    {
        return;
    }
    for request in rx {
        let probs = model.predict(&request.features).map_err(|e| e.to_string());
        let ev = ShadowEvent::Scored {
            request,
            model_id: model.id.clone(),
            probs,
        };
        if events.send(ev).is_err() {
            return;
        }
    }
}

/// The shadow's command-line flags, shared by `vigil console` and `vigil demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct ShadowArgs {
    /// Shadow model (ONNX) scoring every decision as it arrives [default: models/shadow.onnx].
    #[arg(long, value_name = "FILE")]
    pub shadow: Option<PathBuf>,
    /// Run without a shadow model.
    #[arg(long, conflicts_with = "shadow")]
    pub no_shadow: bool,
    /// Flag a decision when the shadow's top action differs with at least this probability.
    #[arg(long, value_name = "P", default_value_t = 0.6)]
    pub divergence_confidence: f64,
    /// Flag a decision when the total-variation distance between the two distributions is at least this.
    #[arg(long, value_name = "D", default_value_t = 0.5)]
    pub divergence_tv: f64,
    /// Flag an order whose agreement rate over its last 20 decisions falls below this.
    #[arg(long, value_name = "R", default_value_t = 0.6)]
    pub divergence_agreement: f64,
}

impl ShadowArgs {
    /// The model to load (`None`: `--no-shadow`) and the thresholds, checked.
    pub fn resolve(&self) -> anyhow::Result<(Option<PathBuf>, Thresholds)> {
        let thresholds = Thresholds {
            confidence: self.divergence_confidence,
            tv: self.divergence_tv,
            agreement: self.divergence_agreement,
            ..Thresholds::default()
        };
        thresholds.validate().map_err(anyhow::Error::msg)?;
        let model = if self.no_shadow {
            None
        } else {
            Some(
                self.shadow
                    .clone()
                    .unwrap_or_else(|| crate::model::default_model_path("shadow.onnx")),
            )
        };
        Ok((model, thresholds))
    }
}
