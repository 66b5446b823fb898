//! Replay's open and seek on a 1-million-event recording.
//! Run: `cargo bench --bench journal_seek` (the recording is generated once,
//! deterministically, into `target/journal_seek/`; set `VIGIL_SEEK_EVENTS`
//! for another size).
//!
//! - `open`: index the file, verify every record, build console checkpoints;
//! - `seek_random`: from one random position to another, the state equal to
//!   playing every event up to the target (restore a checkpoint + re-apply).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use vigil::engine::Scenario;
use vigil::replay::record::{record, Script};
use vigil::replay::{Player, Recording};

/// A default day, decisions every 5 s instead of 30, its orders repeated
/// (smaller) until the session has at least `target` events.
fn journal(target: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/journal_seek");
    let path = dir.join(format!("session-{target}.vigil"));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let base = Scenario::load("default").unwrap();
    // ~50k events a day for each copy of the 5 default orders deciding every
    // 5 s; more copies until the target is reached.
    let mut copies = (target / 50_000).max(1) as usize + 1;
    let tmp = path.with_extension("tmp");
    loop {
        let mut s = base.clone();
        s.decision_interval_s = 5.0;
        s.orders.clear();
        for k in 0..copies {
            for o in &base.orders {
                let mut o = o.clone();
                o.id = Some(format!("{}-{k}", o.id.as_deref().unwrap_or("P")));
                o.qty = ((o.qty / copies as f64 / 100.0).round() * 100.0).max(100.0);
                s.orders.push(o);
            }
        }
        s.controls.max_working_orders = 100_000;
        s.controls.max_messages_per_second = 1_000_000;
        let t = Instant::now();
        let summary = record(&s, Some(42), &Script::default(), &tmp).unwrap();
        eprintln!(
            "generated {} events ({} orders, {} MB) in {:.1}s",
            summary.events,
            s.orders.len(),
            std::fs::metadata(&tmp).unwrap().len() / 1_000_000,
            t.elapsed().as_secs_f64()
        );
        if summary.events >= target {
            break;
        }
        copies = copies * 5 / 4 + 1;
    }
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn bench(c: &mut Criterion) {
    let target: u64 = std::env::var("VIGIL_SEEK_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let path = journal(target);
    let t = Instant::now();
    let rec = Recording::open(&path, None).unwrap();
    let open = t.elapsed();
    let len = rec.len();
    eprintln!(
        "{}: {len} events, {} checkpoints every {} events, opened in {:.2}s",
        path.display(),
        rec.checkpoint_count(),
        rec.checkpoint_spacing(),
        open.as_secs_f64()
    );
    assert!(len as u64 >= target, "{len} events, wanted {target}");

    let mut g = c.benchmark_group("journal");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("open", |b| b.iter(|| Recording::open(&path, None).unwrap()));
    g.finish();

    let mut player = Player::new(rec);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    // Worst and typical single seeks, measured directly.
    let mut times = Vec::new();
    for _ in 0..200 {
        let n = rng.random_range(0..=len);
        let t = Instant::now();
        player.seek_to(n).unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    eprintln!(
        "seek anywhere → anywhere, 200 seeks: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        times[100].as_secs_f64() * 1e3,
        times[190].as_secs_f64() * 1e3,
        times[199].as_secs_f64() * 1e3
    );
    let mut g = c.benchmark_group("journal");
    g.sample_size(50);
    g.bench_function("seek_random", |b| {
        b.iter(|| {
            let n = rng.random_range(0..=len);
            player.seek_to(n).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
