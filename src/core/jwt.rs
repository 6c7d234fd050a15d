//! Reading a JWT's claims. Only the payload is decoded and nothing is verified: the client
//! cannot check the signature (it has no key) and does not need to; it only wants to know when
//! the token expires. The server remains the judge of validity.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Longer tokens are refused before any decoding: real JWTs are a few KB at most, and a
/// corrupted storage entry must not cost a megabyte of base64 work.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// base64url, accepting both the unpadded form JWTs use and padded variants some encoders emit.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The claims authkeeper reads, plus everything else kept as JSON for the app.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// Expiry, seconds since the epoch on the SERVER clock.
    pub exp: Option<i64>,
    /// Issued-at, seconds since the epoch on the SERVER clock.
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub sub: Option<String>,
    /// SimpleJWT's `user_id`: a number or a string in the JSON, kept as text.
    pub user_id: Option<String>,
    pub extra: BTreeMap<String, Value>,
}

/// Why a token is not a readable JWT. Messages never contain the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwtError {
    Empty,
    TooLarge,
    /// A JWS has exactly three dot-separated segments.
    SegmentCount(usize),
    Base64,
    NotJson,
    NotObject,
    /// A time claim that is not a number (its name).
    BadClaim(&'static str),
}

impl JwtError {
    /// The stable error code that reaches JS: every variant is a malformed token to the app.
    pub fn code(&self) -> &'static str {
        "malformed_token"
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Empty => write!(f, "the token is empty"),
            JwtError::TooLarge => write!(f, "the token is longer than {MAX_TOKEN_LEN} bytes"),
            JwtError::SegmentCount(n) => write!(f, "a JWT has 3 segments, this token has {n}"),
            JwtError::Base64 => write!(f, "the token payload is not base64url"),
            JwtError::NotJson => write!(f, "the token payload is not JSON"),
            JwtError::NotObject => write!(f, "the token payload is not a JSON object"),
            JwtError::BadClaim(name) => write!(f, "the token claim `{name}` is not a number"),
        }
    }
}

impl std::error::Error for JwtError {}

/// Decodes the payload (middle segment) of a compact JWS. Surrounding whitespace is ignored
/// (a token pasted or stored with a newline is still the same token).
pub fn decode(token: &str) -> Result<Claims, JwtError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(JwtError::Empty);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLarge);
    }
    let mut segments = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(JwtError::SegmentCount(token.split('.').count()));
    };
    let bytes = BASE64URL.decode(payload).map_err(|_| JwtError::Base64)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| JwtError::NotJson)?;
    let Value::Object(map) = value else {
        return Err(JwtError::NotObject);
    };
    claims_from(map)
}

fn claims_from(mut map: Map<String, Value>) -> Result<Claims, JwtError> {
    let exp = time_claim(map.remove("exp"), "exp")?;
    let iat = time_claim(map.remove("iat"), "iat")?;
    let nbf = time_claim(map.remove("nbf"), "nbf")?;
    let sub = identity_claim(&mut map, "sub");
    let user_id = identity_claim(&mut map, "user_id");
    Ok(Claims { exp, iat, nbf, sub, user_id, extra: map.into_iter().collect() })
}

/// NumericDate: integers, or floats (some issuers emit `1700000000.123`), truncated to seconds.
/// `null` is treated as absent; anything else would make the expiry meaningless.
fn time_claim(value: Option<Value>, name: &'static str) -> Result<Option<i64>, JwtError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(u) = n.as_u64() {
                Ok(Some(i64::try_from(u).unwrap_or(i64::MAX)))
            } else {
                // `as` saturates for out-of-range floats; JSON has no NaN or infinity.
                n.as_f64().map(|f| Some(f.trunc() as i64)).ok_or(JwtError::BadClaim(name))
            }
        }
        Some(_) => Err(JwtError::BadClaim(name)),
    }
}

/// Identity claims are informational only, so an unexpected type is left in `extra` rather
/// than rejecting an otherwise usable token.
fn identity_claim(map: &mut Map<String, Value>, name: &str) -> Option<String> {
    let text = match map.get(name)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    map.remove(name);
    Some(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

    pub(crate) fn token_with_payload(payload: &str) -> String {
        format!("eyJhbGciOiJIUzI1NiJ9.{}.c2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn reads_time_and_identity_claims() {
        let token = token_with_payload(r#"{"exp":1700000300,"iat":1700000000,"nbf":1699999990,"sub":"alice","user_id":42,"role":"admin"}"#);
        let claims = decode(&token).unwrap();
        assert_eq!(claims.exp, Some(1_700_000_300));
        assert_eq!(claims.iat, Some(1_700_000_000));
        assert_eq!(claims.nbf, Some(1_699_999_990));
        assert_eq!(claims.sub.as_deref(), Some("alice"));
        assert_eq!(claims.user_id.as_deref(), Some("42"));
        assert_eq!(claims.extra.get("role"), Some(&Value::String("admin".into())));
        assert!(!claims.extra.contains_key("exp"));
    }

    #[test]
    fn string_user_id_is_kept_as_text() {
        let claims = decode(&token_with_payload(r#"{"user_id":"u-7"}"#)).unwrap();
        assert_eq!(claims.user_id.as_deref(), Some("u-7"));
        assert_eq!(claims.exp, None);
    }

    #[test]
    fn float_times_are_truncated_and_null_is_absent() {
        let claims = decode(&token_with_payload(r#"{"exp":1700000300.987,"iat":null}"#)).unwrap();
        assert_eq!(claims.exp, Some(1_700_000_300));
        assert_eq!(claims.iat, None);
    }

    #[test]
    fn huge_numbers_saturate_instead_of_failing() {
        let claims = decode(&token_with_payload(r#"{"exp":1e300,"iat":18446744073709551615}"#)).unwrap();
        assert_eq!(claims.exp, Some(i64::MAX));
        assert_eq!(claims.iat, Some(i64::MAX));
    }

    #[test]
    fn non_numeric_time_claims_are_bad_claims() {
        assert_eq!(decode(&token_with_payload(r#"{"exp":"1700000300"}"#)), Err(JwtError::BadClaim("exp")));
        assert_eq!(decode(&token_with_payload(r#"{"iat":true}"#)), Err(JwtError::BadClaim("iat")));
        assert_eq!(decode(&token_with_payload(r#"{"nbf":[1]}"#)), Err(JwtError::BadClaim("nbf")));
    }

    #[test]
    fn padded_and_unpadded_payloads_both_decode() {
        // 10 and 11 bytes: two and one padding characters.
        for (payload, exp) in [(r#"{"exp":12}"#, 12), (r#"{"exp":123}"#, 123)] {
            let padded = format!("h.{}.s", URL_SAFE.encode(payload));
            let unpadded = format!("h.{}.s", URL_SAFE_NO_PAD.encode(payload));
            assert!(padded.contains('=') && !unpadded.contains('='));
            assert_eq!(decode(&padded).unwrap().exp, Some(exp));
            assert_eq!(decode(&unpadded).unwrap().exp, Some(exp));
        }
    }

    #[test]
    fn wrong_segment_counts_are_reported() {
        assert_eq!(decode("abc"), Err(JwtError::SegmentCount(1)));
        assert_eq!(decode("a.b"), Err(JwtError::SegmentCount(2)));
        assert_eq!(decode("a.b.c.d.e"), Err(JwtError::SegmentCount(5)));
    }

    #[test]
    fn empty_and_whitespace_tokens_are_empty() {
        assert_eq!(decode(""), Err(JwtError::Empty));
        assert_eq!(decode("  \n"), Err(JwtError::Empty));
    }

    #[test]
    fn bad_base64_is_rejected() {
        assert_eq!(decode("h.!!!notbase64!!!.s"), Err(JwtError::Base64));
        // Standard-alphabet characters are not base64url.
        assert_eq!(decode("h.ab+/.s"), Err(JwtError::Base64));
    }

    #[test]
    fn non_json_and_non_object_payloads_are_rejected() {
        assert_eq!(decode(&token_with_payload("not json")), Err(JwtError::NotJson));
        assert_eq!(decode("h..s"), Err(JwtError::NotJson));
        assert_eq!(decode(&token_with_payload("[1,2]")), Err(JwtError::NotObject));
        assert_eq!(decode(&token_with_payload("42")), Err(JwtError::NotObject));
    }

    #[test]
    fn a_megabyte_of_input_is_refused_without_decoding() {
        let huge = format!("h.{}.s", "A".repeat(1024 * 1024));
        assert_eq!(decode(&huge), Err(JwtError::TooLarge));
        let dots = ".".repeat(1024 * 1024);
        assert_eq!(decode(&dots), Err(JwtError::TooLarge));
    }

    #[test]
    fn every_error_has_the_malformed_token_code_and_a_message_without_the_token() {
        let token = token_with_payload(r#"{"exp":"soon"}"#);
        let err = decode(&token).unwrap_err();
        assert_eq!(err.code(), "malformed_token");
        assert!(!err.to_string().contains(&token));
        assert!(!format!("{err:?}").contains("soon"));
    }
}
