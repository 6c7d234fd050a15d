//! Date formatting from the (skewed) server clock, hand-written to avoid a dependency:
//! IMF-fixdate for the `Date` header (RFC 9110 §5.6.7) and ISO 8601 for JSON timestamps.

/// Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
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

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    min: i64,
    sec: i64,
    millis: i64,
    weekday: usize,
}

fn split(ms: i64) -> Parts {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: sod / 3600,
        min: sod % 3600 / 60,
        sec: sod % 60,
        millis: ms.rem_euclid(1000),
        // 1970-01-01 was a Thursday (index 4 with Sunday = 0).
        weekday: (days + 4).rem_euclid(7) as usize,
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
pub fn imf_fixdate(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p = split(ms);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[p.weekday],
        p.day,
        MONTHS[(p.month - 1) as usize],
        p.year,
        p.hour,
        p.min,
        p.sec
    )
}

/// `1994-11-06T08:49:37.123Z`
pub fn iso8601(ms: i64) -> String {
    let p = split(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        p.year, p.month, p.day, p.hour, p.min, p.sec, p.millis
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        assert_eq!(
            imf_fixdate(784_111_777_000),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(iso8601(784_111_777_123), "1994-11-06T08:49:37.123Z");
    }

    #[test]
    fn epoch_and_leap_day() {
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // 2024-02-29T12:00:00Z
        assert_eq!(
            imf_fixdate(1_709_208_000_000),
            "Thu, 29 Feb 2024 12:00:00 GMT"
        );
    }
}
