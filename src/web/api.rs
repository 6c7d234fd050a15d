//! The `#[wasm_bindgen]` surface used by `js/index.js`. State lives in `Rc<RefCell<Inner>>`;
//! every entry point borrows briefly and never across an `.await` or a call that can re-enter
//! (event dispatch), which is what makes wasm-bindgen#4440 ("recursive use of an object")
//! impossible here.

use crate::core::json::Json;
use crate::core::jwt::{self, Claims};
use crate::core::machine::{Action, AuthError, Machine, RequestDecision, SessionStatus, TabMessage, UnauthorizedDecision, WaiterId};
use crate::core::policy::{classify_refresh, LogoutReason, RefreshResponse};
use crate::core::breaker::BreakerState;
use crate::core::time::Millis;
use crate::core::urls::{UrlClass, UrlRules};
use crate::web::clock::{jitter, now};
use crate::web::config;
use crate::web::events;
use crate::web::http::{self, RefreshEndpoint, TransportError};
use crate::web::lifecycle::{self, Listener};
use crate::web::storage::TokenStore;
use crate::web::tabs::{self, LockGuard, LockOutcome, TabChannel};
use crate::web::timers::Deadline;
use js_sys::{Function, Object, Promise};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

/// How a waiting caller wants a failed refresh reported.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WaitKind {
    /// Queued before sending: a failure rejects with a typed error.
    BeforeSend,
    /// Waiting to replay after a 401: a failure resolves `null`, so the caller gets the original
    /// 401 response, exactly as plain fetch would have returned it.
    Replay,
}

struct Waiter {
    resolve: Function,
    reject: Function,
    kind: WaitKind,
    _abort: Option<Listener>,
}

struct Inner {
    machine: Machine,
    urls: UrlRules,
    store: TokenStore,
    endpoint: RefreshEndpoint,
    fetch: Function,
    make_error: Function,
    login_url: Option<String>,
    login_path: Option<String>,
    /// Few at a time and short-lived: a Vec is smaller in wasm than a map and as fast here.
    waiters: Vec<(WaiterId, Waiter)>,
    next_id: WaiterId,
    deadline: Option<Deadline>,
    listeners: Vec<Listener>,
    tabs: Option<TabChannel>,
    /// The cross-tab lock's name, and the lock while this tab holds it.
    lock_name: String,
    lock: Option<LockGuard>,
    /// The bearer last handed to JS by `request`: while it is unchanged JS is told `true`
    /// ("the one you have") instead of receiving the whole token again on every request.
    published: Option<String>,
    destroyed: bool,
}

type Shared = Rc<RefCell<Inner>>;

#[wasm_bindgen]
pub struct AuthCore {
    inner: Shared,
}

fn error(make_error: &Function, code: &str, message: &str) -> JsValue {
    make_error
        .call2(&JsValue::UNDEFINED, &JsValue::from_str(code), &JsValue::from_str(message))
        .unwrap_or_else(|_| js_sys::Error::new(message).into())
}

fn auth_error_message(e: &AuthError) -> String {
    match e {
        AuthError::RefreshUnavailable { .. } => {
            "the token refresh service is unavailable; retry after auth.state().breakerOpenUntil".into()
        }
        AuthError::LoggedOut { reason } => "the session has ended: ".to_owned() + reason.as_str(),
        AuthError::NoSession => "there is no session".into(),
    }
}

fn take_waiter(waiters: &mut Vec<(WaiterId, Waiter)>, id: WaiterId) -> Option<Waiter> {
    let index = waiters.iter().position(|(w, _)| *w == id)?;
    Some(waiters.swap_remove(index).1)
}

fn abort_reason(signal: &AbortSignal) -> JsValue {
    let reason = js_sys::Reflect::get(signal, &"reason".into()).unwrap_or(JsValue::UNDEFINED);
    if !reason.is_undefined() {
        return reason;
    }
    web_sys::DomException::new_with_message_and_name("The operation was aborted.", "AbortError")
        .map(JsValue::from)
        .unwrap_or_else(|_| js_sys::Error::new("AbortError").into())
}

#[wasm_bindgen]
impl AuthCore {
    /// `options` is the object normalised by `js/index.js`; `fetch` performs the refresh call;
    /// `make_error(code, message)` builds the JS error class the package exports.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &JsValue, fetch: Function, make_error: Function) -> AuthCore {
        let mut cfg = config::read(options);
        let login_path = js_sys::Reflect::get(options, &"loginPath".into()).ok().and_then(|v| v.as_string());
        let lock_name = "authkeeper:refresh:".to_owned() + &cfg.store.access_key;
        let store = TokenStore::open(cfg.store);
        cfg.machine.memory_storage = store.is_memory();
        let inner = Inner {
            machine: Machine::new(cfg.machine),
            urls: cfg.urls,
            store,
            endpoint: cfg.endpoint,
            fetch,
            make_error,
            login_url: cfg.login_url,
            login_path,
            waiters: Vec::new(),
            next_id: 1,
            deadline: None,
            listeners: Vec::new(),
            tabs: None,
            lock_name,
            lock: None,
            published: None,
            destroyed: false,
        };
        AuthCore { inner: Rc::new(RefCell::new(inner)) }
    }

    /// Validates the stored tokens (migrating legacy keys) and starts the lifecycle watchers.
    pub fn start(&self) {
        {
            let mut inner = self.inner.borrow_mut();
            let stored = inner.store.load();
            // Visibility first: a tab restored in the background with an expired token waits
            // until it is shown or a request needs the token, instead of refreshing at once
            // (ten restored tabs would otherwise queue ten refreshes on the lock).
            inner.machine.on_visibility(now(), lifecycle::page_visible());
            inner.machine.load_stored(now(), stored);
            let weak = Rc::downgrade(&self.inner);
            inner.listeners = lifecycle::watch_wakeups(move || {
                if let Some(rc) = weak.upgrade() {
                    with_machine(&rc, |m| m.on_visibility(now(), lifecycle::page_visible()));
                }
            });
            let weak = Rc::downgrade(&self.inner);
            let weak_store = Rc::downgrade(&self.inner);
            let keys = inner.store.keys();
            let read_generation = move || {
                let rc = weak_store.upgrade();
                let generation = rc.as_ref().and_then(|rc| rc.try_borrow_mut().ok().map(|mut inner| inner.store.generation()));
                generation.unwrap_or(0)
            };
            let channel = TabChannel::open(&("authkeeper:".to_owned() + &keys.0), keys, read_generation, move |message| {
                if let Some(rc) = weak.upgrade() {
                    on_tab_message(&rc, message);
                }
            });
            inner.tabs = Some(channel);
        }
        drain(&self.inner);
    }

    /// The fast path of `auth.fetch`. Returns the bearer to attach (a string, or `true` for
    /// "the same string as last time"), `null` (send without a bearer and do not handle a 401),
    /// or a Promise of the bearer when the request must wait for a refresh (it rejects with a
    /// typed error, or the signal's AbortError).
    #[wasm_bindgen(js_name = beforeSend)]
    pub fn before_send(&self, origin: &str, path: &str, signal: Option<AbortSignal>) -> JsValue {
        let class = match self.inner.try_borrow() {
            Ok(inner) => inner.urls.classify(origin, path),
            Err(_) => return JsValue::NULL,
        };
        self.request(class, signal)
    }

    /// A valid access token for code that cannot go through `auth.fetch` (WebSockets, SSE):
    /// waits for a refresh when the current one is expiring. Resolves `null` without a session.
    #[wasm_bindgen(js_name = accessToken)]
    pub fn access_token(&self, signal: Option<AbortSignal>) -> JsValue {
        self.request(UrlClass::Protected, signal)
    }

    fn request(&self, class: UrlClass, signal: Option<AbortSignal>) -> JsValue {
        if let Some(signal) = signal.as_ref().filter(|s| s.aborted()) {
            return Promise::reject(&abort_reason(signal)).into();
        }
        let Ok(mut inner) = self.inner.try_borrow_mut() else { return JsValue::NULL };
        let id = inner.next_id;
        inner.next_id += 1;
        match inner.machine.on_request(now(), id, class) {
            RequestDecision::Send { bearer: Some(token) } => {
                if inner.published.as_deref() == Some(token.as_str()) {
                    JsValue::TRUE
                } else {
                    let value = JsValue::from_str(&token);
                    inner.published = Some(token);
                    value
                }
            }
            RequestDecision::Send { bearer: None } => JsValue::NULL,
            RequestDecision::Fail(e) => {
                let err = error(&inner.make_error, e.code(), &auth_error_message(&e));
                drop(inner);
                drain(&self.inner);
                Promise::reject(&err).into()
            }
            RequestDecision::Wait => {
                drop(inner);
                let promise = self.wait(id, WaitKind::BeforeSend, signal);
                drain(&self.inner);
                promise.into()
            }
        }
    }

    /// After a 401 on a request sent with `sent_bearer`: a string to replay with now, `null` to
    /// return the 401 as is, or a Promise of either once the (single-flight) refresh settles.
    #[wasm_bindgen(js_name = onUnauthorized)]
    pub fn on_unauthorized(&self, origin: &str, path: &str, sent_bearer: &str, signal: Option<AbortSignal>) -> JsValue {
        let Ok(mut inner) = self.inner.try_borrow_mut() else { return JsValue::NULL };
        let class = inner.urls.classify(origin, path);
        let id = inner.next_id;
        inner.next_id += 1;
        let decision = inner.machine.on_unauthorized(now(), id, class, sent_bearer);
        drop(inner);
        let result = match decision {
            UnauthorizedDecision::ReturnAsIs => JsValue::NULL,
            UnauthorizedDecision::Replay { bearer } => JsValue::from(bearer),
            UnauthorizedDecision::Wait => self.wait(id, WaitKind::Replay, signal).into(),
        };
        drain(&self.inner);
        result
    }

    fn wait(&self, id: WaiterId, kind: WaitKind, signal: Option<AbortSignal>) -> Promise {
        let inner_rc = self.inner.clone();
        Promise::new(&mut |resolve, reject| {
            let abort = signal.as_ref().and_then(|signal| {
                let weak = Rc::downgrade(&inner_rc);
                let s = signal.clone();
                Listener::new(signal, "abort", move |_| {
                    if let Some(rc) = weak.upgrade() {
                        cancel_waiter(&rc, id, abort_reason(&s));
                    }
                })
            });
            if let Ok(mut inner) = inner_rc.try_borrow_mut() {
                inner.waiters.push((id, Waiter { resolve, reject, kind, _abort: abort }));
            }
        })
    }

    /// The app's own login succeeded: start a session with these tokens.
    #[wasm_bindgen(js_name = setTokens)]
    pub fn set_tokens(&self, access: String, refresh: Option<String>, expires_in: Option<f64>) -> Result<(), JsValue> {
        let mut inner = self.inner.try_borrow_mut().map_err(|_| JsValue::from_str("busy"))?;
        let expires_in = expires_in.filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64);
        let result = inner.machine.set_tokens(now(), access, refresh, expires_in);
        if let Err(e) = result {
            return Err(error(&inner.make_error, e.code(), &("setTokens: the access token is not usable: ".to_owned() + e.message())));
        }
        drop(inner);
        drain(&self.inner);
        Ok(())
    }

    /// Manual logout: clears storage, fires `auth:logout` with reason `manual`.
    pub fn logout(&self) {
        with_machine(&self.inner, |m| m.logout(now(), LogoutReason::Manual, None));
    }

    /// A snapshot for UIs and tests.
    pub fn state(&self) -> JsValue {
        let Ok(inner) = self.inner.try_borrow() else { return JsValue::NULL };
        let t = now();
        let s = inner.machine.snapshot(t);
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
            ("storage", (if inner.store.is_memory() { "memory" } else { "web" }).into()),
        ])
        .into()
    }

    /// Stops timers and listeners and rejects whatever still waits. The client is unusable after.
    pub fn destroy(&self) {
        // Never a panicking borrow: a console hook or listener that re-enters while this runs
        // must not leave the client half-destroyed.
        let (waiters, make_error) = {
            let Ok(mut inner) = self.inner.try_borrow_mut() else { return };
            inner.destroyed = true;
            inner.deadline = None;
            inner.listeners.clear();
            inner.tabs = None;
            inner.lock = None;
            (std::mem::take(&mut inner.waiters), inner.make_error.clone())
        };
        for (_, w) in waiters {
            let _ = w.reject.call1(&JsValue::UNDEFINED, &error(&make_error, "destroyed", "the auth client was destroyed"));
            defer_drop(w._abort);
        }
    }
}

/// Decodes a JWT's claims without verifying the signature (for display; never trust it).
#[wasm_bindgen(js_name = decodeJwt)]
pub fn decode_jwt(token: &str) -> Result<JsValue, JsValue> {
    match jwt::decode(token) {
        Ok(claims) => Ok(claims_to_js(&claims)),
        Err(e) => {
            let err = js_sys::Error::new(&("decodeJwt: ".to_owned() + e.message()));
            let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
            Err(err.into())
        }
    }
}

/// A plain data object: no prototype, so a `"__proto__"` claim is an ordinary property rather
/// than a prototype swap.
fn data_object() -> Object {
    Object::create(JsValue::NULL.unchecked_ref())
}

fn claims_to_js(claims: &Claims) -> JsValue {
    let obj = data_object();
    for (key, value) in &claims.extra {
        let _ = js_sys::Reflect::set(&obj, &JsValue::from_str(key), &json_to_js(value));
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
            let _ = js_sys::Reflect::set(&obj, &JsValue::from_str(key), &value);
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
                let _ = js_sys::Reflect::set(&obj, &JsValue::from_str(k), &json_to_js(v));
            }
            obj.into()
        }
    }
}

/// A time for JS: epoch milliseconds, or `null` when unknown ("never expires until a 401").
fn millis(m: Option<Millis>) -> JsValue {
    match m {
        Some(m) if m != Millis::NEVER => JsValue::from_f64(m.0 as f64),
        _ => JsValue::NULL,
    }
}

/// Runs `f` on the machine, then carries out what it decided.
fn with_machine(rc: &Shared, f: impl FnOnce(&mut Machine)) {
    {
        let Ok(mut inner) = rc.try_borrow_mut() else { return };
        if inner.destroyed {
            return;
        }
        f(&mut inner.machine);
    }
    drain(rc);
}

/// Dropping a listener from inside its own callback would free the closure while it runs;
/// a microtask later it is safe.
fn defer_drop(listener: Option<Listener>) {
    if listener.is_some() {
        wasm_bindgen_futures::spawn_local(async move { drop(listener) });
    }
}

fn cancel_waiter(rc: &Shared, id: WaiterId, reason: JsValue) {
    let waiter = {
        let Ok(mut inner) = rc.try_borrow_mut() else { return };
        inner.machine.cancel(id);
        take_waiter(&mut inner.waiters, id)
    };
    if let Some(w) = waiter {
        let _ = w.reject.call1(&JsValue::UNDEFINED, &reason);
        defer_drop(w._abort);
    }
    drain(rc);
}

/// Carries out every action the machine has queued, then re-arms the deadline timer.
fn drain(rc: &Shared) {
    loop {
        let actions: Vec<Action> = {
            let Ok(mut inner) = rc.try_borrow_mut() else { return };
            while let Some(warning) = inner.machine.poll_warning() {
                web_sys::console::warn_1(&("authkeeper: ".to_owned() + &warning.message).into());
            }
            std::iter::from_fn(|| inner.machine.poll_action()).collect()
        };
        if actions.is_empty() {
            break;
        }
        for action in actions {
            perform(rc, action);
        }
    }
    reschedule(rc);
}

fn perform(rc: &Shared, action: Action) {
    match action {
        Action::StartRefresh { refresh_token } => {
            wasm_bindgen_futures::spawn_local(refresh(rc.clone(), refresh_token));
        }
        Action::Resolve { id, result } => {
            let (waiter, make_error) = {
                let Ok(mut inner) = rc.try_borrow_mut() else { return };
                (take_waiter(&mut inner.waiters, id), inner.make_error.clone())
            };
            let Some(w) = waiter else { return };
            let _ = match (&result, w.kind) {
                (Ok(token), _) => w.resolve.call1(&JsValue::UNDEFINED, &JsValue::from_str(token)),
                (Err(_), WaitKind::Replay) => w.resolve.call1(&JsValue::UNDEFINED, &JsValue::NULL),
                (Err(e), WaitKind::BeforeSend) => {
                    w.reject.call1(&JsValue::UNDEFINED, &error(&make_error, e.code(), &auth_error_message(e)))
                }
            };
            defer_drop(w._abort);
        }
        Action::AcquireLock => {
            wasm_bindgen_futures::spawn_local(acquire_lock(rc.clone()));
        }
        Action::ReleaseLock => {
            let guard = rc.try_borrow_mut().ok().and_then(|mut inner| inner.lock.take());
            drop(guard);
        }
        Action::ReadStored => {
            let Some(stored) = rc.try_borrow_mut().ok().map(|mut inner| inner.store.load()) else { return };
            with_machine(rc, |m| m.on_stored(now(), stored));
        }
        Action::Broadcast(message) => {
            if let Some(tabs) = rc.try_borrow().ok().as_ref().and_then(|inner| inner.tabs.as_ref()) {
                tabs.post(&message);
            }
        }
        Action::Persist { access, refresh, generation } => {
            if let Ok(mut inner) = rc.try_borrow_mut() {
                inner.store.save(&access, refresh.as_deref(), generation);
            }
        }
        Action::Clear { shared } => {
            if let Ok(mut inner) = rc.try_borrow_mut() {
                inner.store.clear(shared);
            }
        }
        Action::Logout { reason, message, origin } => {
            let mut fields = vec![("reason", JsValue::from(reason.as_str())), ("message", message.into())];
            if let Some(origin) = origin {
                fields.push(("originReason", origin.as_str().into()));
            }
            events::dispatch("auth:logout", &events::detail(&fields));
            redirect_to_login(rc);
        }
        Action::Expiring { expires_at } => {
            let remaining = expires_at.since(now());
            events::dispatch(
                "auth:expiring",
                &events::detail(&[
                    ("expiresAt", millis(Some(expires_at))),
                    ("expiresIn", JsValue::from_f64(remaining as f64)),
                ]),
            );
        }
        Action::Refreshed { expires_at } => {
            events::dispatch("auth:refreshed", &events::detail(&[("expiresAt", millis(Some(expires_at)))]));
        }
    }
}

/// Never redirects when the page is already the login page (that would reload it forever).
fn redirect_to_login(rc: &Shared) {
    let (url, path) = match rc.try_borrow() {
        Ok(inner) => (inner.login_url.clone(), inner.login_path.clone()),
        Err(_) => return,
    };
    let (Some(url), Some(window)) = (url, web_sys::window()) else { return };
    let location = window.location();
    let here = location.pathname().unwrap_or_default();
    if path.as_deref().map(|p| p.trim_end_matches('/')) != Some(here.trim_end_matches('/')) {
        let _ = location.assign(&url);
    }
}

/// Waits for the cross-tab lock and reports the outcome, with what storage holds once it is
/// granted (another tab may have refreshed meanwhile: the core decides whether to adopt).
async fn acquire_lock(rc: Shared) {
    let (name, max_wait) = match rc.try_borrow() {
        Ok(inner) if !inner.destroyed => (inner.lock_name.clone(), inner.endpoint.timeout_ms.saturating_add(5_000)),
        _ => return,
    };
    match tabs::acquire_lock(&name, max_wait).await {
        LockOutcome::Held(guard) => {
            let stored = {
                let Ok(mut inner) = rc.try_borrow_mut() else { return };
                if inner.destroyed {
                    return;
                }
                inner.lock = Some(guard);
                inner.store.load()
            };
            with_machine(&rc, |m| m.on_lock_granted(now(), stored));
        }
        LockOutcome::Unavailable => with_machine(&rc, |m| m.on_lock_unavailable(now())),
    }
}

/// The refresh HTTP call, reported to the core.
async fn refresh(rc: Shared, refresh_token: Option<String>) {
    let (fetch, endpoint) = match rc.try_borrow() {
        Ok(inner) if !inner.destroyed => (inner.fetch.clone(), inner.endpoint.clone()),
        _ => return,
    };
    let result = http::call_refresh(&fetch, &endpoint, refresh_token.as_deref()).await;
    with_machine(&rc, |machine| {
        let t = now();
        match result {
            Ok(raw) => {
                let response = RefreshResponse {
                    status: raw.status,
                    body: raw.body.as_deref().unwrap_or(""),
                    retry_after: raw.retry_after.as_deref(),
                    date: raw.date.as_deref(),
                };
                machine.on_refresh_outcome(t, classify_refresh(&response, t), jitter());
            }
            Err(TransportError::Redirected) => {
                web_sys::console::warn_1(
                    &"authkeeper: the refresh endpoint answered with a redirect, which is never followed (it would carry the refresh token elsewhere); set refreshUrl to the final URL".into(),
                );
                machine.on_refresh_network_error(t, jitter())
            }
            Err(TransportError::Network) => machine.on_refresh_network_error(t, jitter()),
        }
    });
}

/// Another tab spoke: the core decides, knowing what this tab's storage holds now.
fn on_tab_message(rc: &Shared, message: TabMessage) {
    let Some(stored) = rc.try_borrow_mut().ok().map(|mut inner| inner.store.load()) else { return };
    with_machine(rc, |m| m.on_tab_message(now(), message, stored));
}

fn reschedule(rc: &Shared) {
    let Ok(mut inner) = rc.try_borrow_mut() else { return };
    let next = if inner.destroyed { None } else { inner.machine.poll_timeout() };
    if inner.deadline.as_ref().map(|d| d.at) == next {
        return;
    }
    let weak: Weak<RefCell<Inner>> = Rc::downgrade(rc);
    inner.deadline = next.map(|at| {
        Deadline::schedule(now(), at, move || {
            // Run a microtask later: re-arming drops this very timer, which must not happen
            // while its callback is still on the stack.
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(rc) = weak.upgrade() {
                    if let Ok(mut inner) = rc.try_borrow_mut() {
                        inner.deadline = None;
                    }
                    with_machine(&rc, |m| m.handle_timeout(now(), jitter()));
                }
            });
        })
    });
}
