//! `AuthCore`, the wasm API that `js/index.js` drives, exercised directly from wasm with a stub
//! `fetch` (a Rust closure with memory: it records every refresh call and answers from a script).
#![cfg(target_arch = "wasm32")]

use authkeeper::web::AuthCore;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use js_sys::{Array, Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const REFRESH_PATH: &str = "/api/auth/token/refresh/";

fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn jwt(ttl_secs: i64, jti: &str) -> String {
    let now = now_secs();
    let payload = format!(r#"{{"exp":{},"iat":{now},"jti":"{jti}","user_id":1}}"#, now + ttl_secs);
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
}

fn origin() -> String {
    web_sys::window().unwrap().location().origin().unwrap()
}

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    Reflect::set(obj, &JsValue::from_str(key), &value.into()).unwrap();
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap()
}

/// The options object as `js/index.js` hands it over after normalising. `keys` are unique per
/// test: clients in one page share a BroadcastChannel per access key.
fn options(key: &str, retry_attempts: u32) -> Object {
    let o = Object::new();
    set(&o, "refreshUrl", format!("{}{REFRESH_PATH}", origin()));
    set(&o, "refreshOrigin", origin());
    set(&o, "refreshPath", REFRESH_PATH);
    set(&o, "pageOrigin", origin());
    set(&o, "storage", "memory");
    set(&o, "tabLock", false);
    let keys = Object::new();
    set(&keys, "access", format!("{key}-access"));
    set(&keys, "refresh", format!("{key}-refresh"));
    set(&o, "keys", keys);
    let retry = Object::new();
    set(&retry, "maxAttempts", retry_attempts);
    set(&retry, "baseDelay", 10);
    set(&retry, "maxDelay", 20);
    set(&o, "retry", retry);
    o
}

/// `new Response(body, {status})`, without needing web-sys's ResponseInit feature.
fn response(status: u16, body: &str) -> JsValue {
    let ctor: Function = get(&js_sys::global(), "Response").unchecked_into();
    let init = Object::new();
    set(&init, "status", status);
    let headers = Object::new();
    set(&headers, "content-type", "application/json");
    set(&init, "headers", headers);
    Reflect::construct(&ctor, &Array::of2(&JsValue::from_str(body), &init)).unwrap()
}

/// A refresh endpoint with memory: every call's body is recorded; answers come from `script`
/// (status, body), and a default success once the script runs out.
#[derive(Default)]
struct Endpoint {
    bodies: Vec<Option<String>>,
    script: VecDeque<(u16, String)>,
    issued: Vec<String>,
}

struct StubFetch {
    endpoint: Rc<RefCell<Endpoint>>,
    function: Function,
    _closure: Closure<dyn FnMut(JsValue, JsValue) -> JsValue>,
}

impl StubFetch {
    fn new(script: Vec<(u16, String)>) -> StubFetch {
        let endpoint = Rc::new(RefCell::new(Endpoint { script: script.into(), ..Endpoint::default() }));
        let state = endpoint.clone();
        let closure = Closure::<dyn FnMut(JsValue, JsValue) -> JsValue>::new(move |_url: JsValue, init: JsValue| {
            let mut e = state.borrow_mut();
            e.bodies.push(get(&init, "body").as_string());
            let (status, body) = e.script.pop_front().unwrap_or_else(|| {
                let access = jwt(300, &format!("fresh-{}", e.bodies.len()));
                (200, format!(r#"{{"access":"{access}","refresh":"rotated-{}"}}"#, e.bodies.len()))
            });
            if status == 200 {
                if let Some(access) = body.split('"').nth(3) {
                    e.issued.push(access.to_owned());
                }
            }
            Promise::resolve(&response(status, &body)).into()
        });
        let function: Function = closure.as_ref().unchecked_ref::<Function>().clone();
        StubFetch { endpoint, function, _closure: closure }
    }

    fn calls(&self) -> usize {
        self.endpoint.borrow().bodies.len()
    }
}

fn make_error() -> Function {
    Function::new_with_args(
        "code, message",
        "const e = new Error(message); e.code = code; e.name = code === 'refresh_unavailable' ? 'RefreshUnavailable' : 'AuthkeeperError'; return e;",
    )
}

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Counts `auth:logout` events (and their reasons) while alive.
struct LogoutRecorder {
    reasons: Rc<RefCell<Vec<String>>>,
    closure: Closure<dyn FnMut(web_sys::Event)>,
}

impl LogoutRecorder {
    fn new() -> LogoutRecorder {
        let reasons = Rc::new(RefCell::new(Vec::new()));
        let sink = reasons.clone();
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let detail = e.unchecked_into::<web_sys::CustomEvent>().detail();
            sink.borrow_mut().push(get(&detail, "reason").as_string().unwrap_or_default());
        });
        web_sys::window()
            .unwrap()
            .add_event_listener_with_callback("auth:logout", closure.as_ref().unchecked_ref())
            .unwrap();
        LogoutRecorder { reasons, closure }
    }
    fn reasons(&self) -> Vec<String> {
        self.reasons.borrow().clone()
    }
}

impl Drop for LogoutRecorder {
    fn drop(&mut self) {
        let _ = web_sys::window()
            .unwrap()
            .remove_event_listener_with_callback("auth:logout", self.closure.as_ref().unchecked_ref());
    }
}

fn client(key: &str, fetch: &StubFetch, retry_attempts: u32) -> AuthCore {
    let core = AuthCore::new(&options(key, retry_attempts), fetch.function.clone(), make_error(), None).unwrap();
    core.start();
    core
}

/// A client started on tokens found in localStorage whose access token expired a minute ago
/// (a token handed to `set_tokens` that looks expired is taken as a clock problem instead).
fn client_with_expired_session(key: &str, fetch: &StubFetch, retry_attempts: u32) -> AuthCore {
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let stale = {
        let now = now_secs();
        let payload = format!(r#"{{"exp":{},"iat":{},"jti":"stale","user_id":1}}"#, now - 60, now - 360);
        format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
    };
    storage.set_item(&format!("{key}-access"), &stale).unwrap();
    storage.set_item(&format!("{key}-refresh"), "refresh-1").unwrap();
    let o = options(key, retry_attempts);
    set(&o, "storage", "local");
    let core = AuthCore::new(&o, fetch.function.clone(), make_error(), None).unwrap();
    core.start();
    core
}

#[wasm_bindgen_test]
fn before_send_attaches_the_bearer_only_to_protected_requests() {
    let fetch = StubFetch::new(vec![]);
    let core = client("classify", &fetch, 3);
    // No session yet: nothing to attach.
    assert!(core.before_send(&origin(), "/api/items/", None).is_null());
    let access = jwt(300, "classify");
    core.set_tokens(access.clone(), Some("refresh-1".into()), None).unwrap();
    assert_eq!(core.before_send(&origin(), "/api/items/", None).as_string(), Some(access));
    assert!(core.before_send("https://evil.example.com", "/api/items/", None).is_null());
    assert!(core.before_send(&origin(), "/api/auth/login/", None).is_null());
    assert!(core.before_send(&origin(), REFRESH_PATH, None).is_null());
    assert_eq!(fetch.calls(), 0);
    assert_eq!(get(&core.state().unwrap(), "status").as_string().as_deref(), Some("active"));
    core.destroy();
}

#[wasm_bindgen_test]
async fn five_requests_on_an_expired_token_share_one_refresh_call_and_get_the_new_token() {
    let fetch = StubFetch::new(vec![]);
    let core = client_with_expired_session("single-flight", &fetch, 3);
    let waits: Vec<JsValue> = (0..5).map(|_| core.before_send(&origin(), "/api/items/", None)).collect();
    let mut bearers = Vec::new();
    for wait in waits {
        let promise: Promise = wait.dyn_into().expect("an expired token makes the request wait");
        bearers.push(JsFuture::from(promise).await.unwrap().as_string().unwrap());
    }
    assert_eq!(fetch.calls(), 1);
    let issued = fetch.endpoint.borrow().issued.clone();
    assert_eq!(bearers, vec![issued[0].clone(); 5]);
    assert_eq!(fetch.endpoint.borrow().bodies[0].as_deref(), Some(r#"{"refresh":"refresh-1"}"#));
    assert_eq!(get(&core.state().unwrap(), "refreshCount").as_f64(), Some(1.0));
    // The next request goes straight out with the new token.
    assert_eq!(core.before_send(&origin(), "/api/items/", None).as_string(), Some(issued[0].clone()));
    core.destroy();
}

#[wasm_bindgen_test]
async fn a_401_from_the_refresh_endpoint_rejects_waiters_with_logged_out_and_logs_out_once() {
    let logouts = LogoutRecorder::new();
    let fetch = StubFetch::new(vec![(
        401,
        r#"{"error":"user_not_found","detail":"User not found","action":"clear_tokens"}"#.into(),
    )]);
    let core = client_with_expired_session("rejected", &fetch, 3);
    let wait: Promise = core.before_send(&origin(), "/api/items/", None).dyn_into().unwrap();
    let err = JsFuture::from(wait).await.expect_err("the queued request fails");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("logged_out"));
    assert!(err.is_instance_of::<js_sys::Error>());
    sleep(50).await;
    assert_eq!(logouts.reasons(), ["user_not_found"]);
    assert_eq!(fetch.calls(), 1);
    // Logged out: requests go anonymously, nothing refreshes.
    assert!(core.before_send(&origin(), "/api/items/", None).is_null());
    assert_eq!(fetch.calls(), 1);
    assert_eq!(get(&core.state().unwrap(), "status").as_string().as_deref(), Some("logged_out"));
    core.destroy();
}

#[wasm_bindgen_test]
async fn on_unauthorized_refreshes_once_then_hands_back_the_new_token_and_returns_a_second_401_as_is() {
    let fetch = StubFetch::new(vec![]);
    let core = client("replay", &fetch, 3);
    let old = jwt(300, "revoked");
    core.set_tokens(old.clone(), Some("refresh-1".into()), None).unwrap();
    let first = core.on_unauthorized(&origin(), "/api/items/", &old, None);
    let second = core.on_unauthorized(&origin(), "/api/other/", &old, None);
    let fresh = JsFuture::from(first.dyn_into::<Promise>().unwrap()).await.unwrap().as_string().unwrap();
    let fresh2 = JsFuture::from(second.dyn_into::<Promise>().unwrap()).await.unwrap().as_string().unwrap();
    assert_eq!(fresh, fresh2);
    assert_ne!(fresh, old);
    assert_eq!(fetch.calls(), 1);
    // A request sent before the refresh landed: replay with the newer token, no refresh.
    assert_eq!(core.on_unauthorized(&origin(), "/api/late/", &old, None).as_string(), Some(fresh.clone()));
    assert_eq!(fetch.calls(), 1);
    // Foreign and excluded 401s are returned as they are.
    assert!(core.on_unauthorized("https://evil.example.com", "/api/items/", &fresh, None).is_null());
    assert!(core.on_unauthorized(&origin(), "/login", &fresh, None).is_null());
    assert_eq!(fetch.calls(), 1);
    core.destroy();
}

#[wasm_bindgen_test]
async fn server_errors_exhaust_the_attempt_budget_then_fail_fast_with_refresh_unavailable() {
    let logouts = LogoutRecorder::new();
    let boom = || (500, r#"{"detail":"boom"}"#.to_owned());
    let fetch = StubFetch::new(vec![boom(), boom(), boom(), boom()]);
    let core = client_with_expired_session("breaker", &fetch, 2);
    let wait: Promise = core.before_send(&origin(), "/api/items/", None).dyn_into().unwrap();
    let err = JsFuture::from(wait).await.expect_err("the breaker opens");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("refresh_unavailable"));
    assert_eq!(get(&err, "name").as_string().as_deref(), Some("RefreshUnavailable"));
    assert_eq!(fetch.calls(), 2);
    assert_eq!(get(&core.state().unwrap(), "breaker").as_string().as_deref(), Some("open"));
    // Open: fails at once (a rejected promise), no refresh call.
    let fast: Promise = core.before_send(&origin(), "/api/items/", None).dyn_into().unwrap();
    assert!(JsFuture::from(fast).await.is_err());
    assert_eq!(fetch.calls(), 2);
    assert!(logouts.reasons().is_empty());
    core.destroy();
}

#[wasm_bindgen_test]
async fn an_aborted_waiter_rejects_with_abort_error_and_the_others_still_get_the_token() {
    let fetch = StubFetch::new(vec![]);
    let core = client_with_expired_session("abort", &fetch, 3);
    let controller = web_sys::AbortController::new().unwrap();
    let aborted: Promise = core.before_send(&origin(), "/api/a", Some(controller.signal())).dyn_into().unwrap();
    let kept: Promise = core.before_send(&origin(), "/api/b", None).dyn_into().unwrap();
    controller.abort();
    let err = JsFuture::from(aborted).await.expect_err("aborted");
    assert_eq!(get(&err, "name").as_string().as_deref(), Some("AbortError"));
    assert!(JsFuture::from(kept).await.unwrap().as_string().is_some());
    assert_eq!(fetch.calls(), 1);
    assert_eq!(get(&core.state().unwrap(), "waiting").as_f64(), Some(0.0));
    core.destroy();
}

#[wasm_bindgen_test]
fn set_tokens_rejects_a_malformed_access_token_with_a_typed_error() {
    let fetch = StubFetch::new(vec![]);
    let core = client("malformed", &fetch, 3);
    let err = core.set_tokens("not-a-jwt".into(), Some("r".into()), None).expect_err("not a JWT, no expires_in");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("malformed_token"));
    assert_eq!(get(&core.state().unwrap(), "status").as_string().as_deref(), Some("anonymous"));
    // An opaque token is fine with its lifetime.
    core.set_tokens("opaque-token".into(), Some("r".into()), Some(60.0)).unwrap();
    assert_eq!(core.before_send(&origin(), "/api/items/", None).as_string().as_deref(), Some("opaque-token"));
    core.destroy();
}
