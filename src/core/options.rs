//! Every option's default and allowed range, once. `js/index.js` checks the JS types it alone
//! can see (a string, an array, a function); the numbers are checked here, against these
//! ranges, and what the app left out takes these defaults. An out-of-range value is an
//! `invalid_option` error that names the option and its range: never silently clamped. The
//! error is data ([`OptionError`]); `js/index.js` words it, so no message text is in the wasm.

use crate::core::breaker::{BreakerConfig, MIN_COOLDOWN_MS};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

pub const DEFAULT_ACCESS_KEY: &str = "accessToken";
pub const DEFAULT_REFRESH_KEY: &str = "refreshToken";
pub const DEFAULT_LEGACY_ACCESS_KEYS: &[&str] = &["access_token"];
pub const DEFAULT_LEGACY_REFRESH_KEYS: &[&str] = &["refresh_token"];
pub const DEFAULT_SKIP_REFRESH_FOR: &[&str] = &["/login", "/register", "/verify-otp"];
/// Seed 000's clearing: every localStorage key containing one of these.
pub const DEFAULT_CLEAR_PATTERNS: &[&str] = &["token", "auth", "user"];
pub const DEFAULT_REFRESH_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_EXPIRING_WARNING_MS: u64 = 60_000;
/// Refresh under the cross-tab lock unless the app turns it off.
pub const DEFAULT_TAB_LOCK: bool = true;

/// The options with a numeric range, by the number `js/index.js`'s `RANGED` table names them
/// with (an out-of-range error carries this number, not the name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranged {
    Leeway,
    ExpiringWarning,
    RefreshTimeout,
    MaxAttempts,
    BaseDelay,
    MaxDelay,
    Cooldown,
    GiveUpAfter,
}

/// A whole number of milliseconds (or attempts) between `min` and `max`, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub option: Ranged,
    pub min: u64,
    pub max: u64,
}

/// `null`/absent picks the default leeway for the token's lifetime.
pub const LEEWAY: Range = Range { option: Ranged::Leeway, min: 0, max: HOUR };
pub const EXPIRING_WARNING: Range = Range { option: Ranged::ExpiringWarning, min: 0, max: DAY };
/// A refresh that may not take even 100 ms would always time out.
pub const REFRESH_TIMEOUT: Range = Range { option: Ranged::RefreshTimeout, min: 100, max: 10 * 60_000 };
pub const MAX_ATTEMPTS: Range = Range { option: Ranged::MaxAttempts, min: 1, max: 100 };
pub const BASE_DELAY: Range = Range { option: Ranged::BaseDelay, min: 0, max: HOUR };
pub const MAX_DELAY: Range = Range { option: Ranged::MaxDelay, min: 0, max: DAY };
pub const COOLDOWN: Range = Range { option: Ranged::Cooldown, min: MIN_COOLDOWN_MS, max: DAY };
pub const GIVE_UP_AFTER: Range = Range { option: Ranged::GiveUpAfter, min: 0, max: 7 * DAY };

/// What is wrong with a number outside its range (the error's wording names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A whole number, but below `min` or above `max`.
    Outside,
    /// NaN or ±Infinity.
    NotFinite,
    Fraction,
}

/// An option the app got wrong; `js/index.js` words it (option name, range, unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionError {
    OutOfRange { range: Range, why: Why },
    /// `retry.maxDelay` below `retry.baseDelay`.
    MaxDelayBelowBaseDelay,
}

impl Range {
    /// `value` as the app passed it (`None`: left out), or the default.
    pub fn check(&self, value: Option<f64>, default: u64) -> Result<u64, OptionError> {
        let Some(v) = value else { return Ok(default) };
        if v.is_finite() && v.fract() == 0.0 && v >= self.min as f64 && v <= self.max as f64 {
            return Ok(v as u64);
        }
        let why = match () {
            _ if !v.is_finite() => Why::NotFinite,
            _ if v.fract() != 0.0 => Why::Fraction,
            _ => Why::Outside,
        };
        Err(OptionError::OutOfRange { range: *self, why })
    }

    /// Counted in milliseconds (all but the attempts): the error's wording says so.
    pub fn in_ms(&self) -> bool {
        self.option != Ranged::MaxAttempts
    }
}

/// The `retry` options, read into the breaker's configuration.
pub struct RetryInput {
    pub max_attempts: Option<f64>,
    pub base_delay: Option<f64>,
    pub max_delay: Option<f64>,
    pub cooldown: Option<f64>,
    pub give_up_after: Option<f64>,
}

pub fn breaker_config(input: &RetryInput) -> Result<BreakerConfig, OptionError> {
    let d = BreakerConfig::default();
    let config = BreakerConfig {
        max_attempts: MAX_ATTEMPTS.check(input.max_attempts, u64::from(d.max_attempts))? as u32,
        base_delay_ms: BASE_DELAY.check(input.base_delay, d.base_delay_ms)?,
        max_delay_ms: MAX_DELAY.check(input.max_delay, d.max_delay_ms)?,
        cooldown_ms: COOLDOWN.check(input.cooldown, d.cooldown_ms)?,
        give_up_after_ms: GIVE_UP_AFTER.check(input.give_up_after, d.give_up_after_ms)?,
    };
    if config.max_delay_ms < config.base_delay_ms {
        return Err(OptionError::MaxDelayBelowBaseDelay);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry() -> RetryInput {
        RetryInput { max_attempts: None, base_delay: None, max_delay: None, cooldown: None, give_up_after: None }
    }

    #[test]
    fn left_out_options_take_the_defaults() {
        assert_eq!(breaker_config(&retry()).unwrap(), BreakerConfig::default());
        assert_eq!(REFRESH_TIMEOUT.check(None, DEFAULT_REFRESH_TIMEOUT_MS), Ok(10_000));
    }

    #[test]
    fn values_in_range_are_kept_exactly_including_the_bounds() {
        assert_eq!(MAX_ATTEMPTS.check(Some(1.0), 3), Ok(1));
        assert_eq!(MAX_ATTEMPTS.check(Some(100.0), 3), Ok(100));
        assert_eq!(COOLDOWN.check(Some(1_000.0), 30_000), Ok(1_000));
        assert_eq!(LEEWAY.check(Some(0.0), 0), Ok(0));
    }

    #[test]
    fn out_of_range_values_are_errors_naming_the_option_and_range_never_clamped() {
        let e = MAX_ATTEMPTS.check(Some(1000.0), 3).unwrap_err();
        assert_eq!(e, OptionError::OutOfRange { range: MAX_ATTEMPTS, why: Why::Outside });
        let e = breaker_config(&RetryInput { cooldown: Some(0.0), ..retry() }).unwrap_err();
        assert_eq!(e, OptionError::OutOfRange { range: Range { option: Ranged::Cooldown, min: 1_000, max: 86_400_000 }, why: Why::Outside });
        assert_eq!(REFRESH_TIMEOUT.check(Some(f64::INFINITY), 1).unwrap_err(), OptionError::OutOfRange { range: REFRESH_TIMEOUT, why: Why::NotFinite });
        assert_eq!(MAX_ATTEMPTS.check(Some(2.5), 3).unwrap_err(), OptionError::OutOfRange { range: MAX_ATTEMPTS, why: Why::Fraction });
        assert_eq!(LEEWAY.check(Some(-1.0), 0).unwrap_err(), OptionError::OutOfRange { range: LEEWAY, why: Why::Outside });
        assert_eq!(LEEWAY.check(Some(f64::NAN), 0).unwrap_err(), OptionError::OutOfRange { range: LEEWAY, why: Why::NotFinite });
        assert!(!MAX_ATTEMPTS.in_ms() && COOLDOWN.in_ms() && LEEWAY.in_ms());
    }

    #[test]
    fn the_first_bad_option_is_the_one_reported_and_each_value_lands_in_its_field() {
        let all_bad = RetryInput { max_attempts: Some(0.0), base_delay: Some(0.5), max_delay: Some(-1.0), cooldown: Some(f64::NAN), give_up_after: Some(1e300) };
        assert_eq!(breaker_config(&all_bad).unwrap_err(), OptionError::OutOfRange { range: MAX_ATTEMPTS, why: Why::Outside });
        let later_bad = RetryInput { max_attempts: Some(5.0), base_delay: Some(10.0), ..all_bad };
        assert_eq!(breaker_config(&later_bad).unwrap_err(), OptionError::OutOfRange { range: MAX_DELAY, why: Why::Outside });
        assert_eq!(breaker_config(&RetryInput { give_up_after: Some(1e300), ..retry() }).unwrap_err(), OptionError::OutOfRange { range: GIVE_UP_AFTER, why: Why::Outside });
        assert_eq!(breaker_config(&RetryInput { cooldown: Some(1_500.5), ..retry() }).unwrap_err(), OptionError::OutOfRange { range: COOLDOWN, why: Why::Fraction });
        let given = RetryInput { max_attempts: Some(7.0), base_delay: Some(100.0), max_delay: Some(2_000.0), cooldown: Some(5_000.0), give_up_after: Some(60_000.0) };
        assert_eq!(
            breaker_config(&given).unwrap(),
            BreakerConfig { max_attempts: 7, base_delay_ms: 100, max_delay_ms: 2_000, cooldown_ms: 5_000, give_up_after_ms: 60_000 }
        );
        assert_eq!(MAX_DELAY.check(Some(-0.0), 1), Ok(0));
        assert_eq!(MAX_DELAY.check(Some(f64::NEG_INFINITY), 1).unwrap_err(), OptionError::OutOfRange { range: MAX_DELAY, why: Why::NotFinite });
    }

    #[test]
    fn a_max_delay_below_the_base_delay_is_refused() {
        let e = breaker_config(&RetryInput { base_delay: Some(5_000.0), max_delay: Some(1_000.0), ..retry() }).unwrap_err();
        assert_eq!(e, OptionError::MaxDelayBelowBaseDelay);
    }
}
