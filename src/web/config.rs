//! Reads the options object that `js/index.js` has already validated and normalised (absolute
//! URLs, origins, milliseconds). Anything missing or of the wrong type falls back to the default
//! instead of failing: validation with named errors is the JS layer's job.

use crate::core::breaker::BreakerConfig;
use crate::core::machine::{LoginPage, MachineConfig, TabScope};
use crate::core::urls::UrlRules;
use crate::web::http::{BodyFormat, RefreshEndpoint};
use crate::web::storage::{Area, SessionClear, StoreConfig};
use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;

pub struct ClientConfig {
    pub machine: MachineConfig,
    pub urls: UrlRules,
    pub store: StoreConfig,
    pub endpoint: RefreshEndpoint,
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
    fn millis(&self, key: &str) -> Option<u64> {
        self.field(key).as_f64().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64)
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

pub fn read(options: &JsValue) -> ClientConfig {
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

    let defaults = BreakerConfig::default();
    let breaker = BreakerConfig {
        max_attempts: retry.millis("maxAttempts").map(|n| n.clamp(1, 100) as u32).unwrap_or(defaults.max_attempts),
        base_delay_ms: retry.millis("baseDelay").unwrap_or(defaults.base_delay_ms),
        max_delay_ms: retry.millis("maxDelay").unwrap_or(defaults.max_delay_ms),
        cooldown_ms: retry.millis("cooldown").unwrap_or(defaults.cooldown_ms),
        give_up_after_ms: retry.millis("giveUpAfter").unwrap_or(defaults.give_up_after_ms),
    };
    let machine_defaults = MachineConfig::default();
    let machine = MachineConfig {
        leeway_ms: o.millis("leeway"),
        expiring_warning_ms: o.millis("expiringWarning").unwrap_or(machine_defaults.expiring_warning_ms),
        refresh_when_hidden: o.flag("refreshWhenHidden", machine_defaults.refresh_when_hidden),
        cookie_mode,
        breaker,
        tabs: if o.string("storage").as_deref() == Some("session") { TabScope::PerTab } else { TabScope::Shared },
        tab_lock: o.flag("tabLock", true),
        memory_storage: false,
        login: o.string("loginUrl").filter(|s| !s.is_empty()).map(|url| LoginPage { url, path: o.string("loginPath").unwrap_or_default() }),
    };
    let urls = UrlRules::new(
        page_origin,
        strings_or(o.strings("apiOrigins"), &[]),
        strings_or(o.strings("skipRefreshFor"), &["/login", "/register", "/verify-otp"]),
        refresh_origin,
        refresh_path,
    );
    let store = StoreConfig {
        area: o.string("storage").as_deref().and_then(Area::parse).unwrap_or(Area::Local),
        access_key: keys.string("access").unwrap_or_else(|| "accessToken".into()),
        refresh_key: keys.string("refresh").unwrap_or_else(|| "refreshToken".into()),
        legacy_access: strings_or(legacy.strings("access"), &["access_token"]),
        legacy_refresh: strings_or(legacy.strings("refresh"), &["refresh_token"]),
        clear_patterns: strings_or(clear.strings("patterns"), &["token", "auth", "user"]),
        clear_session: clear.string("sessionStorage").as_deref().and_then(SessionClear::parse).unwrap_or(SessionClear::All),
        keep_refresh: !cookie_mode,
    };
    let endpoint = RefreshEndpoint {
        url: refresh_url,
        format: if o.string("refreshFormat").as_deref() == Some("oauth") { BodyFormat::OAuth } else { BodyFormat::SimpleJwt },
        cookie_mode,
        timeout_ms: o.millis("refreshTimeout").map(|v| v.min(u64::from(u32::MAX)) as u32).unwrap_or(10_000),
        client_id: o.string("clientId").filter(|s| !s.is_empty()),
        scope: o.string("scope").filter(|s| !s.is_empty()),
    };
    ClientConfig {
        machine,
        urls,
        store,
        endpoint,
    }
}
