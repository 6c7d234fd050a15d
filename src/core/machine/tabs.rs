//! The machine among other tabs: one refresh for the whole browser, sessions ordered by
//! generation, and refusals that are checked against what the other tabs know before they end
//! the session.
//!
//! Why each rule exists (all seen against djangorestframework-simplejwt with rotation and
//! blacklisting, three tabs of one browser):
//! - A Web Lock is handed to the next tab at once, but a localStorage write reaches the other
//!   tabs' renderers a few milliseconds later. So the tab that refreshed keeps the lock for
//!   `LOCK_HOLD_MS` after persisting and announcing the new tokens: the next holder then reads
//!   (or has been told) the new refresh token instead of presenting the rotated-away one.
//! - If a refusal comes back anyway, the refresh token we sent may simply be stale: for
//!   `REFUSAL_GRACE_MS` the machine waits for a newer token from the other tabs, then reads
//!   storage once more, and only then ends the session.
//! - A logout is never undone by tokens of the session it ended: tokens are adopted only from
//!   a newer generation (a newer login), or from the same generation while it is still live.

use super::{Flight, Machine, Session};
use crate::core::machine::config::TabScope;
use crate::core::machine::output::{Action, Generation, Stored, TabMessage};
use crate::core::jwt::Token;
use crate::core::policy::LogoutReason;
use crate::core::time::Millis;

/// How long the refreshing tab keeps the lock after announcing new tokens: far above the few
/// milliseconds a storage write or channel message takes to reach the other tabs.
pub const LOCK_HOLD_MS: u64 = 300;
/// How long a refusal of our refresh token waits for a newer token from another tab.
pub const REFUSAL_GRACE_MS: u64 = 1_500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lock {
    Free,
    /// Asked for; `on_lock_granted` or `on_lock_unavailable` will follow.
    Wanted,
    /// Ours. `release_at` is set once our refresh has settled (`NEVER` until then).
    Held { release_at: Millis },
}

/// A refusal of our refresh token, held back while the other tabs get a chance to show that
/// the token was merely stale.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Refusal {
    /// The end of the grace; `NEVER` once `ReadStored` has been asked for (the session then
    /// ends, or continues, on `on_stored`).
    pub until: Millis,
    pub reason: LogoutReason,
    pub message: Option<String>,
}

impl<T: Token> Machine<T> {
    /// Start-up with what storage holds (tokens and the generation of their session).
    pub fn load_stored(&mut self, now: Millis, stored: Stored<T>) {
        self.generation = stored.generation;
        self.newest_generation = self.newest_generation.max(stored.generation);
        self.load_tokens(now, stored.access, stored.refresh, stored.expires_at);
        // A memory-storage tab always starts empty: ask the others for the session (in cookie
        // mode too, while its silent start-up refresh looks for one).
        if self.config.memory_storage && (matches!(self.session, Session::Anonymous) || self.probing) {
            self.actions.push(Action::Broadcast(TabMessage::Hello));
        }
    }

    /// Something another tab said. `stored` is what this tab's storage holds right now.
    pub fn on_tab_message(&mut self, now: Millis, message: TabMessage<T>, stored: Stored<T>) {
        self.follow_clock(now);
        match message {
            TabMessage::Tokens { access, refresh, generation, expires_at } => {
                // The storage-event fallback cannot carry the expiry; storage, written first, can.
                let expires_at = match expires_at {
                    None if super::holds(&stored.access, &access) => stored.expires_at,
                    given => given,
                };
                self.on_tab_tokens(now, access, refresh, generation, expires_at)
            }
            TabMessage::Logout { reason, message, generation } => {
                let ours = match self.config.tabs {
                    TabScope::Shared => generation >= self.generation,
                    TabScope::PerTab => generation == self.generation,
                };
                if self.active() && ours {
                    // Clear the shared storage again only if nothing newer has been written there
                    // since: our own late write must go, another tab's new login must stay.
                    let shared = self.config.tabs == TabScope::Shared && stored.generation <= generation;
                    let message = message.filter(|m| !m.is_empty());
                    self.end_session_as(LogoutReason::Remote, message, Some(reason), shared);
                }
                // Messages of different tabs can overtake each other: the logout of a newer
                // session may arrive before the tokens that started it. Remember that the session
                // is over, so those tokens are not adopted when they come. (`MAX` is the
                // storage-event fallback's logout, which does not say which session ended.)
                if ours && generation != Generation::MAX {
                    self.generation = generation;
                    self.newest_generation = self.newest_generation.max(generation);
                }
            }
            TabMessage::Hello => {
                if self.active() {
                    self.broadcast_tokens();
                }
            }
        }
        self.advance(now);
    }

    /// Tokens another tab obtained: adopted when they belong to a newer session, or are a newer
    /// state of this very session. Never after this session's logout.
    fn on_tab_tokens(&mut self, now: Millis, access: T, refresh: Option<T>, generation: Generation, expires_at: Option<Millis>) {
        self.newest_generation = self.newest_generation.max(generation);
        let live = self.active();
        let same_session = generation == self.generation && live;
        let differs = !self.holds_tokens(&access, refresh.as_ref());
        let wanted = match self.config.tabs {
            TabScope::Shared => generation > self.generation || (same_session && differs),
            TabScope::PerTab => same_session && differs && generation != 0,
        };
        if wanted {
            self.generation = generation;
            self.adopt_tokens(now, access, refresh, expires_at);
        }
    }

    /// Storage as read when the lock was granted: if another tab refreshed meanwhile, its
    /// tokens are adopted and no refresh call is made.
    pub fn on_lock_granted(&mut self, now: Millis, stored: Stored<T>) {
        self.follow_clock(now);
        if self.lock != Lock::Wanted {
            // Granted after we stopped waiting: give it back.
            self.actions.push(Action::ReleaseLock);
            return;
        }
        self.lock = Lock::Held { release_at: Millis::NEVER };
        if self.flight != Flight::Running || !self.active() {
            // The refresh became moot while we waited (tokens adopted, logout, new login).
            self.flight = Flight::Idle;
            self.release_lock();
            self.advance(now);
            return;
        }
        if self.adopt_if_newer(now, stored) {
            self.flight = Flight::Idle;
            self.release_lock();
        } else {
            self.forget_expired_refresh(now);
            self.send_refresh_call();
        }
        self.advance(now);
    }

    /// No Web Locks in this browser, or the wait exceeded its bound: refresh without the lock.
    pub fn on_lock_unavailable(&mut self, now: Millis) {
        self.follow_clock(now);
        if self.lock != Lock::Wanted {
            return;
        }
        self.lock = Lock::Free;
        if self.flight == Flight::Running && self.active() {
            self.forget_expired_refresh(now);
            self.send_refresh_call();
        } else {
            self.flight = Flight::Idle;
        }
        self.advance(now);
    }

    /// Storage as read on `ReadStored`, at the end of a refusal's grace period.
    pub fn on_stored(&mut self, now: Millis, stored: Stored<T>) {
        self.follow_clock(now);
        let Some(refusal) = self.refusal.take_if(|r| r.until == Millis::NEVER) else { return };
        // The refused call has reported: nothing is in flight any more, whatever follows.
        // (Left `Running`, adopting below would mark it superseded, and a superseded call that
        // never reports blocks every later refresh.)
        self.flight = Flight::Idle;
        if !self.adopt_if_newer(now, stored) {
            self.end_session(refusal.reason, refusal.message);
        }
        self.advance(now);
    }

    /// Adopts stored tokens that another tab of this session wrote after ours.
    fn adopt_if_newer(&mut self, now: Millis, stored: Stored<T>) -> bool {
        let Some(access) = stored.access else { return false };
        let same_scope = match self.config.tabs {
            TabScope::Shared => stored.generation >= self.generation,
            TabScope::PerTab => stored.generation == self.generation,
        };
        let newer = stored.refresh.as_ref().is_some_and(|r| !super::holds(&self.refresh, r))
            || (self.config.cookie_mode && !super::holds(&self.access, &access));
        // The expired refresh token this tab dropped (and the server refused) is still in
        // storage: it differs from the `None` we hold, but it is not newer.
        let expired = now >= self.client_expiry(self.refresh_exp_of(stored.refresh.as_ref()).ok().flatten());
        if !(same_scope && newer) || expired {
            return false;
        }
        self.generation = stored.generation;
        self.adopt_tokens(now, access, stored.refresh, stored.expires_at);
        true
    }

    /// Where the machine would emit `StartRefresh`: under the lock when there is one.
    pub(super) fn begin_refresh_call(&mut self) {
        match self.lock {
            _ if !self.config.tab_lock => {
                self.send_refresh_call()
            }
            Lock::Held { .. } => {
                self.lock = Lock::Held { release_at: Millis::NEVER };
                self.send_refresh_call();
            }
            Lock::Wanted => {}
            Lock::Free => {
                self.lock = Lock::Wanted;
                self.actions.push(Action::AcquireLock);
            }
        }
    }

    /// The refresh call goes out now, with the refresh token held at this moment.
    ///
    /// Unless there is none left: the refresh token can expire while the lock is awaited (a
    /// laptop asleep with the request queued), and `advance` drops an expired one. A call
    /// without a token would only earn a refusal (`refresh_token_required`) for a session that
    /// simply expired. The refresh is dropped instead (the caller's `advance` then ends the
    /// session as `session_expired`, or `refresh_unavailable` while the endpoint was failing,
    /// unless the access token still serves).
    fn send_refresh_call(&mut self) {
        if !self.can_refresh() {
            self.flight = Flight::Idle;
            self.release_lock();
            return;
        }
        let refresh_token = self.refresh.clone();
        self.actions.push(Action::StartRefresh { refresh_token });
    }

    /// After a successful refresh: keep the lock until the other tabs have surely seen it.
    pub(super) fn hold_lock_after_success(&mut self, now: Millis) {
        if let Lock::Held { .. } = self.lock {
            self.lock = Lock::Held { release_at: now.plus(LOCK_HOLD_MS) };
        }
    }

    pub(super) fn release_lock(&mut self) {
        if let Lock::Held { .. } = self.lock {
            self.actions.push(Action::ReleaseLock);
            self.lock = Lock::Free;
        }
    }

    /// Refusals of a token that might merely be stale wait for the other tabs first. Verdicts
    /// about the user (not found, inactive) and single-tab setups end the session at once.
    pub(super) fn refusal_needs_confirmation(&self, reason: LogoutReason) -> bool {
        self.config.tab_lock && matches!(reason, LogoutReason::InvalidToken | LogoutReason::RefreshTokenRequired)
    }

    /// The device clock was set back by `back` ms: the lock hold and a refusal's grace, measured
    /// on it, keep their length (see `follow_clock`).
    pub(super) fn lock_clock_set_back(&mut self, back: u64) {
        if let Lock::Held { release_at } = self.lock {
            self.lock = Lock::Held { release_at: release_at.set_back(back) };
        }
        if let Some(refusal) = self.refusal.as_mut() {
            refusal.until = refusal.until.set_back(back);
        }
    }

    /// The lock and refusal deadlines, for `poll_timeout` (`NEVER`: none).
    pub(super) fn tab_deadline(&self) -> Millis {
        let release = match self.lock {
            Lock::Held { release_at } => release_at,
            _ => Millis::NEVER,
        };
        match &self.refusal {
            Some(refusal) => release.min(refusal.until),
            None => release,
        }
    }

    /// Acts on the lock and refusal deadlines that are due.
    pub(super) fn advance_tabs(&mut self, now: Millis) {
        if let Lock::Held { release_at } = self.lock {
            if now >= release_at {
                self.release_lock();
            }
        }
        if let Some(refusal) = self.refusal.as_mut() {
            if now >= refusal.until {
                refusal.until = Millis::NEVER;
                self.actions.push(Action::ReadStored);
            }
        }
    }
}
