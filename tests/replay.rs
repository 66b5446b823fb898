//! Replay: seeking equals playing, live and replay reducers agree, replay
//! flags the shadow divergences the live console flags, truncated
//! and foreign files, scripted recordings are byte-for-byte reproducible, the
//! replay app is read-only and its transport works.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rand::{Rng, SeedableRng};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vigil::console::keymap::Keymap;
use vigil::console::shadow::{ShadowEvent, ShadowState, ShadowStatus, Thresholds};
use vigil::console::theme::Theme;
use vigil::console::ConsoleState;
use vigil::engine::journal::Journal;
use vigil::engine::{Engine, EngineOptions, Scenario};
use vigil::protocol::*;
use vigil::replay::app::ReplayApp;
use vigil::replay::keys::{keymaps_from_toml, ReplayKeymap};
use vigil::replay::record::{record, window, Script, ScriptedCommand};
use vigil::replay::shadow::{ConstantShadow, FnShadow};
use vigil::replay::{MarkerKind, Player, Recording};

const SEED: u64 = 11;

fn scenario() -> Scenario {
    window(&Scenario::load("default").unwrap(), "10:00:00", "11:30:00").unwrap()
}

fn script() -> Script {
    let cmd = |at: &str, user: &str, command: Command| ScriptedCommand {
        at: at.into(),
        user: user.into(),
        command,
    };
    Script {
        command: vec![
            cmd(
                "10:20:00",
                "alice",
                Command::Pause {
                    order_id: "P-1".into(),
                },
            ),
            cmd(
                "10:25:00",
                "alice",
                Command::Resume {
                    order_id: "P-1".into(),
                },
            ),
            cmd(
                "10:40:00",
                "bob",
                Command::Override {
                    order_id: "P-2".into(),
                    action: Some("aggressive".into()),
                    strategy: None,
                    decisions: Some(4),
                },
            ),
        ],
    }
}

/// One recorded session shared by the tests of this file.
fn journal() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vigil-replay-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("session.vigil");
        let s = record(&scenario(), Some(SEED), &script(), &path).unwrap();
        assert!(s.outcomes.iter().all(|(_, ok, _)| *ok), "{:?}", s.outcomes);
        assert!(
            s.events > 2 * 5000,
            "{} events: want several keyframes",
            s.events
        );
        path
    })
}

fn play(rec: &Recording, n: usize) -> ConsoleState {
    let mut state = ConsoleState::new();
    rec.play_into(&mut state, 0, n).unwrap();
    state
}

#[test]
fn seeking_to_n_equals_playing_1_to_n() {
    let rec = Recording::open(journal(), None).unwrap();
    assert!(rec.truncated.is_none());
    assert!(rec.keyframes >= 2);
    assert!(
        rec.keyframe_mismatches.is_empty(),
        "{:?}",
        rec.keyframe_mismatches
    );
    assert!(rec.checkpoint_count() >= 3);
    let len = rec.len();
    // Playing everything reaches the state built while opening.
    assert_eq!(&play(&rec, len), rec.final_state());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut ns: Vec<usize> = (0..12).map(|_| rng.random_range(0..=len)).collect();
    ns.extend([0, 1, 4999, 5000, 5001, len - 1, len]);
    for n in ns {
        assert_eq!(rec.state_at(n).unwrap(), play(&rec, n), "seek to {n}");
    }
}

#[test]
fn player_seeks_back_and_forth_to_the_played_state() {
    let rec = Recording::open(journal(), None).unwrap();
    let len = rec.len();
    let mut p = Player::new(rec);
    let check = Recording::open(journal(), None).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for _ in 0..10 {
        let n = rng.random_range(0..=len);
        p.seek_to(n).unwrap();
        assert_eq!(p.position(), n);
        assert_eq!(p.state, play(&check, n), "player at {n}");
    }
    // Time seeks land after every event at or before the time.
    p.seek_time(37_800_000_000_000).unwrap(); // 10:30
    let n = p.position();
    assert!(check.ts(n - 1) <= 37_800_000_000_000 && check.ts(n) > 37_800_000_000_000);
    let before = p.clock();
    p.seek_by(-10).unwrap();
    assert_eq!(p.clock(), before - 10_000_000_000);
    p.seek_by(60).unwrap();
    assert_eq!(p.clock(), before + 50_000_000_000);
}

#[test]
fn live_and_replay_reducers_agree() {
    // The live console's path: engine events encoded, decoded, applied.
    let s = scenario();
    let mut e = Engine::new(
        &s,
        &EngineOptions {
            seed: Some(SEED),
            ..Default::default()
        },
    )
    .unwrap();
    let mut live = ConsoleState::new();
    let feed = |e: &mut Engine, live: &mut ConsoleState| {
        for env in e.drain_events() {
            let frame = encode(&ServerMessage::Event(env));
            live.apply(&decode_server(&frame).unwrap());
        }
    };
    let cmds = script();
    let mut next = 0;
    feed(&mut e, &mut live);
    loop {
        let at = cmds
            .command
            .get(next)
            .map(|c| vigil::engine::scenario::parse_clock(&c.at).unwrap());
        let nts = e.next_ts();
        if let Some(at) = at {
            if nts.is_none_or(|t| t > at) {
                let c = &cmds.command[next];
                e.apply_command(&format!("s{}", next + 1), &c.user, Role::Trader, &c.command);
                feed(&mut e, &mut live);
                next += 1;
                continue;
            }
        }
        if nts.is_none() {
            break;
        }
        e.step();
        feed(&mut e, &mut live);
    }
    let rec = Recording::open(journal(), None).unwrap();
    assert_eq!(&live, rec.final_state());
}

#[test]
fn markers_and_decisions_are_indexed() {
    let rec = Recording::open(journal(), None).unwrap();
    let interventions: Vec<_> = rec
        .markers
        .iter()
        .filter(|m| m.kind == MarkerKind::Intervention)
        .collect();
    assert_eq!(interventions.len(), 3);
    assert!(
        interventions[0].text.contains("alice: pause P-1"),
        "{:?}",
        interventions[0]
    );
    assert!(rec.decisions_of("P-1").len() > 10);
    let mut p = Player::new(rec);
    let m = p
        .jump_marker(true, &[MarkerKind::Intervention])
        .unwrap()
        .unwrap();
    assert_eq!(p.position(), m.index + 1);
    assert_eq!(p.state.view.order("P-1").unwrap().state, OrderState::Paused);
    // Next/previous decision of an order.
    let t1 = p.jump_decision("P-1", true).unwrap().unwrap();
    let t2 = p.jump_decision("P-1", true).unwrap().unwrap();
    assert!(t2 > t1);
    let back = p.jump_decision("P-1", false).unwrap().unwrap();
    assert_eq!(back, t1);
}

#[test]
fn shadow_divergences_are_marked_and_seekable() {
    // A shadow that always says "aggressive" disagrees with most decisions.
    let mut shadow = ConstantShadow {
        probs: vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };
    let rec = Recording::open(journal(), Some(&mut shadow)).unwrap();
    assert_eq!(rec.shadow_id.as_deref(), Some("constant@test"));
    assert!(!rec.verdicts.is_empty());
    let div: Vec<_> = rec
        .markers
        .iter()
        .filter(|m| m.kind == MarkerKind::Divergence)
        .collect();
    assert!(!div.is_empty());
    // The marker shows in the state at the divergence, and seeking reproduces it.
    let first = div[0];
    let state = rec.state_at(first.index + 1).unwrap();
    let order = first.order_id.as_deref().unwrap();
    assert_eq!(state.divergence[order].shadow_action, "aggressive");
    let len = rec.len();
    for n in [first.index + 1, len / 2, len] {
        assert_eq!(rec.state_at(n).unwrap(), play(&rec, n));
    }
}

/// A shadow whose answer follows the features: sometimes a confident
/// disagreement, sometimes a hesitant one, sometimes agreement.
fn feature_shadow(x: &[f64]) -> Vec<f64> {
    (0..6)
        .map(|i| (4.0 * x.get(i * 2).copied().unwrap_or(0.0) + 0.3 * i as f64).exp())
        .collect()
}

#[test]
fn replay_flags_the_divergences_the_live_console_flags() {
    let mut shadow = FnShadow {
        name: "fn@test".into(),
        f: feature_shadow,
    };
    let rec = Recording::open(journal(), Some(&mut shadow)).unwrap();
    // Not every disagreement is a divergence under the console's rules.
    let hesitant = rec
        .verdicts
        .iter()
        .filter(|v| !v.agrees && !v.diverges)
        .count();
    let flagged = rec.verdicts.iter().filter(|v| v.diverges).count();
    assert!(hesitant > 0 && flagged > 0, "{hesitant} {flagged}");

    // The live console: the same events, each decision scored by the same
    // shadow and folded in by its ShadowState.
    let mut live = ConsoleState::new();
    let mut state = ShadowState::new(
        ShadowStatus::On {
            model_id: "fn@test".into(),
        },
        Thresholds::default(),
    );
    let mut replayed = ConsoleState::new();
    let journal = Journal::open(journal()).unwrap();
    let mut decisions = 0;
    for (i, env) in journal.events().enumerate() {
        live.apply(&ServerMessage::Event(env.clone()));
        rec.apply_at(&mut replayed, i, env.clone());
        if let Event::Decision(d) = &env.event {
            let contract = live.view.contract.clone();
            let request = state.request(&contract, env.ts, d).unwrap();
            let probs = Ok(feature_shadow(&request.features));
            let outcome = state.on_event(
                ShadowEvent::Scored {
                    request,
                    model_id: "fn@test".into(),
                    probs,
                },
                &live,
            );
            if let Some(o) = outcome {
                o.apply(&mut live);
            }
            assert_eq!(live.divergence, replayed.divergence, "after event {i}");
            decisions += 1;
        }
    }
    assert_eq!(decisions, rec.verdicts.len());
}

#[test]
fn truncated_and_corrupt_journals_open_up_to_the_last_good_record() {
    let bytes = std::fs::read(journal()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Cut in the middle of a record (a crashed engine, a cut copy).
    let cut = dir.path().join("cut.vigil");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let rec = Recording::open(&cut, None).unwrap();
    let t = rec.truncated.clone().unwrap();
    assert!(t.reason.contains("cut short"), "{t:?}");
    let note = rec.truncation_note().unwrap();
    assert!(
        note.contains("stops early at line") && note.contains("cut short"),
        "{note}"
    );
    assert!(rec.len() > 100);
    let full = Recording::open(journal(), None).unwrap();
    assert_eq!(
        rec.state_at(rec.len()).unwrap(),
        full.state_at(rec.len()).unwrap()
    );
    // A flipped byte in the middle: stops before the corrupt record.
    let bad = dir.path().join("bad.vigil");
    let mut b = bytes.clone();
    let mid = b.len() / 2;
    b[mid] = if b[mid] == b'7' { b'8' } else { b'7' };
    std::fs::write(&bad, &b).unwrap();
    let rec = Recording::open(&bad, None).unwrap();
    let t = rec.truncated.clone().unwrap();
    assert!(
        t.reason.contains("checksum") || t.reason.contains("checksum"),
        "{t:?}"
    );
    assert!(t.byte_offset as usize <= mid);
    // Not a journal at all.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "hello\n").unwrap();
    let err = match Recording::open(&notes, None) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a text file"),
    };
    assert!(err.contains("is not a vigil journal"), "{err}");
}

#[test]
fn scripted_recordings_are_reproducible_and_carry_no_wall_clock() {
    let dir = tempfile::tempdir().unwrap();
    let s = window(&Scenario::load("default").unwrap(), "10:00:00", "10:10:00").unwrap();
    let a = dir.path().join("a.vigil");
    let b = dir.path().join("b.vigil");
    record(&s, Some(3), &script(), &a).unwrap();
    record(&s, Some(3), &script(), &b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn replay_app() -> ReplayApp {
    let rec = Recording::open(journal(), None).unwrap();
    ReplayApp::new(
        Player::new(rec),
        Keymap::default(),
        ReplayKeymap::default(),
        Theme::builtin_dark(),
        vec!["dark".into()],
    )
}

fn screen(app: &ReplayApp) -> String {
    let mut term = Terminal::new(TestBackend::new(160, 40)).unwrap();
    term.draw(|f| vigil::replay::view::view(app, f)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn replay_app_is_read_only_and_its_transport_works() {
    let mut r = replay_app();
    let now = Instant::now();
    let text = screen(&r);
    assert!(text.contains("REPLAY"), "{text}");
    assert!(text.contains("⏸ 1×") && text.contains("event 0/"), "{text}");
    // A command key explains that this is a replay; nothing is sent.
    let effects = r.on_key(key(KeyCode::Char('p')), now);
    assert!(effects.is_empty());
    let (status, _) = r.app.status.clone().unwrap();
    assert!(
        status.contains("read-only") && status.contains("replay"),
        "{status}"
    );
    let effects = r.on_key(key(KeyCode::Char('K')), now);
    assert!(effects.is_empty());
    // Space plays: the clock moves with wall time.
    r.on_key(key(KeyCode::Char(' ')), now);
    assert!(r.player.playing);
    let c0 = r.player.clock();
    r.tick(Duration::from_secs(5), now);
    assert_eq!(r.player.clock(), c0 + 5_000_000_000);
    assert!(r.player.position() > 0);
    assert!(screen(&r).contains("▶ 1×"));
    // Faster, slower.
    r.on_key(key(KeyCode::Char('+')), now);
    assert_eq!(r.player.speed_value(), Some(2.0));
    r.on_key(key(KeyCode::Char('-')), now);
    r.on_key(key(KeyCode::Char(' ')), now);
    assert!(!r.player.playing);
    // Seek: → +10 s, Shift+← −1 min (clamped to the start), :goto.
    let c1 = r.player.clock();
    r.on_key(key(KeyCode::Right), now);
    assert_eq!(r.player.clock(), c1 + 10_000_000_000);
    r.on_key(KeyEvent::new(KeyCode::Left, KeyModifiers::SHIFT), now);
    assert_eq!(r.player.clock(), r.player.rec.span().0);
    r.on_key(key(KeyCode::Char(':')), now);
    for c in "goto 10:30:00".chars() {
        r.on_key(key(KeyCode::Char(c)), now);
    }
    r.on_key(key(KeyCode::Enter), now);
    assert_eq!(r.player.clock(), 37_800_000_000_000);
    assert!(screen(&r).contains("10:30:00.000"));
    assert_eq!(r.app.live, r.player.state);
    // End, start, next marker selects the order it is about.
    r.on_key(key(KeyCode::Char('G')), now);
    assert!(r.player.at_end());
    r.on_key(key(KeyCode::Char('g')), now);
    assert_eq!(r.player.position(), 0);
    r.on_key(key(KeyCode::Char('n')), now);
    r.on_key(key(KeyCode::Char('n')), now);
    let (status, _) = r.app.status.clone().unwrap();
    assert!(
        status.contains("intervention") || status.contains("alert"),
        "{status}"
    );
    // q quits as in the console.
    let effects = r.on_key(key(KeyCode::Char('q')), now);
    assert!(effects.contains(&vigil::console::app::Effect::Quit));
}

#[test]
fn replay_keys_are_rebindable_from_the_console_keymap_file() {
    let (console, replay) = keymaps_from_toml(
        "[keys]\nquit = [\"x\"]\n[replay]\nplay_pause = [\"P\"]\nseek_back_long = [\"shift-Up\"]\n",
        "k.toml",
    )
    .unwrap();
    assert_eq!(
        console.action_for(&key(KeyCode::Char('x'))),
        Some(vigil::console::keymap::Action::Quit)
    );
    use vigil::replay::keys::ReplayAction;
    assert_eq!(
        replay.action_for(&key(KeyCode::Char('P'))),
        Some(ReplayAction::PlayPause)
    );
    assert_eq!(replay.action_for(&key(KeyCode::Char(' '))), None);
    assert_eq!(
        replay.action_for(&KeyEvent::new(KeyCode::Up, KeyModifiers::SHIFT)),
        Some(ReplayAction::SeekBackLong)
    );
    let err = keymaps_from_toml("[replay]\nwarp = [\"w\"]\n", "k.toml").unwrap_err();
    assert!(err.to_string().contains("unknown replay action"), "{err}");
}
