//! What the machine tells the web layer: per-request decisions, queued actions, and a
//! snapshot for the demo page. `Debug` output never shows a token.

use crate::core::breaker::BreakerState;
use crate::core::policy::LogoutReason;
use crate::core::time::Millis;
use std::fmt;

/// Identifies one intercepted request while it waits (chosen by the web layer).
pub type WaiterId = u64;

/// Why a request failed instead of going out; `code()` is the JS error's stable `code`.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthError {
    /// The refresh endpoint is failing and the breaker is open; `retry_at` is when it half-opens.
    RefreshUnavailable { retry_at: Option<Millis> },
    LoggedOut { reason: LogoutReason },
    NoSession,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::RefreshUnavailable { .. } => "refresh_unavailable",
            AuthError::LoggedOut { .. } => "logged_out",
            AuthError::NoSession => "no_session",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::RefreshUnavailable { .. } => write!(f, "the session could not be refreshed: the refresh endpoint is unavailable"),
            AuthError::LoggedOut { reason } => write!(f, "the session has ended ({reason})"),
            AuthError::NoSession => write!(f, "there is no session"),
        }
    }
}

impl std::error::Error for AuthError {}

/// What to do with a request before it is sent.
#[derive(Clone, PartialEq)]
pub enum RequestDecision {
    Send { bearer: Option<String> },
    /// Queued until a refresh settles; an `Action::Resolve` with this id will follow.
    Wait,
    Fail(AuthError),
}

/// What to do with a 401 answer.
#[derive(Clone, PartialEq)]
pub enum UnauthorizedDecision {
    ReturnAsIs,
    Replay { bearer: String },
    /// Queued until a refresh settles; an `Action::Resolve` with this id will follow.
    Wait,
}

/// Work for the web layer, drained with `Machine::poll_action`.
#[derive(Clone, PartialEq)]
pub enum Action {
    /// Perform the refresh HTTP call and report back (never emitted while one is in flight).
    StartRefresh { refresh_token: Option<String> },
    /// A queued request may go with this bearer, or fails.
    Resolve { id: WaiterId, result: Result<String, AuthError> },
    /// Write the tokens to storage (also after rotation).
    Persist { access: String, refresh: Option<String> },
    /// Clear storage.
    Clear,
    /// Dispatch `auth:logout` (at most once per session).
    Logout { reason: LogoutReason, message: String },
    /// Dispatch `auth:expiring` (once per token).
    Expiring { expires_at: Millis },
    /// Dispatch `auth:refreshed`. `expires_at` is `Millis::NEVER` for a token whose expiry is
    /// unknown (opaque, no `expires_in`).
    Refreshed { expires_at: Millis },
}

/// A diagnostic for the developer (console.warn, the trace hook), drained with
/// `Machine::poll_warning`: something a server sent was wrong and has been worked around.
/// Never contains a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Stable: `implausible_clock_offset`.
    pub code: &'static str,
    pub message: String,
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

impl fmt::Debug for RequestDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestDecision::Send { bearer } => f.debug_struct("Send").field("bearer", &redact(bearer)).finish(),
            RequestDecision::Wait => f.write_str("Wait"),
            RequestDecision::Fail(e) => f.debug_tuple("Fail").field(e).finish(),
        }
    }
}

impl fmt::Debug for UnauthorizedDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnauthorizedDecision::ReturnAsIs => f.write_str("ReturnAsIs"),
            UnauthorizedDecision::Replay { .. } => f.debug_struct("Replay").field("bearer", &Redacted).finish(),
            UnauthorizedDecision::Wait => f.write_str("Wait"),
        }
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::StartRefresh { refresh_token } => {
                f.debug_struct("StartRefresh").field("refresh_token", &redact(refresh_token)).finish()
            }
            Action::Resolve { id, result } => {
                let result: Result<Redacted, &AuthError> = result.as_ref().map(|_| Redacted);
                f.debug_struct("Resolve").field("id", id).field("result", &result).finish()
            }
            Action::Persist { refresh, .. } => {
                f.debug_struct("Persist").field("access", &Redacted).field("refresh", &redact(refresh)).finish()
            }
            Action::Clear => f.write_str("Clear"),
            Action::Logout { reason, message } => {
                f.debug_struct("Logout").field("reason", reason).field("message", message).finish()
            }
            Action::Expiring { expires_at } => f.debug_struct("Expiring").field("expires_at", expires_at).finish(),
            Action::Refreshed { expires_at } => f.debug_struct("Refreshed").field("expires_at", expires_at).finish(),
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
            format!("{:?}", Action::Resolve { id: 7, result: Ok(secret.clone()) }),
            format!("{:?}", Action::Persist { access: secret.clone(), refresh: Some(secret.clone()) }),
        ];
        for out in outputs {
            assert!(!out.contains("SECRET"), "{out}");
            assert!(out.contains("<redacted>"), "{out}");
        }
        assert_eq!(format!("{:?}", Action::Resolve { id: 1, result: Err(AuthError::NoSession) }), "Resolve { id: 1, result: Err(NoSession) }");
    }

    #[test]
    fn auth_error_codes_are_stable() {
        assert_eq!(AuthError::RefreshUnavailable { retry_at: None }.code(), "refresh_unavailable");
        assert_eq!(AuthError::LoggedOut { reason: LogoutReason::Manual }.code(), "logged_out");
        assert_eq!(AuthError::NoSession.code(), "no_session");
        assert_eq!(AuthError::LoggedOut { reason: LogoutReason::UserNotFound }.to_string(), "the session has ended (user_not_found)");
    }
}
