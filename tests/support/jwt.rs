//! Test support shared by the host-side Rust tests: unsigned JWTs for the core to decode.
//!
//! The core never checks signatures (the server does), so a fixed header and a dummy signature
//! around any JSON payload make a token it reads exactly as it reads a real one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// `header.payload.signature`, the payload being `payload_json` base64url-encoded.
pub fn unsigned_jwt(payload_json: &str) -> String {
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload_json))
}
