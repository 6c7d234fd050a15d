// How sessions end: the user vanished (database reset), was deactivated, the stored token is
// garbage, the password is wrong, or the user logs out. Each ending must happen exactly once,
// clear the stored tokens, and bring the app back to its login view with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useDemo, waitFor, waitForBoot, sleep, login, logouts, local, visibleView, byTestId, clickAction, authState,
} from './support.mjs';

const demo = useDemo();

/** Waits for the app to be back on its login view after exactly one auth:logout. */
async function waitForLogout(page, reason, timeout = 15_000) {
  await waitFor(async () => (await visibleView(page)) === 'login' && (await logouts(page)).length > 0, {
    timeout, message: 'the app returns to the login view after auth:logout',
  });
  const all = await logouts(page);
  assert.equal(all.length, 1, `exactly one auth:logout, got ${JSON.stringify(all)}`);
  assert.equal(all[0].detail.reason, reason);
  assert.equal(typeof all[0].detail.message, 'string');
  const banner = await page.$eval(byTestId('logout-reason'), (n) => ({ hidden: n.hidden, reason: n.dataset.reason, text: n.textContent }));
  assert.equal(banner.hidden, false, 'the logout reason is shown');
  assert.equal(banner.reason, reason);
  assert.match(banner.text, new RegExp(reason));
  return all[0];
}

function assertNoTokens(storage) {
  assert.equal(storage.accessToken, undefined, 'access token removed from localStorage');
  assert.equal(storage.refreshToken, undefined, 'refresh token removed from localStorage');
  assert.equal(storage.currentUser, undefined, 'app keys matching the clear patterns removed');
  for (const key of Object.keys(storage)) assert.doesNotMatch(key, /token|auth|user/i, `no session-ish key left: ${key}`);
}

test('database reset with tokens still stored: one refresh call, user_not_found, storage cleared, new login works', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 60 }); // no proactive refresh during the test
  const page = await demo.open();
  await login(page);
  const stored = await local(page);
  assert.ok(stored.accessToken && stored.refreshToken && stored.currentUser, 'tokens stored after login');
  assert.equal(await page.textContent(byTestId('user-id')), '1');

  // The database is reset while the user is away; they come back with the old tokens stored.
  await server.deleteUser();
  await server.resetCounters();
  await page.reload();
  await waitForBoot(page);

  await waitForLogout(page, 'user_not_found');
  const c = await server.counters();
  assert.equal(c.refresh_calls, 1, 'exactly one refresh call');
  assert.equal(c.refresh_failed, 1);
  assert.equal(c.api_401s, 1, 'the stale access token was rejected once, then the session ended');
  assertNoTokens(await local(page));
  assert.equal((await authState(page)).status, 'logged_out');

  // Nothing keeps retrying in the background.
  await sleep(1500);
  assert.equal((await server.counters()).refresh_calls, 1, 'no refresh after the logout');
  assert.equal((await logouts(page)).length, 1);

  // The user signs in again (same client instance) and gets the recreated account.
  await login(page);
  assert.equal(await page.textContent(byTestId('user-id')), '2');
  assert.equal(await page.getAttribute(byTestId('trades-body'), 'data-count'), '2');
  const after = await server.counters();
  assert.equal(after.login_calls, 1);
  assert.equal(after.refresh_calls, 1);
  assert.equal((await authState(page)).status, 'active');
  assert.deepEqual(demo.pageErrors, []);
});

test('deactivated user: user_inactive, storage cleared; login is refused until reactivated', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 60 });
  const page = await demo.open();
  await login(page);
  await server.resetCounters();

  await clickAction(page, 'btn-deactivate'); // deactivates, then the app's next API call
  await waitForLogout(page, 'user_inactive');
  const c = await server.counters();
  assert.equal(c.refresh_calls, 1);
  assert.equal(c.refresh_failed, 1);
  assertNoTokens(await local(page));

  await page.click(byTestId('login-button'));
  await waitFor(() => page.$eval(byTestId('login-error'), (n) => !n.hidden && n.dataset.status === '401'));
  assert.equal(await visibleView(page), 'login');

  await page.click(byTestId('btn-reactivate'));
  await waitFor(async () => (await server.state()).user.active);
  await login(page);
  assert.equal((await server.counters()).refresh_calls, 1, 'no refresh during any of this');
  assert.equal((await logouts(page)).length, 1);
});

test('corrupted stored refresh token: the server answers invalid_token at the next refresh; one logout', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 4 });
  const page = await demo.open();
  await login(page);
  await server.resetCounters();

  // Opaque garbage into localStorage.refreshToken, then the client is re-created (as a reload).
  await clickAction(page, 'btn-corrupt');
  assert.match((await local(page)).refreshToken ?? '', /^garbage-/);
  assert.equal((await authState(page)).status, 'active', 'the access token is still good until it expires');
  await waitForLogout(page, 'invalid_token');
  const c = await server.counters();
  assert.equal(c.refresh_calls, 1, 'exactly one refresh call');
  assert.equal(c.refresh_failed, 1);
  assert.equal(c.refresh_ok, 0);
  assertNoTokens(await local(page));
  await sleep(1000);
  assert.equal((await server.counters()).refresh_calls, 1, 'no retry after the logout');
  assert.equal((await logouts(page)).length, 1);
});

for (const [what, key, value] of [
  ['garbage access token', 'accessToken', 'not-a-jwt'],
  ['malformed JWT-shaped refresh token', 'refreshToken', 'eyJhbGciOiJIUzI1NiJ9.!!not-base64!!.c2ln'],
]) {
  test(`${what} found at start-up: cleared locally with invalid_token, nothing sent`, async () => {
    const { server } = demo;
    await server.config({ access_ttl: 60 });
    const page = await demo.open();
    await login(page);
    await page.evaluate(([k, v]) => localStorage.setItem(k, v), [key, value]);
    await server.resetCounters();
    await page.reload();
    await waitForBoot(page);
    await waitForLogout(page, 'invalid_token');
    assertNoTokens(await local(page));
    const c = await server.counters();
    assert.equal(c.refresh_calls, 0, 'judged locally: no refresh call');
    assert.equal(c.api_calls, 0, 'the bad session was never used');
  });
}

test('wrong password: the 401 is shown, no refresh is attempted, nothing is stored', async () => {
  const { server } = demo;
  const page = await demo.open();
  await page.fill(byTestId('password'), 'looking-glass');
  await page.click(byTestId('login-button'));
  const error = await waitFor(() => page.$eval(byTestId('login-error'), (n) => !n.hidden && { status: n.dataset.status, text: n.textContent }));
  assert.equal(error.status, '401');
  assert.match(error.text, /No active account/);
  assert.equal(await visibleView(page), 'login');
  const c = await server.counters();
  assert.equal(c.login_calls, 1);
  assert.equal(c.refresh_calls, 0);
  assert.equal(c.leaked_bearer, 0);
  const stored = await local(page);
  assert.equal(stored.accessToken, undefined);
  assert.equal(stored.refreshToken, undefined);
  assert.equal((await logouts(page)).length, 0, 'a failed login is not a logout');
  assert.equal((await authState(page)).status, 'anonymous');
});

test('manual logout: reason manual, tokens cleared, the refresh token is blacklisted on the server', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 60 });
  const page = await demo.open();
  await login(page);
  const { refreshToken } = await local(page);
  await page.click(byTestId('logout-button'));
  await waitForLogout(page, 'manual');
  assertNoTokens(await local(page));
  assert.equal((await server.counters()).refresh_calls, 0);

  const res = await fetch(`${server.url}/api/auth/token/refresh/`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: refreshToken }),
  });
  assert.equal(res.status, 401, 'the logged-out refresh token no longer works');
});
