//! Every `code` an `AuthkeeperError` can carry, listed once. The core's errors map onto these,
//! the web driver builds its rejections from them, and a host test holds `js/index.d.ts` (whose
//! `ErrorCode` union apps match on) and the codes `js/index.js` throws to exactly this list.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// `createAuthClient`/`setTokens` got an option or argument outside what it accepts.
    InvalidOption,
    /// The refresh service is failing and the breaker is open.
    RefreshUnavailable,
    /// The session ended while the request waited.
    LoggedOut,
    /// A request needed a session and there was none.
    NoSession,
    /// The client was destroyed.
    Destroyed,
    /// A token that is not a usable JWT.
    MalformedToken,
    /// `decodeJwt` before the wasm module was loaded.
    NotReady,
    /// The client was called back re-entrantly while it was updating its state (a listener
    /// calling into the client from inside a callback the client is running); retry later.
    Busy,
    /// `auth.refresh()` in a session without a refresh token (nothing to refresh with).
    NoRefreshToken,
    /// `createAuthClient` could not load the wasm module (a wrong `wasmUrl`, a 404, a CSP
    /// without 'wasm-unsafe-eval'); retryable: the next call loads again.
    WasmLoadFailed,
    /// `createAuthClient` outside a browser (a server rendering the page, a Node script).
    NotInBrowser,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidOption,
        ErrorCode::RefreshUnavailable,
        ErrorCode::LoggedOut,
        ErrorCode::NoSession,
        ErrorCode::Destroyed,
        ErrorCode::MalformedToken,
        ErrorCode::NotReady,
        ErrorCode::Busy,
        ErrorCode::NoRefreshToken,
        ErrorCode::WasmLoadFailed,
        ErrorCode::NotInBrowser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidOption => "invalid_option",
            ErrorCode::RefreshUnavailable => "refresh_unavailable",
            ErrorCode::LoggedOut => "logged_out",
            ErrorCode::NoSession => "no_session",
            ErrorCode::Destroyed => "destroyed",
            ErrorCode::MalformedToken => "malformed_token",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Busy => "busy",
            ErrorCode::NoRefreshToken => "no_refresh_token",
            ErrorCode::WasmLoadFailed => "wasm_load_failed",
            ErrorCode::NotInBrowser => "not_in_browser",
        }
    }
}

/// Every error the core hands to `js/index.js`, by number (its place in [`CoreError::ALL`]):
/// `CORE_CODES` and `CORE_TEXT` there hold each one's `code` and wording, with blanks for the small
/// arguments the core sends along (a reason, a number, an option's place in a table). The
/// decision is made here; only the text is there, so none of it is in the wasm.
/// `tests/error_codes.rs` holds that table's codes to [`CoreError::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// The client was destroyed (or its handle is unknown).
    Destroyed,
    /// An op before `START`.
    NotStarted,
    RefreshUnavailable,
    /// Sent with the `LogoutReason`'s name.
    LoggedOut,
    NoSession,
    NoRefreshToken,
    /// `setTokens` with an access token that is not a usable JWT; sent with the
    /// `JwtError`'s number (`js/index.js`'s `JWT_ERRORS`).
    UnusableToken,
    /// An option's number outside its range; sent with the option's number
    /// (`options::Ranged`), the range, the unit and why (`options::Why`).
    OutOfRange,
    /// `retry.maxDelay` below `retry.baseDelay`.
    MaxDelayBelowBaseDelay,
}

impl CoreError {
    pub const ALL: [CoreError; 9] = [
        CoreError::Destroyed,
        CoreError::NotStarted,
        CoreError::RefreshUnavailable,
        CoreError::LoggedOut,
        CoreError::NoSession,
        CoreError::NoRefreshToken,
        CoreError::UnusableToken,
        CoreError::OutOfRange,
        CoreError::MaxDelayBelowBaseDelay,
    ];

    pub fn code(self) -> ErrorCode {
        match self {
            CoreError::Destroyed => ErrorCode::Destroyed,
            CoreError::NotStarted => ErrorCode::NotReady,
            CoreError::RefreshUnavailable => ErrorCode::RefreshUnavailable,
            CoreError::LoggedOut => ErrorCode::LoggedOut,
            CoreError::NoSession => ErrorCode::NoSession,
            CoreError::NoRefreshToken => ErrorCode::NoRefreshToken,
            CoreError::UnusableToken => ErrorCode::MalformedToken,
            CoreError::OutOfRange | CoreError::MaxDelayBelowBaseDelay => ErrorCode::InvalidOption,
        }
    }
}
