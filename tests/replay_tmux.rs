//! The real `vigil replay recordings/…` in a real terminal (tmux on a private
//! socket): the timeline shows, `space` plays, a seek moves the clock, a
//! command key explains that this is a read-only replay, `q` quits cleanly.
//!
//! tmux is required (CI's `.ci/run` installs it); without it this test fails.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
const SESSION: &str = "replay";
const RECORDING: &str = "recordings/default-42-midday.vigil";

struct Tmux {
    socket: String,
    socket_path: Option<PathBuf>,
    dir: PathBuf,
}

impl Tmux {
    fn start() -> Tmux {
        match Command::new("tmux").arg("-V").output() {
            Ok(out) if out.status.success() => {}
            other => panic!("this test needs a working tmux (apt-get install tmux): {other:?}"),
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let socket = format!("vigil-replay-test-{}-{nanos}", std::process::id());
        let dir = std::env::temp_dir().join(&socket);
        std::fs::create_dir_all(&dir).unwrap();
        let mut tmux = Tmux {
            socket,
            socket_path: None,
            dir,
        };
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            "180",
            "-y",
            "50",
            "-c",
            env!("CARGO_MANIFEST_DIR"),
            "env PS1='$ ' ENV= sh",
        ]);
        tmux.run(&["set-option", "-t", SESSION, "status", "off"]);
        let out = tmux.run(&["display-message", "-p", "#{socket_path}"]);
        tmux.socket_path = Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
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

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", SESSION, "-l", text]);
    }

    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", SESSION]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

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

/// The timeline's clock: `HH:MM:SS.mmm / HH:MM:SS.mmm` → the first one.
fn clock(screen: &str) -> Option<String> {
    let line = screen
        .lines()
        .find(|l| l.contains(" / ") && l.contains("event "))?;
    let at = line.find(" / ")?;
    Some(line[at - 12..at].to_string())
}

#[test]
fn replay_in_a_real_terminal_timeline_play_seek_read_only() {
    let tmux = Tmux::start();
    tmux.wait_for("the shell prompt", |s| s.contains('$'));
    let exit_file = tmux.dir.join("exit-status");
    tmux.type_text(&format!(
        "'{}' replay {RECORDING}; echo $? > '{}'; printf '%s-%s\\n' replay done",
        env!("CARGO_BIN_EXE_vigil"),
        exit_file.display()
    ));
    tmux.keys(&["Enter"]);

    // The console's screens with the replay's timeline below.
    let screen = tmux.wait_for("the blotter and the timeline", |s| {
        s.contains("REPLAY")
            && s.contains("P-1")
            && s.contains("⏸ 1×")
            && s.contains("12:20:00.000 / ")
    });
    assert!(screen.contains("interventions"), "{screen}");
    let start = clock(&screen).expect("a clock on the timeline");

    // Space plays: the clock moves.
    tmux.keys(&["Space"]);
    let screen = tmux.wait_for("the clock to move while playing", |s| {
        s.contains("▶ 1×") && clock(s).is_some_and(|c| c != start)
    });
    tmux.keys(&["Space"]);
    tmux.wait_for("pause", |s| s.contains("⏸ 1×"));
    let _ = screen;

    // A seek moves the clock: :goto, then Shift+→ one minute.
    tmux.type_text(":goto 12:50:00");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the clock at 12:50:00", |s| {
        clock(s).as_deref() == Some("12:50:00.000")
    });
    tmux.keys(&["S-Right"]);
    tmux.wait_for("the clock one minute later", |s| {
        clock(s).as_deref() == Some("12:51:00.000")
    });
    tmux.keys(&["Left"]);
    tmux.wait_for("the clock ten seconds earlier", |s| {
        clock(s).as_deref() == Some("12:50:50.000")
    });

    // A command key explains that this is a read-only replay.
    tmux.keys(&["p"]);
    tmux.wait_for("the read-only explanation", |s| {
        s.contains("read-only") && s.contains("commands are not sent")
    });

    // `n` jumps to the next marker and says what it is.
    tmux.keys(&["n"]);
    tmux.wait_for("a marker", |s| {
        s.contains("intervention at") || s.contains("alert at") || s.contains("divergence at")
    });

    tmux.keys(&["q"]);
    tmux.wait_for("the shell after quitting", |s| s.contains("replay-done"));
    let status = std::fs::read_to_string(&exit_file).expect("exit status written");
    assert_eq!(status.trim(), "0");
}
