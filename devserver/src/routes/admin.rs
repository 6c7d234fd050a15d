//! Test-control API under `/__admin/` (no auth): inspect counters, change config, simulate
//! user deletion/deactivation, inject refresh faults, skew the clock, reset.
//! Every POST answers with the full state, like `GET /__admin/state`.
//! Unknown fields are rejected with 400 so a typo in a test fails loudly instead of being a no-op.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{Map, Value};

use crate::http::{bad_request, json_response, parse_json_object, ApiError, RawBody};
use crate::state::{
    App, Counters, FaultKind, Faults, State as Db, DEFAULT_HANG_MS, DEFAULT_RETRY_AFTER,
};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/__admin/state", get(state))
        .route("/__admin/config", post(config))
        .route("/__admin/user/delete", post(user_delete))
        .route("/__admin/user/deactivate", post(user_deactivate))
        .route("/__admin/user/activate", post(user_activate))
        .route("/__admin/fault", post(fault))
        .route("/__admin/clock", post(clock))
        .route("/__admin/counters/reset", post(counters_reset))
        .route("/__admin/reset", post(reset))
}

fn state_response(db: &Db) -> Response {
    json_response(StatusCode::OK, db.to_json())
}

/// Apply `f` under the lock and answer with the resulting state.
fn mutate(app: &App, f: impl FnOnce(&mut Db)) -> Response {
    let mut db = app.lock();
    f(&mut db);
    state_response(&db)
}

fn object_body(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let map = parse_json_object(body)?.unwrap_or_default();
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad_request(format!(
            "unknown field {k:?}; allowed: {}",
            allowed.join(", ")
        )));
    }
    Ok(map)
}

fn int_field(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad_request(format!("{key}: must be an integer"))),
    }
}

fn non_negative(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match int_field(map, key)? {
        Some(n) if n < 0 => Err(bad_request(format!("{key}: must be >= 0"))),
        other => Ok(other.map(|n| n as u64)),
    }
}

fn bool_field(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| bad_request(format!("{key}: must be a boolean"))),
    }
}

async fn state(State(app): State<Arc<App>>) -> Response {
    state_response(&app.lock())
}

async fn config(State(app): State<Arc<App>>, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let map = object_body(&body, &["access_ttl", "refresh_ttl", "rotate", "blacklist"])?;
    // TTLs may be 0 or negative on purpose: that issues already-expired tokens.
    let access_ttl = int_field(&map, "access_ttl")?;
    let refresh_ttl = int_field(&map, "refresh_ttl")?;
    let rotate = bool_field(&map, "rotate")?;
    let blacklist = bool_field(&map, "blacklist")?;
    Ok(mutate(&app, |db| {
        let c = &mut db.config;
        c.access_ttl = access_ttl.unwrap_or(c.access_ttl);
        c.refresh_ttl = refresh_ttl.unwrap_or(c.refresh_ttl);
        c.rotate = rotate.unwrap_or(c.rotate);
        c.blacklist = blacklist.unwrap_or(c.blacklist);
    }))
}

async fn user_delete(State(app): State<Arc<App>>) -> Response {
    mutate(&app, Db::recreate_user)
}

async fn user_deactivate(State(app): State<Arc<App>>) -> Response {
    mutate(&app, |db| db.user.active = false)
}

async fn user_activate(State(app): State<Arc<App>>) -> Response {
    mutate(&app, |db| db.user.active = true)
}

fn parse_fault(body: &[u8]) -> Result<Faults, ApiError> {
    let map = object_body(body, &["refresh", "retry_after", "hang_ms", "times"])?;
    // Accept "500" and 500 alike.
    let kind = match map.get("refresh") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let kind = match kind.as_str() {
        "none" => FaultKind::None,
        "500" => FaultKind::Error500,
        "429" => FaultKind::TooMany429,
        "hang" => FaultKind::Hang,
        _ => {
            return Err(bad_request(
                "refresh: must be one of \"none\", \"500\", \"429\", \"hang\"",
            ))
        }
    };
    let times = non_negative(&map, "times")?;
    // Setting a fault replaces the previous one entirely; `times: 0` applies to nothing.
    if kind == FaultKind::None || times == Some(0) {
        return Ok(Faults::default());
    }
    Ok(Faults {
        kind,
        retry_after: non_negative(&map, "retry_after")?.unwrap_or(DEFAULT_RETRY_AFTER),
        hang_ms: non_negative(&map, "hang_ms")?.unwrap_or(DEFAULT_HANG_MS),
        times,
    })
}

async fn fault(State(app): State<Arc<App>>, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let faults = parse_fault(&body)?;
    Ok(mutate(&app, |db| db.faults = faults))
}

async fn clock(State(app): State<Arc<App>>, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let map = object_body(&body, &["skew_seconds"])?;
    let skew = match map.get("skew_seconds") {
        // Fractional seconds are rounded: tokens carry whole seconds anyway.
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e12)
            .map(|f| f.round() as i64)
            .ok_or_else(|| bad_request("skew_seconds: out of range"))?,
        _ => return Err(bad_request("skew_seconds: a number is required")),
    };
    Ok(mutate(&app, |db| db.clock_skew_seconds = skew))
}

async fn counters_reset(State(app): State<Arc<App>>) -> Response {
    mutate(&app, |db| db.counters = Counters::default())
}

/// Back to defaults: user id 1 (active), default config, no faults, no skew, zero counters,
/// empty blacklist, re-seeded trades. Two things survive on purpose:
/// - the set of issued refresh jtis, so a session from before the reset keeps working
///   against the restored user 1 (a reset is "server config back to normal", not a restart);
/// - the user id sequence, so a later delete never re-uses an id an old token carries.
async fn reset(State(app): State<Arc<App>>) -> Response {
    mutate(&app, Db::reset)
}
