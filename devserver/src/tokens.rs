//! HS256 JWTs with SimpleJWT's claim names (`token_type`, `exp`, `iat`, `jti`, `user_id`).
//!
//! Hand-rolled on hmac + sha2 + base64 instead of jsonwebtoken/ring to keep the dev server's
//! cold build small; HS256 is the only algorithm the server issues or accepts.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub token_type: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: u64,
}

/// Why a token was rejected. The HTTP layer folds all of these into one `invalid_token`
/// answer (as the seeds' backends do); the distinction is kept for unit tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    WrongType,
    Expired,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Per-process random key. `RandomState` is seeded from the OS RNG by std, which spares a
/// dependency on `rand`/`getrandom`; hashing it with the time and pid through SHA-256 gives
/// 32 unpredictable-enough bytes for a dev server.
pub fn random_secret() -> [u8; 32] {
    let mut h = Sha256::new();
    for i in 0..4u64 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(i);
        h.update(hasher.finish().to_le_bytes());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.finalize().into()
}

/// A unique token id (32 hex chars, like SimpleJWT's `uuid4().hex`).
pub fn new_jti(secret: &[u8; 32]) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h = Sha256::new();
    h.update(secret);
    h.update(n.to_le_bytes());
    h.update(b"jti");
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(secret: &[u8; 32]) -> HmacSha256 {
    // The key is ours (never request input) and HMAC accepts keys of any length.
    <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC accepts any key length")
}

/// Issue a token of `kind` for `user_id`, valid from `now` (server clock, seconds) for `ttl`.
pub fn issue(
    secret: &[u8; 32],
    kind: TokenType,
    user_id: u64,
    now: i64,
    ttl: i64,
) -> (String, Claims) {
    let claims = Claims {
        token_type: kind.as_str().to_string(),
        exp: now + ttl,
        iat: now,
        jti: new_jti(secret),
        user_id,
    };
    (sign(secret, &claims), claims)
}

pub fn sign(secret: &[u8; 32], claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = m.finalize().into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Verify signature, algorithm, token type and expiry against the server clock `now_ms`.
/// A token is expired once `now >= exp` (PyJWT's rule with zero leeway).
pub fn verify(
    secret: &[u8; 32],
    token: &str,
    expected: TokenType,
    now_ms: i64,
) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header = URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|_| TokenError::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|_| TokenError::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(TokenError::Malformed);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| TokenError::Malformed)?;
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if claims.token_type != expected.as_str() {
        return Err(TokenError::WrongType);
    }
    if now_ms >= claims.exp.saturating_mul(1000) {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn roundtrip() {
        let key = random_secret();
        let (tok, claims) = issue(&key, TokenType::Refresh, 7, NOW, 60);
        assert_eq!(
            verify(&key, &tok, TokenType::Refresh, NOW * 1000),
            Ok(claims.clone())
        );
        assert_eq!(claims.exp, NOW + 60);
        assert_eq!(claims.jti.len(), 32);
    }

    #[test]
    fn rejects_wrong_type_expired_tampered_and_garbage() {
        let key = random_secret();
        let (tok, _) = issue(&key, TokenType::Access, 1, NOW, 30);
        assert_eq!(
            verify(&key, &tok, TokenType::Refresh, NOW * 1000),
            Err(TokenError::WrongType)
        );
        assert_eq!(
            verify(&key, &tok, TokenType::Access, (NOW + 30) * 1000),
            Err(TokenError::Expired)
        );
        let other = random_secret();
        assert_eq!(
            verify(&other, &tok, TokenType::Access, NOW * 1000),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(&key, "abc", TokenType::Access, 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify(&key, "a.b.c", TokenType::Access, 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify(&key, "", TokenType::Access, 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn jtis_are_unique() {
        let key = random_secret();
        let a = new_jti(&key);
        let b = new_jti(&key);
        assert_ne!(a, b);
    }
}
