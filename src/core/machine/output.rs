//! What the machine tells the web layer: per-request decisions, queued actions, and a
//! snapshot for the demo page. `Debug` output never shows a token.

use crate::core::errors::ErrorCode;
use crate::core::breaker::BreakerState;
use crate::core::policy::{ConfigError, LogoutReason};
use crate::core::time::Millis;
use std::fmt;

/// Identifies one intercepted request while it waits (chosen by the web layer).
pub type WaiterId = u64;

/// Orders sessions across tabs: every login gets a generation above any seen before, a refresh
/// keeps it. A message from an older generation than this tab's is stale (tokens obtained before
/// a logout can never undo it).
pub type Generation = u64;

/// What tabs tell each other. Each one carries the generation of the session it is about.
/// `T`: a token (`jwt::Token`), its text on the host.
#[derive(Clone, PartialEq)]
pub enum TabMessage<T = String> {
    /// `expires_at`: an opaque access token's expiry as the sending tab knows it (`NEVER`:
    /// unknown); `None` for a JWT, which carries its own.
    Tokens { access: T, refresh: Option<T>, generation: Generation, expires_at: Option<Millis> },
    /// `message`: what the user is shown, `None` for the reason's own wording (which the
    /// sending tab's driver puts on the channel, so that every tab shows the same words).
    Logout { reason: LogoutReason, message: Option<String>, generation: Generation },
    /// A tab without tokens asks for the session (memory storage keeps them out of Web Storage).
    Hello,
}

/// What this tab's storage holds, as the web layer read it when asked.
#[derive(Clone, PartialEq)]
pub struct Stored<T = String> {
    pub access: Option<T>,
    pub refresh: Option<T>,
    /// `0` when none was stored (a session written by an older version, or by the app).
    pub generation: Generation,
    /// The stored expiry of an opaque (non-JWT) access token, written with it by `Persist`;
    /// `Millis::NEVER` when the server gave it none (it lives until a 401).
    pub expires_at: Option<Millis>,
}

impl<T> Default for Stored<T> {
    fn default() -> Self {
        Stored { access: None, refresh: None, generation: 0, expires_at: None }
    }
}

/// Why a request failed instead of going out; `code()` is the JS error's stable `code`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AuthError {
    /// The refresh endpoint is failing and the breaker is open; `retry_at` is when it half-opens.
    RefreshUnavailable { retry_at: Option<Millis> },
    LoggedOut { reason: LogoutReason },
    NoSession,
    /// `auth.refresh()` in a session that holds no refresh token (the app's login gave none).
    NoRefreshToken,
}

impl AuthError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::RefreshUnavailable { .. } => ErrorCode::RefreshUnavailable,
            AuthError::LoggedOut { .. } => ErrorCode::LoggedOut,
            AuthError::NoSession => ErrorCode::NoSession,
            AuthError::NoRefreshToken => ErrorCode::NoRefreshToken,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::RefreshUnavailable { .. } => write!(f, "the session could not be refreshed: the refresh endpoint is unavailable"),
            AuthError::LoggedOut { reason } => write!(f, "the session has ended ({reason})"),
            AuthError::NoSession => write!(f, "there is no session"),
            AuthError::NoRefreshToken => write!(f, "the session has no refresh token"),
        }
    }
}

impl std::error::Error for AuthError {}

/// What to do with a request before it is sent.
#[derive(Clone, PartialEq)]
pub enum RequestDecision<T = String> {
    Send { bearer: Option<T> },
    /// Queued until a refresh settles; an `Action::Resolve` with this id will follow.
    Wait,
    Fail(AuthError),
}

/// What to do with a 401 answer.
#[derive(Clone, PartialEq)]
pub enum UnauthorizedDecision<T = String> {
    ReturnAsIs,
    Replay { bearer: T },
    /// Queued until a refresh settles; an `Action::Resolve` with this id will follow.
    Wait,
}

/// What a queued request gets when the refresh it waited for settles.
#[derive(Clone, PartialEq)]
pub enum Outcome<T = String> {
    /// Send it (or replay it) with this bearer.
    Bearer(T),
    /// It was sent and answered 401, and no new token is coming: the caller gets that 401
    /// response back, exactly as plain fetch would have returned it. The error says why.
    OriginalResponse(AuthError),
    /// It was never sent: reject it with this typed error.
    Failed(AuthError),
    /// It was never sent, and no session came of the start-up refresh (cookie mode): send it
    /// without a bearer, as it would have gone without authkeeper.
    Anonymous,
}

impl<T> Outcome<T> {
    /// The bearer, or why there is none.
    pub fn into_result(self) -> Result<T, AuthError> {
        match self {
            Outcome::Bearer(token) => Ok(token),
            Outcome::OriginalResponse(e) | Outcome::Failed(e) => Err(e),
            Outcome::Anonymous => Err(AuthError::NoSession),
        }
    }
}

impl<T> fmt::Debug for Outcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Bearer(_) => f.debug_tuple("Bearer").field(&Redacted).finish(),
            Outcome::OriginalResponse(e) => f.debug_tuple("OriginalResponse").field(e).finish(),
            Outcome::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            Outcome::Anonymous => f.write_str("Anonymous"),
        }
    }
}

/// Work for the web layer, drained with `Machine::poll_action`.
#[derive(Clone, PartialEq)]
pub enum Action<T = String> {
    /// Perform the refresh HTTP call and report back (never emitted while one is in flight).
    StartRefresh { refresh_token: Option<T> },
    /// Request the cross-tab refresh lock; report `on_lock_granted` (with what storage holds
    /// once it is granted) or `on_lock_unavailable`.
    AcquireLock,
    /// Release the cross-tab lock.
    ReleaseLock,
    /// Read storage and report it with `on_stored`.
    ReadStored,
    /// Post this to the other tabs.
    Broadcast(TabMessage<T>),
    /// A queued request settles: what it gets is the core's decision, not the driver's.
    Resolve { id: WaiterId, outcome: Outcome<T> },
    /// Write the tokens and their session generation to storage (also after rotation).
    /// `expires_at` is set for an opaque access token (a JWT carries its own `exp`): stored next
    /// to it so that a reload can time it (`Millis::NEVER`: no known expiry).
    Persist { access: T, refresh: Option<T>, generation: Generation, expires_at: Option<Millis> },
    /// Clear what a logout clears. `shared: false` leaves the storage that all tabs share
    /// alone (another tab's logout already cleared it, or a newer session lives there now).
    Clear { shared: bool },
    /// Go to the login page, unless the page's path already is `unless_at` (navigating there
    /// again would reload the login page forever).
    Redirect { url: String, unless_at: String },
    /// Dispatch `auth:logout` (at most once per session). `origin` is the reason another tab
    /// gave when this logout is `Remote`. `message` `None`: the reason's own wording, which
    /// `js/index.js` holds (`LOGOUT_TEXT`), not the wasm.
    Logout { reason: LogoutReason, message: Option<String>, origin: Option<LogoutReason> },
    /// Dispatch `auth:expiring` (once per token).
    Expiring { expires_at: Millis },
    /// A session started in this tab: the app's `setTokens`, or another tab's login adopted by a
    /// tab that had none. Dispatch `auth:login`; subscribers get `signed_in`.
    SignedIn { expires_at: Millis },
    /// Dispatch `auth:refreshed`. `expires_at` is `Millis::NEVER` for a token whose expiry is
    /// unknown (opaque, no `expires_in`).
    Refreshed { expires_at: Millis },
    /// Best effort, after a manual logout with `revokeUrl`: revoke this refresh token on the
    /// server (`None` in cookie mode: the cookie goes with the request). Report the result with
    /// `Machine::on_revoke_result`; nothing about the (already ended) session depends on it.
    Revoke { token: Option<T> },
}

/// How loudly a [`Warning`] is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// `console.warn`: worked around.
    Warn,
    /// `console.error`: authkeeper is configured wrongly for this server, and sessions end
    /// (or cannot be renewed) because of it.
    Error,
}

/// A diagnostic for the developer (console.warn / console.error), drained with
/// `Machine::poll_warning`: something a server or an app hook did wrong. Data only: the
/// driver words it (`WARNINGS` in js/index.js). Never contains a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// A clock-offset measurement beyond 24 h, ignored: taken from the token's `iat`
    /// (`from_iat`) or else the refresh response's `Date` header; the server's clock would be
    /// `hours` whole hours ahead (`ahead`) or behind.
    ImplausibleClockOffset { from_iat: bool, hours: u64, ahead: bool },
    /// The refresh endpoint's OAuth error shows authkeeper is configured wrongly for it.
    RefreshMisconfigured(ConfigError),
    /// An app hook (`refreshRequest`, `parseRefreshResponse`) threw or returned the wrong
    /// shape: what the driver said about it (never a token).
    RefreshHookFailed(String),
}

impl Warning {
    /// Stable: `implausible_clock_offset`, `refresh_misconfigured`, `refresh_hook_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            Warning::ImplausibleClockOffset { .. } => "implausible_clock_offset",
            Warning::RefreshMisconfigured(_) => "refresh_misconfigured",
            Warning::RefreshHookFailed(_) => "refresh_hook_failed",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Warning::ImplausibleClockOffset { .. } => Severity::Warn,
            _ => Severity::Error,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    Anonymous,
    Active,
    Refreshing,
    LoggedOut,
}

/// A read-only view for diagnostics and the demo page.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub status: SessionStatus,
    pub expires_at: Option<Millis>,
    pub breaker: BreakerState,
    pub refresh_in_flight: bool,
    pub waiting: usize,
    pub refresh_count: u64,
    pub clock_offset_ms: i64,
    /// Why the session ended, while it is `LoggedOut`: a subscriber that comes after a start-up
    /// logout still learns it.
    pub logout_reason: Option<LogoutReason>,
}

/// Stands in for a token in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

fn redact<T>(token: &Option<T>) -> Option<Redacted> {
    token.as_ref().map(|_| Redacted)
}

impl<T> fmt::Debug for TabMessage<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TabMessage::Tokens { refresh, generation, expires_at, .. } => f
                .debug_struct("Tokens")
                .field("access", &Redacted)
                .field("refresh", &redact(refresh))
                .field("generation", generation)
                .field("expires_at", expires_at)
                .finish(),
            TabMessage::Logout { reason, generation, .. } => {
                f.debug_struct("Logout").field("reason", reason).field("generation", generation).finish()
            }
            TabMessage::Hello => f.write_str("Hello"),
        }
    }
}

impl<T> fmt::Debug for Stored<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stored")
            .field("access", &redact(&self.access))
            .field("refresh", &redact(&self.refresh))
            .field("generation", &self.generation)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl<T> fmt::Debug for RequestDecision<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestDecision::Send { bearer } => f.debug_struct("Send").field("bearer", &redact(bearer)).finish(),
            RequestDecision::Wait => f.write_str("Wait"),
            RequestDecision::Fail(e) => f.debug_tuple("Fail").field(e).finish(),
        }
    }
}

impl<T> fmt::Debug for UnauthorizedDecision<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnauthorizedDecision::ReturnAsIs => f.write_str("ReturnAsIs"),
            UnauthorizedDecision::Replay { .. } => f.debug_struct("Replay").field("bearer", &Redacted).finish(),
            UnauthorizedDecision::Wait => f.write_str("Wait"),
        }
    }
}

impl<T> fmt::Debug for Action<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::StartRefresh { refresh_token } => {
                f.debug_struct("StartRefresh").field("refresh_token", &redact(refresh_token)).finish()
            }
            Action::Resolve { id, outcome } => f.debug_struct("Resolve").field("id", id).field("outcome", outcome).finish(),
            Action::AcquireLock => f.write_str("AcquireLock"),
            Action::ReleaseLock => f.write_str("ReleaseLock"),
            Action::ReadStored => f.write_str("ReadStored"),
            Action::Broadcast(message) => f.debug_tuple("Broadcast").field(message).finish(),
            Action::Persist { refresh, generation, expires_at, .. } => f
                .debug_struct("Persist")
                .field("access", &Redacted)
                .field("refresh", &redact(refresh))
                .field("generation", generation)
                .field("expires_at", expires_at)
                .finish(),
            Action::Clear { shared } => f.debug_struct("Clear").field("shared", shared).finish(),
            Action::Logout { reason, message, origin } => {
                f.debug_struct("Logout").field("reason", reason).field("message", message).field("origin", origin).finish()
            }
            Action::Redirect { url, unless_at } => {
                f.debug_struct("Redirect").field("url", url).field("unless_at", unless_at).finish()
            }
            Action::Expiring { expires_at } => f.debug_struct("Expiring").field("expires_at", expires_at).finish(),
            Action::Refreshed { expires_at } => f.debug_struct("Refreshed").field("expires_at", expires_at).finish(),
            Action::SignedIn { expires_at } => f.debug_struct("SignedIn").field("expires_at", expires_at).finish(),
            Action::Revoke { token } => f.debug_struct("Revoke").field("token", &redact(token)).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_a_token() {
        let secret = "SECRET.TOKEN.VALUE".to_string();
        let outputs = [
            format!("{:?}", RequestDecision::Send { bearer: Some(secret.clone()) }),
            format!("{:?}", UnauthorizedDecision::Replay { bearer: secret.clone() }),
            format!("{:?}", Action::StartRefresh { refresh_token: Some(secret.clone()) }),
            format!("{:?}", Action::Resolve { id: 7, outcome: Outcome::Bearer(secret.clone()) }),
            format!("{:?}", Action::Persist { access: secret.clone(), refresh: Some(secret.clone()), generation: 1, expires_at: None }),
            format!("{:?}", Action::Revoke { token: Some(secret.clone()) }),
            format!("{:?}", Action::Broadcast(TabMessage::Tokens { access: secret.clone(), refresh: Some(secret.clone()), generation: 1, expires_at: None })),
            format!("{:?}", Stored { access: Some(secret.clone()), refresh: Some(secret.clone()), generation: 1, expires_at: None }),
        ];
        for out in outputs {
            assert!(!out.contains("SECRET"), "{out}");
            assert!(out.contains("<redacted>"), "{out}");
        }
        assert_eq!(
            format!("{:?}", Action::<String>::Resolve { id: 1, outcome: Outcome::Failed(AuthError::NoSession) }),
            "Resolve { id: 1, outcome: Failed(NoSession) }"
        );
    }

    #[test]
    fn auth_error_codes_are_stable() {
        assert_eq!(AuthError::RefreshUnavailable { retry_at: None }.code().as_str(), "refresh_unavailable");
        assert_eq!(AuthError::LoggedOut { reason: LogoutReason::Manual }.code().as_str(), "logged_out");
        assert_eq!(AuthError::NoSession.code().as_str(), "no_session");
        assert_eq!(AuthError::LoggedOut { reason: LogoutReason::UserNotFound }.to_string(), "the session has ended (user_not_found)");
    }
}
