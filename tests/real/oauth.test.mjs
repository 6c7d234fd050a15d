// authkeeper against django-oauth-toolkit from PyPI, unmodified: a standard OAuth 2.0
// authorization server with a public client (no secret), rotating refresh tokens (no grace
// period), opaque 3-second access tokens, RFC 7009 revocation at /o/revoke_token/.
// `refreshFormat: 'oauth'` + `clientId`: the refresh grant of RFC 6749 §6, form-encoded
// (grant_type=refresh_token&refresh_token=…&client_id=…) → {access_token, refresh_token, expires_in}.
// The initial pair comes from DOT's real /o/token/ (password grant); every refresh goes through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useReal, forcedRefreshBurst, logoutClearsAtOnce, openPage, waitForReady, logoutsOf, storageOf, sessionStorageOf, stateOf, setHidden,
  waitUntilExpired, waitFor, sleep, summarize, refreshCalls, describeRecord, pageUrl, fingerprint,
} from './support.mjs';

const ctx = useReal({ oauthTtl: 3 });
let clientId = null;
/** The public client (created by the hook on first use; the server lives for the whole file). */
async function publicClient() {
  clientId ??= (await ctx.server.oauthClient()).client_id;
  return clientId;
}

const options = (extra = {}) => ({
  refreshUrl: '/o/token/', refreshFormat: 'oauth', clientId, revokeUrl: '/o/revoke_token/', ...extra,
});

/** A new user and a token pair from DOT's password grant, handed to the page's client. */
async function login(extra = {}, page = ctx.page) {
  await publicClient();
  const user = await ctx.server.createUser();
  const grant = await ctx.server.oauthPasswordGrant(user.username, user.password, clientId);
  assert.equal(grant.status, 200, `password grant: ${JSON.stringify(grant.body)}`);
  await openPage(page, ctx.server.url, options(extra));
  const { access_token: access, refresh_token: refresh, expires_in: expiresIn } = grant.body;
  await page.evaluate(({ access, refresh, expiresIn, username }) => {
    window.rt.auth.setTokens({ access, refresh, expiresIn });
    localStorage.setItem('user', JSON.stringify({ username }));
  }, { access, refresh, expiresIn, username: user.username });
  return { ...user, access, refresh };
}

async function expireWhileHidden(page = ctx.page) {
  await setHidden(page, true);
  await waitUntilExpired(page);
}

const since = (mark) => ctx.server.records(mark);

test('the DOT server itself (no SDK): form + client_id refreshes and rotates; JSON or no client_id is refused', async () => {
  await publicClient();
  const user = await ctx.server.createUser();
  const login = await ctx.server.oauthPasswordGrant(user.username, user.password, clientId);
  assert.equal(login.status, 200);
  assert.deepEqual(Object.keys(login.body).sort(), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
  assert.equal(login.body.expires_in, 3);
  const fresh = await ctx.server.oauthRefreshGrant(login.body.refresh_token, clientId);
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
  assert.notEqual(fresh.body.refresh_token, login.body.refresh_token, 'rotated');
  const reused = await ctx.server.oauthRefreshGrant(login.body.refresh_token, clientId);
  assert.deepEqual(reused, { status: 400, body: { error: 'invalid_grant' } });
  const res = await fetch(`${ctx.server.url}/o/token/`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: fresh.body.refresh_token }),
  });
  assert.deepEqual({ status: res.status, body: await res.json() }, { status: 400, body: { error: 'unsupported_grant_type' } });
  const noClient = await fetch(`${ctx.server.url}/o/token/`, {
    method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: fresh.body.refresh_token }),
  });
  assert.deepEqual({ status: noClient.status, body: await noClient.json() }, { status: 401, body: { error: 'invalid_client' } });
  const me = await fetch(`${ctx.server.url}/oapi/me/`, { headers: { authorization: `Bearer ${fresh.body.access_token}` } });
  assert.equal(me.status, 200);
});

test('first refresh after expiry: form-encoded grant with client_id, one call, the API answers 200', async () => {
  const user = await login();
  await expireWhileHidden();
  const mark = await ctx.server.mark();
  const result = await ctx.page.evaluate(async () => {
    window.rt.setHidden(false, false);
    return window.rt.call('/oapi/me/');
  });
  const records = await since(mark);
  const calls = refreshCalls(records);
  console.log(`[real/oauth] refresh calls seen by DOT: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls.length, 1, `refresh calls: ${JSON.stringify(calls.map(describeRecord))}`);
  const [call] = calls;
  assert.equal(call.method, 'POST');
  assert.match(call.content_type, /^application\/x-www-form-urlencoded/);
  assert.deepEqual(call.fields.filter((f) => f !== 'scope'), ['client_id', 'grant_type', 'refresh_token']);
  assert.equal(call.grant_type, 'refresh_token');
  assert.equal(call.client_id, clientId);
  assert.equal(call.credentials_header, false, 'a public client sends no Authorization header');
  assert.equal(call.status, 200);
  assert.equal(result.status, 200, JSON.stringify(result));
  assert.equal(result.body.username, user.username);
  const storage = await storageOf(ctx.page);
  assert.notEqual(storage.refreshToken, user.refresh, 'the rotated refresh token is stored');
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('ten concurrent requests after expiry: one refresh call, ten 200s', async () => {
  await login();
  await expireWhileHidden();
  const mark = await ctx.server.mark();
  const statuses = await ctx.page.evaluate(async () => {
    window.rt.setHidden(false, false);
    const s = await window.rt.burst(10, '/oapi/me/');
    document.dispatchEvent(new Event('visibilitychange'));
    return s;
  });
  const s = summarize(await since(mark));
  assert.equal(s.refreshCalls, 1, JSON.stringify(s));
  assert.deepEqual(statuses, Array(10).fill(200));
  assert.equal(s.reuse, 0);
  assert.equal(s.invalidGrant, 0);
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('a 401 on a POST: one refresh, the request is replayed once with the same body', async () => {
  const user = await login();
  // An opaque access token DOT does not know, which the client believes valid for 5 minutes.
  await ctx.page.evaluate((refresh) => window.rt.auth.setTokens({ access: 'not-a-dot-token-0123456789', refresh, expiresIn: 300 }), user.refresh);
  const mark = await ctx.server.mark();
  const payload = { order: 7, note: 'replay me' };
  const result = await ctx.page.evaluate((p) => window.rt.call('/oapi/echo/', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(p),
  }), payload);
  const records = await since(mark);
  assert.equal(summarize(records).refreshCalls, 1);
  assert.deepEqual(records.filter((r) => r.path === '/oapi/echo/').map((r) => r.status), [401, 200]);
  assert.equal(result.status, 200);
  assert.deepEqual(result.body.body, payload);
});

test('grant revoked server-side: one auth:logout (invalid_token), storage cleared', async () => {
  const user = await login();
  await ctx.page.evaluate(() => sessionStorage.setItem('draft', 'x'));
  const revoked = await ctx.server.oauthRevokeUser(user.id);
  assert.equal(revoked.revoked_refresh_tokens, 1);
  const mark = await ctx.server.mark();
  // DOT deleted the access token with the grant: 401 → refresh → invalid_grant → logout.
  const result = await ctx.page.evaluate(() => window.rt.call('/oapi/me/'));
  assert.equal(result.status, 401);
  await waitFor(async () => (await logoutsOf(ctx.page)).length > 0, { timeout: 5000 });
  await sleep(500);
  const logouts = await logoutsOf(ctx.page);
  assert.equal(logouts.length, 1, JSON.stringify(logouts));
  assert.equal(logouts[0].reason, 'invalid_token');
  const calls = refreshCalls(await since(mark));
  console.log(`[real/oauth] revoked grant, refresh call seen by DOT: ${JSON.stringify(calls.map(describeRecord))}; auth:logout ${JSON.stringify(logouts[0])}`);
  assert.equal(calls.length, 1, `one refresh call: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls[0].status, 400);
  assert.equal(calls[0].error, 'invalid_grant');
  assert.equal(calls[0].token_fp, fingerprint(user.refresh));
  // DOT's answer, asked directly for the same token: its message is what the logout carries.
  const server = await ctx.server.oauthRefreshGrant(user.refresh, clientId);
  assert.equal(server.status, 400);
  assert.equal(server.body.error, 'invalid_grant');
  if (server.body.error_description) assert.equal(logouts[0].message, server.body.error_description);
  else {
    // DOT sends no error_description for a revoked grant (the body is {"error":"invalid_grant"}),
    // so there is no server text to carry: a message for the user, and never the token.
    assert.deepEqual(calls[0].response_fields, ['error']);
    assert.equal(typeof logouts[0].message, 'string');
    assert.ok(logouts[0].message.length > 0 && !logouts[0].message.includes(user.refresh));
  }
  const storage = await storageOf(ctx.page);
  for (const key of ['accessToken', 'refreshToken', 'user']) assert.equal(storage[key], undefined, `${key} cleared`);
  assert.deepEqual(await sessionStorageOf(ctx.page), {});
  assert.notEqual((await stateOf(ctx.page)).status, 'active');
});

test('a page reload keeps the session (opaque access token, its expiry persisted); reopening after expiry refreshes before sending', async () => {
  const user = await login();
  const { expiresAt } = await stateOf(ctx.page);
  assert.ok(expiresAt, 'the client knows the expiry from expires_in');
  const mark = await ctx.server.mark();
  await ctx.page.reload();
  await waitForReady(ctx.page);
  assert.deepEqual(await logoutsOf(ctx.page), [], 'no logout after the reload');
  const state = await stateOf(ctx.page);
  assert.equal(state.status, 'active');
  // Persisted and validated like a JWT's exp, not "unknown expiry" (a token that would then be
  // sent after it expired).
  assert.ok(state.expiresAt && Math.abs(state.expiresAt - expiresAt) <= 1000,
    `the expiry survives the reload: ${state.expiresAt} vs ${expiresAt}`);
  const result = await ctx.page.evaluate(() => window.rt.call('/oapi/me/'));
  assert.equal(result.status, 200);
  assert.equal(result.body.username, user.username);
  const s = summarize(await since(mark));
  assert.ok(s.refreshCalls <= 1, `at most one refresh at start-up: ${JSON.stringify(s)}`);
  assert.equal(s.invalidGrant, 0);

  // Leave the page, let the opaque token expire, come back: the persisted expiry says it is
  // expired, so the client refreshes once before sending (no API 401).
  const options = await ctx.page.evaluate(() => window.rt.options);
  const exp = (await stateOf(ctx.page)).expiresAt;
  await ctx.page.goto('about:blank');
  await sleep(Math.max(0, exp - Date.now() + 150));
  const later = await ctx.server.mark();
  await ctx.page.goto(pageUrl(ctx.server.url, options));
  await waitForReady(ctx.page);
  const again = await ctx.page.evaluate(() => window.rt.call('/oapi/me/'));
  assert.equal(again.status, 200, JSON.stringify(again));
  const t = summarize(await since(later));
  const calls = refreshCalls(await since(later));
  console.log(`[real/oauth] reopened after expiry, refresh call seen by DOT: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(t.refreshCalls, 1, JSON.stringify(t));
  assert.equal(t.api401, 0, 'the expired opaque token was not sent');
  assert.deepEqual(await logoutsOf(ctx.page), []);
});

test('logout() with revokeUrl: the refresh token is revoked at /o/revoke_token/ (RFC 7009) and no longer works', async () => {
  await login();
  const { refreshToken } = await storageOf(ctx.page);
  assert.ok(refreshToken);
  const mark = await ctx.server.mark();
  await logoutClearsAtOnce(ctx.page, assert);
  const revoke = await waitFor(async () => (await since(mark)).find((r) => r.kind === 'oauth-revoke'), {
    timeout: 5000, message: 'a request to /o/revoke_token/',
  });
  console.log(`[real/oauth] revocation request seen by DOT: ${JSON.stringify(describeRecord(revoke))}`);
  assert.equal(revoke.method, 'POST');
  assert.match(revoke.content_type, /^application\/x-www-form-urlencoded/);
  assert.deepEqual(revoke.fields, ['client_id', 'token', 'token_type_hint']);
  assert.equal(revoke.token_type_hint, 'refresh_token');
  assert.equal(revoke.client_id, clientId);
  assert.equal(revoke.token_fp, fingerprint(refreshToken), 'the session\'s refresh token was revoked');
  assert.equal(revoke.status, 200);
  const records = await since(mark);
  assert.equal(records.filter((r) => r.kind === 'oauth-revoke').length, 1, 'revoked once');
  assert.equal(refreshCalls(records).length, 0, 'no refresh on logout');
  const again = await ctx.server.oauthRefreshGrant(refreshToken, clientId);
  assert.deepEqual(again, { status: 400, body: { error: 'invalid_grant' } });
});

test('refresh endpoint down (503) for 3 s: no logout, the session recovers', async () => {
  const retry = { maxAttempts: 3, baseDelay: 300, maxDelay: 2000, cooldown: 1000, giveUpAfter: 60_000 };
  const user = await login({ retry });
  await expireWhileHidden();
  const mark = await ctx.server.mark();
  await ctx.server.fault({ down_seconds: 3 });
  const downUntil = Date.now() + 3000;
  await ctx.page.evaluate(() => window.rt.setHidden(false, false));
  const seen = [];
  await waitFor(async () => {
    const r = await ctx.page.evaluate(() => window.rt.call('/oapi/me/'));
    seen.push(r.status ?? r.error);
    return r.status === 200;
  }, { timeout: 20_000, interval: 250, message: () => `a 200 after the outage (client saw ${JSON.stringify(seen)})` });
  const records = await since(mark);
  const s = summarize(records);
  console.log(`[real/oauth] endpoint down 3 s: recovered ${Date.now() - downUntil} ms after it came back; client saw ${JSON.stringify(seen)}; refresh calls ${JSON.stringify(s.statuses)}`);
  assert.ok((s.statuses[503] ?? 0) >= 1, 'the outage was seen');
  assert.equal(s.statuses[200], 1, 'one successful refresh');
  assert.ok(s.refreshCalls <= 10, `no refresh storm: ${s.refreshCalls} calls`);
  assert.equal(s.invalidGrant, 0);
  assert.equal(s.reuse, 0, 'the refresh token retried after a 503 is the same one, presented once successfully');
  assert.ok(seen.every((x) => x === 200 || x === 'refresh_unavailable' || x === 401), `unexpected outcomes ${JSON.stringify(seen)}`);
  assert.deepEqual(await logoutsOf(ctx.page), []);
  const storage = await storageOf(ctx.page);
  assert.ok(storage.refreshToken && storage.refreshToken !== user.refresh, 'session kept, token rotated');
});

test('auth.refresh(): a forced refresh now, single-flight, rotates at DOT', async () => {
  const user = await login();
  const before = await storageOf(ctx.page);
  // A slow token endpoint: the second and third calls arrive while the first is in flight.
  await ctx.server.fault({ latency_ms: 400 });
  const mark = await ctx.server.mark();
  const outcome = await forcedRefreshBurst(ctx.page, '/oapi/me/');
  assert.equal(outcome.isPromise, true, 'auth.refresh() returns a Promise');
  assert.deepEqual(outcome.settled, ['fulfilled', 'fulfilled', 'fulfilled']);
  const calls = refreshCalls(await since(mark));
  console.log(`[real/oauth] auth.refresh(), refresh call seen by DOT: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls.length, 1, `one refresh call for three auth.refresh() calls: ${JSON.stringify(calls.map(describeRecord))}`);
  assert.equal(calls[0].status, 200);
  assert.equal(calls[0].token_fp, fingerprint(before.refreshToken));
  // DOT deletes the old access token when it rotates: the burst passes only if it waited for the
  // forced refresh (or was replayed with the new token).
  assert.deepEqual(outcome.statuses, Array(5).fill(200));
  const after = await storageOf(ctx.page);
  assert.notEqual(after.accessToken, before.accessToken, 'a new access token although the old one had not expired');
  assert.notEqual(after.refreshToken, before.refreshToken);
  const reuse = await ctx.server.oauthRefreshGrant(before.refreshToken, clientId);
  assert.deepEqual(reuse, { status: 400, body: { error: 'invalid_grant' } }, 'the refresh really rotated');
  const me = await ctx.page.evaluate(() => window.rt.call('/oapi/me/'));
  assert.equal(me.status, 200);
  assert.equal(me.body.username, user.username);
  assert.deepEqual(await logoutsOf(ctx.page), []);
});
