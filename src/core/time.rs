//! Wall-clock time as the core sees it: milliseconds since the Unix epoch on the client's clock,
//! handed in by the caller (the core never reads a clock).

/// Milliseconds since the Unix epoch on the CLIENT clock (which may be minutes off the server's;
/// see `expiry::ClockOffset`). Arithmetic saturates: a nonsense clock must not panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// The far future: used for "no known expiry".
    pub const NEVER: Millis = Millis(u64::MAX);

    pub fn plus(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    pub fn minus(self, ms: u64) -> Millis {
        Millis(self.0.saturating_sub(ms))
    }

    /// Moved back by `back` ms with the device clock; the `NEVER` sentinel stays `NEVER` (and
    /// the 0 sentinel stays 0).
    pub fn set_back(self, back: u64) -> Millis {
        if self == Millis::NEVER { self } else { self.minus(back) }
    }

    /// Milliseconds from `earlier` to `self`; 0 if `earlier` is actually later (clock set back).
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Browsers store setTimeout delays as a signed 32-bit integer; anything larger fires at once.
pub const MAX_TIMER_DELAY_MS: u64 = 2_147_483_647;

/// A delay that setTimeout (and the web layer's u32 timer API) will honour: far deadlines become
/// "in about 24.8 days", after which the caller simply asks `poll_timeout` again.
pub fn clamp_timer_delay(ms: u64) -> u32 {
    // MAX_TIMER_DELAY_MS < u32::MAX, so the conversion cannot fail after the clamp.
    u32::try_from(ms.min(MAX_TIMER_DELAY_MS)).unwrap_or(u32::MAX >> 1)
}

/// `u64` milliseconds as `i64`, saturating (for the signed offset arithmetic).
pub(crate) fn to_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// An `i64` millisecond count as a client-clock instant; negative instants are before the
/// epoch, which the client clock cannot express, so they become the epoch.
pub(crate) fn from_i64(ms: i64) -> Millis {
    Millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_and_since_saturate_instead_of_overflowing() {
        assert_eq!(Millis(u64::MAX - 1).plus(10), Millis::NEVER);
        assert_eq!(Millis(5).since(Millis(10)), 0);
        assert_eq!(Millis(10).since(Millis(4)), 6);
        assert_eq!(Millis(3).minus(10), Millis(0));
        assert_eq!(Millis::NEVER.set_back(10), Millis::NEVER);
        assert_eq!(Millis(30).set_back(10), Millis(20));
        assert_eq!(Millis(0).set_back(10), Millis(0));
    }

    #[test]
    fn timer_delays_beyond_2_pow_31_are_clamped() {
        assert_eq!(clamp_timer_delay(0), 0);
        assert_eq!(clamp_timer_delay(1_000), 1_000);
        assert_eq!(clamp_timer_delay(MAX_TIMER_DELAY_MS), 2_147_483_647);
        assert_eq!(clamp_timer_delay(MAX_TIMER_DELAY_MS + 1), 2_147_483_647);
        assert_eq!(clamp_timer_delay(u64::MAX), 2_147_483_647);
    }

    #[test]
    fn signed_conversions_saturate() {
        assert_eq!(to_i64(u64::MAX), i64::MAX);
        assert_eq!(from_i64(-5), Millis(0));
        assert_eq!(from_i64(42), Millis(42));
    }
}
