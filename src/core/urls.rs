//! Which requests may carry the bearer token, and which may trigger a refresh.
//!
//! A token must never reach a third party, and the refresh endpoint (or login/register) must
//! never trigger a refresh of its own: that is how the infinite refresh loop starts.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlClass {
    /// Our API: gets the bearer, and a 401 triggers a refresh and one replay.
    Protected,
    /// Our origin, but `skipRefreshFor` or the refresh URL: no bearer, never a refresh.
    Excluded,
    /// Anyone else: no bearer, never retried.
    Foreign,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlRules {
    allowed_origins: Vec<String>,
    skip_refresh_for: Vec<String>,
    refresh_origin: String,
    refresh_path: String,
}

/// Opaque origins (`data:`, `file:`, sandboxed iframes) all serialise as `"null"`; two such
/// requests are not the same origin, so they never count as ours.
fn is_real_origin(origin: &str) -> bool {
    !origin.is_empty() && origin != "null"
}

/// Paths compare without a trailing slash and without any query or fragment.
fn normalised_path(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = path.get(..end).unwrap_or(path);
    path.strip_suffix('/').unwrap_or(path)
}

impl UrlRules {
    /// Origins arrive normalised by JS (`new URL(x).origin`).
    pub fn new(
        page_origin: String,
        api_origins: Vec<String>,
        skip_refresh_for: Vec<String>,
        refresh_origin: String,
        refresh_path: String,
    ) -> Self {
        let allowed_origins =
            std::iter::once(page_origin).chain(api_origins).filter(|o| is_real_origin(o)).collect();
        // An empty entry would "contain-match" every path and silently disable auth.
        let skip_refresh_for = skip_refresh_for.into_iter().filter(|s| !s.is_empty()).collect();
        UrlRules { allowed_origins, skip_refresh_for, refresh_origin, refresh_path }
    }

    pub fn classify(&self, origin: &str, path: &str) -> UrlClass {
        let ours = is_real_origin(origin) && self.allowed_origins.iter().any(|o| o.eq_ignore_ascii_case(origin));
        if !ours {
            return UrlClass::Foreign;
        }
        if self.is_refresh_url(origin, path) || self.skip_refresh_for.iter().any(|s| matches_segments(path, s)) {
            return UrlClass::Excluded;
        }
        UrlClass::Protected
    }

    fn is_refresh_url(&self, origin: &str, path: &str) -> bool {
        !self.refresh_path.is_empty()
            && self.refresh_origin.eq_ignore_ascii_case(origin)
            && normalised_path(&self.refresh_path) == normalised_path(path)
    }
}

/// `pattern` occurs in `path` and ends where a path segment ends: "/login" matches
/// "/api/auth/login/" and "/login", but not "/api/users/login-history/" (a plain substring
/// test would strip the bearer from that unrelated endpoint).
fn matches_segments(path: &str, pattern: &str) -> bool {
    let mut from = 0;
    while let Some(found) = path.get(from..).and_then(|rest| rest.find(pattern)) {
        let end = from + found + pattern.len();
        if pattern.ends_with('/') || matches!(path.as_bytes().get(end), None | Some(b'/' | b'?' | b'#' | b'.')) {
            return true;
        }
        from += found + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "https://app.example.com";
    const API: &str = "https://api.example.com";

    fn rules() -> UrlRules {
        UrlRules::new(
            PAGE.into(),
            vec![API.into()],
            vec!["/login".into(), "/register".into(), "/verify-otp".into()],
            PAGE.into(),
            "/api/auth/token/refresh/".into(),
        )
    }

    #[test]
    fn same_origin_and_api_origins_are_protected() {
        let r = rules();
        assert_eq!(r.classify(PAGE, "/api/paper-trades/"), UrlClass::Protected);
        assert_eq!(r.classify(API, "/v1/orders"), UrlClass::Protected);
        assert_eq!(r.classify("HTTPS://API.EXAMPLE.COM", "/v1/orders"), UrlClass::Protected);
    }

    #[test]
    fn other_origins_are_foreign_whatever_their_path() {
        let r = rules();
        assert_eq!(r.classify("https://evil.example.net", "/api/paper-trades/"), UrlClass::Foreign);
        assert_eq!(r.classify("https://evil.example.net", "/api/auth/token/refresh/"), UrlClass::Foreign);
        assert_eq!(r.classify("https://evil.example.net", "/login"), UrlClass::Foreign);
        assert_eq!(r.classify("http://app.example.com", "/api/"), UrlClass::Foreign, "scheme is part of the origin");
        assert_eq!(r.classify("https://app.example.com:8443", "/api/"), UrlClass::Foreign, "port too");
    }

    #[test]
    fn opaque_null_origins_are_never_ours() {
        let r = UrlRules::new("null".into(), vec![], vec![], "null".into(), "/refresh".into());
        assert_eq!(r.classify("null", "/api/"), UrlClass::Foreign);
        assert_eq!(r.classify("", "/api/"), UrlClass::Foreign);
    }

    #[test]
    fn skip_refresh_for_matches_anywhere_in_the_path() {
        let r = rules();
        assert_eq!(r.classify(PAGE, "/api/auth/login/"), UrlClass::Excluded);
        assert_eq!(r.classify(API, "/register"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/api/auth/verify-otp/?code=1"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/api/login.json"), UrlClass::Excluded);
    }

    #[test]
    fn skip_refresh_for_matches_whole_path_segments_only() {
        let r = rules();
        assert_eq!(r.classify(PAGE, "/api/users/login-history/"), UrlClass::Protected);
        assert_eq!(r.classify(PAGE, "/api/registered-devices/"), UrlClass::Protected);
        // A later occurrence on a boundary still counts.
        assert_eq!(r.classify(PAGE, "/login-history/login/"), UrlClass::Excluded);
    }

    #[test]
    fn empty_skip_entries_are_ignored() {
        let r = UrlRules::new(PAGE.into(), vec![], vec![String::new()], PAGE.into(), "/refresh/".into());
        assert_eq!(r.classify(PAGE, "/api/data"), UrlClass::Protected);
    }

    #[test]
    fn the_refresh_url_is_excluded_with_or_without_its_trailing_slash() {
        let r = rules();
        assert_eq!(r.classify(PAGE, "/api/auth/token/refresh/"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/api/auth/token/refresh"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/api/auth/token/refresh/?x=1"), UrlClass::Excluded);
        // Same path on another allowed origin is not the refresh endpoint.
        assert_eq!(r.classify(API, "/api/auth/token/refresh/"), UrlClass::Protected);
        // Only the exact path: a longer path is an ordinary API call.
        assert_eq!(r.classify(PAGE, "/api/auth/token/refresh/history"), UrlClass::Protected);
    }

    #[test]
    fn a_refresh_url_on_an_api_origin_is_excluded() {
        let r = UrlRules::new(PAGE.into(), vec![API.into()], vec![], API.into(), "/token/refresh".into());
        assert_eq!(r.classify(API, "/token/refresh/"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/token/refresh"), UrlClass::Protected);
    }

    #[test]
    fn an_unset_refresh_path_excludes_nothing() {
        let r = UrlRules::new(PAGE.into(), vec![], vec![], PAGE.into(), String::new());
        assert_eq!(r.classify(PAGE, "/"), UrlClass::Protected);
        assert_eq!(r.classify(PAGE, ""), UrlClass::Protected);
    }
}
