// Transient refresh failures: bounded attempts with backoff, a circuit breaker that fails requests
// fast, recovery, Retry-After, and a give-up rule that logs out once (never on the first blip).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

const RETRY = { maxAttempts: 3, baseDelay: 20, maxDelay: 50, cooldown: 1000, giveUpAfter: 1500 };
const GIVE_UP_AFTER_FIRST_TRIAL = 4_500;

test('a 2xx refresh without an access token is a failed refresh: no request goes out with a made-up token and the breaker counts it', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async (retry) => {
    const { outcome, json } = window.harness;
    const bodies = [{}, { access: '', refresh: 'R2' }, 'not json at all'];
    const { auth, backend, events, tokens } = await window.harness.expiredSession({ retry });
    backend.onRefresh = (call, n) => (typeof bodies[n - 1] === 'string'
      ? new Response(bodies[n - 1], { status: 200 })
      : json(200, bodies[n - 1] ?? {}));
    const storedAccess = localStorage.getItem('accessToken');
    const res = await outcome(auth.fetch('/api/items/'));
    return {
      res, refreshCalls: backend.refreshCalls.length,
      apiCalls: backend.calls.filter((c) => c.path === '/api/items/').length,
      breaker: auth.state().breaker, logouts: events.logout.length, refreshed: events.refreshed.length,
      accessUnchanged: localStorage.getItem('accessToken') === storedAccess,
      refreshUnchanged: localStorage.getItem('refreshToken') === tokens.refresh,
    };
  }, { ...RETRY, giveUpAfter: 60_000 });
  assert.equal(result.refreshCalls, RETRY.maxAttempts);
  assert.equal(result.apiCalls, 0);
  assert.equal(result.res.error?.code, 'refresh_unavailable');
  assert.equal(result.breaker, 'open');
  assert.equal(result.refreshed, 0);
  assert.equal(result.logouts, 0);
  assert.equal(result.accessUnchanged, true);
  assert.equal(result.refreshUnchanged, true);
});

test('a refresh endpoint answering 500 gets bounded attempts with backoff, opens the breaker, fails requests fast, then gives up with one refresh_unavailable logout', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async (retry) => {
    const { outcome, json, waitFor, sleep } = window.harness;
    const { auth, backend, events } = await window.harness.expiredSession({ retry });
    backend.onRefresh = () => json(500, { detail: 'Internal Server Error' });
    const first = await outcome(auth.fetch('/api/items/'));
    const atOpen = {
      refreshCalls: backend.refreshCalls.length, state: auth.state(), logouts: events.logout.length,
      stored: localStorage.getItem('refreshToken') !== null,
    };
    // While open: fail fast, no refresh call, nothing sent.
    const t = performance.now();
    const fast = await outcome(auth.fetch('/api/items/'));
    const fastMs = performance.now() - t;
    const duringOpen = { refreshCalls: backend.refreshCalls.length, apiCalls: backend.calls.filter((c) => c.path === '/api/items/').length };
    // The half-open trial fails too, but the give-up window has not passed: still no logout.
    await waitFor(() => backend.refreshCalls.length > retry.maxAttempts, { timeout: 5_000, what: 'the half-open trial' });
    const logoutsAfterTrial = events.logout.length;
    await waitFor(() => events.logout.length > 0, { timeout: 12_000, what: 'the give-up logout' });
    const callsAtLogout = backend.refreshCalls.length;
    await sleep(400);
    return {
      first, atOpen, fast, fastMs, duringOpen, logoutsAfterTrial, callsAtLogout,
      callsLater: backend.refreshCalls.length,
      times: backend.refreshCalls.map((c) => c.at),
      logouts: events.logout.map(({ reason, message }) => ({ reason, message })),
      stored: [localStorage.getItem('accessToken'), localStorage.getItem('refreshToken')],
      state: auth.state().status,
    };
  // The first cooldown is at least 1 s (the floor) and, jittered, up to 3 s: the window must
  // outlast it for the trial to fail inside it.
  }, { ...RETRY, giveUpAfter: GIVE_UP_AFTER_FIRST_TRIAL });

  // The queued request waited through the attempt budget, then failed with the typed error.
  assert.equal(r.atOpen.refreshCalls, RETRY.maxAttempts);
  for (const e of [r.first.error, r.fast.error]) {
    assert.equal(e?.name, 'RefreshUnavailable');
    assert.equal(e.code, 'refresh_unavailable');
    assert.equal(e.isAuthkeeperError, true);
    assert.equal(e.isRefreshUnavailable, true);
  }
  assert.equal(r.atOpen.state.breaker, 'open');
  assert.ok(r.atOpen.state.breakerOpenUntil > Date.now() - 60_000, 'breakerOpenUntil is a timestamp');
  assert.equal(r.atOpen.logouts, 0, 'no logout on the first failures');
  assert.equal(r.atOpen.stored, true, 'tokens kept while the session can still be saved');
  // Fail fast: no refresh call and nothing sent while open.
  assert.deepEqual(r.duringOpen, { refreshCalls: RETRY.maxAttempts, apiCalls: 0 });
  assert.ok(r.fastMs < 100, `failed fast (${r.fastMs} ms)`);
  // Exponential backoff with jitter in [½, 1] of base·2^(n-1): ≥ 10 ms, then ≥ 20 ms.
  const gaps = r.times.slice(1).map((t, i) => t - r.times[i]);
  assert.ok(gaps[0] >= RETRY.baseDelay / 2 - 2, `first backoff ${gaps[0]} ms`);
  assert.ok(gaps[1] >= RETRY.baseDelay - 2, `second backoff ${gaps[1]} ms`);
  // Once open, trials are at least a cooldown apart.
  for (const gap of gaps.slice(RETRY.maxAttempts - 1)) assert.ok(gap >= RETRY.cooldown, `trial gap ${gap} ms`);
  assert.equal(r.logoutsAfterTrial, 0, 'a failed half-open trial inside the give-up window does not log out');
  // Bounded: the budget, then one trial per cooldown until the give-up window has passed.
  assert.ok(r.callsAtLogout <= RETRY.maxAttempts + Math.ceil(GIVE_UP_AFTER_FIRST_TRIAL / RETRY.cooldown), `${r.callsAtLogout} refresh calls`);
  assert.equal(r.callsLater, r.callsAtLogout, 'no refresh after giving up');
  assert.equal(r.logouts.length, 1);
  assert.equal(r.logouts[0].reason, 'refresh_unavailable');
  assert.ok(r.logouts[0].message.length > 0);
  assert.deepEqual(r.stored, [null, null]);
  assert.equal(r.state, 'logged_out');
});

test('a refresh endpoint that fails twice with 500 then recovers: no logout, the waiting request succeeds with the new token', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async (retry) => {
    const { json, sleep } = window.harness;
    const { auth, backend, events } = await window.harness.expiredSession({ retry });
    backend.onRefresh = (call, n) => (n <= 2 ? json(500, { detail: 'boom' }) : backend.refreshOk(call));
    const res = await auth.fetch('/api/items/');
    const more = await Promise.all([auth.fetch('/api/a'), auth.fetch('/api/b')]);
    await sleep(100);
    const fresh = [...backend.validAccess][0];
    return {
      statuses: [res.status, ...more.map((m) => m.status)],
      refreshCalls: backend.refreshCalls.length, logouts: events.logout.length, refreshed: events.refreshed.length,
      bearers: [...new Set(backend.calls.filter((c) => !c.path.includes('refresh')).map((c) => c.authorization))],
      fresh, stored: localStorage.getItem('accessToken'), breaker: auth.state().breaker,
    };
  }, RETRY);
  assert.deepEqual(r.statuses, [200, 200, 200]);
  assert.equal(r.refreshCalls, 3);
  assert.equal(r.logouts, 0);
  assert.equal(r.refreshed, 1);
  assert.deepEqual(r.bearers, [`Bearer ${r.fresh}`]);
  assert.equal(r.stored, r.fresh);
  assert.equal(r.breaker, 'closed');
});

test('a successful half-open trial closes the breaker and requests flow again', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async (retry) => {
    const { json, outcome, waitFor } = window.harness;
    const { auth, backend, events } = await window.harness.expiredSession({ retry });
    backend.onRefresh = (call, n) => (n === 1 ? json(503, { detail: 'maintenance' }) : backend.refreshOk(call));
    const during = await outcome(auth.fetch('/api/items/'));
    const breakerDuring = auth.state().breaker;
    // Nothing asks for a token: the expired session is refreshed by the trial after the cooldown.
    await waitFor(() => events.refreshed.length === 1, { timeout: 5_000, what: 'the half-open trial to succeed' });
    const res = await auth.fetch('/api/items/');
    return { during, breakerDuring, breakerAfter: auth.state().breaker, status: res.status, refreshCalls: backend.refreshCalls.length, logouts: events.logout.length };
  }, { ...RETRY, maxAttempts: 1 });
  assert.equal(r.during.error?.code, 'refresh_unavailable');
  assert.equal(r.breakerDuring, 'open');
  assert.equal(r.breakerAfter, 'closed');
  assert.equal(r.status, 200);
  assert.equal(r.refreshCalls, 2);
  assert.equal(r.logouts, 0);
});

test('a 429 with Retry-After: 1 delays the next refresh attempt by at least about a second', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async (retry) => {
    const { json } = window.harness;
    const { auth, backend, events } = await window.harness.expiredSession({ retry });
    backend.onRefresh = (call, n) => (n === 1 ? json(429, { detail: 'Request was throttled.' }, { 'retry-after': '1' }) : backend.refreshOk(call));
    const res = await auth.fetch('/api/items/');
    const [a, b] = backend.refreshCalls.map((c) => c.at);
    return { status: res.status, gap: b - a, refreshCalls: backend.refreshCalls.length, logouts: events.logout.length };
  }, RETRY);
  assert.equal(r.status, 200);
  assert.equal(r.refreshCalls, 2);
  assert.ok(r.gap >= 950, `second attempt ${r.gap} ms after the 429 (backoff alone would be ~20 ms)`);
  assert.equal(r.logouts, 0);
});

test('a refresh that hangs past refreshTimeout is aborted, and a network error is retried like a 5xx', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async (retry) => {
    const { auth, backend, events } = await window.harness.expiredSession({ retry, refreshTimeout: 150 });
    backend.onRefresh = (call, n) => {
      if (n === 1) {
        return new Promise((_, reject) => call.signal.addEventListener('abort', () => reject(call.signal.reason)));
      }
      if (n === 2) throw new TypeError('Failed to fetch');
      return backend.refreshOk(call);
    };
    const res = await auth.fetch('/api/items/');
    const [a, b] = backend.refreshCalls.map((c) => c.at);
    return {
      status: res.status, refreshCalls: backend.refreshCalls.length, firstAborted: backend.refreshCalls[0].signal.aborted,
      gap: b - a, logouts: events.logout.length, breaker: auth.state().breaker,
    };
  }, RETRY);
  assert.equal(r.status, 200);
  assert.equal(r.refreshCalls, 3);
  assert.equal(r.firstAborted, true);
  assert.ok(r.gap >= 140, `the hung call was given its timeout (${r.gap} ms)`);
  assert.equal(r.logouts, 0);
  assert.equal(r.breaker, 'closed');
});

test('a refresh token that expires while the endpoint keeps failing ends the session with refresh_unavailable', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, accessToken, refreshToken, json, waitFor, sleep } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend();
    localStorage.setItem('accessToken', accessToken(-60));
    const refresh = refreshToken(2); // expires in ≤ 2 s
    const refreshExp = JSON.parse(atob(refresh.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).exp * 1000;
    localStorage.setItem('refreshToken', refresh);
    backend.onRefresh = () => json(502, 'Bad Gateway');
    const auth = await createAuthClient({
      refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false,
      retry: { maxAttempts: 3, baseDelay: 20, maxDelay: 50, cooldown: 1000, giveUpAfter: 600_000 },
    });
    await waitFor(() => events.logout.length > 0, { timeout: 5_000, what: 'the logout' });
    const at = Date.now();
    const calls = backend.refreshCalls.length;
    await sleep(300);
    return { reasons: events.logout.map((e) => e.reason), lateMs: at - refreshExp, calls, callsLater: backend.refreshCalls.length, keys: Object.keys(localStorage) };
  });
  assert.deepEqual(r.reasons, ['refresh_unavailable']);
  assert.ok(r.lateMs >= -50 && r.lateMs < 1_500, `logged out ${r.lateMs} ms after the refresh token expired`);
  assert.equal(r.callsLater, r.calls);
  assert.deepEqual(r.keys, []);
});
