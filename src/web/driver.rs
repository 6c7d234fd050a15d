//! The driver loop: carries out the core's actions with the browser adapters and reports what
//! happened back as events. No session decision is made here; every `match` below is over an
//! action or an adapter's result, translated one to one.
//!
//! Borrow discipline: the client's state is borrowed only for Rust work and synchronous,
//! callback-free browser calls (storage, postMessage); never while JS code of the page can run
//! (event dispatch, promise settlement, console hooks). So a borrow here cannot fail in
//! practice; where it would, the step is skipped rather than panicking across the boundary.

use crate::core::handover::LastHandedOver;
use crate::core::machine::{Action, Machine, Severity, TabMessage};
use crate::core::policy::{revocation_failure, RefreshResponse};
use crate::core::urls::UrlRules;
use crate::web::clock::{jitter, now};
use crate::web::convert::{millis, Errors};
use crate::web::events;
use crate::web::http::{self, RefreshEndpoint, TransportError};
use crate::web::lifecycle::Listener;
use crate::web::promises::Promises;
use crate::web::storage::TokenStore;
use crate::web::tabs::{self, LockGuard, LockOutcome, TabChannel};
use crate::web::timers::Deadline;
use js_sys::Function;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

pub struct Inner {
    pub machine: Machine,
    pub urls: UrlRules,
    pub store: TokenStore,
    pub endpoint: RefreshEndpoint,
    pub fetch: Function,
    pub errors: Errors,
    pub promises: Promises,
    pub next_id: u64,
    pub deadline: Option<Deadline>,
    pub listeners: Vec<Listener>,
    pub tabs: Option<TabChannel>,
    /// The cross-tab lock's name, and the lock while this tab holds it.
    pub lock_name: String,
    pub lock: Option<LockGuard>,
    pub handed_over: LastHandedOver,
    pub destroyed: bool,
    /// The app's `onTrace` hook.
    pub trace: Option<Function>,
    /// `js/index.js`'s per-client subscription hub: `notify(kind, detail)` on every change.
    pub notify: Option<Function>,
}

pub type Shared = Rc<RefCell<Inner>>;

/// Runs `f` on the machine, then carries out what it decided.
pub fn with_machine(rc: &Shared, f: impl FnOnce(&mut Machine)) {
    {
        let Ok(mut inner) = rc.try_borrow_mut() else { return };
        if inner.destroyed {
            return;
        }
        f(&mut inner.machine);
    }
    drain(rc);
}

/// Carries out every action the machine has queued, then re-arms the deadline timer.
pub fn drain(rc: &Shared) {
    loop {
        let (warnings, actions) = {
            let Ok(mut inner) = rc.try_borrow_mut() else { return };
            let warnings: Vec<(Severity, String)> =
                std::iter::from_fn(|| inner.machine.poll_warning()).map(|w| (w.severity, w.message)).collect();
            let actions: Vec<Action> = std::iter::from_fn(|| inner.machine.poll_action()).collect();
            (warnings, actions)
        };
        // Outside the borrow: a console hook may call back into the client.
        for (severity, warning) in warnings {
            let line = JsValue::from("authkeeper: ".to_owned() + &warning);
            match severity {
                Severity::Warn => web_sys::console::warn_1(&line),
                Severity::Error => web_sys::console::error_1(&line),
            }
        }
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
        Action::Resolve { id, outcome } => {
            let Some((pending, errors)) =
                rc.try_borrow_mut().ok().and_then(|mut inner| Some((inner.promises.take(id)?, inner.errors.clone())))
            else {
                return;
            };
            pending.settle(&outcome, &errors);
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
        Action::Persist { access, refresh, generation, expires_at } => {
            if let Ok(mut inner) = rc.try_borrow_mut() {
                inner.store.save(&access, refresh.as_deref(), generation, expires_at);
            }
        }
        Action::Revoke { token } => {
            wasm_bindgen_futures::spawn_local(revoke(rc.clone(), token));
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
            announce(rc, "auth:logout", "signed_out", &events::detail(&fields));
        }
        Action::Redirect { url, unless_at } => redirect(&url, &unless_at),
        Action::Expiring { expires_at } => {
            let remaining = expires_at.since(now());
            let detail = events::detail(&[
                ("expiresAt", millis(Some(expires_at))),
                ("expiresIn", JsValue::from_f64(remaining as f64)),
            ]);
            announce(rc, "auth:expiring", "expiring", &detail);
        }
        Action::Refreshed { expires_at } => {
            announce(rc, "auth:refreshed", "refreshed", &events::detail(&[("expiresAt", millis(Some(expires_at)))]));
        }
        Action::SignedIn { expires_at } => {
            announce(rc, "auth:login", "signed_in", &events::detail(&[("expiresAt", millis(Some(expires_at)))]));
        }
    }
}

/// The `window` event every page listener gets, then this client's own subscribers.
fn announce(rc: &Shared, event: &str, kind: &str, detail: &js_sys::Object) {
    events::dispatch(event, detail);
    let notify = rc.try_borrow().ok().and_then(|inner| inner.notify.clone());
    if let Some(notify) = notify {
        // A subscriber that throws is the page's problem; it must not break the session logic.
        let _ = notify.call2(&JsValue::UNDEFINED, &JsValue::from_str(kind), detail);
    }
}

fn redirect(url: &str, unless_at: &str) {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let here = location.pathname().unwrap_or_default();
    if here.trim_end_matches('/') != unless_at.trim_end_matches('/') {
        let _ = location.assign(url);
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
    // The app's parser reads a 2xx body (outside any borrow: it is page code).
    let parsed = match (&result, &endpoint.parse_hook) {
        (Ok(raw), Some(hook)) if (200..=299).contains(&raw.status) => Some(http::parse_with_hook(hook, raw.body.as_deref())),
        _ => None,
    };
    if let Err(TransportError::Redirected) = result {
        web_sys::console::warn_1(
            &"authkeeper: the refresh endpoint answered with a redirect, which is never followed (it would carry the refresh token elsewhere); set refreshUrl to the final URL".into(),
        );
    }
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
                machine.on_refresh_response(t, &response, parsed, jitter());
            }
            Err(TransportError::Redirected | TransportError::Network) => machine.on_refresh_network_error(t, jitter()),
            Err(TransportError::Hook(message)) => machine.on_refresh_hook_error(t, message, jitter()),
        }
    });
}

/// The revocation after a manual logout, best effort: its result goes to the trace hook only
/// (`{id: 0, url: <revokeUrl's path>, phase: 'revoked' | 'revoke_failed', status?, error?}`),
/// never a token. The session ended locally before this started, whatever happens here.
async fn revoke(rc: Shared, token: Option<String>) {
    let (fetch, endpoint) = match rc.try_borrow() {
        Ok(inner) => (inner.fetch.clone(), inner.endpoint.clone()),
        _ => return,
    };
    let status = http::call_revoke(&fetch, &endpoint, token.as_deref()).await;
    let Some(trace) = rc.try_borrow().ok().and_then(|inner| inner.trace.clone()) else { return };
    let failure = revocation_failure(status);
    let mut fields = vec![
        ("id", JsValue::from_f64(0.0)),
        ("url", JsValue::from_str(&endpoint.revoke_path)),
        ("phase", JsValue::from_str(if failure.is_some() { "revoke_failed" } else { "revoked" })),
    ];
    if let Some(status) = status {
        fields.push(("status", JsValue::from_f64(f64::from(status))));
    }
    if let Some(error) = failure {
        fields.push(("error", JsValue::from_str(&error)));
    }
    // A hook that throws is the page's problem.
    let _ = trace.call1(&JsValue::UNDEFINED, &events::detail(&fields));
}

/// Another tab spoke: the core decides, knowing what this tab's storage holds now.
pub fn on_tab_message(rc: &Shared, message: TabMessage) {
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
