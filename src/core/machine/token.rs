//! When a held access token needs attention, and what a refresh token tells us about itself.

use crate::core::expiry::{default_leeway_ms, expires_at_from_exp, expires_at_from_expires_in, refresh_at, ClockOffset};
use crate::core::jwt::{self, Claims, JwtError, MAX_TOKEN_LEN};
use crate::core::time::Millis;

/// A freshly issued token whose expiry appears closer than this is contradicting the server
/// that just issued it: our clock estimate must be wrong, so the expiry is not trusted (a
/// 401 will tell us instead). This is what stops a skewed clock from refreshing in a loop.
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

/// Where a token came from decides how far its claims can be trusted against our clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Provenance {
    /// From the server a moment ago (refresh, login, another tab's refresh).
    JustIssued,
    /// From storage at start-up: it may be hours old.
    Stored,
}

pub(super) struct TimingRules {
    pub offset: ClockOffset,
    pub leeway_ms: Option<u64>,
    pub warning_ms: u64,
}

/// `None` means "no known expiry": the token is used until the server answers 401.
pub(super) fn timing(
    now: Millis,
    claims: Option<&Claims>,
    expires_in: Option<u64>,
    provenance: Provenance,
    rules: &TimingRules,
) -> Option<Timing> {
    let exp = claims.and_then(|c| c.exp);
    let believable = |at: Millis| provenance == Provenance::Stored || at > now.plus(MIN_FRESH_LIFETIME_MS);
    let expires_at = exp
        .map(|exp| expires_at_from_exp(exp, rules.offset))
        .filter(|at| believable(*at))
        .or_else(|| expires_in.map(|s| expires_at_from_expires_in(s, now)).filter(|at| believable(*at)))?;

    // The lifetime sizes the leeway. For a stored token, `exp - iat` is its real lifetime (the
    // time left may be a small remainder); for a fresh one, the time left is the lifetime.
    let issued_lifetime = match (provenance, exp, claims.and_then(|c| c.iat)) {
        (Provenance::Stored, Some(exp), Some(iat)) => {
            Some(u64::try_from(exp.saturating_sub(iat)).unwrap_or(0).saturating_mul(1_000))
        }
        _ => None,
    };
    let lifetime_ms = issued_lifetime.unwrap_or_else(|| expires_at.since(now));

    // A configured leeway longer than half the token's life would refresh a new token at once.
    let leeway_ms = rules.leeway_ms.unwrap_or_else(|| default_leeway_ms(lifetime_ms)).min(lifetime_ms / 2);
    let refresh_at = refresh_at(expires_at, leeway_ms);
    let warn_at = if lifetime_ms > rules.warning_ms { expires_at.minus(rules.warning_ms) } else { refresh_at };
    Some(Timing { expires_at, refresh_at, warn_at })
}

/// A refresh token's expiry (server clock, seconds), when it is a JWT that has one.
///
/// Refresh tokens that are not three-segment JWTs (opaque strings, 5-segment JWEs) are
/// accepted as they are: only the server can judge them. A three-segment token that does not
/// decode is corrupt.
pub(super) fn refresh_token_exp(token: &str) -> Result<Option<i64>, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLarge);
    }
    if token.trim().split('.').count() != 3 {
        return Ok(None);
    }
    jwt::decode(token).map(|claims| claims.exp)
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

    fn claims(exp: Option<i64>, iat: Option<i64>) -> Claims {
        Claims { exp, iat, nbf: None, sub: None, user_id: None, extra: Default::default() }
    }

    #[test]
    fn a_five_minute_token_refreshes_50_s_early_and_warns_60_s_early() {
        let c = claims(Some(NOW_SECS + 300), Some(NOW_SECS));
        let t = timing(NOW, Some(&c), None, Provenance::JustIssued, &rules(0, None)).unwrap();
        assert_eq!(t.expires_at, NOW.plus(300_000));
        assert_eq!(t.refresh_at, NOW.plus(250_000));
        assert_eq!(t.warn_at, NOW.plus(240_000));
    }

    #[test]
    fn a_30_second_token_warns_at_refresh_time() {
        let c = claims(Some(NOW_SECS + 30), Some(NOW_SECS));
        let t = timing(NOW, Some(&c), None, Provenance::JustIssued, &rules(0, None)).unwrap();
        assert_eq!(t.refresh_at, NOW.plus(25_000));
        assert_eq!(t.warn_at, t.refresh_at);
    }

    #[test]
    fn a_configured_leeway_longer_than_half_the_life_is_cut_to_half() {
        let c = claims(Some(NOW_SECS + 30), Some(NOW_SECS));
        let t = timing(NOW, Some(&c), None, Provenance::JustIssued, &rules(0, Some(120_000))).unwrap();
        assert_eq!(t.refresh_at, NOW.plus(15_000));
    }

    #[test]
    fn a_stored_token_uses_its_issued_lifetime_for_the_leeway() {
        // A 60-minute token with 2 minutes left: leeway is 60 s, not a sixth of 2 minutes.
        let c = claims(Some(NOW_SECS + 120), Some(NOW_SECS - 3_480));
        let t = timing(NOW, Some(&c), None, Provenance::Stored, &rules(0, None)).unwrap();
        assert_eq!(t.refresh_at, NOW.plus(60_000));
    }

    #[test]
    fn expires_in_is_used_when_there_is_no_exp() {
        let t = timing(NOW, None, Some(3_600), Provenance::JustIssued, &rules(0, None)).unwrap();
        assert_eq!(t.expires_at, NOW.plus(3_600_000));
        assert_eq!(t.refresh_at, NOW.plus(3_540_000));
    }

    #[test]
    fn no_exp_and_no_expires_in_means_no_known_expiry() {
        assert_eq!(timing(NOW, Some(&claims(None, Some(NOW_SECS))), None, Provenance::JustIssued, &rules(0, None)), None);
    }

    #[test]
    fn a_fresh_token_that_looks_expired_is_not_trusted_to_expire() {
        // The clock is off and nothing told us by how much: rely on the server's 401.
        let c = claims(Some(NOW_SECS - 600), None);
        assert_eq!(timing(NOW, Some(&c), None, Provenance::JustIssued, &rules(0, None)), None);
        // ... but an expires_in next to it is relative, so still usable.
        let t = timing(NOW, Some(&c), Some(300), Provenance::JustIssued, &rules(0, None)).unwrap();
        assert_eq!(t.expires_at, NOW.plus(300_000));
        // A stored token that looks expired is simply expired.
        let t = timing(NOW, Some(&c), None, Provenance::Stored, &rules(0, None)).unwrap();
        assert_eq!(t.expires_at, NOW.minus(600_000));
    }

    #[test]
    fn the_clock_offset_moves_the_expiry_onto_the_client_clock() {
        // Client 10 minutes ahead of the server (offset −10 min).
        let c = claims(Some(NOW_SECS + 300), Some(NOW_SECS));
        let client_now = NOW.plus(600_000);
        let t = timing(client_now, Some(&c), None, Provenance::JustIssued, &rules(-600_000, None)).unwrap();
        assert_eq!(t.expires_at, client_now.plus(300_000));
    }

    #[test]
    fn refresh_tokens_that_are_not_three_segments_are_opaque() {
        assert_eq!(refresh_token_exp("opaque-refresh-token"), Ok(None));
        assert_eq!(refresh_token_exp("a.b.c.d.e"), Ok(None));
        assert_eq!(refresh_token_exp(&token_with_payload(r#"{"exp":5}"#)), Ok(Some(5)));
        assert_eq!(refresh_token_exp("a.!!.c"), Err(JwtError::Base64));
        assert_eq!(refresh_token_exp(&"x".repeat(MAX_TOKEN_LEN + 1)), Err(JwtError::TooLarge));
    }
}
