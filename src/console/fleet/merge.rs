//! The fleet reducer: one `SessionView` per engine, folded from that
//! engine's stream, and the merged picture the console's `App` is fed — as
//! if one engine held every order. The app's own reducer checks sequence
//! numbers, so the merged messages are numbered afresh (one count across
//! engines); each engine's own seq is checked here, per engine: a duplicate
//! is dropped, a gap sends that engine back to its keyframe, and a fresh run
//! of an engine (a new instance starting at seq 1) replaces what its old run
//! showed. Pure: no clock, no I/O.

use std::collections::BTreeMap;

use crate::protocol::view::Applied;
use crate::protocol::{
    Ack, EngineState, Event, EventEnvelope, ResumeMode, Role, ServerMessage, SessionView, Ts,
    Welcome, PROTOCOL_VERSION,
};

use super::qualify;

/// How a lane (one engine) is linked, as the header shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaneLink {
    /// Asking the engine who we are, finding where to start.
    Joining,
    Live,
    /// The engine does not answer, or its stream cannot be read.
    Trouble(String),
}

/// What the header shows of one engine.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineStatus {
    pub engine: String,
    pub link: LaneLink,
    pub role: Option<Role>,
    pub state: EngineState,
    pub ts: Ts,
    pub seq: u64,
    pub orders: usize,
    /// How this lane started or resumed (said in the header until replaced).
    pub note: Option<String>,
}

/// One engine's lane.
#[derive(Debug, Clone)]
pub struct Lane {
    pub view: SessionView,
    pub instance: String,
    pub welcome: Option<Welcome>,
    pub link: LaneLink,
    pub note: Option<String>,
}

impl Lane {
    fn new() -> Self {
        Lane {
            view: SessionView::new(),
            instance: String::new(),
            welcome: None,
            link: LaneLink::Joining,
            note: None,
        }
    }

    /// A view has been loaded (keyframe, saved state or the run's first
    /// event): the lane knows which run it follows.
    pub fn started(&self) -> bool {
        !self.instance.is_empty()
    }
}

/// What an event did to its lane.
#[derive(Debug, PartialEq)]
pub enum LaneVerdict {
    /// Messages for the app (possibly none).
    Forward(Vec<ServerMessage>),
    /// The lane skipped events: it must start again from a keyframe.
    Gap { expected: u64, got: u64 },
}

#[derive(Debug, Default)]
pub struct Fleet {
    pub lanes: BTreeMap<String, Lane>,
    /// The merged count the app sees.
    seq: u64,
    welcomed: bool,
}

impl Fleet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, engine: &str) {
        // Called for every event: no allocation once the lane exists.
        if !self.lanes.contains_key(engine) {
            self.lanes.insert(engine.to_string(), Lane::new());
        }
    }

    pub fn statuses(&self) -> Vec<EngineStatus> {
        self.lanes
            .iter()
            .map(|(engine, l)| EngineStatus {
                engine: engine.clone(),
                link: l.link.clone(),
                role: l.welcome.as_ref().map(|w| w.role),
                state: l.view.state,
                ts: l.view.ts,
                seq: l.view.seq,
                orders: l.view.orders.len(),
                note: l.note.clone(),
            })
            .collect()
    }

    pub fn set_link(&mut self, engine: &str, link: LaneLink) {
        if let Some(l) = self.lanes.get_mut(engine) {
            l.link = link;
        }
    }

    /// The engine told us who we are there. The first welcome of all is the
    /// app's: a trader on any engine may send commands (each engine still
    /// checks its own token and refuses what a viewer sends).
    pub fn welcome(&mut self, engine: &str, w: Welcome) -> Vec<ServerMessage> {
        self.add(engine);
        let lane = self.lanes.get_mut(engine).expect("added");
        lane.welcome = Some(w);
        let role = if self
            .lanes
            .values()
            .any(|l| l.welcome.as_ref().is_some_and(|w| w.role == Role::Trader))
        {
            Role::Trader
        } else {
            Role::Viewer
        };
        let user = self
            .lanes
            .values()
            .find_map(|l| l.welcome.as_ref().map(|w| w.user.clone()))
            .unwrap_or_default();
        // A later welcome (another engine, or a better role) is said again:
        // the app takes the role from the latest, with the snapshot after it.
        self.welcomed = true;
        vec![
            ServerMessage::Welcome(Welcome {
                protocol: PROTOCOL_VERSION,
                engine_id: "bus".into(),
                session_id: String::new(),
                role,
                user,
                last_seq: self.seq,
                resume: ResumeMode::Snapshot,
                instance_id: "bus".into(),
                restart: None,
            }),
            self.snapshot(),
        ]
    }

    /// A lane starts (or starts again) from `view` of run `instance`.
    pub fn start(
        &mut self,
        engine: &str,
        instance: &str,
        view: SessionView,
        note: String,
    ) -> Vec<ServerMessage> {
        self.add(engine);
        let lane = self.lanes.get_mut(engine).expect("added");
        lane.view = view;
        lane.instance = instance.to_string();
        lane.note = Some(note);
        lane.link = LaneLink::Live;
        if self.welcomed {
            vec![self.snapshot()]
        } else {
            Vec::new()
        }
    }

    /// One event from an engine's stream, of run `instance`.
    pub fn event(&mut self, engine: &str, instance: &str, env: &EventEnvelope) -> LaneVerdict {
        self.add(engine);
        let welcomed = self.welcomed;
        let lane = self.lanes.get_mut(engine).expect("added");
        let mut replaced = false;
        if !instance.is_empty() && instance != lane.instance {
            if env.seq != 1 {
                // Another run's event, not from its start: not ours to apply.
                return if lane.started() {
                    LaneVerdict::Gap {
                        expected: lane.view.seq + 1,
                        got: env.seq,
                    }
                } else {
                    LaneVerdict::Forward(Vec::new())
                };
            }
            // A fresh run of the engine: what the old one showed is gone.
            replaced = lane.started();
            lane.view = SessionView::new();
            lane.instance = instance.to_string();
            lane.link = LaneLink::Live;
            lane.note = Some(if replaced {
                "engine restarted — a new run, state reloaded".into()
            } else {
                "from the run's first event".into()
            });
        }
        if !lane.started() {
            return LaneVerdict::Forward(Vec::new());
        }
        match lane.view.apply(env) {
            Applied::Ok => {}
            Applied::Duplicate => return LaneVerdict::Forward(Vec::new()),
            Applied::Gap { expected, got } => return LaneVerdict::Gap { expected, got },
        }
        if !welcomed {
            return LaneVerdict::Forward(Vec::new());
        }
        if replaced || matches!(env.event, Event::Session { .. }) {
            // A run's first event redefines the lane: the app gets the whole
            // merged picture again rather than a session event it would
            // take for the only engine's.
            return LaneVerdict::Forward(vec![self.snapshot()]);
        }
        let mut ev = env.event.clone();
        qualify::event(engine, &mut ev);
        if let Event::EngineState { state, reason } = &mut ev {
            // The app shows one engine state: the fleet's worst, and why.
            let (worst, why) = self.worst_state();
            *state = worst;
            *reason = why;
        }
        self.seq += 1;
        LaneVerdict::Forward(vec![ServerMessage::Event(EventEnvelope {
            seq: self.seq,
            ts: env.ts,
            event: ev,
        })])
    }

    /// An engine's answer to a command, for the app.
    pub fn ack(&self, engine: &str, mut ack: Ack) -> ServerMessage {
        qualify::ack(engine, &mut ack);
        // The engine's seq means nothing in the merged count.
        ack.seq = None;
        ServerMessage::Ack(ack)
    }

    /// Halted if any engine is, else ended if all are, else running.
    fn worst_state(&self) -> (EngineState, Option<String>) {
        let started: Vec<(&String, &Lane)> =
            self.lanes.iter().filter(|(_, l)| l.started()).collect();
        if let Some((e, l)) = started
            .iter()
            .find(|(_, l)| l.view.state == EngineState::Halted)
        {
            let why = l.view.state_reason.as_deref().unwrap_or("halted");
            return (EngineState::Halted, Some(format!("{e}: {why}")));
        }
        if !started.is_empty()
            && started
                .iter()
                .all(|(_, l)| l.view.state == EngineState::Ended)
        {
            return (EngineState::Ended, None);
        }
        (EngineState::Running, None)
    }

    /// The merged picture: every started lane's orders, markets and alerts
    /// under qualified names, the latest clock, the worst state.
    pub fn snapshot(&self) -> ServerMessage {
        let mut merged = SessionView::new();
        merged.engine_id = "bus".into();
        let mut scenarios = Vec::new();
        for (engine, lane) in self.lanes.iter().filter(|(_, l)| l.started()) {
            let mut v = lane.view.clone();
            qualify::view(engine, &mut v);
            merged.ts = merged.ts.max(v.ts);
            if merged.contract.actions.is_empty() {
                merged.contract = v.contract.clone();
            }
            scenarios.push(format!("{engine}:{}", v.scenario));
            merged.instruments.extend(v.instruments);
            merged.orders.extend(v.orders);
            merged.markets.extend(v.markets);
            merged.alerts.extend(v.alerts);
            merged.alert_count += v.alert_count;
            for m in v.models {
                if merged.model(&m.name).is_none() {
                    merged.models.push(m);
                }
            }
        }
        merged.scenario = scenarios.join(" ");
        (merged.state, merged.state_reason) = self.worst_state();
        merged.seq = self.seq;
        ServerMessage::Snapshot(Box::new(merged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{OrderInfo, OrderParams, Side};

    fn welcome(role: Role) -> Welcome {
        Welcome {
            protocol: PROTOCOL_VERSION,
            engine_id: "x".into(),
            session_id: "s".into(),
            role,
            user: "ana".into(),
            last_seq: 0,
            resume: ResumeMode::Snapshot,
            instance_id: "run-a".into(),
            restart: None,
        }
    }

    fn order_new(seq: u64, id: &str) -> EventEnvelope {
        EventEnvelope {
            seq,
            ts: seq * 1_000,
            event: Event::OrderNew {
                order: OrderInfo {
                    order_id: id.into(),
                    symbol: "ACME".into(),
                    side: Side::Buy,
                    qty: 100.0,
                    strategy: "twap".into(),
                    start_ts: 0,
                    end_ts: 1,
                    params: OrderParams {
                        urgency: 0.5,
                        max_participation: 0.1,
                        target_participation: 0.05,
                        limit_price: None,
                        min_child_qty: 1.0,
                        max_child_qty: 100.0,
                        venues: Vec::new(),
                    },
                    model: None,
                    origin: None,
                },
            },
        }
    }

    fn started_view(seq: u64) -> SessionView {
        let mut v = SessionView::new();
        v.engine_id = "x".into();
        v.seq = seq;
        v
    }

    #[test]
    fn two_engines_with_the_same_order_ids_are_kept_apart_and_numbered_as_one() {
        let mut f = Fleet::new();
        f.start("eu-1", "run-a", started_view(10), "keyframe".into());
        f.start("us-1", "run-b", started_view(3), "keyframe".into());
        let out = f.welcome("eu-1", welcome(Role::Trader));
        assert!(matches!(&out[0], ServerMessage::Welcome(w) if w.role == Role::Trader));
        assert!(matches!(&out[1], ServerMessage::Snapshot(s) if s.seq == 0));
        let a = f.event("eu-1", "run-a", &order_new(11, "P-1"));
        let b = f.event("us-1", "run-b", &order_new(4, "P-1"));
        let ids: Vec<(u64, String)> = [a, b]
            .into_iter()
            .map(|v| match v {
                LaneVerdict::Forward(mut m) => match m.remove(0) {
                    ServerMessage::Event(EventEnvelope {
                        seq,
                        event: Event::OrderNew { order },
                        ..
                    }) => (seq, order.order_id),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, vec![(1, "eu-1/P-1".into()), (2, "us-1/P-1".into())]);
        // A duplicate is dropped; a gap is that engine's alone.
        assert_eq!(
            f.event("eu-1", "run-a", &order_new(11, "P-1")),
            LaneVerdict::Forward(Vec::new())
        );
        assert_eq!(
            f.event("us-1", "run-b", &order_new(9, "P-2")),
            LaneVerdict::Gap {
                expected: 5,
                got: 9
            }
        );
        let ServerMessage::Snapshot(s) = f.snapshot() else {
            unreachable!()
        };
        assert_eq!(s.orders.len(), 2);
        assert_eq!(s.seq, 2);
    }

    #[test]
    fn a_fresh_run_replaces_what_the_old_run_showed() {
        let mut f = Fleet::new();
        f.welcome("eu-1", welcome(Role::Viewer));
        f.start("eu-1", "run-a", started_view(10), "keyframe".into());
        f.event("eu-1", "run-a", &order_new(11, "P-1"));
        // The old run's events after a new run began are not applied.
        let v = f.event("eu-1", "run-c", &order_new(12, "P-9"));
        assert!(matches!(v, LaneVerdict::Gap { .. }));
        let mut first = order_new(1, "P-1");
        first.event = Event::EngineState {
            state: EngineState::Running,
            reason: None,
        };
        let v = f.event("eu-1", "run-c", &first);
        let LaneVerdict::Forward(m) = v else {
            panic!("{v:?}")
        };
        let ServerMessage::Snapshot(s) = &m[0] else {
            panic!("{m:?}")
        };
        assert!(s.orders.is_empty(), "the old run's order is gone");
        assert_eq!(
            f.statuses()[0].note.as_deref(),
            Some("engine restarted — a new run, state reloaded")
        );
    }

    #[test]
    fn one_halted_engine_halts_the_merged_state_until_it_resumes() {
        let mut f = Fleet::new();
        f.welcome("a", welcome(Role::Trader));
        f.start("a", "ra", started_view(1), String::new());
        f.start("b", "rb", started_view(1), String::new());
        let halt = |seq, state| EventEnvelope {
            seq,
            ts: 0,
            event: Event::EngineState {
                state,
                reason: Some("kill switch".into()),
            },
        };
        let LaneVerdict::Forward(m) = f.event("a", "ra", &halt(2, EngineState::Halted)) else {
            panic!()
        };
        assert!(matches!(
            &m[0],
            ServerMessage::Event(EventEnvelope { event: Event::EngineState { state: EngineState::Halted, reason }, .. })
                if reason.as_deref() == Some("a: kill switch")
        ));
        // b running again says nothing about a: still halted.
        let LaneVerdict::Forward(m) = f.event("b", "rb", &halt(2, EngineState::Running)) else {
            panic!()
        };
        assert!(matches!(
            &m[0],
            ServerMessage::Event(EventEnvelope {
                event: Event::EngineState {
                    state: EngineState::Halted,
                    ..
                },
                ..
            })
        ));
    }
}
