//! ONNX inference through `ort`. The default backend is tract (pure Rust,
//! compiled in: nothing to install); ONNX Runtime can be chosen at run time
//! by pointing at its shared library. `ort` keeps one backend per process,
//! chosen by the first call to `init_backend`.
//!
//! Model files are untrusted input: loading validates the contract stored in
//! the model's metadata, and both loading and inference run behind
//! `catch_unwind`, because some unsupported graphs make the tract backend
//! panic instead of returning an error.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use sha2::{Digest, Sha256};

use super::contract::{contract_info, CONTRACT_VERSION, FEATURE_COUNT};
use crate::model::Action;

/// Metadata keys a vigil model carries.
pub const META_VERSION: &str = "vigil_contract_version";
pub const META_FEATURES: &str = "vigil_features";
pub const META_ACTIONS: &str = "vigil_actions";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Tract,
    OnnxRuntime(PathBuf),
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Tract => write!(f, "tract (embedded)"),
            Backend::OnnxRuntime(p) => write!(f, "ONNX Runtime ({})", p.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file {0} not found")]
    Missing(PathBuf),
    #[error("cannot read model file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path} is not a usable ONNX model: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path} does not match the feature/action contract: {reason}")]
    Mismatch { path: PathBuf, reason: String },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("ONNX backend: {0}")]
    Backend(String),
}

static BACKEND: OnceLock<Result<Backend, String>> = OnceLock::new();
static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Choose the backend for this process: ONNX Runtime from `library` (or the
/// `VIGIL_ORT_DYLIB` environment variable), else tract. Later calls return
/// the first choice.
pub fn init_backend(library: Option<&Path>) -> Result<Backend, ModelError> {
    let chosen = BACKEND.get_or_init(|| {
        let from_env = std::env::var_os("VIGIL_ORT_DYLIB").map(PathBuf::from);
        match library.map(Path::to_path_buf).or(from_env) {
            Some(path) => load_onnxruntime(&path).map(|()| Backend::OnnxRuntime(path)),
            None => {
                ort::set_api(ort_tract::api());
                Ok(Backend::Tract)
            }
        }
    });
    chosen.clone().map_err(ModelError::Backend)
}

fn load_onnxruntime(path: &Path) -> Result<(), String> {
    if !path.exists() {
        return Err(format!("ONNX Runtime library {} not found", path.display()));
    }
    // SAFETY: loading a shared library runs its initialisers; the user chose
    // this file as an ONNX Runtime library. It stays loaded for the process.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    type GetApiBase = unsafe extern "C" fn() -> *const ort_sys::OrtApiBase;
    // SAFETY: OrtGetApiBase has this signature in every ONNX Runtime release.
    let get_base: libloading::Symbol<GetApiBase> = unsafe { lib.get(b"OrtGetApiBase") }
        .map_err(|e| format!("{} is not an ONNX Runtime library: {e}", path.display()))?;
    // SAFETY: the returned pointers are owned by the library, which is never unloaded.
    unsafe {
        let base = get_base();
        if base.is_null() {
            return Err("OrtGetApiBase returned null".into());
        }
        let api = ((*base).GetApi)(ort_sys::ORT_API_VERSION);
        if api.is_null() {
            return Err(format!(
                "{} does not provide ONNX Runtime API version {} (too old?)",
                path.display(),
                ort_sys::ORT_API_VERSION
            ));
        }
        // The API table is plain function pointers: a copy is what ort keeps.
        ort::set_api((*api).clone());
    }
    Ok(())
}

fn environment() -> Result<&'static ort::environment::Environment, ModelError> {
    init_backend(None)?;
    ENVIRONMENT
        .get_or_init(|| {
            ort::init()
                .with_name("vigil")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ModelError::Backend(e.clone()))
}

/// A loaded decision model: features in, per-action probabilities out.
#[derive(Clone)]
pub struct PolicyModel {
    session: Arc<Mutex<Session>>,
    /// `name@sha256-prefix`, reported in every decision.
    pub id: String,
    pub input_name: String,
    pub output_name: String,
    pub path: PathBuf,
}

/// What `vigil model check` reports.
#[derive(Debug, Clone)]
pub struct ModelReport {
    pub id: String,
    pub backend: Backend,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub contract_version: u32,
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the backend panicked".into())
}

impl PolicyModel {
    pub fn load(path: &Path) -> Result<PolicyModel, ModelError> {
        if !path.exists() {
            return Err(ModelError::Missing(path.to_path_buf()));
        }
        let bytes = std::fs::read(path).map_err(|e| ModelError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let env = environment()?;
        let invalid = |reason: String| ModelError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let session = catch_unwind(AssertUnwindSafe(|| {
            Session::builder(env)
                .and_then(|b| {
                    b.with_optimization_level(GraphOptimizationLevel::Level3)
                        .map_err(Into::into)
                })
                .and_then(|mut b| b.commit_from_memory(&bytes))
        }))
        .map_err(|p| invalid(panic_message(p)))?
        .map_err(|e| invalid(e.to_string()))?;

        let meta = read_metadata(&bytes).map_err(invalid)?;
        let mismatch = |reason: String| ModelError::Mismatch {
            path: path.to_path_buf(),
            reason,
        };
        let contract = contract_info();
        let version = meta.get(META_VERSION).cloned().ok_or_else(|| {
            mismatch(format!(
                "no {META_VERSION} in the model metadata (not trained for vigil?)"
            ))
        })?;
        if version.trim() != CONTRACT_VERSION.to_string() {
            return Err(mismatch(format!(
                "contract version {version}, this build speaks {CONTRACT_VERSION}"
            )));
        }
        let features = meta.get(META_FEATURES).cloned().unwrap_or_default();
        let want_features = contract.features.join(",");
        if features != want_features {
            return Err(mismatch(format!(
                "features [{features}] differ from [{want_features}]"
            )));
        }
        let actions = meta.get(META_ACTIONS).cloned().unwrap_or_default();
        let want_actions = contract.actions.join(",");
        if actions != want_actions {
            return Err(mismatch(format!(
                "actions [{actions}] differ from [{want_actions}]"
            )));
        }
        let name = meta
            .get(GRAPH_NAME)
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "model".into())
            });
        if session.inputs().len() != 1 {
            return Err(invalid(format!(
                "expected one input, found {}",
                session.inputs().len()
            )));
        }
        let input_name = session.inputs()[0].name().to_string();
        let output_name = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .find(|n| n == "probabilities" || n == "probs")
            .or_else(|| session.outputs().first().map(|o| o.name().to_string()))
            .ok_or_else(|| invalid("the model has no output".into()))?;
        let hash = Sha256::digest(&bytes);
        let id = format!("{name}@{}", hex(&hash[..6]));
        let model = PolicyModel {
            session: Arc::new(Mutex::new(session)),
            id,
            input_name,
            output_name,
            path: path.to_path_buf(),
        };
        // A test inference: catches graphs that load but cannot run.
        model
            .predict(&[0.0; FEATURE_COUNT])
            .map_err(|e| invalid(e.to_string()))?;
        Ok(model)
    }

    /// Per-action probabilities for one feature vector (contract order).
    pub fn predict(&self, features: &[f64]) -> Result<Vec<f64>, ModelError> {
        if features.len() != FEATURE_COUNT {
            return Err(ModelError::Inference(format!(
                "{} features given, {FEATURE_COUNT} expected",
                features.len()
            )));
        }
        let input: Vec<f32> = features.iter().map(|x| *x as f32).collect();
        let tensor = Tensor::from_array(([1usize, FEATURE_COUNT], input))
            .map_err(|e| ModelError::Inference(e.to_string()))?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| ModelError::Inference("model lock poisoned".into()))?;
        let result = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<f64>, String> {
            let outputs = session
                .run(ort::inputs![self.input_name.as_str() => tensor])
                .map_err(|e| e.to_string())?;
            let (shape, data) = outputs[self.output_name.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|e| e.to_string())?;
            let n = Action::ALL.len();
            if data.len() != n {
                return Err(format!(
                    "output {} has shape {shape:?}, expected [1, {n}]",
                    self.output_name
                ));
            }
            Ok(data.iter().map(|p| *p as f64).collect())
        }));
        let probs = result
            .map_err(|p| ModelError::Inference(panic_message(p)))?
            .map_err(ModelError::Inference)?;
        if probs.iter().any(|p| !p.is_finite() || *p < -1e-6) {
            return Err(ModelError::Inference(format!(
                "model returned invalid probabilities {probs:?}"
            )));
        }
        Ok(probs)
    }

    pub fn report(&self) -> Result<ModelReport, ModelError> {
        let session = self
            .session
            .lock()
            .map_err(|_| ModelError::Inference("model lock poisoned".into()))?;
        let describe = |o: &ort::value::Outlet| format!("{}: {:?}", o.name(), o.dtype());
        Ok(ModelReport {
            id: self.id.clone(),
            backend: init_backend(None)?,
            inputs: session.inputs().iter().map(describe).collect(),
            outputs: session.outputs().iter().map(describe).collect(),
            contract_version: CONTRACT_VERSION,
        })
    }
}

/// Key under which `read_metadata` reports the graph's name.
const GRAPH_NAME: &str = "graph.name";

/// The model's metadata properties (and its graph name), read from the ONNX
/// protobuf directly: not every backend exposes them through ort.
fn read_metadata(bytes: &[u8]) -> Result<std::collections::HashMap<String, String>, String> {
    use prost::Message;
    let model = tract_onnx::pb::ModelProto::decode(bytes)
        .map_err(|e| format!("not an ONNX protobuf: {e}"))?;
    let mut props: std::collections::HashMap<String, String> = model
        .metadata_props
        .into_iter()
        .map(|p| (p.key, p.value))
        .collect();
    if let Some(g) = model.graph {
        props.insert(GRAPH_NAME.into(), g.name);
    }
    Ok(props)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Index and probability of the most likely action.
pub fn argmax(probs: &[f64]) -> (usize, f64) {
    probs.iter().copied().enumerate().fold(
        (0, f64::MIN),
        |best, (i, p)| if p > best.1 { (i, p) } else { best },
    )
}
