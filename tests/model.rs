//! The model contract, model loading errors, backend parity, the adaptive
//! strategy end to end and `vigil eval --json`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use vigil::model::contract::contract_file_text;
use vigil::model::onnx::{ModelError, PolicyModel};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

fn vigil() -> Process {
    let mut p = Process::new(env!("CARGO_BIN_EXE_vigil"));
    p.current_dir(root());
    p.env_remove("VIGIL_ORT_DYLIB");
    p
}

#[test]
fn committed_contract_matches_the_code() {
    let committed = std::fs::read_to_string(root().join("models/features.json")).unwrap();
    assert_eq!(
        committed,
        contract_file_text(),
        "run `vigil model contract` and commit models/features.json"
    );
    let out = vigil()
        .args(["model", "contract", "--check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn committed_models_load_and_give_probabilities() {
    for name in ["policy.onnx", "shadow.onnx"] {
        let m = PolicyModel::load(&root().join("models").join(name)).unwrap();
        assert!(m.id.contains('@'), "{}", m.id);
        let p = m
            .predict(&[0.1; vigil::model::contract::FEATURE_COUNT])
            .unwrap();
        assert_eq!(p.len(), vigil::model::Action::ALL.len());
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{p:?}");
    }
}

#[test]
fn bad_model_files_are_clear_errors_not_panics() {
    let cases: Vec<(PathBuf, &str)> = vec![
        (fixture("does_not_exist.onnx"), "not found"),
        (fixture("not_a_model.onnx"), "not a usable ONNX model"),
        (fixture("no_contract.onnx"), "no vigil_contract_version"),
        (fixture("wrong_features.onnx"), "features ["),
    ];
    for (path, want) in cases {
        let err = match PolicyModel::load(&path) {
            Ok(_) => panic!("{} loaded", path.display()),
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(msg.contains(want), "{}: {msg}", path.display());
        if path.ends_with("wrong_features.onnx") {
            assert!(matches!(err, ModelError::Mismatch { .. }));
        }
    }
    // The command line says the same and exits non-zero.
    let out = vigil()
        .args(["model", "check", "tests/fixtures/wrong_features.onnx"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match the feature/action contract")
    );
}

#[test]
fn model_check_reports_inputs_outputs_and_a_test_inference() {
    let out = vigil()
        .args(["model", "check", "models/policy.onnx"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "model    policy@",
        "backend  tract",
        "input    features",
        "output   probabilities",
        "test inference",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

/// Where the onnxruntime wheel keeps its library (CI installs the wheel).
fn onnxruntime_library() -> PathBuf {
    if let Some(p) = std::env::var_os("VIGIL_ORT_DYLIB") {
        return PathBuf::from(p);
    }
    let out = Process::new("python3")
        .args(["-c", "import onnxruntime, os, glob; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so*'))[0])"])
        .output()
        .expect("python3 is needed for the parity test (./test installs tests/requirements.txt)");
    assert!(
        out.status.success(),
        "python onnxruntime missing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn scores(extra: &[&str], inputs: &Path, model: &str) -> Vec<Vec<f64>> {
    let mut cmd = vigil();
    cmd.args(["model", "check", model, "--inputs"])
        .arg(inputs)
        .args(extra);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn tract_onnxruntime_and_python_agree() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("inputs.json");
    // Deterministic, varied feature vectors inside the normalised ranges.
    let n = vigil::model::contract::FEATURE_COUNT;
    let rows: Vec<Vec<f64>> = (0..64)
        .map(|i| {
            (0..n)
                .map(|j| (((i * n + j) as f64 * 0.618).fract() - 0.5) * 2.0)
                .collect()
        })
        .collect();
    std::fs::write(&inputs, serde_json::to_string(&rows).unwrap()).unwrap();
    let lib = onnxruntime_library();
    for model in ["models/policy.onnx", "models/shadow.onnx"] {
        let tract = scores(&[], &inputs, model);
        let ort = scores(&["--onnx-runtime", lib.to_str().unwrap()], &inputs, model);
        let py = Process::new("python3")
            .current_dir(root())
            .args([
                "-c",
                "import json,sys,numpy as np,onnxruntime as o;x=np.array(json.load(open(sys.argv[2])),dtype=np.float32);s=o.InferenceSession(sys.argv[1]);print(json.dumps(s.run(['probabilities'],{'features':x})[0].tolist()))",
                model,
                inputs.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            py.status.success(),
            "{}",
            String::from_utf8_lossy(&py.stderr)
        );
        let py: Vec<Vec<f64>> = serde_json::from_slice(&py.stdout).unwrap();
        let mut worst = 0.0f64;
        for ((a, b), c) in tract.iter().zip(&ort).zip(&py) {
            for ((x, y), z) in a.iter().zip(b).zip(c) {
                worst = worst
                    .max((x - y).abs())
                    .max((x - z).abs())
                    .max((y - z).abs());
            }
        }
        assert_eq!(tract.len(), 64);
        assert!(worst <= 1e-5, "{model}: backends differ by {worst}");
    }
}

#[test]
fn eval_json_reports_every_strategy() {
    let out = vigil()
        .args([
            "eval",
            "--scenario",
            "calm",
            "--seeds",
            "2",
            "--strategies",
            "twap",
            "vwap",
            "adaptive",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scenario"], "calm");
    assert_eq!(v["seeds"], 2);
    for s in ["twap", "vwap", "adaptive"] {
        let r = &v["strategies"][s];
        let mean = r["mean_bps"].as_f64().unwrap();
        let ci = r["ci95_bps"].as_array().unwrap();
        assert!(ci[0].as_f64().unwrap() <= mean && mean <= ci[1].as_f64().unwrap());
    }
    assert!(v["paired_vs_best_classic"]["adaptive"]["mean_bps"].is_number());
    assert!(
        v["first_seed"].as_u64().unwrap() >= 1_000_000,
        "evaluation must use held-out seeds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_orders_decide_with_real_probabilities_over_loopback() {
    use vigil::protocol::*;
    let engine = support::start_engine("default", 42, 1e7, None).await;
    let mut c = support::Client::connect(&engine.url()).await;
    c.hello(support::TRADER, None).await;
    let mut decisions = Vec::new();
    while decisions.len() < 30 {
        if let ServerMessage::Event(EventEnvelope {
            event: Event::Decision(d),
            ..
        }) = c.recv().await
        {
            if d.strategy == "adaptive" {
                decisions.push(d);
            }
        }
    }
    for d in &decisions {
        assert!(d.model.starts_with("policy@"), "{}", d.model);
        assert_eq!(d.probs.len(), vigil::model::Action::ALL.len());
        assert!(
            (d.probs.iter().sum::<f64>() - 1.0).abs() < 1e-3,
            "{:?}",
            d.probs
        );
        assert_eq!(d.features.len(), vigil::model::contract::FEATURE_COUNT);
    }
    // A model is not a rule: its probabilities are not one-hot, and its
    // confidence is the probability of the action it chose (unless it fell back).
    assert!(decisions
        .iter()
        .any(|d| d.probs.iter().filter(|p| **p > 1e-6).count() > 1));
    for d in decisions.iter().filter(|d| d.confidence < 1.0) {
        let best = d.probs.iter().cloned().fold(f64::MIN, f64::max);
        assert!((d.confidence - best).abs() < 1e-9);
    }
    engine.handle.shutdown();
}
