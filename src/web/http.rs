//! The refresh call, made with the page's (or the injected) `fetch` rather than reqwest, which
//! would add about 120 KB gzipped to the bundle. It only transports: the core classifies.
//!
//! Two rules protect the refresh token and the module: the request never follows a redirect
//! (a 307/308 would re-send the token in the body to wherever it points), and the response is
//! read in chunks and abandoned past `MAX_BODY_BYTES` (a huge chunked body from a broken proxy
//! must not exhaust wasm memory).

use crate::core::policy::{FreshTokens, MAX_BODY_BYTES};
use crate::web::clock;
use crate::web::timers::Deadline;
use js_sys::{Function, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Headers, ReadableStreamDefaultReader, RequestCredentials, RequestInit, RequestRedirect, Response,
    ResponseType, UrlSearchParams,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// djangorestframework-simplejwt: JSON `{refresh}` → `{access, refresh?}`
    SimpleJwt,
    /// RFC 6749 §6: form-encoded `grant_type=refresh_token&refresh_token=…&client_id=…`
    /// → `{access_token, refresh_token?, expires_in?}`
    OAuth,
}

#[derive(Clone)]
pub struct RefreshEndpoint {
    pub url: String,
    pub format: BodyFormat,
    /// The refresh token travels as an httpOnly cookie: empty body, `credentials: 'include'`.
    pub cookie_mode: bool,
    pub timeout_ms: u32,
    /// OAuth public client identification (RFC 6749 §2.3, §3.2.1).
    pub client_id: Option<String>,
    pub scope: Option<String>,
    /// `revokeUrl` (absolute) and its path (for the trace hook: never a query string).
    pub revoke_url: Option<String>,
    pub revoke_path: String,
    /// The app's `refreshRequest(refreshToken) -> { body, headers }`, wrapped by js/index.js so
    /// that it returns `{ body, headers: [[name, value], ...] }` or throws an Error whose message names the
    /// mistake (without the token).
    pub request_hook: Option<Function>,
    /// The app's `parseRefreshResponse(json)`, wrapped likewise: called with the 2xx body's text,
    /// it returns `{ access, refresh?, expiresIn? }` checked, or throws.
    pub parse_hook: Option<Function>,
}

/// What came back, raw; `None` body means "too large or unreadable".
pub struct RawResponse {
    pub status: u16,
    pub body: Option<String>,
    pub retry_after: Option<String>,
    pub date: Option<String>,
}

/// Why no HTTP answer could be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Network failure, timeout, or a fetch that threw.
    Network,
    /// The endpoint answered with a redirect, which is never followed.
    Redirected,
    /// The app's `refreshRequest` hook threw or returned the wrong shape (the message says
    /// which); no request was sent.
    Hook(String),
}

/// The message of what a wrapped hook threw.
fn thrown_message(error: &JsValue) -> String {
    Reflect::get(error, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_else(|| "the hook failed".into())
}

/// The request body and its content type, or `None` in cookie mode.
fn request_body(endpoint: &RefreshEndpoint, refresh_token: Option<&str>) -> Option<(JsValue, &'static str)> {
    if endpoint.cookie_mode {
        return None;
    }
    let token = refresh_token.unwrap_or("");
    match endpoint.format {
        BodyFormat::SimpleJwt => {
            let obj = Object::new();
            let _ = Reflect::set(&obj, &"refresh".into(), &token.into());
            JSON::stringify(&obj).ok().map(|body| (body.into(), "application/json"))
        }
        BodyFormat::OAuth => {
            let form = UrlSearchParams::new().ok()?;
            form.append("grant_type", "refresh_token");
            form.append("refresh_token", token);
            if let Some(client_id) = &endpoint.client_id {
                form.append("client_id", client_id);
            }
            if let Some(scope) = &endpoint.scope {
                form.append("scope", scope);
            }
            Some((form.to_string().into(), "application/x-www-form-urlencoded"))
        }
    }
}

fn is_redirect(response: &Response) -> bool {
    response.type_() == ResponseType::Opaqueredirect || (300..400).contains(&response.status())
}

/// Performs the refresh request.
pub async fn call_refresh(
    fetch: &Function,
    endpoint: &RefreshEndpoint,
    refresh_token: Option<&str>,
) -> Result<RawResponse, TransportError> {
    use TransportError::Network;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_redirect(RequestRedirect::Manual);
    let headers = Headers::new().map_err(|_| Network)?;
    let _ = headers.set("Accept", "application/json");
    if let Some(hook) = &endpoint.request_hook {
        let token = refresh_token.map_or(JsValue::NULL, JsValue::from_str);
        let built = hook.call1(&JsValue::UNDEFINED, &token).map_err(|e| TransportError::Hook(thrown_message(&e)))?;
        let body = Reflect::get(&built, &"body".into()).unwrap_or(JsValue::NULL);
        if !body.is_null() && !body.is_undefined() {
            init.set_body(&body);
        }
        // [[name, value], ...], as the wrapper normalised them.
        let extra = Reflect::get(&built, &"headers".into()).unwrap_or(JsValue::UNDEFINED);
        if js_sys::Array::is_array(&extra) {
            for entry in js_sys::Array::from(&extra).iter() {
                let pair = js_sys::Array::from(&entry);
                if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                    let _ = headers.set(&name, &value);
                }
            }
        }
    } else if let Some((body, content_type)) = request_body(endpoint, refresh_token) {
        let _ = headers.set("Content-Type", content_type);
        init.set_body(&body);
    }
    // Held until this function returns: dropping it cancels the timeout, which covers reading
    // the body too.
    let _timeout = finish_init(&init, &headers, endpoint);

    let promise = fetch
        .call2(&JsValue::UNDEFINED, &JsValue::from_str(&endpoint.url), &init)
        .map_err(|_| Network)?
        .dyn_into::<Promise>()
        .map_err(|_| Network)?;
    let response: Response = JsFuture::from(promise).await.map_err(|_| Network)?.dyn_into().map_err(|_| Network)?;
    if is_redirect(&response) {
        return Err(TransportError::Redirected);
    }
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let retry_after = header("Retry-After");
    let date = header("Date");
    let declared_too_large = header("Content-Length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES);
    let body = if declared_too_large { None } else { read_bounded(&response).await };
    Ok(RawResponse { status: response.status(), body, retry_after, date })
}

/// The body as text, read chunk by chunk and abandoned (`None`) once it passes the cap.
async fn read_bounded(response: &Response) -> Option<String> {
    let Some(stream) = response.body() else { return Some(String::new()) };
    let reader: ReadableStreamDefaultReader = stream.get_reader().dyn_into().ok()?;
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.ok()?;
        if Reflect::get(&chunk, &"done".into()).ok()?.is_truthy() {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).ok()?.dyn_into().ok()?;
        if bytes.len() + value.length() as usize > MAX_BODY_BYTES {
            let _ = reader.cancel();
            return None;
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
    }
    String::from_utf8(bytes).ok()
}

/// The revocation request's body and content type: RFC 7009 §2.1 in the OAuth format, the
/// `{"refresh": ...}` of SimpleJWT's blacklist view otherwise; none in cookie mode (the cookie
/// is the credential).
fn revoke_body(endpoint: &RefreshEndpoint, token: Option<&str>) -> Option<(JsValue, &'static str)> {
    let token = token.filter(|_| !endpoint.cookie_mode)?;
    match endpoint.format {
        BodyFormat::SimpleJwt => {
            let obj = Object::new();
            let _ = Reflect::set(&obj, &"refresh".into(), &token.into());
            JSON::stringify(&obj).ok().map(|body| (body.into(), "application/json"))
        }
        BodyFormat::OAuth => {
            let form = UrlSearchParams::new().ok()?;
            form.append("token", token);
            form.append("token_type_hint", "refresh_token");
            if let Some(client_id) = &endpoint.client_id {
                form.append("client_id", client_id);
            }
            Some((form.to_string().into(), "application/x-www-form-urlencoded"))
        }
    }
}

/// Best effort revocation after a manual logout: the HTTP status, or `None` without an answer
/// (network error, timeout, a redirect, which is never followed). Sent with `keepalive` so that
/// it outlives a navigation to the login page.
pub async fn call_revoke(fetch: &Function, endpoint: &RefreshEndpoint, token: Option<&str>) -> Option<u16> {
    let url = endpoint.revoke_url.as_deref()?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_redirect(RequestRedirect::Manual);
    let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    let headers = Headers::new().ok()?;
    let _ = headers.set("Accept", "application/json");
    if let Some((body, content_type)) = revoke_body(endpoint, token) {
        let _ = headers.set("Content-Type", content_type);
        init.set_body(&body);
    }
    let _timeout = finish_init(&init, &headers, endpoint);
    let promise = fetch.call2(&JsValue::UNDEFINED, &JsValue::from_str(url), &init).ok()?.dyn_into::<Promise>().ok()?;
    let response: Response = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    if is_redirect(&response) {
        return None;
    }
    Some(response.status())
}

/// What the app's (wrapped) `parseRefreshResponse` made of a 2xx body: the tokens, or the
/// message of what it threw. The core decides what either means.
pub fn parse_with_hook(hook: &Function, body: Option<&str>) -> Result<FreshTokens, String> {
    let text = JsValue::from_str(body.unwrap_or(""));
    let parsed = hook.call1(&JsValue::UNDEFINED, &text).map_err(|e| thrown_message(&e))?;
    let field = |key: &str| Reflect::get(&parsed, &key.into()).unwrap_or(JsValue::UNDEFINED);
    let access = field("access").as_string().ok_or_else(|| String::from("parseRefreshResponse returned no access token"))?;
    let expires_in = field("expiresIn").as_f64().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64);
    Ok(FreshTokens { access, refresh: field("refresh").as_string(), expires_in })
}

/// The part every call to the endpoint's server shares: its headers, cookies only in cookie
/// mode, and an abort after `refreshTimeout` (the returned guard; dropping it cancels that).
fn finish_init(init: &RequestInit, headers: &Headers, endpoint: &RefreshEndpoint) -> Option<Deadline> {
    init.set_headers(headers);
    init.set_credentials(if endpoint.cookie_mode { RequestCredentials::Include } else { RequestCredentials::SameOrigin });
    let controller = AbortController::new().ok()?;
    init.set_signal(Some(&controller.signal()));
    let now = clock::now();
    Some(Deadline::schedule(now, now.plus(u64::from(endpoint.timeout_ms)), move || controller.abort()))
}
