//! The refresh call, made with the page's (or the injected) `fetch` rather than reqwest, which
//! would add about 120 KB gzipped to the bundle. It only transports: the core classifies.
//!
//! Two rules protect the refresh token and the module: the request never follows a redirect
//! (a 307/308 would re-send the token in the body to wherever it points), and the response is
//! read in chunks and abandoned past `MAX_BODY_BYTES` (a huge chunked body from a broken proxy
//! must not exhaust wasm memory).

use crate::core::policy::MAX_BODY_BYTES;
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
}

/// What came back, raw; `None` body means "too large or unreadable".
pub struct RawResponse {
    pub status: u16,
    pub body: Option<String>,
    pub retry_after: Option<String>,
    pub date: Option<String>,
}

/// Why no HTTP answer could be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Network failure, timeout, or a fetch that threw.
    Network,
    /// The endpoint answered with a redirect, which is never followed.
    Redirected,
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
    if let Some((body, content_type)) = request_body(endpoint, refresh_token) {
        let _ = headers.set("Content-Type", content_type);
        init.set_body(&body);
    }
    init.set_headers(&headers);
    init.set_credentials(if endpoint.cookie_mode { RequestCredentials::Include } else { RequestCredentials::SameOrigin });
    let controller = AbortController::new().ok();
    if let Some(controller) = &controller {
        init.set_signal(Some(&controller.signal()));
    }
    // Held until this function returns: dropping it cancels the timeout, which covers reading
    // the body too.
    let _timeout = controller.map(|controller| {
        let now = clock::now();
        Deadline::schedule(now, now.plus(u64::from(endpoint.timeout_ms)), move || controller.abort())
    });

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
