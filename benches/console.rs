//! Console speed: reducer ingest (decode + apply) and frame render.
//! Targets: ≥ 1M events/s ingest on one core; ≤ 2 ms per 200×60 frame with
//! 1,000 parent orders.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use vigil::console::state::ConsoleState;
use vigil::console::view::render;
use vigil::protocol::{decode_server, encode, Role, ServerMessage, Side};

/// A realistic live mix: mostly market updates, then progress, fills, decisions.
fn event_frames(n: usize) -> (Vec<ServerMessage>, Vec<String>) {
    let mut fx = Fx::new();
    let mut setup = many_orders(&mut fx, 100);
    setup.push(fx.ev(order_new("P-X", "ACME", Side::Buy, 1e6, "adaptive")));
    let mut frames = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("P-{}", i % 100 + 1);
        let ev = match i % 10 {
            0..=4 => market(
                if i % 2 == 0 { "ACME" } else { "BOLT" },
                100.0 + (i % 50) as f64 * 0.01,
            ),
            5 | 6 => progress(&id, (i % 1000) as f64, 500.0, 100.01, 1.2),
            7 | 8 => fill(&id, 100.02, 100.0),
            _ => decision(&id, "passive", 0.8),
        };
        frames.push(encode(&fx.ev(ev)));
    }
    (setup, frames)
}

fn ingest(c: &mut Criterion) {
    let n = 100_000;
    let (setup, frames) = event_frames(n);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("decode+apply 100k events", |b| {
        b.iter_batched(
            || {
                let mut s = ConsoleState::new();
                for m in &setup {
                    s.apply(m);
                }
                s
            },
            |mut s| {
                for f in &frames {
                    let msg = decode_server(f).unwrap();
                    s.apply(&msg);
                }
                s
            },
            criterion::BatchSize::LargeInput,
        )
    });
    let decoded: Vec<ServerMessage> = frames.iter().map(|f| decode_server(f).unwrap()).collect();
    group.bench_function("apply only 100k events", |b| {
        b.iter_batched(
            || {
                let mut s = ConsoleState::new();
                for m in &setup {
                    s.apply(m);
                }
                s
            },
            |mut s| {
                for m in &decoded {
                    s.apply(m);
                }
                s
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();

    // Per-kind decode cost, to see where ingest time goes.
    let mut fx = Fx::new();
    let mut kinds = c.benchmark_group("decode");
    for (name, ev) in [
        ("market", market("ACME", 100.23)),
        ("progress", progress("P-17", 420.0, 500.0, 100.01, 1.2)),
        ("fill", fill("P-17", 100.02, 100.0)),
        ("decision", decision("P-17", "passive", 0.8)),
    ] {
        let frame = encode(&fx.ev(ev));
        kinds.bench_function(name, |b| b.iter(|| decode_server(&frame).unwrap()));
    }
    kinds.finish();
}

fn render_frame(c: &mut Criterion) {
    let mut app = app(Role::Trader);
    app.feed(&many_orders(&mut Fx::new(), 1000));
    app.selected = Some("P-500".into());
    let area = Rect::new(0, 0, 200, 60);
    let mut buf = Buffer::empty(area);
    c.bench_function("render 1000 orders 200x60", |b| {
        b.iter(|| {
            buf.reset();
            render(&app, area, &mut buf);
        })
    });
}

criterion_group!(benches, ingest, render_frame);
criterion_main!(benches);
