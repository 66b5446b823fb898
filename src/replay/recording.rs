//! A journal opened for replay: an index of every event (byte offset and
//! simulated time), the markers on the timeline, and console-state
//! checkpoints for seeking.
//!
//! Opening reads the file once, front to back: every record's checksum is
//! verified and every event is decoded and folded into a `ConsoleState` with
//! the very reducer the live console uses. A clone of that state is kept at
//! each journal keyframe (checked against the keyframe's `SessionView`) and at
//! least every `CHECKPOINT_EVERY` events. Seeking to position `n` restores the
//! nearest checkpoint at or before `n` and re-applies the few thousand events
//! after it, read back from the file; the state reached is the state reached
//! by playing events `1..=n` (tested), histories and all — which a journal
//! keyframe alone (a `SessionView`, no chart histories or decision log) could
//! not give.
//!
//! Only offsets, times and checkpoints stay in memory, not the events: a
//! 1-million-event recording costs about 16 MB of index plus the checkpoints.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::console::ConsoleState;
use crate::divergence::{action_name, Divergence};
use crate::engine::journal::{
    decode_event, is_keyframe, unframe, Entry, JournalHeader, JournalReader, Truncation,
};
use crate::protocol::{Event, EventEnvelope, ServerMessage, SessionView, Ts};

use super::shadow::{Judge, Shadow};

/// Most events between two checkpoints (the journal writes a keyframe every
/// 5,000 events; checkpoints are taken there, and here when keyframes are missing).
pub const CHECKPOINT_EVERY: usize = 5000;
/// Memory the checkpoints may take (estimated). Past it, every other
/// checkpoint is dropped and the spacing doubles: seeks get slower (more
/// events to re-apply), memory stays bounded whatever the session's size.
pub const CHECKPOINT_BUDGET: usize = 512 << 20;

/// Rough heap size of a console state: its histories dominate.
pub fn approx_bytes(state: &ConsoleState) -> usize {
    let series = |s: &crate::console::series::Series| s.points().len() * 16;
    let orders: usize = state
        .histories
        .values()
        .map(|h| {
            series(&h.fills)
                + series(&h.executed)
                + series(&h.scheduled)
                + h.decisions.len() * std::mem::size_of::<crate::console::state::DecisionRecord>()
                + 256
        })
        .sum();
    let prices: usize = state.prices.values().map(series).sum();
    4096 + orders + prices + state.view.orders.len() * 1024 + state.alerts.len() * 256
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkerKind {
    /// A command that reached the engine (`command_applied`), accepted or refused.
    Intervention,
    Alert,
    /// The shadow model disagreed with the live decision.
    Divergence,
}

impl MarkerKind {
    pub fn label(self) -> &'static str {
        match self {
            MarkerKind::Intervention => "intervention",
            MarkerKind::Alert => "alert",
            MarkerKind::Divergence => "divergence",
        }
    }
}

/// Something worth jumping to on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Index of the event (position `index + 1` shows it applied).
    pub index: usize,
    pub ts: Ts,
    pub kind: MarkerKind,
    pub order_id: Option<String>,
    pub text: String,
}

/// What a shadow model said about one live decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowVerdict {
    pub index: usize,
    pub order_id: String,
    pub live_action: String,
    /// `rule` or the live model's id.
    pub live_model: String,
    pub shadow_action: String,
    pub shadow_confidence: f64,
    /// The shadow's top action is the live one.
    pub agrees: bool,
    /// The live console's divergence rules flag the decision (a confident
    /// disagreement, distant distributions, or a low agreement rate).
    pub diverges: bool,
}

/// A journal ready for replay.
pub struct Recording {
    pub path: PathBuf,
    pub header: JournalHeader,
    /// Why reading stopped before the end of the file, if it did.
    pub truncated: Option<Truncation>,
    /// Byte offset of each event's line; one more entry: the end of the last one.
    offsets: Vec<u64>,
    /// Simulated time of each event.
    ts: Vec<Ts>,
    /// (position, state after `position` events), ascending; position 0 first.
    checkpoints: Vec<(usize, ConsoleState)>,
    /// Events between checkpoints (grows when the budget is reached) and the
    /// checkpoints' estimated memory.
    checkpoint_every: usize,
    checkpoint_bytes: usize,
    pub markers: Vec<Marker>,
    /// Event indices of each order's decisions.
    decisions: HashMap<String, Vec<usize>>,
    /// Divergence marker to set (or clear) after a decision event, by event index.
    divergence_updates: HashMap<usize, Option<Divergence>>,
    /// The shadow's verdict on each live decision, when a shadow ran.
    pub verdicts: Vec<ShadowVerdict>,
    /// Id of the shadow model that ran, if any.
    pub shadow_id: Option<String>,
    /// Journal keyframes seen, and those whose view differed from the replayed one.
    pub keyframes: usize,
    pub keyframe_mismatches: Vec<u64>,
    /// The state after the last event (what the live console showed at the end).
    final_state: ConsoleState,
}

/// The replay reducer: the live console's reducer, plus the shadow's
/// divergence marker for decision events. Live and replay share
/// `ConsoleState::apply`; the shadow step is replay's only addition.
pub fn apply_event(
    state: &mut ConsoleState,
    env: EventEnvelope,
    divergence: Option<&Option<Divergence>>,
) {
    let order = match (&env.event, divergence) {
        (Event::Decision(d), Some(_)) => Some(d.order_id.clone()),
        _ => None,
    };
    state.apply(&ServerMessage::Event(env));
    if let (Some(order_id), Some(marker)) = (order, divergence) {
        state.set_divergence(&order_id, marker.clone());
    }
}

impl Recording {
    /// Open a journal: index it, verify it, build checkpoints. A shadow
    /// model, if given, scores every live decision on the way.
    pub fn open(path: &Path, shadow: Option<&mut (dyn Shadow + 'static)>) -> Result<Recording> {
        let mut reader = JournalReader::open(path)?;
        let mut state = ConsoleState::new();
        let mut rec = Recording {
            path: path.to_path_buf(),
            header: JournalHeader::default(),
            truncated: None,
            offsets: Vec::new(),
            ts: Vec::new(),
            checkpoints: vec![(0, ConsoleState::new())],
            checkpoint_every: CHECKPOINT_EVERY,
            checkpoint_bytes: 0,
            markers: Vec::new(),
            decisions: HashMap::new(),
            divergence_updates: HashMap::new(),
            verdicts: Vec::new(),
            shadow_id: shadow.as_ref().map(|s| s.id()),
            keyframes: 0,
            keyframe_mismatches: Vec::new(),
            final_state: ConsoleState::new(),
        };
        let mut judge = shadow.map(Judge::new);
        while let Some(entry) = reader.next_entry()? {
            match entry {
                // Commands, recoveries and the end mark are for the engine;
                // replay shows the events they caused.
                Entry::Header(_) | Entry::Command(_) | Entry::Recovered(_) | Entry::End { .. } => {}
                Entry::Keyframe { seq, view } => {
                    rec.keyframes += 1;
                    rec.keyframe_at(&state, seq, &view);
                }
                Entry::Event { offset, env } => {
                    let index = rec.ts.len();
                    rec.offsets.push(offset);
                    rec.ts.push(env.ts);
                    rec.index_event(index, &env, &state, judge.as_mut());
                    let update = rec.divergence_updates.get(&index).cloned();
                    apply_event(&mut state, env, update.as_ref());
                    let pos = index + 1;
                    if pos - rec.checkpoints.last().map_or(0, |c| c.0) >= rec.checkpoint_every {
                        rec.checkpoint(pos, &state);
                    }
                }
            }
        }
        rec.offsets.push(reader.offset());
        let (header, truncated) = reader.finish()?;
        rec.header = header;
        rec.truncated = truncated;
        rec.final_state = state;
        Ok(rec)
    }

    /// A journal keyframe: the replayed view must equal it; keep a checkpoint there.
    fn keyframe_at(&mut self, state: &ConsoleState, seq: u64, view: &SessionView) {
        if state.view.seq != seq {
            // A keyframe not right after its event: nothing to compare against.
            return;
        }
        if state.view != *view {
            self.keyframe_mismatches.push(seq);
        }
        let pos = self.ts.len();
        let last = self.checkpoints.last().map_or(0, |c| c.0);
        // On the journal's keyframes, unless the budget has spread checkpoints out.
        if last < pos && pos - last >= self.checkpoint_every.saturating_sub(CHECKPOINT_EVERY / 2) {
            self.checkpoint(pos, state);
        }
    }

    fn checkpoint(&mut self, pos: usize, state: &ConsoleState) {
        self.checkpoint_bytes += approx_bytes(state);
        self.checkpoints.push((pos, state.clone()));
        if self.checkpoint_bytes > CHECKPOINT_BUDGET {
            // Keep position 0 and every other one after it.
            let mut i = 0;
            self.checkpoints.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.checkpoint_every *= 2;
            self.checkpoint_bytes = self.checkpoints.iter().map(|(_, s)| approx_bytes(s)).sum();
        }
    }

    /// Events between checkpoints now (5,000 unless the memory budget spread them).
    pub fn checkpoint_spacing(&self) -> usize {
        self.checkpoint_every
    }

    fn index_event(
        &mut self,
        index: usize,
        env: &EventEnvelope,
        state: &ConsoleState,
        judge: Option<&mut Judge>,
    ) {
        let marker = |kind, order_id: Option<&str>, text: String| Marker {
            index,
            ts: env.ts,
            kind,
            order_id: order_id.map(str::to_string),
            text,
        };
        match &env.event {
            Event::CommandApplied {
                user,
                command,
                ok,
                reason,
                ..
            } => {
                let what = crate::protocol::text::describe_command(command);
                let text = if *ok {
                    format!("{user}: {what}")
                } else {
                    format!(
                        "{user}: {what} (refused: {})",
                        reason.as_deref().unwrap_or("?")
                    )
                };
                self.markers
                    .push(marker(MarkerKind::Intervention, command.order_id(), text));
            }
            Event::Alert(a) => {
                self.markers.push(marker(
                    MarkerKind::Alert,
                    a.order_id.as_deref(),
                    format!("{}: {}", a.code, a.message),
                ));
            }
            Event::Decision(d) => {
                self.decisions
                    .entry(d.order_id.clone())
                    .or_default()
                    .push(index);
                let Some(judge) = judge else { return };
                let Some(j) = judge.score(&state.view.contract, env.ts, d) else {
                    return;
                };
                let shadow_action = action_name(j.shadow_action).to_string();
                let was_diverging = state.divergence.contains_key(&d.order_id);
                let why = j.why();
                self.verdicts.push(ShadowVerdict {
                    index,
                    order_id: d.order_id.clone(),
                    live_action: d.action.clone(),
                    live_model: d.model.clone(),
                    shadow_action: shadow_action.clone(),
                    shadow_confidence: j.shadow_confidence,
                    agrees: j.agrees,
                    diverges: !why.is_empty(),
                });
                if why.is_empty() {
                    self.divergence_updates.insert(index, None);
                } else {
                    self.divergence_updates.insert(
                        index,
                        Some(Divergence {
                            ts: env.ts,
                            live_action: d.action.clone(),
                            shadow_action: shadow_action.clone(),
                            note: why.clone(),
                        }),
                    );
                    // One timeline marker per episode, at its start.
                    if !was_diverging {
                        self.markers.push(marker(
                            MarkerKind::Divergence,
                            Some(&d.order_id),
                            format!(
                                "{}: shadow says {shadow_action}, live did {} — {why}",
                                d.order_id, d.action
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Simulated time of event `index`.
    pub fn ts(&self, index: usize) -> Ts {
        self.ts[index]
    }

    /// First and last event times.
    pub fn span(&self) -> (Ts, Ts) {
        (
            self.ts.first().copied().unwrap_or(0),
            self.ts.last().copied().unwrap_or(0),
        )
    }

    /// Position (events applied) at simulated time `t`: every event at or before `t`.
    pub fn position_at(&self, t: Ts) -> usize {
        self.ts.partition_point(|&x| x <= t)
    }

    /// Event indices of an order's decisions.
    pub fn decisions_of(&self, order_id: &str) -> &[usize] {
        self.decisions.get(order_id).map_or(&[], Vec::as_slice)
    }

    /// The state after the last event.
    pub fn final_state(&self) -> &ConsoleState {
        &self.final_state
    }

    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    /// Read and decode events `from..to` (indices) back from the file.
    pub fn read_events(&self, from: usize, to: usize) -> Result<Vec<EventEnvelope>> {
        let to = to.min(self.len());
        if from >= to {
            return Ok(Vec::new());
        }
        let start = self.offsets[from];
        let end = self.offsets[to];
        let mut file =
            File::open(&self.path).with_context(|| format!("reopening {}", self.path.display()))?;
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = vec![0u8; (end - start) as usize];
        file.read_exact(&mut bytes)
            .with_context(|| format!("{} changed since it was opened", self.path.display()))?;
        let mut out = Vec::with_capacity(to - from);
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let json = unframe(line).map_err(|e| {
                anyhow::anyhow!("{} changed since it was opened: {e}", self.path.display())
            })?;
            if is_keyframe(json) {
                continue;
            }
            match decode_event(json) {
                Ok(env) => out.push(env),
                Err(_) => bail!("{} changed since it was opened", self.path.display()),
            }
        }
        if out.len() != to - from {
            bail!("{} changed since it was opened", self.path.display());
        }
        Ok(out)
    }

    /// Apply events `from..to` to `state` (which must be at position `from`).
    pub fn play_into(&self, state: &mut ConsoleState, from: usize, to: usize) -> Result<()> {
        for (i, env) in (from..).zip(self.read_events(from, to)?) {
            apply_event(state, env, self.divergence_updates.get(&i));
        }
        Ok(())
    }

    /// Apply one already-decoded event `index`.
    pub fn apply_at(&self, state: &mut ConsoleState, index: usize, env: EventEnvelope) {
        apply_event(state, env, self.divergence_updates.get(&index));
    }

    /// The state after `pos` events, from the nearest checkpoint.
    pub fn state_at(&self, pos: usize) -> Result<ConsoleState> {
        let pos = pos.min(self.len());
        let (from, state) = self.checkpoint_before(pos);
        let mut state = state.clone();
        self.play_into(&mut state, from, pos)?;
        Ok(state)
    }

    /// The nearest checkpoint at or before `pos`.
    pub fn checkpoint_before(&self, pos: usize) -> (usize, &ConsoleState) {
        let i = self.checkpoints.partition_point(|(p, _)| *p <= pos) - 1;
        let (p, s) = &self.checkpoints[i];
        (*p, s)
    }

    /// A human description of why the file stops early, if it does.
    pub fn truncation_note(&self) -> Option<String> {
        self.truncated.as_ref().map(|t| {
            format!(
                "{} stops early at line {} (byte {}): {} — showing the {} events before it",
                self.path.display(),
                t.line,
                t.byte_offset,
                t.reason,
                self.len()
            )
        })
    }
}
