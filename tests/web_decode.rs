//! `decode_jwt` as the wasm module exports it: claims come back as a plain JS object, and
//! garbage becomes a real JS `Error` with the stable `code` the JS layer relies on.
#![cfg(target_arch = "wasm32")]

use authkeeper::web::decode_jwt;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn token(payload: &str) -> String {
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap()
}

#[wasm_bindgen_test]
fn decode_jwt_returns_time_claims_as_numbers_and_keeps_custom_claims() {
    let jwt =
        token(r#"{"exp":1700000300,"iat":1700000000,"sub":"42","user_id":7,"roles":["admin","ops"],"org":{"id":3}}"#);
    let claims = decode_jwt(&jwt).expect("a valid token decodes");
    assert_eq!(get(&claims, "exp").as_f64(), Some(1_700_000_300.0));
    assert_eq!(get(&claims, "iat").as_f64(), Some(1_700_000_000.0));
    assert_eq!(get(&claims, "sub").as_string().as_deref(), Some("42"));
    let roles = js_sys::Array::from(&get(&claims, "roles"));
    assert_eq!(roles.iter().map(|r| r.as_string().unwrap()).collect::<Vec<_>>(), ["admin", "ops"]);
    assert_eq!(get(&get(&claims, "org"), "id").as_f64(), Some(3.0));
    // No claim that was not in the token appears.
    assert!(get(&claims, "nbf").is_undefined());
}

#[wasm_bindgen_test]
fn decode_jwt_rejects_malformed_tokens_with_an_error_carrying_code_malformed_token() {
    for bad in [
        "",
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJIUzI1NiJ9.!!!.c2ln",
        &token("not json"),
        &token("[1,2,3]"),
        &token(r#"{"exp":"tomorrow"}"#),
    ] {
        let err = decode_jwt(bad).expect_err(bad);
        assert!(err.is_instance_of::<js_sys::Error>(), "{bad:?}: a real Error, not a bare string");
        assert_eq!(get(&err, "code").as_string().as_deref(), Some("malformed_token"), "{bad:?}");
        let message = err.unchecked_ref::<js_sys::Error>().message().as_string().unwrap();
        assert!(message.starts_with("decodeJwt: "), "{bad:?}: {message}");
    }
}

#[wasm_bindgen_test]
fn decode_jwt_refuses_an_oversized_token_without_panicking() {
    let huge = token(&format!(r#"{{"pad":"{}"}}"#, "x".repeat(200_000)));
    let err = decode_jwt(&huge).expect_err("oversized");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("malformed_token"));
}
