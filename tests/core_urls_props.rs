#![cfg(not(target_arch = "wasm32"))]
//! Spellings a server routes alike never change a request's class: escaping unreserved
//! characters (either hex case), raw versus percent-encoded non-ASCII, doubled slashes and
//! `;params` on segments. And the normal form is what it promises to be.

use authkeeper::core::urls::{normalise_path, UrlClass, UrlRules};
use proptest::prelude::*;

const PAGE: &str = "https://app.example.com";

fn rules() -> UrlRules {
    UrlRules::new(
        PAGE.into(),
        vec![],
        vec!["/login".into(), "/register".into(), "/verify-otp".into(), "/anmelden/ü".into(), "auth/sso".into()],
        PAGE.into(),
        "/api/auth/token/refresh/".into(),
    )
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9._~-]{1,8}",
        2 => prop::sample::select(vec![
            "login", "register", "verify-otp", "anmelden", "ü", "auth", "sso", "api", "token", "refresh", "login-history",
            "xlogin", "login.json",
        ])
        .prop_map(String::from),
        1 => "[a-zéü€|!$:@ ]{1,4}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    (prop::collection::vec(segment(), 0..6), any::<bool>()).prop_map(|(segments, trailing)| {
        let mut path = format!("/{}", segments.join("/"));
        if trailing && path.len() > 1 {
            path.push('/');
        }
        path
    })
}

/// How to respell one character: (escape it?, upper-case hex?, double a slash?, params after?).
type Choice = (bool, bool, bool, bool);

/// Another spelling of `path`: unreserved and non-ASCII characters percent-encoded (random
/// case), slashes doubled, `;k=v` parameters appended to segments.
fn respell(path: &str, choices: &[Choice]) -> String {
    let mut out = String::new();
    let mut choice = choices.iter().cycle();
    for c in path.chars() {
        let &(escape, upper, double, params) = choice.next().unwrap_or(&(false, false, false, false));
        if c == '/' {
            if params && !out.is_empty() {
                out.push_str(";k=v");
            }
            out.push_str(if double { "//" } else { "/" });
        } else if escape && (c.is_ascii_alphanumeric() || "-._~".contains(c) || !c.is_ascii()) {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let hex = format!("%{b:02x}");
                out.push_str(&if upper { hex.to_uppercase() } else { hex });
            }
        } else {
            out.push(c);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn respelling_a_path_never_changes_its_class(path in path(), choices in prop::collection::vec(any::<Choice>(), 1..64)) {
        let other = respell(&path, &choices);
        let r = rules();
        prop_assert_eq!(r.classify(PAGE, &path), r.classify(PAGE, &other), "{:?} vs {:?}", path, other);
        prop_assert_eq!(normalise_path(&path), normalise_path(&other));
    }

    #[test]
    fn respelling_a_pattern_never_changes_what_it_matches(
        path in path(),
        pattern in path(),
        choices in prop::collection::vec(any::<Choice>(), 1..64),
    ) {
        let class = |pattern: &str| {
            UrlRules::new(PAGE.into(), vec![], vec![pattern.into()], PAGE.into(), String::new()).classify(PAGE, &path)
        };
        prop_assert_eq!(class(&pattern), class(&respell(&pattern, &choices)));
    }

    #[test]
    fn the_refresh_path_is_recognised_in_any_spelling(choices in prop::collection::vec(any::<Choice>(), 1..64)) {
        let other = respell("/api/auth/token/refresh/", &choices);
        prop_assert_eq!(rules().classify(PAGE, &other), UrlClass::Excluded, "{:?}", other);
    }

    #[test]
    fn the_normal_form_is_idempotent_ascii_and_free_of_separators_it_removed(raw in any::<String>()) {
        let normal = normalise_path(&raw).into_owned();
        prop_assert_eq!(normalise_path(&normal), normal.as_str());
        prop_assert!(normal.is_ascii());
        prop_assert!(!normal.contains(['?', '#', ';']) && !normal.contains("//"), "{:?}", normal);
        // Every escape left is of a reserved or disallowed byte, in upper case.
        for (i, _) in normal.match_indices('%') {
            let hex = &normal[i + 1..i + 3];
            let byte = u8::from_str_radix(hex, 16).unwrap();
            prop_assert_eq!(hex, hex.to_uppercase());
            prop_assert!(!(byte.is_ascii_alphanumeric() || b"-._~".contains(&byte)), "{:?}", normal);
        }
    }

    #[test]
    fn an_encoded_slash_never_splits_a_segment(a in "[a-z]{1,6}", b in "[a-z]{1,6}", upper in any::<bool>()) {
        let slash = if upper { "%2F" } else { "%2f" };
        let r = UrlRules::new(PAGE.into(), vec![], vec![format!("/{a}/{b}")], PAGE.into(), String::new());
        prop_assert_eq!(r.classify(PAGE, &format!("/{a}{slash}{b}")), UrlClass::Protected);
        prop_assert_eq!(r.classify(PAGE, &format!("/{a}/{b}")), UrlClass::Excluded);
    }
}
