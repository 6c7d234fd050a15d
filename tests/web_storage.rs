//! Web Storage that throws (disabled, sandboxed, over quota) degrades `AuthCore` to memory: the
//! client keeps working and `state().storage` says `memory`. Each test breaks storage for the
//! page and restores it before it ends (tests in one file share the page, one at a time).
#![cfg(target_arch = "wasm32")]

use authkeeper::web::AuthCore;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    Reflect::set(obj, &JsValue::from_str(key), &value.into()).unwrap();
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap()
}

fn origin() -> String {
    web_sys::window().unwrap().location().origin().unwrap()
}

fn jwt(ttl_secs: i64) -> String {
    let now = (js_sys::Date::now() / 1000.0) as i64;
    let payload = format!(r#"{{"exp":{},"iat":{now},"user_id":1}}"#, now + ttl_secs);
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
}

fn local_client(key: &str) -> AuthCore {
    let o = Object::new();
    set(&o, "refreshUrl", format!("{}/api/auth/token/refresh/", origin()));
    set(&o, "refreshOrigin", origin());
    set(&o, "refreshPath", "/api/auth/token/refresh/");
    set(&o, "pageOrigin", origin());
    set(&o, "storage", "local");
    set(&o, "tabLock", false);
    let keys = Object::new();
    set(&keys, "access", format!("{key}-access"));
    set(&keys, "refresh", format!("{key}-refresh"));
    set(&o, "keys", keys);
    // Nothing here refreshes: a fetch that would fail the test if called.
    let fetch = Function::new_with_args("", "throw new Error('no refresh expected')");
    let make_error = Function::new_with_args("code, message", "const e = new Error(message); e.code = code; return e;");
    let core = AuthCore::new(&o, fetch, make_error, None).unwrap();
    core.start();
    core
}

/// Runs `f` with `target[name]` replaced by `descriptor`, then puts the original back.
fn with_property<T>(target: &Object, name: &str, descriptor: &Object, f: impl FnOnce() -> T) -> T {
    let original = Object::get_own_property_descriptor(target, &JsValue::from_str(name));
    Object::define_property(target, &JsValue::from_str(name), descriptor);
    let result = f();
    if original.is_undefined() {
        Reflect::delete_property(target, &JsValue::from_str(name)).unwrap();
    } else {
        Object::define_property(target, &JsValue::from_str(name), original.unchecked_ref());
    }
    result
}

fn throwing(kind: &str) -> Function {
    Function::new_with_args("", &format!("throw new DOMException('storage refused', '{kind}');"))
}

fn state_of(core: &AuthCore, key: &str) -> String {
    get(&core.state().unwrap(), key).as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
fn working_local_storage_is_used_as_web_storage() {
    let core = local_client("works");
    assert_eq!(state_of(&core, "storage"), "web");
    let access = jwt(300);
    core.set_tokens(access.clone(), Some("r".into()), None).unwrap();
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    assert_eq!(storage.get_item("works-access").unwrap(), Some(access));
    core.logout().unwrap();
    assert_eq!(storage.get_item("works-access").unwrap(), None);
    core.destroy();
}

#[wasm_bindgen_test]
fn a_local_storage_getter_that_throws_security_error_degrades_to_memory_and_the_client_works() {
    let window: Object = web_sys::window().unwrap().unchecked_into();
    let descriptor = Object::new();
    set(&descriptor, "configurable", true);
    set(&descriptor, "get", throwing("SecurityError"));
    with_property(&window, "localStorage", &descriptor, || {
        let core = local_client("denied");
        assert_eq!(state_of(&core, "storage"), "memory");
        let access = jwt(300);
        core.set_tokens(access.clone(), Some("r".into()), None).unwrap();
        assert_eq!(core.before_send(&origin(), "/api/items/", None).as_string(), Some(access));
        assert_eq!(state_of(&core, "status"), "active");
        core.logout().unwrap();
        assert_eq!(state_of(&core, "status"), "logged_out");
        core.destroy();
    });
}

#[wasm_bindgen_test]
fn set_item_throwing_quota_exceeded_degrades_to_memory_and_keeps_what_was_stored_readable() {
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let access = jwt(300);
    storage.set_item("full-access", &access).unwrap();
    storage.set_item("full-refresh", "r").unwrap();
    let prototype: Object = get(&get(&js_sys::global(), "Storage"), "prototype").unchecked_into();
    let descriptor = Object::new();
    set(&descriptor, "configurable", true);
    set(&descriptor, "writable", true);
    set(&descriptor, "value", throwing("QuotaExceededError"));
    with_property(&prototype, "setItem", &descriptor, || {
        let core = local_client("full");
        assert_eq!(state_of(&core, "storage"), "memory");
        // The session written before the quota filled up is still this page's session.
        assert_eq!(core.before_send(&origin(), "/api/items/", None).as_string(), Some(access.clone()));
        let fresh = jwt(600);
        core.set_tokens(fresh.clone(), Some("r2".into()), None).unwrap();
        assert_eq!(core.before_send(&origin(), "/api/items/", None).as_string(), Some(fresh));
        // Removal works without write access: logout does not leave the old tokens behind.
        core.logout().unwrap();
        assert_eq!(storage.get_item("full-access").unwrap(), None);
        assert_eq!(storage.get_item("full-refresh").unwrap(), None);
        core.destroy();
    });
}
