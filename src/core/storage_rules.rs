//! Which Web Storage keys hold a session, and which a logout removes. By default exactly what
//! seed 000's hand-written interceptor cleared: the token keys (configured and legacy), every
//! localStorage key containing `token`, `auth` or `user`, and the whole of sessionStorage.
//! The browser driver only enumerates keys and removes those these rules name.

/// Where the tokens live (`storage` option; js/index.js sends its index in `AREAS`, this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Local,
    Session,
    Memory,
}

/// What a logout removes from sessionStorage besides the token keys (`clear.sessionStorage`;
/// js/index.js sends its index in `SESSION_CLEARING`, this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionClear {
    /// Everything (seed 000's behaviour, the default): an app's per-tab data of the user who
    /// just left must not survive the logout.
    All,
    /// The keys matching the clear patterns, as in localStorage.
    Matching,
    /// Only the token keys.
    None,
}

/// The session generation is kept next to the access token.
pub fn generation_key(access_key: &str) -> String {
    access_key.to_owned() + ":generation"
}

/// An opaque access token's expiry (client-clock epoch ms) is kept next to it.
pub fn expiry_key(access_key: &str) -> String {
    access_key.to_owned() + ":expiresAt"
}

/// The access key, the refresh key and the access key's companions: the first of
/// `ClearRules::token_keys`, in this order; the legacy keys follow.
pub fn token_keys(access_key: String, refresh_key: String) -> Vec<String> {
    let (generation, expiry) = (generation_key(&access_key), expiry_key(&access_key));
    vec![access_key, refresh_key, generation, expiry]
}

#[derive(Clone, Debug)]
pub struct ClearRules {
    /// The configured and legacy token keys and their companions: removed wherever they are.
    token_keys: Vec<String>,
    /// As configured; a key containing one of them, ASCII case ignored, is removed (an empty
    /// one is ignored: it would match every key).
    patterns: Vec<String>,
    pub session: SessionClear,
}

impl ClearRules {
    /// Takes the lists it keeps: the driver builds them for it, so nothing is copied.
    /// `token_keys`: [`token_keys`]' four, then the legacy access keys, then the legacy refresh keys.
    pub fn new(token_keys: Vec<String>, patterns: Vec<String>, session: SessionClear) -> ClearRules {
        ClearRules { token_keys, patterns, session }
    }

    /// The access key, the refresh key, their companions, then the legacy keys, as `new` got them.
    pub fn token_keys(&self) -> &[String] {
        &self.token_keys
    }

    // A byte loop rather than lower-casing and `str::contains`: no copy of each key, and no
    // Two-Way searcher in the wasm for a few short patterns. Plain loops over the lists: the
    // `iter().any` closures were one instance each.
    fn matches(&self, key: &str) -> bool {
        for p in &self.patterns {
            if !p.is_empty() && contains_ignoring_ascii_case(key.as_bytes(), p.as_bytes()) {
                return true;
            }
        }
        false
    }

    fn is_token_key(&self, key: &str) -> bool {
        for k in &self.token_keys {
            if k.as_str() == key {
                return true;
            }
        }
        false
    }

    /// A localStorage key a logout removes.
    pub fn removes_local(&self, key: &str) -> bool {
        self.is_token_key(key) || self.matches(key)
    }

    /// A sessionStorage key a logout removes.
    pub fn removes_session(&self, key: &str) -> bool {
        match self.session {
            SessionClear::All => true,
            SessionClear::Matching => self.removes_local(key),
            SessionClear::None => self.is_token_key(key),
        }
    }
}

/// `needle` occurs in `hay`, ASCII letters compared case-insensitively: what lower-casing both
/// (ASCII only) and `str::contains` would find, without the copies or the two-way searcher (a few
/// KB of wasm). Keys and patterns are a few dozen bytes, so the naive scan is cheap; bytes of
/// UTF-8 sequences are never ASCII letters, so they are compared exactly.
fn contains_ignoring_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let mut start = 0;
    while start + needle.len() <= hay.len() {
        if hay.get(start..start + needle.len()).is_some_and(|w| w.eq_ignore_ascii_case(needle)) {
            return true;
        }
        start += 1;
    }
    false
}

/// `n` in decimal, without pulling the formatting machinery into the wasm.
pub fn decimal(mut n: u64) -> String {
    let mut digits = Vec::with_capacity(20);
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_000(session: SessionClear) -> ClearRules {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut keys = token_keys("accessToken".into(), "refreshToken".into());
        keys.extend(strings(&["access_token", "refresh_token"]));
        ClearRules::new(keys, strings(&["token", "Auth", "user", ""]), session)
    }

    #[test]
    fn a_logout_removes_the_token_keys_their_companions_and_every_matching_key() {
        let rules = seed_000(SessionClear::All);
        for key in ["accessToken", "refreshToken", "accessToken:generation", "accessToken:expiresAt", "access_token", "currentUser", "OAUTH_state", "csrfToken", "my_TOKEN", "Token", "über-token"] {
            assert!(rules.removes_local(key), "{key}");
        }
        for key in ["theme", "cart", "lang", "", "toke", "toke_n", "tök"] {
            assert!(!rules.removes_local(key), "{key:?}: an empty pattern must not match everything");
        }
    }

    #[test]
    fn the_token_keys_come_in_their_documented_order() {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut keys = token_keys("a".into(), "r".into());
        keys.extend(strings(&["la1", "la2", "lr1"]));
        let rules = ClearRules::new(keys, strings(&["x"]), SessionClear::None);
        assert_eq!(rules.token_keys(), ["a", "r", "a:generation", "a:expiresAt", "la1", "la2", "lr1"]);
        let bare = ClearRules::new(token_keys("a".into(), "r".into()), Vec::new(), SessionClear::None);
        assert_eq!(bare.token_keys(), ["a", "r", "a:generation", "a:expiresAt"]);
        assert!(!bare.removes_local("x") && bare.removes_local("a:expiresAt"));
    }

    #[test]
    fn session_storage_follows_its_own_setting() {
        assert!(seed_000(SessionClear::All).removes_session("draft"));
        assert!(!seed_000(SessionClear::Matching).removes_session("draft"));
        assert!(seed_000(SessionClear::Matching).removes_session("userPrefs"));
        assert!(!seed_000(SessionClear::None).removes_session("userPrefs"));
        assert!(seed_000(SessionClear::None).removes_session("refreshToken"));
    }

    #[test]
    fn the_case_blind_search_finds_a_needle_anywhere_and_the_empty_one_everywhere() {
        for (hay, needle, found) in [
            ("", "", true),
            ("abc", "", true),
            ("", "a", false),
            ("ab", "abc", false),
            ("xTOKEN", "token", true),
            ("tokenx", "TOKEN", true),
            ("tok", "token", false),
            ("a_Toke_n", "token", false),
            ("über", "ÜBER", false),
            ("über", "über", true),
        ] {
            assert_eq!(contains_ignoring_ascii_case(hay.as_bytes(), needle.as_bytes()), found, "{hay:?} {needle:?}");
        }
    }

    #[test]
    fn decimal_writes_every_digit() {
        assert_eq!(decimal(0), "0");
        assert_eq!(decimal(1_700_000_000_123), "1700000000123");
        assert_eq!(decimal(u64::MAX), u64::MAX.to_string());
    }
}
