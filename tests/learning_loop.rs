//! The learning loop's pieces that decide what a model learns and whether it
//! may trade: families drawn per seed, rollout labels, the promotion gates,
//! and the calibration commands as a user runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use vigil::engine::{Scenario, ScenarioFile};
use vigil::learn::dataset::{from_simulator, DatasetOptions};
use vigil::learn::gates::{check, GateOptions};
use vigil::model::registry::{file_sha256, ModelEntry, ModelKind, Registry};
use vigil::protocol::ModelStatus;

const FAMILIES: [&str; 5] = [
    "regime_family",
    "volatile_family",
    "calm_family",
    "thin_family",
    "no_free_lunch",
];

#[test]
fn families_draw_a_valid_day_per_seed_and_the_same_day_for_the_same_seed() {
    for name in FAMILIES {
        let f = ScenarioFile::load(name).unwrap();
        assert!(f.is_family(), "{name}");
        let days: Vec<Scenario> = (0..25)
            .map(|s| f.realise(Some(1_000_000 + s)).unwrap())
            .collect();
        assert_eq!(
            days[3],
            f.realise(Some(1_000_003)).unwrap(),
            "{name}: not deterministic"
        );
        let distinct = days.iter().filter(|d| d.symbols != days[0].symbols).count();
        assert!(
            distinct >= 20,
            "{name}: only {distinct} distinct days of 25"
        );
        for d in &days {
            assert_eq!(d.name, name);
            let o = &d.orders[0];
            let adv = d.symbols[0].adv;
            assert!(
                o.qty > 0.0 && o.qty <= 0.12 * adv + 1.0,
                "{name}: {} of {adv}",
                o.qty
            );
        }
        // Both sides and several trend outcomes appear.
        let sides: std::collections::BTreeSet<_> = days
            .iter()
            .map(|d| format!("{:?}", d.orders[0].side))
            .collect();
        assert_eq!(sides.len(), 2, "{name}");
    }
    let regimes: std::collections::BTreeSet<String> = (0..40)
        .map(|s| Scenario::load_seeded("regime_family", Some(s)).unwrap())
        .flat_map(|d| d.events.into_iter())
        .filter_map(|e| match e {
            vigil::engine::scenario::ScenarioEvent::Regime { regime, .. } => {
                Some(regime.name().to_string())
            }
            _ => None,
        })
        .collect();
    for want in ["trending_up", "trending_down", "calm"] {
        assert!(regimes.contains(want), "{regimes:?}");
    }
}

#[test]
fn rollout_labels_compare_every_action_on_the_same_futures() {
    // A short day so the debug build stays quick.
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("short.toml");
    std::fs::write(
        &scenario,
        r#"
name = "short"
start = "10:00:00"
end = "10:40:00"
[[symbols]]
symbol = "ACME"
reference_price = { uniform = [40.0, 45.0], round = 0.01 }
adv = 2000000
spread = 0.02
daily_vol = 0.02
[[orders]]
id = "P-1"
symbol = "ACME"
side = { choice = ["buy", "sell"] }
qty_adv = 0.01
strategy = "vwap"
"#,
    )
    .unwrap();
    let opts = DatasetOptions {
        scenarios: vec![scenario.display().to_string()],
        episodes: 2,
        seed: 11,
        horizon_s: 240.0,
        sample_prob: 0.15,
        explore: 0.3,
        threads: 2,
        rollouts: 4,
        hold: 2,
        baseline: "vwap".into(),
        policy: None,
    };
    let out = dir.path().join("d.csv");
    let summary = from_simulator(&opts, &out).unwrap();
    assert!(summary.rows >= 4, "{} rows", summary.rows);
    let noise = summary.noise.clone().unwrap();
    assert_eq!(noise.rollouts, 4);
    assert!(noise.advantage_se_bps.is_finite() && noise.advantage_se_bps >= 0.0);
    assert!(noise.split_half_agreement.is_some());
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let actions = vigil::model::Action::ALL;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len());
        let col = |name: &str| cells[header.iter().position(|h| *h == name).unwrap()];
        let costs: Vec<f64> = actions
            .iter()
            .map(|a| col(&format!("cost_{}", a.name())).parse().unwrap())
            .collect();
        let best = costs
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(col("best_action"), actions[best].name());
        for a in actions {
            let se: f64 = col(&format!("se_{}", a.name())).parse().unwrap();
            assert!(se >= 0.0);
        }
        assert!(col("seed").parse::<u64>().unwrap() < 1_000_000);
    }
    // The same options give the same file.
    let again = dir.path().join("e.csv");
    from_simulator(&opts, &again).unwrap();
    assert_eq!(text, std::fs::read_to_string(&again).unwrap());
    // Seeds that evaluation owns are refused.
    let err = from_simulator(
        &DatasetOptions {
            seed: 999_999,
            ..opts
        },
        &again,
    )
    .err()
    .unwrap();
    assert!(format!("{err:#}").contains("below 1000000"), "{err:#}");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn a_worse_model_is_refused_with_the_reason() {
    // `contrarian` crosses the spread at every decision: on calm days it
    // costs more than the baseline schedule it would replace.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.onnx");
    std::fs::copy(fixture("contrarian.onnx"), &file).unwrap();
    let registry = Registry {
        models: vec![ModelEntry {
            name: "bad".into(),
            kind: ModelKind::Policy,
            file: "bad.onnx".into(),
            sha256: file_sha256(&file).unwrap(),
            contract_version: vigil::model::CONTRACT_VERSION,
            card: String::new(),
            status: ModelStatus::Shadow,
            metrics: Default::default(),
            history: Vec::new(),
        }],
        ..Default::default()
    };
    let report = check(
        &registry,
        dir.path(),
        "bad",
        &GateOptions {
            seeds: 4,
            threads: 2,
            families: vec!["calm_family".into()],
        },
    )
    .unwrap();
    let gate = |n: &str| report.gates.iter().find(|g| g.name == n).unwrap();
    assert!(gate("file").pass && gate("contract").pass);
    assert!(!gate("held-out").pass, "{}", report.table());
    assert!(
        gate("held-out").detail.contains("vs vwap"),
        "{}",
        gate("held-out").detail
    );
    assert!(!report.pass());
    assert!(report.failures().iter().any(|f| f.starts_with("held-out:")));
}

#[test]
fn a_model_that_is_not_the_registered_file_fails_the_first_gate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.onnx");
    std::fs::copy(fixture("contrarian.onnx"), &file).unwrap();
    let registry = Registry {
        models: vec![ModelEntry {
            name: "m".into(),
            kind: ModelKind::Policy,
            file: "m.onnx".into(),
            sha256: "0".repeat(64),
            contract_version: vigil::model::CONTRACT_VERSION,
            card: String::new(),
            status: ModelStatus::Shadow,
            metrics: Default::default(),
            history: Vec::new(),
        }],
        ..Default::default()
    };
    let report = check(&registry, dir.path(), "m", &GateOptions::default()).unwrap();
    assert_eq!(report.gates.len(), 1);
    assert!(!report.pass() && report.gates[0].detail.contains("changed without"));
}

fn vigil(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn calibrate_impact_prints_the_promised_json() {
    let (ok, out, err) = vigil(&["calibrate", "impact", "--seeds", "3", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let exponent = v["exponent"].as_f64().unwrap();
    assert!((0.4..=0.6).contains(&exponent), "{exponent}");
    let ci = v["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= exponent && exponent <= ci[1].as_f64().unwrap());
    let decay = v["decay_ratio"].as_f64().unwrap();
    assert!((0.55..=0.8).contains(&decay), "{decay}");
    assert_eq!(v["rows"].as_array().unwrap().len(), 6);
    assert_eq!(v["pass"], serde_json::Value::Bool(true));
}

#[test]
fn calibrate_no_free_lunch_prints_the_promised_json() {
    let (_, out, err) = vigil(&[
        "calibrate",
        "no-free-lunch",
        "--seeds",
        "3",
        "--json",
        "--policy",
        fixture("uniform.onnx").to_str().unwrap(),
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!(v["seeds"].as_u64(), Some(3));
    let d = &v["adaptive_minus_ac_bps"];
    let ci = d["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= d["mean"].as_f64().unwrap());
    assert!(d["mean"].as_f64().unwrap() <= ci[1].as_f64().unwrap());
}
