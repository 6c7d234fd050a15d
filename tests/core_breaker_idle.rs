//! The give-up window measures a continuing outage, not the age of the first failure.
//!
//! A hidden tab whose refresh failed until the breaker opened, then sat idle for hours, must
//! not end the session on the first blip after it is shown again: nothing is known about the
//! hours in between, so that blip starts a new failure streak (with its quick retries).
//! Through the public API only, as the web layer drives the machine.

use authkeeper::core::breaker::{BreakerConfig, BreakerState};
use authkeeper::core::machine::{Action, AuthError, Machine, MachineConfig, RequestDecision};
use authkeeper::core::policy::{Detail, FreshTokens, LogoutReason, RefreshOutcome};
use authkeeper::core::time::Millis;
use authkeeper::core::urls::UrlClass;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

const T0: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;

fn jwt(iat_secs: u64, life_secs: u64) -> String {
    let payload = format!(r#"{{"iat":{iat_secs},"exp":{}}}"#, iat_secs + life_secs);
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
}

struct Tab {
    m: Machine,
    now: Millis,
    starts: usize,
    logouts: Vec<LogoutReason>,
    resolved: Vec<(u64, Result<String, AuthError>)>,
}

impl Tab {
    fn new(config: MachineConfig) -> Tab {
        Tab { m: Machine::new(config), now: Millis(T0), starts: 0, logouts: Vec::new(), resolved: Vec::new() }
    }

    fn pump(&mut self) {
        while let Some(action) = self.m.poll_action() {
            match action {
                Action::StartRefresh { .. } => self.starts += 1,
                Action::Logout { reason, .. } => self.logouts.push(reason),
                Action::Resolve { id, outcome } => self.resolved.push((id, outcome.into_result())),
                _ => {}
            }
        }
    }

    fn at(&mut self, ms: u64) {
        self.now = Millis(T0 + ms);
    }

    fn fail_503(&mut self) {
        let outcome = RefreshOutcome::Transient { retry_after_ms: None, detail: Detail::Http { status: 503, note: None } };
        self.m.on_refresh_outcome(self.now, outcome, 0.0);
        self.pump();
    }

    fn succeed(&mut self) -> String {
        let access = jwt(self.now.0 / 1_000, 300);
        let tokens = FreshTokens { access: access.clone(), refresh: None, expires_in: None };
        self.m.on_refresh_outcome(self.now, RefreshOutcome::Success { tokens, server_offset: None }, 0.0);
        self.pump();
        access
    }

    /// Fires the machine's timer at its deadline.
    fn fire_timer(&mut self) {
        let at = self.m.poll_timeout().expect("a timer is armed");
        self.now = self.now.max(at);
        self.m.handle_timeout(self.now, 0.0);
        self.pump();
    }

    /// A hidden tab whose expired session met a failing endpoint: three failures, breaker open.
    fn hidden_tab_with_an_open_breaker(config: MachineConfig) -> Tab {
        let mut tab = Tab::new(config);
        tab.m.set_tokens(tab.now, jwt(T0 / 1_000, 300), Some("R".into()), None).unwrap();
        tab.m.on_visibility(tab.now, false);
        tab.pump();
        tab.at(301_000);
        assert_eq!(tab.m.on_request(tab.now, 1, UrlClass::Protected), RequestDecision::Wait);
        tab.pump();
        assert_eq!(tab.starts, 1);
        tab.fail_503();
        tab.fire_timer();
        tab.fail_503();
        tab.fire_timer();
        tab.fail_503();
        assert_eq!(tab.starts, 3);
        assert!(matches!(tab.m.snapshot(tab.now).breaker, BreakerState::Open { .. }));
        assert!(matches!(tab.resolved.as_slice(), [(1, Err(AuthError::RefreshUnavailable { .. }))]));
        // Hidden, nothing asks for a token: no trial is wanted while the tab sleeps.
        assert_eq!(tab.m.poll_timeout(), None);
        tab
    }
}

#[test]
fn one_blip_after_two_idle_hours_is_retried_not_a_logout() {
    let mut tab = Tab::hidden_tab_with_an_open_breaker(MachineConfig::default());

    // Two hours later the tab is shown: the half-open trial goes out and meets one 503.
    tab.at(301_000 + 2 * HOUR);
    tab.m.on_visibility(tab.now, true);
    tab.pump();
    assert_eq!(tab.starts, 4, "shown again, the tab tries once");
    tab.fail_503();
    assert_eq!(tab.logouts, vec![], "a single blip after an idle gap must not end the session");
    assert_eq!(tab.m.snapshot(tab.now).breaker, BreakerState::Closed, "a new streak, with its quick retries");

    // The quick retry (a backoff, not a 30 s cooldown) finds the endpoint back.
    let shown_at = tab.now;
    tab.fire_timer();
    assert_eq!(tab.starts, 5);
    assert!(tab.now.since(shown_at) <= BreakerConfig::default().base_delay_ms);
    let fresh = tab.succeed();
    assert_eq!(tab.m.on_request(tab.now, 2, UrlClass::Protected), RequestDecision::Send { bearer: Some(fresh) });
    assert_eq!(tab.logouts, vec![]);
}

#[test]
fn an_outage_that_continues_after_the_idle_gap_still_gives_up_on_time() {
    let mut tab = Tab::hidden_tab_with_an_open_breaker(MachineConfig::default());
    let shown = 301_000 + 2 * HOUR;
    tab.at(shown);
    tab.m.on_visibility(tab.now, true);
    tab.pump();
    // The endpoint keeps failing, and the visible tab keeps trying as the breaker allows: the
    // new streak lasts the give-up window, then the session ends, once.
    let give_up_after = BreakerConfig::default().give_up_after_ms;
    for _ in 0..100 {
        tab.fail_503();
        if !tab.logouts.is_empty() {
            break;
        }
        tab.fire_timer();
    }
    assert_eq!(tab.logouts, vec![LogoutReason::RefreshUnavailable]);
    let lasted = tab.now.since(Millis(T0 + shown));
    assert!(lasted >= give_up_after, "gave up after {lasted} ms of a new streak");
    assert!(lasted <= give_up_after + 4 * BreakerConfig::default().cooldown_ms, "gave up late: {lasted} ms");
}

#[test]
fn failures_that_follow_each_other_closely_keep_one_streak() {
    // The same story without the idle gap: the tab is shown during the cooldown and the
    // endpoint is still down, so the streak's age counts from the very first failure.
    let config = MachineConfig {
        breaker: BreakerConfig { give_up_after_ms: 120_000, ..BreakerConfig::default() },
        ..MachineConfig::default()
    };
    let mut tab = Tab::hidden_tab_with_an_open_breaker(config);
    tab.at(310_000);
    tab.m.on_visibility(tab.now, true);
    tab.pump();
    for _ in 0..100 {
        if tab.starts > 3 {
            tab.fail_503();
        }
        if !tab.logouts.is_empty() {
            break;
        }
        tab.fire_timer();
    }
    assert_eq!(tab.logouts, vec![LogoutReason::RefreshUnavailable]);
    let lasted = tab.now.since(Millis(T0 + 301_000));
    assert!((120_000..=120_000 + 4 * 30_000).contains(&lasted), "{lasted}");
}
