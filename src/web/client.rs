//! One auth client per `createAuthClient`: the core's `Machine` and URL rules, and the
//! translation of each call (`Op`) into a core event and of the core's answer into the wire
//! format. Mechanical: every `match` here is over an op, a decision or an action.

use super::wire::{Reader, Writer};
use super::{at_login_page, jitter, now, Handle, EMPTY};
use crate::core::breaker::BreakerState;
use crate::core::errors::CoreError;
use crate::core::machine::{
    Action, AuthError, Generation, LoginPage, Machine, MachineConfig, Outcome, RequestDecision, SessionStatus,
    Severity, Stored, TabMessage, TabScope, UnauthorizedDecision, Warning,
};
use crate::core::jwt::JwtError;
use crate::core::options::{self as limits, OptionError};
use crate::core::policy::{revocation_failure, Body, FreshTokens, LogoutReason, Member, RefreshAnswer, RevokeFailure};
use crate::core::storage_rules::{token_keys, Area, ClearRules, SessionClear};
use crate::core::time::{clamp_timer_delay, Millis};
use crate::core::urls::{UrlClass, UrlRules};

pub struct Client {
    /// Until `START` (which knows whether storage fell back to memory).
    config: Option<MachineConfig<Handle>>,
    machine: Option<Machine<Handle>>,
    urls: UrlRules,
    /// The deadline JS's one timer is armed for (`NEVER`: none).
    armed: Millis,
    /// `auth.destroy()`: requests are refused; `state()` still answers.
    destroyed: bool,
    /// Where the tokens live, and what a logout removes (`CLEAR`).
    area: Area,
    clear: ClearRules,
}

// Ops, numbered as in js/index.js.
const NEW: u32 = 0;
const START: u32 = 1;
const REQUEST: u32 = 2;
const UNAUTHORIZED: u32 = 3;
const REFRESH: u32 = 4;
const SET_TOKENS: u32 = 5;
const LOGOUT: u32 = 6;
const STATE: u32 = 7;
const CANCEL: u32 = 8;
const TIMEOUT: u32 = 9;
const VISIBILITY: u32 = 10;
const RESPONSE: u32 = 11;
const NETWORK_ERROR: u32 = 12;
const HOOK_ERROR: u32 = 13;
const LOCK_GRANTED: u32 = 14;
const LOCK_UNAVAILABLE: u32 = 15;
const STORED: u32 = 16;
const TAB: u32 = 17;
const REVOKE_RESULT: u32 = 18;
const DESTROY: u32 = 19;
const CLEAR: u32 = 20;
const HELD: u32 = 21;

/// Each op's work is a function of its own (`#[inline(never)]`, and scripts/build.sh keeps
/// wasm-opt from inlining them back): V8 compiles a wasm function on its first call, so the
/// start-up compiles the ops it uses and not the rest. As one inlined function of 21.5 KB, this
/// dispatcher took 1.3-6.6 ms to compile on the first call (`--trace-wasm-compilation-times`).
pub fn dispatch(clients: &mut Vec<Option<Client>>, op: u32, a: &mut Reader, out: &mut Writer) {
    if !answer(clients, op, a, out) {
        // No actions, no timer: every answer is three values.
        out.null();
        out.null();
    }
}

/// The op's result; `true` when the actions and the timer followed it (`drain`).
fn answer(clients: &mut Vec<Option<Client>>, op: u32, a: &mut Reader, out: &mut Writer) -> bool {
    match op {
        NEW => {
            create(clients, a, out);
            return false;
        }
        REVOKE_RESULT => {
            revoke_result(a, out);
            return false;
        }
        HELD => {
            held(clients, out);
            return false;
        }
        _ => {}
    }
    let h = a.num();
    let slot = if h >= 0.0 { clients.get_mut(h as usize) } else { None };
    let Some(client) = slot.and_then(|slot| slot.as_mut()) else {
        fail(out, CoreError::Destroyed, 0);
        return false;
    };
    if op == DESTROY {
        client.destroyed = true;
        out.null();
        return false;
    }
    if op == CLEAR {
        clear(client, a, out);
        return false;
    }
    if client.destroyed && matches!(op, REQUEST | REFRESH) {
        fail(out, CoreError::Destroyed, 0);
        return false;
    }
    if op == START {
        start(client, a, out);
    }
    // After `START` there is always a machine (`START` without a config is a second one), so
    // this is only the "not started" answer of the other ops.
    let Some(machine) = client.machine.as_mut() else {
        fail(out, CoreError::NotStarted, 0);
        return false;
    };
    if op != START {
        let t = now();
        match op {
            REQUEST | UNAUTHORIZED => request(machine, &client.urls, op == REQUEST, t, a, out),
            REFRESH => refresh(machine, t, a, out),
            SET_TOKENS => set_tokens(machine, t, a, out),
            STATE => snapshot(out, machine, t),
            TIMEOUT => {
                client.armed = Millis::NEVER;
                event(machine, t, op, a, out);
            }
            RESPONSE => response(machine, t, a, out),
            TAB => tab(machine, t, a, out),
            _ => event(machine, t, op, a, out),
        }
    }
    drain(machine, &mut client.armed, out);
    true
}

/// `null`: revoked; else how it failed (`0` no answer, `1` the status JS sent), which
/// js/index.js words for the trace hook.
#[inline(never)]
fn revoke_result(a: &mut Reader, out: &mut Writer) {
    let status = Some(a.num()).filter(|s| (0.0..1000.0).contains(s)).map(|s| s as u16);
    match revocation_failure(status) {
        None => out.null(),
        Some(RevokeFailure::Network) => out.int(0),
        Some(RevokeFailure::Http(_)) => out.int(1),
    }
}

/// `[[access, refresh, revoked] or null per client]`: the handles of every token any client's
/// machine holds (`null`: none). js/index.js keeps the text of these and forgets the others' (a
/// token no machine holds is never handed out again: JS gives its text a new handle if it comes
/// back, which no machine can mistake for one it held).
#[inline(never)]
fn held(clients: &[Option<Client>], out: &mut Writer) {
    out.list(clients.len());
    for slot in clients {
        match slot.as_ref().and_then(|c| c.machine.as_ref()) {
            Some(machine) => {
                // Written out: a loop over the array links its `IntoIter`.
                let [access, refresh, revoked] = machine.held_tokens();
                out.list(3);
                out.opt_token_number(access.copied());
                out.opt_token_number(refresh.copied());
                out.opt_token_number(revoked.copied());
            }
            None => out.null(),
        }
    }
}

/// Answers `[remove the store's keys, clear all of sessionStorage, localStorage keys,
/// sessionStorage keys]`: what the logout's `Clear` removes, from the keys JS listed. The store
/// knows its own keys (`NEW` named them).
#[inline(never)]
fn clear(client: &Client, a: &mut Reader, out: &mut Writer) {
    let shared = a.flag();
    let memory = a.flag();
    let rules = &client.clear;
    // Tokens another tab shares are left to that tab's own logout, unless this one is shared.
    let tokens_are_shared = client.area == Area::Local && !memory;
    out.list(4);
    out.int(u32::from(shared || !tokens_are_shared));
    out.int(u32::from(rules.session == SessionClear::All));
    out.strs_from(a, |k| shared && rules.removes_local(k));
    // When sessionStorage is cleared whole, JS does not read this list.
    out.strs_from(a, |k| rules.removes_session(k));
}

#[inline(never)]
fn start(client: &mut Client, a: &mut Reader, out: &mut Writer) {
    let Some(mut config) = client.config.take() else { return out.null() };
    config.memory_storage = a.flag();
    let visible = a.flag();
    let stored = stored(a);
    let mut machine = Machine::new(config);
    // Visibility first: a tab restored in the background with an expired token waits
    // until it is shown or a request needs the token.
    machine.on_visibility(now(), visible);
    machine.load_stored(now(), stored);
    // There is none before (`config` is taken once), so nothing to drop: without the
    // `forget`, the assignment would link the whole machine's drop glue for a `None`.
    std::mem::forget(client.machine.replace(machine));
    out.null();
}

/// `REQUEST` (may it go, with which bearer) and `UNAUTHORIZED` (its 401: replay, wait or
/// return it).
#[inline(never)]
fn request(
    machine: &mut Machine<Handle>,
    urls: &UrlRules,
    first_send: bool,
    t: Millis,
    a: &mut Reader,
    out: &mut Writer,
) {
    let id = a.num() as u64;
    let origin = a.text();
    let path = a.text().unwrap_or_default();
    let class = match origin {
        Some(origin) => urls.classify(origin, path),
        None => UrlClass::Protected,
    };
    if first_send {
        match machine.on_request(t, id, class) {
            RequestDecision::Send { bearer: Some(token) } => out.token(token),
            RequestDecision::Send { bearer: None } => out.null(),
            RequestDecision::Wait => out.int(0),
            RequestDecision::Fail(e) => auth_error(out, &e),
        }
    } else {
        let sent = a.token().unwrap_or_default();
        match machine.on_unauthorized(t, id, class, &sent) {
            UnauthorizedDecision::ReturnAsIs => out.null(),
            UnauthorizedDecision::Replay { bearer: token } => out.token(token),
            UnauthorizedDecision::Wait => out.int(0),
        }
    }
}

#[inline(never)]
fn refresh(machine: &mut Machine<Handle>, t: Millis, a: &mut Reader, out: &mut Writer) {
    match machine.force_refresh(t, a.num() as u64) {
        RequestDecision::Wait => out.int(0),
        RequestDecision::Fail(e) => auth_error(out, &e),
        RequestDecision::Send { .. } => out.null(),
    }
}

#[inline(never)]
fn set_tokens(machine: &mut Machine<Handle>, t: Millis, a: &mut Reader, out: &mut Writer) {
    let access = a.token().unwrap_or(EMPTY);
    let refresh = a.token();
    let expires_in = a.whole();
    match machine.set_tokens(t, access, refresh, expires_in) {
        Ok(()) => out.null(),
        Err(e) => {
            fail(out, CoreError::UnusableToken, 1);
            out.num(jwt_error_number(e));
        }
    }
}

/// The refresh call's answer.
#[inline(never)]
fn response(machine: &mut Machine<Handle>, t: Millis, a: &mut Reader, out: &mut Writer) {
    let status = Some(a.num()).filter(|s| (0.0..1000.0).contains(s)).map_or(0, |s| s as u16);
    let retry_after = a.str();
    let retry_after_date = a.whole().map(Millis);
    let date = a.whole().map(Millis);
    let body = body(a);
    let parsed = parsed(a);
    let answer = RefreshAnswer { status, body, retry_after, retry_after_date, date };
    machine.on_refresh_answer(t, &answer, parsed, jitter());
    out.null();
}

/// Another tab's message, with what storage holds now.
#[inline(never)]
fn tab(machine: &mut Machine<Handle>, t: Millis, a: &mut Reader, out: &mut Writer) {
    if let Some(message) = tab_message(a) {
        machine.on_tab_message(t, message, stored(a));
    }
    out.null();
}

/// The ops that are one core event each and answer nothing.
#[inline(never)]
fn event(machine: &mut Machine<Handle>, t: Millis, op: u32, a: &mut Reader, out: &mut Writer) {
    match op {
        LOGOUT => machine.logout(t, LogoutReason::Manual, None),
        CANCEL => machine.cancel(a.num() as u64),
        TIMEOUT => machine.handle_timeout(t, jitter()),
        VISIBILITY => machine.on_visibility(t, a.flag()),
        NETWORK_ERROR => machine.on_refresh_network_error(t, jitter()),
        HOOK_ERROR => machine.on_refresh_hook_error(t, string_or(a, ""), jitter()),
        LOCK_GRANTED => machine.on_lock_granted(t, stored(a)),
        LOCK_UNAVAILABLE => machine.on_lock_unavailable(t),
        STORED => machine.on_stored(t, stored(a)),
        _ => {}
    }
    out.null();
}

/// `[kind, ...args]`: JS throws or rejects with the error its `CORE_CODES[kind]` names and `CORE_TEXT[kind]` words;
/// the caller writes the `args` that follow.
fn fail(out: &mut Writer, kind: CoreError, args: usize) {
    out.head(1 + args, kind as u32);
}

fn auth_error(out: &mut Writer, e: &AuthError) {
    match e {
        AuthError::RefreshUnavailable { .. } => fail(out, CoreError::RefreshUnavailable, 0),
        AuthError::LoggedOut { reason } => {
            fail(out, CoreError::LoggedOut, 1);
            out.int(*reason as u32);
        }
        AuthError::NoSession => fail(out, CoreError::NoSession, 0),
        AuthError::NoRefreshToken => fail(out, CoreError::NoRefreshToken, 0),
    }
}

/// The number `js/index.js`'s `JWT_ERRORS` words a `JwtError` with (1-5 are its own
/// `readClaims` answers).
fn jwt_error_number(e: JwtError) -> f64 {
    match e {
        JwtError::Empty => 0.0,
        JwtError::SegmentCount(_) => 1.0,
        JwtError::Base64 => 2.0,
        JwtError::NotJson => 3.0,
        JwtError::NotObject => 4.0,
        JwtError::BadClaim(_) => 5.0,
        JwtError::TooLarge => 6.0,
    }
}

/// `createAuthClient`'s `invalid_option` error: the option's number in `RANGED`, its range,
/// whether it counts milliseconds, and why (`options::Why`).
fn option_error(out: &mut Writer, e: OptionError) {
    match e {
        OptionError::OutOfRange { option, why } => {
            let range = option.range();
            fail(out, CoreError::OutOfRange, 5);
            out.int(option as u32);
            out.num(range.min as f64);
            out.num(range.max as f64);
            out.int(u32::from(option.in_ms()));
            out.int(why as u32);
        }
        OptionError::MaxDelayBelowBaseDelay => fail(out, CoreError::MaxDelayBelowBaseDelay, 0),
    }
}

/// What storage holds: the tokens' handles (an empty string, `EMPTY`, is none).
fn stored(a: &mut Reader) -> Stored<Handle> {
    Stored {
        access: a.token().filter(|v| *v != EMPTY),
        refresh: a.token().filter(|v| *v != EMPTY),
        generation: a.whole().unwrap_or(0),
        expires_at: a.whole().map(Millis),
    }
}

/// The refresh response's JSON object as `JSON.parse` read it: `null` when it is not one, else
/// a list of `BODY_KEYS`' members, each a string, a number, `[]` (an array) or `null` (absent,
/// or something the policy does not read); the four token members a token's handle (a number:
/// a non-empty string), `[]` or `null`.
fn body(a: &mut Reader) -> Option<Body<Handle>> {
    let tag = a.peek();
    if tag != 3 {
        a.num();
        return None;
    }
    a.enter();
    let mut body = Body::default();
    for (key, slot) in body.0.iter_mut().enumerate() {
        *slot = match a.peek() {
            0 => {
                a.num();
                None
            }
            1 if key < 4 => a.token().map(Member::Token),
            1 => Some(Member::Num(a.num())),
            2 => a.str().map(Member::Str),
            // A list: skipped whole, nothing read from it.
            _ => {
                a.num();
                Some(Member::List)
            }
        };
    }
    Some(body)
}

/// What the app's (wrapped) `parseRefreshResponse` made of a 2xx body: `null` without a hook,
/// `[1, access, refresh, expiresIn]`, or `[0, message]` when it threw.
fn parsed(a: &mut Reader) -> Option<Result<FreshTokens<Handle>, String>> {
    if a.peek() != 3 {
        return None;
    }
    a.enter();
    let kind = a.num();
    if kind.is_nan() {
        return None;
    }
    if kind != 1.0 {
        return Some(Err(string_or(a, "")));
    }
    let access = a.token();
    let refresh = a.token();
    let expires_in = a.whole();
    // The wrapped hook always returns an access token; were it ever missing, the empty one is
    // the policy's "the hook could not read it" (a failed attempt).
    Some(Ok(FreshTokens { access: access.unwrap_or(EMPTY), refresh, expires_in }))
}

/// An index (`indexOf`'s, -1 when absent) as `Reader::whole` reads a number, the fraction
/// dropped; NaN and negatives are `usize::MAX`, no index. Read by `num`, whose `f64` comes back
/// in a register where `whole`'s option went through memory.
fn index(v: f64) -> usize {
    if v >= 0.0 { v as usize } else { usize::MAX }
}

/// A channel message or a `storage` event of the access key, as js/index.js reads them:
/// - a message: its `type`'s index in TAB_KINDS, access, refresh (token handles), the reason's
///   index in REASONS (`LogoutReason::ALL`'s order), message, generation, expiresAt;
/// - a storage event: `3`, the access key's new value, the refresh key's value, -, -, the
///   stored generation.
fn tab_message(a: &mut Reader) -> Option<TabMessage<Handle>> {
    // The message borrowed from the input, and copied only once it is known to be whole: a
    // message refused half-way has nothing to drop.
    let kind = a.num();
    let access = a.token();
    let refresh = a.token();
    let reason = a.num();
    let message = a.text();
    let generation = a.whole();
    let expires_at = a.whole().map(Millis);
    let owned = |s: Option<&str>| s.map(str::to_owned);
    match index(kind) {
        0 => {
            let (access, generation) = (access?, generation?);
            Some(TabMessage::Tokens { access, refresh, generation, expires_at })
        }
        1 => {
            let (reason, generation) = (*LogoutReason::ALL.get(index(reason))?, generation?);
            Some(TabMessage::Logout { reason, message: owned(message), generation })
        }
        2 => Some(TabMessage::Hello),
        3 => Some(match access.filter(|v| *v != EMPTY) {
            // The expiry is not in the event; the core reads it from storage.
            Some(access) => TabMessage::Tokens { access, refresh, generation: generation.unwrap_or(0), expires_at: None },
            // The keys were removed: whoever did it logged the session out.
            None => TabMessage::Logout { reason: LogoutReason::Remote, message: None, generation: Generation::MAX },
        }),
        _ => None,
    }
}

fn millis(out: &mut Writer, m: Option<Millis>) {
    match m {
        Some(m) if m != Millis::NEVER => out.num(m.0 as f64),
        _ => out.null(),
    }
}

#[inline(never)]
fn snapshot(out: &mut Writer, machine: &Machine<Handle>, now: Millis) {
    let s = machine.snapshot(now);
    let (breaker, open_until) = match s.breaker {
        BreakerState::Closed => (0, None),
        BreakerState::Open { until } => (1, Some(until)),
        BreakerState::HalfOpen => (2, None),
    };
    out.list(10);
    // Indices into js/index.js's STATUSES and BREAKER_STATES.
    out.int(match s.status {
        SessionStatus::Anonymous => 0,
        SessionStatus::Active => 1,
        SessionStatus::Refreshing => 2,
        SessionStatus::LoggedOut => 3,
    });
    millis(out, s.expires_at);
    out.int(breaker);
    millis(out, open_until);
    out.int(u32::from(s.refresh_in_flight));
    out.num(s.waiting as f64);
    out.num(s.refresh_count as f64);
    out.num(s.clock_offset_ms as f64);
    out.opt_num(s.logout_reason.map(|r| r as u8 as f64));
    // JS reads its claims for display (`state().claims`), as `decodeJwt` does.
    out.opt_token(machine.access().copied());
}

/// After the result: `[actions]` (warnings first), then the timer (`null`: as armed, `-1`:
/// disarm, else a delay in ms).
#[inline(never)]
fn drain(machine: &mut Machine<Handle>, armed: &mut Millis, out: &mut Writer) {
    // The list's count is known only at the end: its header is written now and patched then,
    // rather than encoding into a second buffer and copying it on every call.
    let head = out.open();
    let warnings = machine.take_warnings();
    let actions = machine.take_actions();
    let mut n = (warnings.len() + actions.len()) as u32;
    for w in &warnings {
        warning(out, w);
    }
    discard(warnings);
    for action in &actions {
        if !encode(out, action) {
            n -= 1;
        }
    }
    discard(actions);
    out.close(head, n);
    let next = machine.next_deadline();
    if next == *armed {
        return out.null();
    }
    *armed = next;
    if next == Millis::NEVER {
        return out.num(-1.0);
    }
    out.num(f64::from(clamp_timer_delay(next.since(now()))))
}

/// `[13, error, kind, ...args]`: `console.error` (else `console.warn`) of the words
/// `WARNINGS[kind]` in js/index.js makes of the args.
fn warning(w: &mut Writer, warning: &Warning) {
    let (n, kind) = match warning {
        Warning::ImplausibleClockOffset { .. } => (6, 0),
        Warning::RefreshMisconfigured(_) => (5, 1),
        Warning::RefreshHookFailed(_) => (4, 2),
    };
    w.head(n, 13);
    w.int(u32::from(warning.severity() == Severity::Error));
    w.int(kind);
    match warning {
        Warning::ImplausibleClockOffset { from_iat, hours, ahead } => {
            w.int(u32::from(*from_iat));
            w.num(*hours as f64);
            w.int(u32::from(*ahead));
        }
        Warning::RefreshMisconfigured(cause) => {
            w.str(cause.code);
            w.opt_str(&cause.description);
        }
        Warning::RefreshHookFailed(message) => w.str(message),
    }
}

/// Drops what was encoded by reference: one outlined drop per type, rather than one inlined
/// per variant wherever the value's last use is.
#[inline(never)]
fn discard<T>(value: T) {
    drop(value);
}

/// One action as `[kind, ...fields]` (kinds as in js/index.js); `false` when nothing is to be done.
fn encode(w: &mut Writer, action: &Action<Handle>) -> bool {
    match action {
        Action::StartRefresh { refresh_token } => {
            w.head(2, 0);
            w.opt_token(*refresh_token);
        }
        Action::AcquireLock => {
            w.head(1, 1);
        }
        Action::ReleaseLock => {
            w.head(1, 2);
        }
        Action::ReadStored => {
            w.head(1, 3);
        }
        Action::Broadcast(message) => {
            w.head(6, 4);
            match message {
                TabMessage::Tokens { access, refresh, generation, expires_at } => {
                    w.int(0);
                    w.token(*access);
                    w.opt_token(*refresh);
                    w.num(*generation as f64);
                    w.opt_num(expires_at.map(|m| m.0 as f64));
                }
                TabMessage::Logout { reason, message, generation } => {
                    w.int(1);
                    w.int(*reason as u32);
                    w.opt_str(message);
                    w.num(*generation as f64);
                    w.null();
                }
                TabMessage::Hello => {
                    w.int(2);
                    w.null();
                    w.null();
                    w.null();
                    w.null();
                }
            }
        }
        Action::Resolve { id, outcome } => {
            w.head(4, 5);
            w.num(*id as f64);
            match outcome {
                Outcome::Failed(e) => {
                    w.int(1);
                    auth_error(w, &e);
                }
                // No bearer: also "send it without one" for a request that was waiting to be sent.
                other => {
                    w.int(0);
                    w.opt_token(if let Outcome::Bearer(token) = other { Some(*token) } else { None });
                }
            }
        }
        Action::Persist { access, refresh, generation, expires_at } => {
            w.head(5, 6);
            w.token(*access);
            w.opt_token(*refresh);
            w.num(*generation as f64);
            w.opt_num(expires_at.map(|m| m.0 as f64));
        }
        Action::Clear { shared } => {
            w.head(2, 7);
            w.int(u32::from(*shared));
        }
        Action::Redirect { url, unless_at } => {
            if at_login_page(&unless_at) {
                return false;
            }
            w.head(2, 8);
            w.str(&url);
        }
        Action::Logout { reason, message, origin } => {
            w.head(4, 9);
            w.int(*reason as u32);
            w.opt_str(message);
            w.opt_num(origin.map(|o| o as u8 as f64));
        }
        Action::Expiring { expires_at } => {
            w.head(3, 10);
            millis(w, Some(*expires_at));
            w.num(expires_at.since(now()) as f64);
        }
        Action::Refreshed { expires_at } => {
            w.head(2, 11);
            millis(w, Some(*expires_at));
        }
        Action::SignedIn { expires_at } => {
            w.head(2, 14);
            millis(w, Some(*expires_at));
        }
        Action::Revoke { token } => {
            w.head(2, 12);
            w.opt_token(*token);
        }
    }
    true
}

/// `NEW`: the options js/index.js type-checked, in its order. Answers `[store keys, handle,
/// refreshTimeout, legacy access keys]` (the store keys as `ClearRules::token_keys` lists them,
/// the defaults filled in: the storage adapter uses them as given; then how many of the legacy
/// keys are the access token's) or an error (`fail`).
#[inline(never)]
fn create(clients: &mut Vec<Option<Client>>, a: &mut Reader, out: &mut Writer) {
    match read_config(a) {
        Ok((client, timeout, legacy_access)) => {
            out.list(4);
            out.strs(client.clear.token_keys());
            out.num(clients.len() as f64);
            out.num(timeout as f64);
            out.num(legacy_access as f64);
            clients.push(Some(client));
        }
        Err(e) => option_error(out, e),
    }
}

/// The input's next string, or `default` when it is not one.
#[inline(never)]
fn string_or(a: &mut Reader, default: &str) -> String {
    a.text().unwrap_or(default).to_owned()
}

/// The input's next list of strings (anything else in it skipped) pushed onto `into`, or
/// `default`'s when the app left it out (not a list): how many were pushed.
fn strings_or(a: &mut Reader, into: &mut Vec<String>, default: &[&str]) -> usize {
    let before = into.len();
    if a.peek() == 3 {
        for _ in 0..a.enter() {
            if let Some(s) = a.str() {
                into.push(s);
            }
        }
    } else {
        a.num();
        for s in default {
            into.push((*s).to_owned());
        }
    }
    into.len() - before
}

/// The client, its refresh timeout, and how many legacy access keys it has.
fn read_config(a: &mut Reader) -> Result<(Client, u64, usize), OptionError> {
    // The numbers come first and are checked before any string is read: an error then returns
    // before anything is allocated, so no early return carries the drops of a dozen strings.
    let numbers = limits::check(|| a.opt_num())?;
    let when_hidden = a.flag();
    let tab_lock = a.opt_num();
    let cookie_mode = a.flag();
    // The enumerated options by their index in js/index.js's AREAS and SESSION_CLEARING (the
    // enums' order); anything else is the default.
    let area = match index(a.num()) {
        1 => Area::Session,
        2 => Area::Memory,
        _ => Area::Local,
    };
    let revoke = a.flag();
    let session_clear = match index(a.num()) {
        1 => SessionClear::Matching,
        2 => SessionClear::None,
        _ => SessionClear::All,
    };

    let page_origin = string_or(a, "");
    let refresh_origin = string_or(a, &page_origin);
    let refresh_path = string_or(a, "");
    let mut api_origins = Vec::new();
    strings_or(a, &mut api_origins, &[]);
    let mut skip = Vec::new();
    strings_or(a, &mut skip, limits::DEFAULT_SKIP_REFRESH_FOR);
    let login_url = string_or(a, "");
    let login_path = string_or(a, "");
    let access_key = string_or(a, limits::DEFAULT_ACCESS_KEY);
    let mut keys = token_keys(access_key, string_or(a, limits::DEFAULT_REFRESH_KEY));
    let legacy_access = strings_or(a, &mut keys, limits::DEFAULT_LEGACY_ACCESS_KEYS);
    strings_or(a, &mut keys, limits::DEFAULT_LEGACY_REFRESH_KEYS);
    let mut patterns = Vec::new();
    strings_or(a, &mut patterns, limits::DEFAULT_CLEAR_PATTERNS);
    let clear = ClearRules::new(keys, patterns, session_clear);

    let config = MachineConfig {
        leeway_ms: numbers.leeway_ms,
        expiring_warning_ms: numbers.expiring_warning_ms,
        refresh_when_hidden: when_hidden,
        cookie_mode,
        breaker: numbers.breaker,
        tabs: if area == Area::Session { TabScope::PerTab } else { TabScope::Shared },
        tab_lock: tab_lock.map_or(limits::DEFAULT_TAB_LOCK, |v| v != 0.0),
        memory_storage: false,
        login: (!login_url.is_empty()).then(|| LoginPage { url: login_url, path: login_path }),
        revoke,
        decode: super::decode_claims,
    };
    let urls = UrlRules::new(page_origin, api_origins, skip, refresh_origin, refresh_path);
    let client =
        Client { config: Some(config), machine: None, urls, armed: Millis::NEVER, destroyed: false, area, clear };
    Ok((client, numbers.refresh_timeout_ms, legacy_access))
}
