//! The whole replay path on the BTCUSDT capture: inflate, decode, rebuild the
//! book, and run the engine with a TWAP order working, as fast as possible.
//! Reported in source messages (capture lines) per second.
//!
//! The capture is read from `../shared/data/market/` or `$VIGIL_MARKET_DATA`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigil::engine::capture_session::{default_orders, prepare};
use vigil::engine::{EngineOptions, Scenario, SessionTimes};

fn capture() -> PathBuf {
    let dir = std::env::var_os("VIGIL_MARKET_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/market"));
    dir.join("binance_spot_btcusdt_20240808.jsonl.gz")
}

/// One full replay; returns the number of source lines.
fn replay_once(path: &Path, scenario: &Scenario, times: SessionTimes) -> u64 {
    let market = vigil::engine::market::Market::from_capture(
        vec![(
            scenario.market_specs()[0].clone(),
            vigil::engine::feed::open_capture(path, Default::default()).unwrap(),
        )],
        1,
        times.open,
        times.close,
    );
    let mut e =
        vigil::engine::Engine::with_market(market, scenario, &EngineOptions::default(), times)
            .unwrap();
    let mut n = 0u64;
    while e.step() {
        n += 1;
        if n.is_multiple_of(1024) {
            e.drain_events().for_each(drop);
        }
    }
    e.drain_events().for_each(drop);
    e.market().feed_stats(0).map(|s| s.lines).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let path = capture();
    if !path.exists() {
        eprintln!("{} not found: set VIGIL_MARKET_DATA", path.display());
        return;
    }
    // The session and instrument come from a first pass over the capture;
    // the measured loop then replays it from the file each time.
    let setup = prepare(&path, None, 1).unwrap();
    let mut scenario = setup.scenario.clone();
    let sym = scenario.symbols[0].clone();
    let volume = setup.profile.volume_lots as f64 * sym.lot_size;
    scenario.orders = default_orders(&sym.symbol, volume, sym.lot_size);
    scenario.orders.truncate(1); // the TWAP buy
    let times = setup.times;
    let lines = replay_once(&path, &scenario, times);
    assert_eq!(lines, 41_249);

    // A plain timing first, so the figure is visible without criterion's report.
    // CPU time beside wall time: on a shared machine the wall figure moves
    // with the neighbours' load, the CPU time much less.
    let t = Instant::now();
    let cpu0 = process_cpu_seconds();
    let runs = 20;
    for _ in 0..runs {
        replay_once(&path, &scenario, times);
    }
    let per = t.elapsed().as_secs_f64() / runs as f64;
    let cpu = cpu0
        .zip(process_cpu_seconds())
        .map(|(a, b)| (b - a) / runs as f64);
    println!(
        "replay BTCUSDT: {lines} messages in {:.1} ms = {:.2} M messages/s{}",
        per * 1e3,
        lines as f64 / per / 1e6,
        cpu.map(|c| format!(" (CPU time {:.1} ms per replay, all threads)", c * 1e3))
            .unwrap_or_default()
    );

    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("btcusdt_twap", |b| {
        b.iter(|| replay_once(&path, &scenario, times))
    });
    g.finish();
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`,
/// in clock ticks of 1/100 s), None elsewhere.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

criterion_group!(benches, bench);
criterion_main!(benches);
