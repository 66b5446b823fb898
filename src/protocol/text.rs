//! How protocol values read for people: times of day (one grammar, parsed
//! and printed the same way by scenarios, scripts, the console, replay and
//! the report), command descriptions and order-state labels.

use super::messages::{Command, OrderState, Ts};

/// A time of day that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time \"{text}\" {why}")]
pub struct ClockError {
    pub text: String,
    pub why: &'static str,
}

/// `HH:MM` or `HH:MM:SS[.fff]` into nanoseconds since midnight.
pub fn parse_clock(text: &str) -> Result<Ts, ClockError> {
    let bad = |why| ClockError {
        text: text.to_string(),
        why,
    };
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad("is not HH:MM or HH:MM:SS"));
    }
    let whole = |p: &str| -> Result<u64, ClockError> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("is not HH:MM or HH:MM:SS"));
        }
        p.parse().map_err(|_| bad("is out of range"))
    };
    let (h, m) = (whole(parts[0])?, whole(parts[1])?);
    let sec: f64 = match parts.get(2) {
        None => 0.0,
        Some(s) => {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(bad("is not HH:MM or HH:MM:SS"));
            }
            s.parse().map_err(|_| bad("is not HH:MM or HH:MM:SS"))?
        }
    };
    if h > 23 || m > 59 || !(0.0..60.0).contains(&sec) {
        return Err(bad("is out of range"));
    }
    Ok((h * 3600 + m * 60) * 1_000_000_000 + (sec * 1e9).round() as u64)
}

/// `HH:MM:SS` of nanoseconds since midnight (a capture that crosses midnight
/// shows hours past 23).
pub fn format_clock(ts: Ts) -> String {
    let s = ts / 1_000_000_000;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// `HH:MM:SS.mmm` of nanoseconds since midnight.
pub fn format_ts(ts: Ts) -> String {
    let ms = ts / 1_000_000;
    let (h, m, s, milli) = (
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000,
    );
    format!("{h:02}:{m:02}:{s:02}.{milli:03}")
}

/// A command in a few words: its kind and what it concerns.
pub fn describe_command(c: &Command) -> String {
    match (c, c.order_id()) {
        (Command::KillModel { model, .. } | Command::RestoreModel { model }, _) => {
            format!("{} {model}", c.kind())
        }
        (_, Some(id)) => format!("{} {id}", c.kind()),
        (_, None) => c.kind().to_string(),
    }
}

/// An order state as the console shows it: a paused order shouts.
pub fn state_label(s: OrderState) -> &'static str {
    match s {
        OrderState::Paused => "PAUSED",
        other => other.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_clock_grammar() {
        assert_eq!(parse_clock("09:30:00").unwrap(), 34_200_000_000_000);
        assert_eq!(parse_clock("9:30").unwrap(), 34_200_000_000_000);
        assert_eq!(parse_clock("10:00:00.25").unwrap(), 36_000_250_000_000);
        assert_eq!(format_clock(34_200_000_000_000), "09:30:00");
        assert_eq!(format_ts(34_200_123_000_000), "09:30:00.123");
        for bad in [
            "25:00:00",
            "9",
            "9:60",
            "10:00:60",
            "-1:00",
            "10:+1",
            "a:b",
            "10:00:00:00",
            "",
        ] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_clock("25:00:00").unwrap_err().to_string(),
            "time \"25:00:00\" is out of range"
        );
    }
}
