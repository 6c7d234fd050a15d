//! What a refresh response means. Three answers only: new tokens, "the session is over"
//! (definitive: log out), or "try again later" (transient: the breaker decides when).
//!
//! The line between the last two is the whole point: a blip must not log everyone out, and a
//! server bug must not be retried forever (the breaker bounds transient failures).

use crate::core::expiry::{offset_from_date_header, parse_http_date, ClockOffset};
use crate::core::time::Millis;
use crate::core::json::Json;
use std::fmt;

/// Why a session ended; `as_str` is the `reason` in the `auth:logout` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogoutReason {
    UserNotFound,
    UserInactive,
    InvalidToken,
    RefreshTokenRequired,
    SessionExpired,
    RefreshUnavailable,
    Manual,
    Remote,
}

impl LogoutReason {
    pub const ALL: [LogoutReason; 8] = [
        LogoutReason::UserNotFound,
        LogoutReason::UserInactive,
        LogoutReason::InvalidToken,
        LogoutReason::RefreshTokenRequired,
        LogoutReason::SessionExpired,
        LogoutReason::RefreshUnavailable,
        LogoutReason::Manual,
        LogoutReason::Remote,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            LogoutReason::UserNotFound => "user_not_found",
            LogoutReason::UserInactive => "user_inactive",
            LogoutReason::InvalidToken => "invalid_token",
            LogoutReason::RefreshTokenRequired => "refresh_token_required",
            LogoutReason::SessionExpired => "session_expired",
            LogoutReason::RefreshUnavailable => "refresh_unavailable",
            LogoutReason::Manual => "manual",
            LogoutReason::Remote => "remote",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Shown when the server gave no `detail`/`message` of its own.
    pub fn default_message(&self) -> &'static str {
        match self {
            LogoutReason::UserNotFound => "Your account could not be found. Please sign in again.",
            LogoutReason::UserInactive => "Your account is inactive. Please contact support.",
            LogoutReason::InvalidToken => "Your session is no longer valid. Please sign in again.",
            LogoutReason::RefreshTokenRequired => "Your session could not be renewed. Please sign in again.",
            LogoutReason::SessionExpired => "Your session has expired. Please sign in again.",
            LogoutReason::RefreshUnavailable => {
                "The sign-in service is unavailable, so your session could not be renewed. Please sign in again."
            }
            LogoutReason::Manual => "You have signed out.",
            LogoutReason::Remote => "You were signed out in another tab.",
        }
    }
}

impl fmt::Display for LogoutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tokens from a successful refresh. `Debug` redacts them: they end up in logs otherwise.
#[derive(Clone, PartialEq)]
pub struct FreshTokens {
    pub access: String,
    /// A rotated refresh token; `None` means "keep the one you have".
    pub refresh: Option<String>,
    pub expires_in: Option<u64>,
}

impl fmt::Debug for FreshTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshTokens")
            .field("access", &"<redacted>")
            .field("refresh", &self.refresh.as_ref().map(|_| "<redacted>"))
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The parts of the HTTP response that matter, as the web layer read them.
pub struct RefreshResponse<'a> {
    pub status: u16,
    /// Empty when the body was unreadable or too large.
    pub body: &'a str,
    pub retry_after: Option<&'a str>,
    pub date: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RefreshOutcome {
    Success { tokens: FreshTokens, server_offset: Option<ClockOffset> },
    Definitive { reason: LogoutReason, message: String },
    Transient { retry_after_ms: Option<u64>, detail: String },
}

/// Bodies beyond this are not parsed (no refresh response is legitimately this large).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A server asking us to wait longer than this is capped: the give-up window handles the rest.
pub const MAX_RETRY_AFTER_MS: u64 = 60 * 60 * 1_000;
/// Server-provided messages are shown to users; keep them short.
pub const MAX_MESSAGE_CHARS: usize = 200;

/// `detail` for a 2xx that carries no usable access token.
pub const INVALID_RESPONSE: &str = "invalid_response";

pub fn classify_refresh(resp: &RefreshResponse, now: Millis) -> RefreshOutcome {
    let json = json_object(resp.body);
    match resp.status {
        200..=299 => match json.as_ref().and_then(fresh_tokens) {
            Some(tokens) => RefreshOutcome::Success {
                tokens,
                server_offset: resp.date.and_then(|d| offset_from_date_header(d, now)),
            },
            // A "success" without tokens is a server bug, not a verdict on the session:
            // retrying is bounded by the breaker, logging out would punish the user for it.
            None => RefreshOutcome::Transient { retry_after_ms: retry_after(resp, now), detail: INVALID_RESPONSE.into() },
        },
        400 | 401 | 403 => {
            let reason = json.as_ref().map_or(LogoutReason::InvalidToken, rejection_reason);
            let message = json
                .as_ref()
                .and_then(server_message)
                .unwrap_or_else(|| reason.default_message().to_owned());
            RefreshOutcome::Definitive { reason, message }
        }
        // 408, 429, 5xx, and anything unexpected (404/405 from a wrong refresh URL, a proxy's
        // 3xx): none says anything about the session, so none ends it.
        status => RefreshOutcome::Transient { retry_after_ms: retry_after(resp, now), detail: unexpected_status(status) },
    }
}

/// `http_<status>` for the transient detail, without the formatting machinery.
fn unexpected_status(status: u16) -> String {
    let mut detail = String::from("http_");
    let mut started = false;
    for unit in [10_000, 1_000, 100, 10, 1] {
        let digit = (status / unit % 10) as u8;
        started |= digit != 0 || unit == 1;
        if started {
            detail.push(char::from(b'0' + digit));
        }
    }
    detail
}

/// The body as a JSON object (`Json::Obj`), or `None`.
fn json_object(body: &str) -> Option<Json> {
    if body.len() > MAX_BODY_BYTES {
        return None;
    }
    Json::parse(body).filter(|v| matches!(v, Json::Obj(_)))
}

fn non_empty_string<'a>(map: &'a Json, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| map.get(k).and_then(Json::as_str).filter(|s| !s.is_empty()))
}

/// SimpleJWT (`access`, `refresh`) or OAuth (`access_token`, `refresh_token`, `expires_in`).
fn fresh_tokens(map: &Json) -> Option<FreshTokens> {
    let access = non_empty_string(map, &["access", "access_token"])?.to_owned();
    let refresh = non_empty_string(map, &["refresh", "refresh_token"]).map(str::to_owned);
    let expires_in = map.get("expires_in").and_then(seconds);
    Some(FreshTokens { access, refresh, expires_in })
}

/// A non-negative number of seconds; some servers send it as a numeric string.
fn seconds(value: &Json) -> Option<u64> {
    match value {
        Json::Num(n) => (*n >= 0.0).then_some(*n as u64),
        Json::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The reason in a 400/401/403 body. Everything unrecognised is `InvalidToken`: the refresh
/// endpoint refused this token, and asking again with the same token cannot help.
fn rejection_reason(map: &Json) -> LogoutReason {
    let named = ["error", "code"]
        .iter()
        .filter_map(|k| map.get(k).and_then(Json::as_str))
        .find_map(|s| match s {
            "user_not_found" => Some(LogoutReason::UserNotFound),
            "user_inactive" => Some(LogoutReason::UserInactive),
            "invalid_token" | "token_not_valid" => Some(LogoutReason::InvalidToken),
            "refresh_token_required" => Some(LogoutReason::RefreshTokenRequired),
            _ => None,
        });
    if let Some(reason) = named {
        return reason;
    }
    // DRF field validation: `{"refresh": ["This field is required."]}` (or "may not be blank").
    if ["refresh", "refresh_token"].iter().any(|k| matches!(map.get(k), Some(Json::Arr(_)))) {
        return LogoutReason::RefreshTokenRequired;
    }
    LogoutReason::InvalidToken
}

/// `detail` (DRF), `message`, or OAuth's `error_description`, cut to a displayable length.
fn server_message(map: &Json) -> Option<String> {
    let text = non_empty_string(map, &["detail", "message", "error_description"])?;
    Some(text.chars().take(MAX_MESSAGE_CHARS).collect())
}

fn retry_after(resp: &RefreshResponse, now: Millis) -> Option<u64> {
    // An HTTP-date in Retry-After is on the server clock; measure it against the server's own
    // `Date` when we have it, so a skewed client clock does not distort the wait.
    let server_now = resp.date.and_then(parse_http_date).unwrap_or(now);
    resp.retry_after.and_then(|v| parse_retry_after(v, server_now))
}

/// `Retry-After` as a delay in ms: delta-seconds or an HTTP-date, capped at one hour.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<u64> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to parse is simply "a very long time".
        value.parse::<u64>().unwrap_or(u64::MAX).saturating_mul(1_000)
    } else {
        parse_http_date(value)?.since(now)
    };
    Some(delay.min(MAX_RETRY_AFTER_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = Millis(1_700_000_000_000);

    fn classify(status: u16, body: &str) -> RefreshOutcome {
        classify_refresh(&RefreshResponse { status, body, retry_after: None, date: None }, NOW)
    }

    fn reason_of(outcome: RefreshOutcome) -> LogoutReason {
        match outcome {
            RefreshOutcome::Definitive { reason, .. } => reason,
            other => panic!("expected Definitive, got {other:?}"),
        }
    }

    fn is_transient(outcome: &RefreshOutcome) -> bool {
        matches!(outcome, RefreshOutcome::Transient { .. })
    }

    #[test]
    fn simplejwt_success_without_rotation_keeps_refresh_none() {
        let RefreshOutcome::Success { tokens, server_offset } = classify(200, r#"{"access":"a.b.c"}"#) else {
            panic!()
        };
        assert_eq!(tokens, FreshTokens { access: "a.b.c".into(), refresh: None, expires_in: None });
        assert_eq!(server_offset, None);
    }

    #[test]
    fn simplejwt_success_with_rotation_returns_the_new_refresh() {
        let RefreshOutcome::Success { tokens, .. } = classify(200, r#"{"access":"A","refresh":"R2"}"#) else { panic!() };
        assert_eq!(tokens.refresh.as_deref(), Some("R2"));
    }

    #[test]
    fn oauth_success_reads_access_token_refresh_token_and_expires_in() {
        let body = r#"{"access_token":"A","refresh_token":"R","expires_in":3600,"token_type":"Bearer"}"#;
        let RefreshOutcome::Success { tokens, .. } = classify(200, body) else { panic!() };
        assert_eq!(tokens, FreshTokens { access: "A".into(), refresh: Some("R".into()), expires_in: Some(3600) });
        let RefreshOutcome::Success { tokens, .. } = classify(201, r#"{"access_token":"A","expires_in":"60"}"#) else {
            panic!()
        };
        assert_eq!(tokens.expires_in, Some(60));
        let RefreshOutcome::Success { tokens, .. } = classify(200, r#"{"access_token":"A","expires_in":-5}"#) else {
            panic!()
        };
        assert_eq!(tokens.expires_in, None);
    }

    #[test]
    fn success_estimates_the_clock_offset_from_the_date_header() {
        let date = "Tue, 14 Nov 2023 22:23:20 GMT"; // 1_700_000_600 s: server 10 min ahead
        let resp = RefreshResponse { status: 200, body: r#"{"access":"A"}"#, retry_after: None, date: Some(date) };
        let RefreshOutcome::Success { server_offset, .. } = classify_refresh(&resp, NOW) else { panic!() };
        assert_eq!(server_offset, Some(ClockOffset(600_000)));
    }

    #[test]
    fn a_2xx_without_an_access_token_is_a_transient_invalid_response() {
        for body in [r#"{}"#, r#"{"access":""}"#, r#"{"access":42}"#, r#"{"refresh":"R"}"#, "not json", "", "[]", "null"] {
            let outcome = classify(200, body);
            assert_eq!(
                outcome,
                RefreshOutcome::Transient { retry_after_ms: None, detail: INVALID_RESPONSE.into() },
                "{body:?}"
            );
        }
        assert!(is_transient(&classify(204, "")));
    }

    #[test]
    fn an_oversized_2xx_body_is_not_parsed() {
        let body = format!(r#"{{"access":"A","pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert!(is_transient(&classify(200, &body)));
    }

    #[test]
    fn named_errors_map_to_their_logout_reasons() {
        for (body, reason) in [
            (r#"{"error":"user_not_found"}"#, LogoutReason::UserNotFound),
            (r#"{"error":"user_inactive"}"#, LogoutReason::UserInactive),
            (r#"{"error":"invalid_token"}"#, LogoutReason::InvalidToken),
            (r#"{"error":"refresh_token_required"}"#, LogoutReason::RefreshTokenRequired),
            (r#"{"action":"clear_tokens","error":"user_not_found"}"#, LogoutReason::UserNotFound),
            (r#"{"detail":"User not found","code":"user_not_found"}"#, LogoutReason::UserNotFound),
            (r#"{"detail":"User is inactive","code":"user_inactive"}"#, LogoutReason::UserInactive),
        ] {
            for status in [400, 401, 403] {
                assert_eq!(reason_of(classify(status, body)), reason, "{status} {body}");
            }
        }
    }

    #[test]
    fn clear_tokens_without_a_known_error_is_invalid_token() {
        assert_eq!(reason_of(classify(403, r#"{"action":"clear_tokens"}"#)), LogoutReason::InvalidToken);
        assert_eq!(reason_of(classify(400, r#"{"action":"clear_tokens","error":"weird"}"#)), LogoutReason::InvalidToken);
    }

    #[test]
    fn simplejwt_token_not_valid_is_invalid_token_with_its_detail() {
        let body = r#"{"detail":"Token is invalid or expired","code":"token_not_valid"}"#;
        assert_eq!(
            classify(401, body),
            RefreshOutcome::Definitive {
                reason: LogoutReason::InvalidToken,
                message: "Token is invalid or expired".into()
            }
        );
    }

    #[test]
    fn simplejwt_missing_refresh_field_is_refresh_token_required() {
        assert_eq!(reason_of(classify(400, r#"{"refresh":["This field is required."]}"#)), LogoutReason::RefreshTokenRequired);
        assert_eq!(reason_of(classify(400, r#"{"refresh_token":["This field may not be blank."]}"#)), LogoutReason::RefreshTokenRequired);
    }

    #[test]
    fn any_other_401_is_invalid_token_even_without_json() {
        for body in ["", "<html>Unauthorized</html>", "{}", r#"{"error":"something_else"}"#, "[1]"] {
            assert_eq!(
                classify(401, body),
                RefreshOutcome::Definitive {
                    reason: LogoutReason::InvalidToken,
                    message: LogoutReason::InvalidToken.default_message().into()
                },
                "{body:?}"
            );
        }
    }

    #[test]
    fn unrecognised_400_and_403_are_invalid_token() {
        assert_eq!(reason_of(classify(400, r#"{"error":"invalid_grant"}"#)), LogoutReason::InvalidToken);
        assert_eq!(reason_of(classify(403, "Forbidden")), LogoutReason::InvalidToken);
    }

    #[test]
    fn server_messages_prefer_detail_then_message_and_are_truncated() {
        let RefreshOutcome::Definitive { message, .. } = classify(401, r#"{"message":"Session revoked"}"#) else { panic!() };
        assert_eq!(message, "Session revoked");
        let long = format!(r#"{{"detail":"{}","message":"no"}}"#, "é".repeat(500));
        let RefreshOutcome::Definitive { message, .. } = classify(401, &long) else { panic!() };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.chars().all(|c| c == 'é'));
        let RefreshOutcome::Definitive { message, .. } = classify(401, r#"{"detail":""}"#) else { panic!() };
        assert_eq!(message, LogoutReason::InvalidToken.default_message());
    }

    #[test]
    fn timeouts_rate_limits_server_errors_and_wrong_urls_are_transient() {
        for status in [0, 302, 404, 405, 408, 409, 429, 500, 502, 503, 504, 599] {
            let outcome = classify(status, r#"{"error":"user_not_found"}"#);
            assert_eq!(
                outcome,
                RefreshOutcome::Transient { retry_after_ms: None, detail: format!("http_{status}") },
                "{status}"
            );
        }
    }

    #[test]
    fn transient_responses_honour_retry_after() {
        let resp = RefreshResponse { status: 503, body: "", retry_after: Some("120"), date: None };
        let RefreshOutcome::Transient { retry_after_ms, .. } = classify_refresh(&resp, NOW) else { panic!() };
        assert_eq!(retry_after_ms, Some(120_000));
    }

    #[test]
    fn a_retry_after_date_is_measured_against_the_servers_date_header() {
        // The client clock is an hour off; the server says "retry 30 s after my now".
        let resp = RefreshResponse {
            status: 429,
            body: "",
            retry_after: Some("Tue, 14 Nov 2023 22:14:20 GMT"), // 1_700_000_060
            date: Some("Tue, 14 Nov 2023 22:13:50 GMT"),        // 1_700_000_030
        };
        let RefreshOutcome::Transient { retry_after_ms, .. } = classify_refresh(&resp, Millis(NOW.0 - 3_600_000)) else {
            panic!()
        };
        assert_eq!(retry_after_ms, Some(30_000));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates_and_is_capped() {
        assert_eq!(parse_retry_after("0", NOW), Some(0));
        assert_eq!(parse_retry_after(" 5 ", NOW), Some(5_000));
        assert_eq!(parse_retry_after("99999999999999999999999", NOW), Some(MAX_RETRY_AFTER_MS));
        assert_eq!(parse_retry_after("7200", NOW), Some(MAX_RETRY_AFTER_MS));
        // 1_700_000_060 s is 60 s after NOW.
        assert_eq!(parse_retry_after("Tue, 14 Nov 2023 22:14:20 GMT", NOW), Some(60_000));
        // A date in the past means "now".
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW), Some(0));
        for bad in ["", "-1", "1.5", "soon", "5s"] {
            assert_eq!(parse_retry_after(bad, NOW), None, "{bad:?}");
        }
    }

    #[test]
    fn reasons_round_trip_through_their_snake_case_names() {
        for reason in LogoutReason::ALL {
            assert_eq!(LogoutReason::parse(reason.as_str()), Some(reason));
            assert!(!reason.default_message().is_empty());
        }
        assert_eq!(LogoutReason::UserNotFound.as_str(), "user_not_found");
        assert_eq!(LogoutReason::parse("User_Not_Found"), None);
    }

    #[test]
    fn debug_output_redacts_tokens() {
        let outcome = classify(200, r#"{"access":"SECRET-ACCESS","refresh":"SECRET-REFRESH","expires_in":60}"#);
        let debug = format!("{outcome:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("expires_in: Some(60)"));
    }
}
