//! Reads the options object that `js/index.js` has type-checked and normalised (absolute URLs,
//! origins). Defaults and numeric ranges come from `core::options`: what the app left out
//! takes the core's default, a number out of range is the core's `OptionError`.

use crate::core::machine::{LoginPage, MachineConfig, TabScope};
use crate::core::options::{self as limits, OptionError, RetryInput};
use crate::core::urls::UrlRules;
use crate::web::http::{BodyFormat, RefreshEndpoint};
use crate::core::storage_rules::{Area, ClearRules, SessionClear};
use crate::web::storage::StoreConfig;
use js_sys::{Array, Function, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;

pub struct ClientConfig {
    pub machine: MachineConfig,
    pub urls: UrlRules,
    pub store: StoreConfig,
    pub endpoint: RefreshEndpoint,
    /// `onTrace`, for what only the driver sees (the revocation's result).
    pub trace: Option<Function>,
}

struct Options<'a>(&'a JsValue);

impl Options<'_> {
    fn field(&self, key: &str) -> JsValue {
        Reflect::get(self.0, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    }
    fn nested(&self, key: &str) -> JsValue {
        let v = self.field(key);
        if v.is_object() { v } else { JsValue::UNDEFINED }
    }
    fn string(&self, key: &str) -> Option<String> {
        self.field(key).as_string()
    }
    /// A number the app passed (`null` and absent: none), for `core::options` to range-check.
    fn number(&self, key: &str) -> Option<f64> {
        self.field(key).as_f64()
    }
    fn function(&self, key: &str) -> Option<Function> {
        self.field(key).dyn_into::<Function>().ok()
    }
    fn flag(&self, key: &str, default: bool) -> bool {
        self.field(key).as_bool().unwrap_or(default)
    }
    fn strings(&self, key: &str) -> Option<Vec<String>> {
        let v = self.field(key);
        if !Array::is_array(&v) {
            return None;
        }
        Some(Array::from(&v).iter().filter_map(|item| item.as_string()).collect())
    }
}

fn strings_or(v: Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    v.unwrap_or_else(|| default.iter().map(|s| (*s).to_owned()).collect())
}

pub fn read(options: &JsValue) -> Result<ClientConfig, OptionError> {
    let o = Options(options);
    let keys = o.nested("keys");
    let keys = Options(&keys);
    let legacy = o.nested("legacyKeys");
    let legacy = Options(&legacy);
    let retry = o.nested("retry");
    let retry = Options(&retry);
    let clear = o.nested("clear");
    let clear = Options(&clear);

    let cookie_mode = o.string("refreshMode").as_deref() == Some("cookie");
    let refresh_url = o.string("refreshUrl").unwrap_or_default();
    let page_origin = o.string("pageOrigin").unwrap_or_default();
    let refresh_origin = o.string("refreshOrigin").unwrap_or_else(|| page_origin.clone());
    let refresh_path = o.string("refreshPath").unwrap_or_default();

    let breaker = limits::breaker_config(&RetryInput {
        max_attempts: retry.number("maxAttempts"),
        base_delay: retry.number("baseDelay"),
        max_delay: retry.number("maxDelay"),
        cooldown: retry.number("cooldown"),
        give_up_after: retry.number("giveUpAfter"),
    })?;
    let machine_defaults = MachineConfig::default();
    let leeway = o.number("leeway");
    let machine = MachineConfig {
        leeway_ms: if leeway.is_some() { Some(limits::LEEWAY.check(leeway, 0)?) } else { None },
        expiring_warning_ms: limits::EXPIRING_WARNING.check(o.number("expiringWarning"), machine_defaults.expiring_warning_ms)?,
        refresh_when_hidden: o.flag("refreshWhenHidden", machine_defaults.refresh_when_hidden),
        cookie_mode,
        breaker,
        tabs: if o.string("storage").as_deref() == Some("session") { TabScope::PerTab } else { TabScope::Shared },
        tab_lock: o.flag("tabLock", limits::DEFAULT_TAB_LOCK),
        memory_storage: false,
        login: o.string("loginUrl").filter(|s| !s.is_empty()).map(|url| LoginPage { url, path: o.string("loginPath").unwrap_or_default() }),
        revoke: o.string("revokeUrl").is_some_and(|s| !s.is_empty()),
    };
    let urls = UrlRules::new(
        page_origin,
        strings_or(o.strings("apiOrigins"), &[]),
        strings_or(o.strings("skipRefreshFor"), limits::DEFAULT_SKIP_REFRESH_FOR),
        refresh_origin,
        refresh_path,
    );
    let access_key = keys.string("access").unwrap_or_else(|| limits::DEFAULT_ACCESS_KEY.into());
    let refresh_key = keys.string("refresh").unwrap_or_else(|| limits::DEFAULT_REFRESH_KEY.into());
    let legacy_access = strings_or(legacy.strings("access"), limits::DEFAULT_LEGACY_ACCESS_KEYS);
    let legacy_refresh = strings_or(legacy.strings("refresh"), limits::DEFAULT_LEGACY_REFRESH_KEYS);
    let clear = ClearRules::new(
        &access_key,
        &refresh_key,
        &[legacy_access.as_slice(), legacy_refresh.as_slice()].concat(),
        &strings_or(clear.strings("patterns"), limits::DEFAULT_CLEAR_PATTERNS),
        clear.string("sessionStorage").as_deref().and_then(SessionClear::parse).unwrap_or(SessionClear::All),
    );
    let store = StoreConfig {
        area: o.string("storage").as_deref().and_then(Area::parse).unwrap_or(Area::Local),
        access_key,
        refresh_key,
        legacy_access,
        legacy_refresh,
        clear,
        keep_refresh: !cookie_mode,
    };
    let endpoint = RefreshEndpoint {
        url: refresh_url,
        format: if o.string("refreshFormat").as_deref() == Some("oauth") { BodyFormat::OAuth } else { BodyFormat::SimpleJwt },
        cookie_mode,
        timeout_ms: limits::REFRESH_TIMEOUT.check(o.number("refreshTimeout"), limits::DEFAULT_REFRESH_TIMEOUT_MS)? as u32,
        client_id: o.string("clientId").filter(|s| !s.is_empty()),
        scope: o.string("scope").filter(|s| !s.is_empty()),
        revoke_url: o.string("revokeUrl").filter(|s| !s.is_empty()),
        revoke_path: o.string("revokePath").unwrap_or_default(),
        // Wrapped by js/index.js, which checks what the app's hooks return.
        request_hook: o.function("refreshRequestHook"),
        parse_hook: o.function("parseRefreshResponseHook"),
    };
    Ok(ClientConfig { machine, urls, store, endpoint, trace: o.function("onTrace") })
}
