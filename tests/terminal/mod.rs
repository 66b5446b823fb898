//! A real terminal for tests of the real binary: a tmux server on a private
//! socket, one session of a fixed size running a plain POSIX shell, keys sent
//! with `send-keys`, the screen read with `capture-pane`.
//!
//! tmux is required (CI's `.ci/run` installs it); without it a test using
//! this fails with a message saying so.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Generous: CI runs debug builds on two cores.
pub const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
const SESSION: &str = "vigil";

/// A tmux server of our own, killed when dropped (also when a check fails).
pub struct Tmux {
    socket: String,
    /// Where the server put its socket (tmux leaves the file behind).
    socket_path: Option<PathBuf>,
    /// A scratch directory for the test, removed with the server.
    pub dir: PathBuf,
}

impl Tmux {
    /// A `width` × `height` terminal running `sh` in the crate's directory.
    pub fn start(width: u16, height: u16) -> Tmux {
        match Command::new("tmux").arg("-V").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`tmux -V` failed ({}): this test needs a working tmux",
                out.status
            ),
            Err(e) => panic!(
                "tmux is not available ({e}): this test runs the real binary in a real \
                 terminal and needs tmux installed (apt-get install tmux; CI's .ci/run does it)"
            ),
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let socket = format!("vigil-test-{}-{nanos}", std::process::id());
        let dir = std::env::temp_dir().join(&socket);
        std::fs::create_dir_all(&dir).unwrap();
        let mut tmux = Tmux {
            socket,
            socket_path: None,
            dir,
        };
        // A plain POSIX shell with a fixed prompt; no user tmux config.
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-c",
            env!("CARGO_MANIFEST_DIR"),
            "env PS1='$ ' ENV= sh",
        ]);
        // The whole window is the pane: no status line.
        tmux.run(&["set-option", "-t", SESSION, "status", "off"]);
        let out = tmux.run(&["display-message", "-p", "#{socket_path}"]);
        tmux.socket_path = Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        let out = tmux.run(&[
            "display-message",
            "-p",
            "-t",
            SESSION,
            "#{pane_width}x#{pane_height}",
        ]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{width}x{height}"),
            "pane size"
        );
        tmux.wait_for("the shell prompt", |s| s.contains('$'));
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        // Never talk to the tmux server of whoever runs the tests.
        cmd.env_remove("TMUX").arg("-L").arg(&self.socket);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Type `text` literally (no key-name lookup).
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", SESSION, "-l", text]);
    }

    /// Send named keys (`Enter`, `Escape`, `S-Right`) or single characters.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    pub fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", SESSION]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A pane flag such as `alternate_on` or `cursor_flag`.
    pub fn flag(&self, name: &str) -> bool {
        let format = format!("#{{{name}}}");
        let out = self.run(&["display-message", "-p", "-t", SESSION, &format]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Poll the screen until `ok` holds; fail with `what` and the last screen.
    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {DEADLINE:?} waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `s` quoted for the shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
