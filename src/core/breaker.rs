//! Backoff, attempt budget, circuit breaker and give-up window for transient refresh failures.
//!
//! A refresh endpoint answering 500 must neither be hammered (the loop in post-mortem 5) nor
//! end every session on the first blip. So: a few quick retries with exponential backoff and
//! jitter, then the breaker opens and requests fail fast; after a cooldown one trial goes
//! through (half-open); after the give-up window the session is declared unsaveable.
//!
//! The cooldowns of one outage are spread by decorrelated jitter, between the configured
//! cooldown and `MAX_COOLDOWN_FACTOR` times it. Clients whose breakers open together (a whole
//! user base meeting the same outage) then do not come back in lockstep: with a fixed 30 s
//! cooldown, 100,000 clients try once per 30 s each, and the recovery herd reaches 8x the steady
//! refresh rate of 5-minute tokens; spread this way it stays under 3x (`benches/herd.rs`).
//!
//! The give-up window measures a *continuing* outage. Failures belong to one streak only while
//! each follows the moment the policy allowed it (the end of its backoff or cooldown) without
//! a quiet gap; after a longer silence (a hidden tab nobody used, a laptop asleep) nothing is
//! known about the time in between, so the next failure starts a new streak instead of ending
//! a session whose refresh token is still good on the first blip.

use crate::core::time::Millis;

#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    /// Consecutive failures before the breaker opens.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// How long the breaker stays open, at least, before allowing one trial (see
    /// `MAX_COOLDOWN_FACTOR` for the spread).
    pub cooldown_ms: u64,
    /// Failures lasting this long (since the first of an unbroken streak) end the session.
    pub give_up_after_ms: u64,
}

impl BreakerConfig {
    /// What the `retry` options left out take (`options::RANGES` holds them with their ranges).
    pub const DEFAULT: BreakerConfig =
        BreakerConfig { max_attempts: 3, base_delay_ms: 500, max_delay_ms: 30_000, cooldown_ms: 30_000, give_up_after_ms: 300_000 };
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig::DEFAULT
    }
}

/// The shortest cooldown honoured: a zero cooldown would half-open at once after every failed
/// trial and turn the breaker into the tight loop it exists to prevent.
pub const MIN_COOLDOWN_MS: u64 = 1_000;

/// Cooldowns grow, with decorrelated jitter, up to this many times the configured one: while the
/// endpoint stays down, a client tries once every 2-4 cooldowns (2 minutes at most by default)
/// rather than every cooldown.
pub const MAX_COOLDOWN_FACTOR: u64 = 4;

/// The shortest silence that breaks a failure streak, whatever the configuration. A retry goes
/// out the moment its backoff or cooldown allows whenever something wants a token (a visible
/// tab, a waiting request); its failure is reported up to a refresh timeout later (10 s by
/// default), and a background tab's timers may fire up to a minute late (Chrome's intensive
/// throttling). A streak broken by less than that would never reach the give-up window.
pub const MIN_QUIET_GAP_MS: u64 = 60_000;

/// A jitter in [0, 1]: out-of-range values clamped, NaN and infinities taken as 0.
fn unit(jitter: f64) -> f64 {
    if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 }
}

/// `a.saturating_mul(b)` for a small nonzero constant `b`, by a bound compare: the overflow
/// check of a 64-bit multiplication costs a 128-bit one in the wasm.
fn saturating_mul_small(a: u64, b: u64) -> u64 {
    if a > u64::MAX / b { u64::MAX } else { a * b }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until: Millis },
    /// The cooldown is over: one trial may go.
    HalfOpen,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(Millis),
    Open { until: Millis },
    GiveUp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Breaker {
    config: BreakerConfig,
    /// Consecutive failures since the breaker was last closed.
    failures: u32,
    /// The first failure of the current streak (`NEVER` while healthy). Sentinels rather than
    /// `Option`s: an `Option<Millis>` goes through memory in the wasm.
    streak_start: Millis,
    /// Set while open or half-open (0 while closed: a cooldown ends at least `MIN_COOLDOWN_MS`
    /// after a real instant).
    open_until: Millis,
    /// When the policy allows the next attempt after the last failure (the end of its backoff
    /// or cooldown; 0 while healthy): silence beyond this, longer than
    /// `quiet_gap_ms`, breaks the streak. (While healthy that test passes, and the new streak
    /// it starts is the one there is: nothing to reset.)
    next_allowed: Millis,
    /// The last cooldown of this streak (0 before the first), which the next one grows from.
    last_cooldown_ms: u64,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker { config, failures: 0, streak_start: Millis::NEVER, open_until: Millis(0), next_allowed: Millis(0), last_cooldown_ms: 0 }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// `jitter` is a uniform random number in [0, 1); out-of-range values are clamped.
    pub fn on_failure(&mut self, now: Millis, retry_after_ms: Option<u64>, jitter: f64) -> AfterFailure {
        if now.since(self.next_allowed) > self.quiet_gap_ms() {
            self.start_new_streak();
        }
        if self.streak_start == Millis::NEVER {
            self.streak_start = now;
        }
        if now.since(self.streak_start) >= self.config.give_up_after_ms {
            return AfterFailure::GiveUp;
        }
        // Retry-After is a floor: the server knows better than our backoff curve.
        let floor = retry_after_ms.unwrap_or(0);
        let jitter = unit(jitter);
        // The half-open trial failed (or a late failure arrived while open): reopen. Else the
        // failure counts, and opens the breaker at `max_attempts` (one call site of `open`).
        let reopen = self.open_until != Millis(0);
        if !reopen {
            self.failures = self.failures.saturating_add(1);
        }
        let after = if reopen || self.failures >= self.config.max_attempts.max(1) {
            self.open(now, floor, jitter)
        } else {
            AfterFailure::RetryAt(now.plus(self.backoff_ms(self.failures, jitter).max(floor)))
        };
        self.next_allowed = match after {
            AfterFailure::RetryAt(at) | AfterFailure::Open { until: at } => at,
            AfterFailure::GiveUp => Millis::NEVER,
        };
        after
    }

    /// How much silence past the allowed moment breaks a streak: the policy's own longest
    /// waits (a cooldown plus a maximal backoff), and never less than `MIN_QUIET_GAP_MS`.
    fn quiet_gap_ms(&self) -> u64 {
        self.config
            .cooldown_ms
            .max(MIN_COOLDOWN_MS)
            .saturating_add(self.config.max_delay_ms)
            .max(MIN_QUIET_GAP_MS)
    }

    /// After a quiet gap the old streak says nothing about the present: the give-up window
    /// restarts from this failure, and a breaker the old streak left open (its cooldown long
    /// over) closes, so the new streak gets its quick retries before the breaker opens again.
    /// A closed breaker keeps its count: `max_attempts` failures without a success in between
    /// always open it (at worst one cooldown early), a promise the property tests hold it to.
    fn start_new_streak(&mut self) {
        self.streak_start = Millis::NEVER;
        self.last_cooldown_ms = 0;
        if self.open_until != Millis(0) {
            self.open_until = Millis(0);
            self.failures = 0;
        }
    }

    /// `jitter` is in [0, 1] (through `unit`).
    fn open(&mut self, now: Millis, floor: u64, jitter: f64) -> AfterFailure {
        let cooldown = self.next_cooldown_ms(jitter);
        self.last_cooldown_ms = cooldown;
        let until = now.plus(cooldown.max(floor));
        self.open_until = until;
        self.failures = 0;
        AfterFailure::Open { until }
    }

    /// Decorrelated jitter ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
    /// uniform between the configured cooldown and three times the previous one, capped at
    /// `MAX_COOLDOWN_FACTOR` cooldowns. Never shorter than the configured cooldown, so the
    /// "one trial per cooldown" bound holds; a jitter of 0 gives exactly the cooldown.
    fn next_cooldown_ms(&self, jitter: f64) -> u64 {
        let base = self.config.cooldown_ms.max(MIN_COOLDOWN_MS);
        let previous = self.last_cooldown_ms.max(base);
        let span = saturating_mul_small(previous, 3).saturating_sub(base);
        // `as` saturates; the product is at most `span`.
        base.saturating_add((span as f64 * jitter) as u64).min(saturating_mul_small(base, MAX_COOLDOWN_FACTOR))
    }

    /// Exponential from `base_delay_ms`, capped at `max_delay_ms`, scaled by a factor in
    /// [0.5, 1) so that many clients failing together do not retry in lockstep. `jitter` is in
    /// [0, 1] (through `unit`).
    fn backoff_ms(&self, failures: u32, jitter: f64) -> u64 {
        let doublings = failures.saturating_sub(1);
        let base = self.config.base_delay_ms;
        // `base * 2^doublings`, saturating; from 63 doublings on the factor is u64::MAX itself.
        let delay = if doublings >= 63 {
            if base == 0 { 0 } else { u64::MAX }
        } else if base > u64::MAX >> doublings {
            u64::MAX
        } else {
            base << doublings
        };
        let delay = delay.min(self.config.max_delay_ms);
        // `as` saturates; the product is at most `delay`.
        (delay as f64 * (0.5 + jitter / 2.0)) as u64
    }

    pub fn on_success(&mut self) {
        self.failures = 0;
        self.streak_start = Millis::NEVER;
        self.open_until = Millis(0);
        self.next_allowed = Millis(0);
        self.last_cooldown_ms = 0;
    }

    pub fn state(&self, now: Millis) -> BreakerState {
        let until = self.open_until;
        if until == Millis(0) {
            BreakerState::Closed
        } else if now < until {
            BreakerState::Open { until }
        } else {
            BreakerState::HalfOpen
        }
    }

    pub fn allows_attempt(&self, now: Millis) -> bool {
        !matches!(self.state(now), BreakerState::Open { .. })
    }

    /// When the current failure streak began; `None` while healthy. (A streak that a quiet gap
    /// has broken is only replaced at the next failure.)
    pub fn failing_since(&self) -> Option<Millis> {
        (self.streak_start != Millis::NEVER).then_some(self.streak_start)
    }

    /// The device clock was set back by `back` ms: the instants of the current streak move back
    /// with it, so a cooldown lasts what it was meant to and the give-up window keeps measuring
    /// the outage (not the clock change).
    pub fn clock_set_back(&mut self, back: u64) {
        self.streak_start = self.streak_start.set_back(back);
        // Never to 0, which would read as closed.
        if self.open_until != Millis(0) {
            self.open_until = self.open_until.minus(back).max(Millis(1));
        }
        self.next_allowed = self.next_allowed.set_back(back);
    }

    /// While open or half-open: when the cooldown ends (0 while closed).
    pub fn open_until(&self) -> Millis {
        self.open_until
    }

    /// No attempt before this: the end of the last failure's backoff or cooldown (0 while
    /// healthy). Still set once an attempt has started, then in the past.
    pub fn next_allowed(&self) -> Millis {
        self.next_allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig::default())
    }

    #[test]
    fn backoff_doubles_from_the_base_delay_with_jitter_between_half_and_full() {
        let mut b = Breaker::new(BreakerConfig { max_attempts: 10, ..BreakerConfig::default() });
        assert_eq!(b.on_failure(Millis(0), None, 0.0), AfterFailure::RetryAt(Millis(250)));
        assert_eq!(b.on_failure(Millis(0), None, 0.0), AfterFailure::RetryAt(Millis(500)));
        assert_eq!(b.on_failure(Millis(0), None, 0.999_999), AfterFailure::RetryAt(Millis(1_999)));
        assert_eq!(b.on_failure(Millis(0), None, 0.5), AfterFailure::RetryAt(Millis(3_000)));
    }

    #[test]
    fn backoff_is_capped_at_the_max_delay() {
        let mut b = Breaker::new(BreakerConfig { max_attempts: 200, give_up_after_ms: u64::MAX, ..BreakerConfig::default() });
        let mut last = AfterFailure::GiveUp;
        for _ in 0..150 {
            last = b.on_failure(Millis(0), None, 1.0);
        }
        assert_eq!(last, AfterFailure::RetryAt(Millis(30_000)));
    }

    #[test]
    fn nonsense_jitter_does_not_shorten_or_break_the_delay() {
        let mut b = breaker();
        assert_eq!(b.on_failure(Millis(0), None, f64::NAN), AfterFailure::RetryAt(Millis(250)));
        let mut b = breaker();
        assert_eq!(b.on_failure(Millis(0), None, -3.0), AfterFailure::RetryAt(Millis(250)));
        let mut b = breaker();
        assert_eq!(b.on_failure(Millis(0), None, 7.0), AfterFailure::RetryAt(Millis(500)));
    }

    #[test]
    fn retry_after_is_a_floor_on_the_delay() {
        let mut b = breaker();
        assert_eq!(b.on_failure(Millis(1_000), Some(10_000), 0.0), AfterFailure::RetryAt(Millis(11_000)));
        let mut b = breaker();
        assert_eq!(b.on_failure(Millis(1_000), Some(1), 1.0), AfterFailure::RetryAt(Millis(1_500)));
    }

    #[test]
    fn the_breaker_opens_after_max_attempts_consecutive_failures() {
        let mut b = breaker();
        assert!(matches!(b.on_failure(Millis(0), None, 0.0), AfterFailure::RetryAt(_)));
        assert!(matches!(b.on_failure(Millis(250), None, 0.0), AfterFailure::RetryAt(_)));
        assert_eq!(b.on_failure(Millis(750), None, 0.0), AfterFailure::Open { until: Millis(30_750) });
        assert_eq!(b.state(Millis(750)), BreakerState::Open { until: Millis(30_750) });
        assert!(!b.allows_attempt(Millis(30_749)));
    }

    #[test]
    fn an_open_breaker_half_opens_after_the_cooldown_and_a_failed_trial_reopens_it() {
        let mut b = breaker();
        for t in [0, 1, 2] {
            b.on_failure(Millis(t), None, 0.0);
        }
        assert_eq!(b.state(Millis(30_002)), BreakerState::HalfOpen);
        assert!(b.allows_attempt(Millis(30_002)));
        assert_eq!(b.on_failure(Millis(30_100), None, 0.0), AfterFailure::Open { until: Millis(60_100) });
        assert_eq!(b.state(Millis(60_099)), BreakerState::Open { until: Millis(60_100) });
    }

    #[test]
    fn a_retry_after_longer_than_the_cooldown_keeps_the_breaker_open_longer() {
        let mut b = breaker();
        b.on_failure(Millis(0), None, 0.0);
        b.on_failure(Millis(0), None, 0.0);
        assert_eq!(b.on_failure(Millis(0), Some(90_000), 0.0), AfterFailure::Open { until: Millis(90_000) });
    }

    /// Fails at every moment the breaker allows, `latency_ms` after it, until it gives up.
    fn fail_continuously(b: &mut Breaker, start: Millis, latency_ms: u64) -> Millis {
        let mut now = start;
        for _ in 0..10_000 {
            match b.on_failure(now, None, 0.0) {
                AfterFailure::RetryAt(at) | AfterFailure::Open { until: at } => now = at.plus(latency_ms),
                AfterFailure::GiveUp => return now,
            }
        }
        panic!("never gave up");
    }

    #[test]
    fn failures_lasting_the_give_up_window_give_up() {
        let mut b = breaker();
        b.on_failure(Millis(1_000), None, 0.0);
        b.on_failure(Millis(1_250), None, 0.0);
        b.on_failure(Millis(1_750), None, 0.0); // open until 31_750
        for trial in 1..=9 {
            // Each failed trial reopens for the cooldown: 61_750, 91_750 … 301_750.
            let now = Millis(1_750 + trial * 30_000);
            assert_eq!(b.on_failure(now, None, 0.0), AfterFailure::Open { until: now.plus(30_000) });
        }
        assert_eq!(b.failing_since(), Some(Millis(1_000)));
        assert_eq!(b.on_failure(Millis(301_750), None, 0.0), AfterFailure::GiveUp);
    }

    #[test]
    fn a_continuing_outage_gives_up_even_when_each_answer_is_slow() {
        // A hung refresh call reports its failure a refresh timeout after it started.
        let mut b = breaker();
        let gave_up = fail_continuously(&mut b, Millis(0), 10_000);
        assert!((300_000..340_000).contains(&gave_up.0), "{gave_up:?}");
        assert_eq!(b.failing_since(), Some(Millis(0)));
    }

    #[test]
    fn the_streak_survives_silence_up_to_the_quiet_gap_and_no_longer() {
        let config = BreakerConfig { give_up_after_ms: 100_000, ..BreakerConfig::default() };
        assert_eq!(Breaker::new(config.clone()).quiet_gap_ms(), 60_000);
        // Retried a quiet gap after the moment the backoff allowed: still the same streak.
        let mut b = Breaker::new(config.clone());
        assert_eq!(b.on_failure(Millis(0), None, 0.0), AfterFailure::RetryAt(Millis(250)));
        assert_eq!(b.on_failure(Millis(60_250), None, 0.0), AfterFailure::RetryAt(Millis(60_750)));
        assert_eq!(b.failing_since(), Some(Millis(0)));
        assert_eq!(b.on_failure(Millis(100_000), None, 0.0), AfterFailure::GiveUp);
        // One millisecond more and the streak is broken: the window restarts there.
        let mut b = Breaker::new(config);
        b.on_failure(Millis(0), None, 0.0);
        b.on_failure(Millis(60_251), None, 0.0);
        assert_eq!(b.failing_since(), Some(Millis(60_251)));
        assert_ne!(b.on_failure(Millis(100_000), None, 0.0), AfterFailure::GiveUp);
    }

    #[test]
    fn the_quiet_gap_scales_with_the_policy_waits() {
        let config = BreakerConfig { cooldown_ms: 120_000, max_delay_ms: 60_000, ..BreakerConfig::default() };
        assert_eq!(Breaker::new(config).quiet_gap_ms(), 180_000);
        let config = BreakerConfig { cooldown_ms: 0, max_delay_ms: 0, ..BreakerConfig::default() };
        assert_eq!(Breaker::new(config).quiet_gap_ms(), MIN_QUIET_GAP_MS);
    }

    #[test]
    fn a_long_retry_after_is_not_a_quiet_gap() {
        // The server asked for an hour: the trial an hour later continues the streak.
        let config = BreakerConfig { max_attempts: 1, give_up_after_ms: 3_600_000, ..BreakerConfig::default() };
        let mut b = Breaker::new(config);
        assert_eq!(b.on_failure(Millis(0), Some(3_600_000), 0.0), AfterFailure::Open { until: Millis(3_600_000) });
        assert_eq!(b.on_failure(Millis(3_600_500), None, 0.0), AfterFailure::GiveUp);
    }

    #[test]
    fn a_quiet_gap_in_a_closed_breaker_keeps_the_attempt_count() {
        let mut b = breaker();
        b.on_failure(Millis(0), None, 0.0);
        b.on_failure(Millis(250), None, 0.0);
        // Hours later, a third failure without a success in between: the breaker opens (the
        // budget promise), but the give-up window starts afresh.
        let later = Millis(3_600_000);
        assert_eq!(b.on_failure(later, None, 0.0), AfterFailure::Open { until: later.plus(30_000) });
        assert_eq!(b.failing_since(), Some(later));
    }

    #[test]
    fn success_resets_attempts_streak_and_breaker() {
        let mut b = breaker();
        for t in [0, 1, 2] {
            b.on_failure(Millis(t), None, 0.0);
        }
        b.on_success();
        assert_eq!(b.state(Millis(3)), BreakerState::Closed);
        assert_eq!(b.failing_since(), None);
        assert_eq!(b.on_failure(Millis(400_000), None, 0.0), AfterFailure::RetryAt(Millis(400_250)));
    }

    #[test]
    fn a_zero_cooldown_still_waits_the_minimum_before_the_next_trial() {
        let mut b = Breaker::new(BreakerConfig { max_attempts: 1, cooldown_ms: 0, ..BreakerConfig::default() });
        assert_eq!(b.on_failure(Millis(0), None, 0.0), AfterFailure::Open { until: Millis(MIN_COOLDOWN_MS) });
        assert!(!b.allows_attempt(Millis(MIN_COOLDOWN_MS - 1)));
    }

    #[test]
    fn zero_max_attempts_behaves_as_one() {
        let mut b = Breaker::new(BreakerConfig { max_attempts: 0, ..BreakerConfig::default() });
        assert_eq!(b.on_failure(Millis(0), None, 0.0), AfterFailure::Open { until: Millis(30_000) });
    }

    #[test]
    fn a_failure_after_a_long_quiet_gap_starts_a_new_streak_instead_of_giving_up() {
        let mut b = breaker();
        for t in [0, 250, 750] {
            b.on_failure(Millis(t), None, 0.0);
        }
        assert_eq!(b.open_until(), Millis(30_750));
        // Two hours later (a hidden tab shown again) the half-open trial meets one 503.
        let later = Millis(2 * 3_600_000);
        assert!(b.allows_attempt(later));
        assert_eq!(b.on_failure(later, None, 0.0), AfterFailure::RetryAt(later.plus(250)));
        assert_eq!(b.failing_since(), Some(later));
        assert_eq!(b.state(later), BreakerState::Closed);
    }

    /// The default policy with no give-up window, to watch the cooldowns for as long as needed.
    fn patient() -> Breaker {
        Breaker::new(BreakerConfig { give_up_after_ms: u64::MAX, ..BreakerConfig::default() })
    }

    /// Opens a default breaker at 0 with this jitter; returns the cooldown.
    fn first_cooldown(b: &mut Breaker, jitter: f64) -> u64 {
        b.on_failure(Millis(0), None, 0.0);
        b.on_failure(Millis(0), None, 0.0);
        match b.on_failure(Millis(0), None, jitter) {
            AfterFailure::Open { until } => until.0,
            other => panic!("{other:?}"),
        }
    }

    /// Fails the half-open trial at `now` with this jitter; returns the new cooldown.
    fn reopen(b: &mut Breaker, now: u64, jitter: f64) -> u64 {
        match b.on_failure(Millis(now), None, jitter) {
            AfterFailure::Open { until } => until.0 - now,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cooldowns_spread_with_decorrelated_jitter_up_to_four_cooldowns() {
        let mut b = patient();
        // Between the cooldown and three times the previous one (the cooldown itself at first).
        assert_eq!(first_cooldown(&mut b, 0.5), 60_000);
        assert_eq!(reopen(&mut b, 60_000, 0.5), 105_000); // 30 s + ½ (3 × 60 s − 30 s)
        assert_eq!(reopen(&mut b, 165_000, 0.5), 120_000); // 172.5 s, capped at 4 × 30 s
        assert_eq!(reopen(&mut b, 285_000, 0.0), 30_000); // never below the cooldown
        assert_eq!(reopen(&mut b, 315_000, 0.999), 89_940); // grows again from 30 s
    }

    #[test]
    fn a_jitter_of_zero_keeps_the_configured_cooldown() {
        let mut b = patient();
        assert_eq!(first_cooldown(&mut b, 0.0), 30_000);
        for trial in 1..10 {
            assert_eq!(reopen(&mut b, trial * 30_000, 0.0), 30_000);
        }
    }

    #[test]
    fn cooldowns_stay_between_one_and_four_cooldowns_whatever_the_jitter() {
        for jitter in [f64::NAN, f64::INFINITY, -1.0, 0.0, 0.3, 0.999_999, 1.0, 7.0] {
            let mut b = patient();
            let mut now = first_cooldown(&mut b, jitter);
            assert!((30_000..=120_000).contains(&now), "{jitter}: {now}");
            for _ in 0..8 {
                let cooldown = reopen(&mut b, now, jitter);
                assert!((30_000..=120_000).contains(&cooldown), "{jitter}: {cooldown}");
                now += cooldown;
            }
        }
        // A short cooldown is raised to the minimum before it is spread.
        let mut b = Breaker::new(BreakerConfig { max_attempts: 1, cooldown_ms: 0, ..BreakerConfig::default() });
        assert_eq!(b.on_failure(Millis(0), None, 1.0), AfterFailure::Open { until: Millis(3_000) });
    }

    #[test]
    fn the_spread_restarts_with_each_streak() {
        let mut b = breaker();
        first_cooldown(&mut b, 1.0);
        reopen(&mut b, 90_000, 1.0);
        b.on_success();
        assert_eq!(first_cooldown(&mut b, 0.5), 60_000, "after a success");
        // After a quiet gap: the new streak's first cooldown grows from the configured one.
        let mut b = breaker();
        first_cooldown(&mut b, 1.0);
        assert_eq!(reopen(&mut b, 90_000, 1.0), 120_000);
        let later = 3_600_000;
        assert_eq!(b.on_failure(Millis(later), None, 0.0), AfterFailure::RetryAt(Millis(later + 250)));
        b.on_failure(Millis(later + 250), None, 0.0);
        assert_eq!(reopen(&mut b, later + 750, 0.5), 60_000);
    }

    #[test]
    fn retry_after_still_floors_a_spread_cooldown() {
        let mut b = patient();
        first_cooldown(&mut b, 0.0);
        assert_eq!(b.on_failure(Millis(30_000), Some(600_000), 1.0), AfterFailure::Open { until: Millis(630_000) });
        // The spread grows from the policy's own cooldown (90 s), not from the server's 10 min.
        assert_eq!(reopen(&mut b, 630_000, 1.0), 120_000);
    }

    #[test]
    fn a_clock_set_back_moves_the_cooldown_and_the_streak_with_it() {
        let mut b = Breaker::new(BreakerConfig { max_attempts: 1, ..BreakerConfig::default() });
        assert_eq!(b.on_failure(Millis(10_000_000), None, 0.0), AfterFailure::Open { until: Millis(10_030_000) });
        b.clock_set_back(3_600_000);
        assert_eq!(b.state(Millis(6_400_000)), BreakerState::Open { until: Millis(6_430_000) });
        assert_eq!(b.failing_since(), Some(Millis(6_400_000)));
        assert_eq!(b.state(Millis(6_430_000)), BreakerState::HalfOpen);
    }

    #[test]
    fn a_clock_set_back_does_not_panic_or_give_up() {
        let mut b = breaker();
        b.on_failure(Millis(1_000_000), None, 0.0);
        assert!(matches!(b.on_failure(Millis(0), None, 0.0), AfterFailure::RetryAt(_)));
    }

    #[test]
    fn the_bound_compared_products_match_the_saturating_ones() {
        for a in [0, 1, 2, 3, 500, u64::MAX / 4, u64::MAX / 4 + 1, u64::MAX / 3, u64::MAX / 3 + 1, u64::MAX - 1, u64::MAX] {
            assert_eq!(saturating_mul_small(a, 3), a.saturating_mul(3), "{a}");
            assert_eq!(saturating_mul_small(a, MAX_COOLDOWN_FACTOR), a.saturating_mul(MAX_COOLDOWN_FACTOR), "{a}");
        }
        // The backoff before jitter, against the factor the breaker always used.
        for base in [0, 1, 2, 3, 500, 1 << 40, u64::MAX / 2, u64::MAX] {
            for failures in [0, 1, 2, 30, 62, 63, 64, 65, 100, u32::MAX] {
                let b = Breaker::new(BreakerConfig { base_delay_ms: base, max_delay_ms: u64::MAX, ..BreakerConfig::default() });
                let doublings = failures.saturating_sub(1);
                let factor = if doublings >= 63 { u64::MAX } else { 1u64 << doublings };
                let expected = (base.saturating_mul(factor) as f64 * 1.0) as u64;
                assert_eq!(b.backoff_ms(failures, 1.0), expected, "{base} {failures}");
            }
        }
    }
}
