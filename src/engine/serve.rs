//! Start a complete engine: core on its thread, journal, hub on a socket.
//! Used by `vigil engine`, by `vigil demo` and by the end-to-end tests.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use super::hub::{self, Access, Tokens};
use super::journal::{new_instance_id, JournalHeader, JournalWriter, SyncPolicy};
use super::recovery::Recovered;
use super::runner::{self, EngineHandle, RunnerOptions};
use super::{Engine, EngineOptions, Scenario};
use crate::tls::TlsAcceptor;

pub struct ServeOptions {
    pub listen: String,
    pub scenario: Scenario,
    pub seed: Option<u64>,
    pub speed: f64,
    pub record: Option<PathBuf>,
    pub tokens: Tokens,
    pub engine_id: String,
    /// Serve `wss://` with this certificate; plain `ws://` without.
    pub tls: Option<TlsAcceptor>,
    pub journal_sync: SyncPolicy,
    /// The exchange capture the market replays (recorded in the journal so a
    /// crashed session can be recovered on it).
    pub capture: Option<PathBuf>,
}

impl ServeOptions {
    /// Plain WebSocket, default journal policy, simulator market.
    pub fn new(listen: impl Into<String>, scenario: Scenario, tokens: Tokens) -> Self {
        ServeOptions {
            listen: listen.into(),
            scenario,
            seed: None,
            speed: 1.0,
            record: None,
            tokens,
            engine_id: "vigil-engine".into(),
            tls: None,
            journal_sync: SyncPolicy::default(),
            capture: None,
        }
    }
}

pub struct RunningEngine {
    pub addr: SocketAddr,
    pub handle: EngineHandle,
    pub journal: Option<PathBuf>,
    pub thread: std::thread::JoinHandle<Result<()>>,
    pub hub: tokio::task::JoinHandle<Result<()>>,
    pub tls: bool,
    /// The tokens and login limits the hub checks, for other transports (the bus).
    pub access: std::sync::Arc<Access>,
}

impl RunningEngine {
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "wss" } else { "ws" }, self.addr)
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
    let instance_id = new_instance_id();
    let journal = match &opts.record {
        Some(dir) => {
            let mut header = JournalHeader::for_engine(&engine, &opts.scenario)?;
            header.instance_id = instance_id.clone();
            header.capture = opts.capture.as_ref().map(|p| p.display().to_string());
            Some(JournalWriter::create(dir, &header)?.with_policy(opts.journal_sync))
        }
        None => None,
    };
    let mut runner = RunnerOptions::new(opts.speed, journal);
    runner.instance_id = instance_id;
    launch(engine, runner, opts).await
}

/// Serve a session recovered from its journal: the same run epoch, its
/// event history for clients that resume, and the journal continued.
pub async fn start_recovered(recovered: Recovered, opts: ServeOptions) -> Result<RunningEngine> {
    let Recovered {
        engine,
        header,
        journal,
        history,
        unwritten,
        restart,
        ..
    } = recovered;
    let mut runner = RunnerOptions::new(opts.speed, Some(journal.with_policy(opts.journal_sync)));
    // A journal from before run epochs existed gets one now; it is new to
    // every client, which then reloads from a snapshot.
    if !header.instance_id.is_empty() {
        runner.instance_id = header.instance_id;
    }
    runner.restart = Some(restart);
    runner.history = history;
    runner.unwritten = unwritten;
    launch(engine, runner, opts).await
}

async fn launch(
    engine: Engine,
    runner: RunnerOptions,
    opts: ServeOptions,
) -> Result<RunningEngine> {
    let journal_path = runner.journal.as_ref().map(|j| j.path().to_path_buf());
    let listener = TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let (handle, thread) = runner::spawn(engine, runner)?;
    let tls = opts.tls.is_some();
    let access = Access::new(opts.tokens);
    let hub = tokio::spawn(hub::serve(
        listener,
        handle.clone(),
        access.clone(),
        opts.tls,
    ));
    Ok(RunningEngine {
        addr,
        handle,
        journal: journal_path,
        thread,
        hub,
        tls,
        access,
    })
}
