//! The "application" API the SDK protects: paper trades (JSON and multipart), an echo
//! endpoint that shows exactly what a (replayed) request carried, and one anonymous endpoint.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::http::{
    bad_request, bearer, header_str, json_response, parse_json_object, ApiError, RawBody,
};
use crate::multipart;
use crate::state::{App, Trade};
use crate::tokens::{self, TokenType};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/paper-trades/", get(list_trades).post(create_trade))
        .route("/api/paper-trades/upload/", post(upload))
        // Any method, so replay tests can use PUT/PATCH/DELETE bodies too.
        .route("/api/echo/", any(echo))
        .route("/api/public/", get(public))
}

/// DRF + SimpleJWT's answer to a missing, malformed, expired or orphaned access token.
fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        json!({ "detail": "Given token not valid for any token type", "code": "token_not_valid" }),
    )
}

/// Count the call and check the bearer: a valid access token of the current, active user.
/// Returns the user id.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<u64, ApiError> {
    let mut db = app.lock();
    db.counters.api_calls += 1;
    let ok = bearer(headers)
        .and_then(|t| tokens::verify(&app.secret, t, TokenType::Access, db.now_ms()).ok())
        .filter(|c| c.user_id == db.user.id && db.user.active)
        .map(|c| c.user_id);
    match ok {
        Some(id) => Ok(id),
        None => {
            db.counters.api_401s += 1;
            Err(unauthorized())
        }
    }
}

async fn list_trades(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user_id = authenticate(&app, &headers)?;
    let db = app.lock();
    let trades: Vec<&Trade> = db.trades.iter().filter(|t| t.user_id == user_id).collect();
    Ok(json_response(StatusCode::OK, json!(trades)))
}

/// A positive finite number, given as a JSON number or a numeric string (DRF's DecimalField
/// accepts both).
fn positive_number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n > 0.0).then_some(n)
}

/// Stand-in "market price" when the client does not send one: stable per symbol.
fn mock_price(symbol: &str) -> f64 {
    let sum: u32 = symbol.bytes().map(u32::from).sum();
    100.0 + f64::from(sum % 400)
}

/// Handlers take the body as a `Result` so authentication (and its counters) runs first,
/// even when the body itself is unusable.
async fn create_trade(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    let user_id = authenticate(&app, &headers)?;
    let body = parse_json_object(&body?.0)?
        .ok_or_else(|| bad_request("JSON body required: {symbol, side, qty, price?}"))?;
    let symbol = match body.get("symbol").and_then(Value::as_str).map(str::trim) {
        Some(s) if !s.is_empty() && s.len() <= 16 => s.to_ascii_uppercase(),
        _ => {
            return Err(bad_request(
                "symbol: a non-empty string of at most 16 characters is required",
            ))
        }
    };
    let side = match body
        .get("side")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
    {
        Some(s) if s == "buy" || s == "sell" => s,
        _ => return Err(bad_request("side: must be \"buy\" or \"sell\"")),
    };
    let qty = body
        .get("qty")
        .and_then(positive_number)
        .ok_or_else(|| bad_request("qty: a positive number is required"))?;
    let price = match body.get("price") {
        None | Some(Value::Null) => mock_price(&symbol),
        Some(v) => {
            positive_number(v).ok_or_else(|| bad_request("price: must be a positive number"))?
        }
    };

    let mut db = app.lock();
    let trade = Trade {
        id: db.next_trade_id,
        user_id,
        symbol,
        side,
        qty,
        price,
        created_at: crate::httpdate::iso8601(db.now_ms()),
    };
    db.next_trade_id += 1;
    db.trades.push(trade.clone());
    Ok(json_response(StatusCode::CREATED, json!(trade)))
}

async fn upload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    authenticate(&app, &headers)?;
    let RawBody(body) = body?;
    let boundary = header_str(&headers, header::CONTENT_TYPE)
        .and_then(multipart::boundary)
        .ok_or_else(|| bad_request("Content-Type must be multipart/form-data with a boundary"))?;
    let parts = multipart::parse(&body, &boundary)
        .map_err(|e| bad_request(format!("Malformed multipart body: {e}")))?;
    let mut fields = serde_json::Map::new();
    let mut files = Vec::new();
    for part in parts {
        match part.filename {
            Some(filename) => files
                .push(json!({ "field": part.name, "filename": filename, "size": part.data.len() })),
            None => {
                fields.insert(
                    part.name,
                    Value::String(String::from_utf8_lossy(part.data).into_owned()),
                );
            }
        }
    }
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "fields": fields, "files": files }),
    ))
}

async fn echo(
    State(app): State<Arc<App>>,
    method: Method,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    authenticate(&app, &headers)?;
    let RawBody(body) = body?;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "method": method.as_str(),
            "content_type": header_str(&headers, header::CONTENT_TYPE),
            "body": String::from_utf8_lossy(&body),
            "authorization": header_str(&headers, header::AUTHORIZATION),
        }),
    ))
}

async fn public(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    // An anonymous endpoint must never receive the bearer: the e2e tests assert this stays 0.
    if headers.contains_key(header::AUTHORIZATION) {
        app.lock().counters.leaked_bearer += 1;
    }
    json_response(StatusCode::OK, json!({ "ok": true }))
}
