//! `vigil replay FILE`: open the recording, then the terminal loop.

use std::io::Stdout;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{self, Event as TermEvent};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::console::app::Effect;
use crate::console::run::default_themes_dir;
use crate::console::terminal::TerminalGuard;
use crate::console::theme::ThemeSource;

use super::app::ReplayApp;
use super::keys::load_keymaps;
use super::player::Player;
use super::recording::Recording;
use super::shadow::Shadow;
use super::view::view;

const FRAME: Duration = Duration::from_millis(16);

pub struct ReplayOptions {
    pub file: PathBuf,
    pub theme: String,
    pub keys: Option<PathBuf>,
    pub themes_dir: Option<PathBuf>,
    /// Start playing at once.
    pub play: bool,
    /// Start at this time of day (`HH:MM:SS`).
    pub start_at: Option<String>,
}

impl ReplayOptions {
    pub fn new(file: PathBuf) -> Self {
        ReplayOptions {
            file,
            theme: "dark".into(),
            keys: None,
            themes_dir: default_themes_dir(),
            play: false,
            start_at: None,
        }
    }
}

/// Open and replay a recording until the user quits. `shadow` re-scores
/// every recorded decision (divergence markers); `shadow_note` says why
/// there is none, when there is none.
pub fn run_replay(
    opts: ReplayOptions,
    shadow: Option<Box<dyn Shadow>>,
    shadow_note: Option<String>,
) -> Result<()> {
    // Everything that can fail on bad input fails before the terminal changes mode.
    let (keymap, replay_keys) = load_keymaps(opts.keys.as_deref())?;
    let themes = ThemeSource {
        dir: opts.themes_dir.clone(),
    };
    let theme = themes.load(&opts.theme)?;
    let mut shadow = shadow;
    let rec = Recording::open(&opts.file, shadow.as_deref_mut())?;
    let mut player = Player::new(rec);
    if let Some(at) = &opts.start_at {
        let t = crate::protocol::text::parse_clock(at).map_err(|e| anyhow::anyhow!("--at: {e}"))?;
        player.seek_time(t)?;
    } else {
        // Open on the session as it stood once its first instant was
        // processed: orders on screen, nothing executed yet.
        player.seek_time(player.rec.span().0)?;
    }
    player.playing = opts.play;
    let mut app = ReplayApp::new(player, keymap, replay_keys, theme, themes.names());
    app.note = shadow_note;

    let mut guard = TerminalGuard::enter()?;
    let result = main_loop(&mut guard.terminal, &mut app, &themes);
    drop(guard);
    result
}

fn main_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut ReplayApp,
    themes: &ThemeSource,
) -> Result<()> {
    let mut last = Instant::now();
    loop {
        let now = Instant::now();
        app.tick(now.duration_since(last), now);
        last = now;
        terminal.draw(|f| view(app, f))?;
        let deadline = now + FRAME;
        while let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            if !event::poll(wait)? {
                break;
            }
            let effects = match event::read()? {
                TermEvent::Key(key) => app.on_key(key, Instant::now()),
                _ => Vec::new(),
            };
            for effect in effects {
                match effect {
                    Effect::Quit => return Ok(()),
                    Effect::LoadTheme(name) => match themes.load(&name) {
                        Ok(theme) => app.app.set_theme(theme),
                        Err(e) => app.app.report_error(format!("{e:#}")),
                    },
                    // Read-only: the app never asks to send; nothing to reconnect.
                    Effect::Send(_)
                    | Effect::SendTo { .. }
                    | Effect::Reconnect { .. }
                    | Effect::Shadow(_) => {}
                }
            }
            if app.app.should_quit {
                return Ok(());
            }
        }
    }
}
