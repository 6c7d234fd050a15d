//! What a refresh response means. Three answers only: new tokens, "the session is over"
//! (definitive: log out), or "try again later" (transient: the breaker decides when).
//!
//! The line between the last two is the whole point: a blip must not log everyone out, and a
//! server bug must not be retried forever (the breaker bounds transient failures).
//!
//! | status | body | outcome |
//! |---|---|---|
//! | 2xx | `access`/`access_token` | success |
//! | 2xx | anything else | transient (`invalid_response`): a server bug, bounded by the breaker |
//! | 401 | anything | definitive: the reason the JSON names, else `invalid_token` |
//! | 400, 403 | JSON naming a verdict | definitive (see `verdict`) |
//! | 400, 403 | JSON with OAuth `invalid_client`, `unauthorized_client`, `invalid_request`, `unsupported_grant_type`, `invalid_scope` | definitive `invalid_token`, and a [`ConfigError`] for the console |
//! | 400, 403 | JSON with OAuth `temporarily_unavailable` / `server_error`, or no verdict | transient |
//! | 400, 403 | not a JSON object (a WAF's or proxy's HTML page, empty) | transient |
//! | anything else | anything | transient (408, 429, 5xx, a wrong URL's 404, a proxy's 3xx) |

use crate::core::expiry::{offset_from_server_time, parse_http_date, read_digits, ClockOffset, Digits};
use crate::core::time::Millis;
use crate::core::json::Json;
use crate::core::jwt::Token;
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
}

impl fmt::Display for LogoutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tokens from a successful refresh. `Debug` redacts them: they end up in logs otherwise.
#[derive(Clone, PartialEq)]
pub struct FreshTokens<T = String> {
    pub access: T,
    /// A rotated refresh token; `None` means "keep the one you have".
    pub refresh: Option<T>,
    pub expires_in: Option<u64>,
}

impl<T> fmt::Debug for FreshTokens<T> {
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

/// One top-level member of a refresh response's JSON object, as far as the policy looks at it.
#[derive(Clone, Debug, PartialEq)]
pub enum Member<T = String> {
    Str(String),
    /// A non-empty string in a token's member (`access`, `access_token`, `refresh`,
    /// `refresh_token`): the token (a handle in the shipped build, which never copies a token's
    /// text into the wasm).
    Token(T),
    Num(f64),
    /// An array (DRF's field errors: `{"refresh": ["This field is required."]}`).
    List,
    /// `null`, a boolean or an object: present, but nothing the policy reads.
    Other,
}

/// The members of a refresh response the policy reads, in [`BODY_KEYS`] order.
pub const BODY_KEYS: [&str; 11] =
    ["access", "access_token", "refresh", "refresh_token", "expires_in", "error", "code", "action", "error_description", "detail", "message"];

/// A refresh response's JSON object, reduced to the members in [`BODY_KEYS`] (absent ones
/// `None`). The browser's `JSON.parse` produces it in the shipped build (`js/index.js` hands the
/// members over typed); [`Body::parse`] with the crate's own reader on the host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body<T = String>(pub [Option<Member<T>>; 11]);

// The members' places in [`BODY_KEYS`]: looked up by number, not by comparing key strings.
const ACCESS: usize = 0;
const REFRESH: usize = 2;
const REFRESH_TOKEN: usize = 3;
const EXPIRES_IN: usize = 4;
const ERROR: usize = 5;
const CODE: usize = 6;
const ACTION: usize = 7;
const ERROR_DESCRIPTION: usize = 8;
const MESSAGE: usize = 10;

impl<T> Body<T> {
    fn get(&self, key: usize) -> Option<&Member<T>> {
        self.0.get(key)?.as_ref()
    }
    fn str(&self, key: usize) -> Option<&str> {
        match self.get(key) {
            Some(Member::Str(s)) => Some(s),
            _ => None,
        }
    }
    /// The first token among the members `first..=last` (in [`BODY_KEYS`] order).
    fn token(&self, first: usize, last: usize) -> Option<&T> {
        let mut key = first;
        while key <= last {
            match self.get(key) {
                Some(Member::Token(t)) => return Some(t),
                _ => key += 1,
            }
        }
        None
    }
}

impl Body {

    /// The body as a JSON object (`None` when it is not one, or too large), with this crate's reader.
    pub fn parse(text: &str) -> Option<Body> {
        if text.len() > MAX_BODY_BYTES {
            return None;
        }
        let json = Json::parse(text).filter(|v| matches!(v, Json::Obj(_)))?;
        let mut key = 0;
        Some(Body(BODY_KEYS.map(|k| {
            key += 1;
            json.get(k).map(|v| match v {
                // An empty token member is no token: the same as a member the policy does not read.
                Json::Str(s) if key <= REFRESH_TOKEN + 1 && s.is_empty() => Member::Other,
                Json::Str(s) if key <= REFRESH_TOKEN + 1 => Member::Token(s.clone()),
                Json::Str(s) => Member::Str(s.clone()),
                Json::Num(n) => Member::Num(*n),
                Json::Arr(_) => Member::List,
                _ => Member::Other,
            })
        })))
    }
}

/// A refresh response, typed: what the policy decides on.
#[derive(Clone, Debug, PartialEq)]
pub struct RefreshAnswer<T = String> {
    pub status: u16,
    /// `None` when the body is not a JSON object (or was unreadable or too large).
    pub body: Option<Body<T>>,
    /// The `Retry-After` header as sent.
    pub retry_after: Option<String>,
    /// The same header read as an HTTP-date (`Date.parse` in the browser).
    pub retry_after_date: Option<Millis>,
    /// The `Date` header, read (`Date.parse` in the browser).
    pub date: Option<Millis>,
}

impl RefreshAnswer {
    /// The typed answer of a raw response, read with this crate's JSON reader and HTTP-date parser.
    pub fn from_raw(resp: &RefreshResponse) -> RefreshAnswer {
        RefreshAnswer {
            status: resp.status,
            body: Body::parse(resp.body),
            retry_after: resp.retry_after.map(str::to_owned),
            retry_after_date: resp.retry_after.and_then(|v| parse_http_date(v.trim_ascii())),
            date: resp.date.and_then(parse_http_date),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum RefreshOutcome<T = String> {
    Success { tokens: FreshTokens<T>, server_offset: Option<ClockOffset> },
    /// `message`: the server's own text for the user; `None` shows the reason's wording
    /// (`LOGOUT_TEXT` in js/index.js).
    Definitive { reason: LogoutReason, message: Option<String> },
    Transient { retry_after_ms: Option<u64>, detail: Detail },
}

/// Why an answer was transient: for tests and traces only (nothing decides on it), so it is
/// data, and only the host renders it (`http_<status>` and `_<note>`, [`INVALID_RESPONSE`] or
/// [`HOOK_FAILED`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// A status that says nothing about the session; `note`: [`NOT_JSON`], [`NO_VERDICT`], or
    /// the OAuth "try again later" code a 400/403 named.
    Http { status: u16, note: Option<&'static str> },
    /// A 2xx without a usable access token.
    InvalidResponse,
    /// A 2xx the app's `parseRefreshResponse` hook could not read.
    HookFailed,
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Http { status, note: None } => write!(f, "http_{status}"),
            Detail::Http { status, note: Some(note) } => write!(f, "http_{status}_{note}"),
            Detail::InvalidResponse => f.write_str(INVALID_RESPONSE),
            Detail::HookFailed => f.write_str(HOOK_FAILED),
        }
    }
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
    classify(&RefreshAnswer::from_raw(resp), now)
}

/// [`classify_refresh`] on a typed answer.
pub fn classify<T: Clone>(resp: &RefreshAnswer<T>, now: Millis) -> RefreshOutcome<T> {
    match decide(resp, now) {
        Ok(outcome) => outcome,
        Err(detail) => transient(resp, now, detail),
    }
}

/// [`classify`]'s rules: the outcome, or why the answer is transient (one place then builds the
/// transient outcome, with its Retry-After).
fn decide<T: Clone>(resp: &RefreshAnswer<T>, now: Millis) -> Result<RefreshOutcome<T>, Detail> {
    let status = resp.status;
    // Every transient status leaves this block with its note: one place builds the `Detail`.
    let note = 'transient: {
        let (reason, message) = match status {
            // A "success" without tokens is a server bug, not a verdict on the session:
            // retrying is bounded by the breaker, logging out would punish the user for it.
            200..=299 => {
                return match resp.body.as_ref().and_then(fresh_tokens) {
                    Some(tokens) => Ok(success(resp, tokens, now)),
                    None => Err(Detail::InvalidResponse),
                };
            }
            // 401 is the refresh endpoint refusing the credential: whatever the body, asking
            // again with the same token cannot help. 400 and 403 also come from WAFs, proxies
            // and CSRF middleware that never saw the token: only a verdict the server spelled
            // out ends the session.
            400 | 401 | 403 => match resp.body.as_ref() {
                None if status == 401 => (LogoutReason::InvalidToken, None),
                None => break 'transient Some(NOT_JSON),
                Some(json) => {
                    let (reason, with_message) = match verdict(json) {
                        Verdict::Ends(reason) => (reason, true),
                        // For configuration errors the server's text is for developers (it goes
                        // to the console with the [`ConfigError`]); the user gets the reason's
                        // own message.
                        Verdict::Config(_) => (LogoutReason::InvalidToken, false),
                        _ if status == 401 => (LogoutReason::InvalidToken, true),
                        Verdict::Later(code) => break 'transient Some(code),
                        Verdict::Unknown => break 'transient Some(NO_VERDICT),
                    };
                    (reason, if with_message { server_message(json) } else { None })
                }
            },
            // 408, 429, 5xx, and anything unexpected (404/405 from a wrong refresh URL, a
            // proxy's 3xx): none says anything about the session, so none ends it.
            _ => break 'transient None,
        };
        return Ok(RefreshOutcome::Definitive { reason, message });
    };
    Err(Detail::Http { status, note })
}

fn success<T>(resp: &RefreshAnswer<T>, tokens: FreshTokens<T>, now: Millis) -> RefreshOutcome<T> {
    RefreshOutcome::Success { tokens, server_offset: resp.date.map(|d| offset_from_server_time(d, now)) }
}

fn transient<T>(resp: &RefreshAnswer<T>, now: Millis, detail: Detail) -> RefreshOutcome<T> {
    RefreshOutcome::Transient { retry_after_ms: retry_after(resp, now), detail }
}

/// Transient `detail` note: a 400/403 whose body is not a JSON object (or too large).
pub const NOT_JSON: &str = "not_json";
/// Transient `detail` note: a 400/403 JSON body with no verdict authkeeper knows.
pub const NO_VERDICT: &str = "no_verdict";

/// An OAuth 2.0 error (RFC 6749 §5.2) from the refresh endpoint that faults the refresh
/// *request*, not the session: authkeeper is configured wrongly for this server. The session
/// cannot be renewed (the same request would fail the same way), so the outcome is definitive
/// (`invalid_token`); [`config_error`] tells the web layer to log it once with `console.error`
/// (worded by `js/index.js`, which names the option to check for each code), so the developer
/// learns the cause instead of seeing users logged out for no visible reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// `invalid_client`, `unauthorized_client`, `invalid_request`, `unsupported_grant_type` or
    /// `invalid_scope`.
    pub code: &'static str,
    /// The server's `error_description` (or `detail`, `message`), cut to `MAX_MESSAGE_CHARS`.
    pub description: Option<String>,
}

#[cfg(test)]
pub(crate) const CONFIG_ERRORS: [&str; 5] = ["invalid_client", "unauthorized_client", "invalid_request", "unsupported_grant_type", "invalid_scope"];

/// The configuration mistake a 400/401/403 from the refresh endpoint reveals, if any. Call it
/// when `classify_refresh` returned `Definitive`; `None` for every other response.
pub fn config_error(resp: &RefreshResponse) -> Option<ConfigError> {
    config_error_of(&RefreshAnswer::from_raw(resp))
}

/// [`config_error`] on a typed answer.
pub fn config_error_of<T>(resp: &RefreshAnswer<T>) -> Option<ConfigError> {
    if !matches!(resp.status, 400 | 401 | 403) {
        return None;
    }
    let json = resp.body.as_ref()?;
    let Verdict::Config(code) = verdict(json) else {
        return None;
    };
    Some(ConfigError { code, description: server_message(json) })
}

/// Transient `detail` of a 2xx that the app's `parseRefreshResponse` hook could not read (it
/// threw, or returned no usable access token).
pub const HOOK_FAILED: &str = "parse_hook_failed";

/// [`classify_refresh`] for an app that reads refresh responses itself (`parseRefreshResponse`):
/// a 2xx is what the hook made of it, `Err` (the hook threw or returned the wrong shape) being a
/// transient failure like any 2xx without an access token; every other status is classified by
/// the built-in rules (the hook never sees it).
pub fn classify_refresh_parsed(resp: &RefreshResponse, now: Millis, parsed: Result<FreshTokens, String>) -> RefreshOutcome {
    classify_parsed(&RefreshAnswer::from_raw(resp), now, parsed)
}

/// [`classify_refresh_parsed`] on a typed answer.
pub fn classify_parsed<T: Token>(resp: &RefreshAnswer<T>, now: Millis, parsed: Result<FreshTokens<T>, String>) -> RefreshOutcome<T> {
    if !(200..=299).contains(&resp.status) {
        return classify(resp, now);
    }
    match parsed {
        Ok(tokens) if !tokens.access.is_blank() => success(resp, tokens, now),
        _ => transient(resp, now, Detail::HookFailed),
    }
}

/// Whether a revocation (RFC 7009, or SimpleJWT's blacklist endpoint) worked: `None` for a 2xx
/// (RFC 7009 §2.2 answers 200 even for a token that was already invalid), else how it failed,
/// for the trace hook (worded `http_<status>` or `network` by the driver). Never retried: the
/// local logout has happened whatever the server says.
pub fn revocation_failure(status: Option<u16>) -> Option<RevokeFailure> {
    match status {
        Some(200..=299) => None,
        Some(status) => Some(RevokeFailure::Http(status)),
        None => Some(RevokeFailure::Network),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeFailure {
    /// The server answered with this (non-2xx) status.
    Http(u16),
    /// No answer (network error, timeout).
    Network,
}

impl fmt::Display for RevokeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevokeFailure::Http(status) => write!(f, "http_{status}"),
            RevokeFailure::Network => f.write_str("network"),
        }
    }
}

/// SimpleJWT (`access`, `refresh`) or OAuth (`access_token`, `refresh_token`, `expires_in`).
fn fresh_tokens<T: Clone>(map: &Body<T>) -> Option<FreshTokens<T>> {
    // Both read before anything is copied.
    let access = map.token(ACCESS, ACCESS + 1)?;
    let refresh = map.token(REFRESH, REFRESH_TOKEN);
    let expires_in = map.get(EXPIRES_IN).and_then(seconds);
    Some(FreshTokens { access: access.clone(), refresh: refresh.cloned(), expires_in })
}

/// A non-negative number of seconds; some servers send it as a numeric string.
fn seconds<T>(value: &Member<T>) -> Option<u64> {
    match value {
        Member::Num(n) => (*n >= 0.0).then_some(*n as u64),
        Member::Str(s) => match number(s) {
            Digits::Value(n) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// What a 400/401/403 JSON body says about the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// The server says the session is over, and why.
    Ends(LogoutReason),
    /// An OAuth error about the request itself: see [`ConfigError`].
    Config(&'static str),
    /// OAuth's "try again later" (`temporarily_unavailable`, `server_error`).
    Later(&'static str),
    /// Nothing authkeeper recognises.
    Unknown,
}

/// The verdict in a 400/401/403 body, first that applies:
/// 1. `error` or `code` naming a session verdict: `user_not_found`, `user_inactive`,
///    `invalid_token`, SimpleJWT's `token_not_valid`, OAuth's `invalid_grant` (the refresh
///    token is invalid, expired or revoked), `refresh_token_required`;
/// 2. an OAuth configuration error in `error` ([`ConfigError`]);
/// 3. `action: "clear_tokens"`: the server says so, whatever its `error` (`invalid_token`);
/// 4. OAuth `temporarily_unavailable` or `server_error` in `error`: try again later;
/// 5. DRF field validation of the refresh token, `{"refresh": ["This field is required."]}`
///    (or `refresh_token`): `refresh_token_required`.
fn verdict<T>(map: &Body<T>) -> Verdict {
    let error = known_code(map.str(ERROR));
    if let Verdict::Ends(_) = error {
        return error;
    }
    let code = known_code(map.str(CODE));
    if let Verdict::Ends(_) = code {
        return code;
    }
    if let Verdict::Config(_) = error {
        return error;
    }
    if let Some("clear_tokens") = map.str(ACTION) {
        return Verdict::Ends(LogoutReason::InvalidToken);
    }
    if let Verdict::Later(_) = error {
        return error;
    }
    if matches!(map.get(REFRESH), Some(Member::List)) || matches!(map.get(REFRESH_TOKEN), Some(Member::List)) {
        return Verdict::Ends(LogoutReason::RefreshTokenRequired);
    }
    Verdict::Unknown
}

/// Every `error` / `code` value a verdict names: the session verdicts (from either member,
/// their reasons in [`ENDS`], same order), then the OAuth configuration errors and from
/// [`FIRST_LATER`] on "try again later" (from `error` only), each named by its own code. Names
/// only, the verdicts built from the place: a table of (name, verdict) pairs was twice the data.
const KNOWN_CODES: [&str; 13] = [
    "user_not_found",
    "user_inactive",
    "invalid_token",
    "token_not_valid",
    "invalid_grant",
    "refresh_token_required",
    "invalid_client",
    "unauthorized_client",
    "invalid_request",
    "unsupported_grant_type",
    "invalid_scope",
    "temporarily_unavailable",
    "server_error",
];

/// The reasons of the session verdicts in [`KNOWN_CODES`], in its order.
const ENDS: [LogoutReason; 6] = [
    LogoutReason::UserNotFound,
    LogoutReason::UserInactive,
    LogoutReason::InvalidToken,
    LogoutReason::InvalidToken,
    LogoutReason::InvalidToken,
    LogoutReason::RefreshTokenRequired,
];

/// Where "try again later" starts in [`KNOWN_CODES`].
const FIRST_LATER: usize = 11;

/// What a member's value means if it is one of [`KNOWN_CODES`], else `Unknown`: one table walk
/// instead of a string `match` per verdict.
fn known_code(value: Option<&str>) -> Verdict {
    if let Some(value) = value {
        let mut i = 0;
        while let Some(&code) = KNOWN_CODES.get(i) {
            if code == value {
                return match ENDS.get(i) {
                    Some(&reason) => Verdict::Ends(reason),
                    None if i < FIRST_LATER => Verdict::Config(code),
                    None => Verdict::Later(code),
                };
            }
            i += 1;
        }
    }
    Verdict::Unknown
}

/// OAuth's `error_description` (RFC 6749 §5.2's human-readable text), DRF's `detail`, or
/// `message`, cut to a displayable length.
fn server_message<T>(map: &Body<T>) -> Option<String> {
    // The members walked here: a helper's `Option<&str>` went through memory on every step.
    let mut key = ERROR_DESCRIPTION;
    let text = loop {
        match map.get(key) {
            Some(Member::Str(s)) if !s.is_empty() => break s.as_str(),
            _ if key == MESSAGE => return None,
            _ => key += 1,
        }
    };
    // Counted in characters, cut at a character's first byte: a byte loop, where
    // `chars().take().collect()` costs char decoding and re-encoding in the wasm.
    let bytes = text.as_bytes();
    let (mut end, mut count) = (0, 0);
    while let Some(&b) = bytes.get(end) {
        if b & 0xC0 != 0x80 {
            if count == MAX_MESSAGE_CHARS {
                break;
            }
            count += 1;
        }
        end += 1;
    }
    Some(text.get(..end).unwrap_or_default().to_owned())
}

fn retry_after<T>(resp: &RefreshAnswer<T>, now: Millis) -> Option<u64> {
    // An HTTP-date in Retry-After is on the server clock; measure it against the server's own
    // `Date` when we have it, so a skewed client clock does not distort the wait.
    let Some(value) = &resp.retry_after else {
        return None;
    };
    retry_delay(value, resp.retry_after_date, resp.date.unwrap_or(now))
}

/// A `Retry-After` value as a delay in ms, capped at one hour: its delta-seconds, else its
/// HTTP-date (`date`, as the caller read it) measured from `now`.
/// `Retry-After`'s delta-seconds form is ASCII digits only; too many digits to count is simply
/// "a very long time" (the cap).
fn retry_delay(value: &str, date: Option<Millis>, now: Millis) -> Option<u64> {
    const MAX_SECS: u64 = MAX_RETRY_AFTER_MS / 1_000;
    Some(match number(value) {
        // Capped in seconds, then scaled: no overflowing multiplication to check.
        Digits::Value(secs) => secs.min(MAX_SECS) * 1_000,
        Digits::Overflow => MAX_RETRY_AFTER_MS,
        Digits::NotANumber => date?.since(now).min(MAX_RETRY_AFTER_MS),
    })
}

/// A header's or member's text read as a decimal number, blanks around it ignored: one copy
/// of the trim and the digit reader for `expires_in` and `Retry-After`.
fn number(text: &str) -> Digits {
    read_digits(text, true)
}

/// `Retry-After` as a delay in ms: delta-seconds or an HTTP-date, capped at one hour.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<u64> {
    retry_delay(value, parse_http_date(value), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::expiry::digits;

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
                RefreshOutcome::Transient { retry_after_ms: None, detail: Detail::InvalidResponse },
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
                message: Some("Token is invalid or expired".into())
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
                RefreshOutcome::Definitive { reason: LogoutReason::InvalidToken, message: None },
                "{body:?}"
            );
        }
    }

    fn transient_detail(outcome: RefreshOutcome) -> String {
        match outcome {
            RefreshOutcome::Transient { detail, .. } => detail.to_string(),
            other => panic!("expected Transient, got {other:?}"),
        }
    }

    #[test]
    fn a_400_or_403_whose_body_is_not_json_is_transient() {
        // A WAF's block page, a proxy's error page, an empty body: they never saw the token.
        for body in ["<html><body><h1>Request blocked</h1></body></html>", "", "Forbidden", "[1]", "\"denied\"", "null", "{"] {
            for status in [400, 403] {
                assert_eq!(transient_detail(classify(status, body)), format!("http_{status}_{NOT_JSON}"), "{status} {body:?}");
            }
        }
        let oversized = format!(r#"{{"error":"user_not_found","pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert!(is_transient(&classify(403, &oversized)));
    }

    #[test]
    fn a_non_json_403_honours_retry_after() {
        let resp = RefreshResponse { status: 403, body: "<html>blocked</html>", retry_after: Some("30"), date: None };
        let RefreshOutcome::Transient { retry_after_ms, .. } = classify_refresh(&resp, NOW) else { panic!() };
        assert_eq!(retry_after_ms, Some(30_000));
    }

    #[test]
    fn a_json_400_or_403_without_a_verdict_is_transient() {
        for body in [r#"{}"#, r#"{"detail":"CSRF Failed: CSRF token missing."}"#, r#"{"error":"something_else"}"#, r#"{"code":"permission_denied"}"#] {
            for status in [400, 403] {
                assert_eq!(transient_detail(classify(status, body)), format!("http_{status}_{NO_VERDICT}"), "{status} {body}");
            }
        }
    }

    #[test]
    fn oauth_try_again_later_errors_are_transient_on_400_and_403() {
        for code in ["temporarily_unavailable", "server_error"] {
            let body = format!(r#"{{"error":"{code}"}}"#);
            assert_eq!(transient_detail(classify(400, &body)), format!("http_400_{code}"));
            assert_eq!(transient_detail(classify(403, &body)), format!("http_403_{code}"));
            // A 401 is definitive whatever it says.
            assert_eq!(reason_of(classify(401, &body)), LogoutReason::InvalidToken);
            // So is an explicit instruction to clear the tokens.
            let clear = format!(r#"{{"error":"{code}","action":"clear_tokens"}}"#);
            assert_eq!(reason_of(classify(400, &clear)), LogoutReason::InvalidToken);
        }
    }

    #[test]
    fn invalid_grant_is_invalid_token_with_the_error_description() {
        for status in [400, 401, 403] {
            let body = r#"{"error":"invalid_grant","error_description":"The refresh token was revoked"}"#;
            assert_eq!(
                classify(status, body),
                RefreshOutcome::Definitive { reason: LogoutReason::InvalidToken, message: Some("The refresh token was revoked".into()) }
            );
            assert_eq!(config_error(&RefreshResponse { status, body, retry_after: None, date: None }), None);
        }
        let RefreshOutcome::Definitive { message, .. } = classify(400, r#"{"error":"invalid_grant"}"#) else { panic!() };
        assert_eq!(message, None);
    }

    #[test]
    fn oauth_configuration_errors_are_definitive_and_carry_the_servers_description() {
        for code in CONFIG_ERRORS {
            for status in [400, 401, 403] {
                let body = format!(r#"{{"error":"{code}","error_description":"Bad {code}"}}"#);
                let resp = RefreshResponse { status, body: &body, retry_after: None, date: None };
                // Users get the ordinary message; the server's text is for the developer.
                assert_eq!(
                    classify_refresh(&resp, NOW),
                    RefreshOutcome::Definitive { reason: LogoutReason::InvalidToken, message: None },
                    "{status} {code}"
                );
                let error = config_error(&resp).expect("a configuration error");
                assert_eq!(error, ConfigError { code, description: Some(format!("Bad {code}")) });
            }
            let bare = format!(r#"{{"error":"{code}"}}"#);
            let error = config_error(&RefreshResponse { status: 400, body: &bare, retry_after: None, date: None }).unwrap();
            assert_eq!(error.description, None);
        }
    }

    #[test]
    fn the_configuration_errors_have_distinct_lengths_below_32() {
        // The machine reports each configuration error once, keyed by a bit at its length.
        for name in KNOWN_CODES {
            if let Verdict::Config(code) = known_code(Some(name)) {
                assert!(CONFIG_ERRORS.contains(&code), "{name}");
            }
        }
        for (i, code) in CONFIG_ERRORS.iter().enumerate() {
            assert!((1..32).contains(&code.len()), "{code}");
            for other in CONFIG_ERRORS.get(i + 1..).unwrap() {
                assert_ne!(code.len(), other.len(), "{code} {other}");
            }
        }
    }

    #[test]
    fn the_known_codes_table_names_each_code_as_itself_and_config_and_later_come_from_error_only() {
        for name in KNOWN_CODES {
            if let Verdict::Config(code) | Verdict::Later(code) = known_code(Some(name)) {
                assert_eq!(code, name);
            }
        }
        let ends = |reason| Verdict::Ends(reason);
        let every: Vec<Verdict> = KNOWN_CODES.iter().map(|&code| known_code(Some(code))).collect();
        assert_eq!(
            every,
            [
                ends(LogoutReason::UserNotFound),
                ends(LogoutReason::UserInactive),
                ends(LogoutReason::InvalidToken),
                ends(LogoutReason::InvalidToken),
                ends(LogoutReason::InvalidToken),
                ends(LogoutReason::RefreshTokenRequired),
                Verdict::Config("invalid_client"),
                Verdict::Config("unauthorized_client"),
                Verdict::Config("invalid_request"),
                Verdict::Config("unsupported_grant_type"),
                Verdict::Config("invalid_scope"),
                Verdict::Later("temporarily_unavailable"),
                Verdict::Later("server_error"),
            ]
        );
        for code in CONFIG_ERRORS {
            assert_eq!(known_code(Some(code)), Verdict::Config(code));
        }
        assert_eq!(known_code(Some("")), Verdict::Unknown);
        assert_eq!(known_code(Some("invalid_grant ")), Verdict::Unknown);
        assert_eq!(known_code(None), Verdict::Unknown);
        // `code` names session verdicts only; OAuth's configuration and "try again later"
        // codes count in `error` alone.
        for code in ["invalid_client", "invalid_scope", "server_error", "temporarily_unavailable"] {
            let body = format!(r#"{{"code":"{code}"}}"#);
            assert_eq!(transient_detail(classify(400, &body)), format!("http_400_{NO_VERDICT}"), "{code}");
            assert_eq!(classify(401, &body), RefreshOutcome::Definitive { reason: LogoutReason::InvalidToken, message: None });
            assert_eq!(config_error(&RefreshResponse { status: 400, body: &body, retry_after: None, date: None }), None);
        }
        // A session verdict in `code` outranks a configuration error in `error`.
        let body = r#"{"error":"invalid_client","code":"user_inactive","detail":"d"}"#;
        assert_eq!(classify(403, body), RefreshOutcome::Definitive { reason: LogoutReason::UserInactive, message: Some("d".into()) });
        // A 401 without a verdict keeps the server's message; a refused refresh field counts.
        assert_eq!(
            classify(401, r#"{"error":"server_error","message":"m"}"#),
            RefreshOutcome::Definitive { reason: LogoutReason::InvalidToken, message: Some("m".into()) }
        );
        assert_eq!(reason_of(classify(403, r#"{"refresh_token":[],"refresh":"x"}"#)), LogoutReason::RefreshTokenRequired);
        assert_eq!(transient_detail(classify(403, r#"{"refresh":"x","refresh_token":{}}"#)), format!("http_403_{NO_VERDICT}"));
    }

    #[test]
    fn only_configuration_errors_are_reported_as_such() {
        for (status, body) in [
            (200, r#"{"access":"A"}"#),
            (400, r#"{"error":"user_not_found"}"#),
            (401, r#"{"code":"token_not_valid"}"#),
            (403, "<html>blocked</html>"),
            (400, r#"{"error":"temporarily_unavailable"}"#),
            (500, r#"{"error":"invalid_client"}"#),
            (404, r#"{"error":"invalid_request"}"#),
        ] {
            assert_eq!(config_error(&RefreshResponse { status, body, retry_after: None, date: None }), None, "{status} {body}");
        }
    }

    #[test]
    fn server_messages_prefer_error_description_then_detail_then_message_and_are_truncated() {
        let RefreshOutcome::Definitive { message, .. } = classify(401, r#"{"message":"Session revoked"}"#) else { panic!() };
        assert_eq!(message.as_deref(), Some("Session revoked"));
        let body = r#"{"message":"m","detail":"d","error_description":"e","error":"invalid_grant"}"#;
        let RefreshOutcome::Definitive { message, .. } = classify(400, body) else { panic!() };
        assert_eq!(message.as_deref(), Some("e"));
        let RefreshOutcome::Definitive { message, .. } = classify(401, r#"{"message":"m","detail":"d"}"#) else { panic!() };
        assert_eq!(message.as_deref(), Some("d"));
        let long = format!(r#"{{"detail":"{}","message":"no"}}"#, "é".repeat(500));
        let RefreshOutcome::Definitive { message, .. } = classify(401, &long) else { panic!() };
        let message = message.unwrap();
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.chars().all(|c| c == 'é'));
        let RefreshOutcome::Definitive { message, .. } = classify(401, r#"{"detail":""}"#) else { panic!() };
        assert_eq!(message, None);
    }

    #[test]
    fn timeouts_rate_limits_server_errors_and_wrong_urls_are_transient() {
        for status in [0, 302, 404, 405, 408, 409, 429, 500, 502, 503, 504, 599] {
            let outcome = classify(status, r#"{"error":"user_not_found"}"#);
            assert_eq!(
                outcome,
                RefreshOutcome::Transient { retry_after_ms: None, detail: Detail::Http { status, note: None } },
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
    fn digits_reads_only_plain_decimal_numbers() {
        assert_eq!(digits("0"), Digits::Value(0));
        assert_eq!(digits("3600"), Digits::Value(3600));
        assert_eq!(digits("18446744073709551615"), Digits::Value(u64::MAX));
        assert_eq!(digits("18446744073709551616"), Digits::Overflow);
        for not_a_number in ["", "+5", "-5", "5 ", "1e3", "3.5", "٣"] {
            assert_eq!(digits(not_a_number), Digits::NotANumber, "{not_a_number:?}");
        }
        // A string `expires_in` is read the same way (outer ASCII blanks allowed).
        let body = Body::parse(r#"{"access_token":"A","expires_in":" 60 "}"#).unwrap();
        assert_eq!(fresh_tokens(&body).unwrap().expires_in, Some(60));
        let body = Body::parse(r#"{"access_token":"A","expires_in":"99999999999999999999"}"#).unwrap();
        assert_eq!(fresh_tokens(&body).unwrap().expires_in, None);
    }

    #[test]
    fn number_reads_digits_between_ascii_blanks_only() {
        for (text, expected) in [
            (" 60 ", Digits::Value(60)),
            ("\t\n\x0c\r 7 \r\n", Digits::Value(7)),
            ("18446744073709551615", Digits::Value(u64::MAX)),
            (" 18446744073709551616", Digits::Overflow),
            ("5 5", Digits::NotANumber),
            ("5 x", Digits::NotANumber),
            ("", Digits::NotANumber),
            ("   ", Digits::NotANumber),
            ("\u{a0}5", Digits::NotANumber),
            ("5\x0b", Digits::NotANumber),
        ] {
            assert_eq!(number(text), expected, "{text:?}");
            assert_eq!(number(text), digits(text.trim_ascii()), "{text:?}");
        }
    }

    #[test]
    fn retry_after_seconds_are_capped_before_scaling() {
        for (value, ms) in [("3599", 3_599_000), ("3600", MAX_RETRY_AFTER_MS), ("3601", MAX_RETRY_AFTER_MS), ("18446744073709551615", MAX_RETRY_AFTER_MS)] {
            assert_eq!(parse_retry_after(value, NOW), Some(ms), "{value}");
        }
        // A date too far ahead is capped too.
        assert_eq!(parse_retry_after("Wed, 15 Nov 2023 22:13:20 GMT", NOW), Some(MAX_RETRY_AFTER_MS));
    }

    #[test]
    fn a_server_message_falls_back_past_empty_and_non_string_members() {
        let message = |body: &str| server_message(&Body::parse(body).unwrap());
        assert_eq!(message(r#"{"error_description":"","detail":7,"message":"m"}"#).as_deref(), Some("m"));
        assert_eq!(message(r#"{"error_description":null,"detail":"","message":""}"#), None);
        assert_eq!(message(r#"{"error":"x"}"#), None);
        let tokens = |body: &str| fresh_tokens(&Body::parse(body).unwrap());
        assert_eq!(tokens(r#"{"access":"","access_token":"T","refresh":"","refresh_token":"R"}"#).unwrap(), FreshTokens { access: "T".into(), refresh: Some("R".into()), expires_in: None });
        assert_eq!(tokens(r#"{"access":1,"refresh_token":"R"}"#), None);
    }

    #[test]
    fn a_server_message_is_cut_after_its_last_whole_character() {
        let body = |text: &str| Body::parse(&format!(r#"{{"detail":"{text}"}}"#)).unwrap();
        let cut = |text: &str| server_message(&body(text)).unwrap();
        assert_eq!(cut("short"), "short");
        let exact = "a".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(cut(&exact), exact);
        assert_eq!(cut(&(exact.clone() + "b")), exact);
        // Four-byte characters: never cut inside one.
        let wide = "😀".repeat(MAX_MESSAGE_CHARS + 3);
        assert_eq!(cut(&wide), "😀".repeat(MAX_MESSAGE_CHARS));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates_and_is_capped() {
        assert_eq!(parse_retry_after("0", NOW), Some(0));
        assert_eq!(parse_retry_after(" 5 ", NOW), Some(5_000));
        assert_eq!(parse_retry_after("+5", NOW), None);
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
    fn a_parse_hook_decides_2xx_answers_only() {
        let ok = || Ok(FreshTokens { access: "A".into(), refresh: Some("R".into()), expires_in: Some(60) });
        let resp = |status, body| RefreshResponse { status, body, retry_after: None, date: None };
        let RefreshOutcome::Success { tokens, .. } = classify_refresh_parsed(&resp(200, "{}"), NOW, ok()) else { panic!() };
        assert_eq!(tokens.expires_in, Some(60));
        // The hook threw, or gave no access token: a transient failure, never a success.
        for parsed in [Err("parseRefreshResponse threw".to_owned()), Ok(FreshTokens { access: " ".into(), refresh: None, expires_in: None })] {
            assert_eq!(
                classify_refresh_parsed(&resp(200, r#"{"access":"A"}"#), NOW, parsed),
                RefreshOutcome::Transient { retry_after_ms: None, detail: Detail::HookFailed }
            );
        }
        // Errors are classified by the built-in rules whatever the hook would say.
        let body = r#"{"code":"token_not_valid"}"#;
        assert_eq!(classify_refresh_parsed(&resp(401, body), NOW, ok()), classify(401, body));
        assert_eq!(transient_detail(classify_refresh_parsed(&resp(503, ""), NOW, ok())), "http_503");
    }

    #[test]
    fn a_revocation_works_on_any_2xx_and_fails_otherwise() {
        assert_eq!(revocation_failure(Some(200)), None);
        assert_eq!(revocation_failure(Some(204)), None);
        assert_eq!(revocation_failure(Some(401)), Some(RevokeFailure::Http(401)));
        assert_eq!(revocation_failure(Some(401)).unwrap().to_string(), "http_401");
        assert_eq!(revocation_failure(Some(503)), Some(RevokeFailure::Http(503)));
        assert_eq!(revocation_failure(None), Some(RevokeFailure::Network));
        assert_eq!(revocation_failure(None).unwrap().to_string(), "network");
    }

    #[test]
    fn reasons_have_distinct_snake_case_names() {
        // The names are the `reason` the page sees (and js/index.js's LOGOUT_TEXT keys, held to
        // this order by tests/error_codes): two reasons must never share one.
        for (i, reason) in LogoutReason::ALL.iter().enumerate() {
            let name = reason.as_str();
            assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name}");
            assert!(LogoutReason::ALL[..i].iter().all(|other| other.as_str() != name), "{name} twice");
        }
        assert_eq!(LogoutReason::UserNotFound.as_str(), "user_not_found");
    }

    #[test]
    fn debug_output_redacts_tokens() {
        let outcome = classify(200, r#"{"access":"SECRET-ACCESS","refresh":"SECRET-REFRESH","expires_in":60}"#);
        let debug = format!("{outcome:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("expires_in: Some(60)"));
    }
}
