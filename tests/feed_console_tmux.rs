//! The real `vigil engine --market replay:<BTCUSDT capture>` with the real
//! `vigil console` attached over loopback, in a real terminal: the console
//! shows the replayed market's default orders (a TWAP buy and an
//! Almgren–Chriss sell) working, the crypto pair's symbol whole, quantities
//! in the instrument's lot (5 decimals), average prices on its tick (2
//! decimals) within the capture's range, and the capture's clock.
//!
//! The capture is read from `../shared/data/market/` or `$VIGIL_MARKET_DATA`;
//! tmux is required (CI's `.ci/run` installs it).

mod terminal;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use terminal::{shell_quote, Tmux, DEADLINE};

const TOKEN: &str = "trader-token";

fn capture() -> PathBuf {
    let dir = std::env::var_os("VIGIL_MARKET_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/market"));
    let path = dir.join("binance_spot_btcusdt_20240808.jsonl.gz");
    assert!(
        path.exists(),
        "{} not found: set VIGIL_MARKET_DATA to the folder of the captures",
        path.display()
    );
    path
}

/// The engine process, killed when dropped (also when a check fails).
struct EngineProcess(Child);

impl Drop for EngineProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A number with exactly `decimals` decimals, e.g. `61834.42` for 2.
fn decimal_with(token: &str, decimals: usize) -> Option<f64> {
    let (int, frac) = token.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(int) && digits(frac) && frac.len() == decimals)
        .then(|| token.parse().ok())
        .flatten()
}

/// The blotter row of an order, split into its cells' words.
fn row<'a>(screen: &'a str, id: &str) -> Option<Vec<&'a str>> {
    let line = screen.lines().find(|l| l.contains(id))?;
    Some(
        line.split(|c: char| c.is_whitespace() || c == '│' || c == '▶')
            .filter(|w| !w.is_empty())
            .collect(),
    )
}

/// The order's row shows a fill: an average price on the 0.01 tick.
fn avg_price(screen: &str, id: &str) -> Option<f64> {
    row(screen, id)?
        .into_iter()
        .filter_map(|w| decimal_with(w, 2))
        .find(|p| *p > 1_000.0)
}

#[test]
fn console_shows_the_replayed_btcusdt_market() {
    let capture = capture();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmux = Tmux::start(200, 50);
    let log = std::fs::File::create(tmux.dir.join("engine.log")).unwrap();
    let _engine = EngineProcess(
        Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args([
                "engine",
                "--market",
                &format!("replay:{}", capture.display()),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--token",
                TOKEN,
                // The six-minute capture in about twenty seconds.
                "--speed",
                "20",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start vigil engine"),
    );
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = std::fs::read_to_string(tmux.dir.join("engine.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "the engine is not listening; its output:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    tmux.type_text(&format!(
        "{} console ws://127.0.0.1:{port} --token {TOKEN} --no-shadow",
        shell_quote(env!("CARGO_BIN_EXE_vigil"))
    ));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("both replayed orders filled in part", |s| {
        s.contains("● live")
            && avg_price(s, "TWAP-BUY").is_some()
            && avg_price(s, "AC-SELL").is_some()
    });

    for (id, side, strategy) in [("TWAP-BUY", "BUY", "twap"), ("AC-SELL", "SELL", "AC")] {
        let cells = row(&screen, id).unwrap();
        // The pair's symbol whole, not cut into another valid-looking one.
        assert!(cells.contains(&"BTCUSDT"), "{id}: {cells:?}");
        assert!(cells.contains(&side), "{id}: {cells:?}");
        assert!(cells.contains(&strategy), "{id}: {cells:?}");
        // The quantity in whole lots of 0.00001 BTC.
        let qty = cells
            .iter()
            .find_map(|w| decimal_with(w, 5))
            .unwrap_or_else(|| panic!("{id}: no quantity with 5 decimals in {cells:?}"));
        assert!(qty > 0.0 && qty < 100.0, "{id}: {qty}");
        // Average fill price on the tick, within the capture's range.
        let px = avg_price(&screen, id).unwrap();
        assert!((55_000.0..65_000.0).contains(&px), "{id}: {px}");
    }
    // The clock is the capture's: 23:54 to 00:00 UTC.
    assert!(screen.contains("⏱ 23:5"), "{screen}");

    tmux.keys(&["q"]);
    tmux.wait_for("the shell after quitting", |s| !s.contains("● live"));
}
