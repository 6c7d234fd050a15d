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

// Issue 9: the origin is decided on the URL exactly as fetch resolves it.

test('a tab, LF or CR in a relative URL does not carry the bearer to the host the URL parser finds', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend, tokens } = await window.session();
    const inputs = ['/\t/evil.example/x', '/\n/evil.example/x', '/\r/evil.example/x', '\t//evil.example/y', '/\\\t/evil.example/z', '/api/\titems/'];
    for (const input of inputs) await auth.fetch(input);
    return backend.calls.map((c) => [c.url, c.authorization === null ? null : c.authorization === `Bearer ${tokens.access}`]);
  });
  // Scheme-relative once the parser has dropped the tab or newline: the page's scheme, evil's host.
  assert.deepEqual(r.slice(0, 5), [
    ['http://evil.example/x', null], ['http://evil.example/x', null], ['http://evil.example/x', null],
    ['http://evil.example/y', null], ['http://evil.example/z', null],
  ]);
  // The parser drops the tab: a same-origin path, and it gets the bearer.
  assert.equal(r[5][1], true);
  assert.match(r[5][0], /\/api\/items\/$/);
});

test('a <base href> is honoured: relative URLs that it sends to another origin get no bearer', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend, tokens } = await window.session();
    const send = async () => {
      backend.calls.length = 0;
      for (const input of ['/api/x', 'api/y', new URL('z', document.baseURI)]) await auth.fetch(input);
      return backend.calls.map((c) => [c.url, c.authorization === `Bearer ${tokens.access}`]);
    };
    const base = document.createElement('base');
    // Inserted after the client was created, as an injected <base> would be.
    base.href = 'https://evil.example/app/';
    document.head.prepend(base);
    const foreign = await send();
    base.href = '/sub/dir/';
    const same = await send();
    base.remove();
    const none = await send();
    return { foreign, same, none, origin: location.origin };
  });
  assert.deepEqual(r.foreign, [['https://evil.example/api/x', false], ['https://evil.example/app/api/y', false], ['https://evil.example/app/z', false]]);
  assert.deepEqual(r.same, [[`${r.origin}/api/x`, true], [`${r.origin}/sub/dir/api/y`, true], [`${r.origin}/sub/dir/z`, true]]);
  assert.deepEqual(r.none, [[`${r.origin}/api/x`, true], [`${r.origin}/tests/js/api/y`, true], [`${r.origin}/tests/js/z`, true]]);
});

test("a Request from another realm (a same-origin iframe's) is classified by its own URL and keeps its headers and body", async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend, tokens } = await window.session();
    const frame = document.createElement('iframe');
    document.body.append(frame);
    const FrameRequest = frame.contentWindow.Request;
    const foreign = new FrameRequest('https://evil.example/steal', { headers: { 'x-own': 'yes' } });
    const ours = new FrameRequest(`${location.origin}/api/items/`, { method: 'POST', body: 'payload', headers: { 'x-own': 'yes', 'content-type': 'text/plain' } });
    const replaced = new FrameRequest(`${location.origin}/api/items/`, { headers: { 'x-own': 'yes' } });
    const statuses = [];
    statuses.push((await auth.fetch(foreign)).status);
    statuses.push((await auth.fetch(ours)).status);
    statuses.push((await auth.fetch(replaced, { headers: { 'x-init': 'yes' } })).status);
    return {
      sameRealm: foreign instanceof Request,
      statuses,
      sent: backend.calls.map((c) => ({
        url: c.url, method: c.method, body: c.body, own: c.headers['x-own'] ?? null, init: c.headers['x-init'] ?? null,
        bearer: c.authorization === null ? null : c.authorization === `Bearer ${tokens.access}`,
      })),
      origin: location.origin,
    };
  });
  assert.equal(r.sameRealm, false, 'the test needs a Request that fails instanceof');
  assert.deepEqual(r.statuses, [200, 200, 200]);
  assert.deepEqual(r.sent, [
    { url: 'https://evil.example/steal', method: 'GET', body: null, own: 'yes', init: null, bearer: null },
    { url: `${r.origin}/api/items/`, method: 'POST', body: 'payload', own: 'yes', init: null, bearer: true },
    // Per fetch, init.headers replaces the Request's own headers.
    { url: `${r.origin}/api/items/`, method: 'GET', body: null, own: null, init: 'yes', bearer: true },
  ]);
});

test('after destroy(), auth.fetch rejects with code destroyed and sends nothing', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend } = await window.session();
    auth.destroy();
    const outcomes = [];
    for (const input of ['/api/items/', 'https://elsewhere.example/', new Request('/api/items/')]) {
      outcomes.push(await window.harness.outcome(auth.fetch(input)));
    }
    return { outcomes, calls: backend.calls.length };
  });
  for (const o of r.outcomes) {
    assert.equal(o.error?.code, 'destroyed', JSON.stringify(o));
    assert.equal(o.error.isAuthkeeperError, true);
  }
  assert.equal(r.calls, 0);
});

test('skipRefreshFor and the refresh URL match the path as fetch sends it (tabs dropped, non-ASCII percent-encoded)', async () => {
  const page = await browser.page({ beforeLoad: SESSION });
  const r = await page.evaluate(async () => {
    const { auth, backend } = await window.session({ skipRefreshFor: ['/login', '/über'] });
    const inputs = ['/lo\tgin/', '/api/auth/token/re\nfresh/', '/%C3%BCber/x', '/über/x', new Request('/über/y'), '/api/überall/', '/api/items/'];
    for (const input of inputs) await auth.fetch(input);
    return backend.calls.map((c) => [c.path, c.authorization !== null]);
  });
  assert.deepEqual(r, [
    ['/login/', false], ['/api/auth/token/refresh/', false], ['/%C3%BCber/x', false], ['/%C3%BCber/x', false],
    ['/%C3%BCber/y', false], ['/api/%C3%BCberall/', true], ['/api/items/', true],
  ]);
});
