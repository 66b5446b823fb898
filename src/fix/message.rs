//! FIX tag=value messages: reading one out of a byte stream (framing,
//! BodyLength, CheckSum), its fields, and writing one with a correct header
//! and trailer.
//!
//! Framing follows the FIX transport rules: a message starts with
//! `8=BeginString`, then `9=BodyLength` (bytes from after that field's SOH up
//! to and including the SOH before `10=`), then `35=MsgType`, and ends with
//! `10=CheckSum` (three digits: the byte sum modulo 256 of everything before
//! the `10=` field). A frame whose length or checksum does not add up is
//! *garbled*: the FIX specification says to discard it without a reply and
//! without consuming a sequence number, and to keep the session up.

use std::fmt::Write as _;

pub const SOH: u8 = 0x01;
pub const BEGIN_STRING: &str = "FIX.4.4";
/// Largest sequence number taken (2^53: exact in every peer's arithmetic).
pub const MAX_SEQ: u64 = 1 << 53;
/// Largest body accepted; a longer declared length is garbage, not a message.
pub const MAX_BODY: usize = 64 * 1024;

/// One well-framed message: its fields in order, header and trailer included.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub fields: Vec<(u32, String)>,
}

/// A field that is not a `tag=value` pair with a numeric tag: the message is
/// well framed, but the field cannot be read (answered with a session Reject).
#[derive(Debug, Clone, PartialEq)]
pub struct BadField {
    pub position: usize,
    pub text: String,
}

impl Message {
    pub fn get(&self, tag: u32) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    pub fn msg_type(&self) -> &str {
        self.get(35).unwrap_or("")
    }

    /// MsgSeqNum (34), if it is a sequence number at all.
    pub fn seq_num(&self) -> Option<u64> {
        self.get(34)
            .and_then(|v| v.parse().ok())
            .filter(|&n| (1..=MAX_SEQ).contains(&n))
    }

    /// A tag present more than once (other than in repeating groups, which
    /// the messages vigil accepts do not have).
    pub fn repeated_tag(&self) -> Option<u32> {
        let mut seen = std::collections::HashSet::new();
        self.fields
            .iter()
            .map(|(t, _)| *t)
            .find(|t| !seen.insert(*t))
    }

    /// The message as a readable line, SOH shown as `|` (logs, errors).
    pub fn display(&self) -> String {
        let mut s = String::new();
        for (t, v) in &self.fields {
            let _ = write!(s, "{t}={v}|");
        }
        s
    }
}

/// Why a frame was thrown away.
#[derive(Debug, Clone, PartialEq)]
pub enum Garbled {
    /// Bytes before a `8=FIX` start (line noise, another protocol).
    Junk(usize),
    BadBodyLength(String),
    BadCheckSum {
        declared: String,
        computed: u8,
    },
    /// A frame with the right shape but the wrong BeginString.
    WrongBeginString(String),
}

impl std::fmt::Display for Garbled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Garbled::Junk(n) => write!(f, "{n} bytes that do not start a FIX message"),
            Garbled::BadBodyLength(why) => write!(f, "bad BodyLength (9): {why}"),
            Garbled::BadCheckSum { declared, computed } => {
                write!(
                    f,
                    "bad CheckSum (10): declared {declared}, computed {computed:03}"
                )
            }
            Garbled::WrongBeginString(b) => {
                write!(f, "BeginString (8) {b}, expected {BEGIN_STRING}")
            }
        }
    }
}

/// What the framer found next in the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Message(Message, Vec<u8>),
    /// Well framed, but a field is unreadable: the raw bytes, what is known
    /// of the header (MsgSeqNum, MsgType) and the bad field.
    Unreadable {
        seq: Option<u64>,
        msg_type: Option<String>,
        bad: BadField,
    },
    Garbled(Garbled),
}

/// Splits a byte stream into frames. Keeps at most one partial frame.
#[derive(Default)]
pub struct Framer {
    buf: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Framer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes waiting for the rest of their frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next frame, or None until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<Frame> {
        // Anything before a message start is junk: drop it, say how much.
        match find(&self.buf, b"8=") {
            Some(0) => {}
            Some(n) => {
                self.buf.drain(..n);
                return Some(Frame::Garbled(Garbled::Junk(n)));
            }
            None => {
                // Keep a trailing '8' that may begin the next start.
                let keep = usize::from(self.buf.last() == Some(&b'8'));
                let n = self.buf.len() - keep;
                if n > 0 {
                    self.buf.drain(..n);
                    return Some(Frame::Garbled(Garbled::Junk(n)));
                }
                return None;
            }
        }
        let begin_end = match self.buf.iter().position(|&b| b == SOH) {
            Some(p) => p,
            None if self.buf.len() > 32 => {
                return Some(self.skip(Garbled::BadBodyLength("no SOH after BeginString".into())))
            }
            None => return None,
        };
        let begin = String::from_utf8_lossy(&self.buf[2..begin_end]).into_owned();
        let rest = &self.buf[begin_end + 1..];
        if rest.len() < 3 {
            return None;
        }
        if !rest.starts_with(b"9=") {
            return Some(self.skip(Garbled::BadBodyLength(
                "BodyLength (9) is not the second field".into(),
            )));
        }
        let len_end = match rest.iter().position(|&b| b == SOH) {
            Some(p) => p,
            None if rest.len() > 12 => {
                return Some(self.skip(Garbled::BadBodyLength("no SOH after BodyLength".into())))
            }
            None => return None,
        };
        let len_text = String::from_utf8_lossy(&rest[2..len_end]).into_owned();
        let body_len: usize = match len_text.parse() {
            Ok(n) if n <= MAX_BODY && !len_text.starts_with('+') => n,
            _ => {
                return Some(self.skip(Garbled::BadBodyLength(format!(
                    "{len_text:?} is not a length"
                ))))
            }
        };
        let body_start = begin_end + 1 + len_end + 1;
        let trailer_start = body_start + body_len;
        // Trailer: "10=" three digits SOH.
        if self.buf.len() < trailer_start + 7 {
            return None;
        }
        let trailer = &self.buf[trailer_start..trailer_start + 7];
        if !trailer.starts_with(b"10=") || trailer[6] != SOH {
            let why =
                format!("the body is not {body_len} bytes long (no CheckSum where it should end)");
            return Some(self.skip(Garbled::BadBodyLength(why)));
        }
        let declared = String::from_utf8_lossy(&trailer[3..6]).into_owned();
        let computed = checksum(&self.buf[..trailer_start]);
        if declared.parse::<u16>().ok() != Some(computed as u16)
            || !declared.bytes().all(|b| b.is_ascii_digit())
        {
            let frame_len = trailer_start + 7;
            self.buf.drain(..frame_len);
            return Some(Frame::Garbled(Garbled::BadCheckSum { declared, computed }));
        }
        let frame: Vec<u8> = self.buf.drain(..trailer_start + 7).collect();
        if begin != BEGIN_STRING {
            return Some(Frame::Garbled(Garbled::WrongBeginString(begin)));
        }
        Some(parse_fields(frame))
    }

    /// Drop this frame's start and resynchronise on the next `8=`.
    fn skip(&mut self, why: Garbled) -> Frame {
        let next = find(&self.buf[1..], b"8=FIX")
            .map(|p| p + 1)
            .unwrap_or(self.buf.len());
        self.buf.drain(..next);
        Frame::Garbled(why)
    }
}

fn parse_fields(frame: Vec<u8>) -> Frame {
    let mut fields = Vec::new();
    let mut bad = None;
    for (position, raw) in frame
        .split(|&b| b == SOH)
        .filter(|f| !f.is_empty())
        .enumerate()
    {
        let text = String::from_utf8_lossy(raw).into_owned();
        match text.split_once('=') {
            Some((t, v))
                if !t.is_empty()
                    && t.bytes().all(|b| b.is_ascii_digit())
                    && !t.starts_with('0') =>
            {
                match t.parse::<u32>() {
                    Ok(tag) => fields.push((tag, v.to_string())),
                    Err(_) => bad = bad.or(Some(BadField { position, text })),
                }
            }
            _ => bad = bad.or(Some(BadField { position, text })),
        }
    }
    let msg = Message { fields };
    match bad {
        None => Frame::Message(msg, frame),
        Some(bad) => Frame::Unreadable {
            seq: msg.seq_num(),
            msg_type: msg.get(35).map(str::to_string),
            bad,
        },
    }
}

/// The FIX checksum: byte sum modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

/// Builds an outgoing message body; `encode` adds the standard header and trailer.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub msg_type: String,
    pub fields: Vec<(u32, String)>,
}

impl Body {
    pub fn new(msg_type: &str) -> Self {
        Body {
            msg_type: msg_type.to_string(),
            fields: Vec::new(),
        }
    }

    pub fn set(mut self, tag: u32, value: impl ToString) -> Self {
        self.fields.push((tag, value.to_string()));
        self
    }

    pub fn set_opt(self, tag: u32, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.set(tag, v),
            None => self,
        }
    }

    pub fn is_admin(&self) -> bool {
        is_admin(&self.msg_type)
    }
}

/// Session-level message types (the rest are application messages).
pub fn is_admin(msg_type: &str) -> bool {
    matches!(msg_type, "0" | "1" | "2" | "3" | "4" | "5" | "A")
}

/// The standard header fields of an outgoing message.
pub struct Header<'a> {
    pub sender: &'a str,
    pub target: &'a str,
    pub seq: u64,
    pub sending_time: &'a str,
    /// Resent: PossDupFlag=Y with the original SendingTime.
    pub orig_sending_time: Option<&'a str>,
}

/// A complete message: header, body, BodyLength and CheckSum.
pub fn encode(h: &Header, body: &Body) -> Vec<u8> {
    let mut inner = String::with_capacity(128 + body.fields.len() * 16);
    let _ = write!(
        inner,
        "35={}\x0149={}\x0156={}\x0134={}\x01",
        body.msg_type, h.sender, h.target, h.seq
    );
    if h.orig_sending_time.is_some() {
        inner.push_str("43=Y\x01");
    }
    let _ = write!(inner, "52={}\x01", h.sending_time);
    if let Some(orig) = h.orig_sending_time {
        let _ = write!(inner, "122={orig}\x01");
    }
    for (t, v) in &body.fields {
        let _ = write!(inner, "{t}={v}\x01");
    }
    let mut out = format!("8={BEGIN_STRING}\x019={}\x01", inner.len()).into_bytes();
    out.extend_from_slice(inner.as_bytes());
    let sum = checksum(&out);
    out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    out
}

/// The body of a stored message, for a resend: everything but the standard
/// header (8, 9, 35, 49, 56, 34, 43, 52, 122) and the trailer (10).
pub fn body_of(msg: &Message) -> Body {
    Body {
        msg_type: msg.msg_type().to_string(),
        fields: msg
            .fields
            .iter()
            .filter(|(t, _)| !matches!(t, 8 | 9 | 35 | 49 | 56 | 34 | 43 | 52 | 122 | 10))
            .cloned()
            .collect(),
    }
}

/// UTC time as FIX writes it: `YYYYMMDD-HH:MM:SS.sss`.
pub fn utc_timestamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}{m:02}{day:02}-{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian. The
/// algorithm is Howard Hinnant's `civil_from_days` ("chrono-Compatible
/// Low-Level Date Algorithms").
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A FIX UTCTimestamp (`YYYYMMDD-HH:MM:SS[.sss]`): is it well formed?
pub fn is_utc_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let base = b.len() >= 17
        && digits(0..8)
        && b[8] == b'-'
        && digits(9..11)
        && b[11] == b':'
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17);
    base && (b.len() == 17 || (b[17] == b'.' && b.len() > 18 && digits(18..b.len())))
}

/// A FIX float (Qty, Price): optional sign, digits, optional decimal point.
/// No exponent, no NaN or infinity: those are incorrect data format.
pub fn parse_decimal(v: &str) -> Option<f64> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64) -> Vec<u8> {
        let h = Header {
            sender: "OMS1",
            target: "VIGIL",
            seq,
            sending_time: "20261203-10:00:00.000",
            orig_sending_time: None,
        };
        encode(&h, &Body::new("0"))
    }

    #[test]
    fn encodes_what_the_spec_counts() {
        let m = sample(1);
        let text = String::from_utf8(m.clone()).unwrap().replace('\x01', "|");
        assert_eq!(
            text,
            "8=FIX.4.4|9=52|35=0|49=OMS1|56=VIGIL|34=1|52=20261203-10:00:00.000|10=".to_string()
                + &format!("{:03}|", checksum(&m[..m.len() - 7]))
        );
        // BodyLength counts from after 9=..| up to the SOH before 10=.
        let body_start = text.find("35=").unwrap();
        let body_end = text.find("10=").unwrap();
        assert_eq!(body_end - body_start, 52);
    }

    #[test]
    fn frames_split_and_joined_anyhow() {
        let mut stream = sample(1);
        stream.extend(sample(2));
        let mut f = Framer::default();
        let mut got = Vec::new();
        for chunk in stream.chunks(7) {
            f.push(chunk);
            while let Some(frame) = f.next_frame() {
                got.push(frame);
            }
        }
        assert_eq!(got.len(), 2);
        for (i, g) in got.iter().enumerate() {
            match g {
                Frame::Message(m, _) => assert_eq!(m.seq_num(), Some(i as u64 + 1)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn garbled_frames_are_dropped_and_the_next_one_read() {
        let good = sample(3);
        let mut bad_sum = sample(1);
        let n = bad_sum.len();
        bad_sum[n - 2] = if bad_sum[n - 2] == b'0' { b'1' } else { b'0' };
        let text = String::from_utf8(sample(2))
            .unwrap()
            .replace("9=52", "9=51");
        let mut stream = b"garbage\x01\xff".to_vec();
        stream.extend(bad_sum);
        stream.extend(text.as_bytes());
        stream.extend(&good);
        let mut f = Framer::default();
        f.push(&stream);
        let mut kinds = Vec::new();
        while let Some(frame) = f.next_frame() {
            kinds.push(match frame {
                Frame::Message(m, _) => format!("seq {}", m.seq_num().unwrap()),
                Frame::Garbled(Garbled::Junk(_)) => "junk".into(),
                Frame::Garbled(Garbled::BadCheckSum { .. }) => "checksum".into(),
                Frame::Garbled(Garbled::BadBodyLength(_)) => "length".into(),
                other => format!("{other:?}"),
            });
        }
        assert_eq!(kinds.first().map(String::as_str), Some("junk"));
        assert!(kinds.contains(&"checksum".to_string()), "{kinds:?}");
        assert!(kinds.contains(&"length".to_string()), "{kinds:?}");
        assert_eq!(kinds.last().map(String::as_str), Some("seq 3"), "{kinds:?}");
    }

    #[test]
    fn an_unreadable_field_is_reported_with_the_header() {
        let text = "35=D\x0149=OMS1\x0156=VIGIL\x0134=7\x01abc=1\x01";
        let mut m = format!("8=FIX.4.4\x019={}\x01{text}", text.len()).into_bytes();
        let sum = checksum(&m);
        m.extend(format!("10={sum:03}\x01").bytes());
        let mut f = Framer::default();
        f.push(&m);
        match f.next_frame() {
            Some(Frame::Unreadable { seq, msg_type, bad }) => {
                assert_eq!(seq, Some(7));
                assert_eq!(msg_type.as_deref(), Some("D"));
                assert_eq!(bad.text, "abc=1");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timestamps_and_decimals() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_294_400_123);
        assert_eq!(utc_timestamp(t), "20261203-10:40:00.123");
        assert!(is_utc_timestamp("20261203-10:40:00.123"));
        assert!(is_utc_timestamp("20261203-10:40:00"));
        assert!(!is_utc_timestamp("2026-12-03T10:40:00"));
        assert_eq!(parse_decimal("100"), Some(100.0));
        assert_eq!(parse_decimal("-1.5"), Some(-1.5));
        for bad in ["", "NaN", "1e18", "inf", "1.2.3", "-", ".", "+1"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
    }
}
