//! Scenarios: TOML files describing a trading session — symbols and their
//! market parameters, the regime schedule and events, engine-wide controls and
//! the parent orders to work. The built-in ones live in `scenarios/`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::family;
use super::market::{Dynamics, Regime, SymbolSpec};
use crate::protocol::{RetuneParams, Side};

/// Built-in scenarios, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../scenarios/default.toml")),
    ("calm", include_str!("../../scenarios/calm.toml")),
    ("volatile", include_str!("../../scenarios/volatile.toml")),
    ("thin", include_str!("../../scenarios/thin.toml")),
    (
        "regime_shift",
        include_str!("../../scenarios/regime_shift.toml"),
    ),
    (
        "regime_family",
        include_str!("../../scenarios/regime_family.toml"),
    ),
    (
        "volatile_family",
        include_str!("../../scenarios/volatile_family.toml"),
    ),
    (
        "calm_family",
        include_str!("../../scenarios/calm_family.toml"),
    ),
    (
        "thin_family",
        include_str!("../../scenarios/thin_family.toml"),
    ),
    (
        "no_free_lunch",
        include_str!("../../scenarios/no_free_lunch.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Default seed when none is given on the command line.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Market open and close: they shape the intraday volume profile.
    #[serde(default = "default_open")]
    pub open: String,
    #[serde(default = "default_close")]
    pub close: String,
    /// Simulated time at which the session starts and ends (default: open and close).
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default = "default_decision_interval")]
    pub decision_interval_s: f64,
    #[serde(default = "default_summary_interval")]
    pub market_summary_interval_s: f64,
    #[serde(default)]
    pub controls: Controls,
    /// How the simulated market behaves (defaults: the calibrated market).
    #[serde(default, skip_serializing_if = "Dynamics::is_default")]
    pub dynamics: Dynamics,
    pub symbols: Vec<SymbolConfig>,
    #[serde(default)]
    pub events: Vec<ScenarioEvent>,
    #[serde(default)]
    pub orders: Vec<OrderConfig>,
}

fn default_seed() -> u64 {
    1
}
fn default_open() -> String {
    "09:30:00".into()
}
fn default_close() -> String {
    "16:00:00".into()
}
fn default_decision_interval() -> f64 {
    30.0
}
fn default_summary_interval() -> f64 {
    5.0
}

/// Engine-wide pre-trade controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Controls {
    /// A child's price may not be further than this from the mid, in percent.
    pub price_collar_pct: f64,
    /// Largest notional of one child order (price × quantity).
    pub max_child_value: f64,
    /// Largest quantity of one child order.
    pub max_child_qty: f64,
    /// Child orders and cancels sent per simulated second, all orders together.
    pub max_messages_per_second: u32,
    /// Child orders working at venues at once, all orders together.
    pub max_working_orders: usize,
    /// Below this confidence a model's decision falls back to the baseline schedule.
    pub min_confidence: f64,
}

impl Default for Controls {
    fn default() -> Self {
        Controls {
            price_collar_pct: 5.0,
            max_child_value: 5_000_000.0,
            max_child_qty: 100_000.0,
            max_messages_per_second: 100,
            max_working_orders: 500,
            min_confidence: 0.25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolConfig {
    pub symbol: String,
    pub reference_price: f64,
    #[serde(default = "default_tick")]
    pub tick_size: f64,
    #[serde(default = "default_lot")]
    pub lot_size: f64,
    pub adv: f64,
    pub spread: f64,
    pub daily_vol: f64,
    #[serde(default = "default_regime")]
    pub regime: Regime,
    #[serde(default = "default_lit_venues")]
    pub lit_venues: Vec<VenueConfig>,
    #[serde(default = "default_dark_pool")]
    pub dark_pool: Option<String>,
}

fn default_tick() -> f64 {
    0.01
}
fn default_lot() -> f64 {
    1.0
}
fn default_regime() -> Regime {
    Regime::Calm
}
fn default_lit_venues() -> Vec<VenueConfig> {
    vec![
        VenueConfig {
            name: "XNAS".into(),
            share: 0.55,
        },
        VenueConfig {
            name: "ARCX".into(),
            share: 0.45,
        },
    ]
}
fn default_dark_pool() -> Option<String> {
    Some("DARK".into())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    pub name: String,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScenarioEvent {
    Regime {
        at: String,
        symbol: String,
        regime: Regime,
    },
    VenueOutage {
        at: String,
        symbol: String,
        venue: String,
        duration_s: f64,
    },
    VolShock {
        at: String,
        symbol: String,
        factor: f64,
        duration_s: f64,
    },
}

impl ScenarioEvent {
    pub fn at(&self) -> &str {
        match self {
            ScenarioEvent::Regime { at, .. }
            | ScenarioEvent::VenueOutage { at, .. }
            | ScenarioEvent::VolShock { at, .. } => at,
        }
    }
    pub fn symbol(&self) -> &str {
        match self {
            ScenarioEvent::Regime { symbol, .. }
            | ScenarioEvent::VenueOutage { symbol, .. }
            | ScenarioEvent::VolShock { symbol, .. } => symbol,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderConfig {
    #[serde(default)]
    pub id: Option<String>,
    pub symbol: String,
    pub side: Side,
    pub qty: f64,
    pub strategy: String,
    /// Start and end of the execution horizon (HH:MM:SS); default the session's.
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default, flatten)]
    pub params: RetuneParams,
}

/// A scenario file as written: a fixed scenario, or a family whose values
/// may be distributions (see `family`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    pub name: String,
    pub description: String,
    origin: String,
    doc: toml::Table,
}

impl ScenarioFile {
    /// A built-in name or a path to a TOML file.
    pub fn load(name_or_path: &str) -> Result<ScenarioFile> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return ScenarioFile::parse(text, name_or_path);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            let names: Vec<_> = BUILTIN.iter().map(|(n, _)| *n).collect();
            bail!(
                "no scenario \"{name_or_path}\": not a built-in ({}) and no such file",
                names.join(", ")
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading scenario {}", path.display()))?;
        ScenarioFile::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<ScenarioFile> {
        let doc: toml::Table =
            toml::from_str(text).with_context(|| format!("scenario {origin} is not valid TOML"))?;
        let field = |k: &str| {
            doc.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let file = ScenarioFile {
            name: field("name"),
            description: field("description"),
            origin: origin.to_string(),
            doc,
        };
        // Catch mistakes when the file is read, not when a seed first hits them.
        file.realise(None)?;
        Ok(file)
    }

    pub fn is_family(&self) -> bool {
        family::is_family(&self.doc)
    }

    /// The file's own default seed.
    pub fn default_seed(&self) -> u64 {
        self.doc
            .get("seed")
            .and_then(|v| v.as_integer())
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or_else(default_seed)
    }

    /// The concrete scenario for `seed` (default: the file's seed).
    pub fn realise(&self, seed: Option<u64>) -> Result<Scenario> {
        if !self.is_family() {
            let mut s = Scenario::from_document(self.doc.clone(), &self.origin)?;
            if let Some(seed) = seed {
                s.seed = seed;
            }
            return Ok(s);
        }
        let seed = seed.unwrap_or_else(|| self.default_seed());
        let doc = family::realise(&self.doc, seed)
            .with_context(|| format!("scenario family {}", self.origin))?;
        Scenario::from_document(doc, &format!("{} (seed {seed})", self.origin))
    }
}

pub use crate::protocol::text::{format_clock, parse_clock};

impl Scenario {
    /// A built-in name or a path to a TOML file. A family draws the day of
    /// its default seed; use `load_seeded` to draw another.
    pub fn load(name_or_path: &str) -> Result<Scenario> {
        ScenarioFile::load(name_or_path)?.realise(None)
    }

    /// A scenario as `seed` sees it: a fixed scenario as it is, a family's
    /// day drawn from `seed` (default: the file's seed).
    pub fn load_seeded(name_or_path: &str, seed: Option<u64>) -> Result<Scenario> {
        ScenarioFile::load(name_or_path)?.realise(seed)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Scenario> {
        ScenarioFile::parse(text, origin)?.realise(None)
    }

    fn from_document(doc: toml::Table, origin: &str) -> Result<Scenario> {
        let s: Scenario = toml::Value::Table(doc)
            .try_into()
            .with_context(|| format!("scenario {origin} is not valid"))?;
        s.validate().with_context(|| format!("scenario {origin}"))?;
        Ok(s)
    }

    pub fn open_ts(&self) -> u64 {
        parse_clock(&self.open).unwrap_or(34_200_000_000_000)
    }
    pub fn close_ts(&self) -> u64 {
        parse_clock(&self.close).unwrap_or(57_600_000_000_000)
    }
    pub fn start_ts(&self) -> u64 {
        self.start
            .as_deref()
            .and_then(|s| parse_clock(s).ok())
            .unwrap_or(self.open_ts())
    }
    pub fn end_ts(&self) -> u64 {
        self.end
            .as_deref()
            .and_then(|s| parse_clock(s).ok())
            .unwrap_or(self.close_ts())
    }

    fn validate(&self) -> Result<()> {
        let open = parse_clock(&self.open)?;
        let close = parse_clock(&self.close)?;
        if close <= open {
            bail!("close {} is not after open {}", self.close, self.open);
        }
        if let Some(s) = &self.start {
            parse_clock(s)?;
        }
        if let Some(e) = &self.end {
            parse_clock(e)?;
        }
        if self.end_ts() <= self.start_ts() {
            bail!("session end is not after its start");
        }
        if self.decision_interval_s.is_nan()
            || self.market_summary_interval_s.is_nan()
            || self.decision_interval_s < 0.1
            || self.market_summary_interval_s < 0.1
        {
            bail!("decision and summary intervals must be at least 0.1 s");
        }
        if self.symbols.is_empty() {
            bail!("no symbols");
        }
        self.dynamics.validate().map_err(anyhow::Error::msg)?;
        for s in &self.symbols {
            let positive = [
                s.reference_price,
                s.tick_size,
                s.lot_size,
                s.adv,
                s.spread,
                s.daily_vol,
            ];
            if positive.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                bail!(
                    "symbol {}: prices, sizes, ADV, spread and volatility must be positive",
                    s.symbol
                );
            }
            if s.lit_venues.is_empty() {
                bail!("symbol {}: at least one lit venue is needed", s.symbol);
            }
        }
        for e in &self.events {
            parse_clock(e.at())?;
            let Some(sym) = self.symbols.iter().find(|s| s.symbol == e.symbol()) else {
                bail!("event at {} names unknown symbol {}", e.at(), e.symbol());
            };
            if let ScenarioEvent::VenueOutage { venue, .. } = e {
                let known = sym.lit_venues.iter().any(|v| &v.name == venue)
                    || sym.dark_pool.as_deref() == Some(venue.as_str());
                if !known {
                    bail!(
                        "outage at {} names unknown venue {venue} of {}",
                        e.at(),
                        sym.symbol
                    );
                }
            }
        }
        for o in &self.orders {
            if !self.symbols.iter().any(|s| s.symbol == o.symbol) {
                bail!("order for unknown symbol {}", o.symbol);
            }
            for t in [&o.start, &o.end].into_iter().flatten() {
                parse_clock(t)?;
            }
        }
        Ok(())
    }

    pub fn market_specs(&self) -> Vec<SymbolSpec> {
        self.symbols
            .iter()
            .map(|s| SymbolSpec {
                symbol: s.symbol.clone(),
                reference_price: s.reference_price,
                tick_size: s.tick_size,
                lot_size: s.lot_size,
                adv: s.adv,
                spread: s.spread,
                daily_vol: s.daily_vol,
                lit_venues: s
                    .lit_venues
                    .iter()
                    .map(|v| (v.name.clone(), v.share))
                    .collect(),
                dark_pool: s.dark_pool.clone(),
                regime: s.regime,
                dynamics: self.dynamics,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses() {
        for (name, _) in BUILTIN {
            let s = Scenario::load(name).unwrap();
            assert_eq!(&s.name, name);
        }
    }

    #[test]
    fn default_has_the_promised_content() {
        let s = Scenario::load("default").unwrap();
        assert!(s.symbols.len() >= 3);
        let big = s
            .orders
            .iter()
            .find(|o| o.qty == 500_000.0 && o.side == Side::Buy)
            .expect("500k buy");
        let sym = s.symbols.iter().find(|x| x.symbol == big.symbol).unwrap();
        assert_eq!(sym.adv, 2_000_000.0);
        assert!((sym.spread - 0.02).abs() < 1e-12);
        assert!(s
            .events
            .iter()
            .any(|e| matches!(e, ScenarioEvent::Regime { .. })));
        assert!(s
            .events
            .iter()
            .any(|e| matches!(e, ScenarioEvent::VenueOutage { .. })));
    }

    #[test]
    fn bad_scenarios_are_explained() {
        let err = Scenario::load("nope").unwrap_err().to_string();
        assert!(err.contains("not a built-in"), "{err}");
        let text = r#"
name = "x"
[[symbols]]
symbol = "A"
reference_price = 10.0
adv = 1000
spread = 0.01
daily_vol = 0.02
[[events]]
kind = "venue_outage"
at = "10:00:00"
symbol = "A"
venue = "NOPE"
duration_s = 10
"#;
        let err = format!("{:#}", Scenario::parse(text, "t.toml").unwrap_err());
        assert!(err.contains("unknown venue NOPE"), "{err}");
    }
}
