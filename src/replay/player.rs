//! The transport: a position in a recording, a simulated clock, play/pause,
//! speed and seeking. Pure apart from reading the journal file; the wall
//! clock is pushed in by the caller (`advance(dt)`), so tests drive it.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::Result;

use crate::console::ConsoleState;
use crate::protocol::{EventEnvelope, Ts};

use super::recording::{MarkerKind, Recording};

/// Playback speeds (simulated seconds per wall second); `None` = as fast as possible.
pub const SPEEDS: &[Option<f64>] = &[
    Some(0.25),
    Some(0.5),
    Some(1.0),
    Some(2.0),
    Some(4.0),
    Some(8.0),
    Some(16.0),
    Some(32.0),
    Some(64.0),
    None,
];
/// Index of 1× in `SPEEDS`.
pub const DEFAULT_SPEED: usize = 2;
/// Events applied per `advance` at most (keeps a frame around 10 ms).
pub const EVENTS_PER_ADVANCE: usize = 4000;
/// Events decoded ahead while playing.
const READ_AHEAD: usize = 2000;

const NS: u64 = 1_000_000_000;

pub struct Player {
    pub rec: Recording,
    /// The console state after `pos` events.
    pub state: ConsoleState,
    pos: usize,
    /// Decoded events `pos..pos + ahead.len()`.
    ahead: VecDeque<EventEnvelope>,
    /// Simulated clock: at or after the last applied event, before the next.
    clock: Ts,
    pub playing: bool,
    pub speed: usize,
}

pub fn speed_label(speed: Option<f64>) -> String {
    match speed {
        None => "max".into(),
        Some(s) if s < 1.0 => format!("{}×", if s == 0.25 { "¼" } else { "½" }),
        Some(s) => format!("{s}×"),
    }
}

impl Player {
    pub fn new(rec: Recording) -> Player {
        let clock = rec.span().0;
        Player {
            rec,
            state: ConsoleState::new(),
            pos: 0,
            ahead: VecDeque::new(),
            clock,
            playing: false,
            speed: DEFAULT_SPEED,
        }
    }

    /// Events applied so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn clock(&self) -> Ts {
        self.clock
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.rec.len()
    }

    pub fn speed_value(&self) -> Option<f64> {
        SPEEDS[self.speed]
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
    }

    pub fn slower(&mut self) {
        self.speed = self.speed.saturating_sub(1);
    }

    pub fn toggle(&mut self) {
        if self.at_end() && !self.playing {
            // Play from the start again rather than doing nothing.
            let _ = self.seek_to(0);
        }
        self.playing = !self.playing;
    }

    /// Apply the next event, if any.
    fn step(&mut self) -> Result<bool> {
        if self.pos >= self.rec.len() {
            return Ok(false);
        }
        if self.ahead.is_empty() {
            let to = (self.pos + READ_AHEAD).min(self.rec.len());
            self.ahead = self.rec.read_events(self.pos, to)?.into();
        }
        let env = self.ahead.pop_front().expect("read ahead");
        self.clock = self.clock.max(env.ts);
        self.rec.apply_at(&mut self.state, self.pos, env);
        self.pos += 1;
        Ok(true)
    }

    /// Let `wall` time pass: at the current speed, apply the events due.
    pub fn advance(&mut self, wall: Duration) -> Result<()> {
        if !self.playing {
            return Ok(());
        }
        match self.speed_value() {
            None => {
                for _ in 0..EVENTS_PER_ADVANCE {
                    if !self.step()? {
                        break;
                    }
                }
            }
            Some(speed) => {
                let target = self
                    .clock
                    .saturating_add((wall.as_secs_f64() * speed * 1e9) as u64);
                let mut n = 0;
                while self.pos < self.rec.len() && self.rec.ts(self.pos) <= target {
                    self.step()?;
                    n += 1;
                    if n >= EVENTS_PER_ADVANCE {
                        break;
                    }
                }
                if n < EVENTS_PER_ADVANCE {
                    let end = self.rec.span().1;
                    self.clock = target.min(end).max(self.clock);
                }
            }
        }
        if self.at_end() {
            self.playing = false;
            self.clock = self.clock.max(self.rec.span().1);
        }
        Ok(())
    }

    /// Go to position `pos` (events applied), forwards or backwards.
    pub fn seek_to(&mut self, pos: usize) -> Result<()> {
        let pos = pos.min(self.rec.len());
        let (cp, _) = self.rec.checkpoint_before(pos);
        if pos >= self.pos && cp <= self.pos {
            // Playing forward is no longer than restoring a checkpoint.
            while self.pos < pos {
                self.step()?;
            }
        } else {
            self.state = self.rec.state_at(pos)?;
            self.pos = pos;
            self.ahead.clear();
        }
        self.clock = if pos == 0 {
            self.rec.span().0
        } else {
            self.rec.ts(pos - 1)
        };
        Ok(())
    }

    /// Go to simulated time `t`: every event at or before it applied.
    pub fn seek_time(&mut self, t: Ts) -> Result<()> {
        let (start, end) = self.rec.span();
        let t = t.clamp(start, end);
        self.seek_to(self.rec.position_at(t))?;
        self.clock = t.max(self.clock);
        Ok(())
    }

    /// Seek by a signed number of simulated seconds from the clock.
    pub fn seek_by(&mut self, secs: i64) -> Result<()> {
        let t = if secs >= 0 {
            self.clock.saturating_add(secs as u64 * NS)
        } else {
            self.clock.saturating_sub(secs.unsigned_abs() * NS)
        };
        self.seek_time(t)
    }

    /// Jump to the next (or previous) marker of the given kinds; returns it.
    pub fn jump_marker(
        &mut self,
        forward: bool,
        kinds: &[MarkerKind],
    ) -> Result<Option<super::recording::Marker>> {
        let pos = self.pos;
        let found = if forward {
            self.rec
                .markers
                .iter()
                .filter(|m| kinds.contains(&m.kind))
                .find(|m| m.index + 1 > pos)
        } else {
            self.rec
                .markers
                .iter()
                .filter(|m| kinds.contains(&m.kind))
                .rev()
                .find(|m| m.index + 1 < pos)
        }
        .cloned();
        if let Some(m) = &found {
            self.seek_to(m.index + 1)?;
        }
        Ok(found)
    }

    /// Jump to the next (or previous) decision of an order; returns its time.
    pub fn jump_decision(&mut self, order_id: &str, forward: bool) -> Result<Option<Ts>> {
        let pos = self.pos;
        let list = self.rec.decisions_of(order_id);
        let target = if forward {
            list.iter().find(|&&i| i + 1 > pos).copied()
        } else {
            list.iter().rev().find(|&&i| i + 1 < pos).copied()
        };
        match target {
            Some(i) => {
                self.seek_to(i + 1)?;
                Ok(Some(self.rec.ts(i)))
            }
            None => Ok(None),
        }
    }
}
