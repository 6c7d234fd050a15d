// Which requests carry the bearer and may trigger a refresh: same origin and `apiOrigins` only,
// never `skipRefreshFor`, never the refresh URL, never a third party.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

/** In the page: a live session (valid token) with the stub backend. */
const SESSION = `
  window.session = async (options = {}) => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const tokens = backend.login();
    const events = window.harness.recordEvents();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, ...options });
    auth.setTokens(tokens);
    return { auth, backend, tokens, events };
  };
`;

test('login, register and verify-otp requests never get the bearer and their 401s never trigger a refresh', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend, events } = await window.session();
    const paths = ['/api/auth/login/', '/api/auth/register/', '/api/auth/verify-otp/', '/login', '/api/auth/verify-otp/?code=123456'];
    const statuses = [];
    for (const path of paths) {
      statuses.push((await auth.fetch(path, { method: 'POST', body: JSON.stringify({ username: 'ann', password: 'wrong' }) })).status);
    }
    await window.harness.sleep(100);
    return {
      statuses, refreshCalls: backend.refreshCalls.length,
      sent: backend.calls.map((c) => ({ path: c.path, authorization: c.authorization })),
      logouts: events.logout.length, state: auth.state().status,
    };
  });
  assert.deepEqual(r.statuses, [401, 401, 401, 401, 401]);
  assert.equal(r.refreshCalls, 0);
  assert.equal(r.sent.length, 5, 'each sent exactly once: no replay');
  for (const call of r.sent) assert.equal(call.authorization, null, call.path);
  assert.equal(r.logouts, 0);
  assert.equal(r.state, 'active');
});

test('requests to an origin that is neither the page nor in apiOrigins never get the bearer and are never retried', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend } = await window.session({ apiOrigins: ['https://api.example.com'] });
    const port = Number(location.port);
    const urls = [
      'https://evil.example.com/api/items/',
      'https://api.example.com.evil.net/api/items/',
      'http://api.example.com/api/items/',          // wrong scheme
      'https://api.example.com:8443/api/items/',    // wrong port
      `http://127.0.0.1:${port + 1}/api/items/`,    // the page's host, another port
      `http://localhost:${port}/api/items/`,        // the page's port, another host
    ];
    const statuses = [];
    for (const url of urls) statuses.push((await auth.fetch(url)).status);
    return { urls, statuses, refreshCalls: backend.refreshCalls.length, sent: backend.calls.map((c) => [c.url, c.authorization]) };
  });
  // The stub answers 401 to any /api/ call without a valid bearer: they all come back 401, once.
  assert.deepEqual(r.statuses, Array(r.urls.length).fill(401));
  assert.equal(r.refreshCalls, 0);
  assert.deepEqual(r.sent.map(([url]) => url), r.urls);
  for (const [url, authorization] of r.sent) assert.equal(authorization, null, url);
});

test('a request to a listed apiOrigins origin gets the bearer, and its 401 is refreshed and replayed', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend, tokens } = await window.session({ apiOrigins: ['https://api.example.com', 'https://files.example.com/ignored/path'] });
    const first = await auth.fetch('https://api.example.com/api/orders?page=2');
    const second = await auth.fetch('https://files.example.com/api/upload-url');
    backend.revokeAccess();
    const third = await auth.fetch('https://api.example.com/api/orders');
    return {
      statuses: [first.status, second.status, third.status],
      sent: backend.calls.filter((c) => !c.path.includes('refresh')).map((c) => c.authorization),
      refreshCalls: backend.refreshCalls.length, old: `Bearer ${tokens.access}`, fresh: `Bearer ${[...backend.validAccess][0]}`,
    };
  });
  assert.deepEqual(r.statuses, [200, 200, 200]);
  assert.deepEqual(r.sent, [r.old, r.old, r.old, r.fresh]);
  assert.equal(r.refreshCalls, 1);
});

test('the refresh URL called through auth.fetch gets no bearer and its 401 does not start a refresh', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend, events } = await window.session();
    const res = await auth.fetch('/api/auth/token/refresh/', { method: 'POST', body: JSON.stringify({ refresh: 'bogus' }), headers: { 'content-type': 'application/json' } });
    await window.harness.sleep(100);
    return { status: res.status, refreshCalls: backend.refreshCalls.map((c) => [c.authorization, c.body]), logouts: events.logout.length, state: auth.state().status };
  });
  assert.equal(r.status, 401);
  // Only the app's own call: the SDK did not start one of its own.
  assert.deepEqual(r.refreshCalls, [[null, '{"refresh":"bogus"}']]);
  assert.equal(r.logouts, 0, "the app's own refresh call is not the SDK's refresh outcome");
  assert.equal(r.state, 'active');
});

test('a request that already carries an Authorization header is sent untouched and its 401 is returned as is', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend } = await window.session();
    const res = await auth.fetch('/api/items/', { headers: { Authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' } });
    return { status: res.status, sent: backend.calls.map((c) => c.authorization), refreshCalls: backend.refreshCalls.length };
  });
  assert.equal(r.status, 401);
  assert.deepEqual(r.sent, ['Basic YWxhZGRpbjpvcGVuc2VzYW1l']);
  assert.equal(r.refreshCalls, 0);
});

test('a custom skipRefreshFor replaces the default list', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend } = await window.session({ skipRefreshFor: ['/public/'] });
    await auth.fetch('/api/public/prices');
    await auth.fetch('/api/items/');
    return backend.calls.map((c) => [c.path, c.authorization === null]);
  });
  assert.deepEqual(r, [['/api/public/prices', true], ['/api/items/', false]]);
});

test('URL objects, relative paths and Request objects to the page origin all get the bearer', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend, tokens } = await window.session();
    const inputs = [
      new URL('/api/a', location.href),
      'api/b',
      `${location.origin}/api/c`,
      new Request('/api/d'),
      '/api/./e?x=1',
    ];
    const statuses = [];
    for (const input of inputs) statuses.push((await auth.fetch(input)).status);
    return { statuses, sent: backend.calls.map((c) => [c.path, c.authorization === `Bearer ${tokens.access}`]) };
  });
  assert.deepEqual(r.statuses, [200, 200, 200, 200, 200]);
  assert.deepEqual(r.sent, [['/api/a', true], ['/tests/js/api/b', true], ['/api/c', true], ['/api/d', true], ['/api/e', true]]);
});
