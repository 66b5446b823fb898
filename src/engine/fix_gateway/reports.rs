//! From engine events to what an OMS is told: each order an OMS sent is
//! followed through the engine's own event stream (whoever acted on it: the
//! OMS, a trader at the console, the kill switch), and every change it must
//! hear of becomes an ExecutionReport computed from the engine's fills.

use crate::fix::Body;
use crate::protocol::{Command, EngineState, Event, EventEnvelope, Liquidity, OrderState, Side};

/// A request of the OMS's that the engine is working on.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Cancel { cl_ord_id: String, orig: String },
    Replace { cl_ord_id: String, orig: String },
}

/// An order an OMS sent, as the OMS knows it.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub order_id: String,
    /// Config name of the FIX session (`OMS1→VIGIL`).
    pub session: String,
    /// The ClOrdID the OMS now knows the order by (changes with each replace).
    pub cl_ord_id: String,
    /// The ClOrdID of its NewOrderSingle.
    pub origin_cl_ord_id: String,
    pub symbol: String,
    pub side: Side,
    pub qty: f64,
    pub cum_qty: f64,
    notional: f64,
    pub state: OrderState,
    /// The kill switch is engaged: the order is suspended until it is released.
    pub halted: bool,
    /// Created, its `new_order` not yet acknowledged: the New report waits
    /// for it, in case the pre-trade check rejects the order first.
    pub awaiting_ack: bool,
    pub pending: Option<Pending>,
}

impl Tracked {
    pub fn leaves(&self) -> f64 {
        if self.state.is_terminal() {
            0.0
        } else {
            (self.qty - self.cum_qty).max(0.0)
        }
    }

    pub fn avg_px(&self) -> f64 {
        if self.cum_qty > 0.0 {
            self.notional / self.cum_qty
        } else {
            0.0
        }
    }

    /// OrdStatus (39), by FIX's precedence of states.
    pub fn ord_status(&self) -> &'static str {
        match self.state {
            OrderState::Rejected => "8",
            OrderState::Cancelled => "4",
            OrderState::Done if self.cum_qty + 1e-9 >= self.qty => "2",
            OrderState::Done => "3",
            OrderState::Paused => "9",
            _ if self.halted => "9",
            _ if self.cum_qty + 1e-9 >= self.qty => "2",
            _ if self.cum_qty > 0.0 => "1",
            _ => "0",
        }
    }
}

/// A report to send, with the session it goes to.
pub struct Report {
    pub session: String,
    pub body: Body,
}

fn side_code(s: Side) -> &'static str {
    match s {
        Side::Buy => "1",
        Side::Sell => "2",
    }
}

/// Quantities and prices as FIX writes them: plain decimals, no exponent.
pub fn decimal(v: f64) -> String {
    let s = format!("{v:.8}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// An ExecutionReport (35=8) for a tracked order.
pub fn execution_report(t: &Tracked, exec_id: &str, exec_type: &str) -> Body {
    Body::new("8")
        .set(37, &t.order_id)
        .set(11, &t.cl_ord_id)
        .set(17, exec_id)
        .set(150, exec_type)
        .set(39, t.ord_status())
        .set(55, &t.symbol)
        .set(54, side_code(t.side))
        .set(38, decimal(t.qty))
        .set(151, decimal(t.leaves()))
        .set(14, decimal(t.cum_qty))
        .set(6, decimal(t.avg_px()))
        .set(
            60,
            crate::fix::message::utc_timestamp(std::time::SystemTime::now()),
        )
}

/// An ExecutionReport rejecting an order the engine never created.
pub fn rejected_new(
    cl_ord_id: &str,
    symbol: &str,
    side: Option<Side>,
    qty: f64,
    exec_id: &str,
    reason: u32,
    text: &str,
) -> Body {
    Body::new("8")
        .set(37, "NONE")
        .set(11, cl_ord_id)
        .set(17, exec_id)
        .set(150, "8")
        .set(39, "8")
        .set(55, symbol)
        .set(54, side.map(side_code).unwrap_or("1"))
        .set(38, decimal(qty.max(0.0)))
        .set(151, "0")
        .set(14, "0")
        .set(6, "0")
        .set(103, reason)
        .set(58, text)
        .set(
            60,
            crate::fix::message::utc_timestamp(std::time::SystemTime::now()),
        )
}

/// An OrderCancelReject (35=9).
pub fn cancel_reject(
    order_id: &str,
    status: &str,
    cl_ord_id: &str,
    orig: &str,
    response_to: u8,
    reason: u32,
    text: &str,
) -> Body {
    Body::new("9")
        .set(37, order_id)
        .set(11, cl_ord_id)
        .set(41, orig)
        .set(39, status)
        .set(434, response_to)
        .set(102, reason)
        .set(58, text)
}

/// The orders OMSs sent, followed through the event stream.
#[derive(Default)]
pub struct Book {
    pub orders: std::collections::HashMap<String, Tracked>,
    halted: bool,
}

impl Book {
    /// Apply one engine event; returns the reports it calls for. `current`
    /// gives the ClOrdID a session store remembers for an order (after a
    /// restart, replaces the event stream cannot tell).
    pub fn apply(
        &mut self,
        env: &EventEnvelope,
        exec_prefix: &str,
        current: &dyn Fn(&str, &str) -> Option<String>,
    ) -> Vec<Report> {
        let exec_id = format!("{exec_prefix}-{}", env.seq);
        let mut out = Vec::new();
        let mut report = |t: &Tracked, exec_type: &str, extra: &dyn Fn(Body) -> Body| {
            out.push(Report {
                session: t.session.clone(),
                // One event may report on several orders (the kill switch).
                body: extra(execution_report(
                    t,
                    &format!("{exec_id}-{}", t.order_id),
                    exec_type,
                )),
            })
        };
        match &env.event {
            Event::OrderNew { order } => {
                let Some(origin) = &order.origin else {
                    return out;
                };
                let cl = current(&origin.fix_session, &order.order_id)
                    .unwrap_or_else(|| origin.cl_ord_id.clone());
                self.orders.insert(
                    order.order_id.clone(),
                    Tracked {
                        order_id: order.order_id.clone(),
                        session: origin.fix_session.clone(),
                        cl_ord_id: cl,
                        origin_cl_ord_id: origin.cl_ord_id.clone(),
                        symbol: order.symbol.clone(),
                        side: order.side,
                        qty: order.qty,
                        cum_qty: 0.0,
                        notional: 0.0,
                        state: OrderState::Pending,
                        halted: self.halted,
                        awaiting_ack: true,
                        pending: None,
                    },
                );
            }
            Event::CommandApplied {
                command: Command::Retune { order_id, .. },
                command_id,
                ok: true,
                ..
            } => {
                let Some(t) = self.orders.get_mut(order_id) else {
                    return out;
                };
                let Some(Pending::Replace { cl_ord_id, orig }) = t.pending.clone() else {
                    return out;
                };
                if *command_id != super::command_id(&t.session, &cl_ord_id) {
                    return out;
                }
                t.pending = None;
                t.cl_ord_id = cl_ord_id;
                let t = t.clone();
                report(&t, "5", &|b| b.set(41, &orig));
            }
            Event::CommandApplied {
                command: Command::NewOrder { order },
                ok: true,
                ..
            } => {
                let Some(origin) = &order.origin else {
                    return out;
                };
                let found = self.orders.values_mut().find(|t| {
                    t.awaiting_ack
                        && t.session == origin.fix_session
                        && t.origin_cl_ord_id == origin.cl_ord_id
                });
                if let Some(t) = found {
                    t.awaiting_ack = false;
                    if !t.state.is_terminal() {
                        let t = t.clone();
                        report(&t, "0", &|b| b);
                    }
                }
            }
            Event::Fill {
                order_id,
                price,
                qty,
                venue,
                liquidity,
                ..
            } => {
                let Some(t) = self.orders.get_mut(order_id) else {
                    return out;
                };
                t.cum_qty += qty;
                t.notional += qty * price;
                let t = t.clone();
                let (px, q, venue) = (*price, *qty, venue.clone());
                let liq = match liquidity {
                    Liquidity::Maker => "1",
                    Liquidity::Taker => "2",
                };
                report(&t, "F", &|b| {
                    b.set(31, decimal(px))
                        .set(32, decimal(q))
                        .set(30, &venue)
                        .set(851, liq)
                });
            }
            Event::OrderParams { order_id, qty, .. } => {
                let Some(t) = self.orders.get_mut(order_id) else {
                    return out;
                };
                if let Some(q) = qty {
                    t.qty = *q;
                }
                // A replace the OMS asked for is reported by its own
                // `command_applied`; other parameter changes (overrides
                // lapsing, a trader's retune) by what they changed.
                let replacing = matches!(t.pending, Some(Pending::Replace { .. }));
                if qty.is_some() && !replacing {
                    let t = t.clone();
                    report(&t, "D", &|b| {
                        b.set(378, 4).set(58, "quantity changed at the console")
                    });
                }
            }
            Event::OrderState {
                order_id,
                state,
                reason,
            } => {
                let Some(t) = self.orders.get_mut(order_id) else {
                    return out;
                };
                let before = t.state;
                t.state = *state;
                let text = reason.clone().unwrap_or_default();
                match state {
                    OrderState::Cancelled => {
                        let pending = t.pending.take();
                        let t = t.clone();
                        match pending {
                            Some(Pending::Cancel { cl_ord_id, orig }) => {
                                // From now on the OMS knows it by the cancel's ClOrdID.
                                if let Some(o) = self.orders.get_mut(order_id) {
                                    o.cl_ord_id = cl_ord_id.clone();
                                }
                                let mut shown = t.clone();
                                shown.cl_ord_id = cl_ord_id;
                                report(&shown, "4", &|b| b.set(41, &orig).set(58, &text));
                            }
                            _ => report(&t, "4", &|b| b.set(41, &t.cl_ord_id).set(58, &text)),
                        }
                    }
                    OrderState::Rejected => {
                        t.awaiting_ack = false;
                        let t = t.clone();
                        report(&t, "8", &|b| {
                            b.set(103, super::entry::rejection_code(&text))
                                .set(58, &text)
                        });
                    }
                    OrderState::Done if t.cum_qty + 1e-9 < t.qty => {
                        let t = t.clone();
                        report(&t, "3", &|b| b.set(58, &text));
                    }
                    OrderState::Paused => {
                        let t = t.clone();
                        report(&t, "9", &|b| b.set(58, &text));
                    }
                    OrderState::Working if before == OrderState::Paused => {
                        let t = t.clone();
                        report(&t, "D", &|b| b.set(378, 4).set(58, &text));
                    }
                    _ => {}
                }
            }
            Event::EngineState { state, reason } => {
                let halted = *state == EngineState::Halted;
                if halted == self.halted {
                    return out;
                }
                self.halted = halted;
                let text = reason.clone().unwrap_or_else(|| {
                    if halted {
                        "kill switch".into()
                    } else {
                        "trading resumed".into()
                    }
                });
                let mut live: Vec<&mut Tracked> = self
                    .orders
                    .values_mut()
                    .filter(|t| !t.state.is_terminal())
                    .collect();
                live.sort_by(|a, b| a.order_id.cmp(&b.order_id));
                for t in live {
                    t.halted = halted;
                    if t.state == OrderState::Paused {
                        continue;
                    }
                    let t = t.clone();
                    if halted {
                        report(&t, "9", &|b| b.set(58, &text));
                    } else {
                        report(&t, "D", &|b| b.set(378, 4).set(58, &text));
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Take up the OMSs' orders from a snapshot (when the event log no longer
    /// reaches back to them).
    pub fn seed(
        &mut self,
        view: &crate::protocol::SessionView,
        current: &dyn Fn(&str, &str) -> Option<String>,
    ) {
        for o in &view.orders {
            let Some(origin) = &o.info.origin else {
                continue;
            };
            let filled = o.progress.filled;
            self.orders.insert(
                o.info.order_id.clone(),
                Tracked {
                    order_id: o.info.order_id.clone(),
                    session: origin.fix_session.clone(),
                    cl_ord_id: current(&origin.fix_session, &o.info.order_id)
                        .unwrap_or_else(|| origin.cl_ord_id.clone()),
                    origin_cl_ord_id: origin.cl_ord_id.clone(),
                    symbol: o.info.symbol.clone(),
                    side: o.info.side,
                    qty: o.info.qty,
                    cum_qty: filled,
                    notional: filled * o.progress.avg_price.unwrap_or(0.0),
                    state: o.state,
                    halted: view.state == EngineState::Halted,
                    awaiting_ack: false,
                    pending: None,
                },
            );
        }
        self.halted = view.state == EngineState::Halted;
    }

    /// The order an OMS knows by `cl_ord_id` in `session`, live or not.
    pub fn by_cl_ord_id(&self, session: &str, cl_ord_id: &str) -> Option<&Tracked> {
        self.orders
            .values()
            .find(|t| t.session == session && t.cl_ord_id == cl_ord_id)
    }
}

/// Events that can change what an OMS is told; the rest (market data,
/// decisions, child orders) are skipped without decoding them.
pub fn may_concern_orders(frame: &str) -> bool {
    const KINDS: &[&str] = &[
        "order_new",
        "order_params",
        "order_state",
        "fill",
        "engine_state",
        "command_applied",
    ];
    match frame.find("\"kind\":\"") {
        Some(at) => {
            let rest = &frame[at + 8..];
            KINDS
                .iter()
                .any(|k| rest.starts_with(k) && rest[k.len()..].starts_with('"'))
        }
        None => true,
    }
}
