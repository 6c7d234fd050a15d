//! Whole stories through the pure core, as the web layer would drive it: a virtual clock, a
//! fake refresh endpoint whose answers go through `classify_refresh`, and a record of every
//! refresh call and event. Each test counts what matters (refresh calls, logouts, bearers).

use authkeeper::core::breaker::{BreakerConfig, BreakerState};
use authkeeper::core::machine::{
    Action, AuthError, Machine, MachineConfig, RequestDecision, Stored, TabMessage, UnauthorizedDecision, WaiterId,
};
use authkeeper::core::policy::{classify_refresh, LogoutReason, RefreshResponse};
use authkeeper::core::time::Millis;
use authkeeper::core::urls::{UrlClass, UrlRules};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::collections::BTreeMap;

const T0: u64 = 1_700_000_000_000;

/// `h.p.s` with a base64url JSON payload.
fn token(payload: &str) -> String {
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
}

struct World {
    m: Machine,
    /// Client clock.
    now: Millis,
    /// Server clock minus client clock.
    skew_ms: i64,
    minted: u64,
    refresh_calls: Vec<(Millis, Option<String>)>,
    awaiting_answer: bool,
    events: Vec<Action>,
    resolved: BTreeMap<WaiterId, Result<String, AuthError>>,
}

impl World {
    fn new(config: MachineConfig) -> World {
        World {
            m: Machine::new(config),
            now: Millis(T0),
            skew_ms: 0,
            minted: 0,
            refresh_calls: Vec::new(),
            awaiting_answer: false,
            events: Vec::new(),
            resolved: BTreeMap::new(),
        }
    }

    fn server_secs(&self) -> i64 {
        (self.now.0 as i64 + self.skew_ms) / 1_000
    }

    /// A token the server issues now, living `life` seconds (unique each time).
    fn mint(&mut self, life: i64) -> String {
        self.minted += 1;
        let iat = self.server_secs();
        token(&format!(r#"{{"iat":{iat},"exp":{},"jti":{}}}"#, iat + life, self.minted))
    }

    fn login(&mut self, life: i64) -> String {
        let access = self.mint(life);
        self.m.set_tokens(self.now, access.clone(), Some("R0".into()), None).unwrap();
        self.pump();
        // Events count from here: the login's own Persist is not part of any story.
        self.events.clear();
        access
    }

    fn pump(&mut self) {
        while let Some(action) = self.m.poll_action() {
            match action {
                Action::StartRefresh { refresh_token } => {
                    assert!(!self.awaiting_answer, "a second refresh started while one was in flight");
                    self.awaiting_answer = true;
                    self.refresh_calls.push((self.now, refresh_token));
                }
                Action::Resolve { id, outcome } => {
                    assert!(self.resolved.insert(id, outcome.into_result()).is_none(), "waiter {id} resolved twice");
                }
                other => self.events.push(other),
            }
        }
    }

    fn answer(&mut self, status: u16, body: &str, retry_after: Option<&str>) {
        assert!(self.awaiting_answer, "no refresh call to answer");
        self.awaiting_answer = false;
        let outcome = classify_refresh(&RefreshResponse { status, body, retry_after, date: None }, self.now);
        self.m.on_refresh_outcome(self.now, outcome, 0.0);
        self.pump();
    }

    /// The server answers the pending refresh with a new access token living `life` seconds.
    fn answer_fresh(&mut self, life: i64) -> String {
        let access = self.mint(life);
        self.answer(200, &format!(r#"{{"access":"{access}"}}"#), None);
        access
    }

    fn request(&mut self, id: WaiterId) -> RequestDecision {
        let decision = self.m.on_request(self.now, id, UrlClass::Protected);
        self.pump();
        decision
    }

    /// Fires timers (answering refresh calls with `respond`) until virtual time `until`.
    fn run_until(&mut self, until: Millis, mut respond: impl FnMut(&mut World)) {
        for _ in 0..100_000 {
            self.pump();
            if self.awaiting_answer {
                respond(self);
                continue;
            }
            match self.m.poll_timeout() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.m.handle_timeout(self.now, 0.0);
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
        self.m.handle_timeout(self.now, 0.0);
        self.pump();
    }

    fn logouts(&self) -> Vec<LogoutReason> {
        self.events.iter().filter_map(|a| if let Action::Logout { reason, .. } = a { Some(*reason) } else { None }).collect()
    }
}

#[test]
fn twenty_concurrent_expired_requests_make_one_refresh_call() {
    let mut w = World::new(MachineConfig::default());
    w.login(300);
    w.now = w.now.plus(301_000);
    for id in 1..=20 {
        assert_eq!(w.request(id), RequestDecision::Wait);
    }
    assert_eq!(w.refresh_calls.len(), 1);
    let fresh = w.answer_fresh(300);
    assert_eq!(w.refresh_calls.len(), 1);
    assert_eq!(w.resolved.len(), 20);
    assert!(w.resolved.values().all(|r| r.as_deref() == Ok(fresh.as_str())));
}

#[test]
fn twenty_concurrent_401s_make_one_refresh_call_and_all_replay_with_the_new_token() {
    let mut w = World::new(MachineConfig::default());
    let old = w.login(300);
    for id in 1..=20 {
        assert_eq!(w.m.on_unauthorized(w.now, id, UrlClass::Protected, &old), UnauthorizedDecision::Wait);
        w.pump();
    }
    let fresh = w.answer_fresh(300);
    assert_eq!(w.refresh_calls.len(), 1);
    assert_eq!(w.resolved.len(), 20);
    assert!(w.resolved.values().all(|r| r.as_deref() == Ok(fresh.as_str())));
    // A straggler 401 for the old token replays at once, with no second refresh.
    assert_eq!(
        w.m.on_unauthorized(w.now, 21, UrlClass::Protected, &old),
        UnauthorizedDecision::Replay { bearer: fresh.clone() }
    );
    w.pump();
    assert_eq!(w.refresh_calls.len(), 1);
}

#[test]
fn a_401_refreshes_once_and_the_replay_carries_the_new_bearer() {
    let mut w = World::new(MachineConfig::default());
    let old = w.login(300);
    assert_eq!(w.request(1), RequestDecision::Send { bearer: Some(old.clone()) });
    assert_eq!(w.m.on_unauthorized(w.now, 1, UrlClass::Protected, &old), UnauthorizedDecision::Wait);
    w.pump();
    assert_eq!(w.refresh_calls, vec![(w.now, Some("R0".to_string()))]);
    w.answer(200, r#"{"access":"NEW.ACCESS.TOKEN","refresh":"R1"}"#, None);
    assert_eq!(w.resolved.get(&1), Some(&Ok("NEW.ACCESS.TOKEN".to_string())));
    assert!(w.events.contains(&Action::Persist { access: "NEW.ACCESS.TOKEN".into(), refresh: Some("R1".into()), generation: w.m.generation(), expires_at: Some(Millis::NEVER) }));
    assert_eq!(w.m.refresh_token(), Some("R1"), "rotation replaced the refresh token");
}

#[test]
fn a_definitive_refresh_failure_logs_out_exactly_once_and_never_refreshes_again() {
    let mut w = World::new(MachineConfig::default());
    let old = w.login(300);
    for id in 1..=3 {
        w.m.on_unauthorized(w.now, id, UrlClass::Protected, &old);
    }
    w.pump();
    w.answer(401, r#"{"detail":"User not found","code":"user_not_found","action":"clear_tokens"}"#, None);
    assert_eq!(w.logouts(), vec![LogoutReason::UserNotFound]);
    assert!(w.events.contains(&Action::Clear { shared: true }));
    assert!(w.events.contains(&Action::Logout { reason: LogoutReason::UserNotFound, message: Some("User not found".into()), origin: None }));
    assert!(w.resolved.values().all(|r| r == &Err(AuthError::LoggedOut { reason: LogoutReason::UserNotFound })));
    assert_eq!(w.resolved.len(), 3);

    // Hours of requests, 401s, timers and wake-ups: no refresh, no second logout.
    for id in 10..20 {
        assert_eq!(w.request(id), RequestDecision::Send { bearer: None });
        assert_eq!(w.m.on_unauthorized(w.now, id, UrlClass::Protected, &old), UnauthorizedDecision::ReturnAsIs);
    }
    w.m.on_visibility(w.now, true);
    w.run_until(w.now.plus(6 * 3_600_000), |_| unreachable!("no refresh may start"));
    assert_eq!(w.refresh_calls.len(), 1);
    assert_eq!(w.logouts().len(), 1);

    // A new login is a new session.
    let access = w.login(300);
    assert_eq!(w.request(30), RequestDecision::Send { bearer: Some(access) });
}

#[test]
fn a_refresh_endpoint_answering_500_opens_the_breaker_half_opens_and_gives_up_once() {
    let config = MachineConfig::default();
    let breaker = config.breaker.clone();
    let mut w = World::new(config);
    w.login(300);
    w.now = w.now.plus(301_000);
    let start = w.now;
    assert_eq!(w.request(1), RequestDecision::Wait);

    let mut open_seen = 0;
    let mut fail_fast_seen = 0;
    let mut next_id = 100;
    w.run_until(start.plus(breaker.give_up_after_ms + 60_000), |w| {
        w.answer(500, "<h1>Server Error</h1>", None);
        if let BreakerState::Open { until } = w.m.snapshot(w.now).breaker {
            open_seen += 1;
            // While open, requests fail fast instead of hammering the endpoint.
            next_id += 1;
            assert_eq!(
                w.request(next_id),
                RequestDecision::Fail(AuthError::RefreshUnavailable { retry_at: Some(until) })
            );
            fail_fast_seen += 1;
        }
    });

    // 3 quick attempts (0, +250 ms, +750 ms with jitter 0), then one trial per 30 s cooldown
    // until the 300 s give-up window is exceeded: trials at 30.75 s … 300.75 s.
    let trials = (breaker.give_up_after_ms - 750) / breaker.cooldown_ms + 1;
    assert_eq!(w.refresh_calls.len() as u64, u64::from(breaker.max_attempts) + trials);
    assert_eq!(open_seen as u64, trials);
    assert_eq!(fail_fast_seen, open_seen);
    assert_eq!(w.logouts(), vec![LogoutReason::RefreshUnavailable]);
    assert_eq!(w.resolved.get(&1), Some(&Err(AuthError::RefreshUnavailable { retry_at: Some(start.plus(750 + 30_000)) })));
    // Consecutive calls are never closer than the backoff allows.
    let gaps: Vec<u64> = w.refresh_calls.windows(2).map(|p| p[1].0.since(p[0].0)).collect();
    assert_eq!(&gaps[..2], &[250, 500]);
    assert!(gaps[2..].iter().all(|g| *g == breaker.cooldown_ms), "{gaps:?}");
}

#[test]
fn a_single_500_blip_is_retried_without_logging_anyone_out() {
    let mut w = World::new(MachineConfig::default());
    w.login(300);
    w.now = w.now.plus(301_000);
    w.request(1);
    w.answer(503, "", None);
    let mut fresh = String::new();
    w.run_until(w.now.plus(1_000), |w| fresh = w.answer_fresh(300));
    assert_eq!(w.refresh_calls.len(), 2);
    assert_eq!(w.resolved.get(&1), Some(&Ok(fresh)));
    assert!(w.logouts().is_empty());
    assert_eq!(w.m.snapshot(w.now).breaker, BreakerState::Closed);
}

#[test]
fn retry_after_is_honoured_as_a_floor() {
    let mut w = World::new(MachineConfig::default());
    w.login(300);
    w.now = w.now.plus(301_000);
    w.request(1);
    let first = w.now;
    w.answer(429, r#"{"detail":"slow down"}"#, Some("10"));
    w.run_until(first.plus(20_000), |w| {
        w.answer_fresh(300);
    });
    assert_eq!(w.refresh_calls.len(), 2);
    assert_eq!(w.refresh_calls[1].0, first.plus(10_000));
}

#[test]
fn a_2xx_without_an_access_token_is_a_failed_refresh_not_a_success() {
    let mut w = World::new(MachineConfig::default());
    let old = w.login(300);
    w.m.on_unauthorized(w.now, 1, UrlClass::Protected, &old);
    w.pump();
    w.answer(200, r#"{"detail":"ok"}"#, None);
    assert!(w.resolved.is_empty(), "the request still waits for a real token");
    assert!(!w.events.iter().any(|a| matches!(a, Action::Persist { .. } | Action::Refreshed { .. })));
    assert_eq!(w.m.access_token(), Some(old.as_str()));
}

#[test]
fn the_refresh_endpoints_own_401_never_triggers_a_refresh() {
    let rules = UrlRules::new(
        "https://app.example.com".into(),
        vec![],
        vec!["/login".into()],
        "https://app.example.com".into(),
        "/api/auth/token/refresh/".into(),
    );
    let mut w = World::new(MachineConfig::default());
    let access = w.login(300);
    for path in ["/api/auth/token/refresh/", "/api/auth/login/"] {
        let class = rules.classify("https://app.example.com", path);
        assert_eq!(class, UrlClass::Excluded);
        assert_eq!(w.m.on_request(w.now, 1, class), RequestDecision::Send { bearer: None });
        assert_eq!(w.m.on_unauthorized(w.now, 1, class, &access), UnauthorizedDecision::ReturnAsIs);
    }
    let foreign = rules.classify("https://cdn.other.net", "/api/data");
    assert_eq!(w.m.on_request(w.now, 2, foreign), RequestDecision::Send { bearer: None });
    w.pump();
    assert!(w.refresh_calls.is_empty());
    assert!(w.events.is_empty());
}

/// The device clock is `skew` off the server's; two hours of use with 5-minute tokens.
fn two_hours_with_a_skewed_clock(skew_ms: i64) {
    let mut w = World::new(MachineConfig::default());
    w.skew_ms = skew_ms;
    let mut current = w.login(300);
    let mut current_exp = w.server_secs() + 300;
    let mut late = 0;
    let mut next_id = 1;
    let end = w.now.plus(2 * 3_600_000);
    while w.now < end {
        // Every 7 s the app makes a request.
        let step = w.now.plus(7_000);
        w.run_until(step, |w| {
            // Refreshes happen before the server considers the token expired.
            if w.server_secs() >= current_exp {
                late += 1;
            }
            current = w.answer_fresh(300);
            current_exp = w.server_secs() + 300;
        });
        next_id += 1;
        match w.request(next_id) {
            RequestDecision::Send { bearer: Some(b) } => {
                assert_eq!(b, current);
                assert!(w.server_secs() < current_exp, "an expired token was sent");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(late, 0);
    // One refresh per token lifetime minus the 50 s leeway: 7200 / 250 ≈ 28.
    let calls = w.refresh_calls.len();
    assert!((27..=30).contains(&calls), "{calls} refresh calls: a loop or a stall");
    assert_eq!(w.m.snapshot(w.now).clock_offset_ms, skew_ms);
    assert!(w.logouts().is_empty());
}

#[test]
fn a_client_clock_ten_minutes_ahead_refreshes_before_expiry_without_looping() {
    two_hours_with_a_skewed_clock(-600_000);
}

#[test]
fn a_client_clock_ten_minutes_behind_refreshes_before_expiry_without_looping() {
    two_hours_with_a_skewed_clock(600_000);
}

#[test]
fn a_hidden_tab_defers_the_proactive_refresh_until_it_is_visible_again() {
    let mut w = World::new(MachineConfig::default());
    w.login(300);
    w.m.on_visibility(w.now, false);
    w.run_until(w.now.plus(3_600_000), |_| unreachable!("hidden tabs do not refresh proactively"));
    assert!(w.refresh_calls.is_empty());
    assert!(w.logouts().is_empty(), "a refreshable session does not end while hidden");
    w.m.on_visibility(w.now, true);
    w.pump();
    assert_eq!(w.refresh_calls.len(), 1);
    w.answer_fresh(300);
    assert_eq!(w.events.iter().filter(|a| matches!(a, Action::Refreshed { .. })).count(), 1);
}

#[test]
fn an_expiring_warning_precedes_each_refresh_once() {
    let mut w = World::new(MachineConfig::default());
    w.login(300);
    w.run_until(w.now.plus(1_000_000), |w| {
        w.answer_fresh(300);
    });
    let expiring = w.events.iter().filter(|a| matches!(a, Action::Expiring { .. })).count();
    let refreshed = w.events.iter().filter(|a| matches!(a, Action::Refreshed { .. })).count();
    assert_eq!(refreshed, w.refresh_calls.len());
    assert_eq!(expiring, refreshed, "one warning per token that reached its warning time");
}

#[test]
fn startup_with_an_expired_access_token_refreshes_before_the_first_request_goes_out() {
    let mut w = World::new(MachineConfig::default());
    let stale = token(&format!(r#"{{"iat":{},"exp":{}}}"#, T0 as i64 / 1000 - 900, T0 as i64 / 1000 - 600));
    w.m.load(w.now, Some(stale), Some("R0".into()));
    w.pump();
    assert_eq!(w.refresh_calls.len(), 1);
    assert_eq!(w.request(1), RequestDecision::Wait);
    let fresh = w.answer_fresh(300);
    assert_eq!(w.resolved.get(&1), Some(&Ok(fresh)));
}

#[test]
fn startup_with_corrupted_tokens_clears_them_as_invalid_token() {
    let mut w = World::new(MachineConfig::default());
    w.m.load(w.now, Some("[object Object]".into()), Some("undefined".into()));
    w.pump();
    assert_eq!(w.events[0], Action::Clear { shared: true });
    assert_eq!(w.logouts(), vec![LogoutReason::InvalidToken]);
    assert_eq!(w.request(1), RequestDecision::Send { bearer: None });
}

#[test]
fn startup_with_everything_expired_logs_out_as_session_expired() {
    let mut w = World::new(MachineConfig::default());
    let secs = T0 as i64 / 1000;
    let access = token(&format!(r#"{{"iat":{},"exp":{}}}"#, secs - 90_000, secs - 89_700));
    let refresh = token(&format!(r#"{{"iat":{},"exp":{}}}"#, secs - 90_000, secs - 3_600));
    w.m.load(w.now, Some(access), Some(refresh));
    w.pump();
    assert_eq!(w.logouts(), vec![LogoutReason::SessionExpired]);
    assert!(w.refresh_calls.is_empty());
}

#[test]
fn another_tabs_refresh_is_adopted_and_ours_is_ignored() {
    let mut w = World::new(MachineConfig::default());
    let old = w.login(300);
    w.m.on_unauthorized(w.now, 1, UrlClass::Protected, &old);
    w.pump();
    let theirs = w.mint(300);
    let generation = w.m.generation();
    w.m.on_tab_message(w.now, TabMessage::Tokens { access: theirs.clone(), refresh: Some("R-theirs".into()), generation, expires_at: None }, Stored::default());
    w.pump();
    assert_eq!(w.resolved.get(&1), Some(&Ok(theirs.clone())));
    assert!(!w.events.iter().any(|a| matches!(a, Action::Persist { .. })), "the other tab already persisted");
    w.answer(401, r#"{"code":"token_not_valid"}"#, None); // our call lost the rotation race
    assert!(w.logouts().is_empty(), "a superseded refresh's failure does not log out");
    assert_eq!(w.request(2), RequestDecision::Send { bearer: Some(theirs) });
}

#[test]
fn breaker_config_changes_the_budget() {
    let config = MachineConfig {
        breaker: BreakerConfig { max_attempts: 1, cooldown_ms: 5_000, give_up_after_ms: 12_000, ..BreakerConfig::default() },
        ..MachineConfig::default()
    };
    let mut w = World::new(config);
    w.login(300);
    w.now = w.now.plus(301_000);
    w.request(1);
    w.run_until(w.now.plus(60_000), |w| w.answer(502, "", None));
    // Attempts at 0 (opens), trials at 5 s and 10 s, and at 15 s the window has passed.
    assert_eq!(w.refresh_calls.len(), 4);
    assert_eq!(w.logouts(), vec![LogoutReason::RefreshUnavailable]);
}

/// Found by the multi-tab simulation (seed 1280509388822836575): the device clock is set back
/// (an hour and a half) while a request waits for a backoff retry. The retry was an instant on
/// the device clock, `setTimeout` runs on real time: the request hung for the whole change. A
/// wait measured on the device clock now lasts what it was meant to when the clock goes back,
/// whether the next event is the timer or another request.
#[test]
fn a_device_clock_set_back_does_not_hold_a_waiting_request_for_the_change() {
    const BACK: u64 = 94 * 60_000;
    for next_event_is_the_timer in [true, false] {
        let mut w = World::new(MachineConfig::default());
        w.login(300);
        let expired = w.now.plus(301_000);
        w.now = expired;
        assert_eq!(w.request(1), RequestDecision::Wait);
        assert_eq!(w.refresh_calls.len(), 1);
        w.m.on_refresh_network_error(w.now, 0.0);
        w.awaiting_answer = false;
        w.pump();
        let retry_at = w.m.poll_timeout().expect("a retry is scheduled");
        let backoff = retry_at.since(w.now);
        assert!(backoff <= 1_000, "{backoff}");

        // The clock is set back; the timer fires when the backoff is over in real time, or
        // another request comes first.
        if next_event_is_the_timer {
            w.now = retry_at.minus(BACK);
            w.m.handle_timeout(w.now, 0.0);
        } else {
            // On the clock set back the expired token looks valid: it goes out, and the
            // server's 401 brings the request back to wait for the retry too.
            w.now = w.now.plus(100).minus(BACK);
            let RequestDecision::Send { bearer: Some(bearer) } = w.request(2) else { panic!("the old token goes out") };
            assert_eq!(w.m.on_unauthorized(w.now, 2, UrlClass::Protected, &bearer), UnauthorizedDecision::Wait);
        }
        w.pump();
        let next = w.m.poll_timeout().expect("the retry is still scheduled");
        assert!(next.since(w.now) <= backoff, "the retry waits {} s more: the clock change, not the backoff", next.since(w.now) / 1_000);
        w.now = w.now.max(next);
        w.m.handle_timeout(w.now, 0.0);
        w.pump();
        assert_eq!(w.refresh_calls.len(), 2, "the retry went out");
        let fresh = w.answer_fresh(300);
        assert_eq!(w.resolved.get(&1), Some(&Ok(fresh.clone())));
        if !next_event_is_the_timer {
            assert_eq!(w.resolved.get(&2), Some(&Ok(fresh)));
        }
    }
}
