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

/// The options with a numeric range, in the order `js/index.js` sends them to `NEW` and names
/// them in its `RANGED` table (an out-of-range error carries this number, not the name). The
/// retry options come first: they are checked, and compared, before the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranged {
    MaxAttempts,
    BaseDelay,
    MaxDelay,
    Cooldown,
    GiveUpAfter,
    Leeway,
    ExpiringWarning,
    RefreshTimeout,
}

impl Ranged {
    pub const ALL: [Ranged; 8] = [
        Ranged::MaxAttempts,
        Ranged::BaseDelay,
        Ranged::MaxDelay,
        Ranged::Cooldown,
        Ranged::GiveUpAfter,
        Ranged::Leeway,
        Ranged::ExpiringWarning,
        Ranged::RefreshTimeout,
    ];

    /// Counted in milliseconds (all but the attempts): the error's wording says so.
    pub fn in_ms(self) -> bool {
        self != Ranged::MaxAttempts
    }

    pub fn range(self) -> Range {
        RANGES[self as usize]
    }
}

/// A whole number of milliseconds (or attempts) between `min` and `max`, inclusive, and what
/// an option left out takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub min: u64,
    pub max: u64,
    pub default: u64,
}

const fn range(min: u64, max: u64, default: u64) -> Range {
    Range { min, max, default }
}

const BREAKER: BreakerConfig = BreakerConfig::DEFAULT;

/// Every ranged option's range and default, in `Ranged`'s order. A refresh that may not take
/// even 100 ms would always time out. The leeway's default is not this table's `0`: left out
/// (or `null`), it is picked for the token's lifetime.
pub const RANGES: [Range; 8] = [
    range(1, 100, BREAKER.max_attempts as u64),
    range(0, HOUR, BREAKER.base_delay_ms),
    range(0, DAY, BREAKER.max_delay_ms),
    range(MIN_COOLDOWN_MS, DAY, BREAKER.cooldown_ms),
    range(0, 7 * DAY, BREAKER.give_up_after_ms),
    range(0, HOUR, 0),
    range(0, DAY, DEFAULT_EXPIRING_WARNING_MS),
    range(100, 10 * 60_000, DEFAULT_REFRESH_TIMEOUT_MS),
];

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
    OutOfRange { option: Ranged, why: Why },
    /// `retry.maxDelay` below `retry.baseDelay`.
    MaxDelayBelowBaseDelay,
}

impl Range {
    /// `v` as the app passed it, if it is a whole number in range.
    pub fn check(&self, v: f64) -> Result<u64, Why> {
        Err(if !v.is_finite() {
            Why::NotFinite
        } else if v.fract() != 0.0 {
            Why::Fraction
        } else if v < self.min as f64 || v > self.max as f64 {
            Why::Outside
        } else {
            return Ok(v as u64);
        })
    }
}

/// The ranged options, checked, the defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Numbers {
    pub breaker: BreakerConfig,
    /// `None`: left out, picked for each token's lifetime.
    pub leeway_ms: Option<u64>,
    pub expiring_warning_ms: u64,
    pub refresh_timeout_ms: u64,
}

/// `next`: each ranged option as the app passed it (`None`: left out), in `Ranged`'s order.
/// The first one that is wrong is the error (the rest are not read); the retry delays are
/// compared once all five retry options are read.
pub fn check(mut next: impl FnMut() -> Option<f64>) -> Result<Numbers, OptionError> {
    let mut v = [0u64; 8];
    let mut leeway_given = false;
    let mut i = 0;
    while let Some(range) = RANGES.get(i) {
        let given = next();
        if i == Ranged::Leeway as usize {
            leeway_given = given.is_some();
        }
        v[i] = match given {
            None => range.default,
            // NaN fails the first test, the infinities the range.
            Some(x) if x.trunc() == x && x >= range.min as f64 && x <= range.max as f64 => x as u64,
            // What [`Range::check`] answers, inlined: its `Result` went through memory.
            Some(x) => {
                let why = if x - x != 0.0 {
                    Why::NotFinite
                } else if x.trunc() != x {
                    Why::Fraction
                } else {
                    Why::Outside
                };
                return Err(OptionError::OutOfRange { option: Ranged::ALL[i], why });
            }
        };
        if i == Ranged::GiveUpAfter as usize && v[Ranged::MaxDelay as usize] < v[Ranged::BaseDelay as usize] {
            return Err(OptionError::MaxDelayBelowBaseDelay);
        }
        i += 1;
    }
    let [max_attempts, base_delay_ms, max_delay_ms, cooldown_ms, give_up_after_ms, leeway, expiring_warning_ms, refresh_timeout_ms] = v;
    Ok(Numbers {
        breaker: BreakerConfig { max_attempts: max_attempts as u32, base_delay_ms, max_delay_ms, cooldown_ms, give_up_after_ms },
        leeway_ms: leeway_given.then_some(leeway),
        expiring_warning_ms,
        refresh_timeout_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(given: [Option<f64>; 8]) -> Result<Numbers, OptionError> {
        let mut given = given.into_iter();
        super::check(|| given.next().flatten())
    }

    const NONE: [Option<f64>; 8] = [None; 8];

    fn given(option: Ranged, value: f64) -> [Option<f64>; 8] {
        let mut given = NONE;
        given[option as usize] = Some(value);
        given
    }

    fn error(option: Ranged, why: Why) -> OptionError {
        OptionError::OutOfRange { option, why }
    }

    #[test]
    fn left_out_options_take_the_defaults() {
        let numbers = check(NONE).unwrap();
        assert_eq!(numbers.breaker, BreakerConfig::default());
        assert_eq!(numbers.breaker, BreakerConfig { max_attempts: 3, base_delay_ms: 500, max_delay_ms: 30_000, cooldown_ms: 30_000, give_up_after_ms: 300_000 });
        assert_eq!(numbers.leeway_ms, None);
        assert_eq!(numbers.expiring_warning_ms, DEFAULT_EXPIRING_WARNING_MS);
        assert_eq!(numbers.refresh_timeout_ms, 10_000);
    }

    #[test]
    fn the_ranges_are_the_documented_ones() {
        const HOUR: u64 = 3_600_000;
        const DAY: u64 = 24 * HOUR;
        let expected = [(1, 100), (0, HOUR), (0, DAY), (1_000, DAY), (0, 7 * DAY), (0, HOUR), (0, DAY), (100, 600_000)];
        for (option, (min, max)) in Ranged::ALL.into_iter().zip(expected) {
            assert_eq!((option.range().min, option.range().max), (min, max), "{option:?}");
        }
        for (i, option) in Ranged::ALL.into_iter().enumerate() {
            assert_eq!(option as usize, i);
        }
    }

    #[test]
    fn values_in_range_are_kept_exactly_including_the_bounds() {
        assert_eq!(check(given(Ranged::MaxAttempts, 1.0)).unwrap().breaker.max_attempts, 1);
        assert_eq!(check(given(Ranged::MaxAttempts, 100.0)).unwrap().breaker.max_attempts, 100);
        assert_eq!(check(given(Ranged::Cooldown, 1_000.0)).unwrap().breaker.cooldown_ms, 1_000);
        assert_eq!(check(given(Ranged::Leeway, 0.0)).unwrap().leeway_ms, Some(0));
        assert_eq!(check(given(Ranged::Leeway, 3_600_000.0)).unwrap().leeway_ms, Some(3_600_000));
        assert_eq!(check(given(Ranged::ExpiringWarning, 0.0)).unwrap().expiring_warning_ms, 0);
        assert_eq!(check(given(Ranged::RefreshTimeout, 100.0)).unwrap().refresh_timeout_ms, 100);
        assert_eq!(check(given(Ranged::RefreshTimeout, 600_000.0)).unwrap().refresh_timeout_ms, 600_000);
        let mut zero = given(Ranged::MaxDelay, -0.0);
        zero[Ranged::BaseDelay as usize] = Some(0.0);
        assert_eq!(check(zero).unwrap().breaker.max_delay_ms, 0);
    }

    #[test]
    fn out_of_range_values_are_errors_naming_the_option_and_range_never_clamped() {
        assert_eq!(check(given(Ranged::MaxAttempts, 1000.0)), Err(error(Ranged::MaxAttempts, Why::Outside)));
        assert_eq!(check(given(Ranged::Cooldown, 0.0)), Err(error(Ranged::Cooldown, Why::Outside)));
        assert_eq!(Ranged::Cooldown.range(), Range { min: 1_000, max: 86_400_000, default: 30_000 });
        assert_eq!(check(given(Ranged::RefreshTimeout, f64::INFINITY)), Err(error(Ranged::RefreshTimeout, Why::NotFinite)));
        assert_eq!(check(given(Ranged::RefreshTimeout, 99.0)), Err(error(Ranged::RefreshTimeout, Why::Outside)));
        assert_eq!(check(given(Ranged::MaxAttempts, 2.5)), Err(error(Ranged::MaxAttempts, Why::Fraction)));
        assert_eq!(check(given(Ranged::Leeway, -1.0)), Err(error(Ranged::Leeway, Why::Outside)));
        assert_eq!(check(given(Ranged::Leeway, f64::NAN)), Err(error(Ranged::Leeway, Why::NotFinite)));
        assert_eq!(check(given(Ranged::ExpiringWarning, 86_400_001.0)), Err(error(Ranged::ExpiringWarning, Why::Outside)));
        assert_eq!(check(given(Ranged::MaxDelay, f64::NEG_INFINITY)), Err(error(Ranged::MaxDelay, Why::NotFinite)));
        assert!(!Ranged::MaxAttempts.in_ms() && Ranged::Cooldown.in_ms() && Ranged::Leeway.in_ms());
    }

    #[test]
    fn each_value_is_judged_as_range_check_judges_it() {
        let values = [0.0, -0.0, 0.5, 1.0, 99.0, 100.0, 100.5, -1.0, 1e300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 3_600_000.0, 86_400_001.0, 600_000.0, f64::MAX, f64::MIN_POSITIVE];
        for option in Ranged::ALL {
            for x in values {
                match option.range().check(x) {
                    Err(why) => assert_eq!(check(given(option, x)), Err(error(option, why)), "{option:?} {x}"),
                    Ok(_) => assert!(!matches!(check(given(option, x)), Err(OptionError::OutOfRange { .. })), "{option:?} {x}"),
                }
            }
        }
    }

    #[test]
    fn the_first_bad_option_is_the_one_reported_and_each_value_lands_in_its_field() {
        let all_bad = [Some(0.0), Some(0.5), Some(-1.0), Some(f64::NAN), Some(1e300), Some(-5.0), Some(0.5), Some(1.0)];
        assert_eq!(check(all_bad), Err(error(Ranged::MaxAttempts, Why::Outside)));
        let mut later_bad = all_bad;
        later_bad[0] = Some(5.0);
        later_bad[1] = Some(10.0);
        assert_eq!(check(later_bad), Err(error(Ranged::MaxDelay, Why::Outside)));
        assert_eq!(check(given(Ranged::GiveUpAfter, 1e300)), Err(error(Ranged::GiveUpAfter, Why::Outside)));
        assert_eq!(check(given(Ranged::Cooldown, 1_500.5)), Err(error(Ranged::Cooldown, Why::Fraction)));
        let retry_then_leeway = [Some(5.0), None, None, None, None, Some(-1.0), Some(0.5), None];
        assert_eq!(check(retry_then_leeway), Err(error(Ranged::Leeway, Why::Outside)));
        let all_given = [Some(7.0), Some(100.0), Some(2_000.0), Some(5_000.0), Some(60_000.0), Some(250.0), Some(30_000.0), Some(5_000.0)];
        assert_eq!(
            check(all_given).unwrap(),
            Numbers {
                breaker: BreakerConfig { max_attempts: 7, base_delay_ms: 100, max_delay_ms: 2_000, cooldown_ms: 5_000, give_up_after_ms: 60_000 },
                leeway_ms: Some(250),
                expiring_warning_ms: 30_000,
                refresh_timeout_ms: 5_000,
            }
        );
    }

    #[test]
    fn a_max_delay_below_the_base_delay_is_refused_after_the_retry_options_and_before_the_others() {
        let mut below = NONE;
        below[Ranged::BaseDelay as usize] = Some(5_000.0);
        below[Ranged::MaxDelay as usize] = Some(1_000.0);
        assert_eq!(check(below), Err(OptionError::MaxDelayBelowBaseDelay));
        // The default base delay (500) is above a max delay of 100.
        assert_eq!(check(given(Ranged::MaxDelay, 100.0)), Err(OptionError::MaxDelayBelowBaseDelay));
        let mut bad_later_retry = below;
        bad_later_retry[Ranged::GiveUpAfter as usize] = Some(-1.0);
        assert_eq!(check(bad_later_retry), Err(error(Ranged::GiveUpAfter, Why::Outside)));
        let mut bad_leeway_too = below;
        bad_leeway_too[Ranged::Leeway as usize] = Some(-1.0);
        assert_eq!(check(bad_leeway_too), Err(OptionError::MaxDelayBelowBaseDelay));
        let mut equal = below;
        equal[Ranged::MaxDelay as usize] = Some(5_000.0);
        assert_eq!(check(equal).unwrap().breaker.max_delay_ms, 5_000);
    }
}
