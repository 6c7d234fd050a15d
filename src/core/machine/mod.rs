//! The sans-IO refresh state machine, in the style of quinn-proto.
//!
//! The web layer feeds it events (`on_request`, `on_unauthorized`, `on_refresh_outcome`,
//! `handle_timeout`, ...) with the current time, then drains `poll_action` and arms one timer
//! at `poll_timeout`. The machine never reads a clock, never does I/O, and never panics.
//!
//! Invariants it keeps:
//! - single flight: at most one `StartRefresh` outstanding until its result is reported;
//! - every queued request gets exactly one `Resolve` (unless cancelled);
//! - `Logout` at most once per session, and no refresh after it until a new session;
//! - `poll_timeout` never names a moment at which `handle_timeout` would do nothing, so the
//!   web layer cannot spin on a deadline in the past.

mod config;
mod output;
mod tabs;
mod token;
mod waiters;

pub use config::{at_login_page, LoginPage, MachineConfig, TabScope};
pub use output::{
    Action, AuthError, Outcome, Generation, RequestDecision, SessionStatus, Severity, Snapshot, Stored, TabMessage,
    UnauthorizedDecision, WaiterId, Warning,
};
pub use tabs::{LOCK_HOLD_MS, REFUSAL_GRACE_MS};

use crate::core::breaker::{AfterFailure, Breaker, BreakerState};
use crate::core::expiry::{expires_at_from_exp, ClockOffset};
use crate::core::jwt::{JwtError, TimeClaims, Token};
use crate::core::policy::{classify, classify_parsed, config_error_of, FreshTokens, LogoutReason, RefreshAnswer, RefreshOutcome, RefreshResponse};
use crate::core::time::Millis;
use crate::core::urls::UrlClass;
use std::fmt;
use tabs::{Lock, Refusal};
use token::{Provenance, Timing, TimingRules};
use waiters::{WaitReason, Waiters};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Session {
    Anonymous,
    Active,
    LoggedOut(LogoutReason),
}

/// The refresh call the web layer is performing, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flight {
    Idle,
    Running,
    /// Still outstanding, but its result no longer matters (another tab's tokens were adopted,
    /// the app logged in again, or the session ended). It is ignored when it arrives, and no
    /// new refresh starts before it does: single flight holds even across sessions.
    Superseded,
}

/// `T`: a token (`jwt::Token`), its text on the host, a handle in the shipped wasm.
pub struct Machine<T = String> {
    config: MachineConfig<T>,
    session: Session,
    access: Option<T>,
    refresh: Option<T>,
    /// The refresh token's `exp` (server clock, seconds), when it is a JWT that has one.
    refresh_exp: Option<i64>,
    /// `Timing::UNKNOWN` while the access token's expiry is unknown (or there is no access token).
    timing: Timing,
    offset: ClockOffset,
    visible: bool,
    flight: Flight,
    breaker: Breaker,
    waiters: Waiters,
    actions: Vec<Action<T>>,
    warnings: Vec<Warning>,
    refresh_count: u64,
    /// The generation of the current (or last) session.
    generation: Generation,
    /// The highest generation seen anywhere: a new login must be above it.
    newest_generation: Generation,
    lock: Lock,
    /// A refusal waiting for the other tabs (the flight stays `Running` meanwhile).
    refusal: Option<Refusal>,
    /// Cookie mode without a usable access token (start-up, or `auth.refresh()` with no
    /// session): the session is being looked for with one silent refresh. Its refusal leaves
    /// the client anonymous without a logout: there was no session in this page to end.
    probing: bool,
    /// The access token is not a JWT: its expiry is persisted next to it.
    access_opaque: bool,
    /// Misconfiguration diagnostics already reported (each once per client), one bit each:
    /// bit 0 a failing hook, bit `code.len()` an OAuth configuration error (the five codes
    /// have five lengths, all below 32: policy's tests check it).
    reported: u32,
    /// A manual logout's revocation, held while a refresh call is still out: that call may
    /// rotate the refresh token, and the revocation must name the one the server will honour.
    /// The inner `Option` is the token to revoke if the call brings no new one (`None` in
    /// cookie mode, where the cookie is the credential).
    pending_revoke: Option<Option<T>>,
    /// The latest `now` any event brought: a later event with an earlier one means the device
    /// clock was set back (see `follow_clock`).
    clock: Millis,
}

impl<T> fmt::Debug for Machine<T> {
    /// Tokens are left out on purpose.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("session", &self.session)
            .field("has_access", &self.access.is_some())
            .field("has_refresh", &self.refresh.is_some())
            .field("timing", &self.timing)
            .field("flight", &self.flight)
            .field("breaker", &self.breaker)
            .field("waiting", &self.waiters.len())
            .field("generation", &self.generation)
            .field("lock", &self.lock)
            .field("refusal", &self.refusal.as_ref().map(|r| r.reason))
            .field("probing", &self.probing)
            .finish_non_exhaustive()
    }
}

/// `secs.saturating_mul(1_000)`, by a bound compare: the overflow check of a 64-bit
/// multiplication costs a 128-bit one (`__multi3`) in the wasm.
fn secs_to_ms(secs: u64) -> u64 {
    if secs > u64::MAX / 1_000 { u64::MAX } else { secs * 1_000 }
}

fn non_empty<T: Token>(token: Option<T>) -> Option<T> {
    token.filter(|t| !t.is_blank())
}

/// `held` is `token`. A pattern: `Option<..> == Option<..>` links a PartialEq call per type.
fn holds<T: PartialEq>(held: &Option<T>, token: &T) -> bool {
    matches!(held, Some(h) if h == token)
}

impl<T: Token> Machine<T> {
    pub fn new(config: MachineConfig<T>) -> Self {
        let breaker = Breaker::new(config.breaker.clone());
        Machine {
            config,
            session: Session::Anonymous,
            access: None,
            refresh: None,
            refresh_exp: None,
            timing: Timing::UNKNOWN,
            offset: ClockOffset::default(),
            visible: true,
            flight: Flight::Idle,
            breaker,
            waiters: Waiters::default(),
            actions: Vec::new(),
            warnings: Vec::new(),
            refresh_count: 0,
            generation: 0,
            newest_generation: 0,
            lock: Lock::Free,
            refusal: None,
            probing: false,
            access_opaque: false,
            reported: 0,
            pending_revoke: None,
            clock: Millis(0),
        }
    }

    // ----- sessions -------------------------------------------------------------------------

    /// Start-up: validates the stored tokens. Malformed → cleared (`invalid_token`); access
    /// expired but refresh usable → refresh; nothing usable left → `session_expired`.
    pub fn load(&mut self, now: Millis, access: Option<T>, refresh: Option<T>) {
        self.load_tokens(now, access, refresh, None);
    }

    /// `load`, with the persisted expiry of an opaque access token (`Stored::expires_at`): an
    /// access token that is not a JWT is accepted only with one, and timed by it as a JWT is by
    /// its `exp`. In cookie mode, no usable access token means one silent refresh (`probing`).
    pub(super) fn load_tokens(&mut self, now: Millis, access: Option<T>, refresh: Option<T>, expires_at: Option<Millis>) {
        self.follow_clock(now);
        self.reset_session(Session::Anonymous);
        let (access, refresh) = (non_empty(access), non_empty(refresh));
        if access.is_none() && refresh.is_none() {
            if self.config.cookie_mode {
                self.start_probe(now);
            } else {
                self.advance(now);
            }
            return;
        }
        // An opaque token is usable when its expiry was stored with it.
        let claims = access.as_ref().map(|access| self.claims_of(access, expires_at.is_some()));
        self.session = Session::Active;
        let (Ok(claims), Ok(_)) = (claims.transpose(), self.refresh_exp_of(refresh.as_ref())) else {
            self.end_session(LogoutReason::InvalidToken, None);
            return;
        };
        self.take_tokens(now, access, claims.flatten(), refresh, expires_at.unwrap_or(Millis::NEVER), None, Provenance::Stored);
        if self.config.cookie_mode && self.unexpired_access(now).is_none() {
            self.probing = true;
        }
        self.advance(now);
    }

    /// Cookie mode with no session: look for one with a silent refresh (under the usual retry
    /// rules), started by `advance` as for any session without an access token.
    fn start_probe(&mut self, now: Millis) {
        self.session = Session::Active;
        self.probing = true;
        self.advance(now);
    }

    /// The app's own login. Starts a new session: resets the breaker and the logged-out latch,
    /// releases any queued request with the new token, and persists the tokens. An access
    /// token that is not a JWT is accepted only with `expires_in` (an opaque token); on error
    /// nothing changes.
    pub fn set_tokens(
        &mut self,
        now: Millis,
        access: T,
        refresh: Option<T>,
        expires_in: Option<u64>,
    ) -> Result<(), JwtError> {
        self.follow_clock(now);
        let claims = self.claims_of(&access, expires_in.is_some())?;
        let refresh = non_empty(refresh);
        self.refresh_exp_of(refresh.as_ref())?;

        self.reset_session(Session::Active);
        // Above every generation seen: this login supersedes whatever any tab knew before.
        self.generation = now.0.max(self.newest_generation.saturating_add(1));
        self.newest_generation = self.generation;
        let expires_at = expires_in.map_or(Millis::NEVER, |secs| now.plus(secs_to_ms(secs)));
        self.take_tokens(now, Some(access), claims, refresh, expires_at, None, Provenance::Login);
        self.advance(now);
        Ok(())
    }

    /// Tokens another tab obtained (refresh or login): like a successful refresh without the
    /// `Persist` (that tab already wrote storage). A refresh of ours still in flight is
    /// ignored when it reports. Revives a logged-out or anonymous tab when the caller (the
    /// generation rules in `tabs.rs`) found them to be a newer login. Tokens that cannot be used
    /// are ignored.
    /// `expires_at`: an opaque access token's expiry as the other tab knew it (`NEVER`: unknown).
    fn adopt_tokens(&mut self, now: Millis, access: T, refresh: Option<T>, expires_at: Option<Millis>) {
        // Opaque access tokens are legitimate; their expiry is learnt from a 401.
        let Ok(claims) = self.claims_of(&access, true) else { return };
        let refresh = non_empty(refresh);
        if self.active() && self.holds_tokens(&access, refresh.as_ref()) {
            return;
        }
        let signed_in = !self.active();
        if signed_in {
            self.reset_session(Session::Active);
        }
        // A tab without a session takes another tab's login as a probe that found one: a
        // sign-in. An active tab's probe (if any) is answered, and this is a refresh.
        self.probing = signed_in;
        self.supersede_flight();
        // An opaque token's known expiry comes along: without it this tab would use the token
        // until a 401 and then refresh a second time in the same expiry cycle.
        self.take_tokens(now, Some(access), claims, refresh, expires_at.unwrap_or(Millis::NEVER), None, Provenance::Adopted);
        self.advance(now);
    }

    /// Manual logout, or another tab's (`Remote`). Clears storage and fires `Logout` once;
    /// queued requests fail with `LoggedOut`. Does nothing if already logged out.
    pub fn logout(&mut self, now: Millis, reason: LogoutReason, message: Option<String>) {
        self.follow_clock(now);
        if matches!(self.session, Session::LoggedOut(_)) {
            return;
        }
        self.end_session(reason, message);
        self.advance(now);
    }

    /// `auth.refresh()`: a new token now, single-flight with any refresh under way (whose
    /// token it then gets). `Wait` is settled by a `Resolve` like any waiting request; the
    /// usual retry rules apply (a transient failure is retried, an open breaker fails it).
    /// In cookie mode without a session it looks for one in the cookie, as start-up does.
    pub fn force_refresh(&mut self, now: Millis, id: WaiterId) -> RequestDecision<T> {
        self.follow_clock(now);
        match self.session {
            Session::Active => {}
            _ if self.config.cookie_mode => {
                self.reset_session(Session::Anonymous);
                self.waiters.add(id, WaitReason::Forced);
                self.start_probe(now);
                return RequestDecision::Wait;
            }
            Session::LoggedOut(reason) => return RequestDecision::Fail(AuthError::LoggedOut { reason }),
            Session::Anonymous => return RequestDecision::Fail(AuthError::NoSession),
        }
        if self.flight != Flight::Running {
            self.forget_expired_refresh(now);
            if !self.can_refresh() {
                return RequestDecision::Fail(AuthError::NoRefreshToken);
            }
            if let BreakerState::Open { until } = self.breaker.state(now) {
                return RequestDecision::Fail(AuthError::RefreshUnavailable { retry_at: Some(until) });
            }
        }
        self.waiters.add(id, WaitReason::Forced);
        self.advance(now);
        RequestDecision::Wait
    }

    /// The access token held.
    pub fn access(&self) -> Option<&T> {
        self.access.as_ref()
    }

    /// Every token the machine holds (the access and refresh tokens, and one a manual logout
    /// will revoke): the shipped build's driver keeps the text of these and may forget the rest.
    pub fn held_tokens(&self) -> [Option<&T>; 3] {
        let revoke = match &self.pending_revoke {
            Some(Some(token)) => Some(token),
            _ => None,
        };
        [self.access.as_ref(), self.refresh.as_ref(), revoke]
    }

    /// The generation of the current (or last) session.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    // ----- requests -------------------------------------------------------------------------

    /// Before a request is sent: which bearer, or wait for a refresh, or fail fast.
    pub fn on_request(&mut self, now: Millis, id: WaiterId, class: UrlClass) -> RequestDecision<T> {
        self.follow_clock(now);
        if class != UrlClass::Protected || !self.active() {
            return RequestDecision::Send { bearer: None };
        }
        // The fast path: a usable token and no refresh under way.
        if self.flight != Flight::Running && !self.needs_refresh(now) && self.access.is_some() {
            return self.send_access();
        }
        if self.flight == Flight::Running {
            self.waiters.add(id, WaitReason::BeforeSend);
            return RequestDecision::Wait;
        }
        self.forget_expired_refresh(now);
        let usable = self.unexpired_access(now).is_some();
        if !self.can_refresh() {
            if !usable {
                // Clears the access token: the request goes out without one.
                self.end_session(self.expired_reason(), None);
            }
            return self.send_access();
        }
        if let BreakerState::Open { until } = self.breaker.state(now) {
            if usable {
                return self.send_access();
            }
            return RequestDecision::Fail(AuthError::RefreshUnavailable { retry_at: Some(until) });
        }
        // A still-valid token goes out rather than waiting for a refresh that cannot start
        // now (a backoff retry is scheduled, or a superseded call has yet to report): the
        // leeway exists to pick up a fresh token, not to hold requests back.
        let refresh_postponed = self.flight == Flight::Superseded || now < self.breaker.next_allowed();
        if refresh_postponed && usable {
            return self.send_access();
        }
        self.waiters.add(id, WaitReason::BeforeSend);
        self.advance(now);
        RequestDecision::Wait
    }

    /// Send with the access token held (none, when none is).
    fn send_access(&self) -> RequestDecision<T> {
        RequestDecision::Send { bearer: self.access.clone() }
    }

    /// A 401 for a request sent with `sent_bearer`. The web layer asks once per request.
    /// (`sent_bearer` is compared with the token held: a `&str` will do for a `String` token.)
    pub fn on_unauthorized<Q: ?Sized>(&mut self, now: Millis, id: WaiterId, class: UrlClass, sent_bearer: &Q) -> UnauthorizedDecision<T>
    where
        T: PartialEq<Q>,
    {
        self.follow_clock(now);
        if class != UrlClass::Protected || !self.active() {
            return UnauthorizedDecision::ReturnAsIs;
        }
        if let Some(current) = &self.access {
            if current != sent_bearer {
                // A refresh happened since this request left: just replay it.
                return UnauthorizedDecision::Replay { bearer: current.clone() };
            }
        }
        if self.flight == Flight::Running {
            self.waiters.add(id, WaitReason::AfterUnauthorized);
            return UnauthorizedDecision::Wait;
        }
        self.forget_expired_refresh(now);
        if !self.can_refresh() || !self.breaker.allows_attempt(now) {
            return UnauthorizedDecision::ReturnAsIs;
        }
        self.waiters.add(id, WaitReason::AfterUnauthorized);
        self.advance(now);
        UnauthorizedDecision::Wait
    }

    /// The request's AbortSignal fired: forget it (no `Resolve` will follow).
    pub fn cancel(&mut self, id: WaiterId) {
        self.waiters.remove(id);
    }

    // ----- refresh results ------------------------------------------------------------------

    pub fn on_refresh_outcome(&mut self, now: Millis, outcome: RefreshOutcome<T>, jitter: f64) {
        self.follow_clock(now);
        let rotated = match &outcome {
            RefreshOutcome::Success { tokens, .. } => tokens.refresh.as_ref(),
            _ => None,
        };
        self.send_held_revoke(rotated);
        if !self.land_flight() {
            self.advance(now);
            return;
        }
        match outcome {
            RefreshOutcome::Success { tokens, server_offset } => {
                self.on_refreshed(now, tokens, server_offset);
                self.hold_lock_after_success(now);
            }
            RefreshOutcome::Definitive { reason, message } if self.refusal_needs_confirmation(reason) => {
                self.release_lock();
                self.flight = Flight::Running;
                self.refusal = Some(Refusal { until: now.plus(REFUSAL_GRACE_MS), reason, message });
            }
            RefreshOutcome::Definitive { reason, message } => {
                self.release_lock();
                self.end_session(reason, message);
            }
            RefreshOutcome::Transient { retry_after_ms, .. } => {
                self.release_lock();
                self.on_transient_failure(now, retry_after_ms, jitter);
            }
        }
        self.advance(now);
    }

    /// [`Machine::on_refresh_response`] with the answer already typed (the browser's
    /// `JSON.parse` and `Date.parse` read it in the shipped build).
    pub fn on_refresh_answer(&mut self, now: Millis, resp: &RefreshAnswer<T>, parsed: Option<Result<FreshTokens<T>, String>>, jitter: f64) {
        let outcome = match parsed {
            None => classify(resp, now),
            Some(parsed) => {
                // The hook's complaint about a 2xx is for the console; the refresh just failed.
                let parsed = match parsed {
                    Err(message) if (200..=299).contains(&resp.status) => {
                        self.report_once(Warning::RefreshHookFailed(message));
                        Err(String::new())
                    }
                    parsed => parsed,
                };
                classify_parsed(resp, now, parsed)
            }
        };
        if matches!(outcome, RefreshOutcome::Definitive { .. }) {
            if let Some(error) = config_error_of(resp) {
                self.report_once(Warning::RefreshMisconfigured(error));
            }
        }
        self.on_refresh_outcome(now, outcome, jitter);
    }

    /// The refresh request could not even be built: the app's `refreshRequest` hook threw or
    /// returned the wrong shape (`message` says which, without a token). Transient, like a
    /// network error: the breaker bounds it, and a session is not ended by a bug in page code.
    pub fn on_refresh_hook_error(&mut self, now: Millis, message: String, jitter: f64) {
        self.report_once(Warning::RefreshHookFailed(message));
        self.on_refresh_network_error(now, jitter);
    }

    /// A `console.error` diagnostic, once per client for a failing hook and once per OAuth
    /// error code for a misconfiguration.
    fn report_once(&mut self, warning: Warning) {
        // One bit of `reported` per diagnostic: bit 0 a failing hook, and a configuration
        // error the bit at its code's length (the five OAuth codes have distinct lengths below
        // 32: policy's `the_configuration_errors_have_distinct_lengths_below_32` holds that),
        // where a list of the codes reported, compared as strings, cost ~200 B of wasm.
        let bit = match &warning {
            Warning::RefreshMisconfigured(error) => 1u32.wrapping_shl(error.code.len() as u32),
            _ => 1,
        };
        if self.reported & bit != 0 {
            return;
        }
        self.reported |= bit;
        self.warnings.push(warning);
    }

    /// The refresh call got no HTTP answer (network error, timeout): transient.
    pub fn on_refresh_network_error(&mut self, now: Millis, jitter: f64) {
        self.follow_clock(now);
        self.send_held_revoke(None);
        if self.land_flight() {
            self.on_transient_failure(now, None, jitter);
        }
        self.release_lock();
        self.advance(now);
    }

    /// The call a manual logout waited for has answered (`rotated`: the refresh token it
    /// brought): a rotation is what the server now honours (in cookie mode the browser already
    /// holds the new cookie), else the token the logout held is revoked.
    fn send_held_revoke(&mut self, rotated: Option<&T>) {
        let Some(held) = self.pending_revoke.take() else { return };
        let token = match rotated {
            Some(rotated) if !self.config.cookie_mode && !rotated.is_blank() => Some(rotated.clone()),
            _ => held,
        };
        self.actions.push(Action::Revoke { token });
    }

    /// Marks the outstanding refresh as reported; `true` if its result should be acted on.
    fn land_flight(&mut self) -> bool {
        let relevant = self.flight == Flight::Running && self.active() && self.refusal.is_none();
        self.flight = Flight::Idle;
        if !relevant {
            self.release_lock();
        }
        relevant
    }

    fn on_refreshed(&mut self, now: Millis, tokens: FreshTokens<T>, server_offset: Option<ClockOffset>) {
        let FreshTokens { access, refresh, expires_in } = tokens;
        // Not a JWT is fine (opaque token): expiry then comes from expires_in, or a 401.
        let claims = (self.config.decode)(&access).ok();
        self.refresh_count = self.refresh_count.saturating_add(1);
        let expires_at = expires_in.map_or(Millis::NEVER, |secs| now.plus(secs_to_ms(secs)));
        self.take_tokens(now, Some(access), claims, non_empty(refresh), expires_at, server_offset, Provenance::JustIssued);
    }

    /// Where every token that is not refused arrives (start-up, login, refresh, another tab):
    /// the clock offset learns from it, the refresh token is replaced when one comes, the
    /// access token is timed, and the tokens are announced. `expires_at` is an opaque access
    /// token's expiry (a JWT's `exp` comes first); `NEVER` from storage or a tab: unknown.
    #[allow(clippy::too_many_arguments)]
    fn take_tokens(
        &mut self,
        now: Millis,
        access: Option<T>,
        claims: Option<TimeClaims>,
        refresh: Option<T>,
        expires_at: Millis,
        server_offset: Option<ClockOffset>,
        from: Provenance,
    ) {
        let claims = claims.as_ref();
        let stored = (from == Provenance::Stored).then_some(self.offset);
        if let Some(offset) = token::clock_offset(now, claims, server_offset, stored, &mut self.warnings) {
            self.offset = offset;
        }
        if let Some(refresh) = refresh {
            // Not a readable JWT (refused above where that matters): its expiry is unknown, the
            // server will judge it.
            self.refresh_exp = self.refresh_exp_of(Some(&refresh)).ok().flatten();
            self.refresh = Some(refresh);
        }
        let Some(access) = access else { return };
        let expires_at = match from {
            // What storage or a tab knew of an opaque token's expiry; kept from now on.
            Provenance::Stored | Provenance::Adopted if claims.is_some() => Millis::NEVER,
            Provenance::Stored | Provenance::Adopted => expires_at.max(now),
            _ => expires_at,
        };
        let rules = TimingRules { offset: self.offset, leeway_ms: self.config.leeway_ms, warning_ms: self.config.expiring_warning_ms };
        self.timing = token::timing(now, claims, expires_at, from, &rules);
        self.access_opaque = claims.is_none();
        self.access = Some(access);
        if from == Provenance::Stored {
            return;
        }
        // The start-up look into the cookie found a session, or another tab's login came to a
        // tab that had none: for the app that is a sign-in.
        let signed_in = from == Provenance::Login || std::mem::replace(&mut self.probing, false);
        self.breaker.on_success();
        if from != Provenance::Adopted {
            self.announce_tokens();
        }
        // After the write: a listener that reads storage finds the new session there.
        let expires_at = self.expires_at_or_never();
        self.actions.push(if signed_in { Action::SignedIn { expires_at } } else { Action::Refreshed { expires_at } });
        self.release_all();
    }

    /// A token's time claims; `Ok(None)` for an opaque access token when `opaque_ok`. Empty or
    /// oversized tokens are refused whatever their origin.
    fn claims_of(&self, access: &T, opaque_ok: bool) -> Result<Option<TimeClaims>, JwtError> {
        match (self.config.decode)(access) {
            Ok(claims) => Ok(Some(claims)),
            Err(e @ (JwtError::Empty | JwtError::TooLarge)) => Err(e),
            Err(e) if !opaque_ok => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// `access` is the access token held, and `refresh` (when it comes) the refresh token.
    pub(super) fn holds_tokens(&self, access: &T, refresh: Option<&T>) -> bool {
        holds(&self.access, access) && refresh.is_none_or(|r| holds(&self.refresh, r))
    }

    /// Our own new tokens (login or refresh): to storage, then to the other tabs.
    fn announce_tokens(&mut self) {
        let Some(access) = self.access.clone() else { return };
        let expires_at = self.access_opaque.then(|| self.expires_at_or_never());
        self.actions.push(Action::Persist { access, refresh: self.refresh.clone(), generation: self.generation, expires_at });
        self.broadcast_tokens();
    }

    /// The tokens held, to the other tabs (after `Persist`, or as the answer to a `Hello`).
    fn broadcast_tokens(&mut self) {
        let Some(access) = self.access.clone() else { return };
        let expires_at = self.access_opaque.then(|| self.expires_at_or_never());
        let tokens = TabMessage::Tokens { access, refresh: self.refresh.clone(), generation: self.generation, expires_at };
        self.actions.push(Action::Broadcast(tokens));
    }

    fn on_transient_failure(&mut self, now: Millis, retry_after_ms: Option<u64>, jitter: f64) {
        self.forget_expired_refresh(now);
        if !self.can_refresh() {
            // The refresh token expired while the endpoint was failing: nothing left to retry.
            self.end_session(LogoutReason::RefreshUnavailable, None);
            return;
        }
        match self.breaker.on_failure(now, retry_after_ms, jitter) {
            // The breaker holds the retry's instant (`next_allowed`).
            AfterFailure::RetryAt(_) => self.release_before_send_waiters(now),
            // Waiters are failed by `advance`, which every event ends with: nobody waits
            // through a cooldown.
            AfterFailure::Open { .. } => {}
            AfterFailure::GiveUp => self.end_session(LogoutReason::RefreshUnavailable, None),
        }
    }

    // ----- time -----------------------------------------------------------------------------

    /// Every event starts here. The waits the machine measures on the device clock (a backoff
    /// retry, the breaker's cooldown and give-up window, the lock hold, a refusal's grace) are
    /// instants on that clock, while the web layer's `setTimeout` runs on real time. When the
    /// clock is set back (by the user, or NTP correcting a clock that ran ahead), a deadline
    /// set before would lie in the future by the whole change: a request waiting for a backoff
    /// retry hung that long (an hour's change, an hour). So when `now` goes back, every such
    /// deadline moves back by as much, and lasts no longer than it was meant to. (Moved back by
    /// what the clock was seen to lose, at most the change itself: a wait restarts, never ends
    /// early.) A clock set forward cannot be told from time passing (a sleep): it only cuts
    /// waits short. Token expiry is left alone: it is on the server's clock, and the next fresh
    /// token measures the new offset (meanwhile the server's 401 is the net).
    fn follow_clock(&mut self, now: Millis) {
        if now < self.clock {
            let back = self.clock.since(now);
            self.breaker.clock_set_back(back);
            self.lock_clock_set_back(back);
        }
        self.clock = now;
    }

    /// Time passed (the timer armed at `poll_timeout` fired, perhaps late): act on what is due.
    /// `_jitter` is accepted for symmetry with the other time-driven calls; nothing due here
    /// needs randomness.
    pub fn handle_timeout(&mut self, now: Millis, _jitter: f64) {
        self.follow_clock(now);
        self.advance(now);
    }

    /// visibilitychange, focus, online, pageshow: timers may have been frozen, re-check now.
    pub fn on_visibility(&mut self, now: Millis, visible: bool) {
        self.follow_clock(now);
        self.visible = visible;
        self.advance(now);
    }

    /// The next action, oldest first.
    pub fn poll_action(&mut self) -> Option<Action<T>> {
        (!self.actions.is_empty()).then(|| self.actions.remove(0))
    }

    /// A diagnostic for the console (never a token); drain it like `poll_action`.
    pub fn poll_warning(&mut self) -> Option<Warning> {
        (!self.warnings.is_empty()).then(|| self.warnings.remove(0))
    }

    /// Every action, oldest first, at once: what the web layer drains after each event (a
    /// plain `Vec`, where a `VecDeque` for `poll_action` linked its own ring-buffer code).
    pub fn take_actions(&mut self) -> Vec<Action<T>> {
        std::mem::take(&mut self.actions)
    }

    /// Every diagnostic, oldest first, at once.
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.warnings)
    }

    /// When `handle_timeout` must next be called. Every deadline returned is one that
    /// `handle_timeout` acts on and then drops, so a past deadline is never returned twice.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let at = self.next_deadline();
        (at != Millis::NEVER).then_some(at)
    }

    /// `poll_timeout` as an instant, `NEVER` for none: what the web layer arms its timer from.
    pub fn next_deadline(&self) -> Millis {
        // Every deadline is an instant, `NEVER` for none (or once acted on).
        let mut at = self.tab_deadline();
        if self.active() {
            at = at.min(self.timing.warn_at);
            if self.flight != Flight::Running {
                at = at.min(self.session_end_at());
            }
            if self.flight == Flight::Idle {
                at = at.min(self.next_refresh_at());
            }
        }
        at
    }

    pub fn snapshot(&self, now: Millis) -> Snapshot {
        let status = match self.session {
            Session::Anonymous => SessionStatus::Anonymous,
            Session::LoggedOut(_) => SessionStatus::LoggedOut,
            // Looking for a session in the cookie: none is held until the silent refresh says so
            // (an app deciding between its login form and its content must not guess "active").
            Session::Active if self.probing => SessionStatus::Anonymous,
            Session::Active if self.flight == Flight::Running => SessionStatus::Refreshing,
            Session::Active => SessionStatus::Active,
        };
        Snapshot {
            status,
            expires_at: (self.timing.expires_at != Millis::NEVER).then_some(self.timing.expires_at),
            breaker: self.breaker.state(now),
            refresh_in_flight: self.flight != Flight::Idle,
            waiting: self.waiters.len(),
            refresh_count: self.refresh_count,
            clock_offset_ms: self.offset.0,
            logout_reason: match self.session {
                Session::LoggedOut(reason) => Some(reason),
                _ => None,
            },
        }
    }

    // ----- the one place that decides what happens next ------------------------------------

    /// Acts on everything due at `now`: the expiring warning, an expired session, a refresh
    /// that is wanted and allowed. Called at the end of every event.
    fn advance(&mut self, now: Millis) {
        self.advance_tabs(now);
        if !self.active() {
            self.fail_orphaned_waiters();
            return;
        }
        self.emit_due_warning(now);
        self.forget_expired_refresh(now);
        if self.flight == Flight::Running {
            return;
        }
        if !self.can_refresh() {
            if self.unexpired_access(now).is_none() {
                self.end_session(self.expired_reason(), None);
            } else {
                // No new token is ever coming: the current one (unexpired, so held) is the best
                // there is, except for `auth.refresh()`, which asked for a new one.
                self.settle(Some(WaitReason::Forced), Some(AuthError::NoRefreshToken), false);
                self.release_all();
            }
            return;
        }
        if self.flight == Flight::Superseded {
            return;
        }
        if let BreakerState::Open { until } = self.breaker.state(now) {
            self.fail_waiters_while_open(now, until);
            return;
        }
        // Exactly when `poll_timeout` said: a deadline named there is always acted on.
        if now >= self.next_refresh_at() {
            self.start_refresh();
        }
    }

    fn start_refresh(&mut self) {
        self.flight = Flight::Running;
        self.begin_refresh_call();
    }

    fn emit_due_warning(&mut self, now: Millis) {
        let timing = self.timing;
        if now < timing.warn_at {
            return;
        }
        // Once: the deadline is acted on (until the next token's timing).
        self.timing.warn_at = Millis::NEVER;
        // Woken after expiry (sleep, frozen tab): a warning would only mislead.
        if now < timing.expires_at {
            self.actions.push(Action::Expiring { expires_at: timing.expires_at });
        }
    }

    /// Ends the session: Clear + Logout (once) + telling the other tabs, every waiter fails,
    /// tokens and timers go.
    fn end_session(&mut self, reason: LogoutReason, message: Option<String>) {
        self.end_session_as(reason, message, None, true);
    }

    /// `origin` is set for a logout another tab started; `shared` says whether the storage all
    /// tabs share is cleared too.
    ///
    /// Another tab's logout is passed on (with its own reason), once, by each tab it ends a
    /// session in: before hearing it, this tab may have announced tokens of the ended session
    /// (a refresh, an answer to `Hello`) to a tab opened after the logout, which never got the
    /// original. The channel keeps each sender's order, so that tab hears this logout after
    /// those tokens. It never echoes on: a tab already out of the session ignores it.
    fn end_session_as(&mut self, reason: LogoutReason, message: Option<String>, origin: Option<LogoutReason>, shared: bool) {
        if self.probing && reason != LogoutReason::Manual {
            self.end_probe();
            return;
        }
        if !matches!(self.session, Session::LoggedOut(_)) {
            self.actions.push(Action::Clear { shared });
            let generation = self.generation;
            let announced = TabMessage::Logout { reason: origin.unwrap_or(reason), message: message.clone(), generation };
            self.actions.push(Action::Broadcast(announced));
            self.actions.push(Action::Logout { reason, message, origin });
            // Before a redirect: the revocation is sent with keepalive, so it outlives the page.
            if reason == LogoutReason::Manual && self.config.revoke && self.can_refresh() {
                let token = if self.config.cookie_mode { None } else { self.refresh.clone() };
                let call_out = (self.flight == Flight::Running && self.refusal.is_none()) || self.flight == Flight::Superseded;
                if call_out {
                    self.pending_revoke = Some(token);
                } else {
                    self.actions.push(Action::Revoke { token });
                }
            }
            if let Some(login) = &self.config.login {
                self.actions.push(Action::Redirect { url: login.url.clone(), unless_at: login.path.clone() });
            }
        }
        self.drop_session(Session::LoggedOut(reason));
        self.fail_all(AuthError::LoggedOut { reason });
    }

    /// The session becomes `session`, without its tokens, timing, retry or flight: what a
    /// logout and a new login both start from.
    fn drop_session(&mut self, session: Session) {
        self.probing = false;
        self.session = session;
        self.access = None;
        self.refresh = None;
        self.refresh_exp = None;
        self.timing = Timing::UNKNOWN;
        self.supersede_flight();
    }

    /// The silent refresh that looked for a session (cookie mode) found none, or gave up:
    /// the client is anonymous, as before. No logout (there was no session in this page to
    /// end), nothing cleared; waiting requests go out without a bearer, `auth.refresh()` fails.
    fn end_probe(&mut self) {
        self.probing = false;
        self.session = Session::Anonymous;
        self.access = None;
        self.timing = Timing::UNKNOWN;
        self.supersede_flight();
        self.settle(None, Some(AuthError::NoSession), true);
    }

    /// Forgets the old session's tokens and failure history (the offset is about the device
    /// clock, not the session, so it stays); the session becomes `session`.
    fn reset_session(&mut self, session: Session) {
        self.breaker = Breaker::new(self.config.breaker.clone());
        self.drop_session(session);
    }

    fn supersede_flight(&mut self) {
        // A refusal on hold already has its answer: nothing more will report.
        if self.refusal.take().is_some() {
            self.flight = Flight::Idle;
            return;
        }
        if self.flight == Flight::Running {
            self.flight = Flight::Superseded;
        }
    }

    // ----- tokens ---------------------------------------------------------------------------

    /// An expired refresh token can never be used again, so it is dropped (which also keeps
    /// `poll_timeout` free of deadlines nobody can act on).
    fn forget_expired_refresh(&mut self, now: Millis) {
        if self.config.cookie_mode {
            return;
        }
        if now >= self.refresh_expires_at() {
            self.refresh = None;
            self.refresh_exp = None;
        }
    }

    /// A pattern, not `==`: the derived `PartialEq` of `Session` is a call.
    fn active(&self) -> bool {
        matches!(self.session, Session::Active)
    }

    /// A refresh token's `exp`, if it has one; `Err` for a three-segment token that does not decode.
    fn refresh_exp_of(&self, refresh: Option<&T>) -> Result<Option<i64>, JwtError> {
        match refresh {
            Some(refresh) => token::refresh_token_exp(refresh, self.config.decode),
            None => Ok(None),
        }
    }

    fn can_refresh(&self) -> bool {
        self.config.cookie_mode || self.refresh.is_some()
    }

    /// The access token, unless it is missing or past its expiry on the corrected clock.
    fn unexpired_access(&self, now: Millis) -> Option<&T> {
        self.access.as_ref().filter(|_| now < self.timing.expires_at)
    }

    /// Expired, within the leeway, or missing altogether.
    fn needs_refresh(&self, now: Millis) -> bool {
        self.access.is_none() || now >= self.timing.refresh_at
    }

    fn may_refresh_proactively(&self) -> bool {
        self.visible || self.config.refresh_when_hidden
    }

    /// A session that expires while its refresh endpoint is failing ended because the
    /// endpoint was unavailable, not because the user was idle.
    fn expired_reason(&self) -> LogoutReason {
        if self.breaker.failing_since().is_some() {
            LogoutReason::RefreshUnavailable
        } else {
            LogoutReason::SessionExpired
        }
    }

    fn expires_at_or_never(&self) -> Millis {
        self.timing.expires_at
    }

    // ----- deadlines ------------------------------------------------------------------------

    /// When the session can no longer be saved: the access token has expired and no refresh
    /// is possible (no refresh token, or it has expired too).
    fn session_end_at(&self) -> Millis {
        if self.config.cookie_mode {
            return Millis::NEVER;
        }
        let access_end = if self.access.is_none() { Millis(0) } else { self.timing.expires_at };
        if self.refresh.is_none() { access_end } else { access_end.max(self.refresh_expires_at()) }
    }

    /// When the refresh token held expires on the client clock (`NEVER`: not known to, or none
    /// held; `refresh_exp` is only ever set next to a refresh token).
    fn refresh_expires_at(&self) -> Millis {
        self.client_expiry(self.refresh_exp)
    }

    /// A server-clock `exp` as an instant on the client clock (`NEVER` for none).
    pub(super) fn client_expiry(&self, exp: Option<i64>) -> Millis {
        exp.map_or(Millis::NEVER, |exp| expires_at_from_exp(exp, self.offset))
    }

    /// When the next refresh attempt will start, if one is wanted at all.
    fn next_refresh_at(&self) -> Millis {
        if !self.can_refresh() {
            return Millis::NEVER;
        }
        let wanted_from = if !self.waiters.is_empty() {
            Millis(0)
        } else if !self.may_refresh_proactively() {
            return Millis::NEVER;
        } else if self.access.is_none() {
            Millis(0)
        } else {
            self.timing.refresh_at
        };
        // The end of a backoff or a cooldown (the breaker's open-until equals it then).
        let gate = self.breaker.next_allowed();
        // If the refresh token has expired by then, `advance` drops it at that moment and the
        // session's end takes over: still a deadline that gets acted on.
        wanted_from.max(gate)
    }

    // ----- waiters --------------------------------------------------------------------------

    /// Settles the waiters (every one, or those waiting for `only`), in arrival order: with
    /// the access token held when there is no `error` (every caller holds one then); else a
    /// request that was never sent fails with the error (or, `anonymous`, goes out without a
    /// bearer) while one that was sent gets its own 401 back. The one place that builds
    /// `Outcome`s.
    fn settle(&mut self, only: Option<WaitReason>, error: Option<AuthError>, anonymous: bool) {
        // By reference: a by-value loop links `IntoIter` and its drop.
        for &(id, reason) in &self.waiters.take(only) {
            let outcome = match (&error, reason) {
                (None, _) => Outcome::Bearer(self.access.clone().unwrap_or_default()),
                (Some(_), WaitReason::BeforeSend) if anonymous => Outcome::Anonymous,
                (Some(e), WaitReason::AfterUnauthorized) => Outcome::OriginalResponse(*e),
                (Some(e), _) => Outcome::Failed(*e),
            };
            self.actions.push(Action::Resolve { id, outcome });
        }
    }

    /// Every waiter goes out (or is replayed) with the access token held.
    fn release_all(&mut self) {
        self.settle(None, None, false);
    }

    /// Every waiter fails with `error`; one that was sent gets its own 401 back.
    fn fail_all(&mut self, error: AuthError) {
        self.settle(None, Some(error), false);
    }

    /// Requests that only waited because their token was close to expiry go out with it now
    /// that the refresh has been postponed; 401'd requests keep waiting for a new token.
    fn release_before_send_waiters(&mut self, now: Millis) {
        if self.unexpired_access(now).is_some() {
            self.settle(Some(WaitReason::BeforeSend), None, false);
        }
    }

    /// The breaker is open: nobody waits through a cooldown, but a still-valid token goes out.
    fn fail_waiters_while_open(&mut self, now: Millis, until: Millis) {
        self.release_before_send_waiters(now);
        self.fail_all(AuthError::RefreshUnavailable { retry_at: Some(until) });
    }

    /// Waiters outside an active session cannot normally exist; if one does, it must not hang.
    fn fail_orphaned_waiters(&mut self) {
        let error = match self.session {
            Session::LoggedOut(reason) => AuthError::LoggedOut { reason },
            _ => AuthError::NoSession,
        };
        self.fail_all(error);
    }
}

/// The host's conveniences, where tokens are their text.
impl Machine<String> {
    pub fn access_token(&self) -> Option<&str> {
        self.access.as_deref()
    }

    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh.as_deref()
    }

    /// The refresh call's HTTP answer: classified here (`parsed` is what the app's
    /// `parseRefreshResponse` hook made of the body, when there is one), with one
    /// `console.error` diagnostic per client for a configuration mistake the answer reveals.
    pub fn on_refresh_response(&mut self, now: Millis, resp: &RefreshResponse, parsed: Option<Result<FreshTokens, String>>, jitter: f64) {
        self.on_refresh_answer(now, &RefreshAnswer::from_raw(resp), parsed, jitter);
    }
}

#[cfg(test)]
mod tests;
