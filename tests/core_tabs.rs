//! The machine among other tabs, on the host: each test drives real machines the way the web
//! driver does (actions out, events in) and pins one cross-tab rule that a browser once broke.

use authkeeper::core::machine::{
    Action, Machine, MachineConfig, Outcome, RequestDecision, SessionStatus, Stored, TabMessage, TabScope, LOCK_HOLD_MS,
    REFUSAL_GRACE_MS,
};
use authkeeper::core::policy::{LogoutReason, RefreshOutcome};
use authkeeper::core::time::Millis;
use authkeeper::core::urls::UrlClass;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

const T0: u64 = 1_700_000_000_000;

fn jwt(exp_secs: u64, jti: &str) -> String {
    let payload = format!(r#"{{"exp":{exp_secs},"iat":{},"jti":"{jti}"}}"#, T0 / 1000);
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
}

fn drain(m: &mut Machine) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

fn logouts(actions: &[Action]) -> Vec<LogoutReason> {
    actions.iter().filter_map(|a| if let Action::Logout { reason, .. } = a { Some(*reason) } else { None }).collect()
}

fn tokens_broadcast(actions: &[Action]) -> Option<TabMessage> {
    actions.iter().find_map(|a| match a {
        Action::Broadcast(m @ TabMessage::Tokens { .. }) => Some(m.clone()),
        _ => None,
    })
}

fn config(tabs: TabScope, tab_lock: bool) -> MachineConfig {
    MachineConfig { tabs, tab_lock, ..MachineConfig::default() }
}

fn success(access: &str, refresh: &str) -> RefreshOutcome {
    RefreshOutcome::Success {
        tokens: authkeeper::core::policy::FreshTokens { access: access.into(), refresh: Some(refresh.into()), expires_in: None },
        server_offset: None,
    }
}

fn refused() -> RefreshOutcome {
    RefreshOutcome::Definitive { reason: LogoutReason::InvalidToken, message: Some("Token is blacklisted".into()) }
}

/// Defect 1: tab A's refresh lands just as the user logs out in tab B. B must stay logged out,
/// and B's logout must end A's session too.
#[test]
fn a_logout_is_never_undone_by_tokens_of_the_session_it_ended() {
    let now = Millis(T0);
    let (mut a, mut b) = (Machine::new(MachineConfig::default()), Machine::new(MachineConfig::default()));
    a.set_tokens(now, jwt(T0 / 1000 + 300, "a1"), Some("R1".into()), None).unwrap();
    let login = tokens_broadcast(&drain(&mut a)).unwrap();
    b.on_tab_message(now, login, Stored::default());
    drain(&mut b);
    assert_eq!(a.generation(), b.generation());

    // A refreshes (R1 -> R2) while B logs out; the messages cross.
    b.logout(now, LogoutReason::Manual, None);
    let b_actions = drain(&mut b);
    let logout = b_actions.iter().find_map(|x| if let Action::Broadcast(m @ TabMessage::Logout { .. }) = x { Some(m.clone()) } else { None }).unwrap();
    a.on_unauthorized(now, 1, UrlClass::Protected, a.access_token().unwrap().to_owned().as_str());
    drain(&mut a);
    a.on_refresh_outcome(now, success(&jwt(T0 / 1000 + 600, "a2"), "R2"), 0.5);
    let refreshed = tokens_broadcast(&drain(&mut a)).unwrap();

    b.on_tab_message(now, refreshed, Stored::default());
    let after = drain(&mut b);
    assert_eq!(b.snapshot(now).status, SessionStatus::LoggedOut, "the logout stands");
    assert!(after.is_empty(), "nothing adopted, nothing announced: {after:?}");
    assert_eq!(b.on_request(now, 2, UrlClass::Protected), RequestDecision::Send { bearer: None });

    // A hears the logout after its own write: it logs out and clears its late write.
    let stored_by_a = Stored { access: a.access_token().map(str::to_owned), refresh: Some("R2".into()), generation: a.generation(), expires_at: None };
    a.on_tab_message(now, logout, stored_by_a);
    let a_after = drain(&mut a);
    assert_eq!(logouts(&a_after), vec![LogoutReason::Remote]);
    assert!(a_after.contains(&Action::Clear { shared: true }));

    // Only a newer login starts a session again, in both tabs.
    b.set_tokens(now.plus(1), jwt(T0 / 1000 + 300, "b1"), Some("R9".into()), None).unwrap();
    let relogin = tokens_broadcast(&drain(&mut b)).unwrap();
    a.on_tab_message(now.plus(1), relogin, Stored::default());
    assert_eq!(a.snapshot(now.plus(1)).status, SessionStatus::Active);
    assert_eq!(a.refresh_token(), Some("R9"));
}

/// Defect 5: with sessionStorage each tab keeps its own identity, yet a duplicated tab (same
/// session) still follows the other's rotation.
#[test]
fn session_storage_tabs_never_adopt_another_login_but_follow_their_own_session() {
    let now = Millis(T0);
    let mut a = Machine::new(config(TabScope::PerTab, true));
    let mut b = Machine::new(config(TabScope::PerTab, true));
    a.set_tokens(now, jwt(T0 / 1000 + 300, "userA"), Some("RA".into()), None).unwrap();
    let a_login = tokens_broadcast(&drain(&mut a)).unwrap();
    b.set_tokens(now.plus(5), jwt(T0 / 1000 + 300, "userB"), Some("RB".into()), None).unwrap();
    let b_login = tokens_broadcast(&drain(&mut b)).unwrap();
    a.on_tab_message(now.plus(5), b_login, Stored::default());
    assert_eq!(a.refresh_token(), Some("RA"), "user B's login does not switch tab A");
    b.on_tab_message(now.plus(5), a_login.clone(), Stored::default());
    assert_eq!(b.refresh_token(), Some("RB"));

    // A duplicated tab starts with a copy of A's sessionStorage: the same session.
    let TabMessage::Tokens { access, refresh, generation, .. } = a_login else { unreachable!() };
    let mut dup = Machine::new(config(TabScope::PerTab, true));
    dup.load_stored(now, Stored { access: Some(access), refresh, generation, expires_at: None });
    drain(&mut dup);
    let expired = dup.access_token().unwrap().to_owned();
    a.on_unauthorized(now, 1, UrlClass::Protected, &expired);
    drain(&mut a);
    a.on_lock_granted(now, Stored::default());
    drain(&mut a);
    a.on_refresh_outcome(now, success(&jwt(T0 / 1000 + 600, "userA2"), "RA2"), 0.5);
    let rotated = tokens_broadcast(&drain(&mut a)).unwrap();
    dup.on_tab_message(now, rotated, Stored::default());
    assert_eq!(dup.refresh_token(), Some("RA2"), "the duplicate follows its own session's rotation");
}

/// Defect 8, first line of defence: the refreshing tab keeps the lock after announcing the new
/// tokens, long enough for them to reach the other tabs; a tab granted the lock that finds newer
/// tokens in storage adopts them instead of calling the server.
#[test]
fn the_lock_is_held_after_a_refresh_and_the_next_holder_adopts_instead_of_refreshing() {
    let now = Millis(T0);
    let mut a = Machine::new(config(TabScope::Shared, true));
    a.set_tokens(now, jwt(T0 / 1000 + 300, "a1"), Some("R1".into()), None).unwrap();
    let login = tokens_broadcast(&drain(&mut a)).unwrap();
    let mut b = Machine::new(config(TabScope::Shared, true));
    b.on_tab_message(now, login, Stored::default());
    drain(&mut b);

    let later = now.plus(290_000);
    assert_eq!(a.on_request(later, 1, UrlClass::Protected), RequestDecision::Wait);
    assert!(drain(&mut a).ends_with(&[Action::AcquireLock]));
    a.on_lock_granted(later, Stored { access: None, refresh: Some("R1".into()), generation: a.generation(), expires_at: None });
    assert!(matches!(drain(&mut a)[..], [Action::StartRefresh { .. }]));
    a.on_refresh_outcome(later, success(&jwt(T0 / 1000 + 600, "a2"), "R2"), 0.5);
    let actions = drain(&mut a);
    assert!(!actions.contains(&Action::ReleaseLock), "held while the news spreads");
    assert_eq!(a.poll_timeout(), Some(later.plus(LOCK_HOLD_MS)));
    a.handle_timeout(later.plus(LOCK_HOLD_MS), 0.5);
    assert_eq!(drain(&mut a), vec![Action::ReleaseLock]);

    // B wanted the lock too; storage now shows R2 (the channel message is still on its way).
    assert_eq!(b.on_request(later, 7, UrlClass::Protected), RequestDecision::Wait);
    drain(&mut b);
    let stored = Stored { access: a.access_token().map(str::to_owned), refresh: Some("R2".into()), generation: a.generation(), expires_at: None };
    b.on_lock_granted(later.plus(LOCK_HOLD_MS), stored);
    let b_actions = drain(&mut b);
    assert!(!b_actions.iter().any(|x| matches!(x, Action::StartRefresh { .. })), "{b_actions:?}");
    assert!(b_actions.contains(&Action::ReleaseLock));
    assert_eq!(b.refresh_token(), Some("R2"));
}

/// A tab (lock on) whose expired token made request 1 wait, holding the lock with R1 still in
/// storage: its refresh call with R1 is under way. Returns it, its generation and the time.
fn refreshing_under_the_lock() -> (Machine, u64, Millis) {
    let now = Millis(T0);
    let mut b = Machine::new(config(TabScope::Shared, true));
    b.set_tokens(now, jwt(T0 / 1000 + 300, "a1"), Some("R1".into()), None).unwrap();
    drain(&mut b);
    let generation = b.generation();
    let later = now.plus(290_000);
    b.on_request(later, 1, UrlClass::Protected);
    drain(&mut b);
    b.on_lock_granted(later, Stored { access: None, refresh: Some("R1".into()), generation, expires_at: None });
    assert!(matches!(drain(&mut b)[..], [Action::StartRefresh { .. }]));
    (b, generation, later)
}

/// Defect 8, safety net: a refusal of a refresh token that another tab had already rotated is
/// not a logout when the newer token shows up within the grace period.
#[test]
fn a_refusal_followed_by_a_newer_token_from_another_tab_is_adopted_not_a_logout() {
    let (mut b, generation, later) = refreshing_under_the_lock();
    b.on_refresh_outcome(later.plus(5), refused(), 0.5);
    let actions = drain(&mut b);
    assert!(logouts(&actions).is_empty(), "{actions:?}");
    assert!(actions.contains(&Action::ReleaseLock));
    assert_eq!(b.snapshot(later).status, SessionStatus::Refreshing, "requests keep waiting");

    let newer = TabMessage::Tokens { access: jwt(T0 / 1000 + 600, "a2"), refresh: Some("R2".into()), generation, expires_at: None };
    b.on_tab_message(later.plus(20), newer, Stored::default());
    let actions = drain(&mut b);
    assert!(logouts(&actions).is_empty());
    assert!(actions.iter().any(|a| matches!(a, Action::Resolve { id: 1, outcome: Outcome::Bearer(_) })));
    b.handle_timeout(later.plus(REFUSAL_GRACE_MS + 10), 0.5);
    assert!(logouts(&drain(&mut b)).is_empty());
    assert_eq!(b.snapshot(later.plus(REFUSAL_GRACE_MS + 10)).status, SessionStatus::Active);
}

/// ... and a refusal that nothing contradicts ends the session once storage confirms it.
#[test]
fn a_refusal_that_no_tab_contradicts_ends_the_session_after_the_grace_period() {
    let (mut b, generation, later) = refreshing_under_the_lock();
    b.on_refresh_outcome(later, refused(), 0.5);
    drain(&mut b);
    assert_eq!(b.poll_timeout(), Some(later.plus(REFUSAL_GRACE_MS)));
    b.handle_timeout(later.plus(REFUSAL_GRACE_MS), 0.5);
    assert_eq!(drain(&mut b), vec![Action::ReadStored]);
    b.on_stored(later.plus(REFUSAL_GRACE_MS), Stored { access: None, refresh: Some("R1".into()), generation, expires_at: None });
    let actions = drain(&mut b);
    assert_eq!(logouts(&actions), vec![LogoutReason::InvalidToken]);
    assert!(actions.iter().any(|a| matches!(a, Action::Resolve { id: 1, outcome: Outcome::Failed(_) })));
}

/// Without the lock (one tab, or a test switch) a refusal is final at once, as before.
#[test]
fn without_the_lock_a_refusal_ends_the_session_at_once() {
    let now = Millis(T0);
    let mut m = Machine::new(MachineConfig::default());
    m.set_tokens(now, jwt(T0 / 1000 + 300, "a1"), Some("R1".into()), None).unwrap();
    drain(&mut m);
    m.on_request(now.plus(290_000), 1, UrlClass::Protected);
    drain(&mut m);
    m.on_refresh_outcome(now.plus(290_000), refused(), 0.5);
    assert_eq!(logouts(&drain(&mut m)), vec![LogoutReason::InvalidToken]);
}

/// Signed in at `T0` (access token for 5 min, refresh token for 90), a request at 4:50 waits
/// for the refresh and the lock is asked for. With it, what storage holds: the same tokens.
fn a_request_awaiting_the_lock() -> (Machine, Stored) {
    let t0 = Millis(T0);
    let mut m = Machine::new(config(TabScope::Shared, true));
    let (access, refresh) = (jwt(T0 / 1000 + 300, "a1"), jwt(T0 / 1000 + 5_400, "r1"));
    m.set_tokens(t0, access.clone(), Some(refresh.clone()), None).unwrap();
    let generation = m.generation();
    drain(&mut m);
    assert_eq!(m.on_request(t0.plus(290_000), 1, UrlClass::Protected), RequestDecision::Wait);
    assert!(drain(&mut m).contains(&Action::AcquireLock));
    (m, Stored { access: Some(access), refresh: Some(refresh), generation, expires_at: None })
}

/// Found by the multi-tab simulation: a tab asks for the lock (another tab holds it, its call
/// out) and the laptop sleeps past the refresh token's expiry. On waking, the tab drops the
/// expired token while still waiting; the lock then came and it made the refresh call with no
/// token at all, and ended the session as `refresh_token_required` on the server's 400, a
/// refusal it had asked for. The session simply expired: no call, `session_expired`.
#[test]
fn a_refresh_token_that_expires_while_the_lock_is_awaited_ends_the_session_without_a_call() {
    for lock_comes in [true, false] {
        let (mut m, stored) = a_request_awaiting_the_lock();
        // Asleep with the request queued and the lock awaited; on waking, the wake-up events.
        // Storage still holds the expired token (or the other tab has cleared it).
        let awake = Millis(T0).plus(5_500_000);
        m.on_visibility(awake, true);
        drain(&mut m);
        if lock_comes {
            m.on_lock_granted(awake, stored);
        } else {
            m.on_lock_unavailable(awake);
        }
        let actions = drain(&mut m);
        assert!(!actions.iter().any(|a| matches!(a, Action::StartRefresh { .. })), "no call without a token: {actions:?}");
        assert_eq!(logouts(&actions), vec![LogoutReason::SessionExpired], "{actions:?}");
        assert!(actions.contains(&Action::Resolve { id: 1, outcome: Outcome::Failed(authkeeper::core::machine::AuthError::LoggedOut { reason: LogoutReason::SessionExpired }) }), "{actions:?}");
        if lock_comes {
            assert!(actions.contains(&Action::ReleaseLock), "{actions:?}");
        }
        assert_eq!(m.snapshot(awake).status, SessionStatus::LoggedOut);
    }
}

/// The same, without a wake-up event in between: the lock comes first, after the refresh
/// token's expiry. The expired token is not presented either.
#[test]
fn a_lock_granted_after_the_refresh_token_expired_presents_nothing() {
    let (mut m, stored) = a_request_awaiting_the_lock();
    m.on_lock_granted(Millis(T0).plus(5_500_000), stored);
    let actions = drain(&mut m);
    assert!(!actions.iter().any(|a| matches!(a, Action::StartRefresh { .. })), "{actions:?}");
    assert_eq!(logouts(&actions), vec![LogoutReason::SessionExpired], "{actions:?}");
}
