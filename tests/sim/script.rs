//! What proptest generates: the browser's set-up and a list of things that happen to it, each
//! after a pause. Tab numbers are taken modulo the open tabs, so any shrunk script still runs.

use proptest::prelude::*;
use std::fmt;

/// How the refresh endpoint misbehaves from now on (each call draws whether it is hit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    None,
    /// 500 with an HTML body.
    ServerErrors,
    /// 429 with `Retry-After`.
    RateLimited,
    /// The server never answers: the driver's 10 s refresh timeout reports a network error.
    Hanging,
    /// The device is offline: every call fails at once, nothing reaches the server.
    Offline,
    /// 200 `{"detail":"ok"}`: a "success" without tokens.
    NoTokens,
    Mixed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// `navigator.locks` works.
    Works,
    /// No Web Locks (or every wait exceeds the driver's bound): each refresh runs unlocked.
    Unavailable,
}

#[derive(Clone, PartialEq)]
pub enum Act {
    /// `count` calls of `auth.fetch` at once (to a protected URL, or one excluded from auth).
    Requests { tab: usize, count: u8, protected: bool },
    /// An AbortSignal fires on one of the tab's unsettled requests.
    Abort { tab: usize, pick: usize },
    Logout { tab: usize },
    /// The app's own login call, then `setTokens`: a new refresh-token family on the server.
    SetTokens { tab: usize, access_life_s: u64, refresh_life_s: u64 },
    Show { tab: usize },
    Hide { tab: usize },
    Close { tab: usize },
    Open { visible: bool },
    /// The device clock is set forward or back (the server's is not).
    ClockJump { delta_ms: i64 },
    /// The laptop sleeps: nothing runs, then every overdue timer fires at once.
    Sleep { ms: u64 },
    Faults(Faults),
    /// The user is deactivated or changes their password elsewhere: every family dies.
    RevokeAll,
    /// Nothing but the pause.
    Wait,
}

impl fmt::Debug for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Act::Requests { tab, count, protected } => {
                write!(f, "{count} request(s) tab{tab}{}", if *protected { "" } else { " (excluded URL)" })
            }
            Act::Abort { tab, pick } => write!(f, "abort tab{tab} #{pick}"),
            Act::Logout { tab } => write!(f, "logout tab{tab}"),
            Act::SetTokens { tab, access_life_s, refresh_life_s } => {
                write!(f, "setTokens tab{tab} (access {access_life_s} s, refresh {refresh_life_s} s)")
            }
            Act::Show { tab } => write!(f, "show tab{tab}"),
            Act::Hide { tab } => write!(f, "hide tab{tab}"),
            Act::Close { tab } => write!(f, "close tab{tab}"),
            Act::Open { visible } => write!(f, "open a tab{}", if *visible { "" } else { " in the background" }),
            Act::ClockJump { delta_ms } => write!(f, "device clock {delta_ms:+} ms"),
            Act::Sleep { ms } => write!(f, "sleep {ms} ms"),
            Act::Faults(faults) => write!(f, "refresh endpoint: {faults:?}"),
            Act::RevokeAll => write!(f, "server revokes every refresh token"),
            Act::Wait => write!(f, "wait"),
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct Step {
    pub pause_ms: u64,
    pub act: Act,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{} ms: {:?}", self.pause_ms, self.act)
    }
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub tabs: usize,
    pub lock: LockMode,
    /// Upper bounds of the uniform delays. Storage stays below `LOCK_HOLD_MS` (300 ms): the
    /// SDK's design assumes propagation takes "a few milliseconds" (Chrome: 1-3 ms) and holds the
    /// lock a hundred times that; 200 ms is a heavily loaded machine. The channel may be slower.
    pub max_storage_delay_ms: u64,
    pub max_channel_delay_ms: u64,
    /// Server clock minus device clock at the start.
    pub server_skew_ms: i64,
    pub steps: Vec<Step>,
}

fn pause() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0u64..50,
        4 => 0u64..3_000,
        3 => 0u64..400_000,
    ]
}

fn access_life() -> impl Strategy<Value = u64> {
    prop_oneof![Just(300u64), Just(30), Just(3_600)]
}

fn refresh_life() -> impl Strategy<Value = u64> {
    prop_oneof![6 => Just(86_400u64), 1 => Just(5_400), 1 => Just(10_800)]
}

fn faults() -> impl Strategy<Value = Faults> {
    prop_oneof![
        4 => Just(Faults::None),
        1 => Just(Faults::ServerErrors),
        1 => Just(Faults::RateLimited),
        1 => Just(Faults::Hanging),
        1 => Just(Faults::Offline),
        1 => Just(Faults::NoTokens),
        1 => Just(Faults::Mixed),
    ]
}

fn act() -> impl Strategy<Value = Act> {
    let tab = 0usize..5;
    prop_oneof![
        12 => (tab.clone(), 1u8..8, prop::bool::weighted(0.9))
            .prop_map(|(tab, count, protected)| Act::Requests { tab, count, protected }),
        2 => (tab.clone(), any::<usize>()).prop_map(|(tab, pick)| Act::Abort { tab, pick }),
        1 => tab.clone().prop_map(|tab| Act::Logout { tab }),
        2 => (tab.clone(), access_life(), refresh_life())
            .prop_map(|(tab, access_life_s, refresh_life_s)| Act::SetTokens { tab, access_life_s, refresh_life_s }),
        2 => tab.clone().prop_map(|tab| Act::Show { tab }),
        2 => tab.clone().prop_map(|tab| Act::Hide { tab }),
        1 => tab.clone().prop_map(|tab| Act::Close { tab }),
        1 => any::<bool>().prop_map(|visible| Act::Open { visible }),
        1 => (-3_600_000i64..=3_600_000).prop_map(|delta_ms| Act::ClockJump { delta_ms }),
        1 => prop_oneof![0u64..600_000, 0u64..3 * 3_600_000].prop_map(|ms| Act::Sleep { ms }),
        2 => faults().prop_map(Act::Faults),
        1 => Just(Act::RevokeAll),
        4 => Just(Act::Wait),
    ]
}

pub fn scenario(lock: LockMode) -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        1usize..=5,
        prop_oneof![Just(0u64), 1u64..=20, 1u64..=200],
        // Nothing bounds a BroadcastChannel message: on a loaded machine it may come after the
        // lock hold, or the refusal grace, is over. The re-read of storage inside the lock and
        // at the end of the grace is what must hold then.
        prop_oneof![2 => Just(0u64), 2 => 1u64..=20, 2 => 1u64..=200, 1 => 1u64..=2_500],
        prop_oneof![Just(0i64), -600_000i64..=600_000],
        (access_life(), refresh_life()),
        prop::collection::vec((pause(), act()).prop_map(|(pause_ms, act)| Step { pause_ms, act }), 1..60),
    )
        .prop_map(move |(seed, tabs, storage, channel, skew, (access_life_s, refresh_life_s), mut steps)| {
            // Most runs start logged in, as most page loads do.
            if seed % 8 != 0 {
                steps.insert(0, Step { pause_ms: 0, act: Act::SetTokens { tab: 0, access_life_s, refresh_life_s } });
            }
            Scenario {
                seed,
                tabs,
                lock,
                max_storage_delay_ms: storage,
                max_channel_delay_ms: channel,
                server_skew_ms: skew,
                steps,
            }
        })
}
