// Issue 11, servers that are not our reference server: OAuth configuration errors diagnosed in
// the console, the refreshRequest/parseRefreshResponse escape hatch, opaque access tokens that
// survive a reload, the cookie-mode start-up refresh, auth.refresh(), and server-side logout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

test('an OAuth configuration error ends the session and logs one console.error naming the cause, never a token', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, json, captureConsole } = window.harness;
    const events = recordEvents();
    const lines = captureConsole();
    const backend = new StubBackend({ format: 'oauth', refreshPath: '/o/token/' });
    backend.onRefresh = () => json(401, { error: 'invalid_client', error_description: 'Invalid client_id parameter value.' });
    const auth = await createAuthClient({ refreshUrl: '/o/token/', fetch: backend.fetch, tabLock: false, refreshFormat: 'oauth', clientId: 'wrong-id' });
    const tokens = [];
    for (let i = 0; i < 2; i++) {
      const t = backend.login();
      tokens.push(t.access, t.refresh);
      auth.setTokens(t);
      backend.revokeAccess();
      await auth.fetch('/api/items/');
    }
    return { lines, logouts: events.logout.map((e) => [e.reason, e.message]), tokens, state: auth.state().status };
  });
  assert.deepEqual(r.logouts.map(([reason]) => reason), ['invalid_token', 'invalid_token']);
  assert.equal(r.lines.error.length, 1, `one console.error per client: ${JSON.stringify(r.lines.error)}`);
  const [line] = r.lines.error;
  assert.match(line, /^authkeeper: the refresh endpoint answered invalid_client \("Invalid client_id parameter value\."\)/);
  assert.match(line, /clientId/);
  for (const token of r.tokens) assert.ok(!line.includes(token), 'no token in the console');
  // The user sees the ordinary message, not the server's developer text.
  assert.ok(!r.logouts[0][1].includes('client_id'));
});

test('refreshRequest and parseRefreshResponse talk to a server that fits neither preset', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, json } = window.harness;
    const backend = new StubBackend({ opaque: true, refreshPath: '/auth/renew' });
    const tokens = backend.login();
    // A server with header-based client authentication, a different field name and a wrapped answer.
    backend.onRefresh = async (call) => {
      const { renew_token: presented } = JSON.parse(call.body || '{}');
      if (call.headers['x-client-key'] !== 'k-123' || !backend.validRefresh.has(presented)) return json(401, { detail: 'bad' });
      backend.validRefresh.delete(presented);
      const access = backend.mintAccess(300);
      backend.validAccess.clear();
      backend.validAccess.add(access);
      const renew = `renew-${Math.random()}`;
      backend.validRefresh.add(renew);
      return json(200, { data: { token: access, renew, ttl: 300 } });
    };
    const seen = [];
    const auth = await createAuthClient({
      refreshUrl: '/auth/renew', fetch: backend.fetch, tabLock: false,
      refreshRequest: (refreshToken) => ({
        body: JSON.stringify({ renew_token: refreshToken, device: 'web' }),
        headers: { 'Content-Type': 'application/json', 'X-Client-Key': 'k-123' },
      }),
      parseRefreshResponse: (body) => { seen.push(Object.keys(body)); return { access: body.data.token, refresh: body.data.renew, expiresIn: body.data.ttl }; },
    });
    auth.setTokens({ ...tokens, expiresIn: 300 });
    backend.revokeAccess();
    const setAt = Date.now();
    const res = await auth.fetch('/api/items/');
    const [call] = backend.refreshCalls;
    return {
      status: res.status, seen, contentType: call.contentType, clientKey: call.headers['x-client-key'], accept: call.headers.accept,
      body: JSON.parse(call.body), initial: tokens.refresh,
      storedRefresh: localStorage.getItem('refreshToken'), valid: [...backend.validRefresh],
      expiresAt: auth.state().expiresAt, setAt,
    };
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { renew_token: r.initial, device: 'web' });
  assert.equal(r.contentType, 'application/json');
  assert.equal(r.clientKey, 'k-123');
  assert.equal(r.accept, 'application/json');
  assert.deepEqual(r.seen, [['data']]);
  assert.deepEqual([r.storedRefresh], r.valid, 'the renewed token replaced the old one');
  assert.ok(Math.abs(r.expiresAt - (r.setAt + 300_000)) < 2_000, 'the opaque token is timed by expiresIn');
});

test('a hook that throws or returns the wrong shape is a failed attempt: retried, one console.error, no logout, then refresh_unavailable', async () => {
  const page = await browser.page();
  const cases = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, errorInfo, captureConsole } = window.harness;
    const results = {};
    const all = captureConsole();
    const hooks = {
      requestThrows: { refreshRequest: (t) => { throw new Error(`cannot build with ${t}`); } },
      requestWrongShape: { refreshRequest: () => 'grant_type=refresh_token' },
      parseThrows: { parseRefreshResponse: (json) => { throw new Error(`no idea what ${json.access} is`); } },
      parseNoAccess: { parseRefreshResponse: () => ({ token: 'x' }) },
    };
    for (const [name, hook] of Object.entries(hooks)) {
      localStorage.clear();
      const events = recordEvents();
      const from = all.error.length;
      // Without rotation: with it, the failed parse loses the rotated token and the retry is
      // refused (invalid_token), as the README says.
      const backend = new StubBackend({ rotate: false });
      const tokens = backend.login();
      const auth = await createAuthClient({
        refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false,
        retry: { maxAttempts: 2, baseDelay: 10, maxDelay: 10, cooldown: 60_000 }, ...hook,
      });
      auth.setTokens(tokens);
      let error = null;
      try { await auth.refresh(); } catch (e) { error = errorInfo(e); }
      const lines = { error: all.error.slice(from) };
      const issued = backend.refreshCalls.length ? [...backend.validAccess, ...backend.validRefresh] : [];
      results[name] = {
        error, lines: lines.error, logouts: events.logout.length, refreshCalls: backend.refreshCalls.length,
        state: auth.state().status, stillStored: localStorage.getItem('refreshToken') !== null,
        leaked: lines.error.some((l) => [tokens.access, tokens.refresh, ...issued].some((t) => l.includes(t))),
      };
      auth.destroy();
    }
    return results;
  });
  for (const [name, r] of Object.entries(cases)) {
    assert.equal(r.error?.code, 'refresh_unavailable', `${name}: ${JSON.stringify(r)}`);
    assert.equal(r.logouts, 0, name);
    assert.equal(r.state, 'active', name);
    assert.equal(r.stillStored, true, name);
    assert.equal(r.lines.length, 1, `${name}: ${JSON.stringify(r.lines)}`);
    assert.equal(r.leaked, false, `${name}: ${r.lines[0]}`);
    assert.match(r.lines[0], /failed attempt/, name);
  }
  assert.equal(cases.requestThrows.refreshCalls, 0, 'nothing is sent when the request cannot be built');
  assert.match(cases.requestThrows.lines[0], /refreshRequest threw: cannot build with <redacted>/);
  assert.match(cases.requestWrongShape.lines[0], /refreshRequest must return \{ body, headers \}/);
  assert.equal(cases.parseThrows.refreshCalls, 2, 'both attempts reached the server');
  assert.match(cases.parseThrows.lines[0], /parseRefreshResponse threw: no idea what <redacted> is/);
  assert.match(cases.parseNoAccess.lines[0], /parseRefreshResponse returned no access token/);
});

test('an opaque access token survives a reload: its expiry is stored next to it and checked at start-up', async () => {
  const page = await browser.page();
  const first = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend } = window.harness;
    const backend = new StubBackend({ format: 'oauth', opaque: true });
    const tokens = backend.login();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshFormat: 'oauth' });
    const before = Date.now();
    auth.setTokens({ ...tokens, expiresIn: 600 });
    return { tokens, before, stored: localStorage.getItem('accessToken:expiresAt'), expiresAt: auth.state().expiresAt };
  });
  assert.equal(Number(first.stored), first.expiresAt);
  assert.ok(Math.abs(first.expiresAt - (first.before + 600_000)) < 1_000);
  await page.reload();
  await page.waitForFunction(() => window.fixtureReady === true);
  const reloaded = await page.evaluate(async (tokens) => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend({ format: 'oauth', opaque: true });
    backend.validAccess.add(tokens.access);
    backend.opaqueExpiry.set(tokens.access, backend.now() + 600);
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshFormat: 'oauth' });
    const res = await auth.fetch('/api/items/');
    return { status: res.status, bearer: backend.calls[0].authorization, refreshCalls: backend.refreshCalls.length, logouts: events.logout.length, state: auth.state() };
  }, first.tokens);
  assert.equal(reloaded.logouts, 0, 'not treated as malformed');
  assert.equal(reloaded.status, 200);
  assert.equal(reloaded.bearer, `Bearer ${first.tokens.access}`);
  assert.equal(reloaded.refreshCalls, 0);
  assert.equal(reloaded.state.expiresAt, first.expiresAt);

  // Stored as expired: refreshed before use, like a JWT past its exp.
  const expired = await page.evaluate(async (tokens) => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend } = window.harness;
    localStorage.setItem('accessToken:expiresAt', String(Date.now() - 1_000));
    const backend = new StubBackend({ format: 'oauth', opaque: true });
    backend.validRefresh.add(tokens.refresh);
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshFormat: 'oauth' });
    const res = await auth.fetch('/api/items/');
    return { status: res.status, refreshCalls: backend.refreshCalls.length, apiBearers: backend.calls.filter((c) => c.path === '/api/items/').map((c) => c.authorization) };
  }, first.tokens);
  assert.equal(expired.status, 200);
  assert.equal(expired.refreshCalls, 1);
  assert.ok(!expired.apiBearers.includes(`Bearer ${first.tokens.access}`), 'the expired opaque token was never sent');
});

test('cookie mode start-up: one silent refresh starts the session; a refusal leaves the client anonymous without auth:logout', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents } = window.harness;
    const out = {};
    for (const cookie of [true, false]) {
      localStorage.clear();
      const events = recordEvents();
      const backend = new StubBackend({ cookie: true });
      backend.cookieSession = cookie; // what the httpOnly cookie from an earlier visit would give
      backend.refreshDelay = 100;
      const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, refreshMode: 'cookie', storage: 'memory' });
      // Issued at once, while the start-up refresh is under way.
      const res = await auth.fetch('/api/items/');
      out[cookie ? 'withCookie' : 'withoutCookie'] = {
        status: res.status, bearer: backend.calls.find((c) => c.path === '/api/items/').authorization,
        refreshCalls: backend.refreshCalls.map((c) => ({ credentials: c.credentials, body: c.body })),
        logouts: events.logout.length, refreshed: events.refreshed.length, logins: events.login.length, state: auth.state().status,
        storage: Object.keys(localStorage),
      };
      auth.destroy();
    }
    return out;
  });
  const ok = r.withCookie;
  assert.deepEqual(ok.refreshCalls, [{ credentials: 'include', body: null }]);
  assert.equal(ok.status, 200);
  assert.match(ok.bearer, /^Bearer /, 'the request waited for the start-up refresh');
  assert.equal(ok.state, 'active');
  assert.equal(ok.logins, 1, 'a session found in the cookie is a sign-in (auth:login)');
  assert.equal(ok.refreshed, 0);
  const no = r.withoutCookie;
  assert.deepEqual(no.refreshCalls, [{ credentials: 'include', body: null }], 'one attempt, no retry of a refusal');
  assert.equal(no.logouts, 0, 'no auth:logout: there was no session to end');
  assert.equal(no.state, 'anonymous');
  assert.equal(no.bearer, null, 'the waiting request went out without a bearer');
  assert.equal(no.status, 401);
  assert.deepEqual(no.storage, []);
});

test('auth.refresh() refreshes a valid session once for all callers and rejects typed without one', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, errorInfo, json, signedIn } = window.harness;
    const { auth, backend, tokens } = await signedIn();
    backend.refreshDelay = 50;
    const results = await Promise.all([auth.refresh(), auth.refresh(), auth.fetch('/api/items/').then((res) => res.status)]);
    const after = { refreshCalls: backend.refreshCalls.length, stored: localStorage.getItem('accessToken'), old: tokens.access, valid: [...backend.validAccess][0] };
    const lastBearer = backend.calls.at(-1).authorization;
    // Refused: the session ends and the caller learns why.
    backend.onRefresh = () => json(401, { detail: 'Token is blacklisted', code: 'token_not_valid' });
    let refused = null;
    try { await auth.refresh(); } catch (e) { refused = errorInfo(e); }
    let anonymous = null;
    const fresh = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: new StubBackend().fetch, tabLock: false, keys: { access: 'other', refresh: 'otherR' } });
    try { await fresh.refresh(); } catch (e) { anonymous = errorInfo(e); }
    fresh.setTokens({ access: window.harness.accessToken(300) });
    let noRefresh = null;
    try { await fresh.refresh(); } catch (e) { noRefresh = errorInfo(e); }
    return { results, after, lastBearer, refused, anonymous, noRefresh };
  });
  assert.deepEqual(r.results, [undefined, undefined, 200]);
  assert.equal(r.after.refreshCalls, 1, 'single flight');
  assert.notEqual(r.after.stored, r.after.old);
  assert.equal(r.after.stored, r.after.valid);
  assert.equal(r.lastBearer, `Bearer ${r.after.valid}`);
  assert.equal(r.refused.code, 'logged_out');
  assert.equal(r.anonymous.code, 'no_session');
  assert.equal(r.noRefresh.code, 'no_refresh_token');
  assert.equal(r.refused.isAuthkeeperError, true);
});

test('logout() clears at once, then revokes the refresh token (SimpleJWT blacklist, RFC 7009, cookie) and reports it to onTrace', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, waitFor, json } = window.harness;
    const out = {};
    const setups = {
      simplejwt: { revokeUrl: '/api/auth/token/blacklist/?x=1' },
      oauth: { revokeUrl: '/o/revoke_token/', refreshFormat: 'oauth', clientId: 'spa' },
      cookie: { revokeUrl: '/api/auth/logout/', refreshMode: 'cookie' },
      failing: { revokeUrl: '/api/auth/token/blacklist/' },
      unreachable: { revokeUrl: '/api/auth/token/blacklist/' },
    };
    for (const [name, options] of Object.entries(setups)) {
      localStorage.clear();
      const events = recordEvents();
      const backend = new StubBackend({ cookie: name === 'cookie', format: options.refreshFormat ?? 'simplejwt' });
      const revokePath = new URL(options.revokeUrl, location.href).pathname;
      backend.onRequest = (call) => {
        if (call.path !== revokePath) return null;
        if (name === 'unreachable') throw new TypeError('Failed to fetch');
        return name === 'failing' ? json(503, { detail: 'down' }) : json(200, {});
      };
      const traces = [];
      const auth = await createAuthClient({
        refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, onTrace: (t) => traces.push(t), ...options,
      });
      const tokens = backend.login();
      auth.setTokens(tokens);
      auth.logout();
      const clearedAtOnce = localStorage.getItem('accessToken') === null && localStorage.getItem('refreshToken') === null;
      const stateAtOnce = auth.state().status;
      await waitFor(() => traces.some((t) => t.phase.startsWith('revoke')));
      const call = backend.calls.find((c) => c.path === revokePath);
      out[name] = {
        clearedAtOnce, stateAtOnce, logouts: events.logout.map((e) => e.reason), traces, tokens,
        call: call && { method: call.method, body: call.body, contentType: call.contentType, credentials: call.credentials, url: call.url },
      };
      auth.destroy();
    }
    return out;
  });
  for (const [name, x] of Object.entries(r)) {
    assert.equal(x.clearedAtOnce, true, name);
    assert.equal(x.stateAtOnce, 'logged_out', name);
    assert.deepEqual(x.logouts, ['manual'], name);
    const text = JSON.stringify(x.traces);
    assert.ok(!text.includes(x.tokens.refresh) && !text.includes(x.tokens.access), `${name}: no token in the trace`);
  }
  assert.deepEqual(r.simplejwt.call.method, 'POST');
  assert.deepEqual(JSON.parse(r.simplejwt.call.body), { refresh: r.simplejwt.tokens.refresh });
  assert.equal(r.simplejwt.call.contentType, 'application/json');
  assert.deepEqual(r.simplejwt.traces, [{ id: 0, url: '/api/auth/token/blacklist/', phase: 'revoked', status: 200 }]);
  assert.equal(r.oauth.call.body, `token=${encodeURIComponent(r.oauth.tokens.refresh)}&token_type_hint=refresh_token&client_id=spa`);
  assert.equal(r.oauth.call.contentType, 'application/x-www-form-urlencoded');
  assert.deepEqual({ body: r.cookie.call.body, credentials: r.cookie.call.credentials }, { body: null, credentials: 'include' });
  assert.deepEqual(r.failing.traces, [{ id: 0, url: '/api/auth/token/blacklist/', phase: 'revoke_failed', status: 503, error: 'http_503' }]);
  assert.deepEqual(r.unreachable.traces, [{ id: 0, url: '/api/auth/token/blacklist/', phase: 'revoke_failed', error: 'network' }]);
});

test('logout() while a refresh call is out: the revocation waits for its answer and names the rotated refresh token', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, waitFor, json } = window.harness;
    localStorage.clear();
    const backend = new StubBackend();
    backend.refreshDelay = 300;
    let answeredAt = null;
    backend.onRefresh = (call) => { const res = backend.refreshOk(call); answeredAt = performance.now(); return res; };
    backend.onRequest = (call) => (call.path === '/api/auth/token/blacklist/' ? json(200, {}) : null);
    const traces = [];
    const auth = await createAuthClient({
      refreshUrl: '/api/auth/token/refresh/', revokeUrl: '/api/auth/token/blacklist/', fetch: backend.fetch, tabLock: false,
      onTrace: (t) => traces.push(t),
    });
    const tokens = backend.login();
    auth.setTokens(tokens);
    const forced = auth.refresh().then(() => 'ok', (e) => e.code);
    await waitFor(() => backend.refreshCalls.length === 1);
    auth.logout();
    const stateAtOnce = auth.state().status;
    const revokesAtOnce = backend.calls.filter((c) => c.path === '/api/auth/token/blacklist/').length;
    await waitFor(() => traces.some((t) => t.phase.startsWith('revoke')));
    const revokes = backend.calls.filter((c) => c.path === '/api/auth/token/blacklist/');
    const out = {
      stateAtOnce, revokesAtOnce, forced: await forced, state: auth.state().status,
      revokes: revokes.map((c) => JSON.parse(c.body).refresh), revokeAt: revokes[0].at, answeredAt,
      old: tokens.refresh, rotated: [...backend.validRefresh], stored: localStorage.getItem('refreshToken'),
    };
    auth.destroy();
    return out;
  });
  assert.equal(r.stateAtOnce, 'logged_out', 'the logout itself is immediate');
  assert.equal(r.revokesAtOnce, 0, 'the revocation is held while the refresh call is out');
  assert.equal(r.rotated.length, 1);
  assert.notEqual(r.rotated[0], r.old);
  assert.deepEqual(r.revokes, [r.rotated[0]], 'the token the answer left valid is revoked, once');
  assert.ok(r.revokeAt >= r.answeredAt, 'after the answer');
  assert.equal(r.state, 'logged_out', 'the answer does not revive the session');
  assert.equal(r.stored, null, 'the rotated token is not stored');
});
