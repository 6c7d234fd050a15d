// AbortSignal: a waiting request leaves the queue at once with an AbortError (or the signal's
// reason), exactly as fetch would reject, and the others are not disturbed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

/** In the page: an expired stored session whose refresh takes `delay` ms. */
const SLOW_REFRESH = `
  window.slowRefresh = async (delay) => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, accessToken } = window.harness;
    const backend = new StubBackend();
    const tokens = backend.login();
    backend.revokeAccess();
    localStorage.setItem('accessToken', accessToken(-60));
    localStorage.setItem('refreshToken', tokens.refresh);
    backend.refreshDelay = delay;
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    return { auth, backend };
  };
`;

test('an aborted queued request rejects with AbortError at once while the others complete with the new token', async () => {
  const page = await browser.page({ beforeLoad: SLOW_REFRESH });
  const r = await page.evaluate(async () => {
    const { errorInfo } = window.harness;
    const { auth, backend } = await window.slowRefresh(400);
    const controller = new AbortController();
    let refreshAnsweredAt = null;
    const others = Array.from({ length: 4 }, (_, i) => auth.fetch(`/api/items/${i}`).then((res) => {
      refreshAnsweredAt ??= performance.now();
      return res.status;
    }));
    const aborted = auth.fetch('/api/items/aborted', { signal: controller.signal }).then(
      () => ({ resolved: true }),
      (e) => ({ error: errorInfo(e), at: performance.now() }),
    );
    const waitingBefore = auth.state().waiting;
    await new Promise((r) => setTimeout(r, 30));
    const abortedAt = performance.now();
    controller.abort();
    const a = await aborted;
    const waitingAfterAbort = auth.state().waiting;
    const statuses = await Promise.all(others);
    const fresh = `Bearer ${[...backend.validAccess][0]}`;
    return {
      a, rejectMs: a.at - abortedAt, beforeRefreshAnswered: refreshAnsweredAt === null || a.at < refreshAnsweredAt,
      waitingBefore, waitingAfterAbort, statuses,
      sent: backend.calls.filter((c) => c.path.startsWith('/api/items/')).map((c) => [c.path, c.authorization === fresh]),
      refreshCalls: backend.refreshCalls.length,
    };
  });
  assert.equal(r.a.error?.name, 'AbortError');
  assert.equal(r.a.error.isDomException, true);
  assert.ok(r.rejectMs < 100, `rejected ${r.rejectMs} ms after abort()`);
  assert.equal(r.beforeRefreshAnswered, true, 'it did not wait for the refresh');
  assert.equal(r.waitingBefore, 5);
  assert.equal(r.waitingAfterAbort, 4);
  assert.deepEqual(r.statuses, [200, 200, 200, 200]);
  assert.equal(r.refreshCalls, 1);
  // The aborted request was never sent; the others went once each with the new token.
  assert.deepEqual(r.sent.map(([p]) => p).sort(), ['/api/items/0', '/api/items/1', '/api/items/2', '/api/items/3']);
  assert.ok(r.sent.every(([, fresh]) => fresh));
});

test('a queued request rejects with the signal’s own reason when abort() is given one', async () => {
  const page = await browser.page({ beforeLoad: SLOW_REFRESH });
  const r = await page.evaluate(async () => {
    const { auth } = await window.slowRefresh(300);
    const controller = new AbortController();
    const p = auth.fetch('/api/items/', { signal: controller.signal });
    const reason = new Error('user navigated away');
    controller.abort(reason);
    try {
      await p;
      return { resolved: true };
    } catch (e) {
      return { same: e === reason, message: e.message };
    }
  });
  assert.deepEqual(r, { same: true, message: 'user navigated away' });
});

test('an already-aborted signal rejects with AbortError without sending or queueing anything', async () => {
  const page = await browser.page({ beforeLoad: SLOW_REFRESH });
  const r = await page.evaluate(async () => {
    const { errorInfo } = window.harness;
    const { auth, backend } = await window.slowRefresh(200);
    const signal = AbortSignal.abort();
    const error = await auth.fetch('/api/items/', { signal }).then(() => null, errorInfo);
    return { error, waiting: auth.state().waiting, sent: backend.calls.filter((c) => c.path === '/api/items/').length };
  });
  assert.equal(r.error?.name, 'AbortError');
  assert.equal(r.waiting, 0);
  assert.equal(r.sent, 0);
});

test('aborting every queued request does not cancel the refresh: the session is renewed once', async () => {
  const page = await browser.page({ beforeLoad: SLOW_REFRESH });
  const r = await page.evaluate(async () => {
    const { auth, backend } = await window.slowRefresh(200);
    const events = window.harness.recordEvents();
    const controller = new AbortController();
    const all = Array.from({ length: 3 }, (_, i) => auth.fetch(`/api/items/${i}`, { signal: controller.signal }).catch((e) => e.name));
    controller.abort();
    const names = await Promise.all(all);
    await window.harness.waitFor(() => events.refreshed.length === 1, { what: 'the refresh to land' });
    const res = await auth.fetch('/api/after');
    return { names, status: res.status, refreshCalls: backend.refreshCalls.length, waiting: auth.state().waiting };
  });
  assert.deepEqual(r.names, ['AbortError', 'AbortError', 'AbortError']);
  assert.equal(r.status, 200);
  assert.equal(r.refreshCalls, 1);
  assert.equal(r.waiting, 0);
});

test('a request waiting to be replayed after its 401 also leaves at once when aborted', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, errorInfo, waitFor } = window.harness;
    const { backend, tokens, auth } = await window.harness.signedIn();
    backend.revokeAccess();
    backend.refreshDelay = 400;
    const controller = new AbortController();
    const p = auth.fetch('/api/items/', { method: 'POST', body: 'x', signal: controller.signal }).then(() => null, errorInfo);
    await waitFor(() => backend.refreshCalls.length === 1, { what: 'the refresh to start' });
    const t = performance.now();
    controller.abort();
    const error = await p;
    return { error, ms: performance.now() - t, sends: backend.calls.filter((c) => c.path === '/api/items/').length };
  });
  assert.equal(r.error?.name, 'AbortError');
  assert.ok(r.ms < 100, `${r.ms} ms`);
  assert.equal(r.sends, 1, 'not replayed');
});

test('a Request input carrying its own AbortSignal leaves the queue when that signal fires', async () => {
  const page = await browser.page({ beforeLoad: SLOW_REFRESH });
  const r = await page.evaluate(async () => {
    const { auth, backend } = await window.slowRefresh(300);
    const controller = new AbortController();
    const p = auth.fetch(new Request('/api/items/', { signal: controller.signal })).then(() => 'resolved', (e) => e.name);
    controller.abort();
    return { name: await p, sent: backend.calls.filter((c) => c.path === '/api/items/').length };
  });
  assert.deepEqual(r, { name: 'AbortError', sent: 0 });
});
