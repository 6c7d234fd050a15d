// Across tabs (issue 5): one refresh for the whole browser with rotation + blacklisting on the
// server, logouts that reach every tab, and hidden tabs that wake up with the new tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDemo, waitFor, login, waitForBoot, setHidden, sleep } from './support.mjs';

const ctx = useDemo({ viewport: { width: 1000, height: 700 } });
// 4 s tokens: the server's iat/exp have 1 s granularity, so shorter tokens can be due for a
// proactive refresh moments after they were issued, which would blur the per-cycle counts.
const ACCESS_TTL = 4;

/** Opens `n` tabs of the demo in one browser context, logs in in the first; all share the session. */
async function openTabs(n, params = {}, context = ctx.context) {
  await ctx.server.config({ access_ttl: ACCESS_TTL, rotate: true, blacklist: true });
  const qs = new URLSearchParams({ poll: 0, ...params }).toString();
  const first = context === ctx.context ? ctx.page : await context.newPage();
  await first.goto(`${ctx.server.url}/?${qs}`);
  await waitForBoot(first);
  await login(first);
  const tabs = [first];
  for (let i = 1; i < n; i++) {
    const page = await context.newPage();
    await page.goto(`${ctx.server.url}/?${qs}`);
    await waitForBoot(page);
    tabs.push(page);
  }
  // Every tab holds the session before the measurements start.
  for (const page of tabs) {
    await waitFor(() => page.evaluate(() => window.demo.auth?.state().status === 'active'));
  }
  return tabs;
}

const accessOf = (page) => page.evaluate(() => window.demo.auth.getAccessToken());
const logoutsOf = (page) => page.evaluate(() => window.demo.events.filter((e) => e.type === 'auth:logout').map((e) => e.detail));

/** Hides every tab (no proactive refresh), waits for the access token to expire, then in
 * every tab at once: becomes visible, fires `perTab` requests and, once they settled, hides
 * again. Returns the statuses. Hiding again inside the page keeps the next proactive refresh of
 * the new 4-s token out of this cycle's count however slowly a loaded machine returns from
 * page.evaluate (it once showed as 2 calls in a cycle with one tab). */
async function expiryCycle(tabs, perTab, jitterMs = 0) {
  for (const page of tabs) await setHidden(page, true);
  const expiresAt = Math.max(...(await Promise.all(tabs.map((p) => p.evaluate(() => window.demo.auth.state().expiresAt ?? 0)))));
  await sleep(Math.max(0, expiresAt - Date.now()) + 150);
  const results = await Promise.all(tabs.map(async (page) => {
    if (jitterMs) await sleep(Math.random() * jitterMs);
    return page.evaluate(async (count) => {
      const show = (visible) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (visible ? 'visible' : 'hidden') });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => !visible });
        document.dispatchEvent(new Event('visibilitychange'));
      };
      show(true);
      const fire = () => window.demo.auth.fetch('/api/paper-trades/').then((r) => r.status, (e) => e.code ?? e.name);
      const statuses = await Promise.all(Array.from({ length: count }, fire));
      show(false);
      return statuses;
    }, perTab);
  }));
  return results.flat();
}

async function refreshCallsPerCycle(tabs, cycles, perTab, jitterMs) {
  const perCycle = [];
  for (let i = 0; i < cycles; i++) {
    const before = (await ctx.server.counters()).refresh_calls;
    const statuses = await expiryCycle(tabs, perTab, jitterMs);
    assert.deepEqual(statuses, Array(tabs.length * perTab).fill(200), `cycle ${i}: every request succeeds`);
    perCycle.push((await ctx.server.counters()).refresh_calls - before);
  }
  return perCycle;
}

test('three tabs whose tokens expired, ten requests each: one refresh call, thirty successes, no logout', async () => {
  const tabs = await openTabs(3);
  // A slow refresh keeps every tab's attempt in flight at once: without the lock they would race.
  await ctx.server.fault({ refresh: 'hang', hang_ms: 300 });
  await ctx.server.resetCounters();
  const statuses = await expiryCycle(tabs, 10);
  assert.deepEqual(statuses, Array(30).fill(200));
  const counters = await ctx.server.counters();
  assert.equal(counters.refresh_calls, 1);
  assert.equal(counters.refresh_reuse, 0);
  for (const page of tabs) assert.deepEqual(await logoutsOf(page), []);
});

test('twenty expiry cycles with random request timing: one refresh per cycle, no logout', async () => {
  const tabs = await openTabs(3);
  await ctx.server.fault({ refresh: 'hang', hang_ms: 100 });
  const perCycle = await refreshCallsPerCycle(tabs, 20, 3, 250);
  assert.deepEqual(perCycle, Array(20).fill(1));
  assert.equal((await ctx.server.counters()).refresh_reuse, 0);
  for (const page of tabs) assert.deepEqual(await logoutsOf(page), []);
});

test('without the cross-tab lock the same race rotates tokens away and logs tabs out', async () => {
  // The control experiment: the lock is what makes the tests above pass.
  const tabs = await openTabs(3, { tabLock: 0 });
  await ctx.server.fault({ refresh: 'hang', hang_ms: 300 });
  await ctx.server.resetCounters();
  await expiryCycle(tabs, 10).catch(() => []);
  const counters = await ctx.server.counters();
  assert.ok(counters.refresh_calls > 1, `expected competing refresh calls, saw ${counters.refresh_calls}`);
  assert.ok(counters.refresh_reuse > 0, 'expected a rotated-away refresh token to be presented');
});

test('logout in one tab reaches the other tabs within a second, with reason remote', async () => {
  const tabs = await openTabs(3);
  const started = Date.now();
  await tabs[0].evaluate(() => window.demo.auth.logout());
  for (const page of tabs.slice(1)) {
    const [detail] = await waitFor(() => logoutsOf(page).then((l) => (l.length ? l : null)), { timeout: 1000 });
    assert.equal(detail.reason, 'remote');
    assert.equal(detail.originReason, 'manual');
  }
  assert.ok(Date.now() - started < 1500);
  for (const page of tabs) {
    assert.equal((await logoutsOf(page)).length, 1, 'exactly one auth:logout per tab');
    assert.equal(await page.evaluate(() => localStorage.getItem('accessToken')), null);
    assert.equal(await page.evaluate(() => localStorage.getItem('refreshToken')), null);
  }
});

test('a tab hidden during a refresh wakes up with the new token and does not refresh again', async () => {
  const [visible, hidden] = await openTabs(2);
  await setHidden(hidden, true);
  await ctx.server.resetCounters();
  const before = await hidden.evaluate(() => window.demo.auth.state().expiresAt);
  // The visible tab refreshes proactively before expiry; the hidden one only hears about it.
  await waitFor(async () => (await ctx.server.counters()).refresh_calls >= 1, { timeout: ACCESS_TTL * 1000 + 2000 });
  await waitFor(() => hidden.evaluate((b) => window.demo.auth.state().expiresAt > b, before));
  await setHidden(hidden, false);
  assert.equal(await accessOf(hidden), await accessOf(visible));
  await sleep(200);
  assert.equal((await ctx.server.counters()).refresh_calls, 1);
  assert.equal(await hidden.evaluate(() => window.demo.auth.state().refreshCount), 0, 'the hidden tab made no refresh call of its own');
});

test('refresh calls per expiry cycle with 1, 3 and 5 tabs', async () => {
  const measured = {};
  for (const n of [1, 3, 5]) {
    await ctx.server.reset();
    const context = await ctx.browser.newContext({ viewport: { width: 1000, height: 700 } });
    try {
      const tabs = await openTabs(n, {}, context);
      await ctx.server.fault({ refresh: 'hang', hang_ms: 100 });
      measured[n] = await refreshCallsPerCycle(tabs, 3, 5, 100);
    } finally {
      await context.close();
    }
  }
  console.log(`[tabs] refresh calls per cycle: ${JSON.stringify(measured)}`);
  for (const perCycle of Object.values(measured)) assert.deepEqual(perCycle, [1, 1, 1]);
});
