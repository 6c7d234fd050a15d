// Lifecycle events and timers: `auth:refreshed` once per refresh, `auth:expiring` before expiry,
// the proactive refresh before expiry, and hidden tabs that wait until they are seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

test('auth:refreshed fires exactly once per refresh with the new expiry', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, claimsOf, sleep } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    auth.setTokens(backend.login());
    const expiries = [];
    for (let i = 0; i < 3; i++) {
      backend.revokeAccess();
      await Promise.all([auth.fetch('/api/a'), auth.fetch('/api/b')]);
      expiries.push(claimsOf([...backend.validAccess][0]).exp * 1000);
    }
    await sleep(100);
    return {
      refreshed: events.refreshed.map((e) => e.expiresAt), expiries,
      refreshCalls: backend.refreshCalls.length, refreshCount: auth.state().refreshCount,
      expiresAt: auth.state().expiresAt,
    };
  });
  assert.equal(r.refreshCalls, 3);
  assert.equal(r.refreshCount, 3);
  assert.deepEqual(r.refreshed, r.expiries);
  assert.equal(r.expiresAt, r.expiries[2]);
});

test('auth:expiring fires once, before expiry and before the proactive refresh, for a short-lived token', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, claimsOf, waitFor } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend({ accessTtl: 4 });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, expiringWarning: 2_000 });
    const tokens = backend.login();
    backend.accessTtl = 300; // the refreshed token is long-lived: one warning in this test
    auth.setTokens(tokens);
    const exp = claimsOf(tokens.access).exp * 1000;
    await waitFor(() => events.refreshed.length === 1, { timeout: 6_000, what: 'the proactive refresh' });
    return { exp, expiring: events.expiring, refreshAt: backend.refreshCalls[0].wall, refreshCalls: backend.refreshCalls.length };
  });
  assert.equal(r.expiring.length, 1);
  const [warning] = r.expiring;
  assert.equal(warning.expiresAt, r.exp);
  assert.ok(warning.wall < r.exp, 'fired before expiry');
  assert.ok(warning.wall >= r.exp - 2_000 - 50, `fired about expiringWarning before expiry (${r.exp - warning.wall} ms)`);
  assert.ok(warning.expiresIn > 0 && warning.expiresIn <= 2_000 + 50, `expiresIn ${warning.expiresIn}`);
  assert.ok(warning.wall <= r.refreshAt, 'the warning came before the refresh');
  assert.equal(r.refreshCalls, 1);
});

test('a token is refreshed proactively shortly before it expires, so the next request needs no wait', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, claimsOf, waitFor } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend({ accessTtl: 3 });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const tokens = backend.login();
    backend.accessTtl = 300;
    auth.setTokens(tokens);
    const exp = claimsOf(tokens.access).exp * 1000;
    await waitFor(() => events.refreshed.length === 1, { timeout: 5_000, what: 'the proactive refresh' });
    const t = performance.now();
    const res = await auth.fetch('/api/items/');
    return {
      exp, refreshAt: backend.refreshCalls[0].wall, requestMs: performance.now() - t, status: res.status,
      bearerIsNew: backend.calls.at(-1).authorization === `Bearer ${[...backend.validAccess][0]}`,
      apiCalls: backend.calls.filter((c) => c.path === '/api/items/').length,
    };
  });
  assert.ok(r.refreshAt < r.exp, `refreshed ${r.exp - r.refreshAt} ms before expiry`);
  // Default leeway for a ≤3 s token: 1 s (never more than half its life).
  assert.ok(r.refreshAt >= r.exp - 1_500 - 50, `not refreshed too early (${r.exp - r.refreshAt} ms before expiry)`);
  assert.equal(r.status, 200);
  assert.equal(r.bearerIsNew, true);
  assert.equal(r.apiCalls, 1);
});

/** Before load: `document.visibilityState` follows `window.pageHidden` (default hidden). */
const HIDDEN = () => {
  window.pageHidden = true;
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (window.pageHidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.pageHidden });
};

test('a hidden tab does not refresh proactively, and refreshes as soon as it becomes visible', async () => {
  const page = await browser.page({ beforeLoad: HIDDEN });
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, claimsOf, waitFor, sleep } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend({ accessTtl: 2 });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const tokens = backend.login();
    auth.setTokens(tokens);
    const exp = claimsOf(tokens.access).exp * 1000;
    await sleep(Math.max(0, exp - Date.now()) + 300);
    const whileHidden = backend.refreshCalls.length;
    window.pageHidden = false;
    const shownAt = performance.now();
    document.dispatchEvent(new Event('visibilitychange'));
    await waitFor(() => events.refreshed.length === 1, { timeout: 2_000, what: 'the refresh on becoming visible' });
    return { whileHidden, afterShownMs: backend.refreshCalls[0].at - shownAt, refreshCalls: backend.refreshCalls.length, logouts: events.logout.length };
  });
  assert.equal(r.whileHidden, 0);
  assert.ok(r.afterShownMs < 200, `refreshed ${r.afterShownMs} ms after becoming visible`);
  assert.equal(r.refreshCalls, 1);
  assert.equal(r.logouts, 0, 'an expired access token with a valid refresh token is not a lost session');
});

test('a hidden tab still refreshes when a request needs a token', async () => {
  const page = await browser.page({ beforeLoad: HIDDEN });
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, claimsOf, sleep } = window.harness;
    const backend = new StubBackend({ accessTtl: 2 });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const tokens = backend.login();
    auth.setTokens(tokens);
    await sleep(Math.max(0, claimsOf(tokens.access).exp * 1000 - Date.now()) + 200);
    const before = backend.refreshCalls.length;
    const res = await auth.fetch('/api/items/');
    return { before, status: res.status, refreshCalls: backend.refreshCalls.length };
  });
  assert.deepEqual(r, { before: 0, status: 200, refreshCalls: 1 });
});

test('with refreshWhenHidden a hidden tab refreshes proactively before expiry', async () => {
  const page = await browser.page({ beforeLoad: HIDDEN });
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, claimsOf, waitFor } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend({ accessTtl: 3 });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshWhenHidden: true });
    const tokens = backend.login();
    backend.accessTtl = 300;
    auth.setTokens(tokens);
    const exp = claimsOf(tokens.access).exp * 1000;
    await waitFor(() => events.refreshed.length === 1, { timeout: 5_000, what: 'the proactive refresh' });
    return { exp, refreshAt: backend.refreshCalls[0].wall };
  });
  assert.ok(r.refreshAt < r.exp, `refreshed ${r.exp - r.refreshAt} ms before expiry`);
});

test('a token that expires in 40 days arms timers clamped to 2^31-1 ms instead of firing at once', async () => {
  const page = await browser.page({
    beforeLoad: () => {
      window.timerDelays = [];
      const real = window.setTimeout;
      window.setTimeout = function (fn, delay, ...rest) {
        window.timerDelays.push(delay);
        return real.call(this, fn, delay, ...rest);
      };
    },
  });
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, sleep } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend({ accessTtl: 40 * 86_400 });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const before = window.timerDelays.length;
    auth.setTokens(backend.login());
    await sleep(500);
    const delays = window.timerDelays.slice(before);
    return { count: delays.length, max: Math.max(...delays.filter((d) => typeof d === 'number')), refreshCalls: backend.refreshCalls.length, expiring: events.expiring.length };
  });
  assert.equal(r.refreshCalls, 0);
  assert.equal(r.expiring, 0);
  assert.equal(r.max, 2 ** 31 - 1);
  // A delay past 2^31-1 would fire at once and re-arm: a busy loop of timers.
  assert.ok(r.count < 20, `${r.count} timers armed in 500 ms`);
});

for (const wake of ['focus', 'online', 'pageshow']) {
  test(`after the machine slept past expiry (timers frozen), a ${wake} event re-checks the deadline and refreshes at once`, async () => {
    const page = await browser.page({
      beforeLoad: () => {
        // A controllable wall clock: a "sleep" jumps it forward while no timer fires.
        const realNow = Date.now.bind(Date);
        window.clockJump = 0;
        Date.now = () => realNow() + window.clockJump;
      },
    });
    const r = await page.evaluate(async (wake) => {
      const { createAuthClient } = window.authkeeper;
      const { StubBackend, recordEvents, waitFor, sleep } = window.harness;
      const events = recordEvents();
      const backend = new StubBackend({ accessTtl: 300 });
      const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
      auth.setTokens(backend.login());
      await sleep(100);
      window.clockJump = 400_000; // the laptop lid was closed for ~7 minutes
      await sleep(200);
      const beforeWake = backend.refreshCalls.length;
      const t = performance.now();
      window.dispatchEvent(new Event(wake));
      await waitFor(() => events.refreshed.length === 1, { timeout: 2_000, what: `a refresh after ${wake}` });
      return { beforeWake, ms: backend.refreshCalls[0].at - t, refreshCalls: backend.refreshCalls.length, logouts: events.logout.length };
    }, wake);
    assert.equal(r.beforeWake, 0, 'nothing happened while the timers were frozen');
    assert.ok(r.ms < 200, `refreshed ${r.ms} ms after ${wake}`);
    assert.equal(r.refreshCalls, 1);
    assert.equal(r.logouts, 0);
  });
}
