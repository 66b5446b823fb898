//! Bad data from small generated captures: every kind is counted and
//! reported, none crashes the replay or leaves a wrong book behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use vigil::engine::feed::binance::BinanceDecoder;
use vigil::engine::feed::{
    open_capture, DataIssue, FeedHandler, FeedSource, HandlerOptions, Instrument, Level,
};
use vigil::engine::market::BookSide;
use vigil::engine::EngineOptions;
use vigil::protocol::Event;

/// 2024-08-08 23:59:50 UTC: fixtures cross midnight after 100 lines.
const T0: u64 = 1_723_161_590_000_000_000;

struct Capture {
    lines: Vec<String>,
}

fn levels(l: &[(&str, &str)]) -> String {
    let v: Vec<String> = l
        .iter()
        .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
        .collect();
    format!("[{}]", v.join(","))
}

impl Capture {
    fn new() -> Self {
        Capture { lines: Vec::new() }
    }
    fn ts(&self) -> u64 {
        T0 + self.lines.len() as u64 * 100_000_000
    }
    fn raw(&mut self, s: &str) -> &mut Self {
        let t = self.ts();
        self.lines.push(format!("{t} {s}"));
        self
    }
    fn snapshot(&mut self, id: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> &mut Self {
        let s = format!(
            r#"{{"lastUpdateId":{id},"bids":{},"asks":{}}}"#,
            levels(bids),
            levels(asks)
        );
        self.raw(&s)
    }
    fn depth(
        &mut self,
        first: u64,
        last: u64,
        bids: &[(&str, &str)],
        asks: &[(&str, &str)],
    ) -> &mut Self {
        let s = format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{first},"u":{last},"b":{},"a":{}}}}}"#,
            levels(bids),
            levels(asks)
        );
        self.raw(&s)
    }
    fn bbo(&mut self, id: u64, b: &str, bq: &str, a: &str, aq: &str) -> &mut Self {
        let s = format!(
            r#"{{"stream":"btcusdt@bookTicker","data":{{"u":{id},"s":"BTCUSDT","b":"{b}","B":"{bq}","a":"{a}","A":"{aq}"}}}}"#
        );
        self.raw(&s)
    }
    fn trade(&mut self, id: u64, p: &str, q: &str, buyer_maker: bool) -> &mut Self {
        let s = format!(
            r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1,"s":"BTCUSDT","t":{id},"p":"{p}","q":"{q}","T":1,"m":{buyer_maker},"M":true}}}}"#
        );
        self.raw(&s)
    }
    fn text(&self) -> Vec<u8> {
        let mut t = self.lines.join("\n").into_bytes();
        t.push(b'\n');
        t
    }
    fn gzip(&self) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&self.text()).unwrap();
        e.finish().unwrap()
    }
    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, self.gzip()).unwrap();
        p
    }
}

/// A clean start: snapshot at id 100, a book 100.00/100.01.
fn base() -> Capture {
    let mut c = Capture::new();
    c.snapshot(
        100,
        &[("100.00", "1.0"), ("99.99", "2.0")],
        &[("100.01", "1.5"), ("100.02", "3.0")],
    )
    .bbo(100, "100.00", "1.0", "100.01", "1.5");
    c
}

fn run(c: &Capture) -> FeedHandler<BinanceDecoder> {
    let dir = tempfile::tempdir().unwrap();
    let p = c.write(dir.path(), "c.jsonl.gz");
    let mut h = FeedHandler::open(
        &p,
        BinanceDecoder,
        Some(Instrument::new("BTCUSDT", "0.01", "0.00001").unwrap()),
        HandlerOptions {
            top_of_book_repairs: false,
        },
    )
    .unwrap();
    while h.next_event().is_some() {}
    h
}

type Touch = Option<Level>;

fn best(h: &FeedHandler<BinanceDecoder>) -> (Touch, Touch) {
    (h.book().best(BookSide::Bid), h.book().best(BookSide::Ask))
}

#[test]
fn clean_data_has_no_issues() {
    let mut c = base();
    c.depth(101, 102, &[("100.00", "0.5")], &[])
        .bbo(102, "100.00", "0.5", "100.01", "1.5")
        .trade(1, "100.00", "0.5", true);
    let h = run(&c);
    let s = h.stats();
    assert_eq!(s.issues_total, 0, "{s}");
    assert_eq!(best(&h), (Some((10_000, 50_000)), Some((10_001, 150_000))));
    assert_eq!(s.bbo_checked, 2);
    assert_eq!(s.price_agreement(), 1.0);
}

#[test]
fn duplicate_and_out_of_order_updates_are_dropped() {
    let mut c = base();
    c.depth(101, 105, &[("100.00", "0.7")], &[])
        // The same update again, then an older one: neither may touch the book.
        .depth(101, 105, &[("100.00", "9.0")], &[])
        .depth(98, 103, &[("100.00", "8.0")], &[])
        .trade(7, "100.01", "0.1", false)
        .trade(7, "100.01", "0.1", false)
        .trade(6, "100.01", "0.1", false)
        .bbo(104, "100.00", "0.7", "100.01", "1.5")
        .bbo(103, "100.00", "0.7", "100.01", "1.5");
    let h = run(&c);
    let s = h.stats();
    assert_eq!(s.issue(DataIssue::OutOfOrder), 5, "{s}");
    assert_eq!(s.trades, 1);
    assert_eq!(best(&h).0, Some((10_000, 70_000)));
}

#[test]
fn gaps_are_counted_and_unsync_the_book() {
    let mut c = base();
    c.depth(101, 101, &[("100.00", "0.7")], &[])
        .depth(110, 111, &[("100.00", "0.6")], &[]);
    let h = run(&c);
    assert_eq!(h.stats().issue(DataIssue::Gap), 1);
    assert!(!h.book().synced());
    // Applied all the same: the venue's absolute sizes are the best guess.
    assert_eq!(best(&h).0, Some((10_000, 60_000)));
}

#[test]
fn crossed_books_are_repaired_not_kept() {
    let mut c = base();
    // A new bid at 100.02 crosses asks at 100.01 and 100.02 that were
    // removed upstream without us seeing it.
    c.depth(101, 101, &[("100.02", "0.4")], &[]);
    // A top-of-book message that is itself crossed is dropped.
    c.bbo(101, "100.05", "1", "100.04", "1");
    let h = run(&c);
    let s = h.stats();
    assert_eq!(s.issue(DataIssue::Crossed), 2, "{s}");
    let (b, a) = best(&h);
    assert_eq!(b, Some((10_002, 40_000)));
    assert!(a.is_none_or(|a| a.0 > 10_002), "{a:?}");
}

#[test]
fn unknown_streams_and_corrupt_lines_are_skipped() {
    let mut c = base();
    c.raw(r#"{"stream":"btcusdt@kline_1m","data":{"k":{"o":"1"}}}"#)
        .raw(r#"{"stream":"btcusdt@depth@100ms","data":{"U":101,"u":"#)
        .raw("not json at all");
    c.lines.push("notanumber {}".into());
    c.lines.push(String::new());
    c.depth(101, 101, &[("100.00", "0.9")], &[])
        .raw(r#"{"stream":"btcusdt@trade","data":{"t":1,"p":"abc","q":"1","m":true}}"#);
    let h = run(&c);
    let s = h.stats();
    assert_eq!(s.issue(DataIssue::UnknownStream), 1, "{s}");
    assert_eq!(s.issue(DataIssue::Corrupt), 4, "{s}");
    assert_eq!(best(&h).0, Some((10_000, 90_000)));
    // The summary line names each kind.
    let line = s.to_string();
    assert!(
        line.contains("1 messages from unknown streams skipped"),
        "{line}"
    );
    assert!(line.contains("4 corrupt lines skipped"), "{line}");
}

#[test]
fn truncated_gzip_stops_cleanly() {
    let mut c = base();
    for i in 0..3_000u64 {
        let px = format!("100.{:02}", i % 50);
        c.depth(
            101 + i,
            101 + i,
            &[("99.00", &format!("{}.0", i % 7 + 1))],
            &[(&px, "1.0")],
        );
    }
    let gz = c.gzip();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.jsonl.gz");
    std::fs::write(&p, &gz[..gz.len() * 2 / 3]).unwrap();
    let mut src = open_capture(&p, HandlerOptions::default()).unwrap();
    let mut n = 0;
    while src.next_event().is_some() {
        n += 1;
    }
    let s = src.stats();
    assert_eq!(s.issue(DataIssue::Truncated), 1, "{s}");
    assert_eq!(s.issue(DataIssue::Corrupt), 0, "{s}");
    assert!(n > 100 && s.lines < c.lines.len() as u64, "{n} {s}");
}

#[test]
fn a_replay_over_bad_data_alerts_and_summarises() {
    let mut c = base();
    let mut id = 100;
    for i in 0..300u64 {
        id += 1;
        let bq = format!("{}.0", 1 + i % 5);
        c.depth(id, id, &[("100.00", &bq)], &[]);
        c.bbo(id, "100.00", &bq, "100.01", "1.5");
        c.trade(
            i + 1,
            if i % 2 == 0 { "100.00" } else { "100.01" },
            "0.2",
            i % 2 == 0,
        );
        if i == 150 {
            c.raw("corrupt {")
                .depth(id, id, &[], &[])
                .raw(r#"{"stream":"btcusdt@aggTrade","data":{}}"#);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let p = c.write(dir.path(), "bad.jsonl.gz");
    let setup = vigil::engine::capture_session::prepare(&p, None, 1).unwrap();
    // The fixture runs from 23:59:50 past midnight: the clock goes past 24 h.
    assert!(setup.times.end > 86_400_000_000_000);
    let mut e = setup.engine(&EngineOptions::default()).unwrap();
    let mut events: Vec<_> = e.drain_events().collect();
    while e.step() {
        events.extend(e.drain_events());
    }
    let codes: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Alert(a) => Some(a.code.clone()),
            _ => None,
        })
        .collect();
    for code in [
        "feed_corrupt_line",
        "feed_out_of_order",
        "feed_unknown_stream",
        "feed_summary",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} not in {codes:?}");
    }
    assert!(events.iter().any(|e| matches!(e.event, Event::Fill { .. })));
    let stats = e.market().feed_stats(0).unwrap();
    assert_eq!(stats.issue(DataIssue::Corrupt), 1);
}
