//! In-memory "database" of the dev server: the single user, config, fault injection,
//! counters, the refresh-token blacklist and the paper trades.
//!
//! Everything lives in one `State` behind one `std::sync::Mutex`. Handlers never hold the
//! lock across an `.await`, so a plain mutex is enough, and holding it across the whole
//! validate-then-rotate step is what makes two concurrent refreshes with the same token
//! behave like SimpleJWT with a blacklist: exactly one wins, the other sees a blacklisted jti.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};

pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "wonderland";

/// Shared application state handed to every handler.
pub struct App {
    state: Mutex<State>,
    /// Root of the repository: static files come from `<root>/www`, `<root>/pkg`, `<root>/js`.
    pub root: std::path::PathBuf,
    /// HS256 key, random per process (a restarted server invalidates old tokens, as a real
    /// server with a rotated SECRET_KEY would).
    pub secret: [u8; 32],
}

impl App {
    pub fn new(root: std::path::PathBuf) -> Self {
        App {
            state: Mutex::new(State::default()),
            root,
            secret: crate::tokens::random_secret(),
        }
    }

    /// Lock the state. A poisoned mutex (a panic in another handler) is recovered rather than
    /// propagated: the data is plain counters and sets, still usable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    #[serde(skip)]
    pub password: String,
    pub active: bool,
}

/// Token lifetimes and SimpleJWT's ROTATE_REFRESH_TOKENS / BLACKLIST_AFTER_ROTATION.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    pub rotate: bool,
    pub blacklist: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            access_ttl: 30,
            refresh_ttl: 3600,
            rotate: true,
            blacklist: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    None,
    Error500,
    TooMany429,
    Hang,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::None => "none",
            FaultKind::Error500 => "500",
            FaultKind::TooMany429 => "429",
            FaultKind::Hang => "hang",
        }
    }
}

pub const DEFAULT_RETRY_AFTER: u64 = 1;
pub const DEFAULT_HANG_MS: u64 = 10_000;

/// Fault injected into the refresh endpoints (all three share it).
#[derive(Clone, Debug)]
pub struct Faults {
    pub kind: FaultKind,
    pub retry_after: u64,
    pub hang_ms: u64,
    /// How many more refresh requests the fault applies to; `None` = until cleared.
    pub times: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            kind: FaultKind::None,
            retry_after: DEFAULT_RETRY_AFTER,
            hang_ms: DEFAULT_HANG_MS,
            times: None,
        }
    }
}

/// What a refresh request must do before (or instead of) normal processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    None,
    Error500,
    TooMany429 { retry_after: u64 },
    Hang { ms: u64 },
}

impl Faults {
    /// Consume one application of the fault (if any) for the current refresh request.
    pub fn take(&mut self) -> FaultAction {
        let action = match self.kind {
            FaultKind::None => return FaultAction::None,
            FaultKind::Error500 => FaultAction::Error500,
            FaultKind::TooMany429 => FaultAction::TooMany429 {
                retry_after: self.retry_after,
            },
            FaultKind::Hang => FaultAction::Hang { ms: self.hang_ms },
        };
        if let Some(left) = self.times {
            let left = left.saturating_sub(1);
            if left == 0 {
                *self = Faults::default();
            } else {
                self.times = Some(left);
            }
        }
        action
    }

    pub fn to_json(&self) -> Value {
        json!({
            "refresh": self.kind.as_str(),
            "retry_after": self.retry_after,
            "hang_ms": self.hang_ms,
            "times": self.times,
        })
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Counters {
    pub refresh_calls: u64,
    pub refresh_ok: u64,
    pub refresh_failed: u64,
    pub api_calls: u64,
    pub api_401s: u64,
    pub login_calls: u64,
    pub leaked_bearer: u64,
    pub refresh_reuse: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Trade {
    pub id: u64,
    #[serde(skip)]
    pub user_id: u64,
    pub symbol: String,
    pub side: String,
    pub qty: f64,
    pub price: f64,
    pub created_at: String,
}

#[derive(Debug)]
pub struct State {
    pub user: User,
    /// Id the user row gets on the next "database reset" (`/__admin/user/delete`).
    pub next_user_id: u64,
    pub config: Config,
    pub faults: Faults,
    pub counters: Counters,
    pub clock_skew_seconds: i64,
    /// jtis of refresh tokens that may no longer be used (rotated or logged out).
    pub blacklist: HashSet<String>,
    /// jtis of every refresh token this process issued; a correctly signed token whose jti
    /// is not here was not issued by this server (e.g. forged with a leaked key, or from an
    /// earlier process if the key were fixed) and is treated as invalid.
    pub issued: HashSet<String>,
    pub trades: Vec<Trade>,
    pub next_trade_id: u64,
}

impl Default for State {
    fn default() -> Self {
        let mut s = State {
            user: default_user(1),
            next_user_id: 2,
            config: Config::default(),
            faults: Faults::default(),
            counters: Counters::default(),
            clock_skew_seconds: 0,
            blacklist: HashSet::new(),
            issued: HashSet::new(),
            trades: Vec::new(),
            next_trade_id: 1,
        };
        s.seed_trades();
        s
    }
}

fn default_user(id: u64) -> User {
    User {
        id,
        username: USERNAME.into(),
        password: PASSWORD.into(),
        active: true,
    }
}

/// Real wall-clock time in milliseconds since the Unix epoch.
fn real_now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

impl State {
    /// Server clock in ms: real time shifted by the admin-set skew. Every timestamp the
    /// server writes (iat/exp, Date header, created_at) and every expiry check uses it.
    pub fn now_ms(&self) -> i64 {
        real_now_ms() + self.clock_skew_seconds * 1000
    }

    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// `/__admin/reset`: everything back to defaults except the issued-jti set and the user
    /// id sequence (see the admin route for why).
    pub fn reset(&mut self) {
        let issued = std::mem::take(&mut self.issued);
        let next_user_id = self.next_user_id;
        *self = State::default();
        self.issued = issued;
        self.next_user_id = next_user_id;
    }

    /// Simulate a database reset: the user row is re-created under a new id, so tokens that
    /// carry the old `user_id` answer `user_not_found`, while a fresh login works at once.
    pub fn recreate_user(&mut self) {
        let old = self.user.id;
        self.user = default_user(self.next_user_id);
        self.next_user_id += 1;
        self.trades.retain(|t| t.user_id != old);
        self.seed_trades();
    }

    fn seed_trades(&mut self) {
        let user_id = self.user.id;
        let created_at = crate::httpdate::iso8601(self.now_ms());
        for (symbol, side, qty, price) in
            [("AAPL", "buy", 10.0, 189.5), ("MSFT", "sell", 5.0, 412.25)]
        {
            let id = self.next_trade_id;
            self.next_trade_id += 1;
            self.trades.push(Trade {
                id,
                user_id,
                symbol: symbol.into(),
                side: side.into(),
                qty,
                price,
                created_at: created_at.clone(),
            });
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "counters": self.counters,
            "config": {
                "access_ttl": self.config.access_ttl,
                "refresh_ttl": self.config.refresh_ttl,
                "rotate": self.config.rotate,
                "blacklist": self.config.blacklist,
                "clock_skew_seconds": self.clock_skew_seconds,
            },
            "faults": self.faults.to_json(),
            "user": { "id": self.user.id, "username": self.user.username, "active": self.user.active },
            "server_time_ms": self.now_ms(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_with_times_clears_itself() {
        let mut f = Faults {
            kind: FaultKind::Error500,
            times: Some(2),
            ..Faults::default()
        };
        assert_eq!(f.take(), FaultAction::Error500);
        assert_eq!(f.take(), FaultAction::Error500);
        assert_eq!(f.take(), FaultAction::None);
        assert_eq!(f.kind, FaultKind::None);
    }

    #[test]
    fn fault_without_times_persists() {
        let mut f = Faults {
            kind: FaultKind::TooMany429,
            retry_after: 3,
            ..Faults::default()
        };
        for _ in 0..5 {
            assert_eq!(f.take(), FaultAction::TooMany429 { retry_after: 3 });
        }
    }

    #[test]
    fn recreate_user_gets_new_id_and_fresh_trades() {
        let mut s = State::default();
        assert_eq!(s.user.id, 1);
        s.recreate_user();
        assert_eq!(s.user.id, 2);
        assert!(s.user.active);
        assert_eq!(s.trades.len(), 2);
        assert!(s.trades.iter().all(|t| t.user_id == 2));
    }

    #[test]
    fn reset_restores_user_one_but_keeps_sequence_and_issued() {
        let mut s = State::default();
        s.issued.insert("j".into());
        s.recreate_user();
        s.user.active = false;
        s.clock_skew_seconds = 5;
        s.reset();
        assert_eq!(
            (s.user.id, s.user.active, s.clock_skew_seconds),
            (1, true, 0)
        );
        assert!(s.issued.contains("j"));
        s.recreate_user();
        assert_eq!(s.user.id, 3);
    }
}
