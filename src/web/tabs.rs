//! Across tabs: one refresh for the whole browser (an exclusive Web Lock around the refresh) and
//! propagation of new tokens and logouts (BroadcastChannel, with the `storage` event as the
//! fallback where BroadcastChannel is missing).

use crate::core::time::Millis;
use crate::core::machine::{Generation, TabMessage};
use crate::core::policy::LogoutReason;
use crate::web::lifecycle::Listener;
use crate::web::timers::Deadline;
use crate::web::clock;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, BroadcastChannel, MessageEvent, StorageEvent};

/// Held while this tab refreshes; dropping it releases the lock.
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard {
    release: Function,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

pub enum LockOutcome {
    Held(LockGuard),
    /// No Web Locks in this browser, or the wait exceeded the bound: refresh without it.
    Unavailable,
}

fn field(target: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(target, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// Waits at most `max_wait_ms` for the exclusive lock `name`.
pub async fn acquire_lock(name: &str, max_wait_ms: u32) -> LockOutcome {
    let Some(navigator) = web_sys::window().map(|w| JsValue::from(w.navigator())) else { return LockOutcome::Unavailable };
    let Some(locks) = field(&navigator, "locks") else { return LockOutcome::Unavailable };
    let Some(request) = field(&locks, "request").and_then(|f| f.dyn_into::<Function>().ok()) else {
        return LockOutcome::Unavailable;
    };
    // The lock is held until `held` settles; `release` settles it.
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    let mut granted_fn = None;
    let granted = Promise::new(&mut |resolve, _| granted_fn = Some(resolve));
    let (Some(release), Some(granted_fn)) = (release, granted_fn) else { return LockOutcome::Unavailable };
    let held_for_callback = held.clone();
    let callback = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        let _ = granted_fn.call1(&JsValue::UNDEFINED, &JsValue::TRUE);
        held_for_callback.into()
    });
    let Ok(controller) = AbortController::new() else { return LockOutcome::Unavailable };
    let options = Object::new();
    let _ = Reflect::set(&options, &"mode".into(), &"exclusive".into());
    let _ = Reflect::set(&options, &"signal".into(), &controller.signal());
    match request.call3(&locks, &JsValue::from_str(name), &options, &callback) {
        // An abort rejects the request's promise: expected, not an error to surface.
        Ok(p) => {
            if let Some(catch) = field(&p, "catch").and_then(|f| f.dyn_into::<Function>().ok()) {
                let _ = catch.call1(&p, &Closure::once_into_js(|_: JsValue| {}));
            }
        }
        Err(_) => return LockOutcome::Unavailable,
    }
    let mut timeout_fn = None;
    let timed_out = Promise::new(&mut |resolve, _| timeout_fn = Some(resolve));
    let now = clock::now();
    let _timer = timeout_fn.map(|resolve| {
        Deadline::schedule(now, now.plus(u64::from(max_wait_ms)), move || {
            let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::FALSE);
        })
    });
    let won = JsFuture::from(Promise::race(&Array::of2(&granted, &timed_out))).await;
    if won.ok().and_then(|v| v.as_bool()) == Some(true) {
        return LockOutcome::Held(LockGuard { release });
    }
    // Gave up waiting: withdraw the request, and if it is granted anyway in the meantime,
    // release it at once so no tab deadlocks on a lock nobody uses.
    controller.abort();
    let _ = release.call0(&JsValue::UNDEFINED);
    web_sys::console::warn_1(&"authkeeper: the cross-tab refresh lock was not granted in time; refreshing in this tab alone".into());
    LockOutcome::Unavailable
}

pub struct TabChannel {
    channel: Option<BroadcastChannel>,
    _listener: Option<Listener>,
}

fn parse_message(data: &JsValue) -> Option<TabMessage> {
    let kind = field(data, "type")?.as_string()?;
    let text = |name: &str| field(data, name).and_then(|v| v.as_string());
    let generation = field(data, "generation").and_then(|v| v.as_f64()).filter(|g| g.is_finite() && *g >= 0.0).map(|g| g as Generation);
    match kind.as_str() {
        "tokens" => Some(TabMessage::Tokens {
            access: text("access")?,
            refresh: text("refresh"),
            generation: generation?,
            expires_at: field(data, "expiresAt").and_then(|v| v.as_f64()).filter(|t| t.is_finite() && *t >= 0.0).map(|t| Millis(t as u64)),
        }),
        "logout" => Some(TabMessage::Logout {
            reason: LogoutReason::parse(&text("reason")?)?,
            message: text("message").unwrap_or_default(),
            generation: generation?,
        }),
        "hello" => Some(TabMessage::Hello),
        _ => None,
    }
}

impl TabChannel {
    /// `name` scopes the channel (the storage key), so two clients on one origin with different
    /// keys do not adopt each other's tokens.
    pub fn open(
        name: &str,
        watched_keys: (String, String),
        read_generation: impl Fn() -> Generation + 'static,
        on_message: impl Fn(TabMessage) + 'static,
    ) -> TabChannel {
        if let Ok(channel) = BroadcastChannel::new(name) {
            let listener = Listener::new(&channel, "message", move |event| {
                if let Some(message) = event.dyn_ref::<MessageEvent>().and_then(|e| parse_message(&e.data())) {
                    on_message(message);
                }
            });
            return TabChannel { channel: Some(channel), _listener: listener };
        }
        // Fallback: the `storage` event fires in the other tabs when a tab writes Web Storage.
        let (access_key, refresh_key) = watched_keys;
        let listener = web_sys::window().and_then(|window| {
            Listener::new(&window, "storage", move |event| {
                let Some(e) = event.dyn_ref::<StorageEvent>() else { return };
                if e.key().as_deref() != Some(access_key.as_str()) {
                    return;
                }
                let generation = read_generation();
                match e.new_value().filter(|v| !v.is_empty()) {
                    Some(access) => {
                        let refresh = e.storage_area().and_then(|s| s.get_item(&refresh_key).ok().flatten());
                        // The expiry is not in the event; the core reads it from storage.
                        on_message(TabMessage::Tokens { access, refresh, generation, expires_at: None });
                    }
                    // The keys were removed: whoever did it logged the session out.
                    None => on_message(TabMessage::Logout {
                        reason: LogoutReason::Remote,
                        message: String::new(),
                        generation: Generation::MAX,
                    }),
                }
            })
        });
        TabChannel { channel: None, _listener: listener }
    }

    pub fn post(&self, message: &TabMessage) {
        let Some(channel) = &self.channel else { return };
        let fields: Vec<(&str, JsValue)> = match message {
            TabMessage::Tokens { access, refresh, generation, expires_at } => vec![
                ("expiresAt", expires_at.map_or(JsValue::NULL, |t| JsValue::from_f64(t.0 as f64))),
                ("type", "tokens".into()),
                ("access", access.as_str().into()),
                ("refresh", refresh.as_deref().map(JsValue::from_str).unwrap_or(JsValue::NULL)),
                ("generation", JsValue::from_f64(*generation as f64)),
            ],
            TabMessage::Logout { reason, message, generation } => vec![
                ("type", "logout".into()),
                ("reason", reason.as_str().into()),
                ("message", message.as_str().into()),
                ("generation", JsValue::from_f64(*generation as f64)),
            ],
            TabMessage::Hello => vec![("type", "hello".into())],
        };
        let _ = channel.post_message(&crate::web::events::detail(&fields));
    }
}

impl Drop for TabChannel {
    fn drop(&mut self) {
        if let Some(channel) = &self.channel {
            channel.close();
        }
    }
}
