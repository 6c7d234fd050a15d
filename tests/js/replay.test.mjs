// A 401 from the API: refresh once, replay the original request once with the new token and the
// same body; a second 401 is the caller's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

/** In the page: a client holding tokens the server has revoked, so the next request gets 401. */
const REVOKED_SESSION = `
  window.revokedSession = async (options = {}) => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const tokens = backend.login();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, ...options });
    auth.setTokens(tokens);
    backend.revokeAccess();
    return { auth, backend, tokens };
  };
`;

test('a POST with a JSON body is replayed after the refresh with the same body, headers and the new bearer', async () => {
  const page = await browser.page({ beforeLoad: REVOKED_SESSION });
  const result = await page.evaluate(async () => {
    const { auth, backend, tokens } = await window.revokedSession();
    const payload = JSON.stringify({ symbol: 'ACME', qty: 3, note: 'ünïcødé ✓' });
    const res = await auth.fetch('/api/paper-trades/', {
      method: 'POST', body: payload, headers: { 'content-type': 'application/json', 'x-request-id': 'r-42' },
    });
    const calls = backend.calls.filter((c) => c.path === '/api/paper-trades/');
    return {
      payload, status: res.status, echoed: (await res.json()).body,
      calls: calls.map(({ method, body, authorization, contentType, headers }) => ({ method, body, authorization, contentType, requestId: headers['x-request-id'] })),
      refreshCalls: backend.refreshCalls.length,
      old: `Bearer ${tokens.access}`,
      fresh: `Bearer ${[...backend.validAccess][0]}`,
    };
  });
  assert.equal(result.refreshCalls, 1);
  assert.equal(result.status, 200);
  assert.equal(result.calls.length, 2);
  const [first, replay] = result.calls;
  assert.equal(first.authorization, result.old);
  assert.equal(replay.authorization, result.fresh);
  for (const call of result.calls) {
    assert.equal(call.method, 'POST');
    assert.equal(call.body, result.payload);
    assert.equal(call.contentType, 'application/json');
    assert.equal(call.requestId, 'r-42');
  }
  assert.equal(result.echoed, result.payload);
});

test('a POST with FormData (a file part and a text field) is replayed with the same multipart parts', async () => {
  const page = await browser.page({ beforeLoad: REVOKED_SESSION });
  const result = await page.evaluate(async () => {
    const { auth, backend } = await window.revokedSession();
    const form = new FormData();
    form.append('title', 'Quarterly report');
    form.append('file', new File(['col1,col2\n1,2\n'], 'report.csv', { type: 'text/csv' }));
    const res = await auth.fetch('/api/uploads/', { method: 'POST', body: form });
    const calls = backend.calls.filter((c) => c.path === '/api/uploads/');
    return {
      status: res.status,
      calls: calls.map(({ parts, authorization, contentType }) => ({ parts, authorization, boundary: /boundary=/.test(contentType ?? '') })),
      refreshCalls: backend.refreshCalls.length,
      fresh: `Bearer ${[...backend.validAccess][0]}`,
    };
  });
  assert.equal(result.refreshCalls, 1);
  assert.equal(result.status, 200);
  assert.equal(result.calls.length, 2);
  const expected = [
    { name: 'title', value: 'Quarterly report' },
    { name: 'file', filename: 'report.csv', type: 'text/csv', text: 'col1,col2\n1,2\n' },
  ];
  assert.deepEqual(result.calls[0].parts, expected);
  assert.deepEqual(result.calls[1].parts, expected);
  assert.equal(result.calls[1].boundary, true);
  assert.equal(result.calls[1].authorization, result.fresh);
});

test('a URLSearchParams body and a Request object passed as input are replayed intact', async () => {
  const page = await browser.page({ beforeLoad: REVOKED_SESSION });
  const result = await page.evaluate(async () => {
    const { auth, backend } = await window.revokedSession();
    const a = await auth.fetch('/api/search/', { method: 'POST', body: new URLSearchParams({ q: 'a b&c', page: '2' }) });
    backend.revokeAccess();
    const b = await auth.fetch(new Request('/api/notes/', { method: 'PUT', body: 'plain text', headers: { 'content-type': 'text/plain' } }));
    const bodies = (path) => backend.calls.filter((c) => c.path === path).map((c) => `${c.method} ${c.contentType} ${c.body}`);
    return { statuses: [a.status, b.status], search: bodies('/api/search/'), notes: bodies('/api/notes/'), refreshCalls: backend.refreshCalls.length };
  });
  assert.deepEqual(result.statuses, [200, 200]);
  assert.equal(result.refreshCalls, 2);
  const search = 'POST application/x-www-form-urlencoded;charset=UTF-8 q=a+b%26c&page=2';
  assert.deepEqual(result.search, [search, search]);
  assert.deepEqual(result.notes, ['PUT text/plain plain text', 'PUT text/plain plain text']);
});

test('a replayed request that gets 401 again is returned as is: one refresh, two sends, no loop', async () => {
  const page = await browser.page({ beforeLoad: REVOKED_SESSION });
  const result = await page.evaluate(async () => {
    const { auth, backend } = await window.revokedSession();
    // This endpoint rejects every token, old or new (a permissions bug on the server).
    backend.onRequest = (call) => call.path === '/api/broken/'
      ? window.harness.json(401, { detail: 'Authentication credentials were not provided.' })
      : null;
    const res = await auth.fetch('/api/broken/', { method: 'POST', body: '{"a":1}' });
    const body = await res.json();
    // Give a hypothetical loop time to show itself.
    await window.harness.sleep(200);
    return {
      status: res.status, body,
      sends: backend.calls.filter((c) => c.path === '/api/broken/').length,
      refreshCalls: backend.refreshCalls.length,
      state: auth.state(),
    };
  });
  assert.equal(result.status, 401);
  assert.deepEqual(result.body, { detail: 'Authentication credentials were not provided.' });
  assert.equal(result.sends, 2);
  assert.equal(result.refreshCalls, 1);
  // The refresh itself succeeded: the session lives on.
  assert.equal(result.state.status, 'active');
});

test('a request with a streaming body is not replayed: its 401 is returned and no refresh starts', async () => {
  const page = await browser.page({ beforeLoad: REVOKED_SESSION });
  const result = await page.evaluate(async () => {
    const { auth, backend } = await window.revokedSession();
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('chunk-1,'));
        controller.enqueue(new TextEncoder().encode('chunk-2'));
        controller.close();
      },
    });
    const res = await auth.fetch('/api/stream/', { method: 'POST', body: stream, duplex: 'half' });
    const calls = backend.calls.filter((c) => c.path === '/api/stream/');
    return { status: res.status, sends: calls.length, body: calls[0]?.body, refreshCalls: backend.refreshCalls.length };
  });
  assert.equal(result.status, 401);
  assert.equal(result.sends, 1);
  assert.equal(result.body, 'chunk-1,chunk-2');
  assert.equal(result.refreshCalls, 0);
});

test('a 401 on a request sent before a refresh completed is replayed with the newer token without another refresh', async () => {
  const page = await browser.page({ beforeLoad: REVOKED_SESSION });
  const result = await page.evaluate(async () => {
    const { auth, backend } = await window.revokedSession();
    // A slow endpoint: its 401 arrives after another request's refresh has finished.
    let release;
    const gate = new Promise((r) => { release = r; });
    backend.onRequest = (call) => (call.path === '/api/slow/' && call.authorization !== `Bearer ${[...backend.validAccess][0]}`
      ? gate.then(() => window.harness.json(401, { code: 'token_not_valid' }))
      : null);
    const slow = auth.fetch('/api/slow/');
    await window.harness.waitFor(() => backend.calls.some((c) => c.path === '/api/slow/'));
    const fast = await auth.fetch('/api/fast/');
    release();
    const slowRes = await slow;
    const slowCalls = backend.calls.filter((c) => c.path === '/api/slow/').map((c) => c.authorization);
    return { fast: fast.status, slow: slowRes.status, slowCalls, refreshCalls: backend.refreshCalls.length, fresh: `Bearer ${[...backend.validAccess][0]}` };
  });
  assert.equal(result.fast, 200);
  assert.equal(result.slow, 200);
  assert.equal(result.refreshCalls, 1);
  assert.equal(result.slowCalls.length, 2);
  assert.equal(result.slowCalls[1], result.fresh);
});
