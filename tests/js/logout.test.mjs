// Definitive refresh failures and manual logout: tokens cleared, exactly one `auth:logout` with
// the server's reason and message, no second refresh, no redirect loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

const REJECTIONS = [
  { status: 401, body: { error: 'user_not_found', detail: 'User not found', action: 'clear_tokens' }, reason: 'user_not_found', message: 'User not found' },
  { status: 401, body: { error: 'user_inactive', detail: 'User account is disabled.', action: 'clear_tokens' }, reason: 'user_inactive', message: 'User account is disabled.' },
  { status: 401, body: { error: 'invalid_token', detail: 'Token is blacklisted', action: 'clear_tokens' }, reason: 'invalid_token', message: 'Token is blacklisted' },
  { status: 401, body: { error: 'refresh_token_required', detail: 'Refresh token is required.', action: 'clear_tokens' }, reason: 'refresh_token_required', message: 'Refresh token is required.' },
  { status: 401, body: { detail: 'Token is invalid or expired', code: 'token_not_valid' }, reason: 'invalid_token', message: 'Token is invalid or expired' },
  // The same contract on the other statuses the design names.
  { status: 400, body: { error: 'refresh_token_required', detail: 'No refresh token.', action: 'clear_tokens' }, reason: 'refresh_token_required', message: 'No refresh token.' },
  { status: 403, body: { error: 'user_inactive', detail: 'Inactive.', action: 'clear_tokens' }, reason: 'user_inactive', message: 'Inactive.' },
  // Any other 401 from the refresh endpoint ends the session too, with the default message.
  { status: 401, body: '<html><body>Unauthorized</body></html>', reason: 'invalid_token', message: 'Your session is no longer valid. Please sign in again.' },
];

for (const { status, body, reason, message } of REJECTIONS) {
  const label = typeof body === 'string' ? 'a non-JSON body' : JSON.stringify(body);
  test(`a ${status} from the refresh endpoint with ${label} logs out once with reason ${reason}`, async () => {
    const page = await browser.page();
    const result = await page.evaluate(async ({ status, body }) => {
      const { createAuthClient } = window.authkeeper;
      const { StubBackend, recordEvents, json, sleep } = window.harness;
      const events = recordEvents();
      const { backend, tokens, auth } = await window.harness.signedIn();
      localStorage.setItem('access_token', 'legacy-left-behind');
      backend.revokeAccess();
      backend.onRefresh = () => (typeof body === 'string'
        ? new Response(body, { status, headers: { 'content-type': 'text/html' } })
        : json(status, body));
      const res = await auth.fetch('/api/profile/');
      const afterFirst = { status: res.status, sends: backend.calls.filter((c) => c.path === '/api/profile/').length };
      // After the logout: requests go out anonymously and never start a refresh.
      const again = await auth.fetch('/api/profile/');
      await sleep(150);
      const lastCall = backend.calls.at(-1);
      return {
        afterFirst, again: again.status, againAuthorization: lastCall.authorization,
        refreshCalls: backend.refreshCalls.length,
        logouts: events.logout.map(({ reason, message }) => ({ reason, message })),
        stored: { access: localStorage.getItem('accessToken'), refresh: localStorage.getItem('refreshToken'), legacy: localStorage.getItem('access_token') },
        state: auth.state().status,
      };
    }, { status, body });
    assert.equal(result.refreshCalls, 1, 'no second refresh');
    // The 401'd request is handed back as plain fetch would have returned it.
    assert.deepEqual(result.afterFirst, { status: 401, sends: 1 });
    assert.equal(result.logouts.length, 1, JSON.stringify(result.logouts));
    assert.equal(result.logouts[0].reason, reason);
    if (message) assert.equal(result.logouts[0].message, message);
    else assert.ok(result.logouts[0].message.length > 0);
    assert.deepEqual(result.stored, { access: null, refresh: null, legacy: null });
    assert.equal(result.state, 'logged_out');
    assert.equal(result.again, 401);
    assert.equal(result.againAuthorization, null);
  });
}

test('a refresh 401 reached through the queue (expired token) rejects the request with logged_out and logs out once', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, outcome, json, sleep } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend();
    localStorage.setItem('accessToken', window.harness.accessToken(-30));
    localStorage.setItem('refreshToken', window.harness.refreshToken());
    backend.onRefresh = () => json(401, { error: 'user_not_found', detail: 'User not found', action: 'clear_tokens' });
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    const result = await outcome(auth.fetch('/api/profile/'));
    await sleep(150);
    return { result, refreshCalls: backend.refreshCalls.length, logouts: events.logout.length, sends: backend.calls.length - backend.refreshCalls.length };
  });
  assert.equal(result.result.error?.code, 'logged_out');
  assert.equal(result.refreshCalls, 1);
  assert.equal(result.logouts, 1);
  assert.equal(result.sends, 0);
});

test('a logout never redirects when the page already is the login page', async () => {
  const page = await browser.page();
  let navigations = 0;
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations++; });
  const before = await page.evaluate(() => location.href);
  const result = await page.evaluate(async () => {
    window.stillThisDocument = true;
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, json, sleep } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend();
    const tokens = backend.login();
    const auth = await createAuthClient({
      refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false,
      // This very page, with a query string that must not matter.
      loginUrl: `${location.pathname}?next=/dashboard`,
    });
    auth.setTokens(tokens);
    backend.revokeAccess();
    backend.onRefresh = () => json(401, { error: 'user_not_found', detail: 'User not found', action: 'clear_tokens' });
    await auth.fetch('/api/profile/');
    await sleep(300);
    return { logouts: events.logout.length, href: location.href };
  });
  assert.equal(result.logouts, 1);
  assert.equal(await page.evaluate(() => window.stillThisDocument), true, 'the page was not reloaded');
  assert.equal(navigations, 0);
  assert.equal(result.href, before);
});

test('a logout redirects to loginUrl once the session has ended', async () => {
  const page = await browser.page();
  const landed = page.waitForURL(/\/tests\/js\/login\.html\?next=%2Fdashboard$/, { timeout: 10_000 });
  await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, json } = window.harness;
    const backend = new StubBackend();
    const tokens = backend.login();
    const auth = await createAuthClient({
      refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false,
      loginUrl: '/tests/js/login.html?next=%2Fdashboard',
    });
    auth.setTokens(tokens);
    backend.revokeAccess();
    backend.onRefresh = () => json(401, { error: 'user_inactive', detail: 'User account is inactive', action: 'clear_tokens' });
    // The navigation may tear the page down before this settles.
    auth.fetch('/api/profile/').catch(() => {});
  });
  await landed;
});

test('logout() clears the configured, legacy and matching localStorage keys and the whole of sessionStorage (seed 000), keeps unrelated localStorage keys, and fires one manual logout', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents, sleep } = window.harness;
    const events = recordEvents();
    const { backend, tokens, auth } = await window.harness.signedIn();
    // Written by the app (or an older version of it) after start-up.
    const local = {
      access_token: 'legacy-a', refresh_token: 'legacy-r', csrfToken: 'c', authState: '{"in":true}', user_profile: '{"id":1}',
      CurrentUser: 'Ann', theme: 'dark', cart: '[1,2]', 'i18n.lang': 'fr',
    };
    const session = { idToken: 'x', userPrefs: '{}', draft: 'hello', wizardStep: '3' };
    for (const [k, v] of Object.entries(local)) localStorage.setItem(k, v);
    for (const [k, v] of Object.entries(session)) sessionStorage.setItem(k, v);
    auth.logout();
    auth.logout(); // a second call is a no-op
    await sleep(50);
    const res = await auth.fetch('/api/profile/');
    return {
      local: Object.keys(localStorage).sort(), session: Object.keys(sessionStorage).sort(),
      logouts: events.logout.map(({ reason, message }) => ({ reason, message })),
      state: auth.state().status,
      afterAuthorization: backend.calls.at(-1).authorization, afterStatus: res.status,
      refreshCalls: backend.refreshCalls.length,
    };
  });
  assert.deepEqual(result.local, ['cart', 'i18n.lang', 'theme']);
  assert.deepEqual(result.session, []);
  assert.equal(result.logouts.length, 1);
  assert.equal(result.logouts[0].reason, 'manual');
  assert.ok(result.logouts[0].message.length > 0);
  assert.equal(result.state, 'logged_out');
  assert.equal(result.afterAuthorization, null);
  assert.equal(result.afterStatus, 401);
  assert.equal(result.refreshCalls, 0);
});

test("logout() honours custom clear.patterns and clear.sessionStorage: 'none'", async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const auth = await createAuthClient({
      refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false,
      keys: { access: 'myAccess', refresh: 'myRefresh' }, clear: { patterns: ['secret'], sessionStorage: 'none' },
    });
    auth.setTokens(backend.login());
    localStorage.setItem('apiSecret', 's');
    localStorage.setItem('userName', 'kept: not a configured pattern');
    sessionStorage.setItem('sessionSecret', 'kept: sessionStorage is not cleared');
    const before = Object.keys(localStorage).sort();
    auth.logout();
    return { before, local: Object.keys(localStorage).sort(), session: Object.keys(sessionStorage).sort() };
  });
  assert.deepEqual(result.before, ['apiSecret', 'myAccess', 'myAccess:generation', 'myRefresh', 'userName']);
  assert.deepEqual(result.local, ['userName']);
  assert.deepEqual(result.session, ['sessionSecret']);
});

test('setTokens after a logout starts a new session that refreshes normally', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const { StubBackend, recordEvents } = window.harness;
    const events = recordEvents();
    const backend = new StubBackend();
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false });
    auth.setTokens(backend.login());
    auth.logout();
    auth.setTokens(backend.login());
    backend.revokeAccess();
    const res = await auth.fetch('/api/profile/');
    return { status: res.status, refreshCalls: backend.refreshCalls.length, logouts: events.logout.length, refreshed: events.refreshed.length, state: auth.state().status };
  });
  assert.deepEqual(result, { status: 200, refreshCalls: 1, logouts: 1, refreshed: 1, state: 'active' });
});

test("clear.sessionStorage: 'matching' clears only the matching sessionStorage keys", async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const auth = await createAuthClient({
      refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, clear: { sessionStorage: 'matching' },
    });
    auth.setTokens(backend.login());
    for (const [k, v] of Object.entries({ idToken: 'x', userPrefs: '{}', draft: 'hello' })) sessionStorage.setItem(k, v);
    auth.logout();
    return { session: Object.keys(sessionStorage).sort() };
  });
  assert.deepEqual(result.session, ['draft']);
});
