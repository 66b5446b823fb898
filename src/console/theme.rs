//! Colour themes, loaded at run time from `themes/*.toml`. The four shipped
//! themes are also compiled in, so the binary works from any directory; a file
//! on disk with the same name takes precedence. A bad file is refused with an
//! error naming the file and the key.

use std::path::{Path, PathBuf};

use ratatui::style::Color;

/// Themes compiled into the binary, in cycling order.
pub const BUILTIN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

macro_rules! theme_colors {
    ($($field:ident),* $(,)?) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            pub name: String,
            $(pub $field: Color,)*
        }

        const COLOR_KEYS: &[&str] = &[$(stringify!($field)),*];

        impl Theme {
            fn from_table(name: String, colors: &toml::Table, file: &str) -> Result<Theme, ThemeError> {
                for key in colors.keys() {
                    if !COLOR_KEYS.contains(&key.as_str()) {
                        return Err(ThemeError::new(file, &format!("colors.{key}"), "unknown key"));
                    }
                }
                Ok(Theme {
                    name,
                    $($field: color(colors, stringify!($field), file)?,)*
                })
            }
        }
    };
}

theme_colors!(
    bg,
    fg,
    dim,
    border,
    accent,
    header_bg,
    header_fg,
    selected_bg,
    selected_fg,
    buy,
    sell,
    ahead,
    behind,
    ok,
    warn,
    critical,
    paused,
    done,
    halted_bg,
    halted_fg,
    stale_bg,
    stale_fg,
    frozen_bg,
    frozen_fg,
    pending,
    refused,
    chart_price,
    chart_fill,
    chart_executed,
    chart_scheduled,
    bar,
);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("theme file {file}: key `{key}`: {problem}")]
pub struct ThemeError {
    pub file: String,
    pub key: String,
    pub problem: String,
}

impl ThemeError {
    fn new(file: &str, key: &str, problem: &str) -> Self {
        ThemeError {
            file: file.to_string(),
            key: key.to_string(),
            problem: problem.to_string(),
        }
    }
}

fn color(colors: &toml::Table, key: &str, file: &str) -> Result<Color, ThemeError> {
    let full = format!("colors.{key}");
    let value = colors
        .get(key)
        .ok_or_else(|| ThemeError::new(file, &full, "missing"))?;
    let text = value
        .as_str()
        .ok_or_else(|| ThemeError::new(file, &full, "expected a string such as \"#rrggbb\""))?;
    text.parse::<Color>().map_err(|_| {
        ThemeError::new(
            file,
            &full,
            &format!("`{text}` is not a colour (use a name like \"red\" or \"#rrggbb\")"),
        )
    })
}

impl Theme {
    /// Parse theme text; `file` is only used in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Theme, ThemeError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ThemeError::new(file, "(syntax)", e.message()))?;
        for key in table.keys() {
            if key != "name" && key != "colors" {
                return Err(ThemeError::new(file, key, "unknown key"));
            }
        }
        let name = match table.get("name") {
            Some(v) => v
                .as_str()
                .ok_or_else(|| ThemeError::new(file, "name", "expected a string"))?
                .to_string(),
            None => Path::new(file)
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
        };
        let colors = table
            .get("colors")
            .ok_or_else(|| ThemeError::new(file, "colors", "missing table"))?
            .as_table()
            .ok_or_else(|| ThemeError::new(file, "colors", "expected a table"))?;
        Theme::from_table(name, colors, file)
    }

    /// The default dark theme (compiled in, cannot fail).
    pub fn builtin_dark() -> Theme {
        Theme::parse(BUILTIN[0].1, "themes/dark.toml").expect("built-in theme is valid")
    }
}

/// Where themes are looked up.
#[derive(Debug, Clone)]
pub struct ThemeSource {
    pub dir: Option<PathBuf>,
}

impl ThemeSource {
    /// Load theme `name`: `DIR/name.toml` if it exists, else the built-in one.
    pub fn load(&self, name: &str) -> anyhow::Result<Theme> {
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{name}.toml"));
            if path.exists() {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    anyhow::anyhow!("cannot read theme file {}: {e}", path.display())
                })?;
                return Ok(Theme::parse(&text, &path.display().to_string())?);
            }
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Ok(Theme::parse(text, &format!("themes/{n}.toml"))?),
            None => anyhow::bail!(
                "unknown theme `{name}` (available: {})",
                self.names().join(", ")
            ),
        }
    }

    /// Names of every available theme: built-ins first, then extra files in the directory.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        if let Some(dir) = &self.dir {
            if let Ok(entries) = std::fs::read_dir(dir) {
                let mut extra: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                    .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                    .filter(|n| !names.contains(n))
                    .collect();
                extra.sort();
                names.extend(extra);
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_themes_parse() {
        for (name, text) in BUILTIN {
            let t = Theme::parse(text, name).unwrap();
            assert_eq!(t.name, name);
        }
    }

    #[test]
    fn bad_colour_names_file_and_key() {
        let text = BUILTIN[0]
            .1
            .replace("accent = \"#61afef\"", "accent = \"purplish\"");
        let err = Theme::parse(&text, "themes/mine.toml").unwrap_err();
        assert_eq!(err.file, "themes/mine.toml");
        assert_eq!(err.key, "colors.accent");
        assert!(err.to_string().contains("themes/mine.toml"));
        assert!(err.to_string().contains("colors.accent"));
    }

    #[test]
    fn missing_and_unknown_keys_are_named() {
        let text = BUILTIN[0].1.replace("bar = \"#61afef\"", "");
        assert_eq!(Theme::parse(&text, "f").unwrap_err().key, "colors.bar");
        let text = format!("{}\nsparkle = \"red\"\n", BUILTIN[0].1);
        assert_eq!(Theme::parse(&text, "f").unwrap_err().key, "colors.sparkle");
    }

    #[test]
    fn file_on_disk_overrides_builtin() {
        let dir = tempfile::tempdir().unwrap();
        let text = BUILTIN[1]
            .1
            .replace("name = \"light\"", "name = \"mylight\"");
        std::fs::write(dir.path().join("light.toml"), text).unwrap();
        std::fs::write(dir.path().join("extra.toml"), BUILTIN[0].1).unwrap();
        let src = ThemeSource {
            dir: Some(dir.path().to_path_buf()),
        };
        assert_eq!(src.load("light").unwrap().name, "mylight");
        assert!(src.names().contains(&"extra".to_string()));
        assert!(src.load("nope").is_err());
    }
}
