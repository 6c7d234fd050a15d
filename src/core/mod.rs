//! The pure core: every decision authkeeper makes, with no browser crate in sight.
//!
//! Time (`Millis`) and randomness (a jitter `f64`) come in as arguments, so everything here runs
//! and is tested on the host with a virtual clock. The web layer (`src/web/`) only translates.
//!
//! - `errors`: every error code the package can produce.
//! - `storage_rules`: which storage keys hold a session and which a logout removes.
//! - `time`: the client-clock newtype and the setTimeout clamp.
//! - `json`: a small bounded JSON reader and base64url (serde_json was a third of the wasm).
//! - `jwt`: decoding a token's claims (no signature check: the server does that).
//! - `expiry`: clock-skew estimation and the expiry/leeway arithmetic.
//! - `options`: every option's default and allowed range.
//! - `policy`: what a refresh response means (success, log out, or try again).
//! - `urls`: which requests may carry the bearer.
//! - `breaker`: backoff, attempt budget, circuit breaker and give-up window.
//! - `machine`: the sans-IO refresh state machine that ties them together.

pub mod breaker;
pub mod errors;
pub mod expiry;
pub mod json;
pub mod jwt;
pub mod machine;
pub mod options;
pub mod policy;
pub mod storage_rules;
pub mod time;
pub mod urls;

pub use breaker::{AfterFailure, Breaker, BreakerConfig, BreakerState};
pub use expiry::ClockOffset;
pub use jwt::{Claims, JwtError};
pub use machine::{
    Action, AuthError, Machine, MachineConfig, RequestDecision, SessionStatus, Snapshot, UnauthorizedDecision,
    WaiterId,
};
pub use policy::{FreshTokens, LogoutReason, RefreshOutcome, RefreshResponse};
pub use time::Millis;
pub use urls::{UrlClass, UrlRules};
