//! Reading an OMS's application messages: NewOrderSingle (D),
//! OrderCancelRequest (F) and OrderCancelReplaceRequest (G) become engine
//! requests, or the refusal FIX prescribes for what is wrong with them:
//! a session Reject for a field that is missing or unreadable, a
//! BusinessMessageReject for a message type vigil does not take, an
//! ExecutionReport (Rejected) or OrderCancelReject for an order it will not
//! work.

use crate::fix::message::{is_utc_timestamp, parse_decimal};
use crate::fix::session::reject;
use crate::fix::{Message, SessionConfig};
use crate::protocol::{NewOrder, RetuneParams, Side};

/// TargetStrategy (847) codes: 1 and 2 are FIX's own; 1000 and up are the
/// user-defined range, documented in docs/fix.md.
pub const STRATEGIES: &[(u32, &str)] = &[
    (1, "vwap"),
    (2, "pov"),
    (1000, "twap"),
    (1001, "almgren_chriss"),
    (1002, "adaptive"),
];

/// OrdRejReason (103) values used here.
pub mod ord_rej {
    pub const BROKER_OPTION: u32 = 0;
    pub const UNKNOWN_SYMBOL: u32 = 1;
    pub const EXCEEDS_LIMIT: u32 = 3;
    pub const DUPLICATE: u32 = 6;
    pub const UNSUPPORTED: u32 = 11;
    pub const INCORRECT_QUANTITY: u32 = 13;
    pub const OTHER: u32 = 99;
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    New {
        cl_ord_id: String,
        order: NewOrder,
    },
    Cancel {
        cl_ord_id: String,
        orig: String,
    },
    Replace {
        cl_ord_id: String,
        orig: String,
        params: RetuneParams,
    },
}

/// What is wrong with a message, and the answer it gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// Session Reject (35=3).
    Session { reason: u32, tag: u32, text: String },
    /// BusinessMessageReject (35=j): 380 reason, 379 the ClOrdID if known.
    Business {
        reason: u32,
        ref_id: Option<String>,
        text: String,
    },
    /// ExecutionReport with OrdStatus=Rejected.
    Order {
        cl_ord_id: String,
        symbol: String,
        side: Option<Side>,
        qty: f64,
        reason: u32,
        text: String,
    },
    /// OrderCancelReject (35=9); `response_to` is 434 (1 cancel, 2 replace).
    Cancel {
        cl_ord_id: String,
        orig: String,
        response_to: u8,
        reason: u32,
        text: String,
    },
}

fn missing(tag: u32, name: &str) -> Refused {
    Refused::Session {
        reason: reject::REQUIRED_TAG_MISSING,
        tag,
        text: format!("{name} ({tag}) is required"),
    }
}

fn field<'a>(m: &'a Message, tag: u32, name: &str) -> Result<&'a str, Refused> {
    m.get(tag).ok_or_else(|| missing(tag, name))
}

fn decimal(m: &Message, tag: u32, name: &str) -> Result<f64, Refused> {
    let v = field(m, tag, name)?;
    parse_decimal(v).ok_or_else(|| Refused::Session {
        reason: reject::INCORRECT_DATA_FORMAT,
        tag,
        text: format!("{name} ({tag}) {v:?} is not a decimal number"),
    })
}

fn transact_time(m: &Message) -> Result<(), Refused> {
    let v = field(m, 60, "TransactTime")?;
    if is_utc_timestamp(v) {
        Ok(())
    } else {
        Err(Refused::Session {
            reason: reject::INCORRECT_DATA_FORMAT,
            tag: 60,
            text: format!("TransactTime (60) {v:?} is not YYYYMMDD-HH:MM:SS[.sss]"),
        })
    }
}

/// ClOrdIDs are kept in the session store and shown in the console: printable, no spaces.
fn order_id_field(m: &Message, tag: u32, name: &str) -> Result<String, Refused> {
    let v = field(m, tag, name)?;
    if v.len() > 64 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refused::Session {
            reason: reject::VALUE_INCORRECT,
            tag,
            text: format!("{name} ({tag}) must be 1-64 printable characters without spaces"),
        });
    }
    Ok(v.to_string())
}

/// Side (54): buy and sell are worked; the other FIX sides are refused as
/// unsupported, anything else is not a Side.
fn side(m: &Message) -> Result<Result<Side, String>, Refused> {
    match field(m, 54, "Side")? {
        "1" => Ok(Ok(Side::Buy)),
        "2" => Ok(Ok(Side::Sell)),
        v if v.len() == 1 && matches!(v.as_bytes()[0], b'3'..=b'9' | b'A'..=b'G') => Ok(Err(
            format!("Side (54) {v} is not supported: vigil works buy (1) and sell (2) orders"),
        )),
        v => Err(Refused::Session {
            reason: reject::VALUE_INCORRECT,
            tag: 54,
            text: format!("Side (54) {v:?} is not a FIX side"),
        }),
    }
}

/// OrdType (40): market or limit. Returns whether it is a limit order.
fn ord_type(m: &Message) -> Result<Result<bool, String>, Refused> {
    match field(m, 40, "OrdType")? {
        "1" => Ok(Ok(false)),
        "2" => Ok(Ok(true)),
        v if v.len() == 1 && v.as_bytes()[0].is_ascii_alphanumeric() => Ok(Err(format!(
            "OrdType (40) {v} is not supported: market (1) or limit (2)"
        ))),
        v => Err(Refused::Session {
            reason: reject::VALUE_INCORRECT,
            tag: 40,
            text: format!("OrdType (40) {v:?} is not a FIX order type"),
        }),
    }
}

/// What TargetStrategyParameters (848) may say: `key=value;key=value`.
struct StrategyParams {
    retune: RetuneParams,
    duration_s: Option<f64>,
    start_in_s: Option<f64>,
}

fn strategy_params(text: Option<&str>) -> Result<StrategyParams, String> {
    let mut p = StrategyParams {
        retune: RetuneParams::default(),
        duration_s: None,
        start_in_s: None,
    };
    let Some(text) = text else { return Ok(p) };
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("TargetStrategyParameters (848): {item:?} is not key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        let num = || {
            parse_decimal(v)
                .ok_or_else(|| format!("TargetStrategyParameters (848): {k}={v:?} is not a number"))
        };
        match k {
            "urgency" => p.retune.urgency = Some(num()?),
            "max_participation" => p.retune.max_participation = Some(num()?),
            "target_participation" => p.retune.target_participation = Some(num()?),
            "min_child_qty" => p.retune.min_child_qty = Some(num()?),
            "max_child_qty" => p.retune.max_child_qty = Some(num()?),
            "venues" => p.retune.venues = Some(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()),
            "duration_s" => p.duration_s = Some(num()?),
            "start_in_s" => p.start_in_s = Some(num()?),
            other => {
                return Err(format!(
                    "TargetStrategyParameters (848): unknown parameter {other:?} (urgency, max_participation, target_participation, min_child_qty, max_child_qty, venues, duration_s, start_in_s)"
                ))
            }
        }
    }
    Ok(p)
}

/// An application message from the OMS, read.
pub fn parse(m: &Message, cfg: &SessionConfig) -> Result<Request, Refused> {
    match m.msg_type() {
        "D" => new_order(m, cfg),
        "F" => cancel(m),
        "G" => replace(m),
        t => Err(Refused::Business {
            reason: 3,
            ref_id: None,
            text: format!("MsgType {t} is not supported: vigil takes NewOrderSingle (D), OrderCancelRequest (F) and OrderCancelReplaceRequest (G)"),
        }),
    }
}

fn new_order(m: &Message, cfg: &SessionConfig) -> Result<Request, Refused> {
    let cl_ord_id = order_id_field(m, 11, "ClOrdID")?;
    let symbol = field(m, 55, "Symbol")?.to_string();
    let side = side(m)?;
    transact_time(m)?;
    let qty = decimal(m, 38, "OrderQty")?;
    let limit = ord_type(m)?;
    let price = match m.get(44) {
        Some(_) => Some(decimal(m, 44, "Price")?),
        None => None,
    };
    let strategy = match m.get(847) {
        Some(v) => Some(v.parse::<u32>().map_err(|_| Refused::Session {
            reason: reject::INCORRECT_DATA_FORMAT,
            tag: 847,
            text: format!("TargetStrategy (847) {v:?} is not an integer"),
        })?),
        None => None,
    };
    let participation = match m.get(849) {
        Some(_) => Some(decimal(m, 849, "ParticipationRate")?),
        None => None,
    };
    let refuse = |reason: u32, text: String| Refused::Order {
        cl_ord_id: cl_ord_id.clone(),
        symbol: symbol.clone(),
        side: side.clone().ok(),
        qty,
        reason,
        text,
    };
    let side = side.clone().map_err(|t| refuse(ord_rej::UNSUPPORTED, t))?;
    let limit = limit.map_err(|t| refuse(ord_rej::UNSUPPORTED, t))?;
    if limit && price.is_none() {
        return Err(Refused::Business {
            reason: 5,
            ref_id: Some(cl_ord_id.clone()),
            text: "a limit order (40=2) needs Price (44)".into(),
        });
    }
    if qty <= 0.0 {
        return Err(refuse(
            ord_rej::INCORRECT_QUANTITY,
            format!("OrderQty (38) {qty} must be above 0"),
        ));
    }
    let codes = || {
        STRATEGIES
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let strategy = match strategy {
        None => {
            return Err(refuse(
                ord_rej::UNSUPPORTED,
                format!("TargetStrategy (847) is required: {}", codes()),
            ))
        }
        Some(code) => match STRATEGIES.iter().find(|(c, _)| *c == code) {
            Some((_, name)) => name.to_string(),
            None => {
                return Err(refuse(
                    ord_rej::UNSUPPORTED,
                    format!("TargetStrategy (847) {code} is not one of: {}", codes()),
                ))
            }
        },
    };
    let mut p = strategy_params(m.get(848)).map_err(|t| refuse(ord_rej::UNSUPPORTED, t))?;
    if limit {
        p.retune.limit_price = price;
    }
    if let Some(rate) = participation {
        p.retune.target_participation = Some(rate);
    }
    Ok(Request::New {
        cl_ord_id: cl_ord_id.clone(),
        order: NewOrder {
            id: None,
            symbol,
            side,
            qty,
            strategy,
            start_in_s: p.start_in_s,
            duration_s: p.duration_s.unwrap_or(cfg.default_duration_s),
            params: p.retune,
            origin: None,
        },
    })
}

fn cancel(m: &Message) -> Result<Request, Refused> {
    let cl_ord_id = order_id_field(m, 11, "ClOrdID")?;
    let orig = order_id_field(m, 41, "OrigClOrdID")?;
    field(m, 55, "Symbol")?;
    let _ = side(m)?;
    transact_time(m)?;
    Ok(Request::Cancel { cl_ord_id, orig })
}

fn replace(m: &Message) -> Result<Request, Refused> {
    let cl_ord_id = order_id_field(m, 11, "ClOrdID")?;
    let orig = order_id_field(m, 41, "OrigClOrdID")?;
    field(m, 55, "Symbol")?;
    let _ = side(m)?;
    transact_time(m)?;
    let qty = decimal(m, 38, "OrderQty")?;
    let limit = ord_type(m)?;
    let refuse = |reason: u32, text: String| Refused::Cancel {
        cl_ord_id: cl_ord_id.clone(),
        orig: orig.clone(),
        response_to: 2,
        reason,
        text,
    };
    let limit = limit.map_err(|t| refuse(ord_rej::OTHER, t))?;
    let price = match m.get(44) {
        Some(_) => Some(decimal(m, 44, "Price")?),
        None => None,
    };
    if limit && price.is_none() {
        return Err(refuse(
            ord_rej::OTHER,
            "a limit order (40=2) needs Price (44)".into(),
        ));
    }
    let p = strategy_params(m.get(848)).map_err(|t| refuse(ord_rej::OTHER, t))?;
    if p.duration_s.is_some() || p.start_in_s.is_some() {
        return Err(refuse(
            ord_rej::OTHER,
            "an order's horizon cannot be replaced: cancel and send a new order".into(),
        ));
    }
    let mut params = p.retune;
    params.qty = Some(qty);
    if limit {
        params.limit_price = price;
    } else {
        params.clear_limit = true;
    }
    Ok(Request::Replace {
        cl_ord_id,
        orig,
        params,
    })
}

/// OrdRejReason for the engine's own refusal of a new order.
pub fn rejection_code(reason: &str) -> u32 {
    if reason.starts_with("unknown symbol") {
        ord_rej::UNKNOWN_SYMBOL
    } else if reason.contains("exceeds") || reason.contains("more than") {
        ord_rej::EXCEEDS_LIMIT
    } else if reason.starts_with("quantity") {
        ord_rej::INCORRECT_QUANTITY
    } else if reason.contains("limit_price") {
        ord_rej::BROKER_OPTION
    } else {
        ord_rej::OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::config::FixRole;
    use crate::fix::Frame;

    fn cfg() -> SessionConfig {
        SessionConfig {
            sender_comp_id: "OMS1".into(),
            target_comp_id: "VIGIL".into(),
            user: "desk".into(),
            role: FixRole::Trader,
            store_sync: false,
            default_duration_s: 1800.0,
        }
    }

    fn msg(text: &str) -> Message {
        let body = text.replace('|', "\x01");
        let mut raw = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
        let sum = crate::fix::message::checksum(&raw);
        raw.extend(format!("10={sum:03}\x01").bytes());
        let mut f = crate::fix::Framer::default();
        f.push(&raw);
        match f.next_frame() {
            Some(Frame::Message(m, _)) => m,
            other => panic!("{other:?}"),
        }
    }

    const T: &str = "60=20261203-10:00:00|";

    #[test]
    fn a_new_order_becomes_an_engine_order() {
        let m = msg(&format!("35=D|11=A-1|55=ACME|54=2|38=5000|40=2|44=99.5|847=1000|848=urgency=0.7; duration_s=600|{T}"));
        match parse(&m, &cfg()).unwrap() {
            Request::New { cl_ord_id, order } => {
                assert_eq!(cl_ord_id, "A-1");
                assert_eq!(
                    (order.side, order.qty, order.strategy.as_str()),
                    (Side::Sell, 5000.0, "twap")
                );
                assert_eq!(order.params.limit_price, Some(99.5));
                assert_eq!(order.params.urgency, Some(0.7));
                assert_eq!(order.duration_s, 600.0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_fault_gets_its_answer() {
        let base = format!("35=D|11=A-1|55=ACME|54=1|38=100|40=1|847=1|{T}");
        let cases: Vec<(String, &str)> = vec![
            (base.replace("38=100|", ""), "session 1 38"),
            (base.replace("38=100", "38=1e18"), "session 6 38"),
            (base.replace("38=100", "38=abc"), "session 6 38"),
            (base.replace("40=1", "40=2|44=NaN"), "session 6 44"),
            (base.replace("40=1", "40=2"), "business 5"),
            (base.replace("54=1", "54=Z"), "session 5 54"),
            (base.replace("54=1", "54=5"), "order 11"),
            (base.replace("38=100", "38=0"), "order 13"),
            (base.replace("847=1", "847=7"), "order 11"),
            (base.replace("847=1|", ""), "order 11"),
            (format!("{base}848=speed=9|"), "order 11"),
            (
                base.replace("60=20261203-10:00:00", "60=yesterday"),
                "session 6 60",
            ),
            (base.replace("11=A-1", "11=A 1"), "session 5 11"),
            (base.replace("35=D", "35=R"), "business 3"),
        ];
        for (text, want) in cases {
            let got = match parse(&msg(&text), &cfg()) {
                Err(Refused::Session { reason, tag, .. }) => format!("session {reason} {tag}"),
                Err(Refused::Business { reason, .. }) => format!("business {reason}"),
                Err(Refused::Order { reason, .. }) => format!("order {reason}"),
                other => format!("{other:?}"),
            };
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn replace_names_the_new_quantity_and_limit() {
        let m = msg(&format!(
            "35=G|11=A-2|41=A-1|55=ACME|54=1|38=8000|40=1|848=urgency=0.2|{T}"
        ));
        match parse(&m, &cfg()).unwrap() {
            Request::Replace {
                cl_ord_id,
                orig,
                params,
            } => {
                assert_eq!((cl_ord_id.as_str(), orig.as_str()), ("A-2", "A-1"));
                assert_eq!(params.qty, Some(8000.0));
                assert!(params.clear_limit);
                assert_eq!(params.urgency, Some(0.2));
            }
            other => panic!("{other:?}"),
        }
    }
}
