// The words the core's decisions reach people in: the core sends codes and small arguments,
// the driver's tables word them. These hold the wording itself, exactly as it has always read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

const ENDED = ', so the session was ended: ';
const HINTS = {
  invalid_client: 'the server does not know or accept this client: check clientId against the client registered on the server (public, without a secret)',
  unauthorized_client: 'this client may not use the refresh_token grant: allow it for the client on the server',
  invalid_request: 'the server cannot read the refresh request: check refreshFormat (\'simplejwt\' posts JSON {refresh}, \'oauth\' a form-encoded grant) and refreshMode',
  unsupported_grant_type: 'the server does not offer the refresh_token grant here: check refreshUrl (the token endpoint) and that refresh tokens are enabled',
  invalid_scope: 'check the scope option: it may not exceed the scope the session was granted',
};

test('console diagnostics: OAuth configuration errors, a failing hook, an implausible clock offset', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async ({ codes }) => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, json, makeJwt, captureConsole } = window.harness;
    const lines = captureConsole();
    const base = { refreshUrl: '/o/token/', tabLock: false, refreshFormat: 'oauth' };
    for (const code of codes) {
      localStorage.clear();
      const backend = new StubBackend({ format: 'oauth', refreshPath: '/o/token/' });
      backend.onRefresh = () => json(400, code === 'invalid_client' ? { error: code, error_description: 'Invalid client_id parameter value.' } : { error: code });
      const auth = await createAuthClient({ ...base, fetch: backend.fetch });
      auth.setTokens(backend.login());
      backend.revokeAccess();
      await auth.fetch('/api/items/');
      auth.destroy();
    }
    localStorage.clear();
    const backend = new StubBackend({ rotate: false });
    const hooked = await createAuthClient({
      refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false,
      retry: { maxAttempts: 1, cooldown: 60_000 }, parseRefreshResponse: () => ({ token: 'x' }),
    });
    hooked.setTokens(backend.login());
    await hooked.refresh().catch(() => {});
    hooked.destroy();
    localStorage.clear();
    const clock = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    // `iat` in milliseconds, as a misconfigured server sends it.
    clock.setTokens({ access: makeJwt({ exp: Math.floor(Date.now() / 1000) + 300, iat: Date.now() }) });
    // A refresh answer without iat whose Date header is decades behind.
    backend.onRefresh = () => json(200, { access: makeJwt({ exp: Math.floor(Date.now() / 1000) + 300 }) }, { date: 'Sun, 06 Nov 1994 08:49:37 GMT' });
    clock.setTokens({ access: makeJwt({ exp: Math.floor(Date.now() / 1000) + 300 }), refresh: 'R' });
    await clock.refresh();
    clock.destroy();
    return lines;
  }, { codes: Object.keys(HINTS) });
  assert.deepEqual(r.error, [
    `authkeeper: the refresh endpoint answered invalid_client ("Invalid client_id parameter value.")${ENDED}${HINTS.invalid_client}`,
    ...Object.keys(HINTS).slice(1).map((code) => `authkeeper: the refresh endpoint answered ${code}${ENDED}${HINTS[code]}`),
    'authkeeper: parseRefreshResponse returned no access token (access: undefined); the refresh counts as a failed attempt (retried with backoff, bounded by the circuit breaker), which does not end the session by itself',
  ]);
  assert.equal(r.warn.length, 2, JSON.stringify(r.warn));
  assert.match(r.warn[0], /^authkeeper: ignored the clock offset measured from the token's iat: the server's clock would be \d{9,} h ahead \(more than 24 h: is iat in milliseconds instead of seconds\?\); the previous estimate stands$/);
  assert.match(r.warn[1], /^authkeeper: ignored the clock offset measured from the refresh response's Date header: the server's clock would be \d{6} h behind \(more than 24 h\); the previous estimate stands$/);
});

test('auth:logout words the reason when the server gave no message, and other tabs show the same words', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend } = window.harness;
    const backend = new StubBackend();
    const options = { refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false };
    const a = await createAuthClient(options);
    a.setTokens(backend.login());
    // A second client on the same storage and channel: another tab, as far as `a` can tell.
    const b = await createAuthClient(options);
    const seen = { a: [], b: [] };
    a.subscribe((state, event) => { if (event.type === 'signed_out') seen.a.push({ ...event }); });
    b.subscribe((state, event) => { if (event.type === 'signed_out') seen.b.push({ ...event }); });
    const before = b.state().status;
    a.logout();
    await window.harness.waitFor(() => seen.b.length > 0);
    return { before, ...seen };
  });
  assert.equal(r.before, 'active');
  assert.deepEqual(r.a, [{ type: 'signed_out', reason: 'manual', message: 'You have signed out.' }]);
  assert.deepEqual(r.b, [{ type: 'signed_out', reason: 'remote', message: 'You have signed out.', originReason: 'manual' }]);
});
