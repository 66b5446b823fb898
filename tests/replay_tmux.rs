//! The real `vigil replay recordings/…` in a real terminal (tmux on a private
//! socket): the timeline shows, `space` plays, a seek moves the clock, a
//! command key explains that this is a read-only replay, `q` quits cleanly.
//!
//! tmux is required (CI's `.ci/run` installs it); without it this test fails.

mod terminal;

use terminal::Tmux;

const RECORDING: &str = "recordings/default-42-midday.vigil";

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
    let tmux = Tmux::start(180, 50);
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
