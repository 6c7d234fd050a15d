// A failing refresh endpoint: bounded retries with backoff, Retry-After honoured, a circuit
// breaker that opens and recovers, and a single clean `refresh_unavailable` logout when the
// session cannot be saved. Never a loop, never a logout on the first blip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDemo, waitFor, sleep, login, logouts, local, authState, visibleView, byTestId } from './support.mjs';

const demo = useDemo();
const refreshTrace = (page) => page.evaluate(() => window.demo.trace.filter((t) => t.phase === 'refresh' && t.status !== undefined));

test('refresh answers 500 twice: bounded retries, then recovery, no logout', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 4 });
  // maxAttempts 3: two failures stay within the attempt budget.
  const page = await demo.open({ maxAttempts: 3, baseDelay: 200, cooldown: 2000, poll: 500 });
  await login(page);
  await server.fault({ refresh: '500', times: 2 });

  const c = await waitFor(async () => { const s = await server.counters(); return s.refresh_ok >= 1 && s; }, { timeout: 15_000 });
  assert.equal(c.refresh_failed, 2, 'both injected 500s were seen');
  assert.equal(c.refresh_calls, 3, 'two failures + one success: retries stayed within the budget of 3');
  assert.equal((await logouts(page)).length, 0, 'a transient failure does not log the user out');
  const st = await authState(page);
  assert.equal(st.breaker, 'closed');
  assert.ok(st.status === 'active' || st.status === 'refreshing');
  assert.deepEqual((await refreshTrace(page)).map((t) => t.status).slice(0, 3), [500, 500, 200]);
  assert.ok((await local(page)).accessToken);
  assert.deepEqual(demo.pageErrors, []);
});

test('refresh answers 500 until the budget is spent: the breaker opens (visible), half-opens, recovers', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 4 });
  const page = await demo.open({ maxAttempts: 2, baseDelay: 200, cooldown: 1500, giveUpAfter: 60_000, poll: 1000 });
  await login(page);
  await server.fault({ refresh: '500', times: 2 });

  // Two failures exhaust maxAttempts=2: the breaker opens and the page shows it.
  await waitFor(() => page.$eval(byTestId('breaker'), (n) => n.dataset.value === 'open'), { timeout: 10_000, interval: 25 });
  const atOpen = await server.counters();
  assert.equal(atOpen.refresh_calls, 2, 'no call beyond the attempt budget');
  assert.equal(atOpen.refresh_failed, 2);

  // While open nothing hammers the server; after the cooldown one trial succeeds.
  await waitFor(async () => (await server.counters()).refresh_ok >= 1, { timeout: 10_000 });
  const c = await server.counters();
  assert.equal(c.refresh_calls, 3, 'exactly one half-open trial');
  await waitFor(async () => (await authState(page)).breaker === 'closed');
  // The page (polling auth.state() every 250 ms) showed the whole cycle.
  await waitFor(() => page.$eval(byTestId('breaker'), (n) => n.dataset.value === 'closed'));
  const history = await page.evaluate(() => window.demo.breakerHistory.map((h) => h.breaker));
  assert.ok(history.includes('open'), `breaker history ${history}`);
  assert.equal(history.at(-1), 'closed');
  assert.equal((await page.$$('[data-testid="event-log"] [data-event="breaker"]')).length, history.length, 'breaker changes are on the event log');
  assert.equal((await logouts(page)).length, 0);
  assert.equal(await visibleView(page), 'app');
  // The session is usable again: the app's polling gets through with a fresh token.
  const calls = c.api_calls;
  await waitFor(async () => (await server.counters()).api_calls >= calls + 2, { timeout: 5000 });
  assert.equal((await server.counters()).api_401s, 0, 'no expired token was ever sent');
});

test('refresh answers 500 forever: exactly one refresh_unavailable logout, then silence', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 4 });
  const page = await demo.open({ maxAttempts: 2, baseDelay: 200, cooldown: 1000, giveUpAfter: 4000, poll: 500 });
  await login(page);
  await server.fault({ refresh: '500' });

  await waitFor(async () => (await visibleView(page)) === 'login', { timeout: 20_000 });
  const all = await logouts(page);
  assert.equal(all.length, 1, JSON.stringify(all));
  assert.equal(all[0].detail.reason, 'refresh_unavailable');
  assert.equal(await page.getAttribute(byTestId('logout-reason'), 'data-reason'), 'refresh_unavailable');
  const c = await server.counters();
  assert.equal(c.refresh_ok, 0);
  assert.ok(c.refresh_calls >= 2, `it did retry (${c.refresh_calls})`);
  // 2 attempts, then about one half-open trial per second of cooldown over the 4 s window.
  assert.ok(c.refresh_calls <= 8, `bounded retries, got ${c.refresh_calls}`);
  const stored = await local(page);
  assert.equal(stored.accessToken, undefined);
  assert.equal(stored.refreshToken, undefined);

  await sleep(1500);
  assert.equal((await server.counters()).refresh_calls, c.refresh_calls, 'no refresh after giving up');
  assert.equal((await logouts(page)).length, 1);
});

test('429 with Retry-After: the client waits as told before trying again', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 4 });
  const page = await demo.open({ maxAttempts: 3, baseDelay: 100, cooldown: 5000 });
  await login(page);
  await server.fault({ refresh: '429', retry_after: 2, times: 1 });

  await waitFor(async () => (await server.counters()).refresh_ok >= 1, { timeout: 12_000 });
  const c = await server.counters();
  assert.equal(c.refresh_calls, 2, 'one throttled call, one successful retry');
  const [throttled, ok] = await refreshTrace(page);
  assert.equal(throttled.status, 429);
  assert.equal(ok.status, 200);
  const starts = await page.evaluate(() => window.demo.trace.filter((t) => t.phase === 'refresh' && t.status === undefined).map((t) => t.at));
  const gap = starts[1] - throttled.at;
  assert.ok(gap >= 1900, `waited ${gap} ms after a Retry-After of 2 s (baseDelay was 100 ms)`);
  assert.equal((await logouts(page)).length, 0);
});
