//! Thundering herd, on paper: what the refresh endpoint sees from a large population of clients
//! through an outage and after it. A figure to read, never a timed assertion.
//!
//! Every client is a real `Machine` (one visible tab each) driven as the web layer drives it, on
//! a virtual clock: an event queue (a binary heap of wake-ups) holds each client's timer from
//! `poll_timeout`, its next request, and the answers of the refresh calls in flight.
//!
//! - 5-minute access tokens, refreshed 50 s before expiry (the default leeway). Clients log in at
//!   uniformly random moments over one refresh period, so expiries are uniform: the steady state
//!   is N / 250 s refresh calls per second.
//! - Each client makes requests (Poisson, one a minute on average), so requests do queue behind
//!   refreshes and meet the open breaker. A request sent with an expired token gets a 401.
//! - The refresh endpoint answers in 20-80 ms. During the outage (10 minutes) 85% of the calls
//!   answer 503 (no Retry-After) and 15% hang until the client's 10 s refresh timeout (reported
//!   as a network error).
//!
//! Two runs: the default configuration (giveUpAfter 5 min, so a 10-minute outage ends the
//! sessions it catches, as configured), and the same with giveUpAfter 30 min, where every session
//! survives and the whole population comes back after the outage: the recovery herd.
//!
//!     cargo bench --bench herd                       # 100,000 clients
//!     HERD_CLIENTS=10000 cargo bench --bench herd    # a quick run
//!     HERD_TIMELINE=1 ...                            # also print every 10-s bucket
//!     HERD_SEED=7 ...                                # another random draw
//!     HERD_OUTAGE_SECS=120 ...                       # a shorter (or longer) outage

use authkeeper::core::breaker::BreakerConfig;
use authkeeper::core::machine::{Action, Machine, Outcome, MachineConfig, RequestDecision, UnauthorizedDecision};
use authkeeper::core::policy::{Detail, FreshTokens, LogoutReason, RefreshOutcome};
use authkeeper::core::time::Millis;
use authkeeper::core::urls::UrlClass;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Instant;

const T0: u64 = 1_700_000_000_000;
const SEC: u64 = 1_000;
const TOKEN_LIFE_SECS: u64 = 300;
/// One refresh period: the token's life minus the default leeway (a sixth of 5 min).
const REFRESH_PERIOD: u64 = 250 * SEC;
const REQUEST_MEAN: u64 = 60 * SEC;
const STEADY: (u64, u64) = (300 * SEC, 600 * SEC);
const OUTAGE_START: u64 = 600 * SEC;
/// How long the run goes on after the outage.
const AFTER: u64 = 900 * SEC;
const HANG_SHARE: f64 = 0.15;
const REFRESH_TIMEOUT: u64 = 10 * SEC;
const BUCKET: u64 = 10 * SEC;

/// SplitMix64: small, fast, good enough to draw arrival times and jitter.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        (self.unit() * n as f64) as u64
    }

    /// Exponentially distributed with this mean.
    fn exp(&mut self, mean: u64) -> u64 {
        (-(1.0 - self.unit()).ln() * mean as f64) as u64
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Login,
    Timer,
    Request,
    RefreshOk,
    Refresh503,
    RefreshTimeout,
}

struct Client {
    m: Machine,
    /// The deadline the pending `Timer` event was armed for (stale events are skipped).
    armed: Option<u64>,
    /// `exp` (ms) of the token the machine holds, as the API server judges it.
    exp_ms: u64,
    next_waiter: u64,
    logged_out: bool,
    /// When this client first refreshed successfully after the outage.
    recovered_at: Option<u64>,
}

#[derive(Default)]
struct Counts {
    requests: u64,
    sent: u64,
    api_401: u64,
    waited: u64,
    failed_fast: u64,
    resolved_err: u64,
    refresh_ok: u64,
    refresh_failed: u64,
    logouts: BTreeMap<&'static str, u64>,
    logouts_in_outage: u64,
}

struct Sim {
    /// [start, end) of the outage, and the end of the run.
    outage: (u64, u64),
    end: u64,
    clients: Vec<Client>,
    queue: BinaryHeap<Reverse<(u64, Kind, u32)>>,
    rng: Rng,
    /// Refresh calls arriving at the server, per second.
    calls: Vec<u32>,
    counts: Counts,
    minted: u64,
}

fn token(iat_secs: u64, client: u32, jti: u64) -> String {
    let payload = format!(
        r#"{{"iat":{iat_secs},"exp":{},"sub":"user-{client}","jti":{jti}}}"#,
        iat_secs + TOKEN_LIFE_SECS
    );
    format!("eyJhbGciOiJIUzI1NiJ9.{}.c2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(payload))
}

impl Sim {
    fn in_outage(&self, t: u64) -> bool {
        (self.outage.0..self.outage.1).contains(&t)
    }

    fn new(n: usize, breaker: BreakerConfig, seed: u64, outage_ms: u64) -> Sim {
        let outage = (OUTAGE_START, OUTAGE_START + outage_ms);
        let end = outage.1 + AFTER;
        let config = MachineConfig { breaker, ..MachineConfig::default() };
        let mut rng = Rng(seed);
        let mut queue = BinaryHeap::with_capacity(n * 3);
        let clients = (0..n)
            .map(|i| {
                queue.push(Reverse((rng.below(REFRESH_PERIOD), Kind::Login, i as u32)));
                Client {
                    m: Machine::new(config.clone()),
                    armed: None,
                    exp_ms: 0,
                    next_waiter: 0,
                    logged_out: false,
                    recovered_at: None,
                }
            })
            .collect();
        Sim {
            outage,
            end,
            clients,
            queue,
            rng,
            calls: vec![0; (end / SEC) as usize + 1],
            counts: Counts::default(),
            minted: 0,
        }
    }

    fn mint(&mut self, t: u64, i: u32) -> (String, u64) {
        self.minted += 1;
        let iat = (T0 + t) / SEC;
        (token(iat, i, self.minted), (iat + TOKEN_LIFE_SECS) * SEC)
    }

    fn run(&mut self) {
        while let Some(Reverse((t, kind, i))) = self.queue.pop() {
            if t > self.end {
                break;
            }
            let now = Millis(T0 + t);
            let jitter = self.rng.unit();
            let c = i as usize;
            match kind {
                Kind::Login => {
                    let (access, exp_ms) = self.mint(t, i);
                    self.clients[c].exp_ms = exp_ms;
                    self.clients[c].m.set_tokens(now, access, Some(format!("refresh-{i}")), None).ok();
                    let first = t + self.rng.exp(REQUEST_MEAN);
                    self.queue.push(Reverse((first, Kind::Request, i)));
                }
                Kind::Timer => {
                    if self.clients[c].armed != Some(t) {
                        continue; // re-armed since
                    }
                    self.clients[c].armed = None;
                    self.clients[c].m.handle_timeout(now, jitter);
                }
                Kind::Request => {
                    if self.clients[c].logged_out {
                        continue; // the user is on the login page now
                    }
                    self.request(t, i);
                    let next = t + self.rng.exp(REQUEST_MEAN).max(1);
                    self.queue.push(Reverse((next, Kind::Request, i)));
                }
                Kind::RefreshOk => {
                    let (access, exp_ms) = self.mint(t, i);
                    let client = &mut self.clients[c];
                    client.exp_ms = exp_ms;
                    if t >= self.outage.1 && client.recovered_at.is_none() {
                        client.recovered_at = Some(t);
                    }
                    let tokens = FreshTokens { access, refresh: None, expires_in: None };
                    client.m.on_refresh_outcome(now, RefreshOutcome::Success { tokens, server_offset: None }, jitter);
                    self.counts.refresh_ok += 1;
                }
                Kind::Refresh503 => {
                    let outcome = RefreshOutcome::Transient { retry_after_ms: None, detail: Detail::Http { status: 503, note: None } };
                    self.clients[c].m.on_refresh_outcome(now, outcome, jitter);
                    self.counts.refresh_failed += 1;
                }
                Kind::RefreshTimeout => {
                    self.clients[c].m.on_refresh_network_error(now, jitter);
                    self.counts.refresh_failed += 1;
                }
            }
            self.drain(t, i);
        }
    }

    fn request(&mut self, t: u64, i: u32) {
        let now = Millis(T0 + t);
        let client = &mut self.clients[i as usize];
        client.next_waiter += 1;
        let id = client.next_waiter;
        self.counts.requests += 1;
        match client.m.on_request(now, id, UrlClass::Protected) {
            RequestDecision::Send { bearer: Some(bearer) } => {
                self.counts.sent += 1;
                if T0 + t >= client.exp_ms {
                    self.counts.api_401 += 1;
                    if client.m.on_unauthorized(now, id, UrlClass::Protected, &bearer) == UnauthorizedDecision::Wait {
                        self.counts.waited += 1;
                    }
                }
            }
            RequestDecision::Send { bearer: None } => self.counts.sent += 1,
            RequestDecision::Wait => self.counts.waited += 1,
            RequestDecision::Fail(_) => self.counts.failed_fast += 1,
        }
    }

    /// Performs the client's actions, then re-arms its timer.
    fn drain(&mut self, t: u64, i: u32) {
        let c = i as usize;
        while let Some(action) = self.clients[c].m.poll_action() {
            match action {
                Action::StartRefresh { .. } => {
                    self.calls[(t / SEC) as usize] += 1;
                    let latency = 20 + self.rng.below(60);
                    let answer = if !self.in_outage(t) {
                        (t + latency, Kind::RefreshOk)
                    } else if self.rng.unit() < HANG_SHARE {
                        (t + REFRESH_TIMEOUT, Kind::RefreshTimeout)
                    } else {
                        (t + latency, Kind::Refresh503)
                    };
                    self.queue.push(Reverse((answer.0, answer.1, i)));
                }
                Action::Resolve { outcome: Outcome::Failed(_) | Outcome::OriginalResponse(_), .. } => self.counts.resolved_err += 1,
                Action::Logout { reason, .. } => {
                    *self.counts.logouts.entry(reason_name(reason)).or_default() += 1;
                    if self.in_outage(t) {
                        self.counts.logouts_in_outage += 1;
                    }
                    self.clients[c].logged_out = true;
                }
                _ => {}
            }
        }
        while self.clients[c].m.poll_warning().is_some() {}
        let client = &mut self.clients[c];
        let due = client.m.poll_timeout().map(|at| at.0.saturating_sub(T0).max(t));
        if due != client.armed {
            client.armed = due;
            if let Some(at) = due {
                self.queue.push(Reverse((at, Kind::Timer, i)));
            }
        }
    }
}

fn reason_name(reason: LogoutReason) -> &'static str {
    match reason {
        LogoutReason::RefreshUnavailable => "refresh_unavailable",
        LogoutReason::SessionExpired => "session_expired",
        LogoutReason::InvalidToken => "invalid_token",
        _ => "other",
    }
}

/// Calls per second, averaged over each `BUCKET` of `calls` within [from, to).
fn buckets(calls: &[u32], from: u64, to: u64) -> Vec<(u64, f64)> {
    (from / BUCKET..to / BUCKET)
        .map(|b| {
            let secs = (b * BUCKET / SEC) as usize..((b + 1) * BUCKET / SEC) as usize;
            let sum: u64 = calls[secs].iter().map(|&c| u64::from(c)).sum();
            (b * BUCKET / SEC, sum as f64 / (BUCKET / SEC) as f64)
        })
        .collect()
}

fn peak(buckets: &[(u64, f64)]) -> (u64, f64) {
    buckets.iter().copied().fold((0, 0.0), |best, b| if b.1 > best.1 { b } else { best })
}

fn peak_second(calls: &[u32], from: u64, to: u64) -> u32 {
    calls[(from / SEC) as usize..(to / SEC) as usize].iter().copied().max().unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn scenario(title: &str, n: usize, breaker: BreakerConfig, seed: u64, outage_ms: u64, timeline: bool) {
    let started = Instant::now();
    println!("\n== {title}");
    println!(
        "   retry: maxAttempts {}, baseDelay {} ms, maxDelay {} ms, cooldown {} ms, giveUpAfter {} ms",
        breaker.max_attempts, breaker.base_delay_ms, breaker.max_delay_ms, breaker.cooldown_ms, breaker.give_up_after_ms
    );
    let mut sim = Sim::new(n, breaker, seed, outage_ms);
    sim.run();
    let calls = &sim.calls;
    let (outage_start, outage_end, end) = (sim.outage.0, sim.outage.1, sim.end);

    let steady = buckets(calls, STEADY.0, STEADY.1);
    let steady_mean = steady.iter().map(|b| b.1).sum::<f64>() / steady.len() as f64;
    let steady_max = peak(&steady);
    let outage = peak(&buckets(calls, outage_start, outage_end));
    let recovery = peak(&buckets(calls, outage_end, end));
    let x = |rate: f64| rate / steady_mean;
    println!("   refresh calls per second the server sees (10-s buckets):");
    println!(
        "     steady state  {:>4}-{:>4} s  mean {:>8.1}/s   max bucket {:>8.1}/s  (x{:.2})   max second {}",
        STEADY.0 / SEC,
        STEADY.1 / SEC,
        steady_mean,
        steady_max.1,
        x(steady_max.1),
        peak_second(calls, STEADY.0, STEADY.1)
    );
    println!(
        "     outage        {:>4}-{:>4} s  peak {:>8.1}/s at {} s  (x{:.2})   max second {}",
        outage_start / SEC,
        outage_end / SEC,
        outage.1,
        outage.0,
        x(outage.1),
        peak_second(calls, outage_start, outage_end)
    );
    println!(
        "     after it      {:>4}-{:>4} s  peak {:>8.1}/s at {} s  (x{:.2})   max second {}",
        outage_end / SEC,
        end / SEC,
        recovery.1,
        recovery.0,
        x(recovery.1),
        peak_second(calls, outage_end, end)
    );
    println!("     ratio recovery peak / steady state = {:.2}", x(recovery.1));

    let c = &sim.counts;
    let alive = sim.clients.iter().filter(|c| !c.logged_out).count();
    let ended: u64 = c.logouts.values().sum();
    println!(
        "   sessions: {alive} of {n} alive at the end; {ended} ended ({} during the outage): {:?}",
        c.logouts_in_outage, c.logouts
    );
    let mut waits: Vec<u64> =
        sim.clients.iter().filter_map(|c| c.recovered_at).map(|t| t - outage_end).collect();
    waits.sort_unstable();
    if !waits.is_empty() {
        println!(
            "   after the outage, first successful refresh per surviving client: p50 {:.1} s, p90 {:.1} s, p99 {:.1} s, max {:.1} s",
            percentile(&waits, 0.5) as f64 / 1e3,
            percentile(&waits, 0.9) as f64 / 1e3,
            percentile(&waits, 0.99) as f64 / 1e3,
            percentile(&waits, 1.0) as f64 / 1e3
        );
    }
    println!(
        "   requests {}: sent {}, API 401s {}, waited for a refresh {}, failed fast (breaker open) {}, waiting ones failed {}",
        c.requests, c.sent, c.api_401, c.waited, c.failed_fast, c.resolved_err
    );
    println!("   refresh calls: {} ok, {} failed", c.refresh_ok, c.refresh_failed);
    if timeline {
        println!("   timeline (calls/s per 10-s bucket):");
        for (at, rate) in buckets(calls, 0, end) {
            let bar = "#".repeat((rate / steady_mean * 10.0).round() as usize);
            println!("     {at:>5} s {rate:>9.1}  {bar}");
        }
    }
    println!("   ({:.1} s of real time)", started.elapsed().as_secs_f64());
}

fn main() {
    // `cargo bench` passes `--bench`; no other argument is understood.
    let env = |name: &str| std::env::var(name).ok();
    let n = env("HERD_CLIENTS").and_then(|v| v.parse().ok()).unwrap_or(100_000usize);
    let seed = env("HERD_SEED").and_then(|v| v.parse().ok()).unwrap_or(42u64);
    let outage_ms = env("HERD_OUTAGE_SECS").and_then(|v| v.parse::<u64>().ok()).unwrap_or(600) * SEC;
    let timeline = env("HERD_TIMELINE").is_some_and(|v| v != "0");
    println!(
        "herd: {n} clients (one visible tab each), {TOKEN_LIFE_SECS}-s access tokens refreshed 50 s before expiry, \
         a request every {} s on average per client",
        REQUEST_MEAN / SEC
    );
    println!(
        "refresh endpoint: 20-80 ms; down from {} s to {} s: {:.0}% of calls answer 503 (no Retry-After), \
         {:.0}% hang until the {} s refresh timeout",
        OUTAGE_START / SEC,
        (OUTAGE_START + outage_ms) / SEC,
        (1.0 - HANG_SHARE) * 100.0,
        HANG_SHARE * 100.0,
        REFRESH_TIMEOUT / SEC
    );
    let defaults = BreakerConfig::default();
    let title = format!("A: default retry options (giveUpAfter {} s, the outage {} s)", defaults.give_up_after_ms / SEC, outage_ms / SEC);
    scenario(&title, n, defaults.clone(), seed, outage_ms, timeline);
    let survivable = BreakerConfig { give_up_after_ms: outage_ms + 20 * 60 * SEC, ..defaults };
    let title = format!(
        "B: giveUpAfter {} s, so that every session survives the outage: the recovery herd",
        survivable.give_up_after_ms / SEC
    );
    scenario(&title, n, survivable, seed, outage_ms, timeline);
}
