#![cfg(not(target_arch = "wasm32"))]
//! Randomized simulations of the refresh machine with a virtual clock.
//!
//! A small simulator plays the web layer and a server: requests on every URL class, 401s,
//! refresh answers of every kind, timers fired from `poll_timeout`, clock jumps of up to
//! hours, device clock changes, visibility changes, cancels, logouts, logins and other tabs'
//! tokens. After every step it checks the machine's promises; at the end it drives the
//! machine to quiescence and checks that no request was left hanging.

use authkeeper::core::breaker::{BreakerConfig, BreakerState};
use authkeeper::core::machine::{
    Action, AuthError, Machine, MachineConfig, Outcome, RequestDecision, SessionStatus, Stored, TabMessage, UnauthorizedDecision,
    WaiterId,
};
use authkeeper::core::policy::{classify_refresh, LogoutReason, RefreshOutcome, RefreshResponse};
use authkeeper::core::time::Millis;
use authkeeper::core::urls::UrlClass;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const T0: u64 = 1_700_000_000_000;

/// `h.p.s` with a base64url JSON payload.
fn token(payload: &str) -> String {
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
}

#[derive(Clone, Debug)]
enum Answer {
    Success { life_secs: i64, rotate: bool, opaque: bool },
    InvalidSuccess,
    Definitive { status: u16, body: &'static str },
    Transient { status: u16, retry_after_secs: Option<u64> },
    NetworkError,
}

#[derive(Clone, Copy, Debug)]
enum Bearer {
    Current,
    Old,
    None,
}

#[derive(Clone, Debug)]
enum Event {
    Request(UrlClass),
    Unauthorized(UrlClass, Bearer),
    Answer(Answer),
    FireTimer,
    /// Real time passes without the timer firing (throttled or frozen tab, sleep).
    Advance(u64),
    /// The device clock is changed; the server's is not.
    ClockSet(i64),
    Visibility(bool),
    Cancel(usize),
    Logout(bool),
    SetTokens { life_secs: i64, refresh: RefreshKind },
    Adopt { life_secs: i64, rotate: bool },
}

#[derive(Clone, Copy, Debug)]
enum RefreshKind {
    None,
    Opaque,
    Jwt { life_secs: i64 },
}

#[derive(Clone, Copy, Debug)]
enum Startup {
    Empty,
    Valid,
    AccessExpired,
    BothExpired,
    Malformed,
}

struct Sim {
    m: Machine,
    config: MachineConfig,
    now: Millis,
    skew_ms: i64,
    minted: u64,
    next_id: WaiterId,
    old_bearer: Option<String>,
    /// exp (server ms) of every JWT we minted, to check what is sent.
    exp_of: BTreeMap<String, i64>,
    /// No fresh token since start-up or since the device clock was changed: the machine's
    /// skew estimate is a lower bound at best (stored tokens may be old) or stale.
    skew_unknown: bool,

    outstanding: u32,
    outstanding_superseded: bool,
    waiting: BTreeSet<WaiterId>,
    finished: BTreeSet<WaiterId>,
    logouts_this_session: u32,
    session_over: bool,
    consecutive_failures: u32,
    refresh_calls: u64,
}

impl Sim {
    fn new(config: MachineConfig, skew_ms: i64) -> Sim {
        Sim {
            m: Machine::new(config.clone()),
            config,
            now: Millis(T0),
            skew_ms,
            minted: 0,
            next_id: 1,
            old_bearer: None,
            exp_of: BTreeMap::new(),
            skew_unknown: true,
            outstanding: 0,
            outstanding_superseded: false,
            waiting: BTreeSet::new(),
            finished: BTreeSet::new(),
            logouts_this_session: 0,
            session_over: false,
            consecutive_failures: 0,
            refresh_calls: 0,
        }
    }

    fn server_ms(&self) -> i64 {
        self.now.0 as i64 + self.skew_ms
    }

    fn mint(&mut self, life_secs: i64, iat_shift_secs: i64) -> String {
        self.minted += 1;
        let iat = self.server_ms() / 1_000 + iat_shift_secs;
        let exp = iat + life_secs;
        let t = token(&format!(r#"{{"iat":{iat},"exp":{exp},"jti":{}}}"#, self.minted));
        self.exp_of.insert(t.clone(), exp * 1_000);
        t
    }

    fn refresh_token(&mut self, kind: RefreshKind) -> Option<String> {
        match kind {
            RefreshKind::None => None,
            RefreshKind::Opaque => {
                self.minted += 1;
                Some(format!("opaque-refresh-{}", self.minted))
            }
            RefreshKind::Jwt { life_secs } => Some(self.mint(life_secs, 0)),
        }
    }

    fn new_session(&mut self) {
        self.logouts_this_session = 0;
        self.session_over = false;
        self.consecutive_failures = 0;
        self.supersede();
    }

    fn supersede(&mut self) {
        if self.outstanding > 0 {
            self.outstanding_superseded = true;
        }
    }

    fn new_id(&mut self) -> WaiterId {
        self.next_id += 1;
        self.next_id
    }

    fn startup(&mut self, startup: Startup) -> Result<(), TestCaseError> {
        let (access, refresh) = match startup {
            Startup::Empty => (None, None),
            Startup::Valid => (Some(self.mint(300, -60)), Some("R-start".to_string())),
            Startup::AccessExpired => (Some(self.mint(300, -900)), Some("R-start".to_string())),
            Startup::BothExpired => (Some(self.mint(300, -90_000)), Some(self.mint(3_600, -90_000))),
            Startup::Malformed => (Some("not-a-jwt".to_string()), Some("x.!!.y".to_string())),
        };
        self.m.load(self.now, access, refresh);
        self.after(false, true).map(drop)
    }

    /// Applies one event, then checks every invariant.
    fn step(&mut self, event: &Event) -> Result<(), TestCaseError> {
        let mut unprotected = false;
        let mut settled = true; // the machine ran `advance` at the end of this event
        match event {
            Event::Request(class) => {
                unprotected = *class != UrlClass::Protected;
                settled = false;
                let id = self.new_id();
                match self.m.on_request(self.now, id, *class) {
                    RequestDecision::Wait => {
                        prop_assert_eq!(*class, UrlClass::Protected);
                        self.waiting.insert(id);
                    }
                    RequestDecision::Send { bearer: Some(b) } => {
                        prop_assert_eq!(*class, UrlClass::Protected, "a bearer for a non-protected URL");
                        prop_assert_eq!(Some(b.as_str()), self.m.access_token());
                        self.check_not_expired(&b)?;
                    }
                    RequestDecision::Send { bearer: None } => {}
                    RequestDecision::Fail(e) => {
                        prop_assert_eq!(*class, UrlClass::Protected);
                        prop_assert!(matches!(e, AuthError::RefreshUnavailable { retry_at: Some(_) }), "{:?}", e);
                    }
                }
            }
            Event::Unauthorized(class, bearer) => {
                unprotected = *class != UrlClass::Protected;
                settled = false;
                let id = self.new_id();
                let sent = match bearer {
                    Bearer::Current => self.m.access_token().unwrap_or("").to_string(),
                    Bearer::Old => self.old_bearer.clone().unwrap_or_default(),
                    Bearer::None => String::new(),
                };
                match self.m.on_unauthorized(self.now, id, *class, &sent) {
                    UnauthorizedDecision::Wait => {
                        prop_assert_eq!(*class, UrlClass::Protected);
                        self.waiting.insert(id);
                    }
                    UnauthorizedDecision::Replay { bearer } => {
                        prop_assert_eq!(*class, UrlClass::Protected);
                        prop_assert_ne!(&bearer, &sent, "a replay must carry a different token");
                        prop_assert_eq!(Some(bearer.as_str()), self.m.access_token());
                    }
                    UnauthorizedDecision::ReturnAsIs => {}
                }
            }
            Event::Answer(answer) => {
                if self.outstanding == 0 {
                    return Ok(());
                }
                let superseded = self.outstanding_superseded;
                if superseded {
                    // Let the machine act on the time that has passed first, so that what
                    // follows is the report's doing alone.
                    self.m.handle_timeout(self.now, 0.5);
                    self.after(false, true)?;
                }
                let access_before = self.m.access_token().map(str::to_owned);
                self.answer(answer);
                let actions = self.after(false, true)?;
                if superseded {
                    // A refresh overtaken by other tokens or a logout changes nothing.
                    prop_assert_eq!(self.m.access_token().map(str::to_owned), access_before);
                    prop_assert!(
                        actions.iter().all(|a| matches!(a, Action::StartRefresh { .. } | Action::Resolve { .. } | Action::Expiring { .. })),
                        "a superseded refresh result caused {:?}",
                        actions
                    );
                }
                return Ok(());
            }
            Event::FireTimer => {
                if let Some(at) = self.m.poll_timeout() {
                    self.now = self.now.max(at);
                }
                self.m.handle_timeout(self.now, 0.5);
            }
            Event::Advance(ms) => {
                settled = false;
                self.now = self.now.plus(*ms);
            }
            Event::ClockSet(delta) => {
                settled = false;
                let new_now = (self.now.0 as i64 + delta).max(0) as u64;
                self.skew_ms -= new_now as i64 - self.now.0 as i64;
                self.now = Millis(new_now);
                self.skew_unknown = true;
            }
            Event::Visibility(visible) => self.m.on_visibility(self.now, *visible),
            Event::Cancel(pick) => {
                settled = false;
                if let Some(id) = self.waiting.iter().nth(pick % self.waiting.len().max(1)).copied() {
                    self.m.cancel(id);
                    self.waiting.remove(&id);
                    self.finished.insert(id);
                }
            }
            Event::Logout(remote) => {
                let was_logged_out = self.m.snapshot(self.now).status == SessionStatus::LoggedOut;
                if !was_logged_out {
                    self.supersede();
                }
                let reason = if *remote { LogoutReason::Remote } else { LogoutReason::Manual };
                self.m.logout(self.now, reason, None);
            }
            Event::SetTokens { life_secs, refresh } => {
                self.old_bearer = self.m.access_token().map(str::to_owned).or(self.old_bearer.take());
                let access = self.mint(*life_secs, 0);
                let refresh = self.refresh_token(*refresh);
                self.m.set_tokens(self.now, access, refresh, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
                self.new_session();
                self.skew_unknown = false;
            }
            Event::Adopt { life_secs, rotate } => {
                let status = self.m.snapshot(self.now).status;
                self.old_bearer = self.m.access_token().map(str::to_owned).or(self.old_bearer.take());
                let access = self.mint(*life_secs, 0);
                let refresh = if *rotate { self.refresh_token(RefreshKind::Opaque) } else { None };
                // Another tab's login (a newer generation) when this one is not live, else its refresh.
                let generation = if matches!(status, SessionStatus::Anonymous | SessionStatus::LoggedOut) {
                    self.m.generation() + 1
                } else {
                    self.m.generation()
                };
                self.m.on_tab_message(self.now, TabMessage::Tokens { access, refresh, generation, expires_at: None }, Stored::default());
                if matches!(status, SessionStatus::Anonymous | SessionStatus::LoggedOut) {
                    self.new_session();
                } else {
                    self.supersede();
                    self.consecutive_failures = 0;
                }
                self.skew_unknown = false;
            }
        }
        self.after(unprotected, settled).map(drop)
    }

    fn answer(&mut self, answer: &Answer) {
        let superseded = self.outstanding_superseded;
        self.outstanding = 0;
        self.outstanding_superseded = false;
        let mut body = String::new();
        let (status, retry_after) = match answer {
            Answer::NetworkError => {
                if !superseded {
                    self.consecutive_failures += 1;
                }
                self.m.on_refresh_network_error(self.now, 0.3);
                return;
            }
            Answer::Success { life_secs, rotate, opaque } => {
                let access = if *opaque {
                    self.minted += 1;
                    format!("opaque-access-{}", self.minted)
                } else {
                    self.mint(*life_secs, 0)
                };
                let refresh = if *rotate { format!(r#","refresh":"R-rot-{}""#, self.minted) } else { String::new() };
                let expires_in = if *opaque { format!(r#","expires_in":{life_secs}"#) } else { String::new() };
                body = format!(r#"{{"access":"{access}"{refresh}{expires_in}}}"#);
                (200, None)
            }
            Answer::InvalidSuccess => {
                body = r#"{"detail":"ok"}"#.into();
                (200, None)
            }
            Answer::Definitive { status, body: b } => {
                body = (*b).into();
                (*status, None)
            }
            Answer::Transient { status, retry_after_secs } => (*status, retry_after_secs.map(|s| s.to_string())),
        };
        let response = RefreshResponse { status, body: &body, retry_after: retry_after.as_deref(), date: None };
        let outcome = classify_refresh(&response, self.now);
        if !superseded {
            match &outcome {
                RefreshOutcome::Success { .. } => {
                    self.consecutive_failures = 0;
                    self.old_bearer = self.m.access_token().map(str::to_owned);
                    self.skew_unknown = false;
                }
                RefreshOutcome::Transient { .. } => self.consecutive_failures += 1,
                RefreshOutcome::Definitive { .. } => {}
            }
        }
        self.m.on_refresh_outcome(self.now, outcome, 0.7);
    }

    /// A token sent must not be expired on the server's clock (beyond the 2 s noise floor of
    /// the skew estimate and 1 s of iat granularity), once a fresh token has told the machine
    /// the skew (until then, or after the device clock changes, the server's 401 is the net).
    fn check_not_expired(&self, bearer: &str) -> Result<(), TestCaseError> {
        if self.skew_unknown {
            return Ok(());
        }
        if let Some(exp) = self.exp_of.get(bearer) {
            prop_assert!(self.server_ms() < exp + 3_000, "sent a token expired {} ms ago", self.server_ms() - exp);
        }
        Ok(())
    }

    /// Drains and checks the actions of the last event, then the machine's state.
    fn after(&mut self, unprotected: bool, settled: bool) -> Result<Vec<Action>, TestCaseError> {
        let actions: Vec<Action> = std::iter::from_fn(|| self.m.poll_action()).collect();
        if unprotected {
            prop_assert!(actions.is_empty(), "an Excluded/Foreign request caused {:?}", actions);
        }
        let snapshot = self.m.snapshot(self.now);
        for action in &actions {
            match action {
                Action::StartRefresh { .. } => {
                    prop_assert_eq!(self.outstanding, 0, "a second refresh while one is in flight");
                    prop_assert!(!self.session_over, "a refresh after the session ended");
                    prop_assert!(
                        !matches!(snapshot.breaker, BreakerState::Open { .. }),
                        "a refresh while the breaker is open"
                    );
                    self.outstanding = 1;
                    self.refresh_calls += 1;
                }
                Action::Resolve { id, outcome } => {
                    prop_assert!(self.waiting.remove(id), "Resolve for {} which is not waiting", id);
                    self.finished.insert(*id);
                    if let Outcome::Bearer(bearer) = outcome {
                        prop_assert_eq!(Some(bearer.as_str()), self.m.access_token());
                    }
                }
                Action::Logout { .. } => {
                    self.logouts_this_session += 1;
                    prop_assert!(self.logouts_this_session <= 1, "two logouts in one session");
                    self.session_over = true;
                    self.supersede();
                }
                Action::Persist { access, .. } => {
                    prop_assert_eq!(Some(access.as_str()), self.m.access_token());
                }
                Action::Clear { .. } | Action::Redirect { .. } | Action::AcquireLock | Action::ReleaseLock | Action::ReadStored | Action::Broadcast(_) | Action::Expiring { .. } | Action::Refreshed { .. } | Action::SignedIn { .. } | Action::Revoke { .. } => {}
            }
        }
        prop_assert_eq!(snapshot.waiting, self.waiting.len());
        prop_assert_eq!(snapshot.refresh_in_flight, self.outstanding > 0);
        // Cookie mode's start-up look for a session reports `Anonymous` while its refresh runs:
        // no session is held until it answers.
        let probing = self.config.cookie_mode && snapshot.status == SessionStatus::Anonymous;
        if !probing {
            prop_assert_eq!(
                snapshot.status == SessionStatus::Refreshing,
                self.outstanding > 0 && !self.outstanding_superseded
            );
        }
        if !self.waiting.is_empty() && !probing {
            prop_assert_eq!(snapshot.status == SessionStatus::Refreshing || snapshot.status == SessionStatus::Active, true);
        }
        // The attempt budget: max_attempts consecutive failures open the breaker (or end the
        // session); a half-open trial that fails reopens it.
        // (A cookie-mode start-up refresh that gives up leaves the client anonymous instead.)
        if matches!(snapshot.breaker, BreakerState::Open { .. })
            || matches!(snapshot.status, SessionStatus::LoggedOut | SessionStatus::Anonymous)
        {
            self.consecutive_failures = 0;
        }
        prop_assert!(
            self.consecutive_failures < self.config.breaker.max_attempts.max(1),
            "{} failures without the breaker opening",
            self.consecutive_failures
        );
        // No spinning: once the machine has acted on `now`, its next deadline is later.
        if settled {
            if let Some(at) = self.m.poll_timeout() {
                prop_assert!(at > self.now, "poll_timeout {:?} is not after now {:?}", at, self.now);
            }
        }
        Ok(actions)
    }

    /// Answers every refresh and fires every timer until no request is waiting.
    fn quiesce(&mut self, succeed: bool) -> Result<(), TestCaseError> {
        for _ in 0..10_000 {
            if self.outstanding > 0 {
                let answer = if succeed {
                    Answer::Success { life_secs: 300, rotate: false, opaque: false }
                } else {
                    Answer::Transient { status: 503, retry_after_secs: None }
                };
                self.answer(&answer);
                self.after(false, true)?;
            } else if !self.waiting.is_empty() {
                let at = self.m.poll_timeout();
                prop_assert!(at.is_some(), "requests {:?} wait but nothing will ever wake them", self.waiting);
                self.step(&Event::FireTimer)?;
            } else {
                return Ok(());
            }
        }
        prop_assert!(false, "no quiescence after 10000 steps: a refresh loop");
        Ok(())
    }
}

fn url_class() -> impl Strategy<Value = UrlClass> {
    prop_oneof![6 => Just(UrlClass::Protected), 1 => Just(UrlClass::Excluded), 1 => Just(UrlClass::Foreign)]
}

fn life() -> impl Strategy<Value = i64> {
    prop_oneof![Just(30i64), Just(300), Just(3_600), 5i64..7_200]
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        5 => (life(), any::<bool>(), prop::bool::weighted(0.1))
            .prop_map(|(life_secs, rotate, opaque)| Answer::Success { life_secs, rotate, opaque }),
        1 => Just(Answer::InvalidSuccess),
        1 => prop_oneof![
            Just(Answer::Definitive { status: 401, body: r#"{"code":"token_not_valid"}"# }),
            Just(Answer::Definitive { status: 401, body: "" }),
            Just(Answer::Definitive { status: 403, body: r#"{"action":"clear_tokens","error":"user_inactive"}"# }),
            Just(Answer::Definitive { status: 400, body: r#"{"refresh":["This field is required."]}"# }),
        ],
        4 => (prop_oneof![Just(500u16), Just(502), Just(503), Just(429), Just(408), Just(404)], prop::option::weighted(0.3, 0u64..120))
            .prop_map(|(status, retry_after_secs)| Answer::Transient { status, retry_after_secs }),
        3 => Just(Answer::NetworkError),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        10 => url_class().prop_map(Event::Request),
        4 => (url_class(), prop_oneof![Just(Bearer::Current), Just(Bearer::Old), Just(Bearer::None)])
            .prop_map(|(c, b)| Event::Unauthorized(c, b)),
        8 => answer().prop_map(Event::Answer),
        6 => Just(Event::FireTimer),
        4 => prop_oneof![0u64..2_000, 0u64..600_000, 0u64..4 * 3_600_000].prop_map(Event::Advance),
        1 => (-600_000i64..600_000).prop_map(Event::ClockSet),
        2 => any::<bool>().prop_map(Event::Visibility),
        2 => any::<usize>().prop_map(Event::Cancel),
        1 => any::<bool>().prop_map(Event::Logout),
        1 => (life(), prop_oneof![
                Just(RefreshKind::None),
                Just(RefreshKind::Opaque),
                (60i64..86_400).prop_map(|life_secs| RefreshKind::Jwt { life_secs }),
            ])
            .prop_map(|(life_secs, refresh)| Event::SetTokens { life_secs, refresh }),
        1 => (life(), any::<bool>()).prop_map(|(life_secs, rotate)| Event::Adopt { life_secs, rotate }),
    ]
}

fn config() -> impl Strategy<Value = MachineConfig> {
    (
        prop::option::weighted(0.3, 0u64..120_000),
        0u64..120_000,
        any::<bool>(),
        prop::bool::weighted(0.2),
        (1u32..5, 0u64..2_000, 0u64..60_000, 0u64..60_000, 0u64..600_000),
    )
        .prop_map(|(leeway_ms, expiring_warning_ms, refresh_when_hidden, cookie_mode, b)| MachineConfig {
            leeway_ms,
            expiring_warning_ms,
            refresh_when_hidden,
            cookie_mode,
            breaker: BreakerConfig {
                max_attempts: b.0,
                base_delay_ms: b.1,
                max_delay_ms: b.2,
                cooldown_ms: b.3,
                give_up_after_ms: b.4,
            },
            ..MachineConfig::default()
        })
}

fn startup() -> impl Strategy<Value = Startup> {
    prop_oneof![
        Just(Startup::Empty),
        Just(Startup::Valid),
        Just(Startup::AccessExpired),
        Just(Startup::BothExpired),
        Just(Startup::Malformed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every promise of the machine holds after every step of a random session, and at the
    /// end no request is left waiting.
    #[test]
    fn random_sessions_keep_every_invariant(
        config in config(),
        skew_ms in prop_oneof![Just(0i64), -3_600_000i64..3_600_000],
        start in startup(),
        login in prop::option::of(life()),
        events in prop::collection::vec(event(), 1..80),
        end_with_success in any::<bool>(),
    ) {
        let mut sim = Sim::new(config, skew_ms);
        sim.startup(start)?;
        if let Some(life_secs) = login {
            sim.step(&Event::SetTokens { life_secs, refresh: RefreshKind::Opaque })?;
        }
        for event in &events {
            sim.step(event)?;
        }
        sim.quiesce(end_with_success)?;
        prop_assert!(sim.waiting.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// However the refresh endpoint fails, attempts are bounded: within any window the number
    /// of refresh calls is at most max_attempts per breaker cycle plus one trial per cooldown.
    #[test]
    fn a_failing_endpoint_is_never_hammered(
        config in config(),
        hours in 1u64..6,
        failures in prop::collection::vec(prop_oneof![
            Just(Answer::NetworkError),
            Just(Answer::InvalidSuccess),
            (prop_oneof![Just(500u16), Just(503), Just(429)], prop::option::of(0u64..600))
                .prop_map(|(status, retry_after_secs)| Answer::Transient { status, retry_after_secs }),
        ], 1..20),
    ) {
        let mut sim = Sim::new(config.clone(), 0);
        sim.step(&Event::SetTokens { life_secs: 300, refresh: RefreshKind::Opaque })?;
        let end = sim.now.plus(hours * 3_600_000);
        let mut i = 0;
        while sim.now < end {
            if sim.outstanding > 0 {
                sim.answer(&failures[i % failures.len()]);
                i += 1;
                sim.after(false, true)?;
                continue;
            }
            // A request every 10 s keeps demand up, as a busy page would.
            sim.step(&Event::Request(UrlClass::Protected))?;
            match sim.m.poll_timeout() {
                Some(at) if at <= sim.now.plus(10_000) => sim.step(&Event::FireTimer)?,
                _ => sim.step(&Event::Advance(10_000))?,
            }
            if sim.session_over {
                break;
            }
        }
        let b = &config.breaker;
        let elapsed = hours * 3_600_000;
        let cycles = elapsed / b.cooldown_ms.max(1_000) + 1;
        let bound = u64::from(b.max_attempts.max(1)) + cycles;
        prop_assert!(sim.refresh_calls <= bound, "{} refresh calls, bound {}", sim.refresh_calls, bound);
        sim.quiesce(false)?;
    }
}
