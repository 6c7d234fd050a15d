//! When a held access token needs attention, what a refresh token tells us about itself, and
//! what a token (or a response) tells us about the device clock.

use super::output::Warning;
use crate::core::expiry::{
    default_leeway_ms, expires_at_from_exp, offset_from_iat, plausible_offset, refresh_at,
    ClockOffset, ImplausibleOffset,
};
use crate::core::jwt::{Decoder, JwtError, TimeClaims};
use crate::core::time::Millis;

/// A freshly issued token whose expiry appears closer than this is contradicting the server
/// that just issued it: our clock estimate must be wrong, so the expiry is not trusted (a
/// 401 will tell us instead). This is what stops a skewed clock from refreshing in a loop.
/// It does not apply to a login's token whose own `iat` set the clock offset: see `timing`.
pub(super) const MIN_FRESH_LIFETIME_MS: u64 = 1_000;

/// The three instants of a token's life, all on the client clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Timing {
    pub expires_at: Millis,
    /// `expires_at` minus the leeway: from here on requests wait for a refresh.
    pub refresh_at: Millis,
    /// When `auth:expiring` fires.
    pub warn_at: Millis,
}

impl Timing {
    /// No known expiry (or no access token): every instant is `NEVER`.
    pub const UNKNOWN: Timing = Timing { expires_at: Millis::NEVER, refresh_at: Millis::NEVER, warn_at: Millis::NEVER };
}

/// Where a token came from decides how far its claims can be trusted against our clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Provenance {
    /// From the app's own login call a moment ago (`set_tokens`).
    Login,
    /// From the server a moment ago (a refresh).
    JustIssued,
    /// From another tab, which had them from the server a moment ago: timed like `JustIssued`,
    /// not announced again.
    Adopted,
    /// From storage at start-up: it may be hours old.
    Stored,
}

pub(super) struct TimingRules {
    pub offset: ClockOffset,
    pub leeway_ms: Option<u64>,
    pub warning_ms: u64,
}

/// `Timing::UNKNOWN` means "no known expiry": the token is used until the server answers 401.
/// `expires_hint`: the expiry `expires_in` (or a stored or sent expiry of an opaque token) gives
/// (`NEVER`: none),
/// used when the token has no `exp` or its `exp` is not believable.
pub(super) fn timing(
    now: Millis,
    claims: Option<&TimeClaims>,
    expires_hint: Millis,
    provenance: Provenance,
    rules: &TimingRules,
) -> Timing {
    let (exp, iat) = claims.map_or((None, None), |c| (c.exp, c.iat));
    // A login's token whose own iat set the clock offset has its expiry measured on the
    // server's clock, skew included: if that is already past, the token is dead and the session
    // refreshes before sending it. Other fresh tokens keep the MIN_FRESH_LIFETIME_MS rule: a
    // token without iat (nothing measured the skew), or a refresh's answer (believing a server
    // that hands out dead tokens would refresh again at once, in a loop).
    // (The offset in force is always plausible, so a measurement equal to it is too.)
    let skew_measured_by_this_token = provenance == Provenance::Login
        && iat.is_some_and(|iat| offset_from_iat(iat, now) == rules.offset);
    let trusted = provenance == Provenance::Stored || skew_measured_by_this_token;
    let floor = now.plus(MIN_FRESH_LIFETIME_MS);
    // `NEVER` for none: an `Option<Millis>` goes through memory in the wasm.
    let believable = |at: Millis| at != Millis::NEVER && (trusted || at > floor);
    let mut expires_at = exp.map_or(Millis::NEVER, |exp| expires_at_from_exp(exp, rules.offset));
    if !believable(expires_at) {
        expires_at = expires_hint;
        if !believable(expires_at) {
            return Timing::UNKNOWN;
        }
    }

    // The lifetime sizes the leeway. For a stored token, `exp - iat` is its real lifetime (the
    // time left may be a small remainder); for a fresh one, the time left is the lifetime.
    let lifetime_ms = match (provenance, exp, iat) {
        (Provenance::Stored, Some(exp), Some(iat)) => {
            super::secs_to_ms(u64::try_from(exp.saturating_sub(iat)).unwrap_or(0))
        }
        _ => expires_at.since(now),
    };

    // A configured leeway longer than half the token's life would refresh a new token at once.
    let leeway_ms = rules.leeway_ms.unwrap_or_else(|| default_leeway_ms(lifetime_ms)).min(lifetime_ms / 2);
    let refresh_at = refresh_at(expires_at, leeway_ms);
    let warn_at = if lifetime_ms > rules.warning_ms { expires_at.minus(rules.warning_ms) } else { refresh_at };
    Timing { expires_at, refresh_at, warn_at }
}

/// What a token says about the clock offset through its `iat`, or else the response's `Date`
/// header (`date_offset`); `None` leaves the current estimate standing. A measurement beyond
/// `MAX_PLAUSIBLE_OFFSET_MS` is ignored with a warning and the next source is tried.
///
/// `stored`: the estimate in force, for a token from storage. Such a token may be old, so its
/// `iat` only proves a lower bound: if it was issued "in the future", the client clock is behind
/// by at least that much, and the offset is raised to it (an old `iat` is just old: no warning).
/// One body for both kinds of token.
pub(super) fn clock_offset(
    now: Millis,
    claims: Option<&TimeClaims>,
    date_offset: Option<ClockOffset>,
    stored: Option<ClockOffset>,
    warnings: &mut Vec<Warning>,
) -> Option<ClockOffset> {
    if let Some(iat) = claims.and_then(|c| c.iat) {
        let measured = offset_from_iat(iat, now);
        if stored.is_some_and(|current| measured.0 <= current.0) {
            return None;
        }
        if let Some(offset) = plausible_or_warn(measured, OffsetSource::Iat, warnings) {
            return Some(offset);
        }
    }
    plausible_or_warn(date_offset?, OffsetSource::DateHeader, warnings)
}

/// `clock_offset` for a token issued a moment ago.
#[cfg(test)]
fn fresh_offset(now: Millis, claims: Option<&TimeClaims>, date_offset: Option<ClockOffset>, warnings: &mut Vec<Warning>) -> Option<ClockOffset> {
    clock_offset(now, claims, date_offset, None, warnings)
}

/// `clock_offset` for a stored token, with the estimate `current` in force.
#[cfg(test)]
fn stored_offset(now: Millis, claims: Option<&TimeClaims>, current: ClockOffset, warnings: &mut Vec<Warning>) -> Option<ClockOffset> {
    clock_offset(now, claims, None, Some(current), warnings)
}

/// `offset` if it is plausible, else `None` with a warning naming where it came from.
fn plausible_or_warn(offset: ClockOffset, source: OffsetSource, warnings: &mut Vec<Warning>) -> Option<ClockOffset> {
    match plausible_offset(offset) {
        Ok(offset) => Some(offset),
        Err(absurd) => {
            warnings.push(implausible_offset_warning(source, absurd));
            None
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OffsetSource {
    Iat,
    DateHeader,
}

fn implausible_offset_warning(source: OffsetSource, ImplausibleOffset(offset_ms): ImplausibleOffset) -> Warning {
    Warning::ImplausibleClockOffset {
        from_iat: source == OffsetSource::Iat,
        hours: offset_ms.unsigned_abs() / 3_600_000,
        ahead: offset_ms > 0,
    }
}

/// A refresh token's expiry (server clock, seconds), when it is a JWT that has one.
///
/// Refresh tokens that are not three-segment JWTs (opaque strings, 5-segment JWEs) are
/// accepted as they are: only the server can judge them. A three-segment token that does not
/// decode is corrupt, and so is one beyond `MAX_TOKEN_LEN`. Read from the decoder's answer
/// alone: the token's text may be out of reach (a handle in the shipped build).
pub(super) fn refresh_token_exp<T>(token: &T, decode: Decoder<T>) -> Result<Option<i64>, JwtError> {
    match decode(token) {
        Ok(claims) => Ok(claims.exp),
        Err(JwtError::Empty | JwtError::SegmentCount(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::jwt::tests::token_with_payload;

    const NOW: Millis = Millis(1_700_000_000_000);
    const NOW_SECS: i64 = 1_700_000_000;

    fn rules(offset: i64, leeway: Option<u64>) -> TimingRules {
        TimingRules { offset: ClockOffset(offset), leeway_ms: leeway, warning_ms: 60_000 }
    }

    fn claims(exp: Option<i64>, iat: Option<i64>) -> TimeClaims {
        TimeClaims { exp, iat, nbf: None }
    }

    #[test]
    fn a_five_minute_token_refreshes_50_s_early_and_warns_60_s_early() {
        let c = claims(Some(NOW_SECS + 300), Some(NOW_SECS));
        let t = timing(NOW, Some(&c), Millis::NEVER, Provenance::JustIssued, &rules(0, None));
        assert_eq!(t.expires_at, NOW.plus(300_000));
        assert_eq!(t.refresh_at, NOW.plus(250_000));
        assert_eq!(t.warn_at, NOW.plus(240_000));
    }

    #[test]
    fn a_30_second_token_warns_at_refresh_time() {
        let c = claims(Some(NOW_SECS + 30), Some(NOW_SECS));
        let t = timing(NOW, Some(&c), Millis::NEVER, Provenance::JustIssued, &rules(0, None));
        assert_eq!(t.refresh_at, NOW.plus(25_000));
        assert_eq!(t.warn_at, t.refresh_at);
    }

    #[test]
    fn a_configured_leeway_longer_than_half_the_life_is_cut_to_half() {
        let c = claims(Some(NOW_SECS + 30), Some(NOW_SECS));
        let t = timing(NOW, Some(&c), Millis::NEVER, Provenance::JustIssued, &rules(0, Some(120_000)));
        assert_eq!(t.refresh_at, NOW.plus(15_000));
    }

    #[test]
    fn a_stored_token_uses_its_issued_lifetime_for_the_leeway() {
        // A 60-minute token with 2 minutes left: leeway is 60 s, not a sixth of 2 minutes.
        let c = claims(Some(NOW_SECS + 120), Some(NOW_SECS - 3_480));
        let t = timing(NOW, Some(&c), Millis::NEVER, Provenance::Stored, &rules(0, None));
        assert_eq!(t.refresh_at, NOW.plus(60_000));
    }

    #[test]
    fn expires_in_is_used_when_there_is_no_exp() {
        let t = timing(NOW, None, NOW.plus(3_600_000), Provenance::JustIssued, &rules(0, None));
        assert_eq!(t.expires_at, NOW.plus(3_600_000));
        assert_eq!(t.refresh_at, NOW.plus(3_540_000));
    }

    #[test]
    fn no_exp_and_no_expires_in_means_no_known_expiry() {
        assert_eq!(timing(NOW, Some(&claims(None, Some(NOW_SECS))), Millis::NEVER, Provenance::JustIssued, &rules(0, None)), Timing::UNKNOWN);
    }

    #[test]
    fn a_fresh_token_that_looks_expired_is_not_trusted_to_expire() {
        // The clock is off and nothing told us by how much: rely on the server's 401.
        let c = claims(Some(NOW_SECS - 600), None);
        assert_eq!(timing(NOW, Some(&c), Millis::NEVER, Provenance::JustIssued, &rules(0, None)), Timing::UNKNOWN);
        // ... but an expires_in next to it is relative, so still usable.
        let t = timing(NOW, Some(&c), NOW.plus(300_000), Provenance::JustIssued, &rules(0, None));
        assert_eq!(t.expires_at, NOW.plus(300_000));
        // A stored token that looks expired is simply expired.
        let t = timing(NOW, Some(&c), Millis::NEVER, Provenance::Stored, &rules(0, None));
        assert_eq!(t.expires_at, NOW.minus(600_000));
    }

    #[test]
    fn a_login_token_expired_by_its_own_iat_is_expired() {
        // The offset in force is the one this token's iat measured: its expiry is believable.
        let c = claims(Some(NOW_SECS - 60), Some(NOW_SECS));
        let t = timing(NOW, Some(&c), Millis::NEVER, Provenance::Login, &rules(0, None));
        assert_eq!(t.expires_at, NOW.minus(60_000));
        assert!(t.refresh_at <= NOW);
        // Client 10 minutes ahead, iat measured it: still expired a minute ago.
        let client_now = NOW.plus(600_000);
        let t = timing(client_now, Some(&c), Millis::NEVER, Provenance::Login, &rules(-600_000, None));
        assert_eq!(t.expires_at, client_now.minus(60_000));
    }

    #[test]
    fn without_a_measurement_by_its_own_iat_a_dead_looking_fresh_token_keeps_the_old_rule() {
        let expired = claims(Some(NOW_SECS - 60), Some(NOW_SECS));
        // A refresh's answer: believing it would refresh again at once.
        assert_eq!(timing(NOW, Some(&expired), Millis::NEVER, Provenance::JustIssued, &rules(0, None)), Timing::UNKNOWN);
        // The offset in force is not this token's (its iat was implausible, or another one).
        assert_eq!(timing(NOW, Some(&expired), Millis::NEVER, Provenance::Login, &rules(600_000, None)), Timing::UNKNOWN);
        let ms_iat = claims(Some(NOW_SECS - 60), Some(NOW_SECS * 1_000));
        assert_eq!(timing(NOW, Some(&ms_iat), Millis::NEVER, Provenance::Login, &rules(0, None)), Timing::UNKNOWN);
        // No iat at all.
        assert_eq!(timing(NOW, Some(&claims(Some(NOW_SECS - 60), None)), Millis::NEVER, Provenance::Login, &rules(0, None)), Timing::UNKNOWN);
    }

    #[test]
    fn fresh_offsets_come_from_iat_then_date_and_absurd_ones_are_ignored_with_a_warning() {
        let mut warnings = Vec::new();
        let behind = claims(Some(NOW_SECS + 600), Some(NOW_SECS + 600));
        let date = Some(ClockOffset(-60_000));
        assert_eq!(fresh_offset(NOW, Some(&behind), date, &mut warnings), Some(ClockOffset(600_000)));
        assert_eq!(fresh_offset(NOW, Some(&claims(None, None)), date, &mut warnings), date);
        assert_eq!(fresh_offset(NOW, None, None, &mut warnings), None);
        assert!(warnings.is_empty());

        // An iat in milliseconds: ignored, the Date header is used instead.
        let ms_iat = claims(Some(NOW_SECS + 300), Some(NOW_SECS * 1_000));
        assert_eq!(fresh_offset(NOW, Some(&ms_iat), date, &mut warnings), date);
        assert_eq!(warnings.len(), 1);
        let w = warnings.remove(0);
        assert_eq!(w.code(), "implausible_clock_offset");
        assert_eq!(w, Warning::ImplausibleClockOffset { from_iat: true, hours: 471_750_000, ahead: true });
        // Both absurd: two warnings, the previous estimate stands.
        let decade_behind = Some(ClockOffset(-10 * 365 * 86_400_000));
        assert_eq!(fresh_offset(NOW, Some(&ms_iat), decade_behind, &mut warnings), None);
        assert_eq!(warnings.len(), 2);
        assert_eq!(warnings[1], Warning::ImplausibleClockOffset { from_iat: false, hours: 87_600, ahead: false });
    }

    #[test]
    fn a_stored_iat_only_raises_the_offset_and_an_absurd_one_is_ignored_with_a_warning() {
        let mut warnings = Vec::new();
        let future = claims(None, Some(NOW_SECS + 600));
        assert_eq!(stored_offset(NOW, Some(&future), ClockOffset(0), &mut warnings), Some(ClockOffset(600_000)));
        assert_eq!(stored_offset(NOW, Some(&future), ClockOffset(900_000), &mut warnings), None);
        // An old token is just old, however old: no warning.
        let old = claims(None, Some(NOW_SECS - 30 * 86_400));
        assert_eq!(stored_offset(NOW, Some(&old), ClockOffset(0), &mut warnings), None);
        assert!(warnings.is_empty());
        let ms_iat = claims(None, Some(NOW_SECS * 1_000));
        assert_eq!(stored_offset(NOW, Some(&ms_iat), ClockOffset(0), &mut warnings), None);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn the_clock_offset_moves_the_expiry_onto_the_client_clock() {
        // Client 10 minutes ahead of the server (offset −10 min).
        let c = claims(Some(NOW_SECS + 300), Some(NOW_SECS));
        let client_now = NOW.plus(600_000);
        let t = timing(client_now, Some(&c), Millis::NEVER, Provenance::JustIssued, &rules(-600_000, None));
        assert_eq!(t.expires_at, client_now.plus(300_000));
    }

    /// The whole machine, driven as the web layer drives it.
    mod machine {
        use super::{NOW, NOW_SECS};
        use crate::core::expiry::ClockOffset;
        use crate::core::jwt::tests::token_with_payload;
        use crate::core::machine::{Action, Machine, MachineConfig, RequestDecision};
        use crate::core::policy::{FreshTokens, RefreshOutcome};
        use crate::core::urls::UrlClass;

        fn drain(m: &mut Machine) -> Vec<Action> {
            std::iter::from_fn(|| m.poll_action()).collect()
        }

        fn starts(actions: &[Action]) -> usize {
            actions.iter().filter(|a| matches!(a, Action::StartRefresh { .. })).count()
        }

        fn token(iat: Option<i64>, exp: i64) -> String {
            match iat {
                Some(iat) => token_with_payload(&format!(r#"{{"iat":{iat},"exp":{exp}}}"#)),
                None => token_with_payload(&format!(r#"{{"exp":{exp}}}"#)),
            }
        }

        #[test]
        fn set_tokens_with_a_token_expired_by_its_own_iat_refreshes_before_sending() {
            // Expired on arrival even on the server's clock, which its iat tells us.
            let mut m = Machine::new(MachineConfig::default());
            m.set_tokens(NOW, token(Some(NOW_SECS), NOW_SECS - 60), Some("R".into()), None).unwrap();
            // A visible tab refreshes at once; the 20 requests wait for it, none is sent.
            let mut started = starts(&drain(&mut m));
            for id in 1..=20 {
                assert_eq!(m.on_request(NOW, id, UrlClass::Protected), RequestDecision::Wait, "request {id}");
            }
            started += starts(&drain(&mut m));
            assert_eq!(started, 1, "one refresh for the 20 requests");
        }

        #[test]
        fn a_hidden_tab_given_a_dead_token_refreshes_at_the_first_request() {
            let mut m = Machine::new(MachineConfig::default());
            m.on_visibility(NOW, false);
            m.set_tokens(NOW, token(Some(NOW_SECS), NOW_SECS - 60), Some("R".into()), None).unwrap();
            assert_eq!(starts(&drain(&mut m)), 0, "hidden: no proactive refresh");
            assert_eq!(m.on_request(NOW, 1, UrlClass::Protected), RequestDecision::Wait);
            assert_eq!(starts(&drain(&mut m)), 1);
        }

        #[test]
        fn set_tokens_without_iat_keeps_the_old_rule_for_a_token_that_looks_expired() {
            // Nothing tells the skew: a fresh token that looks expired means our clock is off.
            let mut m = Machine::new(MachineConfig::default());
            let access = token(None, NOW_SECS - 60);
            m.set_tokens(NOW, access.clone(), Some("R".into()), None).unwrap();
            drain(&mut m);
            assert_eq!(m.on_request(NOW, 1, UrlClass::Protected), RequestDecision::Send { bearer: Some(access) });
        }

        #[test]
        fn a_refresh_answering_an_already_expired_token_does_not_refresh_in_a_loop() {
            let mut m = Machine::new(MachineConfig::default());
            m.set_tokens(NOW, token(Some(NOW_SECS), NOW_SECS - 60), Some("R".into()), None).unwrap();
            assert_eq!(m.on_request(NOW, 1, UrlClass::Protected), RequestDecision::Wait);
            assert_eq!(starts(&drain(&mut m)), 1);
            // The server's refresh hands out tokens dead on arrival too (a misconfigured
            // lifetime): used until a 401 says otherwise, never refreshed again at once.
            let broken = token(Some(NOW_SECS), NOW_SECS - 60);
            let tokens = FreshTokens { access: broken.clone(), refresh: None, expires_in: None };
            m.on_refresh_outcome(NOW, RefreshOutcome::Success { tokens, server_offset: None }, 0.0);
            assert_eq!(starts(&drain(&mut m)), 0);
            assert_eq!(m.poll_timeout(), None);
            assert_eq!(m.on_request(NOW, 2, UrlClass::Protected), RequestDecision::Send { bearer: Some(broken) });
        }

        /// A 5-minute access token whose iat is in milliseconds, and a day-long refresh JWT.
        fn millisecond_iat_session() -> (String, String) {
            let access = token(Some(NOW_SECS * 1_000), NOW_SECS + 300);
            let refresh = token(Some(NOW_SECS), NOW_SECS + 86_400);
            (access, refresh)
        }

        fn assert_clock_not_poisoned(m: &mut Machine, access: &str) {
            let warning = m.poll_warning().expect("a warning for the console");
            assert_eq!(warning.code(), "implausible_clock_offset");
            assert_eq!(m.poll_warning(), None);
            assert_eq!(m.snapshot(NOW).clock_offset_ms, 0, "the absurd offset is ignored");
            assert!(m.refresh_token().is_some(), "the refresh token is still valid");
            assert_eq!(m.on_request(NOW, 1, UrlClass::Protected), RequestDecision::Send { bearer: Some(access.into()) });
            // At expiry the session is refreshed as usual.
            let later = NOW.plus(300_000);
            assert_eq!(m.on_request(later, 2, UrlClass::Protected), RequestDecision::Wait);
            assert_eq!(starts(&drain(m)), 1);
        }

        #[test]
        fn an_iat_in_milliseconds_does_not_poison_the_clock_at_login() {
            let (access, refresh) = millisecond_iat_session();
            let mut m = Machine::new(MachineConfig::default());
            m.set_tokens(NOW, access.clone(), Some(refresh), None).unwrap();
            drain(&mut m);
            assert_clock_not_poisoned(&mut m, &access);
        }

        #[test]
        fn an_iat_in_milliseconds_does_not_poison_the_clock_at_start_up() {
            let (access, refresh) = millisecond_iat_session();
            let mut m = Machine::new(MachineConfig::default());
            m.load(NOW, Some(access.clone()), Some(refresh));
            drain(&mut m);
            assert_clock_not_poisoned(&mut m, &access);
        }

        #[test]
        fn an_absurd_date_header_does_not_poison_the_clock() {
            let mut m = Machine::new(MachineConfig::default());
            let refresh = token(Some(NOW_SECS), NOW_SECS + 86_400);
            let first = token(None, NOW_SECS + 300);
            m.set_tokens(NOW, first.clone(), Some(refresh), None).unwrap();
            m.on_unauthorized(NOW, 1, UrlClass::Protected, &first);
            assert_eq!(starts(&drain(&mut m)), 1);
            // A server whose Date header is ten years off, and a token without iat.
            let access = token(None, NOW_SECS + 300);
            let tokens = FreshTokens { access: access.clone(), refresh: None, expires_in: None };
            let ten_years = ClockOffset(10 * 365 * 86_400_000);
            m.on_refresh_outcome(NOW, RefreshOutcome::Success { tokens, server_offset: Some(ten_years) }, 0.0);
            drain(&mut m);
            assert_clock_not_poisoned(&mut m, &access);
        }
    }

    #[test]
    fn refresh_tokens_that_are_not_three_segments_are_opaque() {
        use crate::core::jwt::{decode_text, MAX_TOKEN_LEN};
        let exp = |token: &str| refresh_token_exp(&token.to_owned(), decode_text);
        assert_eq!(exp("opaque-refresh-token"), Ok(None));
        assert_eq!(exp("a.b.c.d.e"), Ok(None));
        assert_eq!(exp(" "), Ok(None));
        assert_eq!(exp(&token_with_payload(r#"{"exp":5}"#)), Ok(Some(5)));
        assert_eq!(exp(&format!(" {}\n", token_with_payload(r#"{"exp":5}"#))), Ok(Some(5)));
        assert_eq!(exp("a.!!.c"), Err(JwtError::Base64));
        assert_eq!(exp(&"x".repeat(MAX_TOKEN_LEN + 1)), Err(JwtError::TooLarge));
        assert_eq!(exp(&"x.".repeat(MAX_TOKEN_LEN)), Err(JwtError::TooLarge), "too large before it is counted");
    }
}
