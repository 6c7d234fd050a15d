//! Where tokens live: localStorage, sessionStorage or memory. Web Storage throws in private
//! modes, sandboxed iframes, when disabled or over quota; every such failure degrades this store
//! to memory (one console warning) instead of breaking the app.

use crate::core::machine::{Generation, Stored};
use crate::core::storage_rules::{decimal, expiry_key, generation_key, Area, ClearRules, SessionClear};
use crate::core::time::Millis;
use web_sys::Storage;

pub struct StoreConfig {
    pub area: Area,
    pub access_key: String,
    pub refresh_key: String,
    pub legacy_access: Vec<String>,
    pub legacy_refresh: Vec<String>,
    /// What a logout removes (decided in the core).
    pub clear: ClearRules,
    /// In cookie mode the refresh token is an httpOnly cookie: never read or write one here.
    pub keep_refresh: bool,
}

/// A handful of keys at most: a Vec of pairs, which is far smaller in wasm than a BTreeMap.
#[derive(Default)]
struct MemoryMap(Vec<(String, String)>);

impl MemoryMap {
    fn get(&self, key: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    fn insert(&mut self, key: String, value: String) {
        self.remove(&key);
        self.0.push((key, value));
    }
    fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }
}

enum Backend {
    Web(Storage),
    Memory(MemoryMap),
}

pub struct TokenStore {
    config: StoreConfig,
    backend: Backend,
}


const PROBE_KEY: &str = "__authkeeper_probe__";

/// The area's Storage object, if the page may touch it at all (the getter throws where storage
/// is disabled or the document is sandboxed). Reads and removals may still work when writes do not.
fn raw_storage(area: Area) -> Option<Storage> {
    let window = web_sys::window()?;
    let storage = match area {
        Area::Local => window.local_storage(),
        Area::Session => window.session_storage(),
        Area::Memory => return None,
    };
    storage.ok().flatten()
}

/// A Storage that also accepts writes.
fn web_storage(area: Area) -> Option<Storage> {
    let storage = raw_storage(area)?;
    // Some browsers hand out a Storage whose every write throws (old Safari private mode, or a
    // full quota).
    storage.set_item(PROBE_KEY, "1").ok()?;
    storage.remove_item(PROBE_KEY).ok()?;
    Some(storage)
}

fn warn_degraded(what: &str) {
    web_sys::console::warn_1(
        &("authkeeper: ".to_owned() + what + " is unavailable; tokens are kept in memory for this page only").into(),
    );
}

impl TokenStore {
    pub fn open(config: StoreConfig) -> TokenStore {
        let backend = match config.area {
            Area::Memory => Backend::Memory(MemoryMap::default()),
            area => match web_storage(area) {
                Some(storage) => Backend::Web(storage),
                None => {
                    warn_degraded(if area == Area::Local { "localStorage" } else { "sessionStorage" });
                    // Unwritable is not unreadable (a full quota): the session stored there
                    // earlier is still this page's session.
                    Backend::Memory(readable_tokens(area, &config))
                }
            },
        };
        TokenStore { config, backend }
    }

    /// The (access, refresh) key names, which also scope the cross-tab channel and lock.
    pub fn keys(&self) -> (String, String) {
        (self.config.access_key.clone(), self.config.refresh_key.clone())
    }

    pub fn is_memory(&self) -> bool {
        matches!(self.backend, Backend::Memory(_))
    }

    fn get(&mut self, key: &str) -> Option<String> {
        match &self.backend {
            Backend::Web(storage) => match storage.get_item(key) {
                Ok(value) => value,
                Err(_) => {
                    self.degrade();
                    None
                }
            },
            Backend::Memory(map) => map.get(key).cloned(),
        }
    }

    fn set(&mut self, key: &str, value: &str) {
        if let Backend::Web(storage) = &self.backend {
            if storage.set_item(key, value).is_ok() {
                return;
            }
            self.degrade();
        }
        if let Backend::Memory(map) = &mut self.backend {
            map.insert(key.to_owned(), value.to_owned());
        }
    }

    fn remove(&mut self, key: &str) {
        match &mut self.backend {
            Backend::Web(storage) => {
                if storage.remove_item(key).is_err() {
                    self.degrade();
                }
            }
            Backend::Memory(map) => {
                map.remove(key);
            }
        }
    }

    /// A storage that starts throwing mid-session (quota, a revoked permission) is abandoned for
    /// memory, carrying over what it still lets us read.
    fn degrade(&mut self) {
        if !matches!(self.backend, Backend::Web(_)) {
            return;
        }
        warn_degraded("Web Storage");
        self.backend = Backend::Memory(readable_tokens(self.config.area, &self.config));
    }

    fn generation_key(&self) -> String {
        generation_key(&self.config.access_key)
    }

    fn expiry_key(&self) -> String {
        expiry_key(&self.config.access_key)
    }

    pub fn generation(&mut self) -> Generation {
        let key = self.generation_key();
        self.get(&key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// Reads the tokens, first moving any found under legacy key names to the configured ones
    /// (once: the legacy keys are deleted), so an app that renamed its keys keeps its sessions.
    pub fn load(&mut self) -> Stored {
        let access_key = self.config.access_key.clone();
        let refresh_key = self.config.refresh_key.clone();
        let legacy_access = self.config.legacy_access.clone();
        let legacy_refresh = self.config.legacy_refresh.clone();
        self.migrate(&access_key, &legacy_access);
        let access = self.get(&access_key).filter(|v| !v.is_empty());
        let refresh = if self.config.keep_refresh {
            self.migrate(&refresh_key, &legacy_refresh);
            self.get(&refresh_key).filter(|v| !v.is_empty())
        } else {
            None
        };
        let generation = self.generation();
        let key = self.expiry_key();
        let expires_at = self.get(&key).and_then(|v| v.parse().ok()).map(Millis);
        Stored { access, refresh, generation, expires_at }
    }

    fn migrate(&mut self, key: &str, legacy: &[String]) {
        for old in legacy {
            if old == key {
                continue;
            }
            if let Some(value) = self.get(old) {
                if self.get(key).is_none() && !value.is_empty() {
                    self.set(key, &value);
                }
                self.remove(old);
            }
        }
    }

    /// The access token is written last: the `storage` event fallback watches its key and
    /// reads the others when it changes.
    pub fn save(&mut self, access: &str, refresh: Option<&str>, generation: Generation, expires_at: Option<Millis>) {
        let key = self.generation_key();
        self.set(&key, &decimal(generation));
        let key = self.expiry_key();
        match expires_at {
            Some(at) => self.set(&key, &decimal(at.0)),
            None => self.remove(&key),
        }
        let access_key = self.config.access_key.clone();
        if self.config.keep_refresh {
            if let Some(refresh) = refresh {
                let refresh_key = self.config.refresh_key.clone();
                self.set(&refresh_key, refresh);
            }
        }
        self.set(&access_key, access);
    }

    /// Logout, as `ClearRules` say. `shared: false` (another tab's logout, which already
    /// cleared localStorage) leaves localStorage alone, so a newer login written there since is
    /// not wiped; this tab's own sessionStorage and memory are still cleared.
    pub fn clear(&mut self, shared: bool) {
        let rules = self.config.clear.clone();
        let tokens_are_shared = self.config.area == Area::Local && !self.is_memory();
        if shared || !tokens_are_shared {
            for key in rules.token_keys() {
                self.remove(key);
            }
        }
        // Removal needs no write access: a store that degraded to memory (quota) must still
        // remove the tokens it had persisted before, or they outlive the logout.
        if shared {
            if let Some(storage) = raw_storage(Area::Local) {
                remove_where(&storage, |key| rules.removes_local(key));
            }
        }
        if let Some(storage) = raw_storage(Area::Session) {
            if rules.session == SessionClear::All {
                let _ = storage.clear();
            } else {
                remove_where(&storage, |key| rules.removes_session(key));
            }
        }
    }
}

/// The configured and legacy keys that can still be read from an area that refuses writes.
fn readable_tokens(area: Area, config: &StoreConfig) -> MemoryMap {
    let mut map = MemoryMap::default();
    let Some(storage) = raw_storage(area) else { return map };
    let keys = [&config.access_key, &config.refresh_key]
        .into_iter()
        .chain(&config.legacy_access)
        .chain(&config.legacy_refresh);
    for key in keys {
        if let Ok(Some(value)) = storage.get_item(key) {
            map.insert(key.clone(), value);
        }
    }
    map
}

fn remove_where(storage: &Storage, doomed: impl Fn(&str) -> bool) {
    let len = storage.length().unwrap_or(0);
    let keys: Vec<String> = (0..len).filter_map(|i| storage.key(i).ok().flatten()).filter(|key| doomed(key)).collect();
    for key in keys {
        let _ = storage.remove_item(&key);
    }
}
