//! The real `vigil demo` binary in a real terminal: tmux on a private socket,
//! a fixed 200x50 window, keys sent with `send-keys`, the screen read with
//! `capture-pane`. Checks what only a real terminal shows: the blotter comes
//! up, `p` pauses the selected order, `?` opens the help, `q` quits with
//! status 0 and gives the shell back its screen in a usable state.
//!
//! tmux is required (CI's `.ci/run` installs it); without it this test fails.

mod terminal;

use terminal::{shell_quote, Tmux};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

/// The blotter line of the selected order (`▶` before its id marks it; the
/// header's `▶ RUNNING` does not count).
fn selected_row(screen: &str) -> Option<&str> {
    screen.lines().find(|l| l.contains("▶P-"))
}

#[test]
fn demo_in_a_real_terminal_pause_help_and_clean_quit() {
    let tmux = Tmux::start(WIDTH, HEIGHT);

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
