//! The simulated browser and server on one virtual timeline.
//!
//! Three clocks: `real` (the simulation's true time, ms since the start; timers and network
//! delays run on it), the device clock (`Date.now()`, what the cores get as `now`; it can be set
//! forward or back), and the server's clock (what `iat`/`exp` are on). Everything that happens
//! later is a `Due` in one queue ordered by (real time, sequence number).

use super::browser::{Channel, SharedStorage, Ticket, WebLock, Write};
use super::referee::{Cause, Referee, TabRecord};
use super::rng::Rng;
use super::script::{Act, Faults, LockMode, Scenario};
use super::server::{RefreshResult, Server, TOKEN_NOT_VALID};
use authkeeper::core::machine::{Machine, MachineConfig, Stored, TabMessage, WaiterId};
use authkeeper::core::time::{clamp_timer_delay, Millis};
use std::collections::BTreeMap;

/// The device clock at the start of every run (Nov 2023).
pub const T0: u64 = 1_700_000_000_000;
/// The driver's refresh timeout (`refreshTimeout`, 10 s by default).
pub const REFRESH_TIMEOUT_MS: u64 = 10_000;
/// The driver stops waiting for the lock after the refresh timeout plus 5 s (`api.rs`).
pub const LOCK_WAIT_MS: u64 = REFRESH_TIMEOUT_MS + 5_000;
/// Chrome's intensive throttling runs a hidden tab's timers up to a minute late.
pub const HIDDEN_TIMER_LATENESS_MS: u64 = 60_000;
/// Device clock changes stay within an hour of the true time (either way).
pub const MAX_CLOCK_JUMP_MS: i64 = 3_600_000;

/// A refresh endpoint's answer as the driver reads it.
#[derive(Clone, Debug)]
pub enum Answer {
    Http { status: u16, body: String, retry_after: Option<String>, rotated: Option<String> },
    NetworkError,
}

pub enum Due {
    Timer { tab: usize, epoch: u64 },
    Message { from: usize, to: usize, message: TabMessage },
    StorageArrives { to: usize, seq: u64 },
    RefreshArrives { call: usize },
    RefreshAnswer { call: usize, answer: Answer },
    ApiAnswer { tab: usize, id: WaiterId, status: u16 },
    LockGranted { ticket: Ticket },
    LockUnavailable { ticket: Ticket },
    LockWaitOver { ticket: Ticket },
    /// The end of a sleep.
    Wake { tab: usize },
}

/// One refresh call as it left a tab.
pub struct Call {
    pub tab: usize,
    /// Nothing had measured the tab's clock when it sent the call (see `TabRecord`).
    pub clock_uncertain: bool,
    pub token: Option<String>,
    pub sent_real: u64,
}

/// A request the app made through `auth.fetch`, until it settles.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Queued in the core until a `Resolve`. `after_401`: the bearer it was refused with.
    Waiting { after_401: Option<String> },
    /// On the wire; `replay` requests get no second chance at a 401.
    InFlight { bearer: Option<String>, replay: bool },
}

pub struct Tab {
    pub m: Machine,
    pub open: bool,
    pub visible: bool,
    /// What this tab's renderer sees of localStorage.
    pub view: Stored,
    view_seq: u64,
    timer_at: Option<Millis>,
    timer_epoch: u64,
    pub requests: BTreeMap<WaiterId, Request>,
    pub lock_ticket: Option<Ticket>,
    pub call_in_flight: Option<usize>,
    pub record: TabRecord,
}

pub struct World {
    pub real: u64,
    /// Device clock minus true time.
    pub device_offset: i64,
    /// Server clock minus true time.
    server_offset: i64,
    pub tabs: Vec<Tab>,
    pub queue: BTreeMap<(u64, u64), Due>,
    seq: u64,
    rng: Rng,
    pub server: Server,
    pub storage: SharedStorage,
    channel: Channel,
    pub lock: WebLock,
    pub lock_mode: LockMode,
    faults: Faults,
    max_storage_delay: u64,
    max_channel_delay: u64,
    pub calls: Vec<Call>,
    next_request: WaiterId,
    pub trace: Vec<String>,
    pub referee: Referee,
}

fn machine_config() -> MachineConfig {
    // The web driver's defaults for localStorage: one shared session, refresh under the lock.
    MachineConfig { tab_lock: true, ..MachineConfig::default() }
}

impl World {
    pub fn new(s: &Scenario) -> World {
        let mut world = World {
            real: 0,
            device_offset: 0,
            server_offset: s.server_skew_ms,
            tabs: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            rng: Rng::new(s.seed),
            server: Server::default(),
            storage: SharedStorage::default(),
            channel: Channel::default(),
            lock: WebLock::default(),
            lock_mode: s.lock,
            faults: Faults::None,
            max_storage_delay: s.max_storage_delay_ms,
            max_channel_delay: s.max_channel_delay_ms,
            calls: Vec::new(),
            next_request: 0,
            trace: Vec::new(),
            referee: Referee::new(s.max_storage_delay_ms + s.max_channel_delay_ms),
        };
        for _ in 0..s.tabs {
            world.open_tab(true);
        }
        world
    }

    pub fn device_now(&self) -> Millis {
        Millis((T0 as i64 + self.real as i64 + self.device_offset) as u64)
    }

    pub fn server_ms(&self) -> i64 {
        T0 as i64 + self.real as i64 + self.server_offset
    }

    pub fn log(&mut self, tab: Option<usize>, text: impl AsRef<str>) {
        let who = tab.map_or_else(|| "browser".to_owned(), |t| format!("tab{t}"));
        let line = format!("t={} {who} {}", self.real, text.as_ref());
        self.trace.push(line);
    }

    fn schedule(&mut self, at: u64, due: Due) {
        self.seq += 1;
        self.queue.insert((at.max(self.real), self.seq), due);
    }

    fn open_tabs(&self) -> Vec<usize> {
        (0..self.tabs.len()).filter(|&t| self.tabs[t].open).collect()
    }

    /// The script's tab number, among the open tabs.
    fn pick_tab(&self, n: usize) -> Option<usize> {
        let open = self.open_tabs();
        (!open.is_empty()).then(|| open[n % open.len()])
    }

    // ----- running ------------------------------------------------------------------------

    /// Processes everything due up to `until`, then stands at `until`.
    pub fn run_until(&mut self, until: u64) {
        while self.referee.failure.is_none() {
            let Some((&(at, seq), _)) = self.queue.first_key_value() else { break };
            if at > until {
                break;
            }
            let due = self.queue.remove(&(at, seq)).expect("just seen");
            self.real = at;
            self.process(due);
        }
        if self.referee.failure.is_none() {
            self.real = self.real.max(until);
        }
    }

    pub fn apply(&mut self, act: &Act) {
        self.log(None, format!("── {act:?}"));
        match act {
            Act::Requests { tab, count, protected } => {
                if let Some(tab) = self.pick_tab(*tab) {
                    for _ in 0..*count {
                        self.new_request(tab, *protected);
                    }
                }
            }
            Act::Abort { tab, pick } => {
                if let Some(tab) = self.pick_tab(*tab) {
                    self.abort(tab, *pick);
                }
            }
            Act::Logout { tab } => {
                if let Some(tab) = self.pick_tab(*tab) {
                    self.with_tab(tab, Cause::UserLogout, |m, now| {
                        m.logout(now, authkeeper::core::policy::LogoutReason::Manual, None)
                    });
                }
            }
            Act::SetTokens { tab, access_life_s, refresh_life_s } => {
                if let Some(tab) = self.pick_tab(*tab) {
                    self.login(tab, *access_life_s, *refresh_life_s);
                }
            }
            Act::Show { tab } | Act::Hide { tab } => {
                if let Some(tab) = self.pick_tab(*tab) {
                    let visible = matches!(act, Act::Show { .. });
                    self.tabs[tab].visible = visible;
                    // A new visibility re-arms the timer with (or without) the hidden lateness.
                    self.tabs[tab].timer_at = None;
                    self.with_tab(tab, Cause::Environment, |m, now| m.on_visibility(now, visible));
                }
            }
            Act::Close { tab } => {
                if let Some(tab) = self.pick_tab(*tab) {
                    self.close_tab(tab);
                }
            }
            Act::Open { visible } => {
                if self.open_tabs().len() < 5 {
                    self.open_tab(*visible);
                }
            }
            Act::ClockJump { delta_ms } => {
                let offset = (self.device_offset + delta_ms).clamp(-MAX_CLOCK_JUMP_MS, MAX_CLOCK_JUMP_MS);
                if offset != self.device_offset {
                    self.device_offset = offset;
                    self.referee.clock_changed(self.real);
                }
            }
            Act::Sleep { ms } => self.sleep(*ms),
            Act::Faults(faults) => self.faults = *faults,
            Act::RevokeAll => self.server.revoke_all(),
            Act::Wait => {}
        }
    }

    /// Nothing runs for `ms`; then whatever fell due meanwhile runs at the wake-up, in its
    /// order, followed by the wake-up events every tab gets (focus, online, pageshow).
    fn sleep(&mut self, ms: u64) {
        let wake = self.real + ms;
        let overdue: Vec<(u64, u64)> = self.queue.range(..(wake, 0)).map(|(k, _)| *k).collect();
        for key in overdue {
            let due = self.queue.remove(&key).expect("listed");
            self.queue.insert((wake, key.1), due);
        }
        for tab in self.open_tabs() {
            self.schedule(wake, Due::Wake { tab });
        }
        self.referee.clock_changed(self.real);
        self.real = wake;
    }

    /// The refresh endpoint works again; whatever is pending plays out for 15 minutes.
    ///
    /// Requests still unsettled then get up to 5 more minutes, and no more: a device clock set
    /// back while a backoff or cooldown was pending no longer delays it by the change (the core
    /// moves its device-clock deadlines back with the clock; before, this waited up to 75 more
    /// minutes for it, and seed 1280509388822836575 needed 94).
    pub fn quiesce(&mut self) {
        self.faults = Faults::None;
        self.log(None, "── the refresh endpoint works again; 15 min pass");
        self.run_until(self.real + 15 * 60_000);
        for _ in 0..5 {
            if self.tabs.iter().all(|t| !t.open || t.requests.is_empty()) {
                break;
            }
            self.run_until(self.real + 60_000);
        }
    }

    fn process(&mut self, due: Due) {
        match due {
            Due::Timer { tab, epoch } => {
                if self.tabs[tab].open && self.tabs[tab].timer_epoch == epoch {
                    self.tabs[tab].timer_at = None;
                    let jitter = self.rng.unit();
                    self.with_tab(tab, Cause::Timer, |m, now| m.handle_timeout(now, jitter));
                }
            }
            Due::Message { from, to, message } => {
                if self.tabs[to].open {
                    let text = describe_message(&self.server, &message);
                    self.log(Some(to), format!("channel ← tab{from} {text}"));
                    let stored = self.tabs[to].view.clone();
                    let cause = match &message {
                        TabMessage::Logout { generation, .. } => Cause::TabLogout { generation: *generation },
                        _ => Cause::TabMessage,
                    };
                    self.with_tab(to, cause, |m, now| m.on_tab_message(now, message, stored));
                }
            }
            Due::StorageArrives { to, seq } => {
                let tab = &mut self.tabs[to];
                if tab.open && seq > tab.view_seq {
                    self.storage.write(seq).apply(&mut tab.view);
                    tab.view_seq = seq;
                    let text = format!("storage ← {}", self.server.name(self.tabs[to].view.refresh.as_deref()));
                    self.log(Some(to), text);
                }
            }
            Due::RefreshArrives { call } => self.refresh_arrives(call),
            Due::RefreshAnswer { call, answer } => self.refresh_answer(call, answer),
            Due::ApiAnswer { tab, id, status } => self.api_answer(tab, id, status),
            Due::LockGranted { ticket } => self.lock_granted(ticket),
            Due::LockUnavailable { ticket } => {
                let tab = ticket.0;
                if self.tabs[tab].open && self.tabs[tab].lock_ticket == Some(ticket) {
                    self.tabs[tab].lock_ticket = None;
                    self.log(Some(tab), "lock unavailable");
                    self.with_tab(tab, Cause::Lock, |m, now| m.on_lock_unavailable(now));
                }
            }
            Due::Wake { tab } => {
                if self.tabs[tab].open {
                    let visible = self.tabs[tab].visible;
                    self.with_tab(tab, Cause::Environment, |m, now| m.on_visibility(now, visible));
                }
            }
            Due::LockWaitOver { ticket } => {
                let tab = ticket.0;
                if self.lock.withdraw(ticket) && self.tabs[tab].open {
                    self.tabs[tab].lock_ticket = None;
                    self.log(Some(tab), format!("gave up waiting {LOCK_WAIT_MS} ms for the lock"));
                    self.with_tab(tab, Cause::Lock, |m, now| m.on_lock_unavailable(now));
                }
            }
        }
    }

    // ----- tabs ---------------------------------------------------------------------------

    fn open_tab(&mut self, visible: bool) {
        let tab = self.tabs.len();
        self.tabs.push(Tab {
            m: Machine::new(machine_config()),
            open: true,
            visible,
            view: self.storage.committed.clone(),
            view_seq: self.storage.writes.len() as u64,
            timer_at: None,
            timer_epoch: 0,
            requests: BTreeMap::new(),
            lock_ticket: None,
            call_in_flight: None,
            record: TabRecord::opened(),
        });
        let stored = self.tabs[tab].view.clone();
        let text = format!("opens{} (storage: {})", if visible { "" } else { " hidden" }, self.server.name(stored.refresh.as_deref()));
        self.log(Some(tab), text);
        // As `AuthCore::start` does: visibility first, then the stored session.
        self.with_tab(tab, Cause::Open, |m, now| {
            m.on_visibility(now, visible);
            m.load_stored(now, stored);
        });
    }

    fn close_tab(&mut self, tab: usize) {
        self.log(Some(tab), "closes");
        self.referee_tab_closing(tab);
        self.tabs[tab].open = false;
        self.tabs[tab].requests.clear();
        if let Some(next) = self.lock.forget_tab(tab) {
            self.schedule(self.real, Due::LockGranted { ticket: next });
        }
    }

    fn login(&mut self, tab: usize, access_life_s: u64, refresh_life_s: u64) {
        let (access, refresh, family) = self.server.login(self.server_ms(), self.real, access_life_s, refresh_life_s);
        self.log(Some(tab), format!("setTokens F{} (access {access_life_s} s)", family + 1));
        self.with_tab(tab, Cause::UserSetTokens, |m, now| {
            m.set_tokens(now, access, Some(refresh), None).expect("the server's tokens decode");
        });
        self.server.families[family].generation = self.tabs[tab].m.generation();
    }

    /// Runs one event on a tab's core, performs what it asks, and re-arms its timer, with the
    /// referee watching.
    pub fn with_tab(&mut self, tab: usize, cause: Cause, event: impl FnOnce(&mut Machine, Millis)) {
        let before = self.referee.before(&self.tabs[tab], self.device_now());
        let now = self.device_now();
        event(&mut self.tabs[tab].m, now);
        while let Some(action) = self.tabs[tab].m.poll_action() {
            self.referee_action(tab, &action, &cause);
            self.perform(tab, action);
        }
        self.referee_after(tab, before, &cause);
        self.rearm(tab);
    }

    /// As the driver's `reschedule`: one timer per tab, re-armed only when the deadline changes.
    /// `setTimeout` runs on real time, so a device clock change moves the deadline's moment.
    fn rearm(&mut self, tab: usize) {
        let next = self.tabs[tab].m.poll_timeout();
        if !self.tabs[tab].open || self.tabs[tab].timer_at == next {
            return;
        }
        self.tabs[tab].timer_at = next;
        self.tabs[tab].timer_epoch += 1;
        let Some(at) = next else { return };
        let delay = u64::from(clamp_timer_delay(at.since(self.device_now())));
        let late = if self.tabs[tab].visible { 0 } else { self.rng.between(0, HIDDEN_TIMER_LATENESS_MS) };
        let epoch = self.tabs[tab].timer_epoch;
        self.schedule(self.real + delay + late, Due::Timer { tab, epoch });
    }

    fn perform(&mut self, tab: usize, action: authkeeper::core::machine::Action) {
        use authkeeper::core::machine::Action;
        match action {
            Action::StartRefresh { refresh_token } => self.start_refresh(tab, refresh_token),
            Action::AcquireLock => self.acquire_lock(tab),
            Action::ReleaseLock => {
                if self.lock.held_by(tab) {
                    self.log(Some(tab), "lock released");
                    self.tabs[tab].lock_ticket = None;
                    if let Some(next) = self.lock.release(tab) {
                        self.schedule(self.real, Due::LockGranted { ticket: next });
                    }
                }
            }
            Action::ReadStored => {
                let stored = self.tabs[tab].view.clone();
                let now = self.device_now();
                self.log(Some(tab), format!("reads storage: {}", self.server.name(stored.refresh.as_deref())));
                self.tabs[tab].m.on_stored(now, stored);
            }
            Action::Broadcast(message) => {
                let text = describe_message(&self.server, &message);
                self.log(Some(tab), format!("broadcasts {text}"));
                for to in self.open_tabs().into_iter().filter(|&to| to != tab) {
                    let delay = self.rng.between(0, self.max_channel_delay);
                    let at = self.channel.arrival(tab, to, self.real, delay);
                    self.schedule(at, Due::Message { from: tab, to, message: message.clone() });
                }
            }
            Action::Resolve { id, outcome } => self.resolve(tab, id, outcome),
            Action::Persist { access, refresh, generation, .. } => {
                let text = format!("persists {}", self.server.name(refresh.as_deref()));
                self.log(Some(tab), text);
                self.write_storage(tab, Write::Save { access, refresh, generation });
            }
            Action::Clear { shared } => {
                self.log(Some(tab), format!("clears storage{}", if shared { "" } else { " (its own only)" }));
                if shared {
                    self.write_storage(tab, Write::Clear);
                }
            }
            Action::Logout { reason, .. } => self.log(Some(tab), format!("auth:logout {reason}")),
            Action::Refreshed { .. } => {
                let text = format!("auth:refreshed ({})", self.server.name(self.tabs[tab].m.refresh_token()));
                self.log(Some(tab), text);
            }
            // What only the page sees (auth:expiring, the login redirect) and the best-effort
            // server-side revocation of issue 11 change nothing the tab race checks.
            _ => {}
        }
    }

    fn write_storage(&mut self, tab: usize, write: Write) {
        let seq = self.storage.commit(write);
        self.storage.write(seq).apply(&mut self.tabs[tab].view);
        self.tabs[tab].view_seq = seq;
        for to in self.open_tabs().into_iter().filter(|&to| to != tab) {
            let delay = self.rng.between(0, self.max_storage_delay);
            let at = self.storage.arrival(to, self.real, delay);
            self.schedule(at, Due::StorageArrives { to, seq });
        }
    }

    // ----- the lock -----------------------------------------------------------------------

    fn acquire_lock(&mut self, tab: usize) {
        let ticket = self.lock.ticket(tab);
        self.tabs[tab].lock_ticket = Some(ticket);
        self.log(Some(tab), "asks for the lock");
        match self.lock_mode {
            LockMode::Unavailable => self.schedule(self.real, Due::LockUnavailable { ticket }),
            LockMode::Works => {
                if let Some(granted) = self.lock.request(ticket) {
                    self.schedule(self.real, Due::LockGranted { ticket: granted });
                } else {
                    self.schedule(self.real + LOCK_WAIT_MS, Due::LockWaitOver { ticket });
                }
            }
        }
    }

    fn lock_granted(&mut self, ticket: Ticket) {
        let tab = ticket.0;
        if self.lock.holder != Some(ticket) {
            return;
        }
        if !self.tabs[tab].open {
            if let Some(next) = self.lock.release(tab) {
                self.schedule(self.real, Due::LockGranted { ticket: next });
            }
            return;
        }
        let stored = self.tabs[tab].view.clone();
        self.log(Some(tab), format!("lock granted (storage: {})", self.server.name(stored.refresh.as_deref())));
        self.with_tab(tab, Cause::Lock, |m, now| m.on_lock_granted(now, stored));
    }

    // ----- the refresh call ---------------------------------------------------------------

    fn start_refresh(&mut self, tab: usize, token: Option<String>) {
        let call = self.calls.len();
        let under_lock = self.lock.held_by(tab);
        let clock_uncertain = self.tabs[tab].record.clock_uncertain();
        self.calls.push(Call { tab, clock_uncertain, token: token.clone(), sent_real: self.real });
        self.tabs[tab].call_in_flight = Some(call);
        let text = format!("refresh {} sent{}", self.server.name(token.as_deref()), if under_lock { "" } else { " (no lock)" });
        self.log(Some(tab), text);
        if self.faults == Faults::Offline {
            let at = self.real + self.rng.between(1, 20);
            self.schedule(at, Due::RefreshAnswer { call, answer: Answer::NetworkError });
        } else {
            let at = self.real + self.rng.between(5, 150);
            self.schedule(at, Due::RefreshArrives { call });
        }
    }

    /// Which fault, if any, hits this call.
    fn draw_fault(&mut self) -> Faults {
        let hit = match self.faults {
            Faults::None => return Faults::None,
            Faults::Offline => true,
            Faults::Mixed => {
                let all = [Faults::ServerErrors, Faults::RateLimited, Faults::Hanging, Faults::NoTokens, Faults::None];
                return all[self.rng.between(0, all.len() as u64 - 1) as usize];
            }
            _ => self.rng.chance(0.7),
        };
        if hit {
            self.faults
        } else {
            Faults::None
        }
    }

    fn refresh_arrives(&mut self, call: usize) {
        let fault = self.draw_fault();
        let reply = |status: u16, body: &str| Answer::Http { status, body: body.into(), retry_after: None, rotated: None };
        let answer = match fault {
            Faults::Hanging | Faults::Offline => {
                self.log(None, "server: the refresh call hangs");
                let at = self.calls[call].sent_real + REFRESH_TIMEOUT_MS;
                self.schedule(at, Due::RefreshAnswer { call, answer: Answer::NetworkError });
                return;
            }
            Faults::ServerErrors => reply(500, "<h1>Server Error (500)</h1>"),
            Faults::RateLimited => {
                let secs = self.rng.between(1, 120).to_string();
                Answer::Http { status: 429, body: r#"{"detail":"Request was throttled."}"#.into(), retry_after: Some(secs), rotated: None }
            }
            Faults::NoTokens => reply(200, r#"{"detail":"ok"}"#),
            Faults::None | Faults::Mixed => match self.calls[call].token.clone() {
                None => reply(400, r#"{"refresh":["This field is required."]}"#),
                Some(token) => {
                    let server_ms = self.server_ms();
                    let result = self.server.refresh(server_ms, &token);
                    self.referee_server_refresh(call, &result);
                    match result {
                        RefreshResult::Rotated { access, refresh, .. } => {
                            let text = format!("server: {} → {}", self.server.name(Some(&token)), self.server.name(Some(&refresh)));
                            self.log(None, text);
                            let body = format!(r#"{{"access":"{access}","refresh":"{refresh}"}}"#);
                            Answer::Http { status: 200, body, retry_after: None, rotated: Some(refresh) }
                        }
                        RefreshResult::Refused { why, .. } => {
                            let text = format!("server: {} refused ({why:?})", self.server.name(Some(&token)));
                            self.log(None, text);
                            reply(401, TOKEN_NOT_VALID)
                        }
                    }
                }
            },
        };
        let at = self.real + self.rng.between(5, 150);
        self.schedule(at, Due::RefreshAnswer { call, answer });
    }

    fn refresh_answer(&mut self, call: usize, answer: Answer) {
        let tab = self.calls[call].tab;
        if !self.tabs[tab].open {
            if let Answer::Http { rotated: Some(r), .. } = &answer {
                let text = format!("refresh answer with {} lost: the tab is closed", self.server.name(Some(r)));
                self.log(Some(tab), text);
            }
            return;
        }
        self.tabs[tab].call_in_flight = None;
        let jitter = self.rng.unit();
        match answer {
            Answer::NetworkError => {
                self.log(Some(tab), "refresh→network error");
                self.tabs[tab].record.on_transient();
                self.with_tab(tab, Cause::RefreshAnswer, |m, now| m.on_refresh_network_error(now, jitter));
            }
            Answer::Http { status, body, retry_after, rotated } => {
                use authkeeper::core::policy::{classify_refresh, RefreshOutcome, RefreshResponse};
                let now = self.device_now();
                let response = RefreshResponse { status, body: &body, retry_after: retry_after.as_deref(), date: None };
                let outcome = classify_refresh(&response, now);
                let text = match &outcome {
                    RefreshOutcome::Success { .. } => format!("refresh→{status} {}", self.server.name(rotated.as_deref())),
                    RefreshOutcome::Definitive { reason, .. } => format!("refresh→{status} {reason} (token_not_valid)"),
                    RefreshOutcome::Transient { detail, .. } => format!("refresh→{status} transient ({detail})"),
                };
                self.log(Some(tab), text);
                let presented = self.calls[call].token.clone();
                self.tabs[tab].record.on_outcome(&outcome, presented.clone(), self.real);
                self.with_tab(tab, Cause::RefreshAnswer, |m, now| m.on_refresh_outcome(now, outcome, jitter));
                if rotated.is_some() && self.tabs[tab].m.refresh_token() != rotated.as_deref() {
                    // The core dropped the new token (its session ended, or was replaced, while
                    // the call was out): nobody will offer it, and reusing its predecessor is moot.
                    let text = format!("drops {}: its refresh was superseded", self.server.name(rotated.as_deref()));
                    self.log(Some(tab), text);
                    self.referee_excuse(presented.as_deref());
                }
            }
        }
    }

    // ----- requests -----------------------------------------------------------------------

    fn new_request(&mut self, tab: usize, protected: bool) {
        use authkeeper::core::machine::RequestDecision;
        use authkeeper::core::urls::UrlClass;
        self.next_request += 1;
        let id = self.next_request;
        let class = if protected { UrlClass::Protected } else { UrlClass::Excluded };
        let mut decision = None;
        self.with_tab(tab, Cause::Environment, |m, now| decision = Some(m.on_request(now, id, class)));
        match decision.expect("set by the event") {
            RequestDecision::Send { bearer } => self.send(tab, id, bearer, false, protected),
            RequestDecision::Wait => {
                self.tabs[tab].requests.insert(id, Request::Waiting { after_401: None });
                self.log(Some(tab), format!("request #{id} waits"));
            }
            RequestDecision::Fail(e) => self.log(Some(tab), format!("request #{id} fails at once: {}", e.code().as_str())),
        }
    }

    /// `protected: false` is a URL the SDK leaves alone (`/login`): it answers 200 to anyone.
    fn send(&mut self, tab: usize, id: WaiterId, bearer: Option<String>, replay: bool, protected: bool) {
        let server_ms = self.server_ms() + self.rng.between(5, 100) as i64;
        // The status is decided on arrival; the answer comes back after the same trip again.
        let status = if protected { self.server.api(server_ms, bearer.as_deref()) } else { 200 };
        let at = self.real + self.rng.between(10, 200);
        self.tabs[tab].requests.insert(id, Request::InFlight { bearer, replay });
        self.schedule(at, Due::ApiAnswer { tab, id, status });
    }

    fn settle(&mut self, tab: usize, id: WaiterId, how: &str) {
        self.tabs[tab].requests.remove(&id);
        self.log(Some(tab), format!("request #{id} settles: {how}"));
    }

    fn api_answer(&mut self, tab: usize, id: WaiterId, status: u16) {
        use authkeeper::core::machine::UnauthorizedDecision;
        use authkeeper::core::urls::UrlClass;
        if !self.tabs[tab].open {
            return;
        }
        let Some(Request::InFlight { bearer, replay }) = self.tabs[tab].requests.get(&id).cloned() else { return };
        let bearer = match (status, bearer) {
            (401, Some(bearer)) if !replay => bearer,
            (status, _) => return self.settle(tab, id, &status.to_string()),
        };
        let mut decision = None;
        self.log(Some(tab), format!("request #{id} → 401 with {}", self.server.name(Some(&bearer))));
        self.with_tab(tab, Cause::Environment, |m, now| {
            decision = Some(m.on_unauthorized(now, id, UrlClass::Protected, &bearer))
        });
        match decision.expect("set by the event") {
            UnauthorizedDecision::ReturnAsIs => self.settle(tab, id, "401 returned as is"),
            UnauthorizedDecision::Replay { bearer } => self.send(tab, id, Some(bearer), true, true),
            UnauthorizedDecision::Wait => {
                self.tabs[tab].requests.insert(id, Request::Waiting { after_401: Some(bearer) });
            }
        }
    }

    fn resolve(&mut self, tab: usize, id: WaiterId, outcome: authkeeper::core::machine::Outcome) {
        use authkeeper::core::machine::Outcome;
        let Some(Request::Waiting { after_401 }) = self.tabs[tab].requests.get(&id).cloned() else {
            self.referee.fail(format!("tab{tab}: Resolve for request #{id}, which is not waiting"));
            return;
        };
        match outcome {
            Outcome::Bearer(bearer) => self.send(tab, id, Some(bearer), after_401.is_some(), true),
            Outcome::OriginalResponse(e) if after_401.is_some() => {
                self.settle(tab, id, &format!("original 401 ({})", e.code().as_str()))
            }
            Outcome::Failed(e) if after_401.is_none() => self.settle(tab, id, &format!("rejected: {}", e.code().as_str())),
            other => {
                let what = if after_401.is_some() { "a 401'd request" } else { "an unsent request" };
                self.referee.fail(format!("tab{tab}: request #{id}, {what}, resolved with {other:?}"));
            }
        }
    }

    fn abort(&mut self, tab: usize, pick: usize) {
        let ids: Vec<WaiterId> = self.tabs[tab].requests.keys().copied().collect();
        if ids.is_empty() {
            return;
        }
        let id = ids[pick % ids.len()];
        if let Some(Request::Waiting { .. }) = self.tabs[tab].requests.get(&id) {
            self.with_tab(tab, Cause::Environment, |m, _| m.cancel(id));
        }
        self.settle(tab, id, "AbortError");
    }
}

pub fn describe_message(server: &Server, message: &TabMessage) -> String {
    match message {
        TabMessage::Tokens { refresh, generation, .. } => format!("tokens {} (gen {generation})", server.name(refresh.as_deref())),
        TabMessage::Logout { reason, generation, .. } => format!("logout {reason} (gen {generation})"),
        TabMessage::Hello => "hello".into(),
    }
}
