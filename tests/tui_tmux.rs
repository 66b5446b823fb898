//! The real `vigil demo` binary in a real terminal: tmux on a private socket,
//! a fixed 200x50 window, keys sent with `send-keys`, the screen read with
//! `capture-pane`. Checks what only a real terminal shows: the blotter comes
//! up, `p` pauses the selected order, `?` opens the help, `q` quits with
//! status 0 and gives the shell back its screen in a usable state.
//!
//! tmux is required (CI's `.ci/run` installs it); without it this test fails.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Generous: CI runs debug builds on two cores.
const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
const SESSION: &str = "vigil";

/// A tmux server of our own, killed when dropped (also when a check fails).
struct Tmux {
    socket: String,
    /// Where the server put its socket (tmux leaves the file behind).
    socket_path: Option<PathBuf>,
    dir: PathBuf,
}

impl Tmux {
    fn start() -> Tmux {
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
            &WIDTH.to_string(),
            "-y",
            &HEIGHT.to_string(),
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
            format!("{WIDTH}x{HEIGHT}"),
            "pane size"
        );
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        // Never talk to the tmux server of whoever runs the tests.
        cmd.env_remove("TMUX").arg("-L").arg(&self.socket);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Type `text` literally (no key-name lookup).
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", SESSION, "-l", text]);
    }

    /// Send named keys (`Enter`, `Escape`) or single characters.
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", SESSION]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A pane flag such as `alternate_on` or `cursor_flag`.
    fn flag(&self, name: &str) -> bool {
        let format = format!("#{{{name}}}");
        let out = self.run(&["display-message", "-p", "-t", SESSION, &format]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Poll the screen until `ok` holds; fail with `what` and the last screen.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
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

/// The blotter line of the selected order (`▶` before its id marks it; the
/// header's `▶ RUNNING` does not count).
fn selected_row(screen: &str) -> Option<&str> {
    screen.lines().find(|l| l.contains("▶P-"))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn demo_in_a_real_terminal_pause_help_and_clean_quit() {
    let tmux = Tmux::start();
    tmux.wait_for("the shell prompt", |s| s.contains('$'));

    // Markers are printed with printf so that the command line itself (echoed
    // by the shell) does not contain them.
    let exit_file = tmux.dir.join("exit-status");
    let line = format!(
        "printf '%s-%s\\n' vigil before; {} demo; echo $? > {}; printf '%s-%s\\n' vigil after",
        shell_quote(env!("CARGO_BIN_EXE_vigil")),
        shell_quote(exit_file.to_str().unwrap()),
    );
    tmux.type_text(&line);
    tmux.keys(&["Enter"]);

    // The blotter: column headers and the scenario's orders, with a live link.
    let screen = tmux.wait_for("the blotter with P-1 working", |s| {
        s.contains("● live")
            && ["ID", "SYM", "SIDE", "FILL%", "STATE", "STRATEGY"]
                .iter()
                .all(|h| s.contains(h))
            && s.contains("P-2")
            && selected_row(s).is_some_and(|r| r.contains("▶P-1") && r.contains("working"))
    });
    assert!(
        tmux.flag("alternate_on"),
        "the console draws on the alternate screen"
    );
    assert!(!screen.contains("vigil-before"), "{screen}");

    // `p` pauses the selected order; the engine's ack makes the row say so.
    tmux.keys(&["p"]);
    let screen = tmux.wait_for("P-1 paused on the selected row", |s| {
        selected_row(s).is_some_and(|r| r.contains("▶P-1") && r.contains("PAUSED"))
    });
    assert!(screen.contains("paused by demo-trader"), "{screen}");
    assert!(screen.contains("✓ pause P-1 accepted"), "{screen}");

    // `?` opens the help overlay; any key closes it.
    tmux.keys(&["?"]);
    tmux.wait_for("the help overlay", |s| {
        s.contains("Keys (any key closes)") && s.contains("pause or resume the order")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help overlay to close", |s| {
        !s.contains("Keys (any key closes)") && s.contains("▶P-1")
    });

    // `q` quits with status 0 and the shell's screen is back.
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the shell after quitting", |s| s.contains("vigil-after"));
    let status = std::fs::read_to_string(&exit_file).expect("exit status written");
    assert_eq!(
        status.trim(),
        "0",
        "vigil demo exit status; screen:\n{screen}"
    );
    assert!(
        !tmux.flag("alternate_on"),
        "alternate screen left on:\n{screen}"
    );
    assert!(tmux.flag("cursor_flag"), "cursor left hidden");
    assert!(
        screen.contains("vigil-before"),
        "the screen from before the console is not restored:\n{screen}"
    );
    assert!(
        !screen.contains("▶P-1") && !screen.contains("Orders"),
        "console output left on the shell's screen:\n{screen}"
    );

    // The terminal is back in cooked mode with echo: a typed command runs.
    tmux.type_text("printf '%s-%s\\n' shell alive");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the shell to run a command after quitting", |s| {
        s.contains("shell-alive")
    });
}
