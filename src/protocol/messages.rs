//! Message shapes, exactly as they appear on the wire (one JSON object per
//! WebSocket text frame). See `docs/protocol.md` for examples of each.

use serde::{Deserialize, Deserializer, Serialize};

pub use super::commands::{Command, NewOrder, OrderOrigin, RetuneParams};
use super::tagged;

/// Simulated time: nanoseconds since midnight of the session's trading day.
pub type Ts = u64;

/// Messages a client sends to the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(clippy::large_enum_variant)] // decoded once, handled, dropped
pub enum ClientMessage {
    Hello {
        protocol: u32,
        token: String,
        #[serde(default)]
        resume_from: Option<u64>,
        /// The engine run (`welcome.instance_id`) that `resume_from` counts in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_id: Option<String>,
    },
    Command {
        id: String,
        command: Command,
    },
    /// `t` is an opaque client value echoed in the `pong` (used to measure round trips).
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        t: Option<u64>,
    },
}

/// Messages the engine sends to a client.
///
/// `Deserialize` is written by hand (see `tagged`): it accepts the same JSON as
/// an internally tagged serde enum, without buffering the whole frame first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // decoded once, handled, dropped
pub enum ServerMessage {
    Welcome(Welcome),
    Snapshot(Box<Snapshot>),
    Event(EventEnvelope),
    Ack(Ack),
    Heartbeat {
        seq: u64,
        ts: Ts,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        t: Option<u64>,
    },
    /// The engine's FIX sessions (order entry from OMSs): sent after the
    /// welcome when the engine has a FIX gateway, and whenever one changes.
    /// Transport status, outside the event stream (not journalled).
    FixSessions {
        sessions: Vec<FixSessionInfo>,
    },
}

/// One FIX session of the engine's gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixSessionInfo {
    /// `SENDER→TARGET`, the OMS's CompID first.
    pub session: String,
    pub user: String,
    pub role: Role,
    pub logged_on: bool,
    /// The OMS's address while connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Next MsgSeqNum expected from the OMS, and the next one we send.
    pub next_in: u64,
    pub next_out: u64,
    /// Orders the session sent this run.
    pub orders: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol: u32,
    pub engine_id: String,
    pub session_id: String,
    pub role: Role,
    pub user: String,
    /// Sequence number of the last event the engine has emitted so far.
    pub last_seq: u64,
    /// How this connection will be brought up to date: `events` (missed events follow)
    /// or `snapshot` (a fresh snapshot follows).
    pub resume: ResumeMode,
    /// The engine run's epoch: the same across a recovery, new on a fresh start.
    /// A client resumes with it, and gets a snapshot if it names another run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance_id: String,
    /// Present when this run was recovered from the journal of a run that ended
    /// without a clean shutdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<Restart>,
}

/// How a recovered engine took over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restart {
    /// Simulated time the journal had reached (ns since midnight).
    pub at_ts: u64,
    /// Last event seq of the run before.
    pub at_seq: u64,
    /// Parent orders rebuilt from the journal.
    pub orders: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResumeMode {
    Events,
    Snapshot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Sequence number of the `command_applied` event, when the command reached the engine core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The id of the order a `new_order` created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON or not a known message shape.
    Malformed,
    /// The frame exceeds `MAX_FRAME_BYTES`.
    TooLarge,
    /// The first message was not `hello`, or the token is unknown.
    Unauthenticated,
    /// The client speaks another protocol version.
    UnsupportedProtocol,
    /// `hello` sent twice, binary frame, or similar misuse.
    BadRequest,
    /// The client fell too far behind; a snapshot follows.
    Resync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Trader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// +1 for a buy, -1 for a sell.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Pending,
    Working,
    Paused,
    Done,
    Cancelled,
    Rejected,
}

impl OrderState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderState::Done | OrderState::Cancelled | OrderState::Rejected
        )
    }

    /// The state's name as it is spelled on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Working => "working",
            OrderState::Paused => "paused",
            OrderState::Done => "done",
            OrderState::Cancelled => "cancelled",
            OrderState::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineState {
    Running,
    /// Kill switch engaged: no child orders until `resume_all`.
    Halted,
    /// The simulated session is over.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    Maker,
    Taker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    Lit,
    Dark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildType {
    /// Limit order resting (or crossing) at `price`.
    Limit,
    /// Dark pool order pegged to the midpoint, with a minimum execution size.
    MidPeg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Static description of a tradable instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentInfo {
    pub symbol: String,
    pub tick_size: f64,
    pub lot_size: f64,
    /// Decimal places to show prices with.
    pub price_decimals: u32,
    /// Decimal places to show quantities with.
    pub qty_decimals: u32,
    pub venues: Vec<VenueInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VenueInfo {
    pub name: String,
    pub kind: VenueKind,
}

/// The feature and action names that give meaning to `features` and `probs` vectors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContractInfo {
    pub version: u32,
    pub features: Vec<String>,
    pub actions: Vec<String>,
}

/// Tunable execution parameters of a parent order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderParams {
    /// 0 (patient) .. 1 (urgent). Drives the Almgren–Chriss risk aversion and catch-up eagerness.
    pub urgency: f64,
    /// Maximum fraction of market volume our fills may represent (0 < x ≤ 1).
    pub max_participation: f64,
    /// Target participation for POV.
    pub target_participation: f64,
    /// Worst acceptable price (buy: highest, sell: lowest); none = market.
    pub limit_price: Option<f64>,
    pub min_child_qty: f64,
    pub max_child_qty: f64,
    /// Venues child orders may go to (empty = all of the instrument's venues).
    pub venues: Vec<String>,
}

/// An active override of the order's strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Decisions left before the override lapses; none = until released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
    pub user: String,
}

/// Event with its gap-free sequence number and simulated timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub seq: u64,
    pub ts: Ts,
    pub event: Event,
}

/// Static and slow-changing facts about a parent order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderInfo {
    pub order_id: String,
    pub symbol: String,
    pub side: Side,
    pub qty: f64,
    pub strategy: String,
    pub start_ts: Ts,
    pub end_ts: Ts,
    pub params: OrderParams,
    /// The model that serves the order's decisions (adaptive orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ServedModel>,
    /// The FIX session and ClOrdID, for an order an OMS sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<OrderOrigin>,
}

/// Deployment status of a model in the registry (`models/registry.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Scored beside decisions, never trading.
    Shadow,
    /// Trades a limited share of orders while it earns trust.
    Canary,
    /// The champion: serves every order not given to a canary.
    Live,
    Retired,
    /// A model file given directly (`--policy`), outside the registry.
    Unregistered,
}

impl ModelStatus {
    pub fn name(self) -> &'static str {
        match self {
            ModelStatus::Shadow => "shadow",
            ModelStatus::Canary => "canary",
            ModelStatus::Live => "live",
            ModelStatus::Retired => "retired",
            ModelStatus::Unregistered => "unregistered",
        }
    }
}

/// Which model serves an order, and with what status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedModel {
    /// Registry name.
    pub name: String,
    /// `name@hash`, as decisions carry it.
    pub id: String,
    pub status: ModelStatus,
}

/// State of a model's live guard and kill switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardState {
    /// Serving its orders.
    Ok,
    /// Its realised cost passed the threshold against the baseline: orders follow the baseline.
    Tripped,
    /// A trader pulled its kill switch: orders follow the baseline.
    Killed,
}

/// A model as the engine deploys it: status, guard figures and kill switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStateInfo {
    pub name: String,
    pub id: String,
    pub status: ModelStatus,
    pub guard: GuardState,
    /// Realised cost of the model's orders minus the baseline schedule's over
    /// the same intervals, in bps of what the baseline would have traded
    /// (positive = the model costs more); none before enough has traded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_vs_baseline_bps: Option<f64>,
    pub threshold_bps: f64,
    /// Orders the model serves (working or done) this session.
    pub orders: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Progress of a parent order, emitted after fills and at each decision.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Progress {
    pub filled: f64,
    /// Quantity the baseline schedule expects done by now.
    pub scheduled: f64,
    /// Quantity resting in working child orders.
    pub working: f64,
    pub avg_price: Option<f64>,
    pub arrival_price: Option<f64>,
    /// Slippage of the average fill price against arrival, in bps, positive = cost.
    pub slippage_bps: Option<f64>,
}

/// A child order as described in a decision or `child_sent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildSpec {
    pub child_id: String,
    pub venue: String,
    pub child_type: ChildType,
    pub side: Side,
    pub qty: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
}

/// Best quotes and recent activity of one instrument, across its lit venues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketSummary {
    pub symbol: String,
    pub bid: Option<f64>,
    pub ask: Option<f64>,
    pub bid_size: f64,
    pub ask_size: f64,
    pub last: Option<f64>,
    /// Cumulative market volume today (all venues).
    pub volume: f64,
    pub regime: String,
    /// Venues currently unavailable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub venues_down: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertInfo {
    pub alert_id: u64,
    pub severity: Severity,
    /// Machine-readable reason: `control_breach`, `reject`, `venue_outage`, `low_confidence`, ...
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

/// The decision a strategy made at one decision interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionInfo {
    pub order_id: String,
    pub strategy: String,
    pub action: String,
    pub confidence: f64,
    /// Per-action probabilities, in the order of the contract's `actions`.
    pub probs: Vec<f64>,
    /// The feature vector, in the order of the contract's `features`.
    pub features: Vec<f64>,
    /// Model id (`name@hash`) or `rule` for a classic strategy.
    pub model: String,
    /// Deployment status of the model that decided, if a model did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_status: Option<ModelStatus>,
    pub overridden: bool,
    /// The engine followed the baseline schedule instead of the model's choice.
    #[serde(default)]
    pub fell_back: bool,
    /// Why it fell back: low confidence, the model's guard, its kill switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// Quantity this decision aimed to execute in the interval.
    pub target_qty: f64,
    pub children: Vec<ChildSpec>,
}

/// The event kinds, declared once: this generates `Event` (serialised with
/// a `kind` tag), its deserialising mirror (`EventDe`, read by the `tagged`
/// deserialiser), `Event::kind` and `Event::KINDS`. Adding a kind means adding
/// it here (and, if it is frequent, to the hand-written encoder in `codec`,
/// which otherwise falls back to serde for it).
macro_rules! event_kinds {
    ($($(#[$vmeta:meta])* $variant:ident $body:tt => $kind:literal,)*) => {
        /// Everything that happens in a session. Serialized with a `kind` tag.
        ///
        /// `Deserialize` is written by hand (see `tagged`), like `ServerMessage`'s.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum Event {
            $($(#[$vmeta])* $variant $body,)*
        }

        impl Event {
            /// Every kind, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$($kind,)*];

            pub fn kind(&self) -> &'static str {
                match self {
                    $(Event::$variant { .. } => $kind,)*
                }
            }
        }

        // The mirror of `Event` for deserialization: the same variants and
        // fields, externally tagged. `tagged` presents the tag and the rest of
        // the object to it as an enum, so each variant's fields are read
        // straight from the input.
        #[derive(Deserialize)]
        #[serde(remote = "Event", rename_all = "snake_case")]
        #[allow(dead_code, clippy::large_enum_variant)]
        enum EventDe {
            $($(#[$vmeta])* $variant $body,)*
        }
    };
}

event_kinds! {
    /// First event of a session: what is being run.
    Session {
        engine_id: String,
        session_id: String,
        scenario: String,
        seed: u64,
        instruments: Vec<InstrumentInfo>,
        contract: ContractInfo,
    } => "session",
    EngineState {
        state: EngineState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    } => "engine_state",
    OrderNew {
        order: OrderInfo,
    } => "order_new",
    OrderState {
        order_id: String,
        state: OrderState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    } => "order_state",
    OrderProgress {
        order_id: String,
        progress: Progress,
    } => "order_progress",
    OrderParams {
        order_id: String,
        params: OrderParams,
        #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
        override_: Option<OverrideInfo>,
        strategy: String,
        /// The order's new total quantity, when a retune changed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        qty: Option<f64>,
    } => "order_params",
    Decision(Box<DecisionInfo>) => "decision",
    ChildSent {
        order_id: String,
        child: ChildSpec,
    } => "child_sent",
    ChildCancelled {
        order_id: String,
        child_id: String,
        /// Quantity that was still open when cancelled.
        qty: f64,
        reason: String,
    } => "child_cancelled",
    Fill {
        order_id: String,
        child_id: String,
        venue: String,
        venue_kind: VenueKind,
        price: f64,
        qty: f64,
        liquidity: Liquidity,
    } => "fill",
    Market(MarketSummary) => "market",
    Alert(AlertInfo) => "alert",
    CommandApplied {
        command_id: String,
        user: String,
        command: Command,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    } => "command_applied",
    /// A deployed model's status, guard and kill switch changed (or its guard figure moved).
    ModelState(ModelStateInfo) => "model_state",
}

/// The whole picture of a session at `seq`: what a client needs to start from.
pub use super::view::SessionView as Snapshot;

impl<'de> Deserialize<'de> for ServerMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de> tagged::Tagged<'de> for ServerMessage {
    const TAG: &'static str = "type";
    const EXPECTING: &'static str = "a message object with a \"type\" field";
    fn from_variant<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ServerMessageDe::deserialize(d)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de> tagged::Tagged<'de> for Event {
    const TAG: &'static str = "kind";
    const EXPECTING: &'static str = "an event object with a \"kind\" field";
    fn from_variant<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EventDe::deserialize(d)
    }
}

// Mirrors of `ServerMessage` and `Event` for deserialization: the same
// variants and fields, externally tagged. `tagged` presents the tag and the
// rest of the object to them as an enum, so each variant's fields are read
// straight from the input. The compiler checks that every field matches;
// `codec::tests::every_variant_round_trips` checks that none is missing.
#[derive(Deserialize)]
#[serde(remote = "ServerMessage", rename_all = "snake_case")]
#[allow(dead_code, clippy::large_enum_variant)]
enum ServerMessageDe {
    Welcome(Welcome),
    Snapshot(Box<Snapshot>),
    Event(EventEnvelope),
    Ack(Ack),
    Heartbeat {
        seq: u64,
        ts: Ts,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    Pong {
        #[serde(default)]
        t: Option<u64>,
    },
    FixSessions {
        sessions: Vec<FixSessionInfo>,
    },
}
