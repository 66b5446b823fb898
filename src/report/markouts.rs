//! Exact mids around every fill, read from the as-recorded re-simulation.
//!
//! The journal's summaries every 5 s cannot say where the mid was 1 s after a
//! fill. The report re-simulates the session anyway (counterfactuals); when
//! that re-run reproduces the journal's fills, the market it passes through
//! is the recorded one, so the mids are sampled there on the way (no extra
//! run): just before each fill (the instant before, so the fill's own effect
//! on the book is not counted against it) and at exactly fill time + each
//! horizon.

use crate::protocol::Ts;
use crate::replay::mids::MidSampler;

use super::tca::{FillMids, Session, MARKOUT_HORIZONS_S};

const NS: u64 = 1_000_000_000;

/// What the re-simulation gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactMids {
    /// Per order of the session, per fill.
    pub fills: Vec<Vec<FillMids>>,
    /// Markout instants after the session's end (they use the mid at the end)
    /// out of all of them, and the end.
    pub past_end: usize,
    pub instants: usize,
    pub end: Option<Ts>,
}

/// A sampler for every fill of `session`: per fill, the instant before it
/// then fill + each horizon.
pub fn sampler(session: &Session) -> MidSampler {
    let mut requests = Vec::new();
    for o in &session.orders {
        for f in &o.fills {
            requests.push((o.info.symbol.clone(), f.ts.saturating_sub(1)));
            for h in MARKOUT_HORIZONS_S {
                requests.push((o.info.symbol.clone(), f.ts + h * NS));
            }
        }
    }
    MidSampler::new(requests)
}

/// The sampled mids, sorted back per order and fill (`None` if the run did
/// not reach the session's end).
pub fn collect(session: &Session, sampler: &MidSampler) -> Option<ExactMids> {
    if !sampler.is_complete() {
        return None;
    }
    let per_fill = 1 + MARKOUT_HORIZONS_S.len();
    let mut mids = sampler.mids().chunks_exact(per_fill);
    let fills = session
        .orders
        .iter()
        .map(|o| {
            o.fills
                .iter()
                .map(|_| {
                    let m = mids.next().expect("one chunk per fill");
                    FillMids {
                        before: m[0],
                        after: std::array::from_fn(|h| m[1 + h]),
                    }
                })
                .collect()
        })
        .collect();
    let (past_end, end) = sampler.past_end();
    Some(ExactMids {
        fills,
        past_end,
        instants: sampler.mids().len() / per_fill * MARKOUT_HORIZONS_S.len(),
        end,
    })
}
