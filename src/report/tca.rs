//! Transaction cost analysis of one session, from its events alone.
//!
//! Conventions (stated in the report too):
//! - bps are of the order's arrival notional (`qty × arrival price`) unless
//!   said otherwise; positive = cost, for buys and sells alike (`side` = ±1);
//! - market prices come from the journal's `market` summaries (every 5 s of
//!   simulated time). Prices known at a moment (the mid when trading started,
//!   at the order's end) are the last summary at or before it;
//! - the mids around each fill (`FillMids`: just before it for spread
//!   capture, at fill + h for markouts) are exact when the report could
//!   re-simulate the session (`super::markouts`); otherwise they come from the
//!   summaries too (`Session::summary_mids`): the last one at or before the
//!   fill, and the first one at or after fill + h, so at +1 s and +10 s they
//!   land up to 5 s late: indicative at this resolution;
//! - interval VWAP: Σ Δvolume × last / Σ Δvolume over consecutive summaries in
//!   the order's life (our own fills included, as on a real tape);
//! - fees are not in the journal: `FeeSchedule` is an assumption.

use std::collections::{BTreeMap, HashMap};

use crate::protocol::{Command, Event, EventEnvelope, Liquidity, OrderInfo, Side, Ts, VenueKind};

/// Fees in dollars per share (negative = rebate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeeSchedule {
    pub lit_taker: f64,
    pub lit_maker: f64,
    pub dark: f64,
}

impl Default for FeeSchedule {
    /// Taker 0.30 ¢/share, maker rebate −0.20 ¢/share, dark 0.10 ¢/share.
    fn default() -> Self {
        FeeSchedule {
            lit_taker: 0.0030,
            lit_maker: -0.0020,
            dark: 0.0010,
        }
    }
}

impl FeeSchedule {
    pub fn per_share(&self, kind: VenueKind, liq: Liquidity) -> f64 {
        match (kind, liq) {
            (VenueKind::Dark, _) => self.dark,
            (_, Liquidity::Taker) => self.lit_taker,
            (_, Liquidity::Maker) => self.lit_maker,
        }
    }
}

pub const MARKOUT_HORIZONS_S: [u64; 4] = [1, 10, 60, 300];

/// The mids around one fill: the one prevailing just before it (spread
/// capture) and the one at fill time + each markout horizon.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FillMids {
    pub before: Option<f64>,
    pub after: [Option<f64>; 4],
}

#[derive(Debug, Clone, PartialEq)]
pub struct FillRec {
    pub ts: Ts,
    pub venue: String,
    pub kind: VenueKind,
    pub liquidity: Liquidity,
    pub price: f64,
    pub qty: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub ts: Ts,
    pub mid: f64,
    pub last: Option<f64>,
    pub volume: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRec {
    pub ts: Ts,
    pub action: String,
    pub confidence: f64,
    pub model: String,
    pub overridden: bool,
    pub features: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InterventionRec {
    pub seq: u64,
    pub ts: Ts,
    pub user: String,
    pub command: Command,
    pub ok: bool,
    pub reason: Option<String>,
}

/// Everything the report needs about one order, gathered from events.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderData {
    pub info: OrderInfo,
    pub arrival: Option<f64>,
    pub fills: Vec<FillRec>,
    /// (ts, filled, scheduled, slippage_bps) from each progress event.
    pub progress: Vec<(Ts, f64, f64, Option<f64>)>,
    pub decisions: Vec<DecisionRec>,
    /// Quantity sent per venue (child orders).
    pub sent: BTreeMap<String, f64>,
    pub first_child_ts: Option<Ts>,
    /// When the order reached a final state.
    pub end_ts: Option<Ts>,
    pub final_state: String,
    pub low_confidence_alerts: usize,
}

/// A session's events, sorted into what the analysis needs.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub orders: Vec<OrderData>,
    pub quotes: HashMap<String, Vec<Quote>>,
    pub interventions: Vec<InterventionRec>,
    pub alerts: Vec<(Ts, String, String, Option<String>)>,
    pub actions: Vec<String>,
    pub last_ts: Ts,
}

impl Session {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a EventEnvelope>) -> Session {
        let mut s = Session::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        for env in events {
            s.last_ts = s.last_ts.max(env.ts);
            let ts = env.ts;
            match &env.event {
                Event::Session { contract, .. } => s.actions = contract.actions.clone(),
                Event::OrderNew { order } => {
                    index.insert(order.order_id.clone(), s.orders.len());
                    s.orders.push(OrderData {
                        info: order.clone(),
                        arrival: None,
                        fills: Vec::new(),
                        progress: Vec::new(),
                        decisions: Vec::new(),
                        sent: BTreeMap::new(),
                        first_child_ts: None,
                        end_ts: None,
                        final_state: "pending".into(),
                        low_confidence_alerts: 0,
                    });
                }
                Event::OrderState {
                    order_id, state, ..
                } => {
                    if let Some(o) = index.get(order_id).map(|&i| &mut s.orders[i]) {
                        o.final_state = crate::protocol::text::state_label(*state).to_lowercase();
                        if state.is_terminal() {
                            o.end_ts = Some(ts);
                        }
                    }
                }
                Event::OrderProgress { order_id, progress } => {
                    if let Some(o) = index.get(order_id).map(|&i| &mut s.orders[i]) {
                        if progress.arrival_price.is_some() {
                            o.arrival = progress.arrival_price;
                        }
                        o.progress.push((
                            ts,
                            progress.filled,
                            progress.scheduled,
                            progress.slippage_bps,
                        ));
                    }
                }
                Event::OrderParams {
                    order_id, params, ..
                } => {
                    if let Some(o) = index.get(order_id).map(|&i| &mut s.orders[i]) {
                        o.info.params = params.clone();
                    }
                }
                Event::Decision(d) => {
                    if let Some(o) = index.get(&d.order_id).map(|&i| &mut s.orders[i]) {
                        o.decisions.push(DecisionRec {
                            ts,
                            action: d.action.clone(),
                            confidence: d.confidence,
                            model: d.model.clone(),
                            overridden: d.overridden,
                            features: d.features.clone(),
                        });
                    }
                }
                Event::ChildSent { order_id, child } => {
                    if let Some(o) = index.get(order_id).map(|&i| &mut s.orders[i]) {
                        *o.sent.entry(child.venue.clone()).or_default() += child.qty;
                        o.first_child_ts.get_or_insert(ts);
                    }
                }
                Event::Fill {
                    order_id,
                    venue,
                    venue_kind,
                    price,
                    qty,
                    liquidity,
                    ..
                } => {
                    if let Some(o) = index.get(order_id).map(|&i| &mut s.orders[i]) {
                        o.fills.push(FillRec {
                            ts,
                            venue: venue.clone(),
                            kind: *venue_kind,
                            liquidity: *liquidity,
                            price: *price,
                            qty: *qty,
                        });
                    }
                }
                Event::Market(m) => {
                    let mid = match (m.bid, m.ask) {
                        (Some(b), Some(a)) => Some((a + b) / 2.0),
                        _ => m.last,
                    };
                    if let Some(mid) = mid {
                        s.quotes.entry(m.symbol.clone()).or_default().push(Quote {
                            ts,
                            mid,
                            last: m.last,
                            volume: m.volume,
                        });
                    }
                }
                Event::Alert(a) => {
                    if a.code == "low_confidence" {
                        if let Some(o) = a
                            .order_id
                            .as_ref()
                            .and_then(|id| index.get(id))
                            .map(|&i| &mut s.orders[i])
                        {
                            o.low_confidence_alerts += 1;
                        }
                    }
                    s.alerts
                        .push((ts, a.code.clone(), a.message.clone(), a.order_id.clone()));
                }
                Event::CommandApplied {
                    user,
                    command,
                    ok,
                    reason,
                    ..
                } => s.interventions.push(InterventionRec {
                    seq: env.seq,
                    ts,
                    user: user.clone(),
                    command: command.clone(),
                    ok: *ok,
                    reason: reason.clone(),
                }),
                Event::EngineState { .. } | Event::ChildCancelled { .. } | Event::ModelState(_) => {
                }
            }
        }
        s
    }

    /// Mid of the first summary at or after `t` (the last one if none follows).
    pub fn mid_at(&self, symbol: &str, t: Ts) -> Option<f64> {
        let q = self.quotes.get(symbol)?;
        let i = q.partition_point(|x| x.ts < t);
        q.get(i).or(q.last()).map(|x| x.mid)
    }

    /// Mid of the last summary at or before `t` (the first one if none precedes).
    pub fn mid_before(&self, symbol: &str, t: Ts) -> Option<f64> {
        let q = self.quotes.get(symbol)?;
        let i = q.partition_point(|x| x.ts <= t);
        q.get(i.wrapping_sub(1)).or(q.first()).map(|x| x.mid)
    }

    /// The mids around each of `o`'s fills, from the summaries: the last one
    /// at or before the fill, the first one at or after fill + horizon.
    pub fn summary_mids(&self, o: &OrderData) -> Vec<FillMids> {
        let sym = o.info.symbol.as_str();
        o.fills
            .iter()
            .map(|f| FillMids {
                before: self.mid_before(sym, f.ts),
                after: MARKOUT_HORIZONS_S.map(|h| self.mid_at(sym, f.ts + h * 1_000_000_000)),
            })
            .collect()
    }

    /// Market VWAP and volume between `a` and `b`, from the summaries.
    pub fn interval_vwap(&self, symbol: &str, a: Ts, b: Ts) -> Option<(f64, f64)> {
        let q = self.quotes.get(symbol)?;
        let (mut pv, mut v) = (0.0, 0.0);
        for w in q.windows(2) {
            if w[1].ts <= a || w[1].ts > b {
                continue;
            }
            let dv = (w[1].volume - w[0].volume).max(0.0);
            let px = w[1].last.unwrap_or(w[1].mid);
            pv += dv * px;
            v += dv;
        }
        (v > 0.0).then(|| (pv / v, v))
    }
}

pub fn side_sign(side: Side) -> f64 {
    match side {
        Side::Buy => 1.0,
        Side::Sell => -1.0,
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VenueStats {
    pub venue: String,
    pub kind: String,
    pub qty: f64,
    pub notional: f64,
    pub fills: usize,
    pub sent: f64,
}

impl VenueStats {
    pub fn avg_price(&self) -> Option<f64> {
        (self.qty > 0.0).then(|| self.notional / self.qty)
    }
    pub fn fill_rate(&self) -> Option<f64> {
        (self.sent > 0.0).then(|| self.qty / self.sent)
    }
}

/// Per-order (or aggregate) cost figures. Money amounts in dollars; `*_bps`
/// of arrival notional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Costs {
    pub qty: f64,
    pub filled: f64,
    pub arrival_notional: f64,
    pub avg_price: Option<f64>,
    pub delay: f64,
    pub execution: f64,
    pub opportunity: f64,
    pub fees: f64,
    pub vwap: Option<f64>,
    pub vwap_slippage_bps: Option<f64>,
    pub market_volume: f64,
    pub maker_qty: f64,
    pub taker_qty: f64,
    pub dark_qty: f64,
    /// Σ side × (mid − price) × qty at each fill.
    pub spread_capture: f64,
    /// Σ side × (mid(t + h) − price) × qty, per horizon (positive = price moved our way).
    pub markouts: [f64; 4],
    pub venues: Vec<VenueStats>,
}

impl Costs {
    fn bps(&self, x: f64) -> f64 {
        if self.arrival_notional > 0.0 {
            x / self.arrival_notional * 1e4
        } else {
            0.0
        }
    }
    pub fn delay_bps(&self) -> f64 {
        self.bps(self.delay)
    }
    pub fn execution_bps(&self) -> f64 {
        self.bps(self.execution)
    }
    pub fn opportunity_bps(&self) -> f64 {
        self.bps(self.opportunity)
    }
    pub fn fees_bps(&self) -> f64 {
        self.bps(self.fees)
    }
    pub fn shortfall(&self) -> f64 {
        self.delay + self.execution + self.opportunity + self.fees
    }
    /// Implementation shortfall vs arrival, bps of arrival notional.
    pub fn shortfall_bps(&self) -> f64 {
        self.bps(self.shortfall())
    }
    pub fn fill_rate(&self) -> f64 {
        if self.qty > 0.0 {
            self.filled / self.qty
        } else {
            0.0
        }
    }
    pub fn participation(&self) -> Option<f64> {
        (self.market_volume > 0.0).then(|| self.filled / self.market_volume)
    }
    /// Filled notional at arrival prices (the base of per-fill figures).
    fn filled_notional(&self) -> f64 {
        if self.qty > 0.0 {
            self.arrival_notional * self.filled / self.qty
        } else {
            0.0
        }
    }
    /// Spread capture, bps of filled notional (positive = bought below / sold above mid).
    pub fn spread_capture_bps(&self) -> Option<f64> {
        let n = self.filled_notional();
        (n > 0.0).then(|| self.spread_capture / n * 1e4)
    }
    /// Markouts, bps of filled notional.
    pub fn markout_bps(&self, h: usize) -> Option<f64> {
        let n = self.filled_notional();
        (n > 0.0).then(|| self.markouts[h] / n * 1e4)
    }
    pub fn passive_share(&self) -> Option<f64> {
        (self.filled > 0.0).then(|| (self.maker_qty + self.dark_qty) / self.filled)
    }

    /// Sum of several orders' costs (bps then weight by arrival notional).
    pub fn add(&mut self, o: &Costs) {
        self.qty += o.qty;
        self.filled += o.filled;
        self.arrival_notional += o.arrival_notional;
        self.delay += o.delay;
        self.execution += o.execution;
        self.opportunity += o.opportunity;
        self.fees += o.fees;
        self.market_volume += o.market_volume;
        self.maker_qty += o.maker_qty;
        self.taker_qty += o.taker_qty;
        self.dark_qty += o.dark_qty;
        self.spread_capture += o.spread_capture;
        for h in 0..4 {
            self.markouts[h] += o.markouts[h];
        }
        for v in &o.venues {
            match self.venues.iter_mut().find(|x| x.venue == v.venue) {
                Some(x) => {
                    x.qty += v.qty;
                    x.notional += v.notional;
                    x.fills += v.fills;
                    x.sent += v.sent;
                }
                None => self.venues.push(v.clone()),
            }
        }
        self.avg_price = None;
        self.vwap = None;
        self.vwap_slippage_bps = None;
    }
}

/// Cost analysis of one order (Perold's decomposition against arrival):
/// - delay = side × (p₀ − p_arr) × filled, p₀ = mid when the first child order went out;
/// - execution = side × Σ qᵢ (pᵢ − p₀);
/// - opportunity = side × (p_end − p_arr) × unfilled, p_end = mid when the order ended;
/// - fees from the schedule.
///
/// Spread capture and markouts use the summaries' mids around each fill.
pub fn order_costs(s: &Session, o: &OrderData, fees: &FeeSchedule) -> Costs {
    order_costs_at(s, o, fees, &s.summary_mids(o))
}

/// `order_costs` with the mids around each fill given (one per fill, in
/// order), e.g. exact ones from a re-simulation.
pub fn order_costs_at(s: &Session, o: &OrderData, fees: &FeeSchedule, mids: &[FillMids]) -> Costs {
    assert_eq!(mids.len(), o.fills.len(), "one FillMids per fill");
    let side = side_sign(o.info.side);
    let sym = o.info.symbol.as_str();
    let arrival = o
        .arrival
        .or_else(|| s.mid_at(sym, o.info.start_ts))
        .unwrap_or(0.0);
    let filled: f64 = o.fills.iter().map(|f| f.qty).sum();
    let notional: f64 = o.fills.iter().map(|f| f.qty * f.price).sum();
    let end = o.end_ts.unwrap_or(s.last_ts.min(o.info.end_ts));
    let p0 = o
        .first_child_ts
        .and_then(|t| s.mid_before(sym, t))
        .unwrap_or(arrival);
    let p_end = s.mid_before(sym, end).unwrap_or(arrival);
    let mut c = Costs {
        qty: o.info.qty,
        filled,
        arrival_notional: o.info.qty * arrival,
        avg_price: (filled > 0.0).then(|| notional / filled),
        delay: side * (p0 - arrival) * filled,
        execution: side * o.fills.iter().map(|f| f.qty * (f.price - p0)).sum::<f64>(),
        opportunity: side * (p_end - arrival) * (o.info.qty - filled).max(0.0),
        fees: o
            .fills
            .iter()
            .map(|f| f.qty * fees.per_share(f.kind, f.liquidity))
            .sum(),
        ..Costs::default()
    };
    if let Some((vwap, vol)) = s.interval_vwap(sym, o.info.start_ts, end) {
        c.vwap = Some(vwap);
        c.market_volume = vol;
        c.vwap_slippage_bps = c.avg_price.map(|p| side * (p - vwap) / vwap * 1e4);
    }
    let mut venues: BTreeMap<String, VenueStats> = BTreeMap::new();
    for (f, m) in o.fills.iter().zip(mids) {
        match (f.kind, f.liquidity) {
            (VenueKind::Dark, _) => c.dark_qty += f.qty,
            (_, Liquidity::Maker) => c.maker_qty += f.qty,
            (_, Liquidity::Taker) => c.taker_qty += f.qty,
        }
        if let Some(mid) = m.before {
            c.spread_capture += side * (mid - f.price) * f.qty;
        }
        for (h, after) in m.after.iter().enumerate() {
            if let Some(mid) = after {
                c.markouts[h] += side * (mid - f.price) * f.qty;
            }
        }
        let v = venues.entry(f.venue.clone()).or_insert_with(|| VenueStats {
            venue: f.venue.clone(),
            kind: match f.kind {
                VenueKind::Dark => "dark".into(),
                VenueKind::Lit => "lit".into(),
            },
            ..Default::default()
        });
        v.qty += f.qty;
        v.notional += f.qty * f.price;
        v.fills += 1;
    }
    for (venue, sent) in &o.sent {
        venues
            .entry(venue.clone())
            .or_insert_with(|| VenueStats {
                venue: venue.clone(),
                kind: if venue.contains("DARK") {
                    "dark"
                } else {
                    "lit"
                }
                .into(),
                ..Default::default()
            })
            .sent += sent;
    }
    c.venues = venues.into_values().collect();
    c
}

/// What the model did on one order (or all).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelStats {
    pub decisions: usize,
    pub actions: BTreeMap<String, usize>,
    /// Ten bins over [0, 1].
    pub confidence_bins: [usize; 10],
    pub overridden: usize,
    pub below_threshold: usize,
    pub low_confidence_alerts: usize,
    pub models: BTreeMap<String, usize>,
}

pub fn model_stats<'a>(
    orders: impl IntoIterator<Item = &'a OrderData>,
    min_confidence: f64,
) -> ModelStats {
    let mut m = ModelStats::default();
    for o in orders {
        m.low_confidence_alerts += o.low_confidence_alerts;
        for d in &o.decisions {
            m.decisions += 1;
            *m.actions.entry(d.action.clone()).or_default() += 1;
            let bin = ((d.confidence * 10.0).floor() as usize).min(9);
            m.confidence_bins[bin] += 1;
            m.overridden += d.overridden as usize;
            m.below_threshold += (d.confidence < min_confidence) as usize;
            *m.models.entry(d.model.clone()).or_default() += 1;
        }
    }
    m
}
