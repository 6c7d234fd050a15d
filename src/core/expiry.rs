//! Expiry arithmetic and clock-skew estimation.
//!
//! JWT times (`exp`, `iat`) are on the SERVER clock; timers and `now` are on the CLIENT clock,
//! which on real devices is often minutes off. Every expiry the machine compares against `now`
//! is first moved onto the client clock through a `ClockOffset`, so a skewed device neither
//! refreshes in a loop (clock ahead: every token looks expired) nor too late (clock behind).

use crate::core::time::{from_i64, to_i64, Millis};

/// Server clock minus client clock, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClockOffset(pub i64);

/// Offsets smaller than this are measurement noise: `iat` and `Date` have one-second
/// granularity and the response spent some time on the network.
pub const OFFSET_NOISE_MS: i64 = 2_000;

fn denoised(offset_ms: i64) -> ClockOffset {
    // `unsigned_abs`: the same test as a saturating `abs`, without the saturation's code.
    if offset_ms.unsigned_abs() < OFFSET_NOISE_MS as u64 {
        ClockOffset(0)
    } else {
        ClockOffset(offset_ms)
    }
}

/// Device clocks are seen hours off (a wrong time zone set as UTC, a laptop that slept through
/// a DST change), not days. A measured offset beyond this is a unit or encoding error, not a
/// clock: an `iat` in milliseconds reads as a server ~54,000 years ahead, and believing it would
/// make every refresh token look expired. Such a measurement is ignored.
pub const MAX_PLAUSIBLE_OFFSET_MS: i64 = 24 * 60 * 60 * 1_000;

/// A measured offset beyond `MAX_PLAUSIBLE_OFFSET_MS` (either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImplausibleOffset(pub i64);

/// The gate every measured offset passes before it is adopted.
pub fn plausible_offset(offset: ClockOffset) -> Result<ClockOffset, ImplausibleOffset> {
    if offset.0.unsigned_abs() <= MAX_PLAUSIBLE_OFFSET_MS as u64 {
        Ok(offset)
    } else {
        Err(ImplausibleOffset(offset.0))
    }
}

/// For a token issued just now, the server's clock read `iat` a moment ago. A raw
/// measurement: adopt it only through `plausible_offset`.
pub fn offset_from_iat(iat_secs: i64, now: Millis) -> ClockOffset {
    offset_from_ms(secs_to_ms(iat_secs), now)
}

/// The server's time in ms minus the client's, denoised: one body for the `iat` and `Date`
/// estimates.
#[inline(never)]
fn offset_from_ms(server_ms: i64, now: Millis) -> ClockOffset {
    denoised(server_ms.saturating_sub(to_i64(now.0)))
}

/// `secs.saturating_mul(1_000)`, bounds compared first: the overflow check of a 64-bit
/// multiplication costs a 128-bit one in the wasm.
fn secs_to_ms(secs: i64) -> i64 {
    if secs > i64::MAX / 1_000 {
        i64::MAX
    } else if secs < i64::MIN / 1_000 {
        i64::MIN
    } else {
        secs * 1_000
    }
}

/// The same estimate from a response's `Date` header (also raw: see `plausible_offset`).
pub fn offset_from_date_header(date: &str, now: Millis) -> Option<ClockOffset> {
    Some(offset_from_server_time(parse_http_date(date)?, now))
}

/// The same from the server's time already read (`Date.parse` of the header in the browser).
pub fn offset_from_server_time(server_now: Millis, now: Millis) -> ClockOffset {
    offset_from_ms(to_i64(server_now.0), now)
}

/// When a token with this `exp` expires, on the client clock.
pub fn expires_at_from_exp(exp_secs: i64, offset: ClockOffset) -> Millis {
    from_i64(secs_to_ms(exp_secs).saturating_sub(offset.0))
}

/// `expires_in` is relative, so it needs no clock correction.
pub fn expires_at_from_expires_in(expires_in_secs: u64, now: Millis) -> Millis {
    now.plus(expires_in_secs.saturating_mul(1_000))
}

/// How long before expiry to refresh when the app did not configure a leeway.
///
/// Rule: one sixth of the token's lifetime, at least 1 s and at most 60 s, and never more than
/// half the lifetime. That gives 60 s for a 60-minute token, 50 s for a 5-minute token, 5 s for
/// a 30-second demo token, and for sub-2-second tokens half their life (so a refreshed token is
/// always used for a while before the next refresh: no refresh loop, whatever the lifetime).
pub fn default_leeway_ms(lifetime_ms: u64) -> u64 {
    (lifetime_ms / 6).clamp(1_000, 60_000).min(lifetime_ms / 2)
}

/// The proactive refresh time.
pub fn refresh_at(expires_at: Millis, leeway_ms: u64) -> Millis {
    expires_at.minus(leeway_ms)
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form HTTP/1.1 senders
/// may generate. The weekday must be a weekday name but is not cross-checked against the date
/// (it carries no information). Dates before 1970 are not representable and return `None`.
pub fn parse_http_date(value: &str) -> Option<Millis> {
    let mut parts = value.trim_ascii().split(' ');
    let weekday = parts.next()?.strip_suffix(',')?;
    let day = parts.next()?;
    let month = parts.next()?;
    let year = parts.next()?;
    let time = parts.next()?;
    let zone = parts.next()?;
    if parts.next().is_some() || zone != "GMT" || !WEEKDAYS.contains(&weekday) {
        return None;
    }
    let day = fixed_digits(day, 2)?;
    let month = MONTHS.iter().position(|m| *m == month)?;
    let year = fixed_digits(year, 4)?;
    let mut clock = time.split(':');
    let (hour, minute, second) = (clock.next()?, clock.next()?, clock.next()?);
    if clock.next().is_some() {
        return None;
    }
    let (hour, minute, second) = (fixed_digits(hour, 2)?, fixed_digits(minute, 2)?, fixed_digits(second, 2)?);
    // 60 allows a leap second.
    if year < 1970 || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(Millis(secs.saturating_mul(1_000)))
}

/// Reading a run of ASCII digits: a byte loop rather than `str::parse`, whose general
/// number reader (sign, radix, error kinds) the wasm does not need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digits {
    Value(u64),
    Overflow,
    NotANumber,
}

/// `value` as a decimal number when it is one or more ASCII digits and nothing else.
pub fn digits(value: &str) -> Digits {
    read_digits(value, false)
}

/// The one digit reader: one or more ASCII digits, between ASCII blanks when `blanks` (for
/// `expires_in` and `Retry-After`, in one pass rather than a trim and then a second loop),
/// else nothing around them.
#[inline(never)]
pub fn read_digits(value: &str, blanks: bool) -> Digits {
    const LIMIT: u64 = u64::MAX / 10;
    // 0: leading blanks, 1: digits, 2 and up: trailing blanks.
    let (mut n, mut part, mut overflow) = (0u64, 0u8, false);
    for &b in value.as_bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit <= 9 && part < 2 {
            part = 1;
            // `n * 10 + digit` fits unless n is past LIMIT, or at it with a digit past u64::MAX's last.
            if n > LIMIT || (n == LIMIT && u64::from(digit) > u64::MAX % 10) {
                overflow = true;
            } else {
                n = n * 10 + u64::from(digit);
            }
        } else if blanks && b.is_ascii_whitespace() {
            part <<= 1;
        } else {
            return Digits::NotANumber;
        }
    }
    match part {
        0 => Digits::NotANumber,
        _ if overflow => Digits::Overflow,
        _ => Digits::Value(n),
    }
}

/// Exactly `len` ASCII digits (IMF-fixdate fields are fixed-width).
fn fixed_digits(s: &str, len: usize) -> Option<u64> {
    match digits(s) {
        Digits::Value(n) if s.len() == len => Some(n),
        _ => None,
    }
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// `month` is 0-based.
fn days_in_month(year: u64, month: usize) -> u64 {
    match month {
        1 if is_leap(year) => 29,
        1 => 28,
        3 | 5 | 8 | 10 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (year ≥ 1970, 4 digits, so no overflow).
fn days_since_epoch(year: u64, month: usize, day: u64) -> u64 {
    let years: u64 = (1970..year).map(|y| if is_leap(y) { 366 } else { 365 }).sum();
    let months: u64 = (0..month).map(|m| days_in_month(year, m)).sum();
    years + months + day - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc_example_date() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Millis(784_111_777_000)));
    }

    #[test]
    fn parses_the_epoch_and_a_leap_day() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Millis(0)));
        // 2024-02-29T12:00:00Z = 1709208000
        assert_eq!(parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT"), Some(Millis(1_709_208_000_000)));
        // 2000 was a leap year (divisible by 400): 2000-03-01T00:00:00Z = 951868800
        assert_eq!(parse_http_date("Wed, 01 Mar 2000 00:00:00 GMT"), Some(Millis(951_868_800_000)));
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "garbage",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 2023 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37:00 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn seconds_scale_to_milliseconds_saturating() {
        for secs in [0, 1, -1, 1_700_000_000, i64::MAX / 1_000, i64::MAX / 1_000 + 1, i64::MIN / 1_000, i64::MIN / 1_000 - 1, i64::MAX, i64::MIN] {
            assert_eq!(secs_to_ms(secs), secs.saturating_mul(1_000), "{secs}");
        }
    }

    #[test]
    fn digits_agrees_with_the_checked_reading_around_the_overflow() {
        for text in ["1844674407370955161", "18446744073709551610", "18446744073709551615", "18446744073709551616", "18446744073709551619", "18446744073709551620", "99999999999999999999", "184467440737095516150", "000018446744073709551615", "18446744073709551616x", "1x"] {
            let expected = if !text.bytes().all(|b| b.is_ascii_digit()) {
                Digits::NotANumber
            } else {
                text.parse::<u64>().map_or(Digits::Overflow, Digits::Value)
            };
            assert_eq!(digits(text), expected, "{text}");
        }
    }

    #[test]
    fn small_offsets_are_noise() {
        let now = Millis(1_700_000_000_500);
        assert_eq!(offset_from_iat(1_700_000_000, now), ClockOffset(0));
        assert_eq!(offset_from_iat(1_700_000_001, now), ClockOffset(0));
        assert_eq!(offset_from_iat(1_699_999_999, now), ClockOffset(0));
    }

    #[test]
    fn a_client_clock_ten_minutes_ahead_gives_a_negative_offset() {
        let server_now_secs = 1_700_000_000;
        let client_now = Millis(1_700_000_000_000 + 600_000);
        assert_eq!(offset_from_iat(server_now_secs, client_now), ClockOffset(-600_000));
    }

    #[test]
    fn a_client_clock_ten_minutes_behind_gives_a_positive_offset() {
        let client_now = Millis(1_700_000_000_000 - 600_000);
        assert_eq!(offset_from_iat(1_700_000_000, client_now), ClockOffset(600_000));
    }

    #[test]
    fn date_header_offsets_use_the_same_noise_rule() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(offset_from_date_header(date, Millis(784_111_777_900)), Some(ClockOffset(0)));
        assert_eq!(offset_from_date_header(date, Millis(784_111_777_000 - 60_000)), Some(ClockOffset(60_000)));
        assert_eq!(offset_from_date_header("nonsense", Millis(0)), None);
    }

    #[test]
    fn offsets_up_to_a_day_either_way_are_plausible() {
        for ms in [0, 600_000, -600_000, MAX_PLAUSIBLE_OFFSET_MS, -MAX_PLAUSIBLE_OFFSET_MS] {
            assert_eq!(plausible_offset(ClockOffset(ms)), Ok(ClockOffset(ms)));
        }
        for ms in [MAX_PLAUSIBLE_OFFSET_MS + 1, -MAX_PLAUSIBLE_OFFSET_MS - 1, i64::MAX, i64::MIN] {
            assert_eq!(plausible_offset(ClockOffset(ms)), Err(ImplausibleOffset(ms)));
        }
    }

    #[test]
    fn an_iat_in_milliseconds_is_an_implausible_offset() {
        let now = Millis(1_700_000_000_000);
        let offset = offset_from_iat(1_700_000_000_000, now);
        assert!(offset.0 > 50_000 * 365 * 86_400_000, "{offset:?}");
        assert_eq!(plausible_offset(offset), Err(ImplausibleOffset(offset.0)));
        // A Date header from another decade is no better.
        let date = offset_from_date_header("Sun, 06 Nov 1994 08:49:37 GMT", now).unwrap();
        assert!(plausible_offset(date).is_err());
    }

    #[test]
    fn expiry_moves_onto_the_client_clock() {
        let exp = 1_700_000_300;
        assert_eq!(expires_at_from_exp(exp, ClockOffset(0)), Millis(1_700_000_300_000));
        // Client ahead by 10 min: expiry happens 10 min later on the client clock.
        assert_eq!(expires_at_from_exp(exp, ClockOffset(-600_000)), Millis(1_700_000_900_000));
        assert_eq!(expires_at_from_exp(exp, ClockOffset(600_000)), Millis(1_699_999_700_000));
        assert_eq!(expires_at_from_exp(-5, ClockOffset(0)), Millis(0));
        assert_eq!(expires_at_from_exp(i64::MAX, ClockOffset(i64::MIN)), Millis(i64::MAX as u64));
    }

    #[test]
    fn expires_in_is_relative_to_now() {
        assert_eq!(expires_at_from_expires_in(300, Millis(1_000)), Millis(301_000));
        assert_eq!(expires_at_from_expires_in(u64::MAX, Millis(1_000)), Millis::NEVER);
    }

    #[test]
    fn default_leeway_suits_demo_short_and_long_tokens() {
        assert_eq!(default_leeway_ms(30_000), 5_000);
        assert_eq!(default_leeway_ms(5 * 60_000), 50_000);
        assert_eq!(default_leeway_ms(60 * 60_000), 60_000);
        assert_eq!(default_leeway_ms(24 * 60 * 60_000), 60_000);
        assert_eq!(default_leeway_ms(3_000), 1_000);
        assert_eq!(default_leeway_ms(1_000), 500);
        assert_eq!(default_leeway_ms(0), 0);
    }

    #[test]
    fn refresh_time_is_expiry_minus_leeway() {
        assert_eq!(refresh_at(Millis(100_000), 50_000), Millis(50_000));
        assert_eq!(refresh_at(Millis(10), 50_000), Millis(0));
    }
}
