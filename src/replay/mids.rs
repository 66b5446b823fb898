//! Exact mids sampled from a running engine at requested instants.
//!
//! The journal's market summaries come every few seconds, too coarse for a
//! +1 s markout. A re-simulation of the session passes through every instant,
//! so the report asks it for the mid at exactly the moments it needs
//! (`record::rerun_sampling`): the engine is stepped as usual and, whenever
//! its next event lies beyond a requested instant, the state it is in is the
//! market as of that instant (every event at or before it processed, none
//! after) and the mid is read there. No extra simulation is run.

use crate::engine::Engine;
use crate::protocol::Ts;

/// Requests `(symbol, instant)` and, once sampled, their mids.
#[derive(Debug, Clone, Default)]
pub struct MidSampler {
    requests: Vec<(String, Ts)>,
    /// Request indices by instant: they are answered in this order.
    by_time: Vec<usize>,
    next: usize,
    mids: Vec<Option<f64>>,
    /// Instant the session ended, once it has.
    ended_at: Option<Ts>,
    past_end: usize,
}

impl MidSampler {
    pub fn new(requests: Vec<(String, Ts)>) -> MidSampler {
        let mut by_time: Vec<usize> = (0..requests.len()).collect();
        by_time.sort_by_key(|&i| requests[i].1);
        MidSampler {
            mids: vec![None; requests.len()],
            requests,
            by_time,
            ..MidSampler::default()
        }
    }

    /// Sample every request whose instant the engine has reached and not yet
    /// passed: call it between steps, after any command due by then. Once the
    /// session is over it answers the remaining requests (`finish`).
    pub fn observe(&mut self, engine: &Engine) {
        let Some(next) = engine.next_ts() else {
            return self.finish(engine);
        };
        while let Some(&i) = self.by_time.get(self.next) {
            if self.requests[i].1 >= next {
                break;
            }
            self.mids[i] = engine.quote_mid(&self.requests[i].0);
            self.next += 1;
        }
    }

    /// The session is over: requests at or after its end get the mid at the
    /// end, the last the simulated session knows (what happens after it was
    /// never part of the session).
    pub fn finish(&mut self, engine: &Engine) {
        let end = engine.now();
        self.ended_at = Some(end);
        while let Some(&i) = self.by_time.get(self.next) {
            self.mids[i] = engine.quote_mid(&self.requests[i].0);
            self.past_end += (self.requests[i].1 > end) as usize;
            self.next += 1;
        }
    }

    /// Every request has been answered (the run reached the session's end).
    pub fn is_complete(&self) -> bool {
        self.next == self.requests.len() && self.ended_at.is_some()
    }

    /// The mids, in the order of the requests.
    pub fn mids(&self) -> &[Option<f64>] {
        &self.mids
    }

    /// How many requests lay after the session's end, and when it ended.
    pub fn past_end(&self) -> (usize, Option<Ts>) {
        (self.past_end, self.ended_at)
    }
}
