//! The promise registry: the JS promises of requests waiting for a refresh, each settled
//! exactly as the core's `Outcome` says once its `Resolve` comes.

use crate::core::machine::{Outcome, WaiterId};
use crate::web::convert::Errors;
use crate::web::lifecycle::Listener;
use js_sys::Function;
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

/// One waiting promise: its settle functions, and the abort listener that cancels it.
pub struct Pending {
    resolve: Function,
    reject: Function,
    abort: Option<Listener>,
}

impl Pending {
    pub fn new(resolve: Function, reject: Function, abort: Option<Listener>) -> Pending {
        Pending { resolve, reject, abort }
    }

    /// A bearer resolves to the token string; "your original response" resolves to `null`, which
    /// `js/index.js` reads as "return the 401 you have" (and, for a request not yet sent, as
    /// "send it without a bearer": `Anonymous`); a failure rejects with the typed error.
    /// Called with no borrow of the client held: the caller's continuation may call back in.
    pub fn settle(self, outcome: &Outcome, errors: &Errors) {
        let _ = match outcome {
            Outcome::Bearer(token) => self.resolve.call1(&JsValue::UNDEFINED, &JsValue::from_str(token)),
            // Also "send it without a bearer" for a request that was waiting to be sent.
            Outcome::OriginalResponse(_) | Outcome::Anonymous => self.resolve.call1(&JsValue::UNDEFINED, &JsValue::NULL),
            Outcome::Failed(e) => self.reject.call1(&JsValue::UNDEFINED, &errors.auth(e)),
        };
        defer_drop(self.abort);
    }

    pub fn reject(self, reason: &JsValue) {
        let _ = self.reject.call1(&JsValue::UNDEFINED, reason);
        defer_drop(self.abort);
    }
}

/// Few at a time and short-lived: a Vec is smaller in wasm than a map and as fast here.
#[derive(Default)]
pub struct Promises {
    pending: Vec<(WaiterId, Pending)>,
}

impl Promises {
    pub fn insert(&mut self, id: WaiterId, pending: Pending) {
        self.pending.push((id, pending));
    }

    pub fn take(&mut self, id: WaiterId) -> Option<Pending> {
        let index = self.pending.iter().position(|(w, _)| *w == id)?;
        Some(self.pending.swap_remove(index).1)
    }

    pub fn take_all(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.pending).into_iter().map(|(_, p)| p).collect()
    }
}

/// What fetch rejects with when a signal aborts: the signal's reason, or an `AbortError`.
pub fn abort_reason(signal: &AbortSignal) -> JsValue {
    let reason = js_sys::Reflect::get(signal, &"reason".into()).unwrap_or(JsValue::UNDEFINED);
    if !reason.is_undefined() {
        return reason;
    }
    web_sys::DomException::new_with_message_and_name("The operation was aborted.", "AbortError")
        .map(JsValue::from)
        .unwrap_or_else(|_| js_sys::Error::new("AbortError").into())
}

/// Dropping a listener from inside its own callback would free the closure while it runs;
/// a microtask later it is safe.
pub fn defer_drop(listener: Option<Listener>) {
    if listener.is_some() {
        wasm_bindgen_futures::spawn_local(async move { drop(listener) });
    }
}
