//! Reading a JWT's claims. Only the payload is decoded and nothing is verified: the client
//! cannot check the signature (it has no key) and does not need to; it only wants to know when
//! the token expires. The server remains the judge of validity.

use crate::core::errors::ErrorCode;
use crate::core::json::{base64url_decode, Json};
use std::fmt;

/// Longer tokens are refused before any decoding: real JWTs are a few KB at most, and a
/// corrupted storage entry must not cost a megabyte of base64 work.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

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
    /// Every other claim, in document order.
    pub extra: Vec<(String, Json)>,
}

/// Why a token is not a readable JWT. Messages never contain the token itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    pub fn code(&self) -> ErrorCode {
        ErrorCode::MalformedToken
    }

    /// A fixed message (no formatting machinery reaches the wasm through it).
    pub fn message(&self) -> &'static str {
        match self {
            JwtError::Empty => "the token is empty",
            JwtError::TooLarge => "the token is longer than 16 KiB",
            JwtError::SegmentCount(_) => "a JWT has 3 dot-separated segments",
            JwtError::Base64 => "the token payload is not base64url",
            JwtError::NotJson => "the token payload is not JSON",
            JwtError::NotObject => "the token payload is not a JSON object",
            JwtError::BadClaim(_) => "a time claim (exp, iat, nbf) is not a number",
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for JwtError {}

/// The claims the session machine times a token by: `Copy`, so the machine never carries (or
/// links the drop code of) the rest of a token's claims.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeClaims {
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
}

/// A token as the session machine holds it: the text itself on the host, a handle in the shipped
/// wasm (js/index.js keeps the text, so no token byte enters wasm memory). The machine only
/// copies, compares and stores tokens; what it needs to know of their text is whether it is
/// blank and, through its [`Decoder`], their claims. `Default` is the empty token.
pub trait Token: Clone + PartialEq + Default {
    /// Empty or ASCII whitespace only: as good as no token.
    fn is_blank(&self) -> bool;
}

impl Token for String {
    fn is_blank(&self) -> bool {
        self.trim_ascii().is_empty()
    }
}

/// How the machine reads a token's claims: [`decode_text`] (this crate's base64url + JSON
/// reader) on the host; the shipped wasm passes one that asks the browser (`atob` +
/// `JSON.parse`) about the text behind a handle. Either answers every [`JwtError`] as [`decode`]
/// does: `Empty` for a blank token, `TooLarge` past [`MAX_TOKEN_LEN`], `SegmentCount` for
/// anything but three dot-separated segments.
pub type Decoder<T = String> = fn(&T) -> Result<TimeClaims, JwtError>;

/// [`decode`], keeping the time claims.
pub fn decode_times(token: &str) -> Result<TimeClaims, JwtError> {
    decode(token).map(|c| TimeClaims { exp: c.exp, iat: c.iat, nbf: c.nbf })
}

/// [`decode_times`] as the host's [`Decoder`] of `String` tokens.
#[allow(clippy::ptr_arg)]
pub fn decode_text(token: &String) -> Result<TimeClaims, JwtError> {
    decode_times(token)
}

/// Decodes the payload (middle segment) of a compact JWS. Surrounding whitespace is ignored
/// (a token pasted or stored with a newline is still the same token).
pub fn decode(token: &str) -> Result<Claims, JwtError> {
    let token = token.trim_ascii();
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
    let bytes = base64url_decode(payload).ok_or(JwtError::Base64)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| JwtError::NotJson)?;
    match Json::parse(text).ok_or(JwtError::NotJson)? {
        Json::Obj(members) => claims_from(members),
        _ => Err(JwtError::NotObject),
    }
}

fn take(members: &mut Vec<(String, Json)>, name: &str) -> Option<Json> {
    // The last occurrence wins (as in JSON.parse); earlier duplicates are dropped with it.
    let mut found = None;
    members.retain_mut(|(k, v)| {
        if k == name {
            found = Some(std::mem::replace(v, Json::Null));
            false
        } else {
            true
        }
    });
    found
}

fn claims_from(mut members: Vec<(String, Json)>) -> Result<Claims, JwtError> {
    let exp = time_claim(take(&mut members, "exp"), "exp")?;
    let iat = time_claim(take(&mut members, "iat"), "iat")?;
    let nbf = time_claim(take(&mut members, "nbf"), "nbf")?;
    let sub = identity_claim(&mut members, "sub");
    let user_id = identity_claim(&mut members, "user_id");
    Ok(Claims { exp, iat, nbf, sub, user_id, extra: members })
}

/// NumericDate: integers, or floats (some issuers emit `1700000000.123`), truncated to seconds.
/// `null` is treated as absent; anything else would make the expiry meaningless.
fn time_claim(value: Option<Json>, name: &'static str) -> Result<Option<i64>, JwtError> {
    match value {
        None | Some(Json::Null) => Ok(None),
        // `as` saturates for out-of-range floats; JSON has no NaN or infinity.
        Some(Json::Num(n)) => Ok(Some(n.trunc() as i64)),
        Some(_) => Err(JwtError::BadClaim(name)),
    }
}

/// Identity claims are informational only, so an unexpected type is left in `extra` rather
/// than rejecting an otherwise usable token.
fn identity_claim(members: &mut Vec<(String, Json)>, name: &str) -> Option<String> {
    let text = match members.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)? {
        Json::Str(s) => s.clone(),
        Json::Num(n) if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => integer_text(*n as i64),
        _ => return None,
    };
    take(members, name);
    Some(text)
}

/// Decimal text of an integer, without the formatting machinery.
fn integer_text(n: i64) -> String {
    let mut digits = Vec::new();
    let mut rest = n.unsigned_abs();
    loop {
        digits.push(b'0' + (rest % 10) as u8);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine as _;

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
        assert_eq!(claims.extra, vec![("role".to_owned(), Json::Str("admin".into()))]);
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
        // Only ASCII white space is trimmed (as HTTP's OWS): other white space is token text.
        assert_eq!(decode("\u{a0}"), Err(JwtError::SegmentCount(1)));
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
        assert_eq!(err.code().as_str(), "malformed_token");
        assert!(!err.to_string().contains(&token));
        assert!(!format!("{err:?}").contains("soon"));
    }
}
