// authkeeper (pkg/ + js/index.js) in headless Chromium against djangorestframework-simplejwt from
// PyPI, unmodified: ROTATE_REFRESH_TOKENS + BLACKLIST_AFTER_ROTATION, 3-second access tokens.
// `refreshFormat: 'simplejwt'` (the default): POST {refresh} as JSON → {access, refresh}.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useReal, forcedRefreshBurst, logoutClearsAtOnce, openPage, waitForReady, logoutsOf, storageOf, sessionStorageOf, stateOf, setHidden,
  waitUntilExpired, waitFor, sleep, summarize, refreshCalls, describeRecord, pageUrl, fingerprint,
} from './support.mjs';

const ctx = useReal({ accessTtl: 3 });

const PLAIN = '/api/token/refresh/'; // SimpleJWT's TokenRefreshView
const CLEAR = '/api/auth/token/refresh/'; // seed 000's view in front of it (clear_tokens bodies)
const BLACKLIST = '/api/token/blacklist/'; // SimpleJWT's TokenBlacklistView: the revokeUrl
const COOKIE_REFRESH = '/api/auth/cookie/refresh/'; // cookie mode (realapi.views.CookieRefreshView)
const COOKIE_LOGOUT = '/api/auth/cookie/logout/'; // cookie mode's revokeUrl (realapi.views.CookieLogoutView)
const COOKIE_PATH = '/api/auth/cookie/';

/** A new user, "logged in": the page holds its SimpleJWT pair (plus seed 000's `user` key). */
async function login(options = {}, page = ctx.page) {
  const user = await ctx.server.createUser();
  await openPage(page, ctx.server.url, { refreshUrl: PLAIN, ...options });
  await page.evaluate(({ access, refresh, username }) => {
    window.rt.auth.setTokens({ access, refresh });
    localStorage.setItem('user', JSON.stringify({ username }));
    sessionStorage.setItem('draft', 'x');
  }, user);
  return user;
}

/** Hides the page (no proactive refresh) and waits until its access token has expired. */
async function expireWhileHidden(page = ctx.page) {
  await setHidden(page, true);
  await waitUntilExpired(page);
}

/** Back to visible without the event (the requests, not the visibility check, find the expiry),
 * fires `n` concurrent GETs of `path`, then announces the visibility. */
async function wakeAndBurst(n, path = '/api/me/', page = ctx.page) {
  return page.evaluate(async ([count, p]) => {
    window.rt.setHidden(false, false);
    const statuses = await window.rt.burst(count, p);
    document.dispatchEvent(new Event('visibilitychange'));
    return statuses;
  }, [n, path]);
}

const since = async (mark) => ctx.server.records(mark);

test('first refresh after expiry: the API answers 200 after exactly one refresh call', async () => {
  const user = await login();
  const before = await storageOf(ctx.page);
  await expireWhileHidden();
  const mark = await ctx.server.mark();
  const result = await ctx.page.evaluate(async () => {
    window.rt.setHidden(false, false);
    return window.rt.call('/api/me/');
  });
  assert.equal(result.status, 200);
  assert.equal(result.body.username, user.username);
  const records = await since(mark);
  const s = summarize(records);
  assert.equal(s.refreshCalls, 1, `refresh calls: ${JSON.stringify(refreshCalls(records).map(describeRecord))}`);
  const [call] = refreshCalls(records);
  console.log(`[real/simplejwt] refresh call seen by SimpleJWT: ${JSON.stringify(describeRecord(call))}`);
  assert.equal(call.method, 'POST');
  assert.match(call.content_type, /^application\/json/);
  assert.deepEqual(call.fields, ['refresh']);
  assert.equal(call.status, 200);
  assert.deepEqual(call.response_fields, ['access', 'refresh']);
  assert.equal(s.api401, 0, 'an expired token is refreshed before sending, not after a 401');
  const after = await storageOf(ctx.page);
  assert.notEqual(after.refreshToken, before.refreshToken, 'the rotated refresh token is stored');
  assert.notEqual(after.accessToken, before.accessToken);
  // The rotated-away token is blacklisted by SimpleJWT: the server really rotated.
  const reuse = await ctx.server.simplejwtRefresh(before.refreshToken);
  assert.equal(reuse.status, 401);
  assert.equal(reuse.body.code, 'token_not_valid');
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('ten concurrent requests after expiry: one refresh call, ten 200s', async () => {
  await login();
  await expireWhileHidden();
  const mark = await ctx.server.mark();
  const statuses = await wakeAndBurst(10);
  assert.deepEqual(statuses, Array(10).fill(200));
  const s = summarize(await since(mark));
  assert.equal(s.refreshCalls, 1, JSON.stringify(s));
  assert.equal(s.reuse, 0);
  assert.equal(s.apiCalls, 10, 'no request was sent twice');
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('a 401 on a POST: one refresh, the request is replayed once with the same body', async () => {
  const user = await ctx.server.createUser();
  await openPage(ctx.page, ctx.server.url, { refreshUrl: PLAIN });
  // An access token the server refuses (bad signature) but the client believes (valid exp).
  const tampered = user.access.slice(0, -4) + (user.access.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  await ctx.page.evaluate(({ access, refresh }) => window.rt.auth.setTokens({ access, refresh }), { access: tampered, refresh: user.refresh });
  const mark = await ctx.server.mark();
  const payload = { order: 42, note: 'héllo', items: [1, 2, 3] };
  const result = await ctx.page.evaluate((p) => window.rt.call('/api/echo/', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(p),
  }), payload);
  assert.equal(result.status, 200);
  assert.deepEqual(result.body.body, payload);
  assert.equal(result.body.username, user.username);
  const records = await since(mark);
  const echo = records.filter((r) => r.path === '/api/echo/').map((r) => r.status);
  assert.deepEqual(echo, [401, 200], 'sent once, refused, replayed once');
  assert.equal(summarize(records).refreshCalls, 1);
});

for (const [what, hook, reason, detail] of [
  ['deleted', 'deleteUser', 'user_not_found', 'User account no longer exists. Please log in again.'],
  ['deactivated', 'deactivateUser', 'user_inactive', 'User account is inactive'],
]) {
  test(`user ${what} server-side: seed 000's clear_tokens answer ends the session once (${reason}), storage cleared`, async () => {
    const user = await login({ refreshUrl: CLEAR });
    await ctx.server[hook](user.id);
    const mark = await ctx.server.mark();
    // The access token is still valid, but JWTAuthentication refuses it (user gone/inactive):
    // 401 → one refresh → seed 000's 401 with action clear_tokens → logout.
    const result = await ctx.page.evaluate(() => window.rt.call('/api/me/'));
    assert.equal(result.status, 401);
    await waitFor(async () => (await logoutsOf(ctx.page)).length > 0, { timeout: 5000 });
    await sleep(500); // a second logout would show up here
    const logouts = await logoutsOf(ctx.page);
    assert.equal(logouts.length, 1, `exactly one auth:logout: ${JSON.stringify(logouts)}`);
    assert.equal(logouts[0].reason, reason);
    assert.equal(logouts[0].message, detail);
    const storage = await storageOf(ctx.page);
    for (const key of ['accessToken', 'refreshToken', 'user', 'access_token', 'refresh_token']) {
      assert.equal(storage[key], undefined, `${key} cleared`);
    }
    assert.deepEqual(await sessionStorageOf(ctx.page), {});
    assert.notEqual((await stateOf(ctx.page)).status, 'active');
    const records = await since(mark);
    const calls = refreshCalls(records);
    assert.equal(calls.length, 1, 'one refresh call, no retry of a definitive refusal');
    assert.equal(calls[0].status, 401);
    assert.equal(calls[0].error, reason);
    assert.deepEqual(calls[0].response_fields, ['action', 'detail', 'error', 'message']);
    // Afterwards: no bearer, no refresh.
    const later = await ctx.page.evaluate(() => window.rt.call('/api/me/'));
    assert.equal(later.status, 401);
    const after = summarize(await since(mark));
    assert.equal(after.refreshCalls, 1);
    assert.equal((await logoutsOf(ctx.page)).length, 1);
  });
}

test('refresh endpoint down (503) for 3 s: no logout, the session recovers', async () => {
  const options = { retry: { maxAttempts: 3, baseDelay: 300, maxDelay: 2000, cooldown: 1000, giveUpAfter: 60_000 } };
  const before = (await login(options)).refresh;
  await expireWhileHidden();
  const mark = await ctx.server.mark();
  await ctx.server.fault({ down_seconds: 3 });
  const downUntil = Date.now() + 3000;
  await ctx.page.evaluate(() => window.rt.setHidden(false, false));
  const seen = [];
  const recovered = await waitFor(async () => {
    const r = await ctx.page.evaluate(() => window.rt.call('/api/me/'));
    seen.push(r.status ?? r.error);
    return r.status === 200;
  }, { timeout: 20_000, interval: 250 });
  assert.ok(recovered);
  const s = summarize(await since(mark));
  console.log(`[real/simplejwt] endpoint down 3 s: recovered ${Date.now() - downUntil} ms after it came back; client saw ${JSON.stringify(seen)}; refresh calls ${JSON.stringify(s.statuses)}`);
  assert.ok((s.statuses[503] ?? 0) >= 1, 'the outage was seen');
  assert.equal(s.statuses[200], 1, 'one successful refresh');
  assert.ok(s.refreshCalls <= 10, `no refresh storm: ${s.refreshCalls} calls`);
  assert.ok(seen.every((x) => x === 200 || x === 'refresh_unavailable' || x === 401), `unexpected outcomes ${JSON.stringify(seen)}`);
  assert.deepEqual(await logoutsOf(ctx.page), []);
  const storage = await storageOf(ctx.page);
  assert.ok(storage.refreshToken && storage.refreshToken !== before, 'session kept, token rotated');
});

test('a page reload keeps the session; reopening after expiry refreshes once at start-up', async () => {
  const user = await login();
  const options = await ctx.page.evaluate(() => window.rt.options);
  await ctx.page.reload();
  await waitForReady(ctx.page);
  // The session survives the reload. With this server's 3 s tokens the refresh is due 1 s
  // before expiry (the default leeway), so a reload that takes longer under machine load
  // rightly finds the token due and refreshes it at start-up: 'refreshing' is the same
  // session (b039988 did it too, 1 in 4 runs with the cores busy).
  assert.ok(['active', 'refreshing'].includes((await stateOf(ctx.page)).status));
  const now = await ctx.page.evaluate(() => window.rt.call('/api/me/'));
  assert.equal(now.status, 200);
  assert.equal(now.body.username, user.username);

  // Leave the page, let the access token expire, come back: start-up refresh, one call.
  const access = (await storageOf(ctx.page)).accessToken;
  await ctx.page.goto('about:blank');
  const exp = JSON.parse(Buffer.from(access.split('.')[1], 'base64url').toString()).exp * 1000;
  await sleep(Math.max(0, exp - Date.now() + 150));
  const mark = await ctx.server.mark();
  await ctx.page.goto(pageUrl(ctx.server.url, options));
  await waitForReady(ctx.page);
  const later = await ctx.page.evaluate(() => window.rt.call('/api/me/'));
  assert.equal(later.status, 200);
  assert.equal(later.body.username, user.username);
  const s = summarize(await since(mark));
  assert.equal(s.refreshCalls, 1, JSON.stringify(s));
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('cookie mode: the refresh token lives in an httpOnly cookie, rotated by SimpleJWT', async () => {
  const user = await ctx.server.createUser();
  const { hostname } = new URL(ctx.server.url);
  await ctx.context.addCookies([{
    name: 'refresh_token', value: user.refresh, domain: hostname, path: '/api/auth/cookie/', httpOnly: true, sameSite: 'Strict',
  }]);
  await openPage(ctx.page, ctx.server.url, { refreshUrl: '/api/auth/cookie/refresh/', refreshMode: 'cookie' });
  await ctx.page.evaluate((access) => window.rt.auth.setTokens({ access }), user.access);
  await expireWhileHidden();
  const mark = await ctx.server.mark();
  const statuses = await wakeAndBurst(5);
  assert.deepEqual(statuses, Array(5).fill(200));
  const calls = refreshCalls(await since(mark));
  assert.equal(calls.length, 1);
  assert.equal(calls[0].cookie, true);
  assert.deepEqual(calls[0].fields, []);
  assert.deepEqual(calls[0].response_fields, ['access']);
  const [cookie] = await ctx.context.cookies(ctx.server.url + '/api/auth/cookie/refresh/');
  assert.ok(cookie && cookie.value !== user.refresh, 'the rotated refresh token replaced the cookie');
  assert.equal((await storageOf(ctx.page)).refreshToken, undefined, 'no refresh token in storage');
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('refresh token revoked server-side (blacklisted): one auth:logout with SimpleJWT\'s message, storage cleared', async () => {
  const user = await login();
  const blacklisted = await ctx.server.simplejwtRevokeUser(user.id);
  assert.ok(blacklisted.blacklisted >= 1, JSON.stringify(blacklisted));
  // SimpleJWT's access tokens are stateless: the revocation shows at the next refresh.
  await expireWhileHidden();
  const mark = await ctx.server.mark();
  const result = await ctx.page.evaluate(async () => {
    window.rt.setHidden(false, false);
    return window.rt.call('/api/me/');
  });
  assert.notEqual(result.status, 200, JSON.stringify(result));
  await waitFor(async () => (await logoutsOf(ctx.page)).length > 0, { timeout: 5000, message: 'auth:logout' });
  await sleep(500); // a second logout would show up here
  const logouts = await logoutsOf(ctx.page);
  assert.equal(logouts.length, 1, `exactly one auth:logout: ${JSON.stringify(logouts)}`);
  const calls = refreshCalls(await since(mark));
  // What SimpleJWT answers for this token, asked directly: the logout carries its text.
  const server = await ctx.server.simplejwtRefresh(user.refresh);
  assert.deepEqual(server, { status: 401, body: { detail: 'Token is blacklisted', code: 'token_not_valid' } });
  assert.equal(logouts[0].reason, 'invalid_token');
  assert.equal(logouts[0].message, server.body.detail);
  const storage = await storageOf(ctx.page);
  for (const key of ['accessToken', 'refreshToken', 'user']) assert.equal(storage[key], undefined, `${key} cleared`);
  assert.deepEqual(await sessionStorageOf(ctx.page), {});
  assert.notEqual((await stateOf(ctx.page)).status, 'active');
  console.log(`[real/simplejwt] revoked grant, refresh call seen by SimpleJWT: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls.length, 1, 'one refresh call, no retry of a definitive refusal');
  assert.equal(calls[0].status, 401);
  assert.equal(calls[0].error, 'token_not_valid');
  assert.equal(calls[0].token_fp, fingerprint(user.refresh));
});

test('auth.refresh(): a forced refresh now, single-flight, rotates at the server', async () => {
  const user = await login();
  const before = await storageOf(ctx.page);
  // A slow refresh endpoint: the second and third calls arrive while the first is in flight.
  await ctx.server.fault({ latency_ms: 400 });
  const mark = await ctx.server.mark();
  const outcome = await forcedRefreshBurst(ctx.page, '/api/me/');
  assert.equal(outcome.isPromise, true, 'auth.refresh() returns a Promise');
  assert.deepEqual(outcome.settled, ['fulfilled', 'fulfilled', 'fulfilled']);
  assert.deepEqual(outcome.statuses, Array(5).fill(200));
  const calls = refreshCalls(await since(mark));
  console.log(`[real/simplejwt] auth.refresh(), refresh call seen by SimpleJWT: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls.length, 1, `one refresh call for three auth.refresh() calls: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls[0].status, 200);
  assert.equal(calls[0].token_fp, fingerprint(before.refreshToken));
  const after = await storageOf(ctx.page);
  assert.notEqual(after.accessToken, before.accessToken, 'a new access token although the old one had not expired');
  assert.notEqual(after.refreshToken, before.refreshToken);
  const reuse = await ctx.server.simplejwtRefresh(before.refreshToken);
  assert.equal(reuse.status, 401, 'the refresh really rotated: SimpleJWT blacklisted the old token');
  const me = await ctx.page.evaluate(() => window.rt.call('/api/me/'));
  assert.equal(me.status, 200);
  assert.equal(me.body.username, user.username);
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('logout() with revokeUrl: the refresh token is blacklisted at /api/token/blacklist/ and no longer works', async () => {
  const user = await login({ revokeUrl: BLACKLIST });
  const mark = await ctx.server.mark();
  await logoutClearsAtOnce(ctx.page, assert);
  const revoke = await waitFor(async () => (await since(mark)).find((r) => r.kind === 'simplejwt-blacklist'), {
    timeout: 5000, message: `a request to ${BLACKLIST}`,
  });
  console.log(`[real/simplejwt] revocation request seen by SimpleJWT: ${JSON.stringify(describeRecord(revoke))}`);
  assert.equal(revoke.method, 'POST');
  assert.match(revoke.content_type, /^application\/json/);
  assert.deepEqual(revoke.fields, ['refresh']);
  assert.equal(revoke.token_fp, fingerprint(user.refresh), 'the session\'s refresh token was revoked');
  assert.equal(revoke.status, 200);
  const records = await since(mark);
  assert.equal(records.filter((r) => r.kind === 'simplejwt-blacklist').length, 1, 'revoked once');
  assert.equal(refreshCalls(records).length, 0, 'no refresh on logout');
  const again = await ctx.server.simplejwtRefresh(user.refresh);
  assert.deepEqual(again, { status: 401, body: { detail: 'Token is blacklisted', code: 'token_not_valid' } });
});

/** Cookie mode: the user's SimpleJWT refresh token in the httpOnly cookie the refresh view reads. */
async function cookieLogin() {
  const user = await ctx.server.createUser();
  const { hostname } = new URL(ctx.server.url);
  await ctx.context.addCookies([{
    name: 'refresh_token', value: user.refresh, domain: hostname, path: COOKIE_PATH, httpOnly: true, sameSite: 'Strict',
  }]);
  return user;
}
const refreshCookie = async () => (await ctx.context.cookies(ctx.server.url + COOKIE_REFRESH)).find((c) => c.name === 'refresh_token');
// The access token only in memory: the secure setup issue 11 describes.
const COOKIE_OPTIONS = { refreshUrl: COOKIE_REFRESH, refreshMode: 'cookie', storage: 'memory' };

test('cookie mode, access token in memory: a reload keeps the session through one silent refresh at start-up', async () => {
  const user = await cookieLogin();
  await openPage(ctx.page, ctx.server.url, COOKIE_OPTIONS);
  await ctx.page.evaluate((access) => window.rt.auth.setTokens({ access }), user.access);
  assert.equal((await ctx.page.evaluate(() => window.rt.call('/api/me/'))).status, 200);
  // The first load already made its own start-up refresh with the cookie (rotating it).
  await waitFor(async () => { const st = await stateOf(ctx.page); return st.status === 'active' && !st.refreshInFlight; }, { timeout: 10_000, message: 'the first start-up refresh settled' });
  const presented = (await refreshCookie()).value;
  const mark = await ctx.server.mark();
  await ctx.page.reload();
  await waitForReady(ctx.page);
  await waitFor(async () => (await stateOf(ctx.page)).status === 'active', { timeout: 10_000, message: 'the session is back after the reload' });
  const me = await ctx.page.evaluate(() => window.rt.call('/api/me/'));
  assert.equal(me.status, 200);
  assert.equal(me.body.username, user.username);
  const records = await since(mark);
  const calls = refreshCalls(records);
  console.log(`[real/simplejwt] cookie start-up, refresh call seen by the cookie view: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls.length, 1, `one silent refresh at start-up: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls[0].cookie, true, 'credentials included');
  assert.deepEqual(calls[0].fields, []);
  assert.equal(calls[0].status, 200);
  assert.equal(calls[0].token_fp, fingerprint(presented));
  assert.equal(records.filter((r) => r.kind === 'api' && r.status === 401).length, 0, 'no request went out without a token first');
  const cookie = await refreshCookie();
  assert.ok(cookie && cookie.value !== presented, 'the rotated refresh token replaced the cookie');
  assert.deepEqual(await storageOf(ctx.page), {}, 'nothing in localStorage');
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('cookie mode start-up without a valid cookie: one refused silent refresh, anonymous, no auth:logout', async () => {
  const user = await cookieLogin();
  await ctx.server.simplejwtRevokeUser(user.id); // the cookie's token is blacklisted
  const mark = await ctx.server.mark();
  await openPage(ctx.page, ctx.server.url, COOKIE_OPTIONS);
  const calls = await waitFor(async () => {
    const c = refreshCalls(await since(mark));
    return c.length > 0 && c;
  }, { timeout: 10_000, message: 'a silent refresh at start-up' });
  await sleep(500); // a retry or a logout would show up here
  const all = refreshCalls(await since(mark));
  console.log(`[real/simplejwt] cookie start-up refused, refresh call seen by the cookie view: ${JSON.stringify(all.map(describeRecord))}`);
  assert.equal(all.length, 1, `one silent refresh, no retry of a refusal: ${JSON.stringify(all.map(describeRecord))}`);
  assert.equal(calls[0].cookie, true);
  // 401 as SimpleJWT's TokenRefreshView answers it (the cookie view sends WWW-Authenticate as
  // TokenViewBase does; without it DRF would turn the refusal into a 403).
  assert.equal(calls[0].status, 401);
  assert.equal(calls[0].error, 'token_not_valid');
  assert.deepEqual(await logoutsOf(ctx.page), [], 'no session in this page to end');
  assert.notEqual((await stateOf(ctx.page)).status, 'active');
  const me = await ctx.page.evaluate(() => window.rt.call('/api/me/'));
  assert.equal(me.status, 401, 'anonymous: sent without a bearer');
  assert.equal(refreshCalls(await since(mark)).length, 1, 'an anonymous request does not start a refresh');
});

test('cookie mode, logout() with revokeUrl: the cookie\'s refresh token is blacklisted and the cookie removed', async () => {
  const user = await cookieLogin();
  await openPage(ctx.page, ctx.server.url, { ...COOKIE_OPTIONS, revokeUrl: COOKIE_LOGOUT });
  // The start-up refresh found the session in the cookie (and rotated it).
  await waitFor(async () => { const st = await stateOf(ctx.page); return st.status === 'active' && !st.refreshInFlight; }, { timeout: 10_000, message: 'the start-up refresh settled' });
  const presented = (await refreshCookie()).value;
  const mark = await ctx.server.mark();
  const status = await ctx.page.evaluate(() => {
    window.rt.auth.logout();
    return window.rt.auth.state().status;
  });
  assert.notEqual(status, 'active', 'logged out locally at once');
  const revoke = await waitFor(async () => (await since(mark)).find((r) => r.kind === 'simplejwt-cookie-revoke'), {
    timeout: 5000, message: `a request to ${COOKIE_LOGOUT}`,
  });
  console.log(`[real/simplejwt] cookie-mode revocation seen by the logout view: ${JSON.stringify(describeRecord(revoke))}`);
  assert.equal(revoke.method, 'POST');
  assert.equal(revoke.cookie, true, 'credentials included: the httpOnly cookie went along');
  assert.equal(revoke.token_fp, fingerprint(presented));
  assert.equal(revoke.status, 200);
  await waitFor(async () => !(await refreshCookie()), { timeout: 5000, message: 'the refresh cookie is deleted' });
  assert.equal((await logoutsOf(ctx.page)).length, 1);
  const again = await ctx.server.simplejwtRefresh(presented);
  assert.deepEqual(again, { status: 401, body: { detail: 'Token is blacklisted', code: 'token_not_valid' } });
});
