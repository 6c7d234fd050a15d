// auth.subscribe / getSnapshot (the session as state), unknown options, and setTokens taking an
// OAuth-shaped login response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TERSE, useBrowser } from './support.mjs';

const browser = useBrowser();

test('a subscriber gets the current state at once, then every transition: signed_in, refreshed, signed_out', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const seen = [];
    const unsubscribe = auth.subscribe((state, event) => seen.push({ type: event.type, status: state.status, sub: state.claims?.user_id ?? null, reason: state.reason, same: state === auth.getSnapshot() }));
    auth.setTokens(backend.login());
    backend.revokeAccess();
    const res = await auth.fetch('/api/items/');
    backend.onRefresh = () => window.harness.json(401, { error: 'user_not_found', detail: 'User not found', action: 'clear_tokens' });
    backend.revokeAccess();
    await auth.fetch('/api/items/');
    unsubscribe();
    auth.setTokens(backend.login());
    return { seen, status: res.status };
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.seen.map((e) => [e.type, e.status]), [
    ['initial', 'anonymous'],
    ['signed_in', 'active'],
    ['refreshed', 'active'],
    ['signed_out', 'logged_out'],
  ], 'and nothing after unsubscribe');
  assert.equal(String(r.seen[1].sub), '1', 'the state carries the access token\'s claims');
  assert.equal(r.seen[3].reason, 'user_not_found');
  assert.ok(r.seen.every((e) => e.same), 'the state given is the snapshot until the next change');
});

test('a subscriber that comes after a start-up logout still learns it from the initial state', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    // Both tokens long expired: the session ends during createAuthClient, before anyone listens.
    localStorage.setItem('accessToken', window.harness.accessToken(-600));
    localStorage.setItem('refreshToken', window.harness.refreshToken(-60));
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    let first;
    auth.subscribe((state, event) => { first ??= { state, type: event.type }; });
    return first;
  });
  assert.equal(r.type, 'initial');
  assert.equal(r.state.status, 'logged_out');
  assert.equal(r.state.reason, 'session_expired');
});

test('two clients on one page have independent subscribers; a throwing subscriber does not silence the others', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const a = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, storage: 'memory', keys: { access: 'a', refresh: 'ar' } });
    const b = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, storage: 'memory', keys: { access: 'b', refresh: 'br' } });
    const heard = { a: [], b: [] };
    window.addEventListener('error', (e) => e.preventDefault());
    a.subscribe((s, e) => { if (e.type !== 'initial') throw new Error('listener bug'); });
    a.subscribe((s, e) => heard.a.push(e.type));
    b.subscribe((s, e) => heard.b.push(e.type));
    a.setTokens(backend.login());
    await new Promise((ok) => setTimeout(ok, 50));
    return heard;
  });
  assert.deepEqual(r.a, ['initial', 'signed_in']);
  assert.deepEqual(r.b, ['initial'], 'the other client (another key, memory storage) did not sign in');
});

test('unknown options are refused with the closest valid name; setTokens takes { access_token, refresh_token, expires_in }', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const errors = [];
    // Then names that are not options at their level: a nested option's path at the top, a group's
    // member elsewhere, names every object inherits.
    for (const options of [{ refreshTimout: 5000 }, { retry: { maxAttemps: 2 } }, { frobnicate: true }, { 'retry.maxAttempts': 2 },
      { access: 'a' }, { keys: { maxAttempts: 2 } }, { clear: { 'clear.patterns': [] } }, { toString: 1 }, { retry: { constructor: 1 } }]) {
      try { await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', ...options }); errors.push(null); } catch (e) { errors.push({ code: e.code, message: e.message }); }
    }
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const { access, refresh } = backend.login();
    auth.setTokens({ access_token: access, refresh_token: refresh, expires_in: 300, token_type: 'Bearer' });
    await auth.fetch('/api/items/');
    return { errors, bearer: backend.calls.at(-1).authorization === `Bearer ${access}`, stored: localStorage.getItem('refreshToken') === refresh };
  });
  assert.deepEqual(r.errors.map((e) => e?.code), Array(9).fill('invalid_option'));
  assert.deepEqual(r.errors.slice(3).map((e) => e.message.match(/unknown option (`[^`]*`)/)?.[1]),
    ['`retry.maxAttempts`', '`access`', '`keys.maxAttempts`', '`clear.clear.patterns`', '`toString`', '`retry.constructor`']);
  if (TERSE) {
    // The production build names the option without the suggestion (developer wording).
    assert.deepEqual(r.errors.slice(0, 3).map((e) => e.message.replace(/^.*unknown option /, '')), ['`refreshTimout`', '`retry.maxAttemps`', '`frobnicate`']);
  } else {
    assert.match(r.errors[0].message, /unknown option `refreshTimout`; did you mean `refreshTimeout`\?/);
    assert.match(r.errors[1].message, /unknown option `retry.maxAttemps`; did you mean `retry.maxAttempts`\?/);
    assert.doesNotMatch(r.errors[2].message, /did you mean/);
  }
  assert.equal(r.bearer, true);
  assert.equal(r.stored, true);
});
