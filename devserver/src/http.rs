//! Small HTTP helpers shared by the route modules: JSON responses, the raw-body extractor
//! that turns body errors into JSON 400s, and header readers (bearer, cookies).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Upload limit for request bodies (the multipart endpoint is the only big one).
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// An error answer (status + JSON body) that handlers can propagate with `?`.
/// Kept small (unlike `Response`) so `Result<_, ApiError>` stays cheap to pass around.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, body: Value) -> Self {
        ApiError { status, body }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, self.body)
    }
}

/// 400 for anything malformed the client sent (bad JSON, bad fields, bad multipart).
pub fn bad_request(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        json!({ "error": "bad_request", "detail": detail.into() }),
    )
}

/// The raw request body. Unlike axum's `Bytes` extractor, a failure (too large, broken
/// stream) is answered with a JSON error, never plain text.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) => Err(ApiError::new(
                e.status(),
                json!({ "error": "bad_request", "detail": e.body_text() }),
            )),
        }
    }
}

/// Parse an optional JSON object body: an empty (or whitespace-only) body is `None`, as
/// SPA clients and the cookie flow often send no body; anything else must be an object.
pub fn parse_json_object(body: &[u8]) -> Result<Option<serde_json::Map<String, Value>>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(bad_request("JSON body must be an object")),
        Err(e) => Err(bad_request(format!("JSON parse error - {e}"))),
    }
}

/// A request body as an object: form-encoded (RFC 6749 §6 token requests) when the content type
/// says so, JSON otherwise.
pub fn parse_body_object(headers: &HeaderMap, body: &[u8]) -> Result<Option<serde_json::Map<String, Value>>, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return parse_json_object(body);
    }
    let map = form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
    Ok(Some(map))
}

/// The `Authorization: Bearer <token>` value, if present and well-formed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// A cookie's value from all `Cookie` headers (HTTP/1 clients send one, but be lenient).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

pub fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Attach a header whose value we built ourselves (tokens, numbers): never fails in practice,
/// but an invalid value is dropped rather than panicking.
pub fn with_header(mut res: Response, name: header::HeaderName, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(name, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_and_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc.def.ghi"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; refresh_token=xyz"),
        );
        assert_eq!(bearer(&h), Some("abc.def.ghi"));
        assert_eq!(cookie(&h, "refresh_token"), Some("xyz"));
        assert_eq!(cookie(&h, "missing"), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic Zm9v"),
        );
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn empty_body_is_none_and_non_object_is_error() {
        assert!(matches!(parse_json_object(b""), Ok(None)));
        assert!(matches!(parse_json_object(b"  \n"), Ok(None)));
        assert!(matches!(parse_json_object(br#"{"a":1}"#), Ok(Some(_))));
        assert!(parse_json_object(b"[1]").is_err());
        assert!(parse_json_object(b"{nope").is_err());
    }
}
