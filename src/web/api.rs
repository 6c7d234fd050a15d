//! The `#[wasm_bindgen]` surface used by `js/index.js`: each method turns a JS call into a core
//! event (through `driver`) and the core's answer into a JS value (through `convert`).
//! State lives in `Rc<RefCell<Inner>>`; every entry point borrows briefly and never across an
//! `.await` or a call that can re-enter (event dispatch), which is what makes wasm-bindgen#4440
//! ("recursive use of an object") impossible here. Where a borrow would still fail, the call
//! rejects with code `busy` instead of guessing.

use crate::core::errors::ErrorCode;
use crate::core::handover::{Handover, LastHandedOver};
use crate::core::jwt;
use crate::core::machine::{Machine, RequestDecision, UnauthorizedDecision, WaiterId};
use crate::core::policy::LogoutReason;
use crate::core::urls::UrlClass;
use crate::web::clock::now;
use crate::web::config;
use crate::web::convert::{claims_to_js, snapshot_to_js, Errors};
use crate::web::driver::{drain, on_tab_message, with_machine, Inner, Shared};
use crate::web::lifecycle::{self, Listener};
use crate::web::promises::{abort_reason, Pending, Promises};
use crate::web::storage::TokenStore;
use crate::web::tabs::TabChannel;
use js_sys::{Function, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

#[wasm_bindgen]
pub struct AuthCore {
    inner: Shared,
    /// Outside the RefCell, so that even a call that finds the state busy can say so typed.
    errors: Errors,
}

#[wasm_bindgen]
impl AuthCore {
    /// `options` is the object normalised by `js/index.js`; `fetch` performs the refresh call;
    /// `make_error(code, message)` builds the JS error class the package exports; `notify(kind,
    /// detail)`, when given, hears every session change of this client.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &JsValue, fetch: Function, make_error: Function, notify: Option<Function>) -> Result<AuthCore, JsValue> {
        let errors = Errors::new(make_error);
        let mut cfg = config::read(options)
            .map_err(|e| errors.error(ErrorCode::InvalidOption, &("createAuthClient: option ".to_owned() + &e.message)))?;
        let lock_name = "authkeeper:refresh:".to_owned() + &cfg.store.access_key;
        let store = TokenStore::open(cfg.store);
        cfg.machine.memory_storage = store.is_memory();
        let inner = Inner {
            machine: Machine::new(cfg.machine),
            urls: cfg.urls,
            store,
            endpoint: cfg.endpoint,
            fetch,
            errors: errors.clone(),
            promises: Promises::default(),
            next_id: 1,
            deadline: None,
            listeners: Vec::new(),
            tabs: None,
            lock_name,
            lock: None,
            handed_over: LastHandedOver::default(),
            destroyed: false,
            trace: cfg.trace,
            notify,
        };
        Ok(AuthCore { inner: Rc::new(RefCell::new(inner)), errors })
    }

    /// Validates the stored tokens (migrating legacy keys) and starts the lifecycle watchers.
    pub fn start(&self) {
        {
            let Ok(mut inner) = self.inner.try_borrow_mut() else { return };
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
                let generation =
                    rc.as_ref().and_then(|rc| rc.try_borrow_mut().ok().map(|mut inner| inner.store.generation()));
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
            Err(_) => return Promise::reject(&self.errors.busy("auth.fetch")).into(),
        };
        self.request(class, signal, "auth.fetch")
    }

    /// A valid access token for code that cannot go through `auth.fetch` (WebSockets, SSE):
    /// waits for a refresh when the current one is expiring. Resolves `null` without a session.
    #[wasm_bindgen(js_name = accessToken)]
    pub fn access_token(&self, signal: Option<AbortSignal>) -> JsValue {
        self.request(UrlClass::Protected, signal, "getAccessToken")
    }

    fn request(&self, class: UrlClass, signal: Option<AbortSignal>, method: &str) -> JsValue {
        if let Some(signal) = signal.as_ref().filter(|s| s.aborted()) {
            return Promise::reject(&abort_reason(signal)).into();
        }
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return Promise::reject(&self.errors.busy(method)).into();
        };
        if inner.destroyed {
            return Promise::reject(&self.errors.destroyed()).into();
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let decision = inner.machine.on_request(now(), id, class);
        let result = match decision {
            RequestDecision::Send { bearer: Some(token) } => match inner.handed_over.hand_over(token) {
                Handover::Unchanged => return JsValue::TRUE,
                Handover::New(token) => return JsValue::from_str(&token),
            },
            // Nothing to wait for, but the core may have ended a session it could not renew.
            RequestDecision::Send { bearer: None } => JsValue::NULL,
            RequestDecision::Fail(e) => Promise::reject(&self.errors.auth(&e)).into(),
            RequestDecision::Wait => {
                drop(inner);
                let promise = self.wait(id, signal);
                drain(&self.inner);
                return promise.into();
            }
        };
        drop(inner);
        drain(&self.inner);
        result
    }

    /// After a 401 on a request sent with `sent_bearer`: a string to replay with now, `null` to
    /// return the 401 as is, or a Promise of either once the (single-flight) refresh settles.
    #[wasm_bindgen(js_name = onUnauthorized)]
    pub fn on_unauthorized(&self, origin: &str, path: &str, sent_bearer: &str, signal: Option<AbortSignal>) -> JsValue {
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return Promise::reject(&self.errors.busy("auth.fetch")).into();
        };
        let class = inner.urls.classify(origin, path);
        let id = inner.next_id;
        inner.next_id += 1;
        let decision = inner.machine.on_unauthorized(now(), id, class, sent_bearer);
        drop(inner);
        let result = match decision {
            UnauthorizedDecision::ReturnAsIs => JsValue::NULL,
            UnauthorizedDecision::Replay { bearer } => JsValue::from(bearer),
            UnauthorizedDecision::Wait => self.wait(id, signal).into(),
        };
        drain(&self.inner);
        result
    }

    /// A promise settled by the core's `Resolve` for `id`, or by the signal's abort.
    fn wait(&self, id: WaiterId, signal: Option<AbortSignal>) -> Promise {
        let inner_rc = self.inner.clone();
        let errors = self.errors.clone();
        Promise::new(&mut |resolve, reject| {
            let abort = signal.as_ref().and_then(|signal| {
                let weak = Rc::downgrade(&inner_rc);
                let s = signal.clone();
                Listener::new(signal, "abort", move |_| {
                    if let Some(rc) = weak.upgrade() {
                        cancel(&rc, id, abort_reason(&s));
                    }
                })
            });
            let pending = Pending::new(resolve, reject, abort);
            match inner_rc.try_borrow_mut() {
                Ok(mut inner) => inner.promises.insert(id, pending),
                Err(_) => pending.reject(&errors.busy("auth.fetch")),
            }
        })
    }

    /// `auth.refresh()`: a new token now, single-flight with any refresh under way. A Promise
    /// of the new bearer (js/index.js resolves it to nothing), rejected typed when no new token
    /// is coming; `null` from the core's `Anonymous` means no session was found (cookie mode).
    pub fn refresh(&self, signal: Option<AbortSignal>) -> Promise {
        if let Some(signal) = signal.as_ref().filter(|s| s.aborted()) {
            return Promise::reject(&abort_reason(signal));
        }
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return Promise::reject(&self.errors.busy("refresh"));
        };
        if inner.destroyed {
            return Promise::reject(&self.errors.destroyed());
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let decision = inner.machine.force_refresh(now(), id);
        drop(inner);
        let promise = match decision {
            RequestDecision::Wait => self.wait(id, signal),
            RequestDecision::Fail(e) => Promise::reject(&self.errors.auth(&e)),
            // Not produced by force_refresh; settled rather than left hanging.
            RequestDecision::Send { .. } => Promise::resolve(&JsValue::NULL),
        };
        drain(&self.inner);
        promise
    }

    /// The app's own login succeeded: start a session with these tokens.
    #[wasm_bindgen(js_name = setTokens)]
    pub fn set_tokens(&self, access: String, refresh: Option<String>, expires_in: Option<f64>) -> Result<(), JsValue> {
        let mut inner = self.inner.try_borrow_mut().map_err(|_| self.errors.busy("setTokens"))?;
        let expires_in = expires_in.filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64);
        if let Err(e) = inner.machine.set_tokens(now(), access, refresh, expires_in) {
            return Err(self.errors.error(e.code(), &("setTokens: the access token is not usable: ".to_owned() + e.message())));
        }
        drop(inner);
        drain(&self.inner);
        Ok(())
    }

    /// Manual logout: clears storage, fires `auth:logout` with reason `manual`.
    pub fn logout(&self) -> Result<(), JsValue> {
        {
            let mut inner = self.inner.try_borrow_mut().map_err(|_| self.errors.busy("logout"))?;
            inner.machine.logout(now(), LogoutReason::Manual, None);
        }
        drain(&self.inner);
        Ok(())
    }

    /// A snapshot for UIs and tests.
    pub fn state(&self) -> Result<JsValue, JsValue> {
        let inner = self.inner.try_borrow().map_err(|_| self.errors.busy("state"))?;
        let claims = inner.machine.access_token().and_then(|token| jwt::decode(token).ok());
        Ok(snapshot_to_js(&inner.machine.snapshot(now()), inner.store.is_memory(), claims.as_ref()))
    }

    /// Stops timers and listeners and rejects whatever still waits. The client is unusable after.
    pub fn destroy(&self) {
        // Never a panicking borrow: called from inside one of the client's own callbacks, the
        // teardown runs a microtask later instead.
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            let rc = self.inner.clone();
            let errors = self.errors.clone();
            wasm_bindgen_futures::spawn_local(async move { AuthCore { inner: rc, errors }.destroy() });
            return;
        };
        inner.destroyed = true;
        inner.deadline = None;
        inner.listeners.clear();
        inner.tabs = None;
        inner.lock = None;
        let pending = inner.promises.take_all();
        drop(inner);
        for p in pending {
            p.reject(&self.errors.destroyed());
        }
    }
}

/// A cancelled (aborted) waiter: the core forgets it, its promise rejects with the reason.
fn cancel(rc: &Shared, id: WaiterId, reason: JsValue) {
    let pending = {
        let Ok(mut inner) = rc.try_borrow_mut() else { return };
        inner.machine.cancel(id);
        inner.promises.take(id)
    };
    if let Some(p) = pending {
        p.reject(&reason);
    }
    drain(rc);
}

/// Decodes a JWT's claims without verifying the signature (for display; never trust it).
#[wasm_bindgen(js_name = decodeJwt)]
pub fn decode_jwt(token: &str) -> Result<JsValue, JsValue> {
    match jwt::decode(token) {
        Ok(claims) => Ok(claims_to_js(&claims)),
        Err(e) => {
            let err = js_sys::Error::new(&("decodeJwt: ".to_owned() + e.message()));
            let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().as_str().into());
            Err(err.into())
        }
    }
}
