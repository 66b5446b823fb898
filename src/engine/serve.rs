//! Start a complete engine: core on its thread, journal, hub on a socket.
//! Used by `vigil engine`, by `vigil demo` and by the end-to-end tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use super::hub::{self, Tokens};
use super::journal::{JournalHeader, JournalWriter};
use super::runner::{self, EngineHandle, RunnerOptions};
use super::{Engine, EngineOptions, Scenario};

pub struct ServeOptions {
    pub listen: String,
    pub scenario: Scenario,
    pub seed: Option<u64>,
    pub speed: f64,
    pub record: Option<PathBuf>,
    pub tokens: Tokens,
    pub engine_id: String,
}

pub struct RunningEngine {
    pub addr: SocketAddr,
    pub handle: EngineHandle,
    pub journal: Option<PathBuf>,
    pub thread: std::thread::JoinHandle<Result<()>>,
    pub hub: tokio::task::JoinHandle<Result<()>>,
}

impl RunningEngine {
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

/// Build the engine, open the journal, bind the socket and start serving.
pub async fn start(opts: ServeOptions) -> Result<RunningEngine> {
    let engine = Engine::new(
        &opts.scenario,
        &EngineOptions {
            engine_id: opts.engine_id.clone(),
            seed: opts.seed,
            ..Default::default()
        },
    )?;
    start_engine(engine, opts).await
}

/// Serve an engine built by the caller (e.g. over a replayed market);
/// `opts.scenario` is what the journal records.
pub async fn start_engine(engine: Engine, opts: ServeOptions) -> Result<RunningEngine> {
    let journal = match &opts.record {
        Some(dir) => {
            let header = JournalHeader::for_engine(&engine, &opts.scenario)?;
            Some(JournalWriter::create(dir, &header)?)
        }
        None => None,
    };
    let journal_path = journal.as_ref().map(|j| j.path().to_path_buf());
    let listener = TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let (handle, thread) = runner::spawn(
        engine,
        RunnerOptions {
            speed: opts.speed,
            journal,
        },
    )?;
    let hub = tokio::spawn(hub::serve(listener, handle.clone(), Arc::new(opts.tokens)));
    Ok(RunningEngine {
        addr,
        handle,
        journal: journal_path,
        thread,
        hub,
    })
}
