//! Exact decimal strings to integer ticks and lots.
//!
//! Exchanges send prices and sizes as decimal strings ("61837.63000000").
//! Going through f64 would round 0.1 + 0.2 style values and drift over a
//! session; instead each string is read as an integer number of 10⁻⁸ units
//! and divided by the instrument's tick or lot expressed in the same units.

/// Fixed-point scale of the parser: 10⁻⁸, the finest increment any supported
/// venue quotes.
pub const DECIMALS: u32 = 8;
pub const UNIT: i64 = 100_000_000;

/// Parse an unsigned decimal string into units of 10⁻⁸. Digits beyond the
/// eighth decimal are accepted only when they are zeros. Returns None on
/// anything that is not a plain non-negative decimal, or on overflow.
#[inline]
pub fn parse_units(s: &[u8]) -> Option<i64> {
    let mut i = 0;
    let mut int: i64 = 0;
    let n = s.len();
    if n == 0 {
        return None;
    }
    while i < n && s[i].is_ascii_digit() {
        int = int.checked_mul(10)?.checked_add((s[i] - b'0') as i64)?;
        i += 1;
    }
    let int_digits = i;
    let mut frac: i64 = 0;
    let mut frac_digits = 0u32;
    if i < n && s[i] == b'.' {
        i += 1;
        while i < n && s[i].is_ascii_digit() {
            let d = (s[i] - b'0') as i64;
            if frac_digits < DECIMALS {
                frac = frac * 10 + d;
                frac_digits += 1;
            } else if d != 0 {
                return None;
            }
            i += 1;
        }
        if frac_digits == 0 && int_digits == 0 {
            return None;
        }
    } else if int_digits == 0 {
        return None;
    }
    if i != n {
        return None;
    }
    while frac_digits < DECIMALS {
        frac *= 10;
        frac_digits += 1;
    }
    int.checked_mul(UNIT)?.checked_add(frac)
}

/// Parse an unsigned decimal string straight into multiples of 10^-`decimals`
/// (`decimals` ≤ 8). The flag is false when digits beyond `decimals` are not
/// all zero (the value is then truncated to the grid). The hot path of
/// decoding: one pass, no division.
#[inline]
pub fn parse_scaled(s: &[u8], decimals: u32) -> Option<(i64, bool)> {
    if let Some(v) = parse_scaled_eight_decimals(s, decimals) {
        return Some(v);
    }
    parse_scaled_general(s, decimals)
}

/// The common shape of exchange decimals, `<1 to 10 digits>.<8 digits>`
/// ("61837.63000000"), with the eight decimals read in one step. None when
/// the string has another shape (the general parser then decides).
#[inline]
fn parse_scaled_eight_decimals(s: &[u8], decimals: u32) -> Option<(i64, bool)> {
    let n = s.len();
    if !(10..=19).contains(&n) || s[n - 9] != b'.' || decimals > DECIMALS {
        return None;
    }
    let mut int: i64 = 0;
    for &c in &s[..n - 9] {
        if !c.is_ascii_digit() {
            return None;
        }
        int = int * 10 + (c - b'0') as i64;
    }
    let frac = eight_digits(s[n - 8..].try_into().ok()?)?;
    let (kept, dropped) = split_decimals(frac, DECIMALS - decimals);
    Some((int * 10i64.pow(decimals) + kept as i64, dropped == 0))
}

/// The value of eight ASCII digits, or None when one is not a digit.
///
/// SWAR (SIMD within a register), the technique of the fast_float and
/// simdjson parsers (Lemire et al.): the digit test checks every byte at
/// once, then neighbouring digits are combined pairwise by multiplications
/// (2 → 4 → 8 digits) instead of eight multiply-adds.
#[inline]
fn eight_digits(b: &[u8; 8]) -> Option<u32> {
    let v = u64::from_le_bytes(*b);
    // A byte is a digit when subtracting '0' does not set its high bit and
    // adding 0x46 ('9' + 0x46 = 0x7f) does not either.
    let not_digit = (v.wrapping_add(0x4646_4646_4646_4646) | v.wrapping_sub(0x3030_3030_3030_3030))
        & 0x8080_8080_8080_8080;
    if not_digit != 0 {
        return None;
    }
    let v = v - 0x3030_3030_3030_3030;
    // Byte i now holds digit i (the first character in the lowest byte).
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v = ((v & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32))
        + ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(v as u32)
}

/// Split eight decimals into the first `8 - k` (kept) and the last `k`
/// (dropped), with constant divisors so that no division instruction runs.
#[inline]
fn split_decimals(frac: u32, k: u32) -> (u32, u32) {
    match k {
        0 => (frac, 0),
        1 => (frac / 10, frac % 10),
        2 => (frac / 100, frac % 100),
        3 => (frac / 1_000, frac % 1_000),
        4 => (frac / 10_000, frac % 10_000),
        5 => (frac / 100_000, frac % 100_000),
        6 => (frac / 1_000_000, frac % 1_000_000),
        7 => (frac / 10_000_000, frac % 10_000_000),
        _ => (0, frac),
    }
}

#[inline]
fn parse_scaled_general(s: &[u8], decimals: u32) -> Option<(i64, bool)> {
    let n = s.len();
    // 18 digits cannot overflow an i64.
    if n == 0 || n > 19 {
        return parse_units(s).map(|u| {
            let step = 10i64.pow(DECIMALS - decimals);
            (u / step, u % step == 0)
        });
    }
    let mut i = 0;
    let mut v: i64 = 0;
    while i < n && s[i].is_ascii_digit() {
        v = v * 10 + (s[i] - b'0') as i64;
        i += 1;
    }
    let int_digits = i;
    let mut taken = 0;
    let mut exact = true;
    if i < n && s[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < n && s[i].is_ascii_digit() {
            if taken < decimals {
                v = v * 10 + (s[i] - b'0') as i64;
                taken += 1;
            } else if s[i] != b'0' {
                exact = false;
            }
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return None;
        }
    } else if int_digits == 0 {
        return None;
    }
    if i != n {
        return None;
    }
    while taken < decimals {
        v *= 10;
        taken += 1;
    }
    Some((v, exact))
}

/// The number of decimals d when `step_units` is exactly 10^-d, else None.
pub fn pow10_decimals(step_units: i64) -> Option<u32> {
    (0..=DECIMALS).find(|d| 10i64.pow(DECIMALS - d) == step_units)
}

/// A step size (tick or lot) as an exact number of 10⁻⁸ units, from its
/// decimal text, e.g. "0.01" → 1_000_000.
pub fn step_units(text: &str) -> Option<i64> {
    parse_units(text.as_bytes()).filter(|u| *u > 0)
}

/// Render `count` steps of `step_units` as a decimal string with just the
/// decimals the step needs: 378826 lots of 0.00001 → "3.78826".
pub fn format_steps(count: i64, step_units: i64) -> String {
    let units = count as i128 * step_units as i128;
    let decimals = decimals_of(step_units);
    let neg = units < 0;
    let units = units.unsigned_abs();
    let int = units / UNIT as u128;
    let frac = units % UNIT as u128;
    let sign = if neg { "-" } else { "" };
    if decimals == 0 {
        return format!("{sign}{int}");
    }
    let frac = frac / 10u128.pow(DECIMALS - decimals);
    format!("{sign}{int}.{frac:0width$}", width = decimals as usize)
}

/// Decimal places needed to show multiples of a step exactly.
pub fn decimals_of(step_units: i64) -> u32 {
    let mut d = DECIMALS;
    let mut u = step_units;
    while d > 0 && u % 10 == 0 {
        u /= 10;
        d -= 1;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_units(b"61837.63000000"), Some(6_183_763_000_000));
        assert_eq!(parse_units(b"0.00001"), Some(1_000));
        assert_eq!(parse_units(b"0.00000000"), Some(0));
        assert_eq!(parse_units(b"12"), Some(1_200_000_000));
        assert_eq!(parse_units(b".5"), Some(50_000_000));
        assert_eq!(parse_units(b"1.000000000"), Some(UNIT));
        assert_eq!(parse_units(b"1.000000001"), None);
        assert_eq!(parse_units(b""), None);
        assert_eq!(parse_units(b"."), None);
        assert_eq!(parse_units(b"-1"), None);
        assert_eq!(parse_units(b"1e5"), None);
        assert_eq!(parse_units(b"99999999999999999999"), None);
        // 0.1 + 0.2 is exactly 0.3 here.
        let s = parse_units(b"0.1").unwrap() + parse_units(b"0.2").unwrap();
        assert_eq!(s, parse_units(b"0.3").unwrap());
    }

    #[test]
    fn scaled_parsing_matches_the_general_path() {
        for (txt, d) in [
            ("61837.63000000", 2),
            ("0.00001000", 5),
            ("3.78826000", 5),
            ("93.75658700", 5),
            ("12", 4),
            (".5", 1),
            ("0.00000000", 5),
        ] {
            let u = parse_units(txt.as_bytes()).unwrap();
            let step = 10i64.pow(DECIMALS - d);
            assert_eq!(
                parse_scaled(txt.as_bytes(), d),
                Some((u / step, u % step == 0)),
                "{txt}"
            );
        }
        for bad in [
            "",
            ".",
            "1.2.3",
            "-1",
            "1e5",
            "12a",
            "1.0000000a",
            "1.0000:000",
            "a.00000000",
            "1.0000000\u{7f}",
            "1.000000/0",
        ] {
            assert_eq!(parse_scaled(bad.as_bytes(), 2), None, "{bad}");
        }
        assert_eq!(pow10_decimals(step_units("0.01").unwrap()), Some(2));
        assert_eq!(pow10_decimals(step_units("0.05").unwrap()), None);
    }

    /// The eight-decimal fast path agrees with the general parser on every
    /// grid, for random values and the edges of each digit.
    #[test]
    fn eight_decimal_fast_path_matches_the_general_parser() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut texts: Vec<String> = vec![
            "0.00000000".into(),
            "9999999999.99999999".into(),
            "1.00000001".into(),
            "61837.63000000".into(),
            "0.99999999".into(),
        ];
        for _ in 0..20_000 {
            let int: u64 = rng.random_range(0..10_000_000_000);
            let frac: u32 = rng.random_range(0..100_000_000);
            texts.push(format!("{int}.{frac:08}"));
        }
        for t in &texts {
            for d in 0..=DECIMALS {
                let fast = parse_scaled_eight_decimals(t.as_bytes(), d);
                assert!(fast.is_some(), "{t}");
                assert_eq!(fast, parse_scaled_general(t.as_bytes(), d), "{t} at {d}");
            }
        }
        for d in 0..10u8 {
            let t = format!(
                "1.{}",
                (0..8).map(|_| (b'0' + d) as char).collect::<String>()
            );
            assert_eq!(
                parse_scaled(t.as_bytes(), 8),
                Some((100_000_000 + d as i64 * 11_111_111, true))
            );
        }
    }

    #[test]
    fn formats_with_the_step_decimals() {
        assert_eq!(
            format_steps(378_826, step_units("0.00001").unwrap()),
            "3.78826"
        );
        assert_eq!(
            format_steps(6_183_763, step_units("0.01").unwrap()),
            "61837.63"
        );
        assert_eq!(format_steps(5, step_units("1").unwrap()), "5");
        assert_eq!(decimals_of(step_units("0.0001").unwrap()), 4);
        assert_eq!(decimals_of(step_units("0.5").unwrap()), 1);
    }
}
