//! The invariants, checked as things happen. The first violation stops the run; the test then
//! prints it with the trace.
//!
//! Judgment calls, made as an app developer using a well-made SDK would expect:
//! - "A logout the server caused": a refusal is the server's doing only if the browser had no
//!   better token to offer. A refresh token refused after another tab rotated it is *not*: if a
//!   newer token of the same family (or a newer login) had been held by the browser for longer
//!   than storage and channel take to propagate, the tab should have adopted it. A token that
//!   was lost (the tab that obtained it closed before storing it) leaves the browser nothing to
//!   offer, so the refusal that follows is the server's doing.
//! - Clock: a device clock changed by up to an hour cannot be told from time passing until a
//!   fresh token measures it again. A `session_expired` logout is the server's doing when the
//!   refresh token is expired on the server's clock give or take that uncertainty (plus the
//!   initial skew); `refresh_unavailable` when this tab's last refresh attempt failed.
//! - "One refresh per expiry": with rotation every reuse of a rotated token is visible on the
//!   server (refused as blacklisted), and a second, needless refresh shows up as a rotation of a
//!   token less than half its access token's life old (the leeway never exceeds half the life).
//!   Excused: refreshes that ran without the lock (the driver gave up waiting), a reuse after a
//!   device clock change (or sleep) since the rotation (the lock hold after a refresh is measured
//!   on the device clock, and a clock set forward cuts it short), a tab closed while
//!   holding the lock or with its call in flight (the browser frees the lock at once), a rotation
//!   whose result the core rightly dropped, a session that is over (logged out, or replaced by a
//!   newer login), and a tab whose
//!   clock nothing has measured yet (opened from storage, or the device clock changed or slept).

use super::server::{Refusal, RefreshResult};
use super::world::{Answer, Due, Request, Tab, World, MAX_CLOCK_JUMP_MS};
use authkeeper::core::machine::{Action, Generation, SessionStatus};
use authkeeper::core::policy::{LogoutReason, RefreshOutcome};
use authkeeper::core::time::Millis;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// What caused the event a tab's core is handling.
#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    UserLogout,
    UserSetTokens,
    /// Requests, aborts, visibility and wake-ups.
    Environment,
    Open,
    Timer,
    TabLogout { generation: Generation },
    TabMessage,
    Lock,
    RefreshAnswer,
}

/// What the referee remembers about one tab.
#[derive(Default)]
pub struct TabRecord {
    /// Logged out and no new session since: no refresh may start.
    session_over: bool,
    /// Generations this tab dispatched `auth:logout` for.
    logouts: BTreeSet<Generation>,
    /// Refresh tokens the server refused to this tab with a definitive answer.
    refused: BTreeSet<String>,
    last_refused: Option<String>,
    last_refused_at: u64,
    /// The last refresh attempt failed transiently (and no fresh tokens came since).
    failing: bool,
    /// Nothing has measured this tab's clock against the server's yet.
    clock_uncertain: bool,
    /// The device clock's offset when this tab's core last measured it (fresh tokens).
    offset_at_fresh_tokens: i64,
    /// The last refresh token this tab held (the core drops an expired one).
    last_refresh: Option<String>,
    last_presented: Option<String>,
    ever_had_refresh: bool,
}

impl TabRecord {
    /// A tab just opened: its core knows the clock offset only as a lower bound from a stored
    /// token's `iat`.
    pub fn opened() -> TabRecord {
        TabRecord { clock_uncertain: true, ..TabRecord::default() }
    }

    pub fn clock_uncertain(&self) -> bool {
        self.clock_uncertain
    }

    pub fn on_transient(&mut self) {
        self.failing = true;
    }

    pub fn on_outcome(&mut self, outcome: &RefreshOutcome, presented: Option<String>, real: u64) {
        match outcome {
            RefreshOutcome::Success { .. } => self.failing = false,
            RefreshOutcome::Transient { .. } => self.failing = true,
            RefreshOutcome::Definitive { .. } => {
                if let Some(token) = presented {
                    self.refused.insert(token.clone());
                    self.last_refused = Some(token);
                    self.last_refused_at = real;
                }
            }
        }
    }
}

pub struct Before {
    status: SessionStatus,
    generation: Generation,
    access: Option<String>,
}

pub struct Referee {
    pub failure: Option<String>,
    /// Storage plus channel delay bounds: what any tab learns of a token within.
    propagation_ms: u64,
    last_clock_change: Option<u64>,
    /// (family, index) of refresh tokens whose reuse is excused (see the module doc).
    excused: BTreeSet<(usize, u32)>,
    /// Sessions the user logged out of, and when.
    manually_ended: BTreeMap<Generation, u64>,
}

fn active(status: SessionStatus) -> bool {
    matches!(status, SessionStatus::Active | SessionStatus::Refreshing)
}

impl Referee {
    pub fn new(propagation_ms: u64) -> Referee {
        Referee { failure: None, propagation_ms, last_clock_change: None, excused: BTreeSet::new(), manually_ended: BTreeMap::new() }
    }

    pub fn fail(&mut self, message: String) {
        if self.failure.is_none() {
            self.failure = Some(message);
        }
    }

    /// The device clock was set, or the device slept (which the core cannot tell from time
    /// passing either).
    pub fn clock_changed(&mut self, real: u64) {
        self.last_clock_change = Some(real);
    }

    pub fn before(&self, tab: &Tab, now: Millis) -> Before {
        Before {
            status: tab.m.snapshot(now).status,
            generation: tab.m.generation(),
            access: tab.m.access_token().map(str::to_owned),
        }
    }
}

impl World {
    fn real_of_server_ms(&self, server_ms: i64) -> u64 {
        (server_ms - (self.server_ms() - self.real as i64)).max(0) as u64
    }

    fn family_of(&self, token: Option<&str>) -> Option<(usize, u32)> {
        token.and_then(|t| self.server.info(t)).map(|i| (i.family, i.index))
    }

    /// Every refresh token the browser holds or will receive: the open tabs' cores and views of
    /// localStorage, the committed storage, and what is on its way to an open tab (storage
    /// writes, channel messages, refresh answers).
    fn known_refresh_tokens(&self) -> HashSet<String> {
        let mut known = HashSet::new();
        known.extend(self.storage.committed.refresh.clone());
        for tab in self.tabs.iter().filter(|t| t.open) {
            known.extend(tab.m.refresh_token().map(str::to_owned));
            known.extend(tab.view.refresh.clone());
        }
        for due in self.queue.values() {
            let token = match due {
                Due::StorageArrives { to, seq } if self.tabs[*to].open => self.storage.write(*seq).refresh(),
                Due::Message { to, message: authkeeper::core::machine::TabMessage::Tokens { refresh, .. }, .. }
                    if self.tabs[*to].open =>
                {
                    refresh.as_deref()
                }
                Due::RefreshAnswer { call, answer: Answer::Http { rotated, .. } }
                    if self.tabs[self.calls[*call].tab].open =>
                {
                    rotated.as_deref()
                }
                _ => None,
            };
            known.extend(token.map(str::to_owned));
        }
        known
    }

    /// Checks one action of a tab's core as it is performed.
    pub fn referee_action(&mut self, tab: usize, action: &Action, cause: &Cause) {
        match action {
            Action::StartRefresh { refresh_token } => {
                let name = self.server.name(refresh_token.as_deref());
                let record = &self.tabs[tab].record;
                if record.session_over {
                    self.referee.fail(format!("tab{tab} starts a refresh ({name}) after its session ended"));
                }
                if refresh_token.as_ref().is_some_and(|t| record.refused.contains(t)) {
                    self.referee.fail(format!("tab{tab} presents {name} again after the server refused it"));
                }
                self.tabs[tab].record.last_presented = refresh_token.clone();
                if !self.lock.held_by(tab) {
                    self.referee.excused.extend(self.family_of(refresh_token.as_deref()));
                }
            }
            Action::Logout { reason, .. } => self.check_logout(tab, *reason, cause),
            Action::AcquireLock if self.tabs[tab].lock_ticket.is_some() => {
                self.referee.fail(format!("tab{tab} asks for the lock while it holds or awaits it"));
            }
            _ => {}
        }
    }

    fn check_logout(&mut self, tab: usize, reason: LogoutReason, cause: &Cause) {
        let generation = self.tabs[tab].m.generation();
        if !self.tabs[tab].record.logouts.insert(generation) {
            self.referee.fail(format!("tab{tab}: a second auth:logout ({reason}) for the session of generation {generation}"));
        }
        self.tabs[tab].record.session_over = true;
        let server_ms = self.server_ms();
        match reason {
            LogoutReason::Manual => {
                if *cause != Cause::UserLogout {
                    self.referee.fail(format!("tab{tab}: auth:logout manual without the user logging out"));
                }
                self.referee.manually_ended.entry(generation).or_insert(self.real);
            }
            LogoutReason::Remote => {
                if !matches!(cause, Cause::TabLogout { .. }) {
                    self.referee.fail(format!("tab{tab}: auth:logout remote without a logout message ({cause:?})"));
                }
            }
            LogoutReason::SessionExpired => {
                let record = &self.tabs[tab].record;
                // What the core cannot know: device clock changes since it last measured the
                // offset (from a fresh token's iat), or, for a tab opened on stored tokens, the
                // whole skew (at most an hour of changes either way plus the initial 10 minutes).
                let unmeasured = if record.clock_uncertain {
                    2 * MAX_CLOCK_JUMP_MS + 600_000
                } else {
                    (self.device_offset - record.offset_at_fresh_tokens).abs()
                };
                let tolerance = unmeasured + 5_000;
                match record.last_refresh.as_deref().and_then(|t| self.server.info(t)) {
                    Some(info) if info.exp_ms > server_ms + tolerance => {
                        let left = (info.exp_ms - server_ms) / 1_000;
                        let name = info.name.clone();
                        self.referee.fail(format!("tab{tab}: auth:logout session_expired though {name} is valid {left} s more on the server's clock"));
                    }
                    None if record.ever_had_refresh => {
                        self.referee.fail(format!("tab{tab}: auth:logout session_expired, refresh token unknown"));
                    }
                    _ => {}
                }
            }
            LogoutReason::RefreshUnavailable => {
                if !self.tabs[tab].record.failing {
                    self.referee.fail(format!("tab{tab}: auth:logout refresh_unavailable though its last refresh did not fail"));
                }
            }
            LogoutReason::InvalidToken
            | LogoutReason::RefreshTokenRequired
            | LogoutReason::UserNotFound
            | LogoutReason::UserInactive => self.check_refusal_logout(tab, reason),
        }
    }

    /// A logout on the server's word: only when the browser had nothing better to offer.
    fn check_refusal_logout(&mut self, tab: usize, reason: LogoutReason) {
        let Some(refused) = self.tabs[tab].record.last_refused.clone() else {
            return self.referee.fail(format!("tab{tab}: auth:logout {reason} without a refusal from the server"));
        };
        let Some(info) = self.server.info(&refused).cloned() else { return };
        if self.referee.last_clock_change.is_some_and(|c| c >= self.tabs[tab].record.last_refused_at) {
            // The refusal's grace (1.5 s for the other tabs to offer a newer token) is measured
            // on the device clock: a sleep or clock change within it can cut it short, and
            // nothing in a browser lets the SDK tell. Rare, and out of its hands: not counted.
            return;
        }
        let server_ms = self.server_ms();
        let known = self.known_refresh_tokens();
        let settled_before = self.real.saturating_sub(self.referee.propagation_ms + 1);
        let family = &self.server.families[info.family];
        let alive_and_known = |w: &World, f: usize| {
            w.server.family_alive(f, server_ms) && known.contains(&w.server.families[f].current_refresh)
        };
        if family.current > info.index && alive_and_known(self, info.family) {
            let newer_since = self.real_of_server_ms(family.issued_ms[info.index as usize + 1]);
            if newer_since <= settled_before {
                let current = self.server.name(Some(&family.current_refresh));
                return self.referee.fail(format!(
                    "tab{tab}: auth:logout {reason} after {} was refused, though the browser has held a newer token of its family since t={newer_since} ({current} now, still valid)",
                    info.name
                ));
            }
        }
        let refused_generation = family.generation;
        for (f, newer) in self.server.families.iter().enumerate() {
            if newer.generation > refused_generation && newer.login_real <= settled_before && alive_and_known(self, f) {
                return self.referee.fail(format!(
                    "tab{tab}: auth:logout {reason} after {} was refused, though a newer login (F{}) was there to adopt",
                    info.name,
                    f + 1
                ));
            }
        }
    }

    /// Checks the tab's session after an event.
    pub fn referee_after(&mut self, tab: usize, before: Before, cause: &Cause) {
        let now = self.device_now();
        let t = &self.tabs[tab];
        let status = t.m.snapshot(now).status;
        let generation = t.m.generation();
        let access_changed = t.m.access_token() != before.access.as_deref() && t.m.access_token().is_some();
        let refresh = t.m.refresh_token().map(str::to_owned);
        let device_offset = self.device_offset;
        if active(status) {
            let new_session = !active(before.status) || generation != before.generation;
            if new_session {
                self.check_new_session(tab, &before, generation, cause);
                self.tabs[tab].record.session_over = false;
            }
            if *cause != Cause::UserSetTokens {
                self.check_tokens_match_session(tab, generation, refresh.as_deref());
            }
        }
        let record = &mut self.tabs[tab].record;
        if access_changed && *cause != Cause::Open {
            record.clock_uncertain = false;
            record.offset_at_fresh_tokens = device_offset;
            record.failing = false;
        }
        if refresh.is_some() {
            record.ever_had_refresh = true;
            record.last_refresh = refresh;
        }
    }

    /// "A logout is never undone except by a newer setTokens."
    fn check_new_session(&mut self, tab: usize, before: &Before, generation: Generation, cause: &Cause) {
        if *cause == Cause::UserSetTokens {
            return;
        }
        let login = self.server.families.iter().position(|f| f.generation == generation);
        if login.is_none() {
            return self.referee.fail(format!("tab{tab} became active in generation {generation}, which no login produced"));
        }
        if before.status == SessionStatus::LoggedOut && generation <= before.generation {
            return self.referee.fail(format!(
                "tab{tab}: the logout of generation {} is undone by tokens of generation {generation}",
                before.generation
            ));
        }
        if active(before.status) && generation < before.generation {
            return self.referee.fail(format!("tab{tab} went back from generation {} to the older {generation}", before.generation));
        }
    }

    /// An active tab holds the tokens of its own session's login.
    fn check_tokens_match_session(&mut self, tab: usize, generation: Generation, refresh: Option<&str>) {
        let Some(info) = refresh.and_then(|r| self.server.info(r)) else { return };
        let login_generation = self.server.families[info.family].generation;
        let shared = self.server.families.iter().filter(|f| f.generation == login_generation).count() > 1;
        if login_generation != generation && !shared {
            let name = info.name.clone();
            self.referee.fail(format!(
                "tab{tab} holds {name} (login generation {login_generation}) as the session of generation {generation}"
            ));
        }
    }

    /// The server processed a refresh call: reuse of a rotated token, or a needless rotation.
    pub fn referee_server_refresh(&mut self, call: usize, result: &RefreshResult) {
        if self.lock_mode != super::script::LockMode::Works {
            return;
        }
        let tab = self.calls[call].tab;
        match *result {
            RefreshResult::Refused { why: Refusal::Blacklisted, family: Some(f), index: Some(k) } => {
                // A session the user logged out of, or replaced with a newer login, is over: what
                // its tabs still send (before the news reaches them) is moot.
                let generation = self.server.families[f].generation;
                let over = self.referee.manually_ended.contains_key(&generation)
                    || self.server.families.iter().any(|newer| newer.generation > generation);
                // The refreshing tab holds the lock `LOCK_HOLD_MS` after its success, measured on
                // the device clock: a clock set forward within it ends the hold at the next event,
                // and the next holder may read storage before the new token reaches it. The core
                // cannot tell a clock set forward from time passing (a clock set back it follows).
                let rotated_real = self.server.families[f].issued_ms.get(k as usize + 1).map(|&ms| self.real_of_server_ms(ms));
                let hold_cut_short = rotated_real.is_some_and(|r| self.referee.last_clock_change.is_some_and(|c| c >= r));
                if !self.referee.excused.contains(&(f, k)) && !over && !hold_cut_short {
                    let name = self.server.name(self.calls[call].token.as_deref());
                    self.referee.fail(format!("tab{tab} presented {name}, already rotated by another refresh, while the lock works"));
                }
            }
            RefreshResult::Rotated { family, from, .. } => {
                let f = &self.server.families[family];
                let issued_ms = f.issued_ms[from as usize];
                let half_life = f.access_life_s as i64 * 500;
                let age = self.server_ms() - issued_ms;
                let issued_real = self.real_of_server_ms(issued_ms);
                let clock_changed = self.referee.last_clock_change.is_some_and(|c| c >= issued_real);
                if age < half_life - 2_000 && !clock_changed && !self.calls[call].clock_uncertain {
                    let name = self.server.name(self.calls[call].token.as_deref());
                    self.referee.fail(format!(
                        "tab{tab}: a second refresh for one expiry: {name} rotated {} s after it was issued (its access token lives {} s)",
                        age / 1_000,
                        f.access_life_s
                    ));
                }
            }
            _ => {}
        }
    }

    pub fn referee_excuse(&mut self, presented: Option<&str>) {
        let family = self.family_of(presented);
        self.referee.excused.extend(family);
    }

    /// The browser frees a closing tab's lock at once, whatever its refresh was doing.
    pub fn referee_tab_closing(&mut self, tab: usize) {
        let t = &self.tabs[tab];
        if self.lock.held_by(tab) || t.call_in_flight.is_some() {
            let presented = t.call_in_flight.map_or(t.record.last_presented.clone(), |c| self.calls[c].token.clone());
            self.referee.excused.extend(self.family_of(presented.as_deref()));
        }
    }

    /// After the endpoint has worked again for a while: everything settled, nothing revived.
    pub fn referee_end(&mut self) {
        let now = self.device_now();
        for (n, tab) in self.tabs.iter().enumerate().filter(|(_, t)| t.open) {
            if let Some((id, state)) = tab.requests.iter().next() {
                let state = match state {
                    Request::Waiting { .. } => "waiting in the core",
                    Request::InFlight { .. } => "in flight",
                };
                let message = format!("tab{n}: request #{id} never settled ({state}; core: {:?})", tab.m);
                self.referee.fail(message);
                return;
            }
            let generation = tab.m.generation();
            if active(tab.m.snapshot(now).status) {
                if let Some(ended) = self.referee.manually_ended.get(&generation) {
                    let message = format!("tab{n} is still active in generation {generation}, logged out of at t={ended}");
                    self.referee.fail(message);
                    return;
                }
            }
        }
    }
}
