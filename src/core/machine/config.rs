//! What the app can tune about the refresh machine.

use crate::core::breaker::BreakerConfig;

#[derive(Clone, Debug, PartialEq)]
pub struct MachineConfig {
    /// How long before expiry to refresh; `None` picks `expiry::default_leeway_ms(lifetime)`.
    /// Never more than half a token's lifetime, whatever is configured.
    pub leeway_ms: Option<u64>,
    /// `auth:expiring` fires this long before expiry, or at refresh time if the token's whole
    /// life is shorter than this.
    pub expiring_warning_ms: u64,
    /// Browsers throttle hidden tabs; by default they refresh only when a request needs it or
    /// when they become visible again.
    pub refresh_when_hidden: bool,
    /// The refresh token is an httpOnly cookie: the machine can refresh without holding one.
    pub cookie_mode: bool,
    pub breaker: BreakerConfig,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            leeway_ms: None,
            expiring_warning_ms: 60_000,
            refresh_when_hidden: false,
            cookie_mode: false,
            breaker: BreakerConfig::default(),
        }
    }
}
