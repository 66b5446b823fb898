//! Phased deployment in the engine: which model serves an order (registry,
//! canary share), the live guard switching a bad model's orders to the
//! baseline, the trader's model kill switch and its undo, and what decision
//! events say about it (model status, `fell_back` and why).

use std::path::{Path, PathBuf};

use vigil::engine::{Engine, EngineOptions, Scenario};
use vigil::model::registry::{file_sha256, DeploymentPolicy, ModelEntry, ModelKind, Registry};
use vigil::protocol::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A registry in a temporary directory over copies of fixture models.
fn registry(
    dir: &Path,
    models: &[(&str, &str, ModelStatus)],
    deployment: DeploymentPolicy,
) -> PathBuf {
    let mut r = Registry {
        deployment,
        models: Vec::new(),
    };
    for (name, file, status) in models {
        let dst = dir.join(format!("{name}.onnx"));
        std::fs::copy(fixture(file), &dst).unwrap();
        r.models.push(ModelEntry {
            name: name.to_string(),
            kind: ModelKind::Policy,
            file: format!("{name}.onnx"),
            sha256: file_sha256(&dst).unwrap(),
            contract_version: vigil::model::CONTRACT_VERSION,
            card: String::new(),
            status: *status,
            metrics: Default::default(),
            history: Vec::new(),
        });
    }
    let path = dir.join("registry.toml");
    r.save(&path).unwrap();
    path
}

fn scenario(orders: usize, qty: f64) -> Scenario {
    let mut text = String::from(
        r#"
name = "deploy"
start = "10:00:00"
end = "11:00:00"
[[symbols]]
symbol = "ACME"
reference_price = 42.50
adv = 2000000
spread = 0.02
daily_vol = 0.015
regime = "calm"
"#,
    );
    for i in 0..orders {
        text.push_str(&format!(
            "[[orders]]\nid = \"A-{i}\"\nsymbol = \"ACME\"\nside = \"{}\"\nqty = {qty}\nstrategy = \"adaptive\"\n",
            if i % 2 == 0 { "buy" } else { "sell" }
        ));
    }
    Scenario::parse(&text, "deploy").unwrap()
}

fn engine(s: &Scenario, registry: &Path) -> Engine {
    Engine::new(
        s,
        &EngineOptions {
            seed: Some(5),
            registry: Some(registry.to_path_buf()),
            ..Default::default()
        },
    )
    .unwrap()
}

fn run(e: &mut Engine) -> Vec<EventEnvelope> {
    let mut all: Vec<EventEnvelope> = e.drain_events().collect();
    while e.step() {
        all.extend(e.drain_events());
    }
    all
}

fn decisions(events: &[EventEnvelope]) -> Vec<&DecisionInfo> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Decision(d) => Some(&**d),
            _ => None,
        })
        .collect()
}

#[test]
fn a_canary_serves_at_most_its_share_and_orders_say_which_model_serves_them() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(
        dir.path(),
        &[
            ("champ", "contrarian.onnx", ModelStatus::Live),
            ("new", "contrarian.onnx", ModelStatus::Canary),
        ],
        DeploymentPolicy::default(),
    );
    let mut e = engine(&scenario(8, 5_000.0), &reg);
    let served: Vec<ServedModel> = e
        .drain_events()
        .filter_map(|ev| match ev.event {
            Event::OrderNew { order } => order.model,
            _ => None,
        })
        .collect();
    assert_eq!(served.len(), 8);
    let canary = served
        .iter()
        .filter(|m| m.status == ModelStatus::Canary)
        .count();
    // Equal orders, 25% limits: two of eight.
    assert_eq!(canary, 2, "{served:?}");
    assert!(served
        .iter()
        .all(|m| (m.status == ModelStatus::Canary) == (m.name == "new")));
    let events = run(&mut e);
    for d in decisions(&events) {
        assert!(
            d.model_status.is_some(),
            "a model's decision carries its status"
        );
    }
}

#[test]
fn without_a_live_model_orders_the_canary_does_not_take_follow_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(
        dir.path(),
        &[("new", "contrarian.onnx", ModelStatus::Canary)],
        DeploymentPolicy::default(),
    );
    let mut e = engine(&scenario(4, 5_000.0), &reg);
    let events = run(&mut e);
    assert!(events
        .iter()
        .any(|ev| matches!(&ev.event, Event::Alert(a) if a.code == "no_live_model")));
    let ds = decisions(&events);
    let baseline: Vec<_> = ds.iter().filter(|d| d.model == "rule").collect();
    assert!(!baseline.is_empty());
    assert!(baseline
        .iter()
        .all(|d| d.fell_back && d.fallback_reason.as_deref().unwrap().contains("no model")));
    assert!(ds
        .iter()
        .any(|d| d.model_status == Some(ModelStatus::Canary)));
}

#[test]
fn the_guard_switches_a_bad_model_to_the_baseline_and_says_why() {
    // `contrarian` crosses the spread at every decision: it pays the spread the
    // baseline's paper VWAP does not. With a 1 bps threshold the guard trips.
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(
        dir.path(),
        &[("bad", "contrarian.onnx", ModelStatus::Live)],
        DeploymentPolicy {
            guard_threshold_bps: 1.0,
            guard_min_traded_share: 0.05,
            ..Default::default()
        },
    );
    let mut e = engine(&scenario(1, 60_000.0), &reg);
    let events = run(&mut e);
    let trip = events
        .iter()
        .position(|ev| matches!(&ev.event, Event::ModelState(m) if m.guard == GuardState::Tripped))
        .expect("the guard tripped");
    let Event::ModelState(m) = &events[trip].event else {
        unreachable!()
    };
    assert!(m.cost_vs_baseline_bps.unwrap() > 1.0, "{m:?}");
    assert!(m.reason.as_deref().unwrap().contains("threshold"), "{m:?}");
    // The critical alert comes with the trip (just before the state event).
    assert!(
        matches!(&events[trip - 1].event, Event::Alert(a) if a.code == "model_guard" && a.severity == Severity::Critical)
    );
    let before: Vec<_> = decisions(&events[..trip]).into_iter().collect();
    let after: Vec<_> = decisions(&events[trip..]).into_iter().collect();
    assert!(before
        .iter()
        .all(|d| !d.fell_back && d.action == "aggressive"));
    assert!(!after.is_empty());
    for d in &after {
        assert!(d.fell_back);
        assert_eq!(d.model_status, Some(ModelStatus::Live));
        assert!(
            d.fallback_reason
                .as_deref()
                .unwrap()
                .contains("guard tripped"),
            "{d:?}"
        );
    }
    assert_eq!(e.view().model("bad").unwrap().guard, GuardState::Tripped);
}

#[test]
fn a_trader_switches_a_model_off_and_back_on_a_viewer_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(
        dir.path(),
        &[("champ", "contrarian.onnx", ModelStatus::Live)],
        DeploymentPolicy::default(),
    );
    let mut e = engine(&scenario(1, 20_000.0), &reg);
    e.run_until(36_300_000_000_000);
    let kill = Command::KillModel {
        model: "champ".into(),
        reason: Some("looks wrong".into()),
    };
    let refused = e.apply_command("v1", "val", Role::Viewer, &kill);
    assert!(!refused.ok);
    let ok = e.apply_command("c1", "alice", Role::Trader, &kill);
    assert!(ok.ok, "{ok:?}");
    let again = e.apply_command("c2", "alice", Role::Trader, &kill);
    assert!(!again.ok && again.reason.unwrap().contains("already"));
    let unknown = e.apply_command(
        "c3",
        "alice",
        Role::Trader,
        &Command::KillModel {
            model: "nope".into(),
            reason: None,
        },
    );
    assert!(unknown
        .reason
        .unwrap()
        .contains("unknown model nope (deployed: champ)"));
    e.drain_events().for_each(drop);
    e.run_until(36_600_000_000_000);
    let off: Vec<EventEnvelope> = e.drain_events().collect();
    let ds = decisions(&off);
    assert!(!ds.is_empty());
    assert!(ds.iter().all(|d| d.fell_back
        && d.fallback_reason
            .as_deref()
            .unwrap()
            .contains("switched off")));
    assert!(e
        .view()
        .model("champ")
        .unwrap()
        .reason
        .as_deref()
        .unwrap()
        .contains("alice: looks wrong"));
    let back = e.apply_command(
        "c4",
        "alice",
        Role::Trader,
        &Command::RestoreModel {
            model: "champ".into(),
        },
    );
    assert!(back.ok);
    e.drain_events().for_each(drop);
    e.run_until(36_900_000_000_000);
    let on: Vec<EventEnvelope> = e.drain_events().collect();
    assert!(decisions(&on)
        .iter()
        .all(|d| !d.fell_back && d.action == "aggressive"));
}

#[test]
fn a_model_without_an_opinion_falls_back_and_decisions_say_so() {
    let s = scenario(1, 20_000.0);
    let mut e = Engine::new(
        &s,
        &EngineOptions {
            seed: Some(5),
            policy_path: Some(fixture("uniform.onnx")),
            ..Default::default()
        },
    )
    .unwrap();
    let events = run(&mut e);
    let ds = decisions(&events);
    assert!(!ds.is_empty());
    for d in ds {
        assert!(d.fell_back);
        assert_eq!(d.model_status, Some(ModelStatus::Unregistered));
        assert!(
            d.fallback_reason.as_deref().unwrap().contains("below 0.25"),
            "{d:?}"
        );
    }
}

#[test]
fn a_registry_whose_file_changed_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(
        dir.path(),
        &[("champ", "contrarian.onnx", ModelStatus::Live)],
        DeploymentPolicy::default(),
    );
    std::fs::copy(fixture("uniform.onnx"), dir.path().join("champ.onnx")).unwrap();
    let err = Engine::new(
        &scenario(1, 1000.0),
        &EngineOptions {
            registry: Some(reg),
            ..Default::default()
        },
    )
    .err()
    .expect("refused");
    assert!(format!("{err:#}").contains("changed without"), "{err:#}");
}
