//! Names on a console over many engines: every order id and symbol an engine
//! sends becomes `<engine>/<name>` (two engines both have a `P-1`, and two
//! simulations both trade an `ACME` that are different markets), and a
//! command for `<engine>/<order>` goes to that engine with its own name back.

use crate::protocol::bus::{qualify, split_qualified};
use crate::protocol::{Ack, Command, Event, SessionView};

fn q(engine: &str, name: &mut String) {
    *name = qualify(engine, name);
}

fn q_opt(engine: &str, name: &mut Option<String>) {
    if let Some(n) = name {
        q(engine, n);
    }
}

/// Qualify every order id and symbol in an event.
pub fn event(engine: &str, ev: &mut Event) {
    match ev {
        Event::Session { instruments, .. } => {
            for i in instruments {
                q(engine, &mut i.symbol);
            }
        }
        Event::EngineState { .. } | Event::ModelState(_) => {}
        Event::OrderNew { order } => {
            q(engine, &mut order.order_id);
            q(engine, &mut order.symbol);
        }
        Event::OrderState { order_id, .. }
        | Event::OrderProgress { order_id, .. }
        | Event::OrderParams { order_id, .. }
        | Event::ChildSent { order_id, .. }
        | Event::ChildCancelled { order_id, .. }
        | Event::Fill { order_id, .. } => q(engine, order_id),
        Event::Decision(d) => q(engine, &mut d.order_id),
        Event::Market(m) => q(engine, &mut m.symbol),
        Event::Alert(a) => q_opt(engine, &mut a.order_id),
        Event::CommandApplied { command, .. } => self::command(engine, command),
    }
}

/// Qualify the order ids a command names (for the audit lines a console shows).
pub fn command(engine: &str, c: &mut Command) {
    if let Some(id) = c.order_id_mut() {
        q(engine, id);
    }
    if let Command::NewOrder { order } = c {
        q(engine, &mut order.symbol);
    }
}

/// Qualify a whole view (an engine's keyframe) in place.
pub fn view(engine: &str, v: &mut SessionView) {
    for i in &mut v.instruments {
        q(engine, &mut i.symbol);
    }
    for o in &mut v.orders {
        q(engine, &mut o.info.order_id);
        q(engine, &mut o.info.symbol);
    }
    for m in &mut v.markets {
        q(engine, &mut m.symbol);
    }
    for a in &mut v.alerts {
        q_opt(engine, &mut a.order_id);
    }
}

pub fn ack(engine: &str, a: &mut Ack) {
    q_opt(engine, &mut a.order_id);
}

/// Where a command the trader gave goes: the engine its order names, with
/// the engine's own id back in it. `None` for a command that names no order
/// (kill switch, resume all, a model's kill switch): the caller picks the
/// scope. `Err` for an order id that names no engine.
pub fn route(c: &Command) -> Result<Option<(String, Command)>, String> {
    let Some(name) = c.order_id() else {
        return match c {
            Command::NewOrder { .. } => Err(
                "a new order on a console over many engines needs an id of the form ENGINE/ID"
                    .into(),
            ),
            _ => Ok(None),
        };
    };
    let Some((engine, _)) = split_qualified(name) else {
        return Err(format!("order {name:?} names no engine (ENGINE/ID)"));
    };
    let engine = engine.to_string();
    let mut local = c.clone();
    if let Some(id) = local.order_id_mut() {
        if let Some((_, rest)) = split_qualified(id) {
            *id = rest.to_string();
        }
    }
    if let Command::NewOrder { order } = &mut local {
        let prefix = format!("{engine}/");
        if let Some(rest) = order.symbol.strip_prefix(&prefix) {
            order.symbol = rest.to_string();
        }
    }
    Ok(Some((engine, local)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_command_goes_to_its_engine_with_its_own_id() {
        let c = Command::Pause {
            order_id: "us-2/P-7".into(),
        };
        let (engine, local) = route(&c).unwrap().unwrap();
        assert_eq!(engine, "us-2");
        assert_eq!(
            local,
            Command::Pause {
                order_id: "P-7".into()
            }
        );
        assert!(route(&Command::Pause {
            order_id: "P-7".into()
        })
        .is_err());
        assert_eq!(route(&Command::ResumeAll).unwrap(), None);
    }

    #[test]
    fn events_carry_qualified_names() {
        let mut ev = Event::Fill {
            order_id: "P-1".into(),
            child_id: "C-1".into(),
            venue: "XNAS".into(),
            venue_kind: crate::protocol::VenueKind::Lit,
            price: 1.0,
            qty: 1.0,
            liquidity: crate::protocol::Liquidity::Maker,
        };
        event("eu-1", &mut ev);
        let Event::Fill { order_id, .. } = ev else {
            unreachable!()
        };
        assert_eq!(order_id, "eu-1/P-1");
    }
}
