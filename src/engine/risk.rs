//! Pre-trade controls. Every child order passes here before it reaches a
//! venue; a breach refuses the child and says why.

use super::market::{ChildKind, Px, Qty};
use super::scenario::Controls;
use crate::protocol::{OrderParams, Side};

/// A child order the tactics want to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposal {
    pub venue: usize,
    pub kind: ChildKind,
    pub qty: Qty,
}

impl Proposal {
    /// The price the child may execute at, in ticks (the mid for a dark peg).
    pub fn price_ticks(&self, mid_ticks: f64) -> f64 {
        match self.kind {
            ChildKind::Limit { price } | ChildKind::Ioc { price } => price as f64,
            ChildKind::MidPeg { .. } => mid_ticks,
        }
    }
}

/// What the checks need to know about the market and the order right now.
#[derive(Debug, Clone)]
pub struct CheckContext<'a> {
    pub side: Side,
    pub params: &'a OrderParams,
    pub controls: &'a Controls,
    pub venue_name: &'a str,
    pub venue_up: bool,
    pub tick_size: f64,
    pub lot_size: f64,
    pub mid_ticks: f64,
    /// Open quantity of the parent order (a remainder smaller than the minimum child may go).
    pub order_remaining: Qty,
    pub working_orders: usize,
    /// Our fills and the market's volume over the participation window, in lots.
    pub our_recent: Qty,
    pub market_recent: Qty,
}

/// Check one proposed child order. The message-rate and working-order limits
/// are engine-wide and checked by the caller through `RateLimiter`.
pub fn check(p: &Proposal, c: &CheckContext) -> Result<(), String> {
    let units = p.qty as f64 * c.lot_size;
    if p.qty <= 0 {
        return Err("child quantity must be positive".into());
    }
    if !c.params.venues.is_empty() && !c.params.venues.iter().any(|v| v == c.venue_name) {
        return Err(format!(
            "venue {} is not allowed for this order",
            c.venue_name
        ));
    }
    if !c.venue_up {
        return Err(format!("venue {} is down", c.venue_name));
    }
    if units > c.params.max_child_qty + 1e-9 {
        return Err(format!(
            "child of {units} exceeds the order's max child size {}",
            c.params.max_child_qty
        ));
    }
    if units + 1e-9 < c.params.min_child_qty && p.qty < c.order_remaining {
        return Err(format!(
            "child of {units} is below the order's min child size {}",
            c.params.min_child_qty
        ));
    }
    if units > c.controls.max_child_qty + 1e-9 {
        return Err(format!(
            "child of {units} exceeds the engine's max child volume {}",
            c.controls.max_child_qty
        ));
    }
    let price_ticks = p.price_ticks(c.mid_ticks);
    let price = price_ticks * c.tick_size;
    let value = price * units;
    if value > c.controls.max_child_value {
        return Err(format!(
            "child value {value:.0} exceeds the engine's max {:.0}",
            c.controls.max_child_value
        ));
    }
    if let Some(limit) = c.params.limit_price {
        let worse = match c.side {
            Side::Buy => price > limit + 1e-9,
            Side::Sell => price < limit - 1e-9,
        };
        if worse {
            return Err(format!(
                "price {price:.4} is through the order's limit {limit:.4}"
            ));
        }
    }
    if c.mid_ticks > 0.0 {
        let away = ((price_ticks - c.mid_ticks) / c.mid_ticks).abs() * 100.0;
        if away > c.controls.price_collar_pct {
            return Err(format!(
                "price {price:.4} is {away:.1}% from the mid, outside the {}% collar",
                c.controls.price_collar_pct
            ));
        }
    }
    if c.market_recent > 0 {
        let share = (c.our_recent + p.qty) as f64 / (c.market_recent + p.qty) as f64;
        // Tolerance: a single clip may overshoot a little on a quiet tape.
        if share > c.params.max_participation + 0.10 {
            return Err(format!(
                "participation would reach {:.0}%, above the order's max {:.0}%",
                share * 100.0,
                c.params.max_participation * 100.0
            ));
        }
    }
    Ok(())
}

/// Engine-wide message throttle over a sliding simulated second.
#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    sent: std::collections::VecDeque<u64>,
}

impl RateLimiter {
    /// Record a message at `now` if fewer than `max` were sent in the last second.
    pub fn try_send(&mut self, now: u64, max: u32) -> bool {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= 1_000_000_000)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= max as usize {
            return false;
        }
        self.sent.push_back(now);
        true
    }

    /// Count a message that must go regardless (a cancel).
    pub fn record(&mut self, now: u64) {
        self.sent.push_back(now);
    }
}

/// Whole lots in `units`, or None if `units` is not a positive whole number of lots.
pub fn to_lots(units: f64, lot_size: f64) -> Option<Qty> {
    if !units.is_finite() || units <= 0.0 {
        return None;
    }
    let lots = units / lot_size;
    let rounded = lots.round();
    if (lots - rounded).abs() > 1e-6 || !(1.0..=1e15).contains(&rounded) {
        return None;
    }
    Some(rounded as Qty)
}

/// Price in whole ticks, or None if not a positive multiple of the tick.
pub fn to_ticks(price: f64, tick: f64) -> Option<Px> {
    if !price.is_finite() || price <= 0.0 {
        return None;
    }
    let t = price / tick;
    let r = t.round();
    if (t - r).abs() > 1e-6 {
        return None;
    }
    Some(r as Px)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> OrderParams {
        OrderParams {
            urgency: 0.5,
            max_participation: 0.2,
            target_participation: 0.1,
            limit_price: Some(50.10),
            min_child_qty: 100.0,
            max_child_qty: 5000.0,
            venues: vec!["XNAS".into()],
        }
    }

    fn ctx<'a>(p: &'a OrderParams, c: &'a Controls) -> CheckContext<'a> {
        CheckContext {
            side: Side::Buy,
            params: p,
            controls: c,
            venue_name: "XNAS",
            venue_up: true,
            tick_size: 0.01,
            lot_size: 1.0,
            mid_ticks: 5000.0,
            order_remaining: 100_000,
            working_orders: 0,
            our_recent: 0,
            market_recent: 0,
        }
    }

    fn limit(price: Px, qty: Qty) -> Proposal {
        Proposal {
            venue: 0,
            kind: ChildKind::Limit { price },
            qty,
        }
    }

    #[test]
    fn each_control_refuses_with_a_reason() {
        let p = params();
        let c = Controls::default();
        assert!(check(&limit(5000, 1000), &ctx(&p, &c)).is_ok());
        type Tweak = Box<dyn Fn(&mut CheckContext)>;
        let cases: Vec<(Proposal, Tweak, &str)> = vec![
            (
                limit(5011, 1000),
                Box::new(|_| {}),
                "through the order's limit",
            ),
            (limit(5000, 6000), Box::new(|_| {}), "max child size"),
            (limit(5000, 50), Box::new(|_| {}), "min child size"),
            (
                limit(5000, 1000),
                Box::new(|x| x.venue_name = "ARCX"),
                "not allowed",
            ),
            (
                limit(5000, 1000),
                Box::new(|x| x.venue_up = false),
                "is down",
            ),
            (
                limit(4000, 1000),
                Box::new(|x| {
                    x.params = Box::leak(Box::new(OrderParams {
                        limit_price: None,
                        ..params()
                    }))
                }),
                "collar",
            ),
            (
                limit(5000, 1000),
                Box::new(|x| {
                    x.our_recent = 900;
                    x.market_recent = 1000;
                }),
                "participation",
            ),
            (
                limit(5000, 1000),
                Box::new(|x| {
                    x.controls = Box::leak(Box::new(Controls {
                        max_child_value: 10_000.0,
                        ..Controls::default()
                    }))
                }),
                "max 10000",
            ),
        ];
        for (prop, tweak, want) in cases {
            let mut cx = ctx(&p, &c);
            tweak(&mut cx);
            let err = check(&prop, &cx).unwrap_err();
            assert!(err.contains(want), "{err} should mention {want}");
        }
        // The order's last remainder may be smaller than the minimum child.
        let mut cx = ctx(&p, &c);
        cx.order_remaining = 50;
        assert!(check(&limit(5000, 50), &cx).is_ok());
    }

    #[test]
    fn rate_limiter_slides() {
        let mut r = RateLimiter::default();
        for i in 0..3 {
            assert!(r.try_send(i, 3));
        }
        assert!(!r.try_send(500_000_000, 3));
        assert!(r.try_send(1_000_000_001, 3));
    }

    #[test]
    fn lots_and_ticks_are_exact() {
        assert_eq!(to_lots(500.0, 1.0), Some(500));
        assert_eq!(to_lots(0.003, 0.001), Some(3));
        assert_eq!(to_lots(0.5, 1.0), None);
        assert_eq!(to_lots(-1.0, 1.0), None);
        assert_eq!(to_lots(f64::NAN, 1.0), None);
        assert_eq!(to_ticks(42.51, 0.01), Some(4251));
        assert_eq!(to_ticks(42.515, 0.01), None);
        assert_eq!(to_ticks(f64::INFINITY, 0.01), None);
    }
}
