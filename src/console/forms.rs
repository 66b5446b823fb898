//! The retune and override forms, and the validation shared with the command
//! line: nothing invalid is ever sent to the engine.

use crate::protocol::view::OrderView;
use crate::protocol::{Command, RetuneParams};

/// Editable text fields of the retune form, in display order.
pub const RETUNE_FIELDS: [&str; 4] = ["urgency", "max_participation", "limit_price", "venues"];

#[derive(Debug, Clone, PartialEq)]
pub struct RetuneForm {
    pub order_id: String,
    pub fields: [String; 4],
    pub focus: usize,
    /// Venues the order's instrument trades on (for validation).
    pub known_venues: Vec<String>,
    pub error: Option<String>,
}

impl RetuneForm {
    pub fn for_order(order: &OrderView, known_venues: Vec<String>) -> Self {
        let p = &order.info.params;
        RetuneForm {
            order_id: order.info.order_id.clone(),
            fields: [
                format!("{}", p.urgency),
                format!("{}", p.max_participation),
                p.limit_price.map_or_else(String::new, |x| format!("{x}")),
                p.venues.join(","),
            ],
            focus: 0,
            known_venues,
            error: None,
        }
    }

    /// Validate every field and build the command; the error names the field.
    pub fn to_command(&self) -> Result<Command, String> {
        let mut params = RetuneParams::default();
        for (name, value) in RETUNE_FIELDS.iter().zip(&self.fields) {
            set_retune_field(&mut params, name, value, &self.known_venues)?;
        }
        if self.fields[2].trim().is_empty() {
            params.limit_price = None;
            params.clear_limit = true;
        }
        Ok(Command::Retune {
            order_id: self.order_id.clone(),
            params,
        })
    }
}

fn number(name: &str, value: &str) -> Result<f64, String> {
    let x: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{name}: `{value}` is not a number"))?;
    if !x.is_finite() {
        return Err(format!("{name}: must be finite"));
    }
    Ok(x)
}

/// Set one retune parameter from text, with the engine's own bounds.
pub fn set_retune_field(
    params: &mut RetuneParams,
    name: &str,
    value: &str,
    known_venues: &[String],
) -> Result<(), String> {
    match name {
        "urgency" => {
            let x = number(name, value)?;
            if !(0.0..=1.0).contains(&x) {
                return Err("urgency: must be between 0 and 1".into());
            }
            params.urgency = Some(x);
        }
        "max_participation" | "target_participation" => {
            let x = number(name, value)?;
            if !(x > 0.0 && x <= 1.0) {
                return Err(format!("{name}: must be in (0, 1]"));
            }
            if name == "max_participation" {
                params.max_participation = Some(x);
            } else {
                params.target_participation = Some(x);
            }
        }
        "limit_price" => {
            let v = value.trim();
            if v.is_empty() || v == "none" {
                params.limit_price = None;
                params.clear_limit = true;
            } else {
                let x = number(name, v)?;
                if x <= 0.0 {
                    return Err("limit_price: must be positive (empty = no limit)".into());
                }
                params.limit_price = Some(x);
                params.clear_limit = false;
            }
        }
        "min_child_qty" | "max_child_qty" => {
            let x = number(name, value)?;
            if x <= 0.0 {
                return Err(format!("{name}: must be positive"));
            }
            if name == "min_child_qty" {
                params.min_child_qty = Some(x);
            } else {
                params.max_child_qty = Some(x);
            }
        }
        "venues" => {
            let venues: Vec<String> = value
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            if !known_venues.is_empty() {
                if let Some(bad) = venues.iter().find(|v| !known_venues.contains(v)) {
                    return Err(format!(
                        "venues: unknown venue `{bad}` (known: {})",
                        known_venues.join(", ")
                    ));
                }
            }
            params.venues = Some(venues);
        }
        other => return Err(format!("unknown parameter `{other}`")),
    }
    if let (Some(lo), Some(hi)) = (params.min_child_qty, params.max_child_qty) {
        if lo > hi {
            return Err("min_child_qty must not exceed max_child_qty".into());
        }
    }
    Ok(())
}

/// What an override forces.
#[derive(Debug, Clone, PartialEq)]
pub enum OverrideTarget {
    Action(String),
    Strategy(String),
}

impl OverrideTarget {
    pub fn label(&self) -> String {
        match self {
            OverrideTarget::Action(a) => format!("action {a}"),
            OverrideTarget::Strategy(s) => format!("strategy {s}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OverrideForm {
    pub order_id: String,
    pub choices: Vec<OverrideTarget>,
    pub choice: usize,
    /// Number of decisions; empty = until released.
    pub decisions: String,
    /// 0 = target selector, 1 = decisions field.
    pub focus: usize,
    pub error: Option<String>,
}

/// Strategies offered in the override form besides those seen on orders.
pub const KNOWN_STRATEGIES: [&str; 5] = ["twap", "vwap", "pov", "almgren_chriss", "adaptive"];

impl OverrideForm {
    pub fn new(order_id: String, actions: &[String], strategies: &[String]) -> Self {
        let mut choices: Vec<OverrideTarget> = actions
            .iter()
            .map(|a| OverrideTarget::Action(a.clone()))
            .collect();
        let mut seen: Vec<String> = Vec::new();
        for s in strategies
            .iter()
            .map(String::as_str)
            .chain(KNOWN_STRATEGIES.iter().copied())
        {
            if !seen.iter().any(|x| x == s) {
                seen.push(s.to_string());
                choices.push(OverrideTarget::Strategy(s.to_string()));
            }
        }
        OverrideForm {
            order_id,
            choices,
            choice: 0,
            decisions: String::new(),
            focus: 0,
            error: None,
        }
    }

    pub fn to_command(&self) -> Result<Command, String> {
        let target = self
            .choices
            .get(self.choice)
            .ok_or("nothing to override with")?;
        let decisions = match self.decisions.trim() {
            "" => None,
            n => match n.parse::<u32>() {
                Ok(0) | Err(_) => {
                    return Err("decisions: a whole number ≥ 1, or empty for until released".into())
                }
                Ok(n) => Some(n),
            },
        };
        let (action, strategy) = match target {
            OverrideTarget::Action(a) => (Some(a.clone()), None),
            OverrideTarget::Strategy(s) => (None, Some(s.clone())),
        };
        Ok(Command::Override {
            order_id: self.order_id.clone(),
            action,
            strategy,
            decisions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retune_validation_names_the_field() {
        let mut p = RetuneParams::default();
        assert!(set_retune_field(&mut p, "urgency", "1.5", &[])
            .unwrap_err()
            .starts_with("urgency"));
        assert!(set_retune_field(&mut p, "max_participation", "0", &[])
            .unwrap_err()
            .starts_with("max_participation"));
        assert!(set_retune_field(&mut p, "max_participation", "abc", &[]).is_err());
        let venues = vec!["XLIT".to_string(), "XDRK".to_string()];
        assert!(set_retune_field(&mut p, "venues", "XLIT,NOPE", &venues)
            .unwrap_err()
            .contains("NOPE"));
        set_retune_field(&mut p, "max_participation", "0.15", &venues).unwrap();
        assert_eq!(p.max_participation, Some(0.15));
    }

    #[test]
    fn override_decisions_must_be_positive() {
        let mut f = OverrideForm::new("P-1".into(), &["wait".into()], &[]);
        f.decisions = "0".into();
        assert!(f.to_command().is_err());
        f.decisions = "5".into();
        assert_eq!(
            f.to_command().unwrap(),
            Command::Override {
                order_id: "P-1".into(),
                action: Some("wait".into()),
                strategy: None,
                decisions: Some(5)
            }
        );
    }
}
