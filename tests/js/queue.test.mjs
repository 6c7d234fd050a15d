// The request queue: single-flight refresh, everyone waits for it and goes out with the new token
// (or everyone fails with the same typed error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

test('twenty concurrent requests with an expired access token make one refresh call', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const tokens = backend.login();
    // Stored tokens whose access part expired a minute ago.
    backend.validAccess.clear();
    localStorage.setItem('accessToken', window.harness.accessToken(-60));
    localStorage.setItem('refreshToken', tokens.refresh);
    backend.refreshDelay = 50;
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch });
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => auth.fetch(`/api/items/${i}`)));
    const apiCalls = backend.calls.filter((c) => c.path.startsWith('/api/items/'));
    return {
      statuses: responses.map((r) => r.status),
      refreshCalls: backend.refreshCalls.length,
      apiCalls: apiCalls.length,
      bearers: [...new Set(apiCalls.map((c) => c.authorization))],
      fresh: `Bearer ${[...backend.validAccess][0]}`,
      stored: localStorage.getItem('accessToken'),
    };
  });
  assert.equal(result.refreshCalls, 1);
  assert.deepEqual(result.statuses, Array(20).fill(200));
  // Nobody went out with the expired token first: 20 sends, all with the new bearer.
  assert.equal(result.apiCalls, 20);
  assert.deepEqual(result.bearers, [result.fresh]);
  assert.equal(`Bearer ${result.stored}`, result.fresh);
});

test('twenty concurrent 401s for a token the server revoked make one refresh call and twenty replays', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { backend, tokens, auth } = await window.harness.signedIn();
    // Valid by its exp, but the server no longer accepts it.
    backend.revokeAccess();
    backend.refreshDelay = 30;
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => auth.fetch(`/api/items/${i}`)));
    const byPath = {};
    for (const c of backend.calls.filter((c) => c.path.startsWith('/api/items/'))) (byPath[c.path] ??= []).push(c.authorization);
    return {
      statuses: responses.map((r) => r.status),
      refreshCalls: backend.refreshCalls.length,
      byPath,
      old: `Bearer ${tokens.access}`,
      fresh: `Bearer ${[...backend.validAccess][0]}`,
    };
  });
  assert.equal(result.refreshCalls, 1);
  assert.deepEqual(result.statuses, Array(20).fill(200));
  assert.equal(Object.keys(result.byPath).length, 20);
  for (const [path, bearers] of Object.entries(result.byPath)) {
    assert.deepEqual(bearers, [result.old, result.fresh], `${path}: sent once with the old token, replayed once with the new`);
  }
});

test('requests arriving while a refresh is in flight wait for it instead of starting another', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, waitFor } = window.harness;
    const backend = new StubBackend();
    const tokens = backend.login();
    backend.revokeAccess();
    backend.refreshDelay = 150;
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    auth.setTokens(tokens);
    const first = auth.fetch('/api/first');
    await waitFor(() => auth.state().refreshInFlight, { what: 'the refresh to start' });
    // Staggered arrivals during the flight.
    const later = [];
    for (let i = 0; i < 5; i++) {
      later.push(auth.fetch(`/api/later/${i}`));
      await new Promise((r) => setTimeout(r, 10));
    }
    const waitingDuringFlight = auth.state().waiting;
    const responses = await Promise.all([first, ...later]);
    const laterCalls = backend.calls.filter((c) => c.path.startsWith('/api/later/'));
    return {
      statuses: responses.map((r) => r.status),
      waitingDuringFlight,
      waitingAfter: auth.state().waiting,
      refreshCalls: backend.refreshCalls.length,
      laterBearers: laterCalls.map((c) => c.authorization),
      fresh: `Bearer ${[...backend.validAccess][0]}`,
    };
  });
  assert.equal(result.refreshCalls, 1);
  assert.deepEqual(result.statuses, Array(6).fill(200));
  // The 401'd first request and the five later ones were all queued.
  assert.equal(result.waitingDuringFlight, 6);
  assert.equal(result.waitingAfter, 0);
  // The later requests were not sent with the revoked token first: one send each, new bearer.
  assert.deepEqual(result.laterBearers, Array(5).fill(result.fresh));
});

test('when the refresh fails definitively every queued request rejects with the same typed error and none is sent', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, outcome, json } = window.harness;
    const backend = new StubBackend();
    const tokens = backend.login();
    localStorage.setItem('accessToken', window.harness.accessToken(-60));
    localStorage.setItem('refreshToken', tokens.refresh);
    backend.refreshDelay = 50;
    backend.onRefresh = () => json(401, { error: 'user_not_found', detail: 'User not found', action: 'clear_tokens' });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => outcome(auth.fetch(`/api/items/${i}`))));
    return {
      outcomes,
      refreshCalls: backend.refreshCalls.length,
      apiCalls: backend.calls.filter((c) => c.path.startsWith('/api/items/')).length,
    };
  });
  assert.equal(result.refreshCalls, 1);
  assert.equal(result.apiCalls, 0);
  for (const o of result.outcomes) {
    assert.equal(o.error?.code, 'logged_out', JSON.stringify(o));
    assert.equal(o.error.name, 'AuthkeeperError');
    assert.equal(o.error.isAuthkeeperError, true);
  }
  assert.equal(new Set(result.outcomes.map((o) => o.error.message)).size, 1);
});

test('a hundred requests on a valid token go straight out with no refresh', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { backend, tokens, auth } = await window.harness.signedIn();
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => auth.fetch(`/api/items/${i}`)));
    return {
      statuses: [...new Set(responses.map((r) => r.status))],
      refreshCalls: backend.refreshCalls.length,
      bearers: [...new Set(backend.calls.map((c) => c.authorization))],
      access: tokens.access,
      sends: backend.calls.length,
    };
  });
  assert.deepEqual(result.statuses, [200]);
  assert.equal(result.refreshCalls, 0);
  assert.equal(result.sends, 100);
  assert.deepEqual(result.bearers, [`Bearer ${result.access}`]);
});

test('a token inside its refresh leeway is not sent: the request waits for the refresh and goes once with the new token', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, makeJwt } = window.harness;
    const backend = new StubBackend();
    const tokens = backend.login();
    // A 60-minute token with 20 s left: inside the default 60 s leeway, though not yet expired.
    const now = Math.floor(Date.now() / 1000);
    const nearlyExpired = makeJwt({ exp: now + 20, iat: now - 3_580, user_id: 1 });
    backend.validAccess.add(nearlyExpired);
    localStorage.setItem('accessToken', nearlyExpired);
    localStorage.setItem('refreshToken', tokens.refresh);
    backend.refreshDelay = 100;
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const res = await auth.fetch('/api/items/');
    const fresh = [...backend.validAccess].find((t) => t !== nearlyExpired && t !== tokens.access);
    return { status: res.status, sent: backend.calls.filter((c) => c.path === '/api/items/').map((c) => c.authorization === `Bearer ${fresh}`), refreshCalls: backend.refreshCalls.length };
  });
  assert.deepEqual(r, { status: 200, sent: [true], refreshCalls: 1 });
});

test('getAccessToken returns the current token, waits for the refresh of an expired one, and is null without a session', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, accessToken } = window.harness;
    const backend = new StubBackend();
    const tokens = backend.login();
    localStorage.setItem('accessToken', accessToken(-60));
    localStorage.setItem('refreshToken', tokens.refresh);
    backend.refreshDelay = 50;
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const [a, b] = await Promise.all([auth.getAccessToken(), auth.getAccessToken()]);
    const fresh = [...backend.validAccess][0];
    const again = await auth.getAccessToken();
    auth.logout();
    const none = await auth.getAccessToken();
    return { a: a === fresh, b: b === fresh, again: again === fresh, none, refreshCalls: backend.refreshCalls.length };
  });
  assert.deepEqual(r, { a: true, b: true, again: true, none: null, refreshCalls: 1 });
});
