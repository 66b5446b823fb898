//! Replay's transport keys, rebindable from the same keymap file as the
//! console, in a `[replay]` table:
//!
//! ```toml
//! [keys]
//! quit = ["q"]
//! [replay]
//! play_pause = ["space", "P"]
//! seek_back = ["Left", "h"]
//! ```
//! Replay keys are looked up before the console's; keys they do not take
//! (selection, detail, filter, help, themes, quit…) work as in the console.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::console::keymap::{KeySpec, Keymap};

macro_rules! replay_actions {
    ($($variant:ident => $name:literal, [$($key:literal),*], $help:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ReplayAction { $($variant,)* }

        impl ReplayAction {
            pub const ALL: &'static [ReplayAction] = &[$(ReplayAction::$variant,)*];
            pub fn name(self) -> &'static str {
                match self { $(ReplayAction::$variant => $name,)* }
            }
            pub fn help(self) -> &'static str {
                match self { $(ReplayAction::$variant => $help,)* }
            }
            fn default_keys(self) -> &'static [&'static str] {
                match self { $(ReplayAction::$variant => &[$($key),*],)* }
            }
        }
    };
}

replay_actions! {
    PlayPause => "play_pause", ["space"], "play / pause";
    Faster => "faster", ["+", "="], "faster (¼× … 64×, max)";
    Slower => "slower", ["-"], "slower";
    SeekBack => "seek_back", ["Left"], "back 10 s";
    SeekForward => "seek_forward", ["Right"], "forward 10 s";
    SeekBackLong => "seek_back_long", ["shift-Left"], "back 1 min";
    SeekForwardLong => "seek_forward_long", ["shift-Right"], "forward 1 min";
    PrevDecision => "prev_decision", ["["], "previous decision of the selected order";
    NextDecision => "next_decision", ["]"], "next decision of the selected order";
    NextMarker => "next_marker", ["n"], "next intervention, alert or divergence";
    PrevMarker => "prev_marker", ["N"], "previous intervention, alert or divergence";
    Start => "start", ["g"], "start of the recording";
    End => "end", ["G"], "end of the recording";
}

/// A key with Shift, for keys where Shift is not already in the character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    pub spec: KeySpec,
    pub shift: bool,
}

impl ReplayKey {
    pub fn parse(text: &str) -> Option<ReplayKey> {
        let lower = text.to_ascii_lowercase();
        let (shift, rest) =
            if text.len() > 6 && (lower.starts_with("shift-") || lower.starts_with("shift+")) {
                (true, &text[6..])
            } else {
                (false, text)
            };
        let spec = KeySpec::parse(rest)?;
        if shift && matches!(spec.code, KeyCode::Char(_)) {
            // `shift-a` is `A`.
            return None;
        }
        Some(ReplayKey { spec, shift })
    }

    pub fn from_event(ev: &KeyEvent) -> ReplayKey {
        let spec = KeySpec::from_event(ev);
        let shift =
            ev.modifiers.contains(KeyModifiers::SHIFT) && !matches!(spec.code, KeyCode::Char(_));
        ReplayKey { spec, shift }
    }

    pub fn label(&self) -> String {
        if self.shift {
            format!("⇧{}", self.spec.label())
        } else {
            self.spec.label()
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReplayKeymap {
    bindings: HashMap<ReplayKey, ReplayAction>,
    keys: HashMap<ReplayAction, Vec<ReplayKey>>,
}

impl Default for ReplayKeymap {
    fn default() -> Self {
        let mut map = ReplayKeymap {
            bindings: HashMap::new(),
            keys: HashMap::new(),
        };
        for &a in ReplayAction::ALL {
            let keys: Vec<ReplayKey> = a
                .default_keys()
                .iter()
                .map(|k| ReplayKey::parse(k).expect("default replay keys are valid"))
                .collect();
            map.bind(a, &keys);
        }
        map
    }
}

impl ReplayKeymap {
    fn bind(&mut self, action: ReplayAction, keys: &[ReplayKey]) {
        self.bindings.retain(|_, a| *a != action);
        for k in keys {
            if let Some(old) = self.bindings.insert(*k, action) {
                if let Some(list) = self.keys.get_mut(&old) {
                    list.retain(|x| x != k);
                }
            }
        }
        self.keys.insert(action, keys.to_vec());
    }

    pub fn action_for(&self, ev: &KeyEvent) -> Option<ReplayAction> {
        self.bindings.get(&ReplayKey::from_event(ev)).copied()
    }

    pub fn label(&self, action: ReplayAction) -> String {
        self.keys
            .get(&action)
            .and_then(|k| k.first())
            .map_or_else(String::new, ReplayKey::label)
    }

    /// Apply a `[replay]` table on top of the defaults.
    fn apply_table(&mut self, table: &toml::Table, file: &str) -> Result<()> {
        for (name, value) in table {
            let action = ReplayAction::ALL
                .iter()
                .copied()
                .find(|a| a.name() == name)
                .ok_or_else(|| {
                    anyhow!(
                        "keymap file {file}: `replay.{name}`: unknown replay action (known: {})",
                        ReplayAction::ALL
                            .iter()
                            .map(|a| a.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            let texts: Vec<&str> = match value {
                toml::Value::String(s) => vec![s.as_str()],
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str().ok_or_else(|| {
                            anyhow!("keymap file {file}: `replay.{name}`: expected strings")
                        })
                    })
                    .collect::<Result<_>>()?,
                _ => bail!("keymap file {file}: `replay.{name}`: expected a string or a list"),
            };
            let keys = texts
                .iter()
                .map(|t| {
                    ReplayKey::parse(t).ok_or_else(|| {
                        anyhow!("keymap file {file}: `replay.{name}`: cannot read key `{t}`")
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            self.bind(action, &keys);
        }
        Ok(())
    }
}

/// Both keymaps from one file's text: `[replay]` for replay, the rest for the console.
pub fn keymaps_from_toml(text: &str, file: &str) -> Result<(Keymap, ReplayKeymap)> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("keymap file {file}: {}", e.message()))?;
    let mut replay = ReplayKeymap::default();
    if let Some(r) = table.remove("replay") {
        let r = r
            .as_table()
            .ok_or_else(|| anyhow!("keymap file {file}: `replay` must be a table"))?;
        replay.apply_table(r, file)?;
    }
    let rest = toml::to_string(&table)?;
    Ok((Keymap::from_toml(&rest, file)?, replay))
}

pub fn load_keymaps(path: Option<&Path>) -> Result<(Keymap, ReplayKeymap)> {
    match path {
        None => Ok((Keymap::default(), ReplayKeymap::default())),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow!("cannot read keymap file {}: {e}", p.display()))?;
            keymaps_from_toml(&text, &p.display().to_string())
        }
    }
}
