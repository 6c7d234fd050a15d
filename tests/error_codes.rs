//! The `code` of every error is API: apps match on it. The list lives once, in
//! `core::errors::ErrorCode`; this holds the TypeScript union and the codes the JS layer throws
//! itself to exactly that list, so that neither can drift from what Rust produces.

use authkeeper::core::errors::ErrorCode;
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

/// Codes that `js/index.js` passes to its error constructors or `bad()` (always invalid_option).
fn thrown_by_js(js: &str) -> BTreeSet<String> {
    let mut codes: BTreeSet<String> = js
        .split("AuthkeeperError('")
        .skip(1)
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
