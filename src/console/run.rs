//! The runtime: terminal setup/teardown, the main loop, and carrying out the
//! effects `update` asks for. The loop selects over keyboard input, network
//! events and a frame tick; network bursts are drained before drawing and the
//! screen is redrawn at most once per tick (~60 fps).

use std::io::Stdout;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::{mpsc, oneshot};

use super::app::{App, Effect, Msg};
use super::client::{spawn_client, ClientConfig, ClientControl, NetEvent};
use super::keymap::Keymap;
use super::shadow::{ShadowEvent, ShadowState, ShadowStatus, ShadowWorker, Thresholds};
use super::terminal::TerminalGuard;
use super::theme::ThemeSource;
use super::view::view;

/// One frame every ~16 ms at most.
const FRAME: Duration = Duration::from_millis(16);
/// Network messages applied per loop turn before input gets a look-in.
const DRAIN_MAX: usize = 50_000;
/// Network events buffered between the client task and the UI; when full the
/// client stops reading and the engine's hub resynchronises us.
const NET_QUEUE: usize = 65_536;

pub struct ConsoleOptions {
    /// WebSocket URL of the engine, e.g. `ws://127.0.0.1:7878`.
    pub url: String,
    pub token: String,
    pub theme: String,
    /// Keymap file (`--keys`); defaults when absent.
    pub keys: Option<PathBuf>,
    /// Where to look for `NAME.toml` themes; the built-ins are used otherwise.
    pub themes_dir: Option<PathBuf>,
    /// For `vigil demo`: the URL of an engine that is still starting. The
    /// console waits for it (instead of `url`) before connecting.
    pub engine_ready: Option<oneshot::Receiver<String>>,
    /// Shadow model scoring every decision (`--shadow FILE`); `None` runs
    /// without one (`--no-shadow`). Default: `models/shadow.onnx`.
    pub shadow: Option<PathBuf>,
    /// When the shadow's opinion counts as a divergence.
    pub divergence: Thresholds,
    /// Trusted authorities for `wss://` (`--ca`); the system's when None.
    pub ca: Option<PathBuf>,
    /// For a `nats://` URL: which engines, and where to keep the console's
    /// place across its restarts.
    pub bus: Option<BusOptions>,
}

pub struct BusOptions {
    pub engines: super::fleet::Engines,
    pub resume_file: Option<PathBuf>,
}

impl ConsoleOptions {
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        ConsoleOptions {
            url: url.into(),
            token: token.into(),
            theme: "dark".into(),
            keys: None,
            themes_dir: default_themes_dir(),
            engine_ready: None,
            shadow: Some(crate::model::default_model_path("shadow.onnx")),
            divergence: Thresholds::default(),
            ca: None,
            bus: None,
        }
    }
}

/// `./themes` when it exists (running from the repository), else none.
pub fn default_themes_dir() -> Option<PathBuf> {
    let dir = PathBuf::from("themes");
    dir.is_dir().then_some(dir)
}

/// Run the console until the user quits.
pub async fn run_console(opts: ConsoleOptions) -> anyhow::Result<()> {
    // Everything that can fail on bad input fails before the terminal changes mode.
    let keymap = match &opts.keys {
        Some(path) => Keymap::load(path)?,
        None => Keymap::default(),
    };
    let themes = ThemeSource {
        dir: opts.themes_dir.clone(),
    };
    let theme = themes.load(&opts.theme)?;
    opts.divergence.validate().map_err(anyhow::Error::msg)?;
    let url = match opts.engine_ready {
        Some(rx) => rx
            .await
            .map_err(|_| anyhow::anyhow!("the embedded engine did not start"))?,
        None => opts.url.clone(),
    };
    let mut app = App::new(keymap, theme, themes.names());

    // The model loads on the worker thread too: the screen comes up at once.
    let (shadow_tx, shadow_rx) = mpsc::unbounded_channel();
    let shadow = match opts.shadow.clone() {
        Some(path) => {
            app.shadow = ShadowState::new(
                ShadowStatus::Loading { path: path.clone() },
                opts.divergence,
            );
            Some(ShadowWorker::spawn(path, shadow_tx))
        }
        None => {
            app.shadow = ShadowState::new(
                ShadowStatus::Off {
                    reason: "--no-shadow".into(),
                },
                opts.divergence,
            );
            None
        }
    };

    let (net_tx, net_rx) = mpsc::channel(NET_QUEUE);
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let client = if url.starts_with("nats://") {
        let bus = opts.bus.as_ref();
        let config = super::fleet::FleetConfig {
            url,
            token: opts.token.clone(),
            engines: bus.map_or(super::fleet::Engines::All, |b| b.engines.clone()),
            resume_file: bus.and_then(|b| b.resume_file.clone()),
        };
        super::fleet::spawn_fleet(config, net_tx, ctl_rx)
    } else {
        let mut config = ClientConfig::new(url, opts.token.clone());
        config.ca = opts.ca.clone();
        if config.url.starts_with("wss://") {
            // A bad --ca is a clear error before the screen is taken over.
            crate::tls::connector(config.ca.as_deref())?;
        }
        spawn_client(config, net_tx, ctl_rx)
    };

    let mut terminal = TerminalGuard::enter()?;
    let channels = Channels {
        net_rx,
        control: &ctl_tx,
        shadow: shadow.as_ref(),
        shadow_rx,
    };
    let result = main_loop(&mut terminal.terminal, &mut app, channels, &themes).await;
    let _ = ctl_tx.send(ClientControl::Shutdown);
    drop(terminal);
    let _ = tokio::time::timeout(Duration::from_millis(500), client).await;
    result
}

/// What the main loop talks to besides the terminal.
struct Channels<'a> {
    net_rx: mpsc::Receiver<NetEvent>,
    control: &'a mpsc::UnboundedSender<ClientControl>,
    shadow: Option<&'a ShadowWorker>,
    shadow_rx: mpsc::UnboundedReceiver<ShadowEvent>,
}

async fn main_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    channels: Channels<'_>,
    themes: &ThemeSource,
) -> anyhow::Result<()> {
    let Channels {
        mut net_rx,
        control,
        shadow,
        mut shadow_rx,
    } = channels;
    let mut shadow_open = true;
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    let mut net_open = true;
    loop {
        let effects = tokio::select! {
            // Input first: a key press must never wait behind a network burst.
            biased;
            ev = input.next() => match ev {
                Some(Ok(TermEvent::Key(key))) => { dirty = true; app.update(Msg::Key(key), Instant::now()) }
                Some(Ok(TermEvent::Resize(..))) => { dirty = true; Vec::new() }
                Some(Ok(_)) => Vec::new(),
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            ev = net_rx.recv(), if net_open => match ev {
                Some(ev) => {
                    dirty = true;
                    let now = Instant::now();
                    let mut effects = app.update(Msg::Net(ev), now);
                    // Drain the burst: one draw for many messages.
                    for _ in 0..DRAIN_MAX {
                        match net_rx.try_recv() {
                            Ok(ev) => effects.extend(app.update(Msg::Net(ev), now)),
                            Err(_) => break,
                        }
                    }
                    effects
                }
                None => { net_open = false; Vec::new() }
            },
            ev = shadow_rx.recv(), if shadow_open => {
                dirty = true;
                match ev {
                    Some(ev) => {
                        let mut effects = app.update(Msg::Shadow(ev), Instant::now());
                        while let Ok(ev) = shadow_rx.try_recv() {
                            effects.extend(app.update(Msg::Shadow(ev), Instant::now()));
                        }
                        effects
                    }
                    None => {
                        // The worker is gone (it stops after reporting a load failure).
                        shadow_open = false;
                        if app.shadow.wants_decisions() {
                            let reason = "the shadow worker stopped".to_string();
                            app.update(Msg::Shadow(ShadowEvent::Unavailable { reason }), Instant::now())
                        } else {
                            Vec::new()
                        }
                    }
                }
            },
            _ = tick.tick() => {
                app.update(Msg::Tick, Instant::now());
                if dirty || app.link.stale {
                    terminal.draw(|f| view(app, f))?;
                    dirty = false;
                }
                Vec::new()
            }
        };
        for effect in effects {
            match effect {
                Effect::Send(msg) => {
                    let _ = control.send(ClientControl::Send(msg));
                }
                Effect::SendTo { engine, msg } => {
                    let _ = control.send(ClientControl::SendTo { engine, msg });
                }
                Effect::Reconnect { resume_from } => {
                    let _ = control.send(ClientControl::Reconnect { resume_from });
                }
                Effect::LoadTheme(name) => match themes.load(&name) {
                    Ok(theme) => app.set_theme(theme),
                    Err(e) => app.report_error(format!("{e:#}")),
                },
                Effect::Shadow(req) => {
                    if !shadow.is_some_and(|w| w.submit(req)) {
                        app.shadow
                            .not_scored("the shadow model is behind: decision skipped");
                    }
                }
                Effect::Quit => return Ok(()),
            }
            dirty = true;
        }
        if app.should_quit {
            return Ok(());
        }
    }
}
