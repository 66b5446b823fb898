//! wss:// end to end, plain text refused off loopback, failed logins limited
//! per address, and every command kind refused to a viewer over every
//! transport the engine has.

mod support;

use std::path::Path;
use std::process::Command as Proc;

use support::{start_engine, Client, TRADER, VIEWER};
use vigil::engine::hub::Tokens;
use vigil::engine::serve::{self, ServeOptions};
use vigil::engine::{Engine, EngineOptions, Scenario};
use vigil::protocol::*;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

async fn tls_engine() -> serve::RunningEngine {
    let mut tokens = Tokens::default();
    tokens.add(TRADER, "alice", Role::Trader).unwrap();
    let mut opts = ServeOptions::new("127.0.0.1:0", Scenario::load("calm").unwrap(), tokens);
    opts.speed = 20.0;
    opts.tls = Some(vigil::tls::acceptor(&fixture("server.pem"), &fixture("server.key")).unwrap());
    serve::start(opts).await.unwrap()
}

#[tokio::test]
async fn wss_carries_the_session_and_checks_the_certificate() {
    let engine = tls_engine().await;
    assert!(engine.url().starts_with("wss://"));
    let trusted = vigil::tls::connector(Some(&fixture("ca.pem"))).unwrap();
    let mut c = Client::connect_with(&engine.url(), Some(&trusted))
        .await
        .unwrap();
    let w = c.hello(TRADER, None).await;
    assert_eq!(w.user, "alice");
    let ack = c
        .command(
            "t1",
            Command::Pause {
                order_id: "P-1".into(),
            },
        )
        .await;
    assert!(ack.seq.is_some(), "{ack:?}");
    // By host name too (the certificate names localhost and 127.0.0.1).
    let by_name = format!("wss://localhost:{}", engine.addr.port());
    assert!(Client::connect_with(&by_name, Some(&trusted)).await.is_ok());

    let stranger = vigil::tls::connector(Some(&fixture("other-ca.pem"))).unwrap();
    let err = Client::connect_with(&engine.url(), Some(&stranger))
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("TLS"), "{err:#}");
    // Plain WebSocket to a TLS port gets nowhere.
    let plain = format!("ws://{}", engine.addr);
    assert!(Client::connect_with(&plain, None).await.is_err());
}

fn run_engine_for(args: &[&str], wait: std::time::Duration) -> (Option<i32>, String) {
    let mut child = Proc::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("engine")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    (None, String::new())
}

#[test]
fn plain_text_off_loopback_is_refused_unless_asked_for() {
    let (code, err) = run_engine_for(
        &["--listen", "0.0.0.0:0", "--token", "abcd-1234"],
        std::time::Duration::from_secs(60),
    );
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(
        err.contains("TLS") && err.contains("--insecure-plaintext"),
        "{err}"
    );
    // With TLS, or with the flag, it serves (still running when we stop it).
    let cert = fixture("server.pem");
    let key = fixture("server.key");
    let args = [
        "--listen",
        "0.0.0.0:0",
        "--token",
        "abcd-1234",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let (code, err) = run_engine_for(&args, std::time::Duration::from_secs(3));
    assert_eq!(code, None, "{err}");
    let (code, err) = run_engine_for(
        &[
            "--listen",
            "0.0.0.0:0",
            "--token",
            "abcd-1234",
            "--insecure-plaintext",
        ],
        std::time::Duration::from_secs(3),
    );
    assert_eq!(code, None, "{err}");
    // A key that is not a key: one clear line, non-zero.
    let (code, err) = run_engine_for(
        &[
            "--token",
            "abcd-1234",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            cert.to_str().unwrap(),
        ],
        std::time::Duration::from_secs(60),
    );
    assert!(code.is_some_and(|c| c != 0), "{err}");
    assert!(err.contains("private key"), "{err}");
}

#[tokio::test]
async fn failed_logins_lock_the_address_out() {
    let engine = start_engine("calm", 1, 10.0, None).await;
    let refusal = |token: String| {
        let url = engine.url();
        async move {
            let mut c = Client::connect(&url).await;
            c.send(&ClientMessage::Hello {
                protocol: 1,
                token,
                resume_from: None,
                instance_id: None,
            })
            .await;
            c.recv().await
        }
    };
    for i in 0..vigil::engine::access::MAX_FAILURES {
        match refusal(format!("guess-{i}")).await {
            ServerMessage::Error { code, message } => {
                assert_eq!(code, ErrorCode::Unauthenticated);
                assert!(message.contains("unknown token"), "{message}");
                assert!(
                    !message.contains("guess"),
                    "the token is not echoed: {message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // Now even the right token is refused from this address, with a reason.
    match refusal(TRADER.into()).await {
        ServerMessage::Error { code, message } => {
            assert_eq!(code, ErrorCode::Unauthenticated);
            assert!(message.contains("too many failed"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// Every command kind, once. The match below has no wildcard: a new command
/// does not compile until it is listed here, and so cannot skip the table.
fn every_command() -> Vec<Command> {
    let all = vec![
        Command::Pause {
            order_id: "P-1".into(),
        },
        Command::Resume {
            order_id: "P-1".into(),
        },
        Command::Cancel {
            order_id: "P-1".into(),
        },
        Command::Retune {
            order_id: "P-1".into(),
            params: RetuneParams {
                urgency: Some(0.2),
                ..Default::default()
            },
        },
        Command::Override {
            order_id: "P-1".into(),
            action: Some("passive".into()),
            strategy: None,
            decisions: None,
        },
        Command::ReleaseOverride {
            order_id: "P-1".into(),
        },
        Command::KillSwitch { reason: None },
        Command::ResumeAll,
        Command::NewOrder {
            order: NewOrder {
                id: None,
                symbol: "ACME".into(),
                side: Side::Buy,
                qty: 1000.0,
                strategy: "twap".into(),
                start_in_s: None,
                duration_s: 600.0,
                params: RetuneParams::default(),
                origin: None,
            },
        },
        Command::KillModel {
            model: "policy".into(),
            reason: None,
        },
        Command::RestoreModel {
            model: "policy".into(),
        },
    ];
    let mut seen = [false; 11];
    for c in &all {
        let i = match c {
            Command::Pause { .. } => 0,
            Command::Resume { .. } => 1,
            Command::Cancel { .. } => 2,
            Command::Retune { .. } => 3,
            Command::Override { .. } => 4,
            Command::ReleaseOverride { .. } => 5,
            Command::KillSwitch { .. } => 6,
            Command::ResumeAll => 7,
            Command::NewOrder { .. } => 8,
            Command::KillModel { .. } => 9,
            Command::RestoreModel { .. } => 10,
        };
        seen[i] = true;
    }
    assert!(seen.iter().all(|s| *s), "an example of every command kind");
    all
}

#[tokio::test]
async fn a_viewer_is_refused_every_command_over_every_transport() {
    // Over WebSocket.
    let engine = start_engine("default", 3, 10.0, None).await;
    let mut v = Client::connect(&engine.url()).await;
    v.hello(VIEWER, None).await;
    for (i, cmd) in every_command().into_iter().enumerate() {
        let kind = cmd.kind();
        let ack = v.command(&format!("v{i}"), cmd).await;
        assert!(!ack.ok, "{kind} over WebSocket: {ack:?}");
        assert!(
            ack.reason
                .as_deref()
                .unwrap_or("")
                .contains("permission denied"),
            "{kind}: {ack:?}"
        );
    }
    assert!(v
        .view
        .orders
        .iter()
        .all(|o| o.state != OrderState::Paused && o.state != OrderState::Cancelled));
    assert_eq!(v.view.state, EngineState::Running);
    // In the engine itself, the entry every transport (WebSocket today, FIX and
    // the bus as they come) goes through.
    let mut e = Engine::new(
        &Scenario::load("default").unwrap(),
        &EngineOptions::default(),
    )
    .unwrap();
    for cmd in every_command() {
        let out = e.apply_command("x", "bob", Role::Viewer, &cmd);
        assert!(!out.ok, "{}", cmd.kind());
        assert!(out.reason.unwrap().contains("permission denied"));
    }
    assert_eq!(
        e.order_count(),
        Scenario::load("default").unwrap().orders.len()
    );
    assert_eq!(e.state(), EngineState::Running);
}
