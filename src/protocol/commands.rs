//! What a client asks the engine to do: the commands, their parameters, and
//! the new-order request. Every command passes one permission check
//! (`Command::is_mutating`) and is answered by exactly one `ack`.

use serde::{Deserialize, Serialize};

use super::messages::Side;

/// Partial update of `OrderParams` sent with `retune`. Absent fields are left alone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetuneParams {
    /// A new total quantity for the order (FIX replace): above what is filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_participation: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_participation: Option<f64>,
    /// A price, or `null` in `clear_limit` to remove the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<f64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub clear_limit: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_child_qty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_child_qty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venues: Option<Vec<String>>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where an order came from when it did not come from a console: the FIX
/// session that sent it and the client's order id. Set by the engine's FIX
/// gateway only (the hub refuses it from WebSocket clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderOrigin {
    /// The FIX session, `SENDER→TARGET` (the OMS's CompID first).
    pub fix_session: String,
    /// ClOrdID (11) of the NewOrderSingle.
    pub cl_ord_id: String,
}

/// A request for a new parent order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// Optional client-chosen id; the engine assigns `P-n` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub symbol: String,
    pub side: Side,
    pub qty: f64,
    pub strategy: String,
    /// Start delay in simulated seconds from now (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_in_s: Option<f64>,
    /// Duration of the execution horizon in simulated seconds.
    pub duration_s: f64,
    #[serde(default)]
    pub params: RetuneParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<OrderOrigin>,
}

/// Commands a trader may send. Every command is checked centrally for permission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Pause {
        order_id: String,
    },
    Resume {
        order_id: String,
    },
    Cancel {
        order_id: String,
    },
    Retune {
        order_id: String,
        params: RetuneParams,
    },
    Override {
        order_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strategy: Option<String>,
        /// Number of decisions the override lasts; absent = until released.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decisions: Option<u32>,
    },
    ReleaseOverride {
        order_id: String,
    },
    KillSwitch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    ResumeAll,
    NewOrder {
        order: NewOrder,
    },
    /// Model kill switch: every order the model serves follows the baseline
    /// schedule instead, until `restore_model`.
    KillModel {
        model: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Undo `kill_model` (or a tripped guard): the model serves its orders again.
    RestoreModel {
        model: String,
    },
}

impl Command {
    /// The wire name of the command (its `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Pause { .. } => "pause",
            Command::Resume { .. } => "resume",
            Command::Cancel { .. } => "cancel",
            Command::Retune { .. } => "retune",
            Command::Override { .. } => "override",
            Command::ReleaseOverride { .. } => "release_override",
            Command::KillSwitch { .. } => "kill_switch",
            Command::ResumeAll => "resume_all",
            Command::NewOrder { .. } => "new_order",
            Command::KillModel { .. } => "kill_model",
            Command::RestoreModel { .. } => "restore_model",
        }
    }

    /// The parent order the command concerns, if any.
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Command::Pause { order_id }
            | Command::Resume { order_id }
            | Command::Cancel { order_id }
            | Command::Retune { order_id, .. }
            | Command::Override { order_id, .. }
            | Command::ReleaseOverride { order_id } => Some(order_id),
            Command::NewOrder { order } => order.id.as_deref(),
            Command::KillSwitch { .. }
            | Command::ResumeAll
            | Command::KillModel { .. }
            | Command::RestoreModel { .. } => None,
        }
    }

    /// The same, to rename it (a console over many engines names orders
    /// `<engine>/<id>`).
    pub fn order_id_mut(&mut self) -> Option<&mut String> {
        match self {
            Command::Pause { order_id }
            | Command::Resume { order_id }
            | Command::Cancel { order_id }
            | Command::Retune { order_id, .. }
            | Command::Override { order_id, .. }
            | Command::ReleaseOverride { order_id } => Some(order_id),
            Command::NewOrder { order } => order.id.as_mut(),
            Command::KillSwitch { .. }
            | Command::ResumeAll
            | Command::KillModel { .. }
            | Command::RestoreModel { .. } => None,
        }
    }

    /// Does the command change the state of the engine (as opposed to reading it)?
    /// Every command in protocol v1 does; the role check relies on this single place.
    pub fn is_mutating(&self) -> bool {
        true
    }
}
