//! The picture in docs/ARCHITECTURE.md, checked: which part of the crate
//! may import which. Every `crate::…` and `super::…` path in `src/` is
//! resolved to the part it names; an import the table does not allow, or a
//! circle among the parts, fails with the file and the line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The parts of the crate, from the bottom up, and what each may import.
/// The command-line layer (`main.rs` and every `cli.rs`), `bench` and
/// `torture` (which break the whole system on purpose) sit on top and may
/// import anything; they are not listed.
const ALLOWED: &[(&str, &[&str])] = &[
    ("engine::prices", &[]),
    ("protocol", &[]),
    ("tls", &[]),
    ("fix", &[]),
    ("model", &["protocol"]),
    ("divergence", &["model", "protocol"]),
    ("engine::feed", &["engine::prices", "protocol"]),
    (
        "engine::market",
        &["engine::prices", "engine::feed", "protocol"],
    ),
    (
        "engine",
        &[
            "engine::market",
            "engine::feed",
            "engine::prices",
            "fix",
            "model",
            "protocol",
            "tls",
        ],
    ),
    ("console", &["divergence", "model", "protocol", "tls"]),
    ("learn", &["engine", "engine::market", "model", "protocol"]),
    (
        "replay",
        &["console", "divergence", "engine", "model", "protocol"],
    ),
    (
        "report",
        &[
            "replay",
            "divergence",
            "engine",
            "engine::market",
            "learn",
            "model",
            "protocol",
        ],
    ),
    ("demo", &["console", "engine", "protocol"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Module path of a file: `src/engine/feed/mod.rs` → [engine, feed].
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_string());
    }
    parts
}

/// The part a module path belongs to.
fn part(path: &[String]) -> Option<String> {
    let first = path.first()?.as_str();
    if first == "engine" {
        if let Some(sub) = path.get(1) {
            if ["feed", "market", "prices"].contains(&sub.as_str()) {
                return Some(format!("engine::{sub}"));
            }
        }
    }
    Some(first.to_string())
}

/// The command-line layer and the benchmarks: free to import anything.
fn is_top(file: &Path) -> bool {
    let name = file.file_name().unwrap().to_string_lossy();
    name == "main.rs"
        || name == "cli.rs"
        || name == "lib.rs"
        || name == "scenario_cli.rs"
        || module_of(file)
            .first()
            .is_some_and(|m| m == "bench" || m == "torture")
}

/// Paths (`crate::a::b`, `super::super::c`) named on one line of code,
/// resolved against the module `here`.
fn paths(line: &str, here: &[String]) -> Vec<Vec<String>> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let mut base: Vec<String> = if rest.starts_with("crate::") {
                Vec::new()
            } else {
                here.to_vec()
            };
            let mut j = i;
            let mut segs = Vec::new();
            loop {
                let r = &code[j..];
                let end = r
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(r.len());
                segs.push(r[..end].to_string());
                j += end;
                if code[j..].starts_with("::") {
                    j += 2;
                } else {
                    break;
                }
            }
            let mut it = segs.into_iter();
            match it.next().as_deref() {
                Some("crate") => {}
                Some("super") => {
                    base.pop();
                }
                _ => {}
            }
            for s in it {
                if s == "super" {
                    base.pop();
                } else if !s.is_empty() && s != "self" {
                    base.push(s);
                }
            }
            out.push(base);
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn imports_follow_the_architecture() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(p, deps)| (*p, deps.iter().copied().collect()))
        .collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for file in &files {
        if is_top(file) {
            continue;
        }
        let here = module_of(file);
        let Some(from) = part(&here) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        // Tests inside a file may reach further (fixtures); the rules are for the code.
        let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
        for (n, line) in code.lines().enumerate() {
            for p in paths(line, &here) {
                let Some(to) = part(&p) else { continue };
                // Within a part anything goes; a name that is not a part (a
                // macro exported at the crate root) is not an import of one.
                let known = allowed.contains_key(to.as_str()) || to == "bench";
                if to == from || !known {
                    continue;
                }
                let ok = allowed
                    .get(from.as_str())
                    .is_some_and(|deps| deps.contains(to.as_str()));
                if !ok {
                    violations.push(format!(
                        "{}:{}: {from} imports {to} ({})",
                        file.strip_prefix(src()).unwrap().display(),
                        n + 1,
                        line.trim()
                    ));
                }
                edges.insert((from.clone(), to));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports the architecture does not allow (docs/ARCHITECTURE.md):\n{}",
        violations.join("\n")
    );
    // And no circle: the allowed table is layered, so the real graph is too;
    // checked on the edges found, so a new part added to the table cannot hide one.
    let mut order: Vec<String> = Vec::new();
    let mut left: BTreeSet<String> = edges
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    while !left.is_empty() {
        let next: Vec<String> = left
            .iter()
            .filter(|m| {
                !edges
                    .iter()
                    .any(|(a, b)| a == *m && left.contains(b) && b != *m)
            })
            .cloned()
            .collect();
        assert!(!next.is_empty(), "a circle among {left:?}");
        for m in next {
            left.remove(&m);
            order.push(m);
        }
    }
}

#[test]
fn the_resolver_reads_relative_and_absolute_paths() {
    let here = vec!["engine".to_string(), "feed".to_string(), "l2".to_string()];
    assert_eq!(
        paths("use super::super::market::{BookSide};", &here),
        vec![vec!["engine".to_string(), "market".to_string()]]
    );
    assert_eq!(
        paths(
            "let x = crate::protocol::text::format_ts(t); // crate::console",
            &here
        ),
        vec![vec![
            "protocol".to_string(),
            "text".to_string(),
            "format_ts".to_string()
        ]]
    );
    assert_eq!(
        part(&["engine".into(), "core".into()]),
        Some("engine".into())
    );
    assert_eq!(
        part(&["engine".into(), "market".into(), "book".into()]),
        Some("engine::market".into())
    );
}
