//! Decoder for the Binance spot WebSocket capture format:
//! `<receive ns> {"stream":"<sym>@depth@100ms|<sym>@bookTicker|<sym>@trade","data":{…}}`,
//! plus REST depth snapshots `{"lastUpdateId":…,"bids":[…],"asks":[…]}`.
//!
//! The JSON is read by a small scanner rather than a general deserialiser:
//! the messages are flat, their numbers are decimal strings that go straight
//! to integer ticks and lots, and the replay's throughput depends on this
//! loop. The scanner is strict JSON for what it accepts (any key order, any
//! whitespace); anything it does not understand makes the line corrupt.

use super::decimal::{parse_scaled, parse_units};
use super::{Instrument, Malformed, RawKind, RawMessage, VenueDecoder};
use crate::engine::prices::{Px, Qty};

/// Tick and lot sizes of the symbols we have captures of (the exchange's
/// PRICE_FILTER and LOT_SIZE filters at capture time). Both captures quote
/// every price on this tick and nearly every size on this lot; the rare
/// finer sizes (legacy resting orders) are rounded down and counted.
const KNOWN: &[(&str, &str, &str)] = &[
    ("BTCUSDT", "0.01", "0.00001"),
    ("ETHUSDT", "0.01", "0.0001"),
];

#[derive(Debug, Clone, Copy, Default)]
pub struct BinanceDecoder;

impl VenueDecoder for BinanceDecoder {
    fn venue(&self) -> &'static str {
        "BINANCE"
    }

    fn identify(&self, first_lines: &[&[u8]]) -> Option<Instrument> {
        for line in first_lines {
            let Some(at) = find(line, b"\"stream\":\"") else {
                continue;
            };
            let rest = &line[at + 10..];
            let end = rest.iter().position(|&b| b == b'@')?;
            let symbol = std::str::from_utf8(&rest[..end]).ok()?.to_ascii_uppercase();
            return Some(match KNOWN.iter().find(|(s, _, _)| *s == symbol) {
                Some((_, tick, lot)) => Instrument::new(&symbol, tick, lot).ok()?,
                // An unknown symbol still replays exactly on the finest grid.
                None => Instrument::new(&symbol, "0.00000001", "0.00000001").ok()?,
            });
        }
        None
    }

    fn decode(
        &mut self,
        line: &[u8],
        inst: &Instrument,
        out: &mut RawMessage,
    ) -> Result<(), Malformed> {
        let sp = line.iter().position(|&b| b == b' ').ok_or(Malformed)?;
        out.recv_ns = parse_u64(&line[..sp]).ok_or(Malformed)?;
        let mut s = Scanner {
            b: &line[sp + 1..],
            i: 0,
        };
        out.bids.clear();
        out.asks.clear();
        out.first_id = 0;
        out.last_id = 0;
        let mut kind = None;
        let mut saw_data = false;
        let mut snapshot_id = None;
        let mut f = Fields::default();
        s.ws();
        s.expect(b'{')?;
        s.ws();
        if !s.eat(b'}') {
            loop {
                let key = s.string()?;
                s.ws();
                s.expect(b':')?;
                s.ws();
                match key {
                    b"stream" => {
                        let name = s.string()?;
                        kind = Some(stream_kind(name));
                    }
                    b"data" => {
                        saw_data = true;
                        s.data(inst, out, &mut f)?;
                    }
                    b"lastUpdateId" => snapshot_id = Some(s.uint()?),
                    b"bids" => s.levels(inst, &mut out.bids, &mut out.off_grid)?,
                    b"asks" => s.levels(inst, &mut out.asks, &mut out.off_grid)?,
                    _ => s.skip_value()?,
                }
                s.ws();
                if s.eat(b',') {
                    s.ws();
                    continue;
                }
                s.expect(b'}')?;
                break;
            }
        }
        s.ws();
        if s.i != s.b.len() {
            return Err(Malformed);
        }
        match (kind, snapshot_id) {
            (Some(k), None) if saw_data => {
                out.kind = k;
                match k {
                    RawKind::Depth => {
                        out.first_id = f.first_id.ok_or(Malformed)?;
                        out.last_id = f.last_id.ok_or(Malformed)?;
                    }
                    RawKind::TopOfBook => {
                        out.last_id = f.last_id.ok_or(Malformed)?;
                        let (bid, ask) = (f.bid_px.ok_or(Malformed)?, f.ask_px.ok_or(Malformed)?);
                        let (bq, aq) = (f.bid_qty.ok_or(Malformed)?, f.ask_qty.ok_or(Malformed)?);
                        out.bid = (bid, bq);
                        out.ask = (ask, aq);
                    }
                    RawKind::Trade => {
                        out.last_id = f.trade_id.ok_or(Malformed)?;
                        out.price = f.price.ok_or(Malformed)?;
                        out.qty = f.qty.ok_or(Malformed)?;
                        out.aggressor_sold = f.buyer_maker.ok_or(Malformed)?;
                    }
                    RawKind::Snapshot | RawKind::Unknown => {}
                }
                Ok(())
            }
            (None, Some(id)) => {
                out.kind = RawKind::Snapshot;
                out.last_id = id;
                Ok(())
            }
            _ => Err(Malformed),
        }
    }
}

fn stream_kind(name: &[u8]) -> RawKind {
    let Some(at) = name.iter().position(|&b| b == b'@') else {
        return RawKind::Unknown;
    };
    match &name[at + 1..] {
        b"depth@100ms" | b"depth" | b"depth@1000ms" => RawKind::Depth,
        b"bookTicker" => RawKind::TopOfBook,
        b"trade" => RawKind::Trade,
        _ => RawKind::Unknown,
    }
}

/// Fields of a `data` object that are not level lists.
#[derive(Default)]
struct Fields {
    first_id: Option<u64>,
    last_id: Option<u64>,
    trade_id: Option<u64>,
    bid_px: Option<Px>,
    bid_qty: Option<Qty>,
    ask_px: Option<Px>,
    ask_qty: Option<Qty>,
    price: Option<Px>,
    qty: Option<Qty>,
    buyer_maker: Option<bool>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[inline]
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    Some(v)
}

/// Price string → ticks; Err when malformed, Ok(None) when off the tick grid.
#[inline]
fn to_ticks(s: &[u8], inst: &Instrument) -> Result<Option<Px>, Malformed> {
    if let Some(d) = inst.tick_decimals {
        let (v, exact) = parse_scaled(s, d).ok_or(Malformed)?;
        return Ok(exact.then_some(v));
    }
    let u = parse_units(s).ok_or(Malformed)?;
    Ok((u % inst.tick_units == 0).then_some(u / inst.tick_units))
}

/// Size string → lots, rounded down when not on the lot grid (second value
/// true then): a finer size must not show more liquidity than there is.
#[inline]
fn to_lots(s: &[u8], inst: &Instrument) -> Result<(Qty, bool), Malformed> {
    if let Some(d) = inst.lot_decimals {
        let (v, exact) = parse_scaled(s, d).ok_or(Malformed)?;
        return Ok((v, !exact));
    }
    let u = parse_units(s).ok_or(Malformed)?;
    Ok((u / inst.lot_units, u % inst.lot_units != 0))
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), Malformed> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// A string without escapes (none of this format's strings has any).
    #[inline]
    fn string(&mut self) -> Result<&'a [u8], Malformed> {
        self.expect(b'"')?;
        let start = self.i;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    let s = &self.b[start..self.i];
                    self.i += 1;
                    return Ok(s);
                }
                b'\\' => return Err(Malformed),
                _ => self.i += 1,
            }
        }
        Err(Malformed)
    }

    #[inline]
    fn uint(&mut self) -> Result<u64, Malformed> {
        let start = self.i;
        while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        parse_u64(&self.b[start..self.i]).ok_or(Malformed)
    }

    fn boolean(&mut self) -> Result<bool, Malformed> {
        if self.b[self.i..].starts_with(b"true") {
            self.i += 4;
            Ok(true)
        } else if self.b[self.i..].starts_with(b"false") {
            self.i += 5;
            Ok(false)
        } else {
            Err(Malformed)
        }
    }

    /// Skip any JSON value (used for fields this decoder does not need).
    fn skip_value(&mut self) -> Result<(), Malformed> {
        match self.b.get(self.i).ok_or(Malformed)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                while self.i < self.b.len() {
                    match self.b[self.i] {
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Ok(());
                            }
                        }
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                Err(Malformed)
            }
            b't' | b'f' => self.boolean().map(|_| ()),
            b'n' if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(())
            }
            c if c.is_ascii_digit() || *c == b'-' => {
                self.i += 1;
                while self.i < self.b.len()
                    && matches!(
                        self.b[self.i],
                        b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'
                    )
                {
                    self.i += 1;
                }
                Ok(())
            }
            _ => Err(Malformed),
        }
    }

    /// A level written the way the venue sends it, `["price","qty"]` with
    /// no whitespace, read without the general scanner's steps; None (and
    /// nothing consumed) for any other spelling. A backslash inside a
    /// string ends up in a number and makes the line corrupt, as it would
    /// through the general path.
    #[inline]
    fn compact_level(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let b = self.b;
        let quote_from = |start: usize| b.get(start..)?.iter().position(|&c| c == b'"');
        if b.get(self.i..self.i + 2)? != b"[\"" {
            return None;
        }
        let p_start = self.i + 2;
        let p_end = p_start + quote_from(p_start)?;
        if b.get(p_end..p_end + 3)? != b"\",\"" {
            return None;
        }
        let q_start = p_end + 3;
        let q_end = q_start + quote_from(q_start)?;
        if b.get(q_end..q_end + 2)? != b"\"]" {
            return None;
        }
        self.i = q_end + 2;
        Some((&b[p_start..p_end], &b[q_start..q_end]))
    }

    /// `[["price","qty"], …]` into `out`; levels off the tick grid are dropped
    /// and sizes off the lot grid rounded down, both counted in `off_grid`.
    fn levels(
        &mut self,
        inst: &Instrument,
        out: &mut Vec<(Px, Qty)>,
        off_grid: &mut u32,
    ) -> Result<(), Malformed> {
        self.expect(b'[')?;
        self.ws();
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            let (p, q) = match self.compact_level() {
                Some(pq) => pq,
                None => {
                    self.expect(b'[')?;
                    self.ws();
                    let p = self.string()?;
                    self.ws();
                    self.expect(b',')?;
                    self.ws();
                    let q = self.string()?;
                    self.ws();
                    self.expect(b']')?;
                    (p, q)
                }
            };
            let price = to_ticks(p, inst)?;
            let (qty, rounded) = to_lots(q, inst)?;
            match price {
                Some(px) => {
                    if rounded {
                        *off_grid += 1;
                    }
                    out.push((px, qty));
                }
                None => *off_grid += 1,
            }
            self.ws();
            if self.eat(b',') {
                self.ws();
                continue;
            }
            self.expect(b']')?;
            return Ok(());
        }
    }

    /// The `data` object of a stream message.
    fn data(
        &mut self,
        inst: &Instrument,
        out: &mut RawMessage,
        f: &mut Fields,
    ) -> Result<(), Malformed> {
        self.expect(b'{')?;
        self.ws();
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.ws();
            self.expect(b':')?;
            self.ws();
            let is_str = self.b.get(self.i) == Some(&b'"');
            match key {
                b"U" => f.first_id = Some(self.uint()?),
                b"u" => f.last_id = Some(self.uint()?),
                b"t" => f.trade_id = Some(self.uint()?),
                b"m" => f.buyer_maker = Some(self.boolean()?),
                // Depth updates carry level lists under b/a, book tickers
                // carry the best price as a string under the same keys.
                b"b" if !is_str => self.levels(inst, &mut out.bids, &mut out.off_grid)?,
                b"a" if !is_str => self.levels(inst, &mut out.asks, &mut out.off_grid)?,
                b"b" | b"a" | b"p" => {
                    let s = self.string()?;
                    let px = to_ticks(s, inst)?;
                    if px.is_none() {
                        out.off_grid += 1;
                        return Err(Malformed);
                    }
                    match key {
                        b"b" => f.bid_px = px,
                        b"a" => f.ask_px = px,
                        _ => f.price = px,
                    }
                }
                b"B" | b"A" | b"q" => {
                    let s = self.string()?;
                    let (q, rounded) = to_lots(s, inst)?;
                    if rounded {
                        out.off_grid += 1;
                    }
                    match key {
                        b"B" => f.bid_qty = Some(q),
                        b"A" => f.ask_qty = Some(q),
                        _ => f.qty = Some(q),
                    }
                }
                _ => self.skip_value()?,
            }
            self.ws();
            if self.eat(b',') {
                self.ws();
                continue;
            }
            self.expect(b'}')?;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::prices::BookSide;

    fn btc() -> Instrument {
        Instrument::new("BTCUSDT", "0.01", "0.00001").unwrap()
    }

    fn decode(line: &str) -> Result<RawMessage, Malformed> {
        let mut m = RawMessage::default();
        BinanceDecoder.decode(line.as_bytes(), &btc(), &mut m)?;
        Ok(m)
    }

    #[test]
    fn decodes_each_stream() {
        let d = decode(r#"7 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"u":12,"b":[["100.01000000","0.50000000"]],"a":[["100.02000000","0.00000000"],["100.03000000","1.00001000"]]}}"#).unwrap();
        assert_eq!(d.kind, RawKind::Depth);
        assert_eq!(d.recv_ns, 7);
        assert_eq!((d.first_id, d.last_id), (10, 12));
        assert_eq!(d.bids, vec![(10_001, 50_000)]);
        assert_eq!(d.asks, vec![(10_002, 0), (10_003, 100_001)]);

        let t = decode(r#"8 {"stream":"btcusdt@bookTicker","data":{"u":13,"s":"BTCUSDT","b":"100.01000000","B":"0.5","a":"100.02","A":"2"}}"#).unwrap();
        assert_eq!(t.kind, RawKind::TopOfBook);
        assert_eq!((t.bid, t.ask), ((10_001, 50_000), (10_002, 200_000)));

        let tr = decode(r#"9 { "stream" : "btcusdt@trade" , "data" : {"e":"trade","t":5,"p":"100.02000000","q":"0.02000000","T":3,"m":true,"M":true} }"#).unwrap();
        assert_eq!(tr.kind, RawKind::Trade);
        assert_eq!(
            (tr.last_id, tr.price, tr.qty, tr.aggressor_sold),
            (5, 10_002, 2_000, true)
        );

        let s = decode(r#"10 {"lastUpdateId":11,"bids":[["100.00","1"]],"asks":[]}"#).unwrap();
        assert_eq!(s.kind, RawKind::Snapshot);
        assert_eq!(s.bids, vec![(10_000, 100_000)]);

        let u = decode(r#"11 {"stream":"btcusdt@kline_1m","data":{"k":{"x":[1,{"y":null}]}}}"#)
            .unwrap();
        assert_eq!(u.kind, RawKind::Unknown);
        let _ = BookSide::Bid;
    }

    #[test]
    fn level_spelling_does_not_matter() {
        let compact = decode(r#"7 {"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[["100.01000000","0.50000000"],["99.00","1"]],"a":[]}}"#).unwrap();
        let spaced = decode(r#"7 {"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[ [ "100.01000000" , "0.50000000" ] , ["99.00","1"]],"a":[]}}"#).unwrap();
        assert_eq!(compact.bids, vec![(10_001, 50_000), (9_900, 100_000)]);
        assert_eq!(spaced.bids, compact.bids);
        for bad in [
            r#"7 {"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[["1\"]],"a":[]}}"#,
            r#"7 {"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[["1.00","2","3"]],"a":[]}}"#,
            r#"7 {"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[["1.00","2"],"a":[]}}"#,
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_corrupt_lines() {
        for bad in [
            "",
            "garbage",
            "12 ",
            "x {\"stream\":\"btcusdt@trade\",\"data\":{}}",
            r#"1 {"stream":"btcusdt@trade","data":{"t":1,"p":"1.00","q":"1"}}"#,
            r#"1 {"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[["1.00","x"]],"a":[]}}"#,
            r#"1 {"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[["1.00","1"]"#,
            r#"1 {"stream":"btcusdt@trade","data":{"t":1,"p":"1.00","q":"1","m":true}} trailing"#,
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn off_grid_values_are_counted() {
        let d = decode(r#"7 {"stream":"btcusdt@depth@100ms","data":{"U":1,"u":2,"b":[["100.015","1"],["100.01","0.000015"]],"a":[]}}"#).unwrap();
        assert_eq!(d.off_grid, 2);
        assert_eq!(d.bids, vec![(10_001, 1)]);
    }

    #[test]
    fn identifies_the_instrument() {
        let l: &[u8] = br#"1 {"stream":"ethusdt@trade","data":{}}"#;
        let i = BinanceDecoder.identify(&[l]).unwrap();
        assert_eq!(i.symbol, "ETHUSDT");
        assert_eq!(i.lot_size(), 0.0001);
    }
}
