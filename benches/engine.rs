//! Criterion benchmarks of the engine's hot paths. Run: `cargo bench --bench engine`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigil::engine::market::MarketOut;
use vigil::engine::{Engine, EngineOptions, Scenario};
use vigil::protocol::{encode, ServerMessage};

fn simulator(c: &mut Criterion) {
    let scenario = Scenario::load("default").unwrap();
    let engine = Engine::new(&scenario, &EngineOptions::default()).unwrap();
    let market = engine.market().clone();
    let mut g = c.benchmark_group("simulator");
    const STEPS: u64 = 100_000;
    g.throughput(Throughput::Elements(STEPS));
    g.bench_function("market_step_100k", |b| {
        b.iter_batched(
            || market.clone(),
            |mut m| {
                let mut out: Vec<MarketOut> = Vec::new();
                for _ in 0..STEPS {
                    out.clear();
                    m.step(&mut out);
                }
                m
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let scenario = Scenario::load("default").unwrap();
    let mut engine = Engine::new(&scenario, &EngineOptions::default()).unwrap();
    let mut events = Vec::new();
    while engine.step() && events.len() < 20_000 {
        events.extend(engine.drain_events().map(ServerMessage::Event));
    }
    let mut g = c.benchmark_group("protocol");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("encode_events", |b| {
        b.iter(|| events.iter().map(|e| encode(e).len()).sum::<usize>())
    });
    let frames: Vec<String> = events.iter().map(encode).collect();
    g.bench_function("decode_events", |b| {
        b.iter(|| {
            frames
                .iter()
                .filter(|f| vigil::protocol::decode_server(f).is_ok())
                .count()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(5));
    targets = simulator, encoding
}
criterion_main!(benches);
