//! Auth endpoints: login (three response shapes), the three refresh contracts (SimpleJWT,
//! OAuth-style, httpOnly cookie) sharing one validation path and error contract, logout,
//! and two anonymous endpoints (register, verify-otp) used to prove the SDK never
//! refreshes on, or attaches a bearer to, them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::http::{
    bad_request, cookie, json_response, parse_body_object, parse_json_object, with_header, ApiError, RawBody,
};
use crate::state::{App, FaultAction, State as Db};
use crate::tokens::{self, TokenType};

pub const REFRESH_COOKIE: &str = "refresh_token";
/// Scoped to the auth endpoints so the refresh cookie never rides along on API calls.
const COOKIE_ATTRS: &str = "HttpOnly; SameSite=Strict; Path=/api/auth/";

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/auth/login/", post(login))
        .route("/api/auth/token/refresh/", post(refresh_simplejwt))
        .route("/api/auth/oauth/token/", post(refresh_oauth))
        .route("/api/auth/cookie/refresh/", post(refresh_cookie))
        .route("/api/auth/logout/", post(logout))
        .route("/api/auth/register/", post(register))
        .route("/api/auth/verify-otp/", post(verify_otp))
}

/// Which backend contract a login or refresh answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Contract {
    SimpleJwt,
    OAuth,
    Cookie,
}

/// A freshly issued access token, plus a refresh token when one was issued (always on
/// login; on refresh only with rotation on).
struct Issued {
    access: String,
    refresh: Option<String>,
    expires_in: i64,
}

fn set_refresh_cookie(res: Response, token: &str) -> Response {
    with_header(
        res,
        header::SET_COOKIE,
        &format!("{REFRESH_COOKIE}={token}; {COOKIE_ATTRS}"),
    )
}

fn clear_refresh_cookie(res: Response) -> Response {
    with_header(
        res,
        header::SET_COOKIE,
        &format!("{REFRESH_COOKIE}=; {COOKIE_ATTRS}; Max-Age=0"),
    )
}

/// Shape the success body (and cookie) for the contract.
fn issued_response(contract: Contract, issued: Issued) -> Response {
    match contract {
        Contract::SimpleJwt => {
            let mut body = json!({ "access": issued.access });
            if let Some(r) = &issued.refresh {
                body["refresh"] = json!(r);
            }
            json_response(StatusCode::OK, body)
        }
        Contract::OAuth => {
            let mut body = json!({
                "access_token": issued.access,
                "expires_in": issued.expires_in,
                "token_type": "Bearer",
            });
            if let Some(r) = &issued.refresh {
                body["refresh_token"] = json!(r);
            }
            json_response(StatusCode::OK, body)
        }
        Contract::Cookie => {
            let res = json_response(StatusCode::OK, json!({ "access": issued.access }));
            match &issued.refresh {
                Some(r) => set_refresh_cookie(res, r),
                None => res,
            }
        }
    }
}

fn issue_access(app: &App, db: &Db, user_id: u64) -> String {
    tokens::issue(
        &app.secret,
        TokenType::Access,
        user_id,
        db.now_secs(),
        db.config.access_ttl,
    )
    .0
}

fn issue_refresh(app: &App, db: &mut Db, user_id: u64) -> String {
    let (token, claims) = tokens::issue(
        &app.secret,
        TokenType::Refresh,
        user_id,
        db.now_secs(),
        db.config.refresh_ttl,
    );
    db.issued.insert(claims.jti);
    token
}

/// A string field of a JSON body; a non-string, non-null value is stringified (as DRF's
/// CharField does), so it then fails token validation rather than looking "missing".
fn string_field(body: Option<&Map<String, Value>>, name: &str) -> Option<String> {
    match body?.get(name)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Login

fn parse_mode(query: Option<&str>) -> Result<Contract, ApiError> {
    let mode = query
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "mode")
        .map(|(_, v)| v);
    match mode {
        None | Some("") | Some("simplejwt") => Ok(Contract::SimpleJwt),
        Some("oauth") => Ok(Contract::OAuth),
        Some("cookie") => Ok(Contract::Cookie),
        Some(other) => Err(bad_request(format!(
            "unknown mode {other:?}; use simplejwt, oauth or cookie"
        ))),
    }
}

async fn login(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    // Counted before any validation: every login request is a login call.
    app.lock().counters.login_calls += 1;
    let RawBody(body) = body?;
    let contract = parse_mode(query.as_deref())?;
    let body = parse_json_object(&body)?;
    let (Some(username), Some(password)) = (
        string_field(body.as_ref(), "username"),
        string_field(body.as_ref(), "password"),
    ) else {
        return Err(bad_request("username and password are required"));
    };

    let mut db = app.lock();
    let user = db.user.clone();
    // An inactive user gets the same 401 as bad credentials (SimpleJWT does not tell them apart).
    if username != user.username || password != user.password || !user.active {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            json!({
                "detail": "No active account found with the given credentials",
                "code": "authentication_failed",
            }),
        ));
    }
    let access = issue_access(&app, &db, user.id);
    let refresh = issue_refresh(&app, &mut db, user.id);
    let expires_in = db.config.access_ttl;
    drop(db);
    Ok(issued_response(
        contract,
        Issued {
            access,
            refresh: Some(refresh),
            expires_in,
        },
    ))
}

// ---------------------------------------------------------------------------------------
// Refresh: one validation path, three request/response shapes

enum RefreshError {
    Missing,
    Invalid,
    Blacklisted,
    UserNotFound,
    UserInactive,
}

impl RefreshError {
    fn into_error(self) -> ApiError {
        let (status, body) = match self {
            RefreshError::Missing => (
                StatusCode::BAD_REQUEST,
                json!({ "error": "refresh_token_required", "detail": "Refresh token is required", "action": "clear_tokens" }),
            ),
            RefreshError::Invalid => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "invalid_token", "detail": "Token is expired or invalid", "action": "clear_tokens" }),
            ),
            // SimpleJWT's own shape, deliberately without `action`: the SDK must recognise
            // `code: token_not_valid` on its own.
            RefreshError::Blacklisted => (
                StatusCode::UNAUTHORIZED,
                json!({ "detail": "Token is blacklisted", "code": "token_not_valid" }),
            ),
            RefreshError::UserNotFound => (
                StatusCode::UNAUTHORIZED,
                json!({
                    "error": "user_not_found",
                    "detail": "User account no longer exists. Please log in again.",
                    "action": "clear_tokens",
                }),
            ),
            RefreshError::UserInactive => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "user_inactive", "detail": "User account is inactive", "action": "clear_tokens" }),
            ),
        };
        ApiError::new(status, body)
    }
}

/// Validate a presented refresh token and issue new tokens, in the contract's order:
/// missing → invalid/expired → blacklisted → user gone → user inactive.
/// Runs entirely under the state lock so concurrent reuse of one token is serialised.
fn validate_and_rotate(
    app: &App,
    db: &mut Db,
    token: Option<String>,
) -> Result<Issued, RefreshError> {
    let token = token
        .filter(|t| !t.trim().is_empty())
        .ok_or(RefreshError::Missing)?;
    let claims = tokens::verify(&app.secret, token.trim(), TokenType::Refresh, db.now_ms())
        .map_err(|_| RefreshError::Invalid)?;
    if !db.issued.contains(&claims.jti) {
        return Err(RefreshError::Invalid);
    }
    if db.blacklist.contains(&claims.jti) {
        db.counters.refresh_reuse += 1;
        return Err(RefreshError::Blacklisted);
    }
    if claims.user_id != db.user.id {
        return Err(RefreshError::UserNotFound);
    }
    if !db.user.active {
        return Err(RefreshError::UserInactive);
    }
    let user_id = claims.user_id;
    let access = issue_access(app, db, user_id);
    let refresh = if db.config.rotate {
        // BLACKLIST_AFTER_ROTATION: the presented token becomes single-use.
        if db.config.blacklist {
            db.blacklist.insert(claims.jti);
        }
        Some(issue_refresh(app, db, user_id))
    } else {
        None
    };
    Ok(Issued {
        access,
        refresh,
        expires_in: db.config.access_ttl,
    })
}

/// Django's production 500 page: HTML, not JSON, so clients must cope with non-JSON errors.
const DJANGO_500: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n";

async fn refresh(
    app: Arc<App>,
    contract: Contract,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    // 1. Fault injection comes before anything else, and consumes one of its `times`.
    // Counted under one lock so an observer never sees a call without its outcome.
    let fault = {
        let mut db = app.lock();
        db.counters.refresh_calls += 1;
        let fault = db.faults.take();
        if matches!(
            fault,
            FaultAction::Error500 | FaultAction::TooMany429 { .. }
        ) {
            db.counters.refresh_failed += 1;
        }
        fault
    };
    match fault {
        FaultAction::None => {}
        FaultAction::Error500 => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                DJANGO_500,
            )
                .into_response();
        }
        FaultAction::TooMany429 { retry_after } => {
            let res = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "detail": format!("Request was throttled. Expected available in {retry_after} seconds."),
                    "code": "throttled",
                }),
            );
            return with_header(res, header::RETRY_AFTER, &retry_after.to_string());
        }
        // A slow backend: wait, then answer normally (validated at the time of answering).
        FaultAction::Hang { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
    }

    let token = match contract {
        Contract::Cookie => cookie(&headers, REFRESH_COOKIE).map(str::to_string),
        Contract::SimpleJwt | Contract::OAuth => {
            match body.and_then(|RawBody(b)| parse_body_object(&headers, &b)) {
                Ok(map) => {
                    let field = if contract == Contract::OAuth {
                        "refresh_token"
                    } else {
                        "refresh"
                    };
                    string_field(map.as_ref(), field)
                }
                Err(e) => {
                    app.lock().counters.refresh_failed += 1;
                    return e.into_response();
                }
            }
        }
    };

    let mut db = app.lock();
    match validate_and_rotate(&app, &mut db, token) {
        Ok(issued) => {
            db.counters.refresh_ok += 1;
            drop(db);
            issued_response(contract, issued)
        }
        Err(e) => {
            db.counters.refresh_failed += 1;
            drop(db);
            e.into_error().into_response()
        }
    }
}

async fn refresh_simplejwt(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    refresh(app, Contract::SimpleJwt, headers, body).await
}

async fn refresh_oauth(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    // RFC 6749 §6: a form-encoded body (JSON is accepted too); `grant_type` and `client_id`
    // are ignored.
    refresh(app, Contract::OAuth, headers, body).await
}

async fn refresh_cookie(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    refresh(app, Contract::Cookie, headers, body).await
}

// ---------------------------------------------------------------------------------------
// Logout and the anonymous endpoints

/// Blacklists the presented refresh token (body `{refresh}` / `{refresh_token}`, or the
/// cookie) and clears the cookie. Lenient on purpose: an invalid or absent token still
/// answers 200, since the client is logging out either way.
async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let body = parse_json_object(&body)?;
    let token = string_field(body.as_ref(), "refresh")
        .or_else(|| string_field(body.as_ref(), "refresh_token"))
        .or_else(|| cookie(&headers, REFRESH_COOKIE).map(str::to_string));
    if let Some(token) = token {
        let mut db = app.lock();
        if let Ok(claims) =
            tokens::verify(&app.secret, token.trim(), TokenType::Refresh, db.now_ms())
        {
            db.blacklist.insert(claims.jti);
        }
    }
    Ok(clear_refresh_cookie(json_response(
        StatusCode::OK,
        json!({}),
    )))
}

fn count_leaked_bearer(app: &App, headers: &HeaderMap) {
    if headers.contains_key(header::AUTHORIZATION) {
        app.lock().counters.leaked_bearer += 1;
    }
}

async fn register(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    count_leaked_bearer(&app, &headers);
    parse_json_object(&body?.0)?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "detail": "registered" }),
    ))
}

const VALID_OTP: &str = "123456";

async fn verify_otp(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    count_leaked_bearer(&app, &headers);
    let body = parse_json_object(&body?.0)?;
    // Accept the code as a string or a number; anything else is simply a wrong code.
    if string_field(body.as_ref(), "otp").as_deref() == Some(VALID_OTP) {
        Ok(json_response(
            StatusCode::OK,
            json!({ "detail": "verified" }),
        ))
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Invalid OTP" }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_parsing() {
        assert_eq!(parse_mode(None).ok(), Some(Contract::SimpleJwt));
        assert_eq!(
            parse_mode(Some("a=1&mode=oauth")).ok(),
            Some(Contract::OAuth)
        );
        assert_eq!(parse_mode(Some("mode=cookie")).ok(), Some(Contract::Cookie));
        assert!(parse_mode(Some("mode=bogus")).is_err());
    }
}
