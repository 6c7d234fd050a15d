//! What the app can tune about the refresh machine.

use crate::core::breaker::BreakerConfig;

#[derive(Clone, Debug, PartialEq)]
#[allow(unpredictable_function_pointer_comparisons)]
pub struct MachineConfig<T = String> {
    /// How long before expiry to refresh; `None` picks `expiry::default_leeway_ms(lifetime)`.
    /// Never more than half a token's lifetime, whatever is configured.
    pub leeway_ms: Option<u64>,
    /// `auth:expiring` fires this long before expiry, or at refresh time if the token's whole
    /// life is shorter than this.
    pub expiring_warning_ms: u64,
    /// Browsers throttle hidden tabs; by default they refresh only when a request needs it or
    /// when they become visible again.
    pub refresh_when_hidden: bool,
    /// The refresh token is an httpOnly cookie: the machine can refresh without holding one.
    pub cookie_mode: bool,
    pub breaker: BreakerConfig,
    /// How this tab relates to the other tabs of the browser.
    pub tabs: TabScope,
    /// Refresh under the cross-tab lock (`AcquireLock` before every refresh call).
    pub tab_lock: bool,
    /// Tokens live in this page's memory only: a tab that starts without them asks the others.
    pub memory_storage: bool,
    /// Where to send the user when the session ends (`loginUrl`).
    pub login: Option<LoginPage>,
    /// A revocation endpoint is configured (`revokeUrl`): a manual logout revokes the refresh
    /// token on the server (`Action::Revoke`), best effort.
    pub revoke: bool,
    /// Reads a token's claims (`jwt::decode_text` on the host; in the shipped wasm, where `T`
    /// is a handle, the browser reads the text behind it).
    pub decode: crate::core::jwt::Decoder<T>,
}

/// The app's login page: its URL, and the path that says the page is already showing it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginPage {
    pub url: String,
    pub path: String,
}

/// The page at `here` (`location.pathname`) already is the login page at `login_path`: equal
/// once trailing slashes are dropped from both. A redirect there would reload it forever.
/// Compared bytewise: `str::trim_end_matches` drags char iteration into the wasm.
pub fn at_login_page(here: &str, login_path: &str) -> bool {
    without_trailing_slashes(here) == without_trailing_slashes(login_path)
}

fn without_trailing_slashes(path: &str) -> &[u8] {
    let mut bytes = path.as_bytes();
    while let [rest @ .., b'/'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Which other tabs' sessions this tab follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TabScope {
    /// localStorage or memory: one session for the whole browser. Another tab's newer login or
    /// refresh is adopted, its logout ends this tab's session too.
    Shared,
    /// sessionStorage: each tab keeps its own identity. Only a tab of the very same session (a
    /// duplicated tab starts with a copy of sessionStorage) is followed, so that the two do not
    /// log each other out through rotation; another login never switches this tab's user.
    PerTab,
}

impl Default for MachineConfig<String> {
    fn default() -> Self {
        MachineConfig {
            leeway_ms: None,
            expiring_warning_ms: crate::core::options::DEFAULT_EXPIRING_WARNING_MS,
            refresh_when_hidden: false,
            cookie_mode: false,
            breaker: BreakerConfig::default(),
            tabs: TabScope::Shared,
            tab_lock: false,
            memory_storage: false,
            login: None,
            revoke: false,
            decode: crate::core::jwt::decode_text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::at_login_page;

    #[test]
    fn the_login_page_is_recognised_with_or_without_trailing_slashes() {
        assert!(at_login_page("/login", "/login"));
        assert!(at_login_page("/login/", "/login"));
        assert!(at_login_page("/login", "/login//"));
        assert!(at_login_page("/", ""));
        assert!(!at_login_page("/login/next", "/login"));
        assert!(!at_login_page("/logins", "/login"));
        assert!(!at_login_page("/Login", "/login"));
        assert!(!at_login_page("/", "/login"));
        assert!(!at_login_page("//login", "/login"));
    }
}
