// A device clock minutes off the server's: the client estimates the offset from the fresh token's
// `iat` (or the response's Date header) so it refreshes once per token, before expiry, and never
// in a loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

/** In the page: uses the API every 150 ms for `ms` with tokens the skewed server issues. */
async function runSkewed({ skew, ttl, ms, iat = true, dateHeader = false }) {
  const { createAuthClient } = window.authkeeper;
  const { StubBackend, recordEvents, sleep } = window.harness;
  const events = recordEvents();
  const backend = new StubBackend({ skew, accessTtl: ttl, iat, dateHeader });
  const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
  auth.setTokens(backend.login());
  const statuses = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    statuses.push((await auth.fetch('/api/items/')).status);
    await sleep(150);
  }
  const api = backend.calls.filter((c) => c.path === '/api/items/');
  return {
    statuses: [...new Set(statuses)], requests: statuses.length,
    refreshTimes: backend.refreshCalls.map((c) => c.at),
    rejected: api.filter((c) => c.status === 401).length,
    offset: auth.state().clockOffset, logouts: events.logout.length,
  };
}

function assertNoLoop(r, { ms, ttl }) {
  const lifetimes = ms / (ttl * 1000);
  assert.ok(r.refreshTimes.length >= Math.floor(lifetimes), `${r.refreshTimes.length} refreshes over ${lifetimes} token lifetimes`);
  assert.ok(r.refreshTimes.length <= Math.ceil(lifetimes * 1.5) + 1, `no refresh loop: ${r.refreshTimes.length} refreshes over ${lifetimes} token lifetimes`);
  const gaps = r.refreshTimes.slice(1).map((t, i) => t - r.refreshTimes[i]);
  for (const gap of gaps) assert.ok(gap >= ttl * 1000 / 3, `refreshes ${gap} ms apart for ${ttl} s tokens`);
  assert.deepEqual(r.statuses, [200]);
  assert.equal(r.logouts, 0);
}

for (const skew of [600, -600]) {
  const side = skew > 0 ? 'behind' : 'ahead of';
  test(`a page clock 10 minutes ${side} the server refreshes once per 3 s token, before expiry, without looping`, async () => {
    const page = await browser.page();
    const params = { skew, ttl: 3, ms: 6_000 };
    const r = await page.evaluate(runSkewed, params);
    assertNoLoop(r, params);
    // Refreshed before expiry: the server never saw an expired token.
    assert.equal(r.rejected, 0, 'no request went out with a token the server considers expired');
    assert.ok(Math.abs(r.offset - skew * 1000) <= 1_000, `estimated offset ${r.offset} ms`);
  });
}

test('without iat the offset is learnt from the refresh response Date header and refreshes do not loop', async () => {
  const page = await browser.page();
  const params = { skew: -600, ttl: 3, ms: 7_000, iat: false, dateHeader: true };
  const r = await page.evaluate(runSkewed, params);
  assertNoLoop(r, params);
  // The login token's expiry cannot be trusted before the first Date header arrives (it looks
  // long expired), so at most that first token is caught by a 401 and replayed.
  assert.ok(r.rejected <= 2, `${r.rejected} requests rejected`);
  assert.ok(Math.abs(r.offset + 600_000) <= 1_500, `estimated offset ${r.offset} ms`);
});
