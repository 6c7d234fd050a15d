//! Values crossing into JS: the one error conversion (every rejection is an `AuthkeeperError`
//! with a code from `core::errors`), decoded claims as plain data objects, the state snapshot.

use crate::core::breaker::BreakerState;
use crate::core::errors::ErrorCode;
use crate::core::json::Json;
use crate::core::jwt::Claims;
use crate::core::machine::{AuthError, SessionStatus, Snapshot};
use crate::core::time::Millis;
use crate::web::events;
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Builds the package's error class (`makeError(code, message)` from `js/index.js`).
#[derive(Clone)]
pub struct Errors {
    make_error: Function,
}

impl Errors {
    pub fn new(make_error: Function) -> Errors {
        Errors { make_error }
    }

    pub fn error(&self, code: ErrorCode, message: &str) -> JsValue {
        let (code, message) = (JsValue::from_str(code.as_str()), JsValue::from_str(message));
        self.make_error.call2(&JsValue::UNDEFINED, &code, &message).unwrap_or_else(|_| {
            let plain = js_sys::Error::new(&message.as_string().unwrap_or_default());
            let _ = Reflect::set(&plain, &"code".into(), &code);
            plain.into()
        })
    }

    pub fn auth(&self, e: &AuthError) -> JsValue {
        let message = match e {
            AuthError::RefreshUnavailable { .. } => {
                "the token refresh service is unavailable; retry after auth.state().breakerOpenUntil".to_owned()
            }
            AuthError::LoggedOut { reason } => "the session has ended: ".to_owned() + reason.as_str(),
            AuthError::NoSession => "there is no session".to_owned(),
            AuthError::NoRefreshToken => "the session has no refresh token to refresh with".to_owned(),
        };
        self.error(e.code(), &message)
    }

    pub fn busy(&self, method: &str) -> JsValue {
        let message = method.to_owned() + ": the auth client was called from inside one of its own callbacks; call it again from a later task";
        self.error(ErrorCode::Busy, &message)
    }

    pub fn destroyed(&self) -> JsValue {
        self.error(ErrorCode::Destroyed, "the auth client was destroyed")
    }
}

/// A plain data object: no prototype, so a `"__proto__"` claim is an ordinary property rather
/// than a prototype swap.
fn data_object() -> Object {
    Object::create(JsValue::NULL.unchecked_ref())
}

pub fn claims_to_js(claims: &Claims) -> JsValue {
    let obj = data_object();
    for (key, value) in &claims.extra {
        let _ = Reflect::set(&obj, &JsValue::from_str(key), &json_to_js(value));
    }
    let num = |v: Option<i64>| v.map(|n| JsValue::from_f64(n as f64));
    let fields = [
        ("exp", num(claims.exp)),
        ("iat", num(claims.iat)),
        ("nbf", num(claims.nbf)),
        ("sub", claims.sub.as_deref().map(JsValue::from_str)),
        ("user_id", claims.user_id.as_deref().map(JsValue::from_str)),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            let _ = Reflect::set(&obj, &JsValue::from_str(key), &value);
        }
    }
    obj.into()
}

fn json_to_js(value: &Json) -> JsValue {
    match value {
        Json::Null => JsValue::NULL,
        Json::Bool(b) => JsValue::from_bool(*b),
        Json::Num(n) => JsValue::from_f64(*n),
        Json::Str(s) => JsValue::from_str(s),
        Json::Arr(items) => items.iter().map(json_to_js).collect::<js_sys::Array>().into(),
        Json::Obj(map) => {
            let obj = data_object();
            for (k, v) in map {
                let _ = Reflect::set(&obj, &JsValue::from_str(k), &json_to_js(v));
            }
            obj.into()
        }
    }
}

/// A time for JS: epoch milliseconds, or `null` when unknown ("never expires until a 401").
pub fn millis(m: Option<Millis>) -> JsValue {
    match m {
        Some(m) if m != Millis::NEVER => JsValue::from_f64(m.0 as f64),
        _ => JsValue::NULL,
    }
}

/// `auth.state()`.
/// `claims`: the access token's, unverified (for display), when it is a JWT.
pub fn snapshot_to_js(s: &Snapshot, memory_storage: bool, claims: Option<&Claims>) -> JsValue {
    let (breaker, open_until) = match s.breaker {
        BreakerState::Closed => ("closed", None),
        BreakerState::Open { until } => ("open", Some(until)),
        BreakerState::HalfOpen => ("half_open", None),
    };
    let status = match s.status {
        SessionStatus::Anonymous => "anonymous",
        SessionStatus::Active => "active",
        SessionStatus::Refreshing => "refreshing",
        SessionStatus::LoggedOut => "logged_out",
    };
    events::detail(&[
        ("status", status.into()),
        ("expiresAt", millis(s.expires_at)),
        ("breaker", breaker.into()),
        ("breakerOpenUntil", millis(open_until)),
        ("refreshInFlight", s.refresh_in_flight.into()),
        ("waiting", JsValue::from_f64(s.waiting as f64)),
        ("refreshCount", JsValue::from_f64(s.refresh_count as f64)),
        ("clockOffset", JsValue::from_f64(s.clock_offset_ms as f64)),
        ("storage", (if memory_storage { "memory" } else { "web" }).into()),
        ("reason", s.logout_reason.map_or(JsValue::NULL, |r| r.as_str().into())),
        ("claims", claims.map_or(JsValue::NULL, claims_to_js)),
    ])
    .into()
}
