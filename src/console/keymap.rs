//! Key bindings: k9s/btop-style defaults, rebindable from a TOML file
//! (`--keys FILE`):
//!
//! ```toml
//! [keys]
//! kill_switch = ["ctrl-k"]
//! down = ["j", "Down", "n"]
//! [replay]
//! seek_back = ["Left", "h"]
//! ```
//! Listing an action replaces all of its default keys. One keymap type
//! serves the console's actions (`[keys]`) and replay's transport actions
//! (`[replay]`, see `crate::replay::keys`).

use std::collections::HashMap;
use std::hash::Hash;

use anyhow::{anyhow, bail, Result};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a keymap binds keys to.
pub trait Bindable: Copy + Eq + Hash + std::fmt::Debug + 'static {
    const ALL: &'static [Self];
    /// How an unknown name in a keymap file is called ("action", "replay action").
    const WHAT: &'static str;
    /// Whether Shift+key with nothing bound to it counts as the key itself.
    /// The console says yes, like most terminal programs (Shift+↓ is ↓);
    /// replay's transport says no, so Shift+← never seeks the short step
    /// when only the long one is bound.
    const UNBOUND_SHIFT_IS_PLAIN: bool;
    /// Name used in keymap files.
    fn name(self) -> &'static str;
    fn help(self) -> &'static str;
    fn default_keys(self) -> &'static [&'static str];
}

/// The table of bindable actions: an enum and its `Bindable` implementation.
#[macro_export]
macro_rules! bindable_actions {
    (
        $(#[$meta:meta])* $vis:vis enum $enum:ident, what = $what:literal, unbound_shift_is_plain = $plain:literal;
        $($variant:ident => $name:literal, [$($key:literal),*], $help:literal;)*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $enum { $($variant,)* }

        impl $enum {
            pub const ALL: &'static [$enum] = &[$($enum::$variant,)*];

            /// Name used in keymap files.
            pub fn name(self) -> &'static str {
                match self { $($enum::$variant => $name,)* }
            }

            pub fn help(self) -> &'static str {
                match self { $($enum::$variant => $help,)* }
            }
        }

        impl $crate::console::keymap::Bindable for $enum {
            const ALL: &'static [$enum] = $enum::ALL;
            const WHAT: &'static str = $what;
            const UNBOUND_SHIFT_IS_PLAIN: bool = $plain;
            fn name(self) -> &'static str {
                $enum::name(self)
            }
            fn help(self) -> &'static str {
                $enum::help(self)
            }
            fn default_keys(self) -> &'static [&'static str] {
                match self { $($enum::$variant => &[$($key),*],)* }
            }
        }
    };
}

bindable_actions! {
    /// Everything a key can do in the normal (blotter) mode.
    pub enum Action, what = "action", unbound_shift_is_plain = true;
    Up => "up", ["k", "Up"], "select previous order";
    Down => "down", ["j", "Down"], "select next order";
    Top => "top", ["g", "Home"], "first order";
    Bottom => "bottom", ["G", "End"], "last order";
    PageUp => "page_up", ["PageUp", "ctrl-b"], "page up";
    PageDown => "page_down", ["PageDown", "ctrl-f"], "page down";
    FocusDetail => "focus_detail", ["Enter", "Tab"], "focus the detail pane";
    Back => "back", ["Esc"], "back / close";
    PauseResume => "pause_resume", ["p"], "pause or resume the order";
    Retune => "retune", ["r"], "retune the order";
    Override => "override", ["o"], "override action/strategy";
    ReleaseOverride => "release_override", ["O"], "release the override";
    Cancel => "cancel", ["c"], "cancel the order (asks)";
    KillSwitch => "kill_switch", ["K"], "kill switch (asks)";
    ResumeAll => "resume_all", ["R"], "resume all after a halt";
    ModelSwitch => "model_switch", ["X"], "model off or on (asks)";
    Freeze => "freeze", ["f"], "freeze/unfreeze the display";
    Filter => "filter", ["/"], "filter orders";
    CommandLine => "command_line", [":"], "command line";
    Help => "help", ["?"], "this help";
    CycleTheme => "cycle_theme", ["t"], "next theme";
    Sort => "sort", ["s"], "cycle sort order";
    Quit => "quit", ["q", "ctrl-c"], "quit";
}

/// A key as written in a keymap file: `j`, `K`, `Enter`, `ctrl-k`,
/// `shift-Left`, `F5`… Shift is part of a spec only for keys whose character
/// does not already say it (`K` is Shift+k).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
}

impl KeySpec {
    pub fn parse(text: &str) -> Option<KeySpec> {
        let mut ctrl = false;
        let mut alt = false;
        let mut shift = false;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 1 && (lower.starts_with("ctrl-") || lower.starts_with("ctrl+")) {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 1 && (lower.starts_with("alt-") || lower.starts_with("alt+")) {
                alt = true;
                rest = &rest[4..];
            } else if rest.len() > 6 && (lower.starts_with("shift-") || lower.starts_with("shift+"))
            {
                shift = true;
                rest = &rest[6..];
            } else {
                break;
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "esc" | "escape" => KeyCode::Esc,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.len() >= 2 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().ok()?)
            }
            _ => {
                let mut chars = rest.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                // Ctrl combinations arrive lower-case from terminals.
                KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c })
            }
        };
        if shift && matches!(code, KeyCode::Char(_)) {
            // `shift-a` is `A`.
            return None;
        }
        Some(KeySpec {
            code,
            ctrl,
            alt,
            shift,
        })
    }

    /// Normalise a terminal key event to the spec it matches.
    pub fn from_event(ev: &KeyEvent) -> KeySpec {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let code = match ev.code {
            KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
            other => other,
        };
        KeySpec {
            code,
            ctrl,
            alt: ev.modifiers.contains(KeyModifiers::ALT),
            shift: ev.modifiers.contains(KeyModifiers::SHIFT) && !matches!(code, KeyCode::Char(_)),
        }
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            other => format!("{other:?}"),
        };
        let base = if self.shift {
            format!("⇧{base}")
        } else {
            base
        };
        match (self.ctrl, self.alt) {
            (true, _) => format!("^{base}"),
            (_, true) => format!("M-{base}"),
            _ => base,
        }
    }
}

/// Keys bound to actions of one kind (`A`: the console's or replay's).
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap<A: Bindable = Action> {
    bindings: HashMap<KeySpec, A>,
    /// Keys of each action in the order they were bound (the first one is
    /// shown in the footer, all of them in the help).
    keys: HashMap<A, Vec<KeySpec>>,
}

impl<A: Bindable> Default for Keymap<A> {
    fn default() -> Self {
        let mut map = Keymap {
            bindings: HashMap::new(),
            keys: HashMap::new(),
        };
        for &action in A::ALL {
            let keys: Vec<KeySpec> = action
                .default_keys()
                .iter()
                .map(|k| KeySpec::parse(k).expect("default keys are valid"))
                .collect();
            map.bind(action, &keys);
        }
        map
    }
}

impl<A: Bindable> Keymap<A> {
    fn bind(&mut self, action: A, keys: &[KeySpec]) {
        self.bindings.retain(|_, a| *a != action);
        for k in keys {
            // A key moved to this action no longer triggers its old one.
            if let Some(old) = self.bindings.insert(*k, action) {
                if old != action {
                    if let Some(list) = self.keys.get_mut(&old) {
                        list.retain(|x| x != k);
                    }
                }
            }
        }
        let mut list: Vec<KeySpec> = Vec::with_capacity(keys.len());
        for k in keys {
            if !list.contains(k) {
                list.push(*k);
            }
        }
        self.keys.insert(action, list);
    }

    pub fn action_for(&self, ev: &KeyEvent) -> Option<A> {
        let spec = KeySpec::from_event(ev);
        match self.bindings.get(&spec) {
            Some(a) => Some(*a),
            None if spec.shift && A::UNBOUND_SHIFT_IS_PLAIN => self
                .bindings
                .get(&KeySpec {
                    shift: false,
                    ..spec
                })
                .copied(),
            None => None,
        }
    }

    /// Label of the first key bound to `action` ("" if unbound).
    pub fn label(&self, action: A) -> String {
        self.keys
            .get(&action)
            .and_then(|k| k.first())
            .map_or_else(String::new, KeySpec::label)
    }

    /// Labels of every key bound to `action`, e.g. "j/↓" ("" if unbound).
    pub fn labels(&self, action: A) -> String {
        self.keys.get(&action).map_or_else(String::new, |keys| {
            keys.iter()
                .map(KeySpec::label)
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    /// Apply one table of a keymap file (`[keys]` or `[replay]`) on top.
    pub fn apply_table(&mut self, table: &toml::Table, section: &str, file: &str) -> Result<()> {
        for (name, value) in table {
            let at = || format!("keymap file {file}: key `{section}.{name}`");
            let action = A::ALL
                .iter()
                .copied()
                .find(|a| a.name() == name)
                .ok_or_else(|| {
                    anyhow!(
                        "{}: unknown {} (known: {})",
                        at(),
                        A::WHAT,
                        A::ALL
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
                        v.as_str()
                            .ok_or_else(|| anyhow!("{}: expected strings", at()))
                    })
                    .collect::<Result<_>>()?,
                _ => bail!("{}: expected a string or a list of strings", at()),
            };
            let specs = texts
                .iter()
                .map(|t| {
                    KeySpec::parse(t).ok_or_else(|| anyhow!("{}: cannot read key `{t}`", at()))
                })
                .collect::<Result<Vec<_>>>()?;
            self.bind(action, &specs);
        }
        Ok(())
    }
}

impl Keymap<Action> {
    /// Apply a keymap file's text (its `[keys]` table) on top of the defaults.
    pub fn from_toml(text: &str, file: &str) -> Result<Keymap> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| anyhow!("keymap file {file}: {}", e.message()))?;
        let mut map = Keymap::default();
        for (top, value) in &table {
            if top != "keys" {
                bail!("keymap file {file}: unknown section `{top}` (expected [keys])");
            }
            let keys = value
                .as_table()
                .ok_or_else(|| anyhow!("keymap file {file}: `keys` must be a table"))?;
            map.apply_table(keys, "keys", file)?;
        }
        Ok(map)
    }

    pub fn load(path: &std::path::Path) -> Result<Keymap> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("cannot read keymap file {}: {e}", path.display()))?;
        Keymap::from_toml(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn defaults_follow_k9s_habits() {
        let m = Keymap::default();
        assert_eq!(m.action_for(&key('j')), Some(Action::Down));
        assert_eq!(m.action_for(&key('K')), Some(Action::KillSwitch));
        assert_eq!(m.action_for(&key('k')), Some(Action::Up));
        assert_eq!(
            m.action_for(&KeyEvent::new(KeyCode::Char('K'), KeyModifiers::SHIFT)),
            Some(Action::KillSwitch)
        );
        assert_eq!(
            m.action_for(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn rebinding_replaces_the_action_keys() {
        let m = Keymap::from_toml(
            "[keys]\nkill_switch = [\"ctrl-k\"]\ndown = \"n\"\n",
            "k.toml",
        )
        .unwrap();
        assert_eq!(m.action_for(&key('K')), None);
        assert_eq!(
            m.action_for(&KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL)),
            Some(Action::KillSwitch)
        );
        assert_eq!(m.action_for(&key('n')), Some(Action::Down));
        assert_eq!(m.action_for(&key('j')), None);
        assert_eq!(m.label(Action::KillSwitch), "^k");
        assert_eq!(m.labels(Action::Down), "n");
    }

    #[test]
    fn labels_list_every_bound_key() {
        let m = Keymap::default();
        assert_eq!(m.labels(Action::Down), "j/↓");
        assert_eq!(m.labels(Action::FocusDetail), "Enter/Tab");
        assert_eq!(m.labels(Action::Quit), "q/^c");
        assert_eq!(m.label(Action::Down), "j");
        // Moving a key to another action removes it from the old one's list.
        let m = Keymap::from_toml("[keys]\nquit = [\"q\", \"j\"]\n", "k.toml").unwrap();
        assert_eq!(m.labels(Action::Down), "↓");
        assert_eq!(m.labels(Action::Quit), "q/j");
    }

    #[test]
    fn bad_keymap_names_file_and_key() {
        let err = Keymap::from_toml("[keys]\nexplode = \"x\"\n", "my.toml").unwrap_err();
        assert!(err.to_string().contains("my.toml") && err.to_string().contains("keys.explode"));
        let err = Keymap::from_toml("[keys]\nquit = \"nope-key\"\n", "my.toml").unwrap_err();
        assert!(err.to_string().contains("keys.quit"));
    }
}
