//! The `code` of every error is API: apps match on it. The list lives once, in
//! `core::errors::ErrorCode`; this holds the TypeScript union and the codes the JS layer throws
//! itself to exactly that list, so that neither can drift from what Rust produces.

use authkeeper::core::errors::{CoreError, ErrorCode};
use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_owned() + path).unwrap()
}

/// The quoted names between `export type ErrorCode =` and the `;` that ends it.
fn declared_codes(dts: &str) -> BTreeSet<String> {
    let start = dts.find("export type ErrorCode =").expect("js/index.d.ts declares ErrorCode");
    let union = &dts[start..start + dts[start..].find(';').unwrap()];
    assert!(!union.contains("string &"), "ErrorCode must be a closed union: {union}");
    union.split('\'').skip(1).step_by(2).map(str::to_owned).collect()
}

/// Codes that `js/index.js` passes to its error constructors, `makeError` or `bad()` (always invalid_option).
fn thrown_by_js(js: &str) -> BTreeSet<String> {
    // `new AuthkeeperError('code', ...)` and `makeError('code', ...)` (the driver's own errors;
    // the core's are named by `CORE_CODES` and worded by `CORE_TEXT`, held to `CoreError` below).
    let mut codes: BTreeSet<String> = ["AuthkeeperError('", "makeError('"]
        .iter()
        .flat_map(|opener| js.split(opener).skip(1))
        .map(|rest| rest[..rest.find('\'').unwrap()].to_owned())
        .collect();
    if js.contains("bad(") {
        codes.insert("invalid_option".into());
    }
    codes
}

#[test]
fn the_typescript_union_is_exactly_the_rust_list() {
    let rust: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(declared_codes(&read("js/index.d.ts")), rust);
}

#[test]
fn every_code_the_js_layer_throws_is_on_the_rust_list() {
    let rust: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    let js = thrown_by_js(&read("js/index.js"));
    assert!(!js.is_empty());
    let unknown: Vec<_> = js.difference(&rust).collect();
    assert!(unknown.is_empty(), "js/index.js throws codes Rust does not list: {unknown:?}");
}

#[test]
fn codes_are_distinct_snake_case() {
    let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let set: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(set.len(), names.len());
    assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
}

/// The codes of `js/index.js`'s `CORE_CODES` list, in its order, and how many wordings its
/// `CORE_TEXT` table has (one per code, each entry opening a line with `  (`).
fn core_error_table(js: &str) -> (Vec<String>, usize) {
    let start = js.find("const CORE_CODES = [").expect("js/index.js has CORE_CODES");
    let list = &js[start..start + js[start..].find("];").unwrap()];
    let codes = list.split('\'').skip(1).step_by(2).map(str::to_owned).collect();
    let start = js.find("const CORE_TEXT = VERBOSE && [\n").expect("js/index.js has CORE_TEXT");
    let table = &js[start..start + js[start..].find("\n];").unwrap()];
    (codes, table.matches("\n  (").count())
}

#[test]
fn the_js_wording_table_gives_each_core_error_its_code_in_order() {
    let (js, wordings) = core_error_table(&read("js/index.js"));
    let rust: Vec<String> = CoreError::ALL.iter().map(|e| e.code().as_str().to_owned()).collect();
    assert_eq!(js, rust);
    assert_eq!(wordings, rust.len(), "CORE_TEXT words every code");
    for (i, e) in CoreError::ALL.iter().enumerate() {
        assert_eq!(*e as usize, i, "the wire number of {e:?} is its place in ALL");
    }
}

/// The option names of `js/index.js`'s `RANGED` table, in its order.
#[test]
fn the_js_option_names_follow_the_ranged_options() {
    use authkeeper::core::options::Ranged;
    let js = read("js/index.js");
    let start = js.find("const RANGED = [").expect("js/index.js has RANGED");
    let list = &js[start..start + js[start..].find("];").unwrap()];
    let names: Vec<&str> = list.split('\'').skip(1).step_by(2).collect();
    let expected = [
        (Ranged::MaxAttempts, "retry.maxAttempts"),
        (Ranged::BaseDelay, "retry.baseDelay"),
        (Ranged::MaxDelay, "retry.maxDelay"),
        (Ranged::Cooldown, "retry.cooldown"),
        (Ranged::GiveUpAfter, "retry.giveUpAfter"),
        (Ranged::Leeway, "leeway"),
        (Ranged::ExpiringWarning, "expiringWarning"),
        (Ranged::RefreshTimeout, "refreshTimeout"),
    ];
    assert_eq!(names, expected.map(|(_, name)| name));
    for (i, (option, name)) in expected.iter().enumerate() {
        assert_eq!(*option as usize, i, "{option:?} is {name} in RANGED");
        assert_eq!(Ranged::ALL[i], *option);
    }
    assert_eq!(Ranged::ALL.len(), names.len());
}

/// The keys of `js/index.js`'s `LOGOUT_TEXT`, in order: `REASONS = Object.keys(LOGOUT_TEXT)`
/// names a logout reason by the number the wasm sends, its place in `LogoutReason::ALL`.
#[test]
fn the_js_logout_texts_follow_the_logout_reasons_in_order() {
    use authkeeper::core::policy::LogoutReason;
    let js = read("js/index.js");
    let start = js.find("const LOGOUT_TEXT = {\n").expect("js/index.js has LOGOUT_TEXT");
    let table = &js[start..start + js[start..].find("\n};").unwrap()];
    let keys: Vec<&str> = table.lines().skip(1).map(|l| l.trim_start().split(':').next().unwrap()).collect();
    let rust: Vec<&str> = LogoutReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(keys, rust);
    assert!(js.contains("const REASONS = Object.keys(LOGOUT_TEXT);"));
    // src/web writes a reason as `reason as u32` and reads it back by its place in ALL.
    for (i, r) in LogoutReason::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i, "the wire number of {r:?} is its place in ALL");
    }
}
