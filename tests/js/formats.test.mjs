// The refresh call's shape: cookie mode (empty body, credentials: 'include', no refresh token in
// storage) and the OAuth-style format, including opaque access tokens timed by `expires_in`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

test('cookie mode sends the refresh with no body and credentials: include, and never stores a refresh token', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, json } = window.harness;
    const backend = new StubBackend({ cookie: true });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshMode: 'cookie' });
    const tokens = backend.login();
    // Even if the app passes one, or a server echoes one, it stays out of storage.
    auth.setTokens({ access: tokens.access, refresh: 'should-not-be-stored' });
    backend.onRefresh = async (call) => {
      const res = backend.refreshOk(call);
      if (res.status !== 200) return res;
      return json(200, { ...(await res.json()), refresh: 'echoed-refresh-should-not-be-stored' });
    };
    const keysAfterLogin = Object.keys(localStorage).sort();
    const results = [];
    for (let i = 0; i < 2; i++) {
      backend.revokeAccess();
      results.push((await auth.fetch(`/api/items/${i}`)).status);
    }
    const values = Object.values(localStorage).join('|');
    return {
      results, keysAfterLogin, keys: Object.keys(localStorage).sort(), leaked: values.includes('should-not-be-stored'),
      refreshCalls: backend.refreshCalls.map(({ body, credentials, contentType, method }) => ({ body, credentials, contentType, method })),
      storedAccessIsFresh: localStorage.getItem('accessToken') === [...backend.validAccess][0],
    };
  });
  assert.deepEqual(r.results, [200, 200]);
  // The access token and its session generation; never a refresh token.
  assert.deepEqual(r.keysAfterLogin, ['accessToken', 'accessToken:generation']);
  assert.deepEqual(r.keys, ['accessToken', 'accessToken:generation']);
  assert.equal(r.leaked, false);
  // The start-up refresh that looked for a session in the cookie (none yet: anonymous), then one per 401.
  assert.equal(r.refreshCalls.length, 3);
  for (const call of r.refreshCalls) assert.deepEqual(call, { body: null, credentials: 'include', contentType: null, method: 'POST' });
  assert.equal(r.storedAccessIsFresh, true);
});

test('cookie mode refreshes an expired stored access token on start-up without any refresh token', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, accessToken } = window.harness;
    const backend = new StubBackend({ cookie: true });
    backend.login();
    localStorage.setItem('accessToken', accessToken(-60));
    localStorage.setItem('refresh_token', 'a-legacy-refresh-token'); // not read in cookie mode
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshMode: 'cookie' });
    const res = await auth.fetch('/api/items/');
    return { status: res.status, refreshCalls: backend.refreshCalls.map((c) => c.body), state: auth.state().status };
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.refreshCalls, [null]);
  assert.equal(r.state, 'active');
});

test('the OAuth format sends the RFC 6749 §6 form (grant_type, refresh_token, client_id, scope) and handles {access_token, refresh_token, expires_in}', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend } = window.harness;
    const backend = new StubBackend({ format: 'oauth' });
    const tokens = backend.login();
    const auth = await createAuthClient({
      refreshUrl: '/oauth/token', fetch: backend.fetch, tabLock: false, refreshFormat: 'oauth', clientId: 'spa client', scope: 'read write',
    });
    backend.refreshPath = '/oauth/token';
    auth.setTokens(tokens);
    backend.revokeAccess();
    const res = await auth.fetch('/api/items/', { method: 'POST', body: '{"x":1}' });
    const [call] = backend.refreshCalls;
    return {
      status: res.status, body: call.body, contentType: call.contentType, initial: tokens.refresh,
      storedRefresh: localStorage.getItem('refreshToken'), storedAccess: localStorage.getItem('accessToken'),
      valid: { access: [...backend.validAccess][0], refresh: [...backend.validRefresh][0] },
      replayBearer: backend.calls.at(-1).authorization,
    };
  });
  assert.equal(r.status, 200);
  assert.equal(r.body, `grant_type=refresh_token&refresh_token=${encodeURIComponent(r.initial)}&client_id=spa+client&scope=read+write`);
  assert.equal(r.contentType, 'application/x-www-form-urlencoded');
  assert.equal(r.storedAccess, r.valid.access);
  assert.equal(r.storedRefresh, r.valid.refresh, 'the rotated refresh_token is stored');
  assert.notEqual(r.storedRefresh, r.initial);
  assert.equal(r.replayBearer, `Bearer ${r.valid.access}`);
});

test('an opaque access token is timed by expires_in: refreshed before it expires, never sent expired', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, waitFor, sleep } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend({ format: 'oauth', opaque: true, accessTtl: 3 });
    const tokens = backend.login();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshFormat: 'oauth' });
    const setAt = Date.now();
    auth.setTokens({ access: tokens.access, refresh: tokens.refresh, expiresIn: 3 });
    const expiresAtAfterLogin = auth.state().expiresAt;
    // Keep using the API past the first token's life.
    const statuses = [];
    const until = Date.now() + 4_500;
    while (Date.now() < until) {
      statuses.push((await auth.fetch('/api/items/')).status);
      await sleep(150);
    }
    await waitFor(() => events.refreshed.length >= 1);
    return {
      setAt, expiresAtAfterLogin, statuses, opaque: tokens.access.startsWith('opaque-'),
      refreshWalls: backend.refreshCalls.map((c) => c.wall),
      refreshedExpiresAt: events.refreshed[0].expiresAt, refreshedWall: events.refreshed[0].wall,
      api401s: backend.calls.filter((c) => c.path === '/api/items/' && c.status === 401).length,
    };
  });
  assert.equal(r.opaque, true);
  assert.ok(Math.abs(r.expiresAtAfterLogin - (r.setAt + 3_000)) < 100, `expiresAt from expires_in (${r.expiresAtAfterLogin - r.setAt} ms)`);
  assert.ok(r.refreshWalls[0] < r.setAt + 3_000, 'the first refresh came before the opaque token expired');
  assert.ok(r.refreshWalls.length >= 2 && r.refreshWalls.length <= 4, `${r.refreshWalls.length} refreshes in 4.5 s of 3 s tokens`);
  assert.ok(Math.abs(r.refreshedExpiresAt - (r.refreshedWall + 3_000)) < 200, 'the refreshed token is timed by its expires_in');
  assert.equal(r.api401s, 0, 'no request went out with an expired token');
  assert.ok(r.statuses.every((s) => s === 200));
});

test('an opaque access token without expires_in has no known expiry and is refreshed on its first 401', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend } = window.harness;
    const backend = new StubBackend({ format: 'oauth', opaque: true });
    const tokens = backend.login();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshFormat: 'oauth' });
    // setTokens accepts an opaque token only with its lifetime...
    auth.setTokens({ ...tokens, expiresIn: 300 });
    // ...but a refresh may answer without expires_in.
    backend.onRefresh = async (call) => {
      const res = backend.refreshOk(call);
      const { expires_in: _, ...body } = await res.json();
      return window.harness.json(200, body);
    };
    backend.revokeAccess();
    const res = await auth.fetch('/api/items/');
    return { status: res.status, expiresAt: auth.state().expiresAt, refreshCalls: backend.refreshCalls.length, state: auth.state().status };
  });
  assert.deepEqual(r, { status: 200, expiresAt: null, refreshCalls: 1, state: 'active' });
});
