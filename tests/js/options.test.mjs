// The public surface: options validated at creation with errors that name the option,
// setTokens validation, decodeJwt, destroy().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

test('bad options are rejected at creation with invalid_option and a message naming the option', async () => {
  const page = await browser.page();
  // Built in the page: NaN, Infinity and RegExps do not survive the trip as arguments.
  const results = await page.evaluate(async () => {
    const { createAuthClient, isAuthkeeperError } = window.authkeeper;
    const base = { refreshUrl: '/api/auth/token/refresh/' };
    const cases = [
      ['options', null],
      ['refreshUrl', {}],
      ['refreshUrl', { refreshUrl: '' }],
      ['refreshUrl', { refreshUrl: 'http://[::1' }],
      ['storage', { ...base, storage: 'disk' }],
      ['refreshMode', { ...base, refreshMode: 'header' }],
      ['refreshFormat', { ...base, refreshFormat: 'jwt' }],
      ['keys.access', { ...base, keys: { access: '' } }],
      ['legacyKeys.refresh', { ...base, legacyKeys: { refresh: 'refresh_token' } }],
      ['apiOrigins', { ...base, apiOrigins: 'https://api.example.com' }],
      ['apiOrigins', { ...base, apiOrigins: ['api.example.com'] }],
      ['skipRefreshFor', { ...base, skipRefreshFor: '/login' }],
      ['leeway', { ...base, leeway: -5 }],
      ['expiringWarning', { ...base, expiringWarning: '60s' }],
      ['refreshTimeout', { ...base, refreshTimeout: Infinity }],
      ['retry.maxAttempts', { ...base, retry: { maxAttempts: 0 } }],
      ['retry.baseDelay', { ...base, retry: { baseDelay: -1 } }],
      ['retry.giveUpAfter', { ...base, retry: { giveUpAfter: NaN } }],
      // Out of the core's ranges: refused by name, never clamped (1000 used to become 100, 0 to 1000).
      ['retry.maxAttempts', { ...base, retry: { maxAttempts: 1000 } }],
      ['retry.cooldown', { ...base, retry: { cooldown: 0 } }],
      ['retry.maxDelay', { ...base, retry: { baseDelay: 5000, maxDelay: 1000 } }],
      ['refreshTimeout', { ...base, refreshTimeout: 2.5 }],
      ['retry', { ...base, retry: 3 }],
      ['refreshWhenHidden', { ...base, refreshWhenHidden: 'yes' }],
      ['clear.patterns', { ...base, clear: { patterns: [/token/] } }],
      ['clear.sessionStorage', { ...base, clear: { sessionStorage: true } }],
      ['clientId', { ...base, clientId: 42 }],
      ['fetch', { ...base, fetch: 'window.fetch' }],
      ['onTrace', { ...base, onTrace: {} }],
    ];
    const out = [];
    for (const [name, options] of cases) {
      try {
        await createAuthClient(options);
        out.push({ name, created: true });
      } catch (e) {
        out.push({ name, errorName: e.name, code: e.code, message: e.message, guard: isAuthkeeperError(e), isError: e instanceof Error });
      }
    }
    return out;
  });
  assert.equal(results.length, 29);
  for (const r of results) {
    assert.equal(r.code, 'invalid_option', `${r.name}: ${JSON.stringify(r)}`);
    assert.equal(r.errorName, 'AuthkeeperError');
    assert.equal(r.guard, true);
    assert.equal(r.isError, true);
    assert.ok(r.message.includes(`\`${r.name}\``), `message names ${r.name}: ${r.message}`);
  }
});

test('the core\'s errors keep their wording (the core sends a number and its arguments, the driver words them)', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const base = { refreshUrl: '/api/auth/token/refresh/', tabLock: false };
    const message = async (f) => { try { await f(); return null; } catch (e) { return [e.code, e.message]; } };
    const options = [];
    for (const o of [{ retry: { maxAttempts: 1000 } }, { retry: { cooldown: 0 } }, { refreshTimeout: Infinity }, { retry: { maxAttempts: 2.5 } },
      { leeway: -1 }, { retry: { baseDelay: 5000, maxDelay: 1000 } }]) options.push(await message(() => createAuthClient({ ...base, ...o })));
    const backend = new window.harness.StubBackend();
    const auth = await createAuthClient({ ...base, fetch: backend.fetch });
    const noSession = await message(() => auth.refresh());
    const tokens = [await message(() => auth.setTokens({ access: 'opaque-without-expires-in' })),
      await message(() => auth.setTokens({ access: 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln' }))];
    auth.setTokens(backend.login());
    auth.logout();
    const loggedOut = await message(() => auth.refresh());
    auth.destroy();
    const destroyed = await message(() => auth.state());
    return { options, noSession, tokens, loggedOut, destroyed };
  });
  const option = (text) => ['invalid_option', `createAuthClient: option ${text}`];
  assert.deepEqual(r.options, [
    option('`retry.maxAttempts` must be a whole number from 1 to 100'),
    option('`retry.cooldown` must be a whole number from 1000 to 86400000 (milliseconds)'),
    option('`refreshTimeout` must be a whole number from 100 to 600000 (milliseconds), not NaN or Infinity'),
    option('`retry.maxAttempts` must be a whole number from 1 to 100, not a fraction'),
    option('`leeway` must be a whole number from 0 to 3600000 (milliseconds)'),
    option('`retry.maxDelay` must be at least `retry.baseDelay`'),
  ]);
  assert.deepEqual(r.tokens, [
    ['malformed_token', 'setTokens: the access token is not usable: a JWT has 3 dot-separated segments'],
    ['malformed_token', 'setTokens: the access token is not usable: the token payload is not JSON'],
  ]);
  assert.deepEqual(r.noSession, ['no_session', 'there is no session']);
  assert.deepEqual(r.loggedOut, ['logged_out', 'the session has ended: manual']);
  assert.deepEqual(r.destroyed, ['destroyed', 'the auth client was destroyed']);
});

test('valid options with every default overridden create a working client', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const trace = [];
    const auth = await createAuthClient({
      refreshUrl: `${location.origin}/api/auth/token/refresh/`, storage: 'session', keys: { access: 'a', refresh: 'r' },
      legacyKeys: { access: [], refresh: [] }, refreshMode: 'body', refreshFormat: 'simplejwt', apiOrigins: ['https://api.example.com/'],
      skipRefreshFor: ['/login'], loginUrl: null, leeway: 1000, expiringWarning: 0, refreshWhenHidden: true, refreshTimeout: 5000,
      retry: { maxAttempts: 1, baseDelay: 0, maxDelay: 0, cooldown: 1000, giveUpAfter: 0 }, clear: { patterns: [], sessionStorage: 'none' }, clientId: 'spa', scope: 'read',
      tabLock: false, fetch: backend.fetch, onTrace: (e) => trace.push(e.phase),
    });
    auth.setTokens(backend.login());
    backend.revokeAccess();
    const res = await auth.fetch('/api/items/');
    return { status: res.status, trace, refreshCalls: backend.refreshCalls.length };
  });
  assert.equal(r.status, 200);
  assert.equal(r.refreshCalls, 1);
  assert.deepEqual(r.trace, ['sent', '401', 'replayed']);
});

test('setTokens rejects bad input with a typed error and leaves the session unchanged', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const tokens = backend.login();
    auth.setTokens(tokens);
    const attempts = [
      () => auth.setTokens({ access: '' }),
      () => auth.setTokens({ access: 42 }),
      () => auth.setTokens({ access: tokens.access, refresh: 7 }),
      () => auth.setTokens({ access: 'opaque-without-expires-in' }),
      () => auth.setTokens({ access: 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln', refresh: tokens.refresh }),
    ];
    const errors = attempts.map((f) => { try { f(); return null; } catch (e) { return { code: e.code, name: e.name, message: e.message }; } });
    await auth.fetch('/api/items/');
    return { errors, bearer: backend.calls.at(-1).authorization === `Bearer ${tokens.access}`, stored: localStorage.getItem('accessToken') === tokens.access };
  });
  assert.deepEqual(r.errors.map((e) => e?.code), ['invalid_option', 'invalid_option', 'invalid_option', 'malformed_token', 'malformed_token']);
  assert.ok(r.errors.every((e) => e.name === 'AuthkeeperError'));
  // Named by the method they came from, not by createAuthClient.
  assert.match(r.errors[0].message, /^setTokens: field `access` must be/);
  assert.match(r.errors[2].message, /^setTokens: field `refresh` must be/);
  assert.equal(r.bearer, true);
  assert.equal(r.stored, true);
});

test('decodeJwt works before createAuthClient (it needs no wasm: atob + JSON.parse)', async () => {
  const page = await browser.page();
  const r = await page.evaluate(() => window.authkeeper.decodeJwt(window.harness.makeJwt({ exp: 1_900_000_000, sub: 'ann' })));
  assert.deepEqual(r, { exp: 1_900_000_000, sub: 'ann' });
});

test('decodeJwt keeps the claims as the Rust reader gave them: numeric user_id as text, fractional times truncated, null times absent; oversized tokens refused', async () => {
  const page = await browser.page();
  const r = await page.evaluate(() => {
    const { decodeJwt, createAuthClient } = window.authkeeper;
    const claims = decodeJwt(window.harness.makeJwt({ exp: 1_900_000_000.75, iat: null, sub: 12, user_id: 42, role: 'admin' }));
    const big = window.harness.makeJwt({ exp: 1, pad: 'x'.repeat(17_000) });
    let oversized;
    try { decodeJwt(big); oversized = 'decoded'; } catch (e) { oversized = { code: e.code, message: e.message }; }
    return { claims, keys: Object.keys(claims).sort(), oversized };
  });
  assert.deepEqual(r.claims, { exp: 1_900_000_000, sub: '12', user_id: '42', role: 'admin' });
  assert.deepEqual(r.keys, ['exp', 'role', 'sub', 'user_id'], 'a null time claim is absent');
  assert.equal(r.oversized.code, 'malformed_token');
  assert.match(r.oversized.message, /16 KiB/);
});

test('decodeJwt returns the claims of a token and throws AuthkeeperError malformed_token on garbage', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { decodeJwt, AuthkeeperError, createAuthClient } = window.authkeeper;
    await createAuthClient({ refreshUrl: '/r', tabLock: false });
    const token = window.harness.makeJwt({ exp: 1_900_000_000, iat: 1_899_999_700, sub: 'ann', user_id: '7', scope: ['read'], nested: { a: 1 } });
    const claims = decodeJwt(token);
    const bad = ['', 'garbage', 'a.b', 'x.!!!.y', `${token}.extra`, window.harness.makeJwt([1, 2]), null, undefined, 42].map((input) => {
      try {
        decodeJwt(input);
        return { input: String(input), decoded: true };
      } catch (e) {
        return { input: String(input), code: e.code, name: e.name, instance: e instanceof AuthkeeperError, message: e.message };
      }
    });
    return { claims, bad };
  });
  assert.deepEqual(r.claims, { exp: 1_900_000_000, iat: 1_899_999_700, sub: 'ann', user_id: '7', scope: ['read'], nested: { a: 1 } });
  for (const b of r.bad) {
    assert.equal(b.code, 'malformed_token', JSON.stringify(b));
    assert.equal(b.name, 'AuthkeeperError');
    assert.equal(b.instance, true);
    assert.ok(b.message.length > 0);
  }
});

test('destroy() rejects waiting requests with code destroyed and stops the client refreshing', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, accessToken, sleep } = window.harness;
    const backend = new StubBackend({ accessTtl: 2 });
    const tokens = backend.login();
    localStorage.setItem('accessToken', accessToken(-60));
    localStorage.setItem('refreshToken', tokens.refresh);
    backend.refreshDelay = 200;
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const p = auth.fetch('/api/items/').then(() => null, (e) => ({ code: e.code, name: e.name }));
    auth.destroy();
    const error = await p;
    // The in-flight refresh lands on a destroyed client; its 2 s token must not schedule more.
    await sleep(2_000);
    // Nothing hands out a token after destroy(): not fetch, not getAccessToken.
    const later = await Promise.all([auth.fetch('/api/items/'), auth.getAccessToken()].map((q) => q.then((v) => ({ value: v }), (e) => ({ code: e.code }))));
    return { error, later, refreshCalls: backend.refreshCalls.length, apiCalls: backend.calls.filter((c) => c.path === '/api/items/').length };
  });
  assert.deepEqual(r.error, { code: 'destroyed', name: 'AuthkeeperError' });
  assert.deepEqual(r.later, [{ code: 'destroyed' }, { code: 'destroyed' }]);
  assert.equal(r.refreshCalls, 1);
  assert.equal(r.apiCalls, 0);
});
