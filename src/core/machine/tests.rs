//! Unit tests of the machine's individual rules. Whole-story scenarios live in
//! tests/core_machine_scenarios.rs and randomized simulations in tests/core_machine_props.rs.

use super::*;
use crate::core::breaker::BreakerConfig;
use crate::core::policy::{ConfigError, Detail};
use crate::core::jwt::tests::token_with_payload;

const T0: u64 = 1_700_000_000_000;
const SECS: i64 = 1_700_000_000;

/// A JWT issued at `iat` (server seconds) that lives `life` seconds.
fn jwt(iat: i64, life: i64) -> String {
    token_with_payload(&format!(r#"{{"iat":{iat},"exp":{}}}"#, iat + life))
}

struct Rig {
    m: Machine,
    now: Millis,
}

impl Rig {
    fn new(config: MachineConfig) -> Rig {
        Rig { m: Machine::new(config), now: Millis(T0) }
    }

    fn default() -> Rig {
        Rig::new(MachineConfig::default())
    }

    /// A fresh 5-minute session with an opaque refresh token; actions drained.
    fn logged_in() -> (Rig, String) {
        let mut rig = Rig::default();
        let access = jwt(SECS, 300);
        rig.m.set_tokens(rig.now, access.clone(), Some("R1".into()), None).unwrap();
        rig.drain();
        (rig, access)
    }

    /// This tab's own effects; what it tells the other tabs is checked in `tabs` tests.
    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.m.poll_action()).filter(|a| !matches!(a, Action::Broadcast(_))).collect()
    }

    /// Another tab's tokens: a refresh of this session while it is live, else a newer login.
    fn adopt(&mut self, access: String, refresh: Option<String>) {
        let live = matches!(self.m.snapshot(self.now).status, SessionStatus::Active | SessionStatus::Refreshing);
        let generation = if live { self.m.generation() } else { self.m.generation() + 1 };
        self.m.on_tab_message(self.now, TabMessage::Tokens { access, refresh, generation, expires_at: None }, Stored::default());
    }

    fn at(&mut self, ms: u64) -> Millis {
        self.now = Millis(T0 + ms);
        self.now
    }

    /// The timer fires at `ms` after T0.
    fn tick(&mut self, ms: u64) {
        let now = self.at(ms);
        self.m.handle_timeout(now, 0.0);
    }

    fn success(&mut self, access: &str, refresh: Option<&str>) {
        let tokens = FreshTokens { access: access.into(), refresh: refresh.map(Into::into), expires_in: None };
        self.m.on_refresh_outcome(self.now, RefreshOutcome::Success { tokens, server_offset: None }, 0.0);
    }

    fn transient(&mut self) {
        self.m.on_refresh_outcome(self.now, RefreshOutcome::Transient { retry_after_ms: None, detail: Detail::Http { status: 500, note: None } }, 0.0);
    }
}

fn starts(actions: &[Action]) -> usize {
    actions.iter().filter(|a| matches!(a, Action::StartRefresh { .. })).count()
}

fn logouts(actions: &[Action]) -> Vec<LogoutReason> {
    actions.iter().filter_map(|a| if let Action::Logout { reason, .. } = a { Some(*reason) } else { None }).collect()
}

fn resolved(actions: &[Action]) -> Vec<(WaiterId, Result<String, AuthError>)> {
    actions
        .iter()
        .filter_map(|a| if let Action::Resolve { id, outcome } = a { Some((*id, outcome.clone().into_result())) } else { None })
        .collect()
}

fn send(bearer: &str) -> RequestDecision {
    RequestDecision::Send { bearer: Some(bearer.into()) }
}

const ANON: RequestDecision = RequestDecision::Send { bearer: None };

// ----- requests ---------------------------------------------------------------------------

#[test]
fn a_valid_token_goes_out_on_the_fast_path_with_no_actions() {
    let (mut rig, access) = Rig::logged_in();
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), send(&access));
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.poll_timeout(), Some(Millis(T0 + 240_000)), "warning at expiry − 60 s");
}

#[test]
fn foreign_and_excluded_requests_never_get_the_bearer_nor_a_refresh() {
    let (mut rig, access) = Rig::logged_in();
    rig.at(299_000); // inside the leeway
    for class in [UrlClass::Foreign, UrlClass::Excluded] {
        assert_eq!(rig.m.on_request(rig.now, 1, class), ANON);
        assert_eq!(rig.m.on_unauthorized(rig.now, 1, class, &access), UnauthorizedDecision::ReturnAsIs);
    }
    assert!(rig.drain().is_empty());
}

#[test]
fn without_a_session_protected_requests_go_out_anonymously() {
    let mut rig = Rig::default();
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), ANON);
    assert_eq!(rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, ""), UnauthorizedDecision::ReturnAsIs);
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.poll_timeout(), None);
}

#[test]
fn a_token_within_the_leeway_makes_requests_wait_for_one_refresh() {
    let (mut rig, _) = Rig::logged_in();
    rig.at(251_000); // 5-minute token: leeway is 50 s
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), RequestDecision::Wait);
    let actions = rig.drain();
    assert_eq!(
        actions,
        vec![
            Action::Expiring { expires_at: Millis(T0 + 300_000) }, // overdue, so it goes first
            Action::StartRefresh { refresh_token: Some("R1".into()) },
        ]
    );
    assert_eq!(rig.m.snapshot(rig.now).waiting, 2);
    assert_eq!(rig.m.poll_timeout(), None, "nothing to do until the refresh reports");
}

#[test]
fn while_a_refresh_is_in_flight_even_valid_tokens_wait() {
    let (mut rig, access) = Rig::logged_in();
    assert_eq!(rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access), UnauthorizedDecision::Wait);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), RequestDecision::Wait);
    assert_eq!(starts(&rig.drain()), 1);
}

#[test]
fn success_persists_resolves_every_waiter_and_reports_the_new_expiry() {
    let (mut rig, _) = Rig::logged_in();
    rig.at(260_000);
    rig.m.on_request(rig.now, 1, UrlClass::Protected);
    rig.m.on_request(rig.now, 2, UrlClass::Protected);
    rig.drain();
    let fresh = jwt(SECS + 260, 300);
    rig.success(&fresh, Some("R2"));
    let actions = rig.drain();
    assert_eq!(
        actions,
        vec![
            Action::Persist { access: fresh.clone(), refresh: Some("R2".into()), generation: rig.m.generation(), expires_at: None },
            Action::Refreshed { expires_at: Millis(T0 + 560_000) },
            Action::Resolve { id: 1, outcome: Outcome::Bearer(fresh.clone()) },
            Action::Resolve { id: 2, outcome: Outcome::Bearer(fresh.clone()) },
        ]
    );
    assert_eq!(rig.m.refresh_token(), Some("R2"));
    assert_eq!(rig.m.access_token(), Some(fresh.as_str()));
    assert_eq!(rig.m.snapshot(rig.now).refresh_count, 1);
}

#[test]
fn success_without_a_rotated_refresh_keeps_the_old_one() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    rig.success(&jwt(SECS, 300).replace("c2ln", "c2lm"), None);
    assert_eq!(rig.m.refresh_token(), Some("R1"));
    assert!(rig.drain().contains(&Action::Persist { access: rig.m.access_token().unwrap().into(), refresh: Some("R1".into()), generation: rig.m.generation(), expires_at: None }));
}

#[test]
fn an_opaque_access_token_with_expires_in_is_a_success() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    let tokens = FreshTokens { access: "opaque-access".into(), refresh: None, expires_in: Some(600) };
    rig.m.on_refresh_outcome(rig.now, RefreshOutcome::Success { tokens, server_offset: None }, 0.0);
    let actions = rig.drain();
    assert!(actions.contains(&Action::Refreshed { expires_at: Millis(T0 + 600_000) }));
    assert!(actions.contains(&Action::Resolve { id: 1, outcome: Outcome::Bearer("opaque-access".into()) }));
}

#[test]
fn an_opaque_access_token_without_expiry_is_used_until_a_401() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    rig.success("opaque-access", None);
    assert!(rig.drain().contains(&Action::Refreshed { expires_at: Millis::NEVER }));
    rig.at(10 * 3_600_000);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), send("opaque-access"));
    assert_eq!(rig.m.poll_timeout(), None);
}

#[test]
fn the_clock_offset_comes_from_the_fresh_tokens_iat() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    // The server's clock is 10 minutes ahead of ours.
    rig.success(&jwt(SECS + 600, 300), None);
    let snap = rig.m.snapshot(rig.now);
    assert_eq!(snap.clock_offset_ms, 600_000);
    assert_eq!(snap.expires_at, Some(Millis(T0 + 300_000)));
}

#[test]
fn the_date_header_offset_is_used_when_the_token_has_no_iat() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    let token = token_with_payload(&format!(r#"{{"exp":{}}}"#, SECS - 600 + 300));
    let tokens = FreshTokens { access: token, refresh: None, expires_in: None };
    let outcome = RefreshOutcome::Success { tokens, server_offset: Some(ClockOffset(-600_000)) };
    rig.m.on_refresh_outcome(rig.now, outcome, 0.0);
    assert_eq!(rig.m.snapshot(rig.now).expires_at, Some(Millis(T0 + 300_000)));
}

// ----- 401s -------------------------------------------------------------------------------

#[test]
fn a_401_for_an_old_token_is_replayed_with_the_current_one() {
    let (mut rig, access) = Rig::logged_in();
    assert_eq!(
        rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, "an-older-token"),
        UnauthorizedDecision::Replay { bearer: access }
    );
    assert!(rig.drain().is_empty());
}

#[test]
fn a_401_for_the_current_token_starts_one_refresh_and_waits() {
    let (mut rig, access) = Rig::logged_in();
    for id in 1..=5 {
        assert_eq!(rig.m.on_unauthorized(rig.now, id, UrlClass::Protected, &access), UnauthorizedDecision::Wait);
    }
    assert_eq!(starts(&rig.drain()), 1);
}

#[test]
fn a_401_with_no_way_to_refresh_is_returned_as_is() {
    let mut rig = Rig::default();
    let access = jwt(SECS, 300);
    rig.m.set_tokens(rig.now, access.clone(), None, None).unwrap();
    rig.drain();
    assert_eq!(rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access), UnauthorizedDecision::ReturnAsIs);
    assert!(rig.drain().is_empty());
}

#[test]
fn cookie_mode_refreshes_without_holding_a_refresh_token() {
    let mut rig = Rig::new(MachineConfig { cookie_mode: true, ..MachineConfig::default() });
    let access = jwt(SECS, 300);
    rig.m.set_tokens(rig.now, access.clone(), None, None).unwrap();
    rig.drain();
    assert_eq!(rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access), UnauthorizedDecision::Wait);
    assert_eq!(rig.drain(), vec![Action::StartRefresh { refresh_token: None }]);
}

// ----- no refresh possible ----------------------------------------------------------------

#[test]
fn without_a_refresh_token_an_expiring_token_is_still_sent_until_it_expires() {
    let mut rig = Rig::default();
    let access = jwt(SECS, 300);
    rig.m.set_tokens(rig.now, access.clone(), None, None).unwrap();
    rig.drain();
    rig.at(290_000);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), send(&access));
    rig.at(300_000);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), ANON);
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::SessionExpired]);
    assert_eq!(rig.m.on_request(rig.now, 3, UrlClass::Protected), ANON);
    assert!(rig.drain().is_empty());
}

#[test]
fn without_a_refresh_token_the_session_ends_at_expiry_by_timer() {
    let mut rig = Rig::default();
    rig.m.set_tokens(rig.now, jwt(SECS, 300), None, None).unwrap();
    rig.drain();
    rig.tick(240_000);
    assert!(matches!(rig.drain().as_slice(), [Action::Expiring { .. }]));
    assert_eq!(rig.m.poll_timeout(), Some(Millis(T0 + 300_000)));
    rig.tick(300_000);
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::SessionExpired]);
    assert_eq!(rig.m.poll_timeout(), None);
}

#[test]
fn an_expired_refresh_jwt_is_not_sent_and_the_session_expires() {
    let mut rig = Rig::default();
    let refresh = jwt(SECS, 100); // expires before the 300 s access token
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some(refresh), None).unwrap();
    rig.drain();
    rig.at(260_000);
    assert!(matches!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Send { bearer: Some(_) }));
    assert_eq!(starts(&rig.drain()), 0);
    assert_eq!(rig.m.refresh_token(), None);
    rig.tick(260_000);
    assert_eq!(starts(&rig.drain()), 0);
    assert_eq!(rig.m.poll_timeout(), Some(Millis(T0 + 300_000)), "the session ends at access expiry");
}

// ----- transient failures -----------------------------------------------------------------

#[test]
fn a_transient_failure_schedules_a_retry_that_the_timer_starts() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    rig.transient();
    assert!(rig.drain().is_empty(), "the 401'd request keeps waiting");
    assert_eq!(rig.m.poll_timeout(), Some(Millis(T0 + 250)), "500 ms base with jitter 0 → 250 ms");
    rig.tick(249);
    assert_eq!(starts(&rig.drain()), 0);
    rig.tick(250);
    assert_eq!(starts(&rig.drain()), 1);
}

#[test]
fn during_a_backoff_a_still_valid_token_is_sent_rather_than_held() {
    let (mut rig, access) = Rig::logged_in();
    rig.at(260_000);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
    rig.drain();
    rig.transient();
    assert_eq!(resolved(&rig.drain()), vec![(1, Ok(access.clone()))]);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), send(&access));
}

#[test]
fn during_a_backoff_an_expired_token_waits_for_the_retry() {
    let (mut rig, _) = Rig::logged_in();
    rig.at(300_000);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
    rig.drain();
    rig.transient();
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), RequestDecision::Wait);
    assert_eq!(starts(&rig.drain()), 0);
    assert_eq!(rig.m.snapshot(rig.now).waiting, 2);
}

#[test]
fn an_open_breaker_fails_expired_requests_fast_and_lets_valid_tokens_through() {
    let config = MachineConfig {
        breaker: BreakerConfig { cooldown_ms: 600_000, give_up_after_ms: 3_600_000, ..BreakerConfig::default() },
        ..MachineConfig::default()
    };
    let mut rig = Rig::new(config);
    let access = jwt(SECS, 300);
    rig.m.set_tokens(rig.now, access.clone(), Some("R".into()), None).unwrap();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    rig.transient(); // retry at +250 ms
    rig.tick(250);
    rig.transient(); // retry at +750 ms
    rig.tick(750);
    assert_eq!(starts(&rig.drain()), 2);
    rig.transient(); // third failure: open for the 10-minute cooldown
    let until = Millis(T0 + 750 + 600_000);
    assert_eq!(rig.m.snapshot(rig.now).breaker, BreakerState::Open { until });
    assert_eq!(resolved(&rig.drain()), vec![(1, Err(AuthError::RefreshUnavailable { retry_at: Some(until) }))]);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), send(&access), "not expired yet");
    assert_eq!(rig.m.on_unauthorized(rig.now, 3, UrlClass::Protected, &access), UnauthorizedDecision::ReturnAsIs);
    rig.at(300_000);
    assert_eq!(
        rig.m.on_request(rig.now, 4, UrlClass::Protected),
        RequestDecision::Fail(AuthError::RefreshUnavailable { retry_at: Some(until) })
    );
    assert_eq!(starts(&rig.drain()), 0);
    // The cooldown over, the timer makes one trial.
    rig.tick(300_000); // consumes the overdue (and now pointless) expiring warning
    assert_eq!(rig.m.poll_timeout(), Some(until));
    rig.tick(750 + 600_000);
    assert_eq!(rig.m.snapshot(rig.now).breaker, BreakerState::HalfOpen);
    assert_eq!(starts(&rig.drain()), 1);
}

#[test]
fn giving_up_logs_out_with_refresh_unavailable_once() {
    let config = MachineConfig {
        breaker: BreakerConfig { give_up_after_ms: 1_000, ..BreakerConfig::default() },
        ..MachineConfig::default()
    };
    let mut rig = Rig::new(config);
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R".into()), None).unwrap();
    rig.at(300_000);
    rig.m.on_request(rig.now, 1, UrlClass::Protected);
    rig.drain();
    rig.transient();
    rig.tick(301_000);
    rig.drain();
    rig.transient();
    let actions = rig.drain();
    assert_eq!(logouts(&actions), vec![LogoutReason::RefreshUnavailable]);
    assert_eq!(resolved(&actions), vec![(1, Err(AuthError::LoggedOut { reason: LogoutReason::RefreshUnavailable }))]);
    assert_eq!(actions.first(), Some(&Action::Clear { shared: true }));
}

#[test]
fn a_refresh_token_expiring_during_failures_ends_with_refresh_unavailable() {
    let mut rig = Rig::default();
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some(jwt(SECS, 301)), None).unwrap();
    rig.at(300_000);
    rig.m.on_request(rig.now, 1, UrlClass::Protected);
    rig.drain();
    rig.at(301_000);
    rig.transient();
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::RefreshUnavailable]);
}

#[test]
fn a_network_error_counts_as_a_transient_failure() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    rig.m.on_refresh_network_error(rig.now, 0.0);
    assert_eq!(rig.m.poll_timeout(), Some(Millis(T0 + 250)));
    assert!(!rig.m.snapshot(rig.now).refresh_in_flight);
}

#[test]
fn a_report_without_a_refresh_in_flight_is_ignored() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_refresh_network_error(rig.now, 0.0);
    rig.success("unexpected", None);
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.access_token(), Some(access.as_str()));
}

// ----- definitive failures and logout -----------------------------------------------------

#[test]
fn a_definitive_failure_clears_logs_out_once_and_settles_every_waiter() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.m.on_request(rig.now, 2, UrlClass::Protected);
    rig.drain();
    let outcome = RefreshOutcome::Definitive { reason: LogoutReason::UserNotFound, message: Some("User not found".into()) };
    rig.m.on_refresh_outcome(rig.now, outcome, 0.0);
    let err = AuthError::LoggedOut { reason: LogoutReason::UserNotFound };
    assert_eq!(
        rig.drain(),
        vec![
            Action::Clear { shared: true },
            Action::Logout { reason: LogoutReason::UserNotFound, message: Some("User not found".into()), origin: None },
            // The 401'd request gets its own 401 back; the one never sent fails typed.
            Action::Resolve { id: 1, outcome: Outcome::OriginalResponse(err.clone()) },
            Action::Resolve { id: 2, outcome: Outcome::Failed(err) },
        ]
    );
    assert_eq!(rig.m.access_token(), None);
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::LoggedOut);
    // Nothing afterwards starts a refresh or logs out again.
    assert_eq!(rig.m.on_request(rig.now, 3, UrlClass::Protected), ANON);
    assert_eq!(rig.m.on_unauthorized(rig.now, 4, UrlClass::Protected, &access), UnauthorizedDecision::ReturnAsIs);
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    rig.m.on_visibility(rig.now, true);
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.poll_timeout(), None);
}

#[test]
fn set_tokens_after_a_logout_starts_a_new_session() {
    let (mut rig, _) = Rig::logged_in();
    rig.m.logout(rig.now, LogoutReason::Manual, Some("bye".into()));
    assert_eq!(rig.drain(), vec![Action::Clear { shared: true }, Action::Logout { reason: LogoutReason::Manual, message: Some("bye".into()), origin: None }]);
    let access = jwt(SECS, 300);
    rig.m.set_tokens(rig.now, access.clone(), Some("R9".into()), None).unwrap();
    assert_eq!(
        rig.drain(),
        vec![
            Action::Persist { access: access.clone(), refresh: Some("R9".into()), generation: rig.m.generation(), expires_at: None },
            Action::SignedIn { expires_at: Millis(T0 + 300_000) },
        ]
    );
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), send(&access));
    rig.m.logout(rig.now, LogoutReason::Remote, None);
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::Remote]);
}

#[test]
fn manual_logout_fails_waiters_and_ignores_the_in_flight_refresh() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    let actions = rig.drain();
    assert_eq!(resolved(&actions), vec![(1, Err(AuthError::LoggedOut { reason: LogoutReason::Manual }))]);
    assert!(actions.contains(&Action::Logout { reason: LogoutReason::Manual, message: None, origin: None }));
    rig.success(&jwt(SECS, 300), None);
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.access_token(), None);
}

#[test]
fn set_tokens_rejects_a_malformed_access_token_and_changes_nothing() {
    let (mut rig, access) = Rig::logged_in();
    assert_eq!(rig.m.set_tokens(rig.now, "garbage".into(), None, None), Err(JwtError::SegmentCount(1)));
    assert_eq!(rig.m.set_tokens(rig.now, String::new(), None, Some(60)), Err(JwtError::Empty));
    assert_eq!(rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("a.!!.c".into()), None), Err(JwtError::Base64));
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.access_token(), Some(access.as_str()));
    assert_eq!(rig.m.set_tokens(rig.now, "opaque".into(), None, Some(60)), Ok(()));
}

// ----- other tabs -------------------------------------------------------------------------

#[test]
fn adopted_tokens_release_waiters_and_the_in_flight_result_is_ignored() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.drain();
    let theirs = jwt(SECS, 300).replace("c2ln", "dGhl");
    rig.adopt(theirs.clone(), Some("R-theirs".into()));
    let actions = rig.drain();
    assert!(!actions.iter().any(|a| matches!(a, Action::Persist { .. })));
    assert_eq!(resolved(&actions), vec![(1, Ok(theirs.clone()))]);
    // Our refresh still runs: a 401 for their token must wait for it, not start a second one.
    assert_eq!(rig.m.on_unauthorized(rig.now, 2, UrlClass::Protected, &theirs), UnauthorizedDecision::Wait);
    assert_eq!(starts(&rig.drain()), 0);
    rig.success("ours", Some("R-ours"));
    let actions = rig.drain();
    assert_eq!(rig.m.access_token(), Some(theirs.as_str()), "our late result is ignored");
    assert_eq!(rig.m.refresh_token(), Some("R-theirs"));
    assert_eq!(actions, vec![Action::StartRefresh { refresh_token: Some("R-theirs".into()) }]);
}

#[test]
fn adopting_the_same_tokens_again_does_nothing() {
    let (mut rig, access) = Rig::logged_in();
    rig.adopt(access, None);
    assert!(rig.drain().is_empty());
}

#[test]
fn adopting_tokens_revives_a_logged_out_tab() {
    let (mut rig, _) = Rig::logged_in();
    rig.m.logout(rig.now, LogoutReason::Remote, None);
    rig.drain();
    let access = jwt(SECS, 300);
    rig.adopt(access.clone(), Some("R".into()));
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Active);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), send(&access));
}

#[test]
fn a_cancelled_waiter_is_never_resolved() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    rig.m.on_unauthorized(rig.now, 2, UrlClass::Protected, &access);
    rig.m.cancel(1);
    rig.drain();
    rig.success(&jwt(SECS, 300).replace("c2ln", "bmV3"), None);
    let ids: Vec<WaiterId> = resolved(&rig.drain()).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![2]);
}

// ----- timers -----------------------------------------------------------------------------

#[test]
fn the_proactive_refresh_fires_at_expiry_minus_leeway_when_visible() {
    let (mut rig, _) = Rig::logged_in();
    rig.tick(240_000);
    assert_eq!(rig.drain(), vec![Action::Expiring { expires_at: Millis(T0 + 300_000) }]);
    assert_eq!(rig.m.poll_timeout(), Some(Millis(T0 + 250_000)));
    rig.tick(250_000);
    assert_eq!(starts(&rig.drain()), 1);
    assert_eq!(rig.m.poll_timeout(), None, "nothing to do until the refresh reports");
}

#[test]
fn a_hidden_tab_defers_the_proactive_refresh_until_visible() {
    let (mut rig, _) = Rig::logged_in();
    rig.m.on_visibility(rig.now, false);
    rig.tick(240_000);
    rig.drain();
    assert_eq!(rig.m.poll_timeout(), None, "no refresh deadline while hidden");
    rig.tick(280_000);
    assert_eq!(starts(&rig.drain()), 0);
    rig.at(281_000);
    rig.m.on_visibility(rig.now, true);
    assert_eq!(starts(&rig.drain()), 1);
}

#[test]
fn a_hidden_tab_still_refreshes_when_a_request_needs_it() {
    let (mut rig, _) = Rig::logged_in();
    rig.m.on_visibility(rig.now, false);
    rig.at(280_000);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
    assert_eq!(starts(&rig.drain()), 1);
}

#[test]
fn refresh_when_hidden_keeps_the_proactive_timer() {
    let mut rig = Rig::new(MachineConfig { refresh_when_hidden: true, ..MachineConfig::default() });
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R".into()), None).unwrap();
    rig.m.on_visibility(rig.now, false);
    rig.tick(250_000);
    assert_eq!(starts(&rig.drain()), 1);
}

#[test]
fn the_expiring_warning_fires_once_per_token_and_not_after_expiry() {
    let (mut rig, _) = Rig::logged_in();
    rig.m.on_visibility(rig.now, false);
    rig.tick(240_000);
    rig.tick(241_000);
    let expiring = rig.drain().iter().filter(|a| matches!(a, Action::Expiring { .. })).count();
    assert_eq!(expiring, 1);

    let (mut rig, _) = Rig::logged_in();
    rig.m.on_visibility(rig.now, false);
    rig.tick(400_000); // woke up after a sleep
    assert!(!rig.drain().iter().any(|a| matches!(a, Action::Expiring { .. })));
}

#[test]
fn a_configured_leeway_is_used() {
    let mut rig = Rig::new(MachineConfig { leeway_ms: Some(10_000), ..MachineConfig::default() });
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R".into()), None).unwrap();
    rig.at(289_999);
    assert!(matches!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Send { bearer: Some(_) }));
    rig.at(290_000);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), RequestDecision::Wait);
}

// ----- start-up ---------------------------------------------------------------------------

#[test]
fn loading_no_tokens_is_anonymous_and_silent() {
    let mut rig = Rig::default();
    rig.m.load(rig.now, None, Some(String::new()));
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Anonymous);
    assert_eq!(rig.m.poll_timeout(), None);
}

#[test]
fn loading_a_malformed_access_token_clears_it_as_invalid() {
    for access in ["garbage", "undefined", "a.b", "h.!!.s", &token_with_payload(r#"{"exp":"x"}"#)] {
        let mut rig = Rig::default();
        rig.m.load(rig.now, Some(access.into()), Some("R".into()));
        assert_eq!(rig.drain(), vec![
            Action::Clear { shared: true },
            Action::Logout { reason: LogoutReason::InvalidToken, message: None, origin: None }
        ], "{access}");
    }
}

#[test]
fn loading_a_malformed_refresh_jwt_clears_it_as_invalid() {
    let mut rig = Rig::default();
    rig.m.load(rig.now, Some(jwt(SECS, 300)), Some("x.!!.y".into()));
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::InvalidToken]);
}

#[test]
fn loading_a_valid_access_token_makes_the_session_active_with_timers() {
    let mut rig = Rig::default();
    rig.m.load(rig.now, Some(jwt(SECS - 60, 300)), Some("R".into()));
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Active);
    assert_eq!(rig.m.poll_timeout(), Some(Millis(T0 + 180_000)));
}

#[test]
fn loading_an_expired_access_with_a_usable_refresh_starts_a_refresh() {
    for refresh in ["opaque".to_string(), jwt(SECS - 3_600, 86_400)] {
        let mut rig = Rig::default();
        rig.m.load(rig.now, Some(jwt(SECS - 600, 300)), Some(refresh.clone()));
        assert_eq!(rig.drain(), vec![Action::StartRefresh { refresh_token: Some(refresh) }]);
    }
    let mut rig = Rig::new(MachineConfig { cookie_mode: true, ..MachineConfig::default() });
    rig.m.load(rig.now, Some(jwt(SECS - 600, 300)), None);
    assert_eq!(rig.drain(), vec![Action::StartRefresh { refresh_token: None }]);
}

#[test]
fn loading_only_a_refresh_token_starts_a_refresh() {
    let mut rig = Rig::default();
    rig.m.load(rig.now, None, Some("R".into()));
    assert_eq!(rig.drain(), vec![Action::StartRefresh { refresh_token: Some("R".into()) }]);
}

#[test]
fn loading_expired_access_and_refresh_logs_out_as_session_expired() {
    let mut rig = Rig::default();
    rig.m.load(rig.now, Some(jwt(SECS - 600, 300)), Some(jwt(SECS - 86_400, 3_600)));
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::SessionExpired]);
    let mut rig = Rig::default();
    rig.m.load(rig.now, Some(jwt(SECS - 600, 300)), None);
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::SessionExpired]);
}

#[test]
fn a_stored_token_issued_in_the_future_reveals_a_slow_clock() {
    let mut rig = Rig::default();
    // Our clock is 10 minutes behind: the token was issued "10 minutes from now".
    rig.m.load(rig.now, Some(jwt(SECS + 600, 300)), Some("R".into()));
    let snap = rig.m.snapshot(rig.now);
    assert_eq!(snap.clock_offset_ms, 600_000);
    assert_eq!(snap.expires_at, Some(Millis(T0 + 300_000)));
}

#[test]
fn snapshot_reports_status_waiting_and_breaker() {
    let (mut rig, access) = Rig::logged_in();
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, &access);
    let snap = rig.m.snapshot(rig.now);
    assert_eq!(snap.status, SessionStatus::Refreshing);
    assert!(snap.refresh_in_flight);
    assert_eq!(snap.waiting, 1);
    assert_eq!(snap.breaker, BreakerState::Closed);
    assert!(!format!("{:?}", rig.m).contains(&access));
}

#[test]
fn a_session_end_redirects_to_the_login_page_once_when_one_is_configured() {
    let login = LoginPage { url: "https://app.example/login?next=%2F".into(), path: "/login".into() };
    let mut rig = Rig::new(MachineConfig { login: Some(login), ..MachineConfig::default() });
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R1".into()), None).unwrap();
    rig.drain();
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    let redirect = Action::Redirect { url: "https://app.example/login?next=%2F".into(), unless_at: "/login".into() };
    let actions = rig.drain();
    assert_eq!(actions.iter().filter(|a| **a == redirect).count(), 1, "{actions:?}");
    // After the event, so that listeners run before the page goes away.
    let logout_at = actions.iter().position(|a| matches!(a, Action::Logout { .. }));
    assert!(logout_at < actions.iter().position(|a| *a == redirect));
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    assert!(!rig.drain().contains(&redirect), "a second logout of the ended session redirects again");
}

#[test]
fn without_a_login_page_a_session_end_never_redirects() {
    let (mut rig, _) = Rig::logged_in();
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    assert!(!rig.drain().iter().any(|a| matches!(a, Action::Redirect { .. })));
}

// ----- issue 11: real servers -------------------------------------------------------------

fn warnings(rig: &mut Rig) -> Vec<Warning> {
    std::iter::from_fn(|| rig.m.poll_warning()).collect()
}

fn response(status: u16, body: &str) -> RefreshResponse<'_> {
    RefreshResponse { status, body, retry_after: None, date: None }
}

/// A session whose access token has expired, with request 1 waiting for the refresh call.
fn refreshing(config: MachineConfig) -> Rig {
    let mut rig = Rig::new(config);
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R1".into()), None).unwrap();
    rig.at(301_000);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
    assert_eq!(starts(&rig.drain()), 1);
    rig
}

#[test]
fn an_oauth_configuration_error_ends_the_session_and_is_reported_once_with_its_cause() {
    let mut rig = refreshing(MachineConfig::default());
    let body = r#"{"error":"invalid_client","error_description":"Invalid client_id parameter value."}"#;
    rig.m.on_refresh_response(rig.now, &response(401, body), None, 0.0);
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::InvalidToken]);
    let reported = warnings(&mut rig);
    assert_eq!(reported.len(), 1, "{reported:?}");
    let w = &reported[0];
    assert_eq!((w.code(), w.severity()), ("refresh_misconfigured", Severity::Error));
    let cause = ConfigError { code: "invalid_client", description: Some("Invalid client_id parameter value.".into()) };
    assert_eq!(*w, Warning::RefreshMisconfigured(cause));

    // The next session fails the same way: the console already says why.
    rig.m.set_tokens(rig.now, jwt(SECS + 300, 300), Some("R2".into()), None).unwrap();
    rig.m.on_unauthorized(rig.now, 2, UrlClass::Protected, rig.m.access_token().unwrap().to_owned().as_str());
    rig.drain();
    rig.m.on_refresh_response(rig.now, &response(400, body), None, 0.0);
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::InvalidToken]);
    assert!(warnings(&mut rig).is_empty(), "reported once per client");

    // The wrong format names refreshFormat.
    let mut rig = refreshing(MachineConfig::default());
    rig.m.on_refresh_response(rig.now, &response(400, r#"{"error":"invalid_request","error_description":"only application/x-www-form-urlencoded"}"#), None, 0.0);
    let [Warning::RefreshMisconfigured(cause)] = &warnings(&mut rig)[..] else { panic!() };
    assert_eq!(cause.code, "invalid_request");
}

#[test]
fn each_oauth_configuration_error_and_a_failing_hook_are_reported_once_each() {
    let mut rig = refreshing(MachineConfig::default());
    rig.m.on_refresh_hook_error(rig.now, "refreshRequest threw".into(), 0.0);
    assert_eq!(warnings(&mut rig), vec![Warning::RefreshHookFailed("refreshRequest threw".into())]);
    let mut id = 10;
    for round in 0..2 {
        for code in crate::core::policy::CONFIG_ERRORS {
            rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R".into()), None).unwrap();
            id += 1;
            rig.m.force_refresh(rig.now, id);
            rig.drain();
            rig.m.on_refresh_response(rig.now, &response(400, &format!(r#"{{"error":"{code}"}}"#)), None, 0.0);
            let got = warnings(&mut rig);
            if round == 0 {
                assert_eq!(got, vec![Warning::RefreshMisconfigured(ConfigError { code, description: None })], "{code}");
            } else {
                assert!(got.is_empty(), "{code} {got:?}");
            }
        }
    }
    rig.m.on_refresh_hook_error(rig.now, "refreshRequest threw".into(), 0.0);
    assert!(warnings(&mut rig).is_empty(), "the hook's failure was reported already");
}

#[test]
fn temporarily_unavailable_and_5xx_are_transient_and_report_nothing() {
    for (status, body) in [(400, r#"{"error":"temporarily_unavailable"}"#), (503, ""), (500, r#"{"error":"invalid_client"}"#)] {
        let mut rig = refreshing(MachineConfig::default());
        rig.m.on_refresh_response(rig.now, &response(status, body), None, 0.0);
        assert!(logouts(&rig.drain()).is_empty(), "{status} {body}");
        assert!(warnings(&mut rig).is_empty(), "{status} {body}");
        assert!(rig.m.poll_timeout().is_some_and(|t| t > rig.now), "a retry is scheduled");
    }
}

#[test]
fn a_parse_hook_that_fails_is_a_transient_failure_reported_once() {
    let mut rig = refreshing(MachineConfig::default());
    let failed = || Some(Err("parseRefreshResponse returned no access token".to_owned()));
    rig.m.on_refresh_response(rig.now, &response(200, r#"{"token":"A"}"#), failed(), 0.0);
    let actions = rig.drain();
    assert!(logouts(&actions).is_empty() && resolved(&actions).is_empty(), "{actions:?}");
    let [w] = &warnings(&mut rig)[..] else { panic!() };
    assert_eq!((w.code(), w.severity()), ("refresh_hook_failed", Severity::Error));
    assert_eq!(*w, Warning::RefreshHookFailed("parseRefreshResponse returned no access token".into()));
    // The retry fails the same way: not reported again.
    let retry = rig.m.poll_timeout().unwrap();
    rig.tick(retry.0 - T0);
    assert_eq!(starts(&rig.drain()), 1);
    rig.m.on_refresh_response(rig.now, &response(200, "{}"), failed(), 0.0);
    assert!(warnings(&mut rig).is_empty());

    // What the hook read is the session's new token.
    let mut rig = refreshing(MachineConfig::default());
    let tokens = FreshTokens { access: "opaque-A2".into(), refresh: Some("R2".into()), expires_in: Some(600) };
    rig.m.on_refresh_response(rig.now, &response(200, r#"{"data":{}}"#), Some(Ok(tokens)), 0.0);
    assert_eq!(resolved(&rig.drain()), vec![(1, Ok("opaque-A2".to_owned()))]);
    assert_eq!(rig.m.refresh_token(), Some("R2"));
}

#[test]
fn a_refresh_request_hook_that_throws_is_transient_and_reported_once() {
    let mut rig = refreshing(MachineConfig::default());
    rig.m.on_refresh_hook_error(rig.now, "refreshRequest threw: TypeError: x is undefined".into(), 0.0);
    assert!(logouts(&rig.drain()).is_empty());
    let [w] = &warnings(&mut rig)[..] else { panic!() };
    assert_eq!(*w, Warning::RefreshHookFailed("refreshRequest threw: TypeError: x is undefined".into()));
    assert_eq!(rig.m.snapshot(rig.now).waiting, 1, "the request waits for the retry");
}

#[test]
fn an_opaque_access_tokens_expiry_is_persisted_with_it() {
    let mut rig = Rig::default();
    rig.m.set_tokens(rig.now, "opaque-A".into(), Some("R1".into()), Some(300)).unwrap();
    let generation = rig.m.generation();
    assert_eq!(
        rig.drain(),
        vec![
            Action::Persist { access: "opaque-A".into(), refresh: Some("R1".into()), generation, expires_at: Some(Millis(T0 + 300_000)) },
            Action::SignedIn { expires_at: Millis(T0 + 300_000) },
        ]
    );
    // A refresh without expires_in: no known expiry, which is persisted too.
    rig.m.on_unauthorized(rig.now, 1, UrlClass::Protected, "opaque-A");
    rig.drain();
    rig.success("opaque-B", None);
    assert!(rig.drain().contains(&Action::Persist { access: "opaque-B".into(), refresh: Some("R1".into()), generation, expires_at: Some(Millis::NEVER) }));
    // A JWT carries its own exp.
    let (mut rig, _) = Rig::logged_in();
    rig.m.set_tokens(rig.now, jwt(SECS, 300), None, None).unwrap();
    assert!(matches!(rig.drain()[..], [Action::Persist { expires_at: None, .. }, Action::SignedIn { .. }]));
}

fn stored(access: &str, refresh: Option<&str>, expires_at: Option<Millis>) -> Stored {
    Stored { access: Some(access.into()), refresh: refresh.map(Into::into), generation: 7, expires_at }
}

#[test]
fn a_stored_opaque_access_token_is_timed_by_its_stored_expiry() {
    // Still valid: the session goes on, refreshed at expiry minus the leeway.
    let mut rig = Rig::default();
    rig.m.load_stored(rig.now, stored("opaque-A", Some("R1"), Some(Millis(T0 + 200_000))));
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Active);
    assert_eq!(rig.m.snapshot(rig.now).expires_at, Some(Millis(T0 + 200_000)));
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), send("opaque-A"));

    // Expired: refreshed, never sent.
    let mut rig = Rig::default();
    rig.m.load_stored(rig.now, stored("opaque-A", Some("R1"), Some(Millis(T0 - 1))));
    assert_eq!(rig.drain(), vec![Action::StartRefresh { refresh_token: Some("R1".into()) }]);
    // Expired with nothing to refresh with: the session has expired.
    let mut rig = Rig::default();
    rig.m.load_stored(rig.now, stored("opaque-A", None, Some(Millis(T0 - 1))));
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::SessionExpired]);
    // No known expiry (the server gave none): used until a 401.
    let mut rig = Rig::default();
    rig.m.load_stored(rig.now, stored("opaque-A", Some("R1"), Some(Millis::NEVER)));
    assert!(rig.drain().is_empty());
    assert_eq!(rig.m.snapshot(rig.now).expires_at, None);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), send("opaque-A"));
    // Without a stored expiry it is what it always was: malformed.
    let mut rig = Rig::default();
    rig.m.load_stored(rig.now, stored("opaque-A", Some("R1"), None));
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::InvalidToken]);
}

fn cookie() -> MachineConfig {
    MachineConfig { cookie_mode: true, ..MachineConfig::default() }
}

#[test]
fn cookie_mode_start_up_without_an_access_token_looks_for_a_session_with_one_refresh() {
    let mut rig = Rig::new(cookie());
    rig.m.load_stored(rig.now, Stored::default());
    assert_eq!(rig.drain(), vec![Action::StartRefresh { refresh_token: None }]);
    // No session is held until the silent refresh finds one: an app must not show its content.
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Anonymous);
    // A request meanwhile waits for it rather than going out anonymously.
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
    rig.success(&jwt(SECS, 300), None);
    let actions = rig.drain();
    assert!(matches!(actions[0], Action::Persist { .. }), "{actions:?}");
    assert_eq!(resolved(&actions), vec![(1, Ok(jwt(SECS, 300)))]);
    assert!(logouts(&actions).is_empty());
    // For the app, finding a session in the cookie is a sign-in.
    assert!(actions.iter().any(|a| matches!(a, Action::SignedIn { .. })), "{actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Refreshed { .. })), "{actions:?}");
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Active);

    // Body mode: no tokens, no refresh.
    let mut rig = Rig::default();
    rig.m.load_stored(rig.now, Stored::default());
    assert!(rig.drain().is_empty());
}

#[test]
fn a_refused_start_up_refresh_leaves_the_client_anonymous_without_a_logout() {
    for stored_access in [None, Some(jwt(SECS - 600, 300))] {
        let mut rig = Rig::new(cookie());
        rig.m.load_stored(rig.now, Stored { access: stored_access.clone(), ..Stored::default() });
        assert_eq!(starts(&rig.drain()), 1);
        assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
        rig.m.on_refresh_response(rig.now, &response(401, r#"{"detail":"No valid refresh cookie","code":"token_not_valid"}"#), None, 0.0);
        let actions = rig.drain();
        assert_eq!(actions, vec![Action::Resolve { id: 1, outcome: Outcome::Anonymous }], "{stored_access:?}");
        assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Anonymous);
        assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), ANON);
        assert_eq!(rig.m.poll_timeout(), None, "no further attempt");
        // A login afterwards is an ordinary session whose refusal is an ordinary logout.
        rig.m.set_tokens(rig.now, jwt(SECS, 300), None, None).unwrap();
        rig.m.on_unauthorized(rig.now, 3, UrlClass::Protected, &jwt(SECS, 300));
        rig.drain();
        rig.m.on_refresh_response(rig.now, &response(401, "{}"), None, 0.0);
        assert_eq!(logouts(&rig.drain()), vec![LogoutReason::InvalidToken]);
    }
}

#[test]
fn a_failing_start_up_refresh_is_retried_and_a_give_up_is_not_a_logout() {
    let config = MachineConfig { breaker: BreakerConfig { max_attempts: 2, give_up_after_ms: 5_000, ..BreakerConfig::default() }, ..cookie() };
    let mut rig = Rig::new(config);
    rig.m.load_stored(rig.now, Stored::default());
    rig.drain();
    rig.m.on_refresh_network_error(rig.now, 0.0);
    assert!(rig.drain().is_empty());
    let retry = rig.m.poll_timeout().expect("a retry");
    rig.tick(retry.0 - T0);
    assert_eq!(starts(&rig.drain()), 1, "the usual retry rules");
    rig.at(6_000);
    rig.transient();
    let actions = rig.drain();
    assert!(logouts(&actions).is_empty() && !actions.contains(&Action::Clear { shared: true }), "{actions:?}");
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Anonymous);
}

#[test]
fn force_refresh_refreshes_a_valid_token_once_for_every_caller() {
    let (mut rig, access) = Rig::logged_in();
    assert_eq!(rig.m.force_refresh(rig.now, 1), RequestDecision::Wait);
    assert_eq!(rig.drain(), vec![Action::StartRefresh { refresh_token: Some("R1".into()) }]);
    // Single flight: a second call and a request join it.
    assert_eq!(rig.m.force_refresh(rig.now, 2), RequestDecision::Wait);
    assert_eq!(rig.m.on_request(rig.now, 3, UrlClass::Protected), RequestDecision::Wait);
    assert!(rig.drain().is_empty());
    // A transient failure: the forced callers wait for the retry (never the old token).
    rig.transient();
    let actions = rig.drain();
    assert_eq!(resolved(&actions), vec![(3, Ok(access.clone()))], "only the plain request goes out with the valid token");
    let retry = rig.m.poll_timeout().unwrap();
    rig.tick(retry.0 - T0);
    assert_eq!(starts(&rig.drain()), 1);
    rig.success("NEW.ACCESS.TOKEN", Some("R2"));
    assert_eq!(resolved(&rig.drain()), vec![(1, Ok("NEW.ACCESS.TOKEN".into())), (2, Ok("NEW.ACCESS.TOKEN".into()))]);
}

#[test]
fn force_refresh_fails_typed_when_no_refresh_can_happen() {
    let mut rig = Rig::default();
    assert_eq!(rig.m.force_refresh(rig.now, 1), RequestDecision::Fail(AuthError::NoSession));
    rig.m.set_tokens(rig.now, jwt(SECS, 300), None, None).unwrap();
    assert_eq!(rig.m.force_refresh(rig.now, 2), RequestDecision::Fail(AuthError::NoRefreshToken));
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    assert_eq!(rig.m.force_refresh(rig.now, 3), RequestDecision::Fail(AuthError::LoggedOut { reason: LogoutReason::Manual }));
    // The breaker is open: fail fast.
    let config = MachineConfig { breaker: BreakerConfig { max_attempts: 1, ..BreakerConfig::default() }, ..MachineConfig::default() };
    let mut rig = Rig::new(config);
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R1".into()), None).unwrap();
    assert_eq!(rig.m.force_refresh(rig.now, 1), RequestDecision::Wait);
    rig.drain();
    rig.transient();
    assert!(matches!(resolved(&rig.drain())[..], [(1, Err(AuthError::RefreshUnavailable { .. }))]));
    assert!(matches!(rig.m.force_refresh(rig.now, 2), RequestDecision::Fail(AuthError::RefreshUnavailable { .. })));
    // A refusal ends the session and rejects the caller.
    let (mut rig, _) = Rig::logged_in();
    rig.m.force_refresh(rig.now, 1);
    rig.drain();
    rig.m.on_refresh_response(rig.now, &response(401, r#"{"code":"token_not_valid"}"#), None, 0.0);
    let actions = rig.drain();
    assert_eq!(resolved(&actions), vec![(1, Err(AuthError::LoggedOut { reason: LogoutReason::InvalidToken }))]);
    assert!(matches!(actions.iter().find(|a| matches!(a, Action::Resolve { .. })), Some(Action::Resolve { outcome: Outcome::Failed(_), .. })));
}

#[test]
fn force_refresh_in_cookie_mode_without_a_session_looks_for_one() {
    let mut rig = Rig::new(cookie());
    rig.m.load_stored(rig.now, Stored::default());
    rig.drain();
    rig.m.on_refresh_response(rig.now, &response(401, "{}"), None, 0.0);
    rig.drain();
    // After the app's own login set the cookie.
    assert_eq!(rig.m.force_refresh(rig.now, 1), RequestDecision::Wait);
    assert_eq!(rig.drain(), vec![Action::StartRefresh { refresh_token: None }]);
    rig.success(&jwt(SECS, 300), None);
    assert_eq!(resolved(&rig.drain()), vec![(1, Ok(jwt(SECS, 300)))]);
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::Active);
    // No cookie: rejected, still no logout.
    let mut rig = Rig::new(cookie());
    rig.m.load_stored(rig.now, Stored::default());
    rig.drain();
    assert_eq!(rig.m.force_refresh(rig.now, 1), RequestDecision::Wait);
    rig.m.on_refresh_response(rig.now, &response(401, "{}"), None, 0.0);
    assert_eq!(rig.drain(), vec![Action::Resolve { id: 1, outcome: Outcome::Failed(AuthError::NoSession) }]);
}

#[test]
fn a_manual_logout_revokes_the_refresh_token_when_a_revocation_endpoint_is_configured() {
    let login = LoginPage { url: "/login".into(), path: "/login".into() };
    let revoking = MachineConfig { revoke: true, login: Some(login), ..MachineConfig::default() };
    let mut rig = Rig::new(revoking.clone());
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R1".into()), None).unwrap();
    rig.drain();
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    let actions = rig.drain();
    let revoke = actions.iter().position(|a| *a == Action::Revoke { token: Some("R1".into()) }).expect("revoked");
    // Cleared locally first, and sent before the page can leave for the login page.
    assert!(actions.iter().position(|a| matches!(a, Action::Clear { .. })).unwrap() < revoke);
    assert!(revoke < actions.iter().position(|a| matches!(a, Action::Redirect { .. })).unwrap());
    assert_eq!(rig.m.refresh_token(), None);

    // Cookie mode: the cookie goes with the request.
    let mut rig = Rig::new(MachineConfig { revoke: true, ..cookie() });
    rig.m.set_tokens(rig.now, jwt(SECS, 300), None, None).unwrap();
    rig.drain();
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    assert!(rig.drain().contains(&Action::Revoke { token: None }));

    // Not without revokeUrl, not for a session the server ended, not for another tab's logout.
    let (mut rig, _) = Rig::logged_in();
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    assert!(!rig.drain().iter().any(|a| matches!(a, Action::Revoke { .. })));
    let mut rig = refreshing(revoking.clone());
    rig.m.on_refresh_response(rig.now, &response(401, "{}"), None, 0.0);
    assert!(!rig.drain().iter().any(|a| matches!(a, Action::Revoke { .. })));
    let mut rig = Rig::new(revoking);
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some("R1".into()), None).unwrap();
    rig.drain();
    rig.m.on_tab_message(rig.now, TabMessage::Logout { reason: LogoutReason::Manual, message: None, generation: rig.m.generation() }, Stored::default());
    let actions = rig.drain();
    assert_eq!(logouts(&actions), vec![LogoutReason::Remote]);
    assert!(!actions.iter().any(|a| matches!(a, Action::Revoke { .. })));
}

#[test]
fn force_refresh_never_settles_for_the_old_token_when_the_refresh_token_runs_out() {
    let mut rig = Rig::default();
    rig.m.set_tokens(rig.now, jwt(SECS, 300), Some(jwt(SECS - 3_500, 3_600)), None).unwrap(); // refresh: 100 s left
    rig.at(50_000);
    assert_eq!(rig.m.force_refresh(rig.now, 1), RequestDecision::Wait);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), RequestDecision::Wait);
    rig.drain();
    rig.transient();
    assert_eq!(resolved(&rig.drain()).len(), 1, "the plain request goes out with the valid token");
    rig.tick(101_000);
    let actions = rig.drain();
    assert_eq!(resolved(&actions), vec![(1, Err(AuthError::NoRefreshToken))]);
    assert_eq!(starts(&actions), 0);
}

#[test]
fn another_tabs_login_signs_in_a_tab_without_a_session_and_refreshes_one_with_it() {
    let mut rig = Rig::default();
    let first = jwt(SECS, 300);
    rig.adopt(first.clone(), Some("R1".into()));
    let actions = rig.drain();
    assert!(actions.iter().any(|a| matches!(a, Action::SignedIn { .. })), "{actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Refreshed { .. })), "{actions:?}");
    rig.adopt(jwt(SECS + 60, 300), Some("R2".into()));
    let actions = rig.drain();
    assert!(actions.iter().any(|a| matches!(a, Action::Refreshed { .. })), "{actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::SignedIn { .. })), "{actions:?}");
}

#[test]
fn the_snapshot_keeps_why_the_session_ended_until_a_new_one_starts() {
    let (mut rig, _) = Rig::logged_in();
    assert_eq!(rig.m.snapshot(rig.now).logout_reason, None);
    rig.m.logout(rig.now, LogoutReason::UserNotFound, None);
    assert_eq!(rig.m.snapshot(rig.now).logout_reason, Some(LogoutReason::UserNotFound));
    rig.m.set_tokens(rig.now, jwt(SECS, 300), None, None).unwrap();
    assert_eq!(rig.m.snapshot(rig.now).logout_reason, None);
}

#[test]
fn another_tabs_opaque_token_comes_with_its_expiry_so_this_tab_refreshes_before_it_not_after_a_401() {
    // Tab A refreshed and got an opaque token valid 300 s; tab B adopts it from the channel.
    let mut a = Rig::default();
    a.m.set_tokens(a.now, "opaque-1".into(), Some("R1".into()), Some(300)).unwrap();
    let message = std::iter::from_fn(|| a.m.poll_action())
        .find_map(|x| if let Action::Broadcast(m @ TabMessage::Tokens { .. }) = x { Some(m) } else { None })
        .unwrap();
    assert!(matches!(message, TabMessage::Tokens { expires_at: Some(Millis(at)), .. } if at == T0 + 300_000), "{message:?}");
    let mut b = Rig::default();
    b.m.on_tab_message(b.now, message, Stored::default());
    b.drain();
    assert_eq!(b.m.snapshot(b.now).expires_at, Some(Millis(T0 + 300_000)));
    // Past the expiry this tab does not send the dead token (a 401, then a second refresh in
    // the same cycle, which a rotating server answers by deleting the first one's token).
    b.tick(301_000);
    assert_eq!(b.m.on_request(b.now, 1, UrlClass::Protected), RequestDecision::Wait);
}

#[test]
fn the_storage_event_fallback_takes_an_opaque_tokens_expiry_from_storage() {
    let mut b = Rig::default();
    let message = TabMessage::Tokens { access: "opaque-2".into(), refresh: Some("R2".into()), generation: T0 + 1, expires_at: None };
    let stored = Stored { access: Some("opaque-2".into()), refresh: Some("R2".into()), generation: T0 + 1, expires_at: Some(Millis(T0 + 120_000)) };
    b.m.on_tab_message(b.now, message, stored);
    assert_eq!(b.m.snapshot(b.now).expires_at, Some(Millis(T0 + 120_000)));
}

#[test]
fn a_tab_messages_own_expiry_wins_and_storage_only_times_the_token_it_holds() {
    // The message says when its token expires: storage's value is not consulted.
    let mut b = Rig::default();
    let message = TabMessage::Tokens { access: "opaque-2".into(), refresh: Some("R2".into()), generation: T0 + 1, expires_at: Some(Millis(T0 + 90_000)) };
    let stored = Stored { access: Some("opaque-2".into()), refresh: Some("R2".into()), generation: T0 + 1, expires_at: Some(Millis(T0 + 120_000)) };
    b.m.on_tab_message(b.now, message, stored);
    assert_eq!(b.m.snapshot(b.now).expires_at, Some(Millis(T0 + 90_000)));
    // Storage holds another token: its expiry is not this one's.
    let mut b = Rig::default();
    let message = TabMessage::Tokens { access: "opaque-2".into(), refresh: Some("R2".into()), generation: T0 + 1, expires_at: None };
    let stored = Stored { access: Some("opaque-3".into()), refresh: Some("R3".into()), generation: T0 + 2, expires_at: Some(Millis(T0 + 120_000)) };
    b.m.on_tab_message(b.now, message, stored);
    assert_eq!(b.m.snapshot(b.now).expires_at, None);
}

fn revokes(actions: &[Action]) -> Vec<Option<String>> {
    actions.iter().filter_map(|a| if let Action::Revoke { token } = a { Some(token.clone()) } else { None }).collect()
}

#[test]
fn a_logout_during_a_refresh_call_revokes_what_that_call_leaves_valid_once_it_answers() {
    let revoking = MachineConfig { revoke: true, ..MachineConfig::default() };
    // The call rotates R1 into R2: R2 is what the server honours, so R2 is revoked, after the
    // answer and not before (revoking R1 at once would leave R2 valid).
    let mut rig = refreshing(revoking.clone());
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    assert_eq!(revokes(&rig.drain()), Vec::<Option<String>>::new(), "held while the call is out");
    rig.success(&jwt(SECS + 301, 300), Some("R2"));
    let actions = rig.drain();
    assert_eq!(revokes(&actions), vec![Some("R2".to_owned())]);
    assert_eq!(rig.m.snapshot(rig.now).status, SessionStatus::LoggedOut, "the answer does not revive the session");
    assert!(logouts(&actions).is_empty());

    // No rotation, a failed call, no answer at all: the token the logout held.
    let mut rig = refreshing(revoking.clone());
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    rig.drain();
    rig.success(&jwt(SECS + 301, 300), None);
    assert_eq!(revokes(&rig.drain()), vec![Some("R1".to_owned())]);
    let mut rig = refreshing(revoking.clone());
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    rig.drain();
    rig.transient();
    assert_eq!(revokes(&rig.drain()), vec![Some("R1".to_owned())]);
    let mut rig = refreshing(revoking);
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    rig.drain();
    rig.m.on_refresh_network_error(rig.now, 0.0);
    assert_eq!(revokes(&rig.drain()), vec![Some("R1".to_owned())]);

    // Cookie mode: after the answer, so that the request carries the cookie it set.
    let mut rig = Rig::new(MachineConfig { revoke: true, ..cookie() });
    rig.m.load_stored(rig.now, Stored::default());
    assert_eq!(starts(&rig.drain()), 1);
    rig.success(&jwt(SECS, 300), None);
    rig.drain();
    rig.at(301_000);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
    assert_eq!(starts(&rig.drain()), 1);
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    assert_eq!(revokes(&rig.drain()), Vec::<Option<String>>::new());
    rig.success(&jwt(SECS + 301, 300), None);
    assert_eq!(revokes(&rig.drain()), vec![None]);
}

#[test]
fn secs_to_ms_saturates_as_saturating_mul_does() {
    for secs in [0, 1, 3_600, u64::MAX / 1_000 - 1, u64::MAX / 1_000, u64::MAX / 1_000 + 1, u64::MAX - 1, u64::MAX] {
        assert_eq!(secs_to_ms(secs), secs.saturating_mul(1_000), "{secs}");
    }
}

#[test]
fn waiters_are_taken_by_reason_in_arrival_order_and_the_rest_keep_theirs() {
    let mut w = Waiters::default();
    w.add(1, WaitReason::BeforeSend);
    w.add(2, WaitReason::Forced);
    w.add(3, WaitReason::BeforeSend);
    w.add(4, WaitReason::AfterUnauthorized);
    w.add(2, WaitReason::BeforeSend);
    assert_eq!(w.take(Some(WaitReason::Forced)), vec![]);
    assert_eq!(w.take(Some(WaitReason::BeforeSend)), vec![(1, WaitReason::BeforeSend), (2, WaitReason::BeforeSend), (3, WaitReason::BeforeSend)]);
    assert_eq!(w.len(), 1);
    w.add(5, WaitReason::Forced);
    w.add(6, WaitReason::BeforeSend);
    assert!(w.remove(5));
    assert!(!w.remove(5));
    assert_eq!(w.take(None), vec![(4, WaitReason::AfterUnauthorized), (6, WaitReason::BeforeSend)]);
    assert!(w.is_empty());
}

#[test]
fn a_probe_that_finds_no_session_settles_each_waiter_by_why_it_waited() {
    let mut rig = Rig::new(MachineConfig { cookie_mode: true, ..MachineConfig::default() });
    rig.m.load(rig.now, None, None);
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), RequestDecision::Wait);
    assert_eq!(rig.m.force_refresh(rig.now, 2), RequestDecision::Wait);
    rig.m.on_refresh_outcome(rig.now, RefreshOutcome::Definitive { reason: LogoutReason::InvalidToken, message: None }, 0.5);
    let resolves: Vec<_> = rig.m.take_actions().into_iter().filter_map(|a| match a {
        Action::Resolve { id, outcome } => Some((id, outcome)),
        _ => None,
    }).collect();
    assert_eq!(resolves, vec![(1, Outcome::Anonymous), (2, Outcome::Failed(AuthError::NoSession))]);
}

#[test]
fn without_a_refresh_token_a_request_gets_the_token_until_it_expires_then_none_and_a_logout() {
    let mut rig = Rig::default();
    let access = jwt(SECS, 300);
    rig.m.set_tokens(rig.now, access.clone(), None, None).unwrap();
    rig.drain();
    rig.at(260_000); // inside the leeway, still valid
    assert_eq!(rig.m.on_request(rig.now, 1, UrlClass::Protected), send(&access));
    assert!(logouts(&rig.drain()).is_empty());
    rig.at(300_000);
    assert_eq!(rig.m.on_request(rig.now, 2, UrlClass::Protected), ANON);
    assert_eq!(logouts(&rig.drain()), vec![LogoutReason::SessionExpired]);
}

#[test]
fn tokens_another_tab_sends_again_are_not_adopted_twice_and_a_new_refresh_token_is() {
    let (mut rig, access) = Rig::logged_in();
    rig.adopt(access.clone(), None);
    rig.adopt(access.clone(), Some("R1".into()));
    assert!(rig.drain().is_empty());
    rig.adopt(access.clone(), Some("R2".into()));
    assert!(rig.drain().iter().any(|a| matches!(a, Action::Refreshed { .. })));
    assert_eq!(rig.m.refresh_token(), Some("R2"));
}

#[test]
fn a_blank_rotated_refresh_token_is_no_rotation_for_the_held_revocation() {
    let mut rig = refreshing(MachineConfig { revoke: true, ..MachineConfig::default() });
    rig.m.logout(rig.now, LogoutReason::Manual, None);
    rig.drain();
    rig.success(&jwt(SECS + 301, 300), Some(" \t"));
    assert_eq!(revokes(&rig.drain()), vec![Some("R1".to_owned())]);
}
