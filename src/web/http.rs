//! The refresh call, made with the page's (or the injected) `fetch` rather than reqwest, which
//! would add about 120 KB gzipped to the bundle. It only transports: the core classifies.

use crate::core::policy::MAX_BODY_BYTES;
use crate::web::timers::Deadline;
use crate::web::clock;
use js_sys::{Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestCredentials, RequestInit, Response};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// djangorestframework-simplejwt: `{refresh}` → `{access, refresh?}`
    SimpleJwt,
    /// OAuth-style: `{grant_type, refresh_token}` → `{access_token, refresh_token?, expires_in?}`
    OAuth,
}

#[derive(Clone)]
pub struct RefreshEndpoint {
    pub url: String,
    pub format: BodyFormat,
    /// The refresh token travels as an httpOnly cookie: empty body, `credentials: 'include'`.
    pub cookie_mode: bool,
    pub timeout_ms: u32,
}

/// What came back, raw; `None` body means "too large or unreadable".
pub struct RawResponse {
    pub status: u16,
    pub body: Option<String>,
    pub retry_after: Option<String>,
    pub date: Option<String>,
}

fn request_body(endpoint: &RefreshEndpoint, refresh_token: Option<&str>) -> Option<JsValue> {
    if endpoint.cookie_mode {
        return None;
    }
    let obj = Object::new();
    let token = JsValue::from_str(refresh_token.unwrap_or(""));
    match endpoint.format {
        BodyFormat::SimpleJwt => {
            let _ = Reflect::set(&obj, &"refresh".into(), &token);
        }
        BodyFormat::OAuth => {
            let _ = Reflect::set(&obj, &"grant_type".into(), &"refresh_token".into());
            let _ = Reflect::set(&obj, &"refresh_token".into(), &token);
        }
    }
    JSON::stringify(&obj).ok().map(JsValue::from)
}

/// Performs the refresh request. `Err` means no HTTP answer: network failure or timeout.
pub async fn call_refresh(
    fetch: &Function,
    endpoint: &RefreshEndpoint,
    refresh_token: Option<&str>,
) -> Result<RawResponse, ()> {
    let init = RequestInit::new();
    init.set_method("POST");
    let headers = Headers::new().map_err(|_| ())?;
    let _ = headers.set("Accept", "application/json");
    if let Some(body) = request_body(endpoint, refresh_token) {
        let _ = headers.set("Content-Type", "application/json");
        init.set_body(&body);
    }
    init.set_headers(&headers);
    init.set_credentials(if endpoint.cookie_mode { RequestCredentials::Include } else { RequestCredentials::SameOrigin });
    let controller = AbortController::new().ok();
    if let Some(controller) = &controller {
        init.set_signal(Some(&controller.signal()));
    }
    // Held until this function returns: dropping it cancels the timeout.
    let _timeout = controller.map(|controller| {
        let now = clock::now();
        Deadline::schedule(now, now.plus(u64::from(endpoint.timeout_ms)), move || controller.abort())
    });

    let promise = fetch
        .call2(&JsValue::UNDEFINED, &JsValue::from_str(&endpoint.url), &init)
        .map_err(|_| ())?
        .dyn_into::<Promise>()
        .map_err(|_| ())?;
    let response: Response = JsFuture::from(promise).await.map_err(|_| ())?.dyn_into().map_err(|_| ())?;
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let retry_after = header("Retry-After");
    let date = header("Date");
    let declared_too_large = header("Content-Length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES);
    let body = if declared_too_large {
        None
    } else {
        let text = match response.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_string()),
            Err(_) => None,
        };
        text.filter(|t| t.len() <= MAX_BODY_BYTES)
    };
    Ok(RawResponse { status: response.status(), body, retry_after, date })
}
