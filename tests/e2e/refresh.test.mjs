// Keeping the session alive: proactive refresh, single flight under concurrency (queued before
// sending, or after N concurrent 401s), slow refresh queueing, rotation + blacklist, and the
// three backend contracts (SimpleJWT, OAuth-style, httpOnly cookie).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useDemo, waitFor, waitForBoot, login, logouts, events, local, byTestId, clickAction, authState, lastResult, setHidden,
  visibleView,
} from './support.mjs';

const demo = useDemo();
const traces = (page, phase) => page.evaluate((p) => window.demo.trace.filter((t) => !p || t.phase === p), phase);

test('idle session: the token is refreshed proactively before it expires; the polling app never sees a 401', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 3 });
  const page = await demo.open({ expiringWarning: 2000 });
  await login(page);
  const start = await server.counters();
  assert.equal(start.api_calls, 1, 'one call: the trades list');

  // Fully idle: no API traffic at all, the timer alone renews the token.
  const first = await waitFor(async () => { const c = await server.counters(); return c.refresh_ok >= 1 && c; }, { timeout: 8000, interval: 20 });
  assert.equal(first.api_calls, 1, 'the refresh did not need an API call to trigger it');
  assert.equal(first.refresh_calls, 1, 'one refresh per expiry');

  // Now the app keeps calling (every 1 s) across two more expiries.
  await page.check(byTestId('autopoll'));
  await waitFor(async () => (await server.counters()).refresh_ok >= 3, { timeout: 12_000 });
  await page.uncheck(byTestId('autopoll'));
  const c = await server.counters();
  assert.ok(c.api_calls >= 4, `the app kept calling (${c.api_calls} calls)`);
  assert.equal(c.api_401s, 0, 'no request ever carried an expired token');
  assert.equal(c.refresh_failed, 0);
  assert.ok(c.refresh_calls <= 4, `no extra refreshes (${c.refresh_calls})`);

  // auth:expiring (2 s before expiry) came before the proactive refresh (1 s before).
  const [expiring] = await events(page, 'auth:expiring');
  assert.ok(expiring, 'auth:expiring fired');
  assert.ok(expiring.detail.expiresIn > 0 && expiring.detail.expiresIn <= 2000, `expiresIn ${expiring.detail.expiresIn}`);
  const refreshed = await events(page, 'auth:refreshed');
  assert.ok(expiring.at <= refreshed[0].at, 'the warning precedes the refresh');
  assert.ok(refreshed.length >= 3);
  for (const e of refreshed) {
    assert.ok(e.prevExpiresAt && e.at < e.prevExpiresAt, `refreshed before the old token expired (${e.prevExpiresAt - e.at} ms left)`);
    assert.ok(e.detail.expiresAt > e.at, 'the new expiry is in the future');
  }
  assert.equal((await logouts(page)).length, 0);
  assert.ok((await authState(page)).refreshCount >= 3);
  // The session panel (auth.state() every 250 ms) shows the same count.
  await waitFor(async () => Number(await page.textContent(byTestId('refresh-count'))) === (await authState(page)).refreshCount,
    { timeout: 2000, message: 'the page shows the refresh count' });
  assert.deepEqual(demo.pageErrors, []);
});

test('20 concurrent requests after expiry (background tab woke up): exactly one refresh, 20 successes', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 3 });
  const page = await demo.open();
  await login(page);
  // A hidden tab does not refresh proactively, so the token expires untouched.
  await setHidden(page, true);
  const { expiresAt } = await authState(page);
  await waitFor(async () => Date.now() > expiresAt + 500 && (await authState(page)).expiresAt < Date.now(), { timeout: 8000 });
  assert.equal((await server.counters()).refresh_calls, 0, 'a hidden tab did not refresh proactively');
  await server.resetCounters();

  await clickAction(page, 'btn-burst');
  const result = await lastResult(page);
  assert.equal(result.action, 'burst');
  assert.equal(result.ok, '20', result.text);
  assert.match(result.text, /20\/20 OK/);
  const c = await server.counters();
  assert.equal(c.refresh_calls, 1, 'exactly one refresh call for 20 concurrent requests');
  assert.equal(c.refresh_ok, 1);
  assert.equal(c.api_calls, 20);
  assert.equal(c.api_401s, 0, 'they waited for the refresh instead of sending the expired token');
  const queued = await traces(page, 'queued');
  assert.equal(queued.length, 20, 'all 20 waited in the queue');
  const done = (await traces(page, 'done')).filter((t) => t.status === 200);
  assert.ok(done.length >= 20);
  assert.equal((await logouts(page)).length, 0);
  await setHidden(page, false);
});

test('20 concurrent 401s (token rejected server-side): one refresh, every request replayed once', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 60 });
  const page = await demo.open();
  await login(page);
  // The server's clock jumps 2 minutes ahead: the access token the client holds (still valid in
  // its own view) is now expired for the server, so every request gets a 401.
  await server.clock(120);
  await server.resetCounters();

  await clickAction(page, 'btn-burst');
  const result = await lastResult(page);
  assert.equal(result.ok, '20', result.text);
  const c = await server.counters();
  assert.equal(c.refresh_calls, 1, 'N concurrent 401s → exactly one refresh call');
  assert.equal(c.api_401s, 20);
  assert.equal(c.api_calls, 40, '20 originals + 20 replays, no second replay');
  const replayed = await traces(page, 'replayed');
  assert.equal(replayed.length, 20);
  assert.ok(replayed.every((t) => t.status === 200));
  assert.equal((await logouts(page)).length, 0);
  const offset = (await authState(page)).clockOffset;
  assert.ok(Math.abs(offset - 120_000) < 5000, `the clock offset was re-estimated from the new token (${offset} ms)`);
});

test('slow refresh (server hangs 2.5 s): requests made meanwhile wait in the queue and go out together', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 4 });
  const page = await demo.open();
  await login(page);
  await server.fault({ refresh: 'hang', hang_ms: 2500, times: 1 });
  // The proactive refresh is now hanging on the server.
  await waitFor(async () => (await authState(page)).refreshInFlight && (await server.counters()).refresh_calls === 1,
    { timeout: 8000, interval: 20 });
  await server.resetCounters();

  await clickAction(page, 'btn-burst');
  const result = await lastResult(page);
  assert.equal(result.ok, '20', result.text);
  const c = await server.counters();
  assert.equal(c.refresh_calls, 0, 'no second refresh was started');
  assert.equal(c.api_calls, 20);
  assert.equal(c.api_401s, 0);
  assert.equal((await traces(page, 'queued')).length, 20);
  assert.equal((await authState(page)).refreshCount, 1);
});

test('rotation + blacklist: the stored refresh token changes at every refresh, no token is reused', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 3, rotate: true, blacklist: true });
  const page = await demo.open({ poll: 500 });
  await login(page);
  const seen = [(await local(page)).refreshToken];
  for (let i = 1; i <= 2; i++) {
    const next = await waitFor(async () => {
      const r = (await local(page)).refreshToken;
      return r && r !== seen.at(-1) && r;
    }, { timeout: 8000, message: `refresh token rotated (#${i})` });
    seen.push(next);
  }
  assert.equal(new Set(seen).size, 3);
  const c = await server.counters();
  assert.ok(c.refresh_ok >= 2);
  assert.equal(c.refresh_failed, 0);
  assert.equal(c.refresh_reuse, 0, 'the client never presented a rotated (blacklisted) token');
  assert.equal(c.api_401s, 0);
  assert.equal((await logouts(page)).length, 0);

  // The first refresh token really was rotated out: presenting it now is a reuse.
  const res = await fetch(`${server.url}/api/auth/token/refresh/`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: seen[0] }),
  });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).code, 'token_not_valid');
});

test('OAuth-style contract: {refresh_token} → {access_token, refresh_token, expires_in}', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 3 });
  const page = await demo.open({ mode: 'oauth', poll: 500 });
  await login(page, { mode: 'oauth' });
  const first = (await local(page)).refreshToken;
  assert.ok(first);
  await waitFor(async () => (await server.counters()).refresh_ok >= 2, { timeout: 10_000 });
  const c = await server.counters();
  assert.equal(c.refresh_failed, 0);
  assert.equal(c.api_401s, 0);
  assert.notEqual((await local(page)).refreshToken, first, 'the rotated refresh_token was stored');
  assert.equal((await logouts(page)).length, 0);
});

test('cookie mode: a full session with the refresh token only in an httpOnly cookie', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 3 });
  const page = await demo.open({ mode: 'cookie', poll: 500 });
  // Opening the page without a cookie makes one silent refresh that the server refuses (cookie
  // mode looks for a session at start-up): counted from the login on. The demo boots before that
  // call reaches the server, so wait for its answer (reading the counters at once is a race).
  const beforeLogin = await waitFor(async () => { const c = await server.counters(); return c.refresh_failed + c.refresh_ok >= 1 && c; },
    { timeout: 5000, interval: 20, message: 'the start-up look for a session is answered' });
  const refusedBeforeLogin = beforeLogin.refresh_failed;
  assert.equal(refusedBeforeLogin, 1, 'the one start-up look for a session, refused (no cookie yet)');
  assert.equal(beforeLogin.refresh_calls, 1);
  await login(page, { mode: 'cookie' });
  const stored = await local(page);
  assert.ok(stored.accessToken, 'the access token is stored');
  for (const [k, v] of Object.entries(stored)) {
    assert.doesNotMatch(k, /refresh/i, `no refresh token key in localStorage (${k})`);
    assert.equal(v.split('.').length === 3 && k !== 'accessToken', false, `no other JWT stored (${k})`);
  }
  assert.doesNotMatch(await page.evaluate(() => document.cookie), /refresh_token/, 'the cookie is httpOnly');
  const cookies = await demo.context.cookies();
  assert.ok(cookies.some((c) => c.name === 'refresh_token' && c.httpOnly), 'the browser holds the httpOnly refresh cookie');

  await waitFor(async () => (await server.counters()).refresh_ok >= 1, { timeout: 10_000 });
  // A reload resumes the session from the stored access token; the cookie keeps refreshing it.
  await page.reload();
  await waitForBoot(page);
  assert.equal(await visibleView(page), 'app', 'the session survived the reload');
  const ok = (await server.counters()).refresh_ok;
  await waitFor(async () => (await server.counters()).refresh_ok >= ok + 1, { timeout: 10_000 });
  await page.click(byTestId('btn-create-trade'));
  await waitFor(async () => (await lastResult(page)).action === 'create-trade');
  assert.equal((await lastResult(page)).status, '201');
  const c = await server.counters();
  assert.equal(c.refresh_failed, refusedBeforeLogin, 'no refresh failed once signed in');
  assert.equal(c.api_401s, 0);
  assert.ok(c.api_calls >= 5);
  assert.equal(Object.keys(await local(page)).filter((k) => /refresh/i.test(k)).length, 0);

  // Logging out clears the cookie on the server side too.
  await page.click(byTestId('logout-button'));
  await waitFor(async () => (await logouts(page)).length === 1);
  const after = await page.evaluate(async () => (await fetch('/api/auth/cookie/refresh/', { method: 'POST' })).status);
  assert.equal(after, 400, 'no refresh cookie left after logout');
});
