//! `auth:*` CustomEvents on `window`. Dispatch is synchronous, so callers must not hold a
//! RefCell borrow of the client while dispatching: a listener may call back into the client.

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit};

pub fn dispatch(name: &str, detail: &Object) {
    let Some(window) = web_sys::window() else { return };
    let init = CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        // A listener that throws is the page's problem; it must not break the session logic.
        let _ = window.dispatch_event(&event);
    }
}

/// Builds a plain `{key: value}` detail object.
pub fn detail(fields: &[(&str, JsValue)]) -> Object {
    let obj = Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&obj, &JsValue::from_str(key), value);
    }
    obj
}
