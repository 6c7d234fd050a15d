// The production build (pkg/index.prod.js, package.json's "production" export condition): the same
// codes, option names and end-user texts as the default build, without the developer explanations.
// Its behaviour is the default build's: scripts/test.sh runs the behaviour tests of tests/js a
// second time against it (AUTHKEEPER_MODULE=/pkg/index.prod.js); this file holds what differs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useBrowser } from './support.mjs';

const browser = useBrowser();
const built = (name) => readFileSync(new URL(`../../pkg/${name}`, import.meta.url), 'utf8');

test('the production build is the default build without its developer explanations', () => {
  const terse = built('index.prod.js');
  const full = built('index.js');
  for (const text of ['did you mean', 'must be a whole number', 'the refresh counts as a failed attempt', 'check clientId']) {
    assert.ok(full.includes(text), `the default build explains: ${text}`);
    assert.ok(!terse.includes(text), `the production build does not: ${text}`);
  }
  // What an app may show its users stays in both.
  assert.ok(terse.includes('Your session has expired. Please sign in again.'));
  assert.ok(terse.length < full.length - 3000, `${terse.length} vs ${full.length} bytes`);
});

test('production build: errors keep their code and name the option or field', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient, isAuthkeeperError } = await import('/pkg/index.prod.js');
    const { makeJwt } = window.harness;
    const fail = (p) => p.then(() => null, (e) => ({ code: e.code, message: e.message, typed: isAuthkeeperError(e) }));
    const base = { refreshUrl: '/api/auth/token/refresh/', tabLock: false, storage: 'memory' };
    const auth = await createAuthClient(base);
    let setTokens;
    try { auth.setTokens({ access: 'not-a-jwt' }); } catch (e) { setTokens = { code: e.code, message: e.message }; }
    let field;
    try { auth.setTokens({ access: makeJwt({ exp: 2_000_000_000 }), expiresIn: -1 }); } catch (e) { field = { code: e.code, message: e.message }; }
    return {
      type: await fail(createAuthClient({ ...base, leeway: 'soon' })),
      unknown: await fail(createAuthClient({ ...base, refreshTimout: 5000 })),
      range: await fail(createAuthClient({ ...base, refreshTimeout: -5 })),
      order: await fail(createAuthClient({ ...base, retry: { baseDelay: 5000, maxDelay: 10 } })),
      setTokens,
      field,
    };
  });
  assert.deepEqual(r.type, { code: 'invalid_option', message: 'createAuthClient: option `leeway`', typed: true });
  assert.deepEqual(r.unknown, { code: 'invalid_option', message: 'createAuthClient: unknown option `refreshTimout`', typed: true });
  assert.deepEqual(r.range, { code: 'invalid_option', message: 'invalid_option: refreshTimeout', typed: true });
  assert.deepEqual(r.order, { code: 'invalid_option', message: 'invalid_option: retry.maxDelay', typed: true });
  assert.deepEqual(r.setTokens, { code: 'malformed_token', message: 'malformed_token' });
  assert.deepEqual(r.field, { code: 'invalid_option', message: 'setTokens: field `expiresIn`' });
});

test('production build: console diagnostics are a code and the data, never a token', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = await import('/pkg/index.prod.js');
    const { StubBackend, recordEvents, json, captureConsole } = window.harness;
    const events = recordEvents();
    const lines = captureConsole();
    const backend = new StubBackend({ format: 'oauth', refreshPath: '/o/token/' });
    backend.onRefresh = () => json(401, { error: 'invalid_client', error_description: 'Invalid client_id parameter value.' });
    const auth = await createAuthClient({ refreshUrl: '/o/token/', fetch: backend.fetch, tabLock: false, refreshFormat: 'oauth', clientId: 'wrong-id' });
    const t = backend.login();
    auth.setTokens(t);
    backend.revokeAccess();
    await auth.fetch('/api/items/');
    return { lines, tokens: [t.access, t.refresh], logouts: events.logout.map((e) => [e.reason, e.message]) };
  });
  assert.deepEqual(r.lines.error, ['authkeeper: refresh_misconfigured invalid_client Invalid client_id parameter value.']);
  for (const token of r.tokens) assert.ok(!r.lines.error[0].includes(token));
  assert.deepEqual(r.logouts, [['invalid_token', 'Your session is no longer valid. Please sign in again.']]);
});
