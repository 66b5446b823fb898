//! Market regimes: named sets of multipliers on the background flow.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    Calm,
    Volatile,
    Thin,
    TrendingUp,
    TrendingDown,
}

/// Multipliers a regime applies to a symbol's baseline parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegimeParams {
    /// Volatility of the latent price.
    pub vol: f64,
    /// Arrival rate of all background events.
    pub rate: f64,
    /// Size of resting orders (book depth).
    pub depth: f64,
    /// Typical quoted spread.
    pub spread: f64,
    /// Drift of the latent price, in daily volatilities per day (signed).
    pub drift: f64,
}

impl Regime {
    pub fn params(self) -> RegimeParams {
        match self {
            Regime::Calm => RegimeParams {
                vol: 0.7,
                rate: 1.0,
                depth: 1.2,
                spread: 1.0,
                drift: 0.0,
            },
            Regime::Volatile => RegimeParams {
                vol: 2.2,
                rate: 1.6,
                depth: 0.8,
                spread: 1.6,
                drift: 0.0,
            },
            Regime::Thin => RegimeParams {
                vol: 1.3,
                rate: 0.6,
                depth: 0.3,
                spread: 2.5,
                drift: 0.0,
            },
            Regime::TrendingUp => RegimeParams {
                vol: 1.0,
                rate: 1.2,
                depth: 1.0,
                spread: 1.0,
                drift: 2.0,
            },
            Regime::TrendingDown => RegimeParams {
                vol: 1.0,
                rate: 1.2,
                depth: 1.0,
                spread: 1.0,
                drift: -2.0,
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Regime::Calm => "calm",
            Regime::Volatile => "volatile",
            Regime::Thin => "thin",
            Regime::TrendingUp => "trending_up",
            Regime::TrendingDown => "trending_down",
        }
    }
}
