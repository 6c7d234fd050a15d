// Where tokens live: rotation, legacy key migration, start-up validation, and Web Storage that
// throws (disabled, quota) degrading to memory with one warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

/** Collects the page's console warnings. */
function warnings(page) {
  const list = [];
  page.on('console', (m) => { if (m.type() === 'warning') list.push(m.text()); });
  return list;
}

test('a rotated refresh token replaces the stored one and the old one is never presented again', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend({ rotate: true });
    const tokens = backend.login();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    auth.setTokens(tokens);
    const issued = [];
    for (let i = 0; i < 3; i++) {
      backend.revokeAccess();
      await auth.fetch(`/api/items/${i}`);
      issued.push(localStorage.getItem('refreshToken'));
    }
    return {
      presented: backend.refreshCalls.map((c) => JSON.parse(c.body).refresh),
      issued, initial: tokens.refresh, valid: [...backend.validRefresh],
    };
  });
  assert.equal(r.presented.length, 3);
  // Each refresh presents the token the previous one issued; nothing is presented twice.
  assert.deepEqual(r.presented, [r.initial, r.issued[0], r.issued[1]]);
  assert.equal(new Set(r.presented).size, 3);
  // What is stored is exactly what the server issued last.
  assert.deepEqual(r.valid, [r.issued[2]]);
});

test('without rotation the refresh token is kept and the new access token stored', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend({ rotate: false });
    const tokens = backend.login();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    auth.setTokens(tokens);
    backend.revokeAccess();
    await auth.fetch('/api/items/');
    return { refresh: localStorage.getItem('refreshToken'), access: localStorage.getItem('accessToken'), initial: tokens, fresh: [...backend.validAccess][0] };
  });
  assert.equal(r.refresh, r.initial.refresh);
  assert.equal(r.access, r.fresh);
  assert.notEqual(r.access, r.initial.access);
});

test('tokens under the legacy keys are migrated to the configured keys and the legacy keys removed', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const tokens = backend.login();
    localStorage.setItem('access_token', tokens.access);
    localStorage.setItem('refresh_token', tokens.refresh);
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const res = await auth.fetch('/api/items/');
    return {
      keys: Object.keys(localStorage).sort(),
      access: localStorage.getItem('accessToken') === tokens.access,
      refresh: localStorage.getItem('refreshToken') === tokens.refresh,
      status: res.status, bearer: backend.calls[0].authorization === `Bearer ${tokens.access}`,
      refreshCalls: backend.refreshCalls.length,
    };
  });
  assert.deepEqual(r.keys, ['accessToken', 'refreshToken']);
  assert.deepEqual({ access: r.access, refresh: r.refresh, status: r.status, bearer: r.bearer }, { access: true, refresh: true, status: 200, bearer: true });
  assert.equal(r.refreshCalls, 0);
});

test('a token under the configured key wins over a legacy one, and the legacy key is still removed', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const tokens = backend.login();
    localStorage.setItem('accessToken', tokens.access);
    localStorage.setItem('refreshToken', tokens.refresh);
    localStorage.setItem('access_token', window.harness.accessToken(300));
    localStorage.setItem('refresh_token', 'stale-legacy-refresh');
    await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    return { keys: Object.keys(localStorage).sort(), same: localStorage.getItem('accessToken') === tokens.access && localStorage.getItem('refreshToken') === tokens.refresh };
  });
  assert.deepEqual(r.keys, ['accessToken', 'refreshToken']);
  assert.equal(r.same, true);
});

const CORRUPTED = [
  { what: 'an access token that is not a JWT', access: 'undefined', refresh: 'REFRESH' },
  { what: 'an access token whose payload is not JSON', access: 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln', refresh: 'REFRESH' },
  { what: 'a three-segment refresh token that does not decode', access: 'ACCESS', refresh: 'a.!!!.c' },
];
for (const { what, access, refresh } of CORRUPTED) {
  test(`${what} in storage is cleared on start-up with one invalid_token logout`, async () => {
    const page = await browser.page();
    const r = await page.evaluate(async ({ access, refresh }) => {
      const { createAuthClient } = window.authkeeper;
      const { StubBackend, recordEvents, accessToken, refreshToken, sleep } = window.harness;
      const events = recordEvents();
      const backend = new StubBackend();
      localStorage.setItem('accessToken', access === 'ACCESS' ? accessToken(300) : access);
      localStorage.setItem('refreshToken', refresh === 'REFRESH' ? refreshToken() : refresh);
      localStorage.setItem('theme', 'dark');
      const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
      const res = await auth.fetch('/api/items/');
      await sleep(100);
      return {
        logouts: events.logout.map((e) => e.reason), keys: Object.keys(localStorage), state: auth.state().status,
        refreshCalls: backend.refreshCalls.length, status: res.status, authorization: backend.calls[0]?.authorization,
      };
    }, { access, refresh });
    assert.deepEqual(r.logouts, ['invalid_token']);
    assert.deepEqual(r.keys, ['theme']);
    assert.equal(r.state, 'logged_out');
    assert.equal(r.refreshCalls, 0);
    assert.equal(r.authorization, null);
  });
}

test('both stored tokens expired on start-up: one session_expired logout, storage cleared, no refresh call', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, accessToken, refreshToken, sleep } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend();
    localStorage.setItem('accessToken', accessToken(-3_600));
    localStorage.setItem('refreshToken', refreshToken(-60));
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    await sleep(150);
    return { logouts: events.logout.map((e) => e.reason), keys: Object.keys(localStorage), refreshCalls: backend.refreshCalls.length, state: auth.state().status };
  });
  assert.deepEqual(r.logouts, ['session_expired']);
  assert.deepEqual(r.keys, []);
  assert.equal(r.refreshCalls, 0);
  assert.equal(r.state, 'logged_out');
});

test('an expired stored access token with a valid refresh token is refreshed on start-up without waiting for a request', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, accessToken, waitFor } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend();
    const tokens = backend.login();
    localStorage.setItem('accessToken', accessToken(-60));
    localStorage.setItem('refreshToken', tokens.refresh);
    await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    await waitFor(() => events.refreshed.length === 1, { what: 'the start-up refresh' });
    return { refreshCalls: backend.refreshCalls.length, stored: localStorage.getItem('accessToken') === [...backend.validAccess][0], logouts: events.logout.length };
  });
  assert.deepEqual(r, { refreshCalls: 1, stored: true, logouts: 0 });
});

/** In the page: a full session round trip (login, request, 401 → refresh → replay, logout). */
const ROUND_TRIP = async () => {
  const { createAuthClient } = window.authkeeper;
  const { StubBackend, recordEvents } = window.harness;
  const events = recordEvents();
  const backend = new StubBackend();
  const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
  const storageAtStart = auth.state().storage;
  auth.setTokens(backend.login());
  const first = await auth.fetch('/api/items/');
  backend.revokeAccess();
  const second = await auth.fetch('/api/items/');
  const statusBeforeLogout = auth.state().status;
  auth.logout();
  return {
    storageAtStart, statuses: [first.status, second.status], statusBeforeLogout,
    refreshCalls: backend.refreshCalls.length, refreshed: events.refreshed.length,
    logouts: events.logout.map((e) => e.reason), storage: auth.state().storage,
  };
};

test('with localStorage throwing SecurityError the client keeps tokens in memory, warns once and works', async () => {
  const page = await browser.page({
    beforeLoad: () => {
      Object.defineProperty(window, 'localStorage', {
        configurable: true,
        get() { throw new DOMException("Failed to read the 'localStorage' property from 'Window': Access is denied for this document.", 'SecurityError'); },
      });
    },
  });
  const warned = warnings(page);
  const r = await page.evaluate(ROUND_TRIP);
  assert.equal(r.storageAtStart, 'memory');
  assert.equal(r.storage, 'memory');
  assert.deepEqual(r.statuses, [200, 200]);
  assert.equal(r.statusBeforeLogout, 'active');
  assert.equal(r.refreshCalls, 1);
  assert.equal(r.refreshed, 1);
  assert.deepEqual(r.logouts, ['manual']);
  const ours = warned.filter((w) => w.includes('authkeeper'));
  assert.equal(ours.length, 1, JSON.stringify(warned));
  assert.match(ours[0], /memory/);
});

test('with Storage.setItem throwing QuotaExceededError the client keeps tokens in memory, warns once and works', async () => {
  const page = await browser.page({
    beforeLoad: () => {
      Storage.prototype.setItem = function () {
        throw new DOMException("Failed to execute 'setItem' on 'Storage': Setting the value exceeded the quota.", 'QuotaExceededError');
      };
    },
  });
  const warned = warnings(page);
  const r = await page.evaluate(ROUND_TRIP);
  assert.equal(r.storageAtStart, 'memory');
  assert.deepEqual(r.statuses, [200, 200]);
  assert.equal(r.refreshCalls, 1);
  assert.deepEqual(r.logouts, ['manual']);
  assert.equal(warned.filter((w) => w.includes('authkeeper')).length, 1, JSON.stringify(warned));
});

test('a full localStorage (writes throw) still yields the session stored in it', async () => {
  const page = await browser.page({
    beforeLoad: () => {
      // Tokens saved by an earlier visit, then the quota filled up.
      const realSet = Storage.prototype.setItem;
      window.seedTokens = (access, refresh) => { realSet.call(localStorage, 'accessToken', access); realSet.call(localStorage, 'refreshToken', refresh); };
      Storage.prototype.setItem = function () {
        throw new DOMException('Setting the value exceeded the quota.', 'QuotaExceededError');
      };
    },
  });
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const tokens = backend.login();
    window.seedTokens(tokens.access, tokens.refresh);
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const res = await auth.fetch('/api/items/');
    return { status: res.status, bearer: backend.calls[0].authorization === `Bearer ${tokens.access}`, state: auth.state() };
  });
  assert.equal(r.state.storage, 'memory');
  assert.equal(r.state.status, 'active');
  assert.equal(r.status, 200);
  assert.equal(r.bearer, true);
});

test('storage that starts throwing mid-session degrades to memory once, keeps the new tokens, and logout still clears localStorage', async () => {
  const page = await browser.page();
  const warned = warnings(page);
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    auth.setTokens(backend.login());
    const before = auth.state().storage;
    Storage.prototype.setItem = function () { throw new DOMException('Setting the value exceeded the quota.', 'QuotaExceededError'); };
    backend.revokeAccess();
    const a = await auth.fetch('/api/a');
    const b = await auth.fetch('/api/b');
    const fresh = `Bearer ${[...backend.validAccess][0]}`;
    const after = auth.state().storage;
    auth.logout();
    return {
      before, after, statuses: [a.status, b.status], lastBearer: backend.calls.at(-1).authorization === fresh,
      refreshCalls: backend.refreshCalls.length, keysAfterLogout: Object.keys(localStorage), logouts: events.logout.length,
    };
  });
  assert.equal(r.before, 'web');
  assert.equal(r.after, 'memory');
  assert.deepEqual(r.statuses, [200, 200]);
  assert.equal(r.lastBearer, true);
  assert.equal(r.refreshCalls, 1);
  assert.equal(warned.filter((w) => w.includes('authkeeper')).length, 1, JSON.stringify(warned));
  assert.equal(r.logouts, 1);
  // The tokens written before the quota hit must not outlive the logout.
  assert.deepEqual(r.keysAfterLogout, []);
});

test("storage: 'session' keeps tokens in sessionStorage and storage: 'memory' writes no Web Storage at all", async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend } = window.harness;
    const out = {};
    for (const storage of ['session', 'memory']) {
      localStorage.clear();
      sessionStorage.clear();
      const backend = new StubBackend();
      const tokens = backend.login();
      const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, storage, keys: { access: `${storage}A`, refresh: `${storage}R` } });
      auth.setTokens(tokens);
      backend.revokeAccess();
      const res = await auth.fetch('/api/items/');
      out[storage] = {
        status: res.status, local: Object.keys(localStorage), session: Object.keys(sessionStorage).sort(),
        sessionAccessIsFresh: sessionStorage.getItem(`${storage}A`) === [...backend.validAccess][0],
        kind: auth.state().storage,
      };
      auth.destroy();
    }
    return out;
  });
  assert.deepEqual(r.session, { status: 200, local: [], session: ['sessionA', 'sessionA:generation', 'sessionR'], sessionAccessIsFresh: true, kind: 'web' });
  assert.deepEqual(r.memory, { status: 200, local: [], session: [], sessionAccessIsFresh: false, kind: 'memory' });
});
