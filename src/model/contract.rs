//! Feature vector and action set. Order matters: it is the column order of
//! `features` and `probs` vectors on the wire and of model inputs/outputs.

use crate::protocol::ContractInfo;

/// Bumped whenever a feature or action is added, removed, reordered or rescaled.
pub const CONTRACT_VERSION: u32 = 2;

/// One input of the decision models. Directional features are *oriented by the
/// order's side*: positive means "the price is likely to move against this
/// order" (up for a buy, down for a sell), so one model serves both sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feature {
    pub name: &'static str,
    pub unit: &'static str,
    /// The raw value is divided by `scale`, then clipped to `[-clip, clip]`.
    pub scale: f64,
    pub clip: f64,
    pub description: &'static str,
}

macro_rules! feature {
    ($name:literal, $unit:literal, $scale:expr, $clip:expr, $desc:literal) => {
        Feature {
            name: $name,
            unit: $unit,
            scale: $scale,
            clip: $clip,
            description: $desc,
        }
    };
}

pub const FEATURES: [Feature; 15] = [
    feature!(
        "time_remaining",
        "fraction",
        1.0,
        1.0,
        "share of the execution horizon still ahead"
    ),
    feature!(
        "qty_remaining",
        "fraction",
        1.0,
        1.0,
        "share of the parent quantity still to execute"
    ),
    feature!(
        "schedule_deviation",
        "fraction",
        1.0,
        1.0,
        "(filled - scheduled) / order quantity; positive = ahead"
    ),
    feature!(
        "spread",
        "bps",
        10.0,
        5.0,
        "quoted spread across lit venues, in bps of mid, /10"
    ),
    feature!(
        "imbalance_top",
        "ratio",
        1.0,
        1.0,
        "(bid size - ask size)/(sum) at the best quotes, side-oriented"
    ),
    feature!(
        "imbalance_depth",
        "ratio",
        1.0,
        1.0,
        "same over the first five price levels, side-oriented"
    ),
    feature!(
        "microprice_offset",
        "half-spreads",
        1.0,
        1.0,
        "(microprice - mid)/half spread, side-oriented"
    ),
    feature!(
        "volatility_short",
        "bps/sqrt(s)",
        1.0,
        5.0,
        "realised volatility of mid over the last 60 s"
    ),
    feature!(
        "volatility_ratio",
        "ratio",
        1.0,
        5.0,
        "short (60 s) over long (30 min) realised volatility"
    ),
    feature!(
        "trade_flow",
        "ratio",
        1.0,
        1.0,
        "signed trade volume over the last 30 s / total, side-oriented"
    ),
    feature!(
        "return_since_arrival",
        "bps",
        100.0,
        5.0,
        "mid move since arrival, side-oriented, /100"
    ),
    feature!(
        "dark_fill_rate",
        "fraction",
        1.0,
        1.0,
        "share of recent dark child quantity that filled"
    ),
    feature!(
        "participation",
        "fraction",
        1.0,
        1.0,
        "our share of market volume over the last 5 minutes"
    ),
    feature!(
        "momentum_5m",
        "z-score",
        1.0,
        5.0,
        "mid move over the last 5 minutes over its expected size at the 30-minute volatility, side-oriented"
    ),
    feature!(
        "momentum_30m",
        "z-score",
        1.0,
        5.0,
        "mid move over the last 30 minutes over its expected size at the 30-minute volatility, side-oriented"
    ),
];

pub const FEATURE_COUNT: usize = FEATURES.len();

impl Feature {
    /// Normalise a raw measurement the way every model expects it.
    pub fn normalise(&self, raw: f64) -> f64 {
        if !raw.is_finite() {
            return 0.0;
        }
        (raw / self.scale).clamp(-self.clip, self.clip)
    }
}

/// What to do in one decision interval. Sizes are relative to the order's
/// baseline schedule slice for the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send nothing new this interval (working passive orders are withdrawn).
    Wait,
    /// Post the slice at the near touch on a lit venue.
    Passive,
    /// Rest the slice at the midpoint in a dark pool.
    Dark,
    /// Half at the near touch, half at the dark midpoint.
    Mixed,
    /// Take the slice across the spread.
    Aggressive,
    /// Take the slice plus the whole shortfall against the schedule across the spread.
    CatchUp,
    /// Take the slice and the next three across the spread: run ahead of the schedule.
    Ahead,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Wait,
        Action::Passive,
        Action::Dark,
        Action::Mixed,
        Action::Aggressive,
        Action::CatchUp,
        Action::Ahead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Wait => "wait",
            Action::Passive => "passive",
            Action::Dark => "dark",
            Action::Mixed => "mixed",
            Action::Aggressive => "aggressive",
            Action::CatchUp => "catch_up",
            Action::Ahead => "ahead",
        }
    }

    pub fn index(self) -> usize {
        Action::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// A one-hot probability vector, as a rule-based strategy reports it.
    pub fn one_hot(self) -> Vec<f64> {
        Action::ALL
            .iter()
            .map(|a| if *a == self { 1.0 } else { 0.0 })
            .collect()
    }
}

/// The contract as it travels in the `session` event.
pub fn contract_info() -> ContractInfo {
    ContractInfo {
        version: CONTRACT_VERSION,
        features: FEATURES.iter().map(|f| f.name.to_string()).collect(),
        actions: Action::ALL.iter().map(|a| a.name().to_string()).collect(),
    }
}

/// The contract as `models/features.json`: what the training code reads.
pub fn contract_json() -> serde_json::Value {
    serde_json::json!({
        "version": CONTRACT_VERSION,
        "features": FEATURES.iter().map(|f| serde_json::json!({
            "name": f.name,
            "unit": f.unit,
            "scale": f.scale,
            "clip": f.clip,
            "normalised": "clip(raw / scale, -clip, clip)",
            "description": f.description,
        })).collect::<Vec<_>>(),
        "actions": Action::ALL.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "metadata_keys": {
            "version": "vigil_contract_version",
            "features": "vigil_features (comma-separated names, in order)",
            "actions": "vigil_actions (comma-separated names, in order)",
        },
        "input": "float32 [N, features]",
        "output": "float32 [N, actions] probabilities (output named 'probabilities')",
    })
}

/// `models/features.json` exactly as `vigil model contract` writes it.
pub fn contract_file_text() -> String {
    let mut s = serde_json::to_string_pretty(&contract_json()).expect("contract serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
            assert_eq!(Action::ALL[a.index()], a);
        }
        assert_eq!(Action::from_name("buy_everything"), None);
    }

    #[test]
    fn normalise_scales_and_clips() {
        let spread = FEATURES[3];
        assert_eq!(spread.normalise(20.0), 2.0);
        assert_eq!(spread.normalise(1e9), 5.0);
        assert_eq!(spread.normalise(f64::NAN), 0.0);
    }

    #[test]
    fn feature_names_are_unique() {
        let mut names: Vec<_> = FEATURES.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FEATURE_COUNT);
    }
}
