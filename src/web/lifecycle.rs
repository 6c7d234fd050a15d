//! Page lifecycle listeners. Browsers throttle or freeze timers in background tabs and during
//! sleep, so deadlines are re-checked whenever the page may have been asleep.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::EventTarget;

/// An event listener that removes itself when dropped.
#[must_use = "the listener is removed when dropped"]
pub struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    pub fn new(target: &EventTarget, kind: &'static str, f: impl FnMut(web_sys::Event) + 'static) -> Option<Listener> {
        let callback = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        target.add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref()).ok()?;
        Some(Listener { target: target.clone(), kind, callback })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

pub fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .map(|d| d.visibility_state() != web_sys::VisibilityState::Hidden)
        .unwrap_or(true)
}

/// Calls `on_wake` on `visibilitychange`, `focus`, `online` and `pageshow`.
pub fn watch_wakeups(on_wake: impl Fn() + Clone + 'static) -> Vec<Listener> {
    let mut listeners = Vec::new();
    let Some(window) = web_sys::window() else { return listeners };
    if let Some(document) = window.document() {
        let f = on_wake.clone();
        listeners.extend(Listener::new(&document, "visibilitychange", move |_| f()));
    }
    for kind in ["focus", "online", "pageshow"] {
        let f = on_wake.clone();
        listeners.extend(Listener::new(&window, kind, move |_| f()));
    }
    listeners
}
