//! Which requests may carry the bearer token, and which may trigger a refresh.
//!
//! A token must never reach a third party, and the refresh endpoint (or login/register) must
//! never trigger a refresh of its own: that is how the infinite refresh loop starts.
//!
//! Paths are compared as the server sees them. JS hands over `new URL(input, baseURI).pathname`
//! (tabs and newlines gone, dot segments resolved, non-ASCII percent-encoded); the request path,
//! every `skipRefreshFor` pattern and the refresh path then go through the same
//! [`normalise_path`], so spellings a server treats alike compare alike (`/%6Cogin`, `//login`
//! and `/login;jsessionid=1` are all `/login`), whether a pattern arrives raw or URL-parsed.

use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlClass {
    /// Our API: gets the bearer, and a 401 triggers a refresh and one replay.
    Protected,
    /// Our origin, but `skipRefreshFor` or the refresh URL: no bearer, never a refresh.
    Excluded,
    /// Anyone else: no bearer, never retried.
    Foreign,
}

/// Origins, patterns and the refresh path, as configured. The patterns and the refresh path
/// are normalised where a request is compared with them (the usual ones, already normal,
/// without a copy): nothing is rewritten or filtered up front, so the wasm needs no code to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlRules {
    /// The page's origin kept apart from the API origins: pushing it onto their list cost more
    /// wasm than one more compare.
    page_origin: String,
    api_origins: Vec<String>,
    skip_refresh_for: Vec<String>,
    refresh_origin: String,
    refresh_path: String,
}

/// Opaque origins (`data:`, `file:`, sandboxed iframes) all serialise as `"null"`; two such
/// requests are not the same origin, so they never count as ours.
fn is_real_origin(origin: &str) -> bool {
    !matches!(origin, "" | "null")
}

/// A set of ASCII bytes as a 128-bit map (two words: no 128-bit shifts in the wasm).
#[derive(Clone, Copy)]
struct ByteSet([u64; 2]);

impl ByteSet {
    const fn of(bytes: &[u8]) -> ByteSet {
        let mut words = [0u64; 2];
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            words[(b >> 6) as usize & 1] |= 1 << (b & 63);
            i += 1;
        }
        ByteSet(words)
    }

    fn has(self, b: u8) -> bool {
        b < 128 && self.0[usize::from(b >> 6) & 1] >> (b & 63) & 1 == 1
    }
}

/// RFC 3986 `unreserved`: a percent-escape of one of these means the character itself.
const UNRESERVED: ByteSet = ByteSet::of(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");
/// What a normalised path holds unescaped: `unreserved`, `sub-delims` but `;`, `:`, `@`, `/`.
const PLAIN: ByteSet = ByteSet::of(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/");

/// [`PLAIN`], for the test that holds it to RFC 3986.
#[cfg(test)]
fn is_plain(b: u8) -> bool {
    PLAIN.has(b)
}

fn hex_value(b: Option<&u8>) -> Option<u8> {
    let b = *b?;
    let digit = b.wrapping_sub(b'0');
    // `| 0x20` lower-cases a letter; no other byte lands on `a`..=`f`.
    let letter = (b | 0x20).wrapping_sub(b'a');
    if digit < 10 {
        Some(digit)
    } else if letter < 6 {
        Some(letter + 10)
    } else {
        None
    }
}

/// Appends `b` as itself if `raw` holds it, else as an escape with upper-case hex.
fn put(out: &mut Vec<u8>, b: u8, raw: ByteSet) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if raw.has(b) {
        out.push(b);
    } else {
        out.push(b'%');
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// A path as the server will route it, so that two spellings of one path compare equal:
///
/// - the query and fragment are cut off (`?`, `#`);
/// - escapes of unreserved characters are decoded (`%6C` and `%6c` are `l`, `%2D` is `-`);
///   every other escape stays, with upper-case hex (`%2f` is `%2F`: an encoded slash is not a
///   segment separator, and servers route `/a%2Fb` apart from `/a/b`);
/// - every byte RFC 3986 does not allow raw in a path (non-ASCII as its UTF-8 bytes, space,
///   controls, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, `[`, `]`, and a `%` that does not
///   start an escape) is escaped, so `ü` and `%C3%BC`, or `|` and `%7C`, compare equal whether
///   a pattern arrives raw or through the URL parser;
/// - runs of `/` collapse into one (`//login` is `/login`);
/// - `;params` are dropped from every segment (`/login;jsessionid=1` is `/login`), as servers
///   that strip matrix parameters route it.
///
/// Dot segments are not resolved here: the URL parser did that. Matching stays
/// case-sensitive. The usual path (none of `%`, `;`, `?`, `#`, `//` or a byte to escape) is
/// its own normal form.
///
/// Why this still runs in the wasm although JS hands over `URL.pathname`: the URL parser only
/// does part of it. It cuts the query and fragment and escapes non-ASCII, controls, space, `"`,
/// `<`, `>`, `` ` ``, `{`, `}`; it keeps `%6c`, `%2f`, `//`, `;params`, `|`, `^`, `[`, `]` and a
/// lone `%` as written, and the `skipRefreshFor` patterns never went through it at all. A
/// server routes those spellings alike, so skipping them would send the bearer to a path the
/// app excluded.
pub fn normalise_path(path: &str) -> Cow<'_, str> {
    let mut out = Vec::new();
    let normal = normalise(path.as_bytes(), &mut out);
    // The usual path is its own normal form, cut at a `?` or `#` or not at all (a character
    // boundary): lent back as it is.
    match path.get(..normal.len()) {
        Some(same) if same.as_bytes() == normal => Cow::Borrowed(same),
        // Every byte of a normal form is ASCII.
        _ => Cow::Owned(normal.iter().map(|&b| char::from(b)).collect()),
    }
}

/// [`normalise_path`] on bytes, which is what the rules compare: the normal form is ASCII, and
/// building it byte by byte keeps the UTF-8 encoder out of the wasm. It is written into `out`
/// (cleared first), the usual path too: a first pass to find the paths already normal (and lend
/// them back) cost more wasm than copying a few dozen bytes costs time, and a buffer the caller
/// owns rather than a `Cow` leaves one drop per buffer in `classify`, not one per string.
fn normalise<'a>(path: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
    let end = path.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(path.len());
    let bytes = path.get(..end).unwrap_or_default();
    out.clear();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            b'/' if matches!(out.last(), Some(b'/')) => {}
            b';' => {
                while bytes.get(i).is_some_and(|&b| b != b'/') {
                    i += 1;
                }
            }
            // An escape stays one unless it stands for an unreserved character; a `%` that
            // starts none is not unreserved either, so it is escaped itself.
            b'%' => match (hex_value(bytes.get(i)), hex_value(bytes.get(i + 1))) {
                (Some(high), Some(low)) => {
                    i += 2;
                    put(out, high << 4 | low, UNRESERVED);
                }
                _ => put(out, b'%', UNRESERVED),
            },
            b => put(out, b, PLAIN),
        }
    }
    out
}

/// Paths compare without a trailing slash.
fn without_trailing_slash(path: &[u8]) -> &[u8] {
    match path {
        [rest @ .., b'/'] => rest,
        _ => path,
    }
}

impl UrlRules {
    /// Origins arrive normalised by JS (`new URL(x).origin`); patterns and the refresh path may
    /// be raw or URL-parsed.
    pub fn new(
        page_origin: String,
        api_origins: Vec<String>,
        skip_refresh_for: Vec<String>,
        refresh_origin: String,
        refresh_path: String,
    ) -> Self {
        UrlRules { page_origin, api_origins, skip_refresh_for, refresh_origin, refresh_path }
    }

    pub fn classify(&self, origin: &str, path: &str) -> UrlClass {
        // An opaque allowed origin matches nothing, not even an opaque request.
        let ours = |o: &String| is_real_origin(o) && o.eq_ignore_ascii_case(origin);
        if !is_real_origin(origin) || !(ours(&self.page_origin) || self.api_origins.iter().any(ours)) {
            return UrlClass::Foreign;
        }
        let (mut normal, mut other) = (Vec::new(), Vec::new());
        let path = normalise(path.as_bytes(), &mut normal);
        // An unset refresh path (or one that normalises to nothing) is no URL.
        let refresh_path = normalise(self.refresh_path.as_bytes(), &mut other);
        if !refresh_path.is_empty()
            && self.refresh_origin.eq_ignore_ascii_case(origin)
            && without_trailing_slash(refresh_path) == without_trailing_slash(path)
        {
            return UrlClass::Excluded;
        }
        for s in &self.skip_refresh_for {
            if matches_segments(path, normalise(s.as_bytes(), &mut other)) {
                return UrlClass::Excluded;
            }
        }
        UrlClass::Protected
    }
}

/// `pattern` matches whole path segments of `path` (both normalised): it occurs in `path`
/// starting where a segment starts and ending where one ends. So "/login" matches
/// "/api/auth/login/", "/login" and "/api/login.json" (an extension ends a segment too), but not
/// "/api/users/login-history/" (a plain substring test would strip the bearer from that
/// unrelated endpoint); and "login", without its slash, matches "/api/login" but not
/// "/api/xlogin". A pattern that starts (ends) with `/` starts (ends) on a boundary by itself.
/// An empty pattern matches nothing: it would match every path and silently disable auth.
// A byte loop, not `str::find`: that pulls the Two-Way searcher into the wasm, and these
// strings are a URL path and a handful of short patterns. Both are normalised, hence ASCII; a
// byte match of a UTF-8 pattern can only start on a character boundary anyway.
fn matches_segments(path: &[u8], pattern: &[u8]) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let starts_on_its_own = matches!(pattern.first(), Some(b'/'));
    let ends_on_its_own = matches!(pattern.last(), Some(b'/'));
    let mut start = 0;
    while start <= path.len() {
        let end = start + pattern.len();
        if path.get(start..end).is_some_and(|w| w == pattern)
            && (starts_on_its_own || start == 0 || matches!(path.get(start - 1), Some(b'/')))
            && (ends_on_its_own || matches!(path.get(end), None | Some(b'/' | b'.')))
        {
            return true;
        }
        start += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_classes_and_hex_digits_are_rfc_3986s_for_every_byte() {
        for b in 0..=u8::MAX {
            let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
            let plain = unreserved || matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@' | b'/');
            assert_eq!(UNRESERVED.has(b), unreserved, "{b}");
            assert_eq!(is_plain(b), plain, "{b}");
            assert_eq!(hex_value(Some(&b)), char::from(b).to_digit(16).map(|d| d as u8), "{b}");
        }
        assert_eq!(hex_value(None), None);
    }

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
    fn escapes_of_unreserved_characters_are_decoded_before_matching() {
        let r = rules();
        for path in ["/%6Cogin", "/%6cogin", "/api/auth/%6C%6F%67%69%6E/", "/verify%2Dotp", "/verify%2dotp/", "/%72egister"] {
            assert_eq!(r.classify(PAGE, path), UrlClass::Excluded, "{path}");
        }
        assert_eq!(r.classify(PAGE, "/api/auth/token/%72efresh/"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/api/auth/token%2Frefresh/"), UrlClass::Protected);
    }

    #[test]
    fn an_encoded_slash_is_not_a_segment_separator() {
        let r = UrlRules::new(PAGE.into(), vec![], vec!["/auth/login".into()], PAGE.into(), "/refresh".into());
        assert_eq!(r.classify(PAGE, "/auth/login"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/auth%2Flogin"), UrlClass::Protected);
        assert_eq!(r.classify(PAGE, "/auth%2flogin"), UrlClass::Protected);
        assert_eq!(normalise_path("/auth%2flogin"), "/auth%2Flogin");
    }

    #[test]
    fn doubled_slashes_collapse() {
        let r = rules();
        for path in ["//login", "/api//auth///login/", "/api/auth/login//", "//api/auth/token/refresh//"] {
            assert_eq!(r.classify(PAGE, path), UrlClass::Excluded, "{path}");
        }
        assert_eq!(r.classify(PAGE, "//api//paper-trades/"), UrlClass::Protected);
    }

    #[test]
    fn matrix_parameters_are_dropped_from_every_segment() {
        let r = rules();
        for path in [
            "/login;x=1",
            "/login;jsessionid=ABC/",
            "/api;v=2/auth/login/",
            "/api/auth/token/refresh;jsessionid=1",
            "/api/auth/token/refresh/;jsessionid=1",
            "/api/auth/token;a;b/refresh/",
        ] {
            assert_eq!(r.classify(PAGE, path), UrlClass::Excluded, "{path}");
        }
        assert_eq!(r.classify(PAGE, "/api/users/login-history;x=1/"), UrlClass::Protected);
        // An encoded semicolon is data, not a parameter separator.
        assert_eq!(r.classify(PAGE, "/login%3Bx=1"), UrlClass::Protected);
    }

    #[test]
    fn non_ascii_patterns_and_paths_match_raw_or_percent_encoded() {
        for pattern in ["/anmelden/ü", "/anmelden/%C3%BC", "/anmelden/%c3%bc"] {
            let r = UrlRules::new(PAGE.into(), vec![], vec![pattern.into()], PAGE.into(), "/refresh".into());
            for path in ["/anmelden/%C3%BC", "/anmelden/%c3%bc", "/anmelden/ü", "/de/anmelden/%C3%BC/"] {
                assert_eq!(r.classify(PAGE, path), UrlClass::Excluded, "{pattern} {path}");
            }
            assert_eq!(r.classify(PAGE, "/anmelden/%C3%BCber"), UrlClass::Protected, "{pattern}");
            assert_eq!(r.classify(PAGE, "/anmelden/u"), UrlClass::Protected, "{pattern}");
        }
        let r = rules();
        assert_eq!(r.classify(PAGE, "/über/login"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/%C3%BCber/login"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/über/login-history"), UrlClass::Protected);
    }

    #[test]
    fn a_later_match_after_a_multibyte_character_is_found() {
        // The first "/ü" is followed by "x" (no segment end); the search must step over the
        // whole character to find the second.
        let r = UrlRules::new(PAGE.into(), vec![], vec!["/ü".into()], PAGE.into(), "/refresh".into());
        assert_eq!(r.classify(PAGE, "/üx/ü"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/%C3%BCx/%C3%BC"), UrlClass::Excluded);
        assert!(matches_segments("/éx/é".as_bytes(), "/é".as_bytes()), "raw strings too");
        assert!(matches_segments("/ééé/é".as_bytes(), "é".as_bytes()));
        assert!(!matches_segments(b"/api", b""), "an empty pattern matches nothing");
    }

    #[test]
    fn a_pattern_without_a_leading_slash_still_starts_at_a_segment() {
        let r = UrlRules::new(PAGE.into(), vec![], vec!["login".into(), "auth/token".into()], PAGE.into(), "/r".into());
        assert_eq!(r.classify(PAGE, "/login"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/api/login/"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/api/xlogin/"), UrlClass::Protected);
        assert_eq!(r.classify(PAGE, "/api/auth/token"), UrlClass::Excluded);
        assert_eq!(r.classify(PAGE, "/api/oauth/token"), UrlClass::Protected);
        // A leading slash is a boundary by itself: "/login" never matched "/xlogin" either.
        assert_eq!(rules().classify(PAGE, "/xlogin"), UrlClass::Protected);
    }

    #[test]
    fn normalisation_examples() {
        for (raw, normal) in [
            ("/api/paper-trades/", "/api/paper-trades/"),
            ("/a?x=%41#f", "/a"),
            ("/a%2fb", "/a%2Fb"),
            ("/%7e%41%5F%2e", "/~A_."),
            ("/a b", "/a%20b"),
            ("/100%", "/100%25"),
            ("/%zz", "/%25zz"),
            ("/%4", "/%254"),
            ("/a;b;c/d", "/a/d"),
            ("/;x/login", "/login"),
            ("/ü", "/%C3%BC"),
            ("/%c3%bc", "/%C3%BC"),
            ("/a|b", "/a%7Cb"),
            ("/a%7cb", "/a%7Cb"),
            ("/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="),
            ("///", "/"),
            ("", ""),
        ] {
            assert_eq!(normalise_path(raw), normal, "{raw:?}");
            assert_eq!(normalise_path(normal), normal, "idempotent on {normal:?}");
        }
    }

    #[test]
    fn the_usual_path_comes_back_borrowed() {
        assert!(matches!(normalise_path("/api/paper-trades/"), Cow::Borrowed("/api/paper-trades/")));
        assert!(matches!(normalise_path("/api/search?q=%41//"), Cow::Borrowed("/api/search")));
        assert!(matches!(normalise_path("/api//x"), Cow::Owned(_)));
    }

    #[test]
    fn patterns_that_normalise_to_nothing_are_ignored() {
        let r = UrlRules::new(PAGE.into(), vec![], vec![";x".into(), "?q".into(), "#".into()], PAGE.into(), "/r".into());
        assert_eq!(r.classify(PAGE, "/api/data"), UrlClass::Protected);
    }

    #[test]
    fn an_unset_refresh_path_excludes_nothing() {
        let r = UrlRules::new(PAGE.into(), vec![], vec![], PAGE.into(), String::new());
        assert_eq!(r.classify(PAGE, "/"), UrlClass::Protected);
        assert_eq!(r.classify(PAGE, ""), UrlClass::Protected);
    }
}
