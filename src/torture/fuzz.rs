//! The decoders, fed generated input: protocol frames (both directions),
//! journal records and whole journals, capture lines. Inputs are real samples
//! mutated (bit flips, byte edits, cuts, splices, repeats) and plain random
//! bytes, from a fixed seed. No input may panic, and memory must stay flat.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{mib, rss_bytes, Row, Scale};
use crate::engine::feed::binance::BinanceDecoder;
use crate::engine::feed::capture::LineReader;
use crate::engine::feed::{FeedHandler, FeedSource, HandlerOptions};
use crate::engine::journal::{decode_event, unframe, JournalReader};
use crate::engine::{Engine, EngineOptions, Scenario};
use crate::protocol::{decode_client, decode_server, encode, ServerMessage};

fn mutate(rng: &mut StdRng, corpus: &[Vec<u8>], out: &mut Vec<u8>) {
    out.clear();
    if rng.random_ratio(1, 16) {
        let n = rng.random_range(0..256);
        out.extend((0..n).map(|_| rng.random::<u8>()));
        return;
    }
    out.extend_from_slice(&corpus[rng.random_range(0..corpus.len())]);
    for _ in 0..rng.random_range(1..5) {
        let len = out.len();
        match rng.random_range(0..7) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] = *b"{}[]\":,0-9e.\\ntfu"
                    .get(rng.random_range(0..17))
                    .unwrap_or(&b'x');
            }
            2 if len > 0 => {
                out.truncate(rng.random_range(0..len));
            }
            3 => {
                let i = rng.random_range(0..=len);
                out.insert(i, rng.random());
            }
            4 if len > 0 => {
                let i = rng.random_range(0..len);
                out.remove(i);
            }
            5 => {
                // Splice in part of another sample.
                let other = &corpus[rng.random_range(0..corpus.len())];
                if !other.is_empty() {
                    let a = rng.random_range(0..other.len());
                    let b = rng.random_range(a..=other.len());
                    let at = rng.random_range(0..=len);
                    let tail = out.split_off(at);
                    out.extend_from_slice(&other[a..b]);
                    out.extend_from_slice(&tail);
                }
            }
            _ if len > 0 && len < 4096 => {
                // Repeat a slice: deep nesting, long arrays.
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 16));
                let piece = out[a..b].to_vec();
                for _ in 0..rng.random_range(1..64) {
                    out.extend_from_slice(&piece);
                }
            }
            _ => {}
        }
    }
}

/// Real frames of every kind: the events of a short engine run, and client messages.
/// Sample inputs, one per entry.
type Corpus = Vec<Vec<u8>>;

fn samples(steps: usize) -> Result<(Corpus, Corpus)> {
    let scenario = Scenario::load("default")?;
    let mut e = Engine::new(&scenario, &EngineOptions::default())?;
    let mut server = Vec::new();
    let mut kinds = std::collections::HashSet::new();
    for _ in 0..steps {
        if !e.step() {
            break;
        }
        for env in e.drain_events() {
            // A few of every kind is enough.
            let kind = env.event.kind();
            if kinds.insert(kind) || server.len() < 400 {
                server.push(encode(&ServerMessage::Event(env)).into_bytes());
            }
        }
    }
    server.push(encode(&ServerMessage::Snapshot(Box::new(e.view().clone()))).into_bytes());
    let client = [
        r#"{"type":"hello","protocol":1,"token":"abcd","resume_from":5,"instance_id":"x"}"#,
        r#"{"type":"command","id":"c1","command":{"kind":"pause","order_id":"P-1"}}"#,
        r#"{"type":"command","id":"c2","command":{"kind":"retune","order_id":"P-1","params":{"urgency":0.5,"venues":["XNAS"]}}}"#,
        r#"{"type":"command","id":"c3","command":{"kind":"new_order","order":{"symbol":"ACME","side":"buy","qty":100,"strategy":"twap","duration_s":60}}}"#,
        r#"{"type":"command","id":"c4","command":{"kind":"override","order_id":"P-1","action":"dark","decisions":3}}"#,
        r#"{"type":"ping","t":123}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    Ok((server, client))
}

fn capture_samples() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    if let Ok(mut r) = LineReader::open(std::path::Path::new(
        "../shared/data/market/binance_spot_btcusdt_20240808.jsonl.gz",
    )) {
        while let Some(l) = r.next_line() {
            lines.push(l.to_vec());
            if lines.len() >= 2000 {
                break;
            }
        }
    }
    if lines.is_empty() {
        lines.push(br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723075200000,"s":"BTCUSDT","t":1,"p":"56000.10","q":"0.001","T":1723075200000,"m":true}}"#.to_vec());
        lines.push(br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723075200100,"s":"BTCUSDT","U":1,"u":2,"b":[["56000.00","1.5"]],"a":[["56000.20","0.7"]]}}"#.to_vec());
    }
    lines
}

pub fn run(scale: Scale) -> Result<Row> {
    let total: u64 = scale.pick(10_000_000, 300_000) / if scale.debug_build() { 10 } else { 1 };
    let (server, client) = samples(if scale.debug_build() { 20_000 } else { 200_000 })?;
    let journal_lines: Vec<Vec<u8>> = server
        .iter()
        .map(|f| {
            let json = std::str::from_utf8(f).unwrap_or("");
            format!("{:08x} {json}", crc32fast::hash(json.as_bytes())).into_bytes()
        })
        .collect();
    let capture = capture_samples();
    let mut rng = StdRng::seed_from_u64(2026);
    let mut buf = Vec::new();
    let mut panics = 0u64;
    let mut counts = [0u64; 5];
    // Quiet panics: they are counted, not printed.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let rss_start = rss_bytes();
    let t = Instant::now();
    for i in 0..total {
        let lane = match i % 100 {
            0..=39 => 0,  // server frames
            40..=69 => 1, // client frames
            70..=89 => 2, // journal records
            90..=97 => 3, // capture lines
            _ => 4,       // whole journals
        };
        counts[lane] += 1;
        let ok = match lane {
            0 => {
                mutate(&mut rng, &server, &mut buf);
                let text = String::from_utf8_lossy(&buf);
                catch_unwind(AssertUnwindSafe(|| {
                    let _ = decode_server(&text);
                }))
            }
            1 => {
                mutate(&mut rng, &client, &mut buf);
                let text = String::from_utf8_lossy(&buf);
                catch_unwind(AssertUnwindSafe(|| {
                    let _ = decode_client(&text);
                }))
            }
            2 => {
                mutate(&mut rng, &journal_lines, &mut buf);
                catch_unwind(AssertUnwindSafe(|| {
                    if let Ok(json) = unframe(&buf) {
                        let _ = decode_event(json);
                    }
                    // Also as received: the checksum right, the content mutated.
                    if let Some((_, json)) = std::str::from_utf8(&buf)
                        .ok()
                        .and_then(|s| s.split_once(' '))
                    {
                        let _ = decode_event(json);
                    }
                }))
            }
            3 => {
                let mut lines = Vec::new();
                for _ in 0..rng.random_range(1..8) {
                    mutate(&mut rng, &capture, &mut buf);
                    lines.extend_from_slice(&buf);
                    lines.push(b'\n');
                }
                catch_unwind(AssertUnwindSafe(|| {
                    if let Ok(mut h) = FeedHandler::with_lines(
                        LineReader::from_bytes(lines),
                        BinanceDecoder,
                        None,
                        HandlerOptions::default(),
                    ) {
                        while h.next_event().is_some() {}
                    }
                }))
            }
            _ => {
                let mut file = b"VIGIL-JOURNAL 1\n".to_vec();
                let header = r#"{"type":"header","format":1,"engine_version":"x","engine_id":"e","session_id":"s","scenario":"d","seed":1,"model_ids":[],"scenario_toml":""}"#;
                file.extend(
                    format!("{:08x} {header}\n", crc32fast::hash(header.as_bytes())).bytes(),
                );
                for _ in 0..rng.random_range(1..6) {
                    mutate(&mut rng, &journal_lines, &mut buf);
                    file.extend_from_slice(&buf);
                    file.push(b'\n');
                }
                mutate(&mut rng, &[file.clone()], &mut buf);
                let input = if rng.random_ratio(1, 2) {
                    file
                } else {
                    buf.clone()
                };
                catch_unwind(AssertUnwindSafe(|| {
                    if let Ok(mut r) = JournalReader::new(&input[..], "fuzz") {
                        while let Ok(Some(_)) = r.next_entry() {}
                    }
                }))
            }
        };
        panics += ok.is_err() as u64;
    }
    let elapsed = t.elapsed().as_secs_f64();
    std::panic::set_hook(hook);
    let growth = rss_bytes().saturating_sub(rss_start);
    Ok(Row {
        name: "fuzz",
        figure: format!(
            "{:.2} M inputs, {panics} panics, RSS +{:.0} MiB, {:.2} M inputs/s",
            total as f64 / 1e6,
            mib(growth),
            total as f64 / elapsed / 1e6
        ),
        pass: panics == 0 && growth < 64 << 20,
        detail: format!(
            "server frames {}, client frames {}, journal records {}, capture line batches {}, whole journals {}; seeded mutations of real samples + random bytes; pass: no panic, RSS growth < 64 MiB",
            counts[0], counts[1], counts[2], counts[3], counts[4]
        ),
    })
}
