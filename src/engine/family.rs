//! Market families: scenario files in which values may be distributions.
//!
//! A fixed scenario says "the trend turns down at 13:30"; a family says "at
//! some time between 11:00 and 14:00 the trend turns up, down or not at all".
//! Each seed draws its own day, so a policy trained and judged on a family
//! cannot win by remembering one day's answer. Everything downstream (engine,
//! dataset, eval, journal) sees the ordinary scenario the seed drew.
//!
//! Any value of a scenario file may be one of these tables:
//!
//! | table | draws |
//! |---|---|
//! | `{ uniform = [a, b] }` | a number uniformly in [a, b] |
//! | `{ log_uniform = [a, b] }` | a number whose logarithm is uniform (sizes, volumes) |
//! | `…, round = x` | (with `uniform` or `log_uniform`) rounded to a multiple of x |
//! | `{ int = [a, b] }` | an integer in [a, b] |
//! | `{ choice = [x, y, …], weights = [w, …] }` | one of the values (weights optional) |
//! | `{ between = ["HH:MM:SS", "HH:MM:SS"] }` | a time of day, to the second |
//!
//! An entry of `events` or `orders` with `probability = p` is kept with
//! probability p. An order may give `qty_adv` (a fraction of its symbol's
//! ADV, after the ADV is drawn) instead of `qty`.

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use toml::Value;

use super::scenario::{format_clock, parse_clock};

const DISTRIBUTIONS: &[&str] = &["uniform", "log_uniform", "int", "choice", "between"];

/// Whether any value of the scenario file is a distribution.
pub fn is_family(doc: &toml::Table) -> bool {
    fn any(v: &Value) -> bool {
        match v {
            Value::Table(t) => {
                distribution_kind(t).is_some()
                    || t.contains_key("probability")
                    || t.contains_key("qty_adv")
                    || t.values().any(any)
            }
            Value::Array(a) => a.iter().any(any),
            _ => false,
        }
    }
    doc.values().any(any)
}

fn distribution_kind(t: &toml::Table) -> Option<&'static str> {
    DISTRIBUTIONS.iter().copied().find(|k| t.contains_key(*k))
}

/// Draw one concrete scenario document from a family document.
pub fn realise(doc: &toml::Table, seed: u64) -> Result<toml::Table> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xFA31_1E5E_ED00_0001);
    let mut out = toml::Table::new();
    for (k, v) in doc {
        if let Some(v) = draw_value(v, &mut rng).with_context(|| format!("in `{k}`"))? {
            out.insert(k.clone(), v);
        }
    }
    resolve_order_sizes(&mut out)?;
    out.insert("seed".into(), Value::Integer(seed as i64));
    Ok(out)
}

/// A drawn value; None when an entry with a `probability` was left out.
fn draw_value(v: &Value, rng: &mut ChaCha8Rng) -> Result<Option<Value>> {
    Ok(Some(match v {
        Value::Table(t) => {
            if let Some(kind) = distribution_kind(t) {
                return draw_distribution(kind, t, rng).map(Some);
            }
            if let Some(p) = t.get("probability") {
                let p = number(p).context("`probability` must be a number")?;
                if !(0.0..=1.0).contains(&p) {
                    bail!("`probability` must be within 0..1, got {p}");
                }
                // Drawn even when p is 0 or 1, so the draws after it do not
                // depend on the probabilities chosen.
                if rng.random::<f64>() >= p {
                    return Ok(None);
                }
            }
            let mut out = toml::Table::new();
            for (k, v) in t {
                if k == "probability" {
                    continue;
                }
                if let Some(v) = draw_value(v, rng).with_context(|| format!("in `{k}`"))? {
                    out.insert(k.clone(), v);
                }
            }
            Value::Table(out)
        }
        Value::Array(a) => {
            let mut out = Vec::new();
            for (i, v) in a.iter().enumerate() {
                if let Some(v) =
                    draw_value(v, rng).with_context(|| format!("in entry {}", i + 1))?
                {
                    out.push(v);
                }
            }
            Value::Array(out)
        }
        other => other.clone(),
    }))
}

fn number(v: &Value) -> Result<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Integer(i) => Ok(*i as f64),
        other => bail!("expected a number, got {other}"),
    }
}

fn pair<'a>(t: &'a toml::Table, kind: &str) -> Result<(&'a Value, &'a Value)> {
    match t.get(kind) {
        Some(Value::Array(a)) if a.len() == 2 => Ok((&a[0], &a[1])),
        _ => bail!("`{kind}` takes two bounds: {kind} = [low, high]"),
    }
}

fn draw_distribution(kind: &str, t: &toml::Table, rng: &mut ChaCha8Rng) -> Result<Value> {
    let allowed: &[&str] = match kind {
        "choice" => &["choice", "weights"],
        "uniform" => &["uniform", "round"],
        "log_uniform" => &["log_uniform", "round"],
        _ => &[kind],
    };
    let round = |x: f64| -> Result<Value> {
        Ok(Value::Float(match t.get("round") {
            None => x,
            Some(r) => {
                let r = number(r)?;
                if !(r.is_finite() && r > 0.0) {
                    bail!("`round` must be a positive number, got {r}");
                }
                // Round, then trim the binary noise of the division (0.1·3 ≠ 0.3).
                let k = (x / r).round();
                format!("{:.10}", k * r).parse().unwrap_or(k * r)
            }
        }))
    };
    if let Some(extra) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
        bail!("a `{kind}` distribution does not take `{extra}`");
    }
    let ordered = |lo: f64, hi: f64| -> Result<(f64, f64)> {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            bail!("`{kind}` bounds must be finite with low ≤ high, got [{lo}, {hi}]");
        }
        Ok((lo, hi))
    };
    Ok(match kind {
        "uniform" => {
            let (a, b) = pair(t, kind)?;
            let (lo, hi) = ordered(number(a)?, number(b)?)?;
            round(lo + (hi - lo) * rng.random::<f64>())?
        }
        "log_uniform" => {
            let (a, b) = pair(t, kind)?;
            let (lo, hi) = ordered(number(a)?, number(b)?)?;
            if lo <= 0.0 {
                bail!("`log_uniform` bounds must be positive, got [{lo}, {hi}]");
            }
            let (l, h) = (lo.ln(), hi.ln());
            round((l + (h - l) * rng.random::<f64>()).exp())?
        }
        "int" => {
            let (a, b) = pair(t, kind)?;
            let (Value::Integer(lo), Value::Integer(hi)) = (a, b) else {
                bail!("`int` bounds must be integers");
            };
            if lo > hi {
                bail!("`int` bounds must have low ≤ high, got [{lo}, {hi}]");
            }
            Value::Integer(rng.random_range(*lo..=*hi))
        }
        "between" => {
            let (a, b) = pair(t, kind)?;
            let (Value::String(a), Value::String(b)) = (a, b) else {
                bail!("`between` takes two times: between = [\"HH:MM:SS\", \"HH:MM:SS\"]");
            };
            let (lo, hi) = (
                parse_clock(a)? / 1_000_000_000,
                parse_clock(b)? / 1_000_000_000,
            );
            if lo > hi {
                bail!("`between` times must be in order, got [{a}, {b}]");
            }
            Value::String(format_clock(rng.random_range(lo..=hi) * 1_000_000_000))
        }
        "choice" => {
            let Some(Value::Array(options)) = t.get("choice") else {
                bail!("`choice` takes a list of values");
            };
            if options.is_empty() {
                bail!("`choice` needs at least one value");
            }
            let weights: Vec<f64> = match t.get("weights") {
                None => vec![1.0; options.len()],
                Some(Value::Array(w)) if w.len() == options.len() => {
                    w.iter().map(number).collect::<Result<_>>()?
                }
                Some(_) => bail!("`weights` needs one number per choice"),
            };
            if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                bail!("`weights` must be non-negative numbers");
            }
            let total: f64 = weights.iter().sum();
            if total <= 0.0 {
                bail!("`weights` must not all be zero");
            }
            let mut x = rng.random::<f64>() * total;
            let mut pick = options.len() - 1;
            for (i, w) in weights.iter().enumerate() {
                if x < *w {
                    pick = i;
                    break;
                }
                x -= w;
            }
            // A choice may itself hold distributions (e.g. a choice of ranges).
            draw_value(&options[pick], rng)?.unwrap_or(Value::Boolean(false))
        }
        _ => unreachable!("listed in DISTRIBUTIONS"),
    })
}

/// Orders sized as a fraction of their symbol's (drawn) ADV get a quantity in whole lots.
fn resolve_order_sizes(doc: &mut toml::Table) -> Result<()> {
    let symbols: Vec<(String, f64, f64)> = match doc.get("symbols") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| {
                let t = s.as_table()?;
                Some((
                    t.get("symbol")?.as_str()?.to_string(),
                    t.get("adv").and_then(|v| number(v).ok())?,
                    t.get("lot_size")
                        .and_then(|v| number(v).ok())
                        .unwrap_or(1.0),
                ))
            })
            .collect(),
        _ => Vec::new(),
    };
    let Some(Value::Array(orders)) = doc.get_mut("orders") else {
        return Ok(());
    };
    for (i, o) in orders.iter_mut().enumerate() {
        let Some(t) = o.as_table_mut() else { continue };
        let Some(share) = t.remove("qty_adv") else {
            continue;
        };
        let share = number(&share).with_context(|| format!("order {}: qty_adv", i + 1))?;
        if t.contains_key("qty") {
            bail!("order {}: give qty or qty_adv, not both", i + 1);
        }
        let sym = t.get("symbol").and_then(|v| v.as_str()).unwrap_or_default();
        let Some((_, adv, lot)) = symbols.iter().find(|(s, _, _)| s == sym) else {
            bail!("order {}: qty_adv needs the ADV of symbol {sym:?}", i + 1);
        };
        if !(share.is_finite() && share > 0.0) {
            bail!("order {}: qty_adv must be positive, got {share}", i + 1);
        }
        let lots = (share * adv / lot).round().max(1.0);
        t.insert("qty".into(), Value::Float(lots * lot));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    const FAMILY: &str = r#"
name = "f"
[[symbols]]
symbol = "A"
adv = { log_uniform = [1e6, 4e6] }
spread = { choice = [0.01, 0.02], weights = [1, 3] }
[[events]]
kind = "regime"
at = { between = ["10:00:00", "12:00:00"] }
regime = { choice = ["trending_up", "trending_down", "calm"] }
[[events]]
probability = 0.5
kind = "venue_outage"
[[orders]]
symbol = "A"
side = { choice = ["buy", "sell"] }
qty_adv = { uniform = [0.05, 0.25] }
"#;

    #[test]
    fn each_seed_draws_its_own_day_and_the_same_seed_the_same_day() {
        let d = doc(FAMILY);
        assert!(is_family(&d));
        let a = realise(&d, 7).unwrap();
        assert_eq!(a, realise(&d, 7).unwrap());
        let days: Vec<_> = (0..20).map(|s| realise(&d, s).unwrap()).collect();
        let distinct = days.iter().filter(|x| **x != days[0]).count();
        assert!(distinct >= 18, "{distinct}");
    }

    #[test]
    fn draws_stay_within_their_ranges() {
        let d = doc(FAMILY);
        let mut outages = 0;
        let mut sides = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let r = realise(&d, seed).unwrap();
            let sym = r["symbols"][0].as_table().unwrap();
            let adv = sym["adv"].as_float().unwrap();
            assert!((1e6..=4e6).contains(&adv), "{adv}");
            let spread = sym["spread"].as_float().unwrap();
            assert!(spread == 0.01 || spread == 0.02);
            let ev = r["events"].as_array().unwrap();
            let at = parse_clock(ev[0]["at"].as_str().unwrap()).unwrap();
            assert!((36_000_000_000_000..=43_200_000_000_000).contains(&at));
            outages += ev.len() - 1;
            let o = r["orders"][0].as_table().unwrap();
            let qty = o["qty"].as_float().unwrap();
            assert!(
                qty >= 0.05 * adv - 1.0 && qty <= 0.25 * adv + 1.0,
                "{qty} {adv}"
            );
            assert!(!o.contains_key("qty_adv"));
            sides.insert(o["side"].as_str().unwrap().to_string());
            assert_eq!(r["seed"].as_integer(), Some(seed as i64));
        }
        assert!(
            (60..140).contains(&outages),
            "{outages} outages in 200 days"
        );
        assert_eq!(sides.len(), 2);
    }

    #[test]
    fn rounding_gives_multiples() {
        let d = doc("x = { log_uniform = [10.0, 100.0], round = 0.05 }");
        for seed in 0..50 {
            let x = realise(&d, seed).unwrap()["x"].as_float().unwrap();
            let k = x / 0.05;
            assert!((k - k.round()).abs() < 1e-6, "{x}");
        }
    }

    #[test]
    fn a_fixed_scenario_is_not_a_family_and_draws_to_itself() {
        let d = doc("name = \"x\"\n[[symbols]]\nsymbol = \"A\"\nadv = 1000\n");
        assert!(!is_family(&d));
        let mut r = realise(&d, 3).unwrap();
        r.remove("seed");
        assert_eq!(r, d);
    }

    #[test]
    fn bad_distributions_are_explained() {
        for (text, want) in [
            ("x = { uniform = [2, 1] }", "low ≤ high"),
            ("x = { uniform = [1] }", "two bounds"),
            ("x = { log_uniform = [0, 1] }", "positive"),
            ("x = { choice = [] }", "at least one"),
            (
                "x = { choice = [1, 2], weights = [1] }",
                "one number per choice",
            ),
            ("x = { between = [\"12:00:00\", \"10:00:00\"] }", "in order"),
            ("x = { uniform = [1, 2], typo = 3 }", "does not take `typo`"),
            ("x = { uniform = [1, 2], round = 0 }", "positive"),
            ("[[e]]\nprobability = 2\n", "within 0..1"),
        ] {
            let err = format!("{:#}", realise(&doc(text), 1).unwrap_err());
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
