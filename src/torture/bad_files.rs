//! Every file vigil reads, broken every way (truncated, empty, binary
//! garbage, huge, wrong types), given to the command that reads it: each must
//! end with one clear `error:` line and a non-zero exit, never a panic. A cut
//! journal or capture may instead be read up to the cut (exit 0), as long as
//! it says so: that is the documented behaviour, nothing before the cut is lost.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{Row, Scale, Scratch};

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Truncated,
    Empty,
    Garbage,
    Huge,
    WrongTypes,
}

const VARIANTS: [Variant; 5] = [
    Variant::Truncated,
    Variant::Empty,
    Variant::Garbage,
    Variant::Huge,
    Variant::WrongTypes,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Truncated => "truncated",
            Variant::Empty => "empty",
            Variant::Garbage => "garbage",
            Variant::Huge => "huge",
            Variant::WrongTypes => "wrong types",
        }
    }
}

/// A kind of file: a good example, a well-formed one with wrong types, and
/// the command line that reads it (`{}` is the file).
struct Kind {
    name: &'static str,
    good: Vec<u8>,
    wrong_types: Vec<u8>,
    ext: &'static str,
    args: Vec<&'static str>,
    /// May a cut copy be read up to the cut instead of refused?
    partial_ok: bool,
    /// Is an empty file a valid one (nothing rebound, no commands)?
    empty_ok: bool,
}

fn read(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .with_context(|| format!("{path} (run the torture suite from the repository)"))
}

fn kinds() -> Result<Vec<Kind>> {
    let toml_wrong = b"name = 42\nseed = \"seven\"\n[[orders]]\nqty = \"lots\"\n".to_vec();
    Ok(vec![
        Kind {
            name: "scenario",
            good: read("scenarios/default.toml")?,
            wrong_types: toml_wrong.clone(),
            ext: "toml",
            args: vec!["scenario", "show", "{}"],
            partial_ok: false,
            empty_ok: false,
        },
        Kind {
            name: "theme",
            good: read("themes/dark.toml")?,
            wrong_types: b"[colors]\nbackground = 12\naccent = [1, 2]\n".to_vec(),
            ext: "toml",
            args: vec!["console", "ws://127.0.0.1:9", "--no-shadow", "--themes-dir", "{dir}", "--theme", "{stem}"],
            partial_ok: false,
            empty_ok: false,
        },
        Kind {
            name: "keymap",
            good: b"[keys]\npause = \"p\"\nresume = \"r\"\n".to_vec(),
            wrong_types: b"[keys]\npause = 7\nresume = [\"r\"]\n".to_vec(),
            ext: "toml",
            args: vec!["console", "ws://127.0.0.1:9", "--no-shadow", "--keys", "{}"],
            partial_ok: false,
            empty_ok: true,
        },
        Kind {
            name: "tokens",
            good: b"[[users]]\ntoken = \"abcd-1234\"\nuser = \"ann\"\nrole = \"trader\"\n".to_vec(),
            wrong_types: b"[[users]]\ntoken = 1234\nuser = true\nrole = \"boss\"\n".to_vec(),
            ext: "toml",
            args: vec!["engine", "--listen", "127.0.0.1:0", "--tokens", "{}"],
            partial_ok: false,
            empty_ok: false,
        },
        Kind {
            name: "script",
            good: read("recordings/default-42-midday.script.toml")?,
            wrong_types: b"[[command]]\nat = 930\nuser = 1\ncommand = \"pause\"\n".to_vec(),
            ext: "toml",
            args: vec!["record", "--script", "{}", "--out", "/dev/null"],
            partial_ok: false,
            empty_ok: true,
        },
        Kind {
            name: "model",
            good: read("models/policy.onnx")?,
            wrong_types: read("tests/fixtures/wrong_features.onnx")?,
            ext: "onnx",
            args: vec!["model", "check", "{}"],
            partial_ok: false,
            empty_ok: false,
        },
        Kind {
            name: "contract",
            good: read("models/features.json")?,
            wrong_types: b"{\"version\": \"two\", \"features\": 15, \"actions\": {}}".to_vec(),
            ext: "json",
            args: vec!["model", "contract", "--check", "--out", "{}"],
            partial_ok: false,
            empty_ok: false,
        },
        Kind {
            name: "recording",
            good: read("recordings/default-42-midday.vigil")?,
            wrong_types: b"VIGIL-JOURNAL 1\n00000000 {\"type\":\"header\",\"format\":\"one\"}\n".to_vec(),
            ext: "vigil",
            args: vec!["report", "{}", "--no-counterfactual", "--out", "{out}"],
            partial_ok: true,
            empty_ok: false,
        },
        Kind {
            name: "capture",
            good: std::env::var("VIGIL_MARKET_DATA")
                .map_err(anyhow::Error::from)
                .and_then(|d| read(&format!("{d}/binance_spot_ethusdt_20240808.jsonl.gz")))
                .or_else(|_| read("../shared/data/market/binance_spot_ethusdt_20240808.jsonl.gz"))
                .unwrap_or_else(|_| {
                    b"{\"stream\":\"ethusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1,\"p\":\"2500.00\",\"q\":\"0.1\",\"T\":1}}\n".repeat(50)
                }),
            wrong_types: b"{\"stream\":\"ethusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":\"soon\",\"p\":true,\"q\":[1],\"T\":null}}\n".repeat(100),
            ext: "jsonl",
            args: vec!["engine", "--listen", "127.0.0.1:0", "--token", "abcd-1234", "--market", "replay:{}"],
            partial_ok: true,
            empty_ok: false,
        },
    ])
}

fn make(kind: &Kind, v: Variant, scale: Scale) -> Vec<u8> {
    match v {
        Variant::Truncated => kind.good[..kind.good.len() / 2].to_vec(),
        Variant::Empty => Vec::new(),
        Variant::Garbage => {
            let mut x = 0x2545_f491_4f6c_dd1d_u64;
            (0..8192)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        }
        Variant::Huge => {
            // Valid-looking text, far past any sane size.
            let size = scale.pick(64usize << 20, 24 << 20);
            let line = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
            line.iter().copied().cycle().take(size).collect()
        }
        Variant::WrongTypes => kind.wrong_types.clone(),
    }
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    stdout: String,
    timed_out: bool,
}

fn run_one(args: &[String], wait: Duration) -> Result<Outcome> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("VIGIL_TOKEN")
        .spawn()?;
    let t = Instant::now();
    let timed_out = loop {
        if child.try_wait()?.is_some() {
            break false;
        }
        if t.elapsed() > wait {
            child.kill()?;
            break true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output()?;
    Ok(Outcome {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        timed_out,
    })
}

fn judge(kind: &Kind, v: Variant, o: &Outcome) -> (bool, String) {
    let panicked = o.stderr.contains("panicked");
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let one_error = lines.len() == 1 && lines[0].starts_with("error: ");
    if panicked {
        return (false, "PANIC".into());
    }
    if kind.partial_ok && v == Variant::Truncated {
        let said = format!("{}{}", o.stdout, o.stderr).to_lowercase();
        // "replaying" is printed for every capture: it is not a mention of the cut.
        let tells = ["trunc", "cut", "data issue", "data-quality"]
            .iter()
            .any(|w| said.contains(w));
        if (o.code == Some(0) || o.timed_out) && tells {
            return (true, "read up to the cut, said so".into());
        }
    }
    if kind.empty_ok && v == Variant::Empty && !o.stderr.contains(".toml") {
        // Valid and empty: vigil goes on to its next step (here, with no
        // terminal or engine to attach to, that step fails on its own terms).
        return (true, "empty is valid (nothing to apply)".into());
    }
    if o.timed_out {
        return (false, "still running: accepted a broken file".into());
    }
    let ok = one_error && o.code.is_some_and(|c| c != 0);
    let what = lines.first().copied().unwrap_or("(no message)");
    (
        ok,
        if ok {
            clip(what)
        } else {
            format!("exit {:?}: {}", o.code, clip(&lines.join(" | ")))
        },
    )
}

fn clip(s: &str) -> String {
    let s: String = s.chars().take(110).collect();
    s
}

pub fn run(scale: Scale) -> Result<Row> {
    let scratch = Scratch::new("bad-files")?;
    let mut cases = 0;
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for kind in kinds()? {
        for v in VARIANTS {
            let path: PathBuf = scratch.path().join(format!(
                "{}-{}.{}",
                kind.name,
                v.name().replace(' ', "-"),
                kind.ext
            ));
            std::fs::write(&path, make(&kind, v, scale))?;
            private(&path)?;
            let out_dir = scratch.path().join(format!("out-{}-{}", kind.name, cases));
            let args: Vec<String> = kind
                .args
                .iter()
                .map(|a| {
                    a.replace("{out}", &out_dir.display().to_string())
                        .replace("{dir}", &scratch.path().display().to_string())
                        .replace(
                            "{stem}",
                            &path.file_stem().unwrap_or_default().to_string_lossy(),
                        )
                        .replace("{}", &path.display().to_string())
                })
                .collect();
            let wait = Duration::from_secs(if kind.name == "capture" { 20 } else { 60 });
            let o = run_one(&args, wait)?;
            let (ok, what) = judge(&kind, v, &o);
            cases += 1;
            if !ok {
                failures.push(format!("{} {}: {what}", kind.name, v.name()));
            }
            table.push(format!(
                "| {} | {} | {} | {} |",
                kind.name,
                v.name(),
                if ok { "ok" } else { "FAIL" },
                what.replace('|', "/")
            ));
        }
    }
    // The whole table, for the README.
    let report = scratch.path().join("..").join("vigil-torture-bad-files.md");
    let _ = std::fs::write(
        &report,
        format!(
            "| file | variant | result | what vigil said |\n|---|---|---|---|\n{}\n",
            table.join("\n")
        ),
    );
    Ok(Row {
        name: "bad_files",
        figure: format!(
            "{cases} broken files: {} clear errors, {} failures",
            cases - failures.len(),
            failures.len()
        ),
        pass: failures.is_empty(),
        detail: if failures.is_empty() {
            format!("9 kinds × 5 variants; table in {}", report.display())
        } else {
            failures.join("; ")
        },
    })
}

#[cfg(unix)]
fn private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn private(_path: &Path) -> Result<()> {
    Ok(())
}
