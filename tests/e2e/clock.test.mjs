// A server clock ten minutes off (or, equivalently, a device clock that is): tokens carry the
// server's iat/exp. The client estimates its clock offset from each fresh token, so it neither
// refreshes in a loop (server behind: every token looks already expired) nor too late (server
// ahead: every token looks valid for ten more minutes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDemo, waitFor, sleep, login, logouts, authState, byTestId } from './support.mjs';

const demo = useDemo();
const TTL = 3;

for (const skew of [600, -600]) {
  const label = skew > 0 ? '+10 min' : '−10 min';
  test(`server clock ${label}: no refresh loop, still refreshed before expiry (no 401s)`, async () => {
    const { server } = demo;
    await server.config({ access_ttl: TTL });
    await server.clock(skew);
    const page = await demo.open({ poll: 500 });
    await login(page);
    const started = Date.now();

    // Observe about two and a half token lifetimes while the app keeps calling the API.
    await waitFor(async () => (await server.counters()).refresh_ok >= 2, { timeout: 12_000 });
    await sleep(Math.max(0, started + TTL * 2500 - Date.now()));
    const c = await server.counters();
    assert.equal(c.api_401s, 0, 'every refresh happened before the server considered the token expired');
    assert.equal(c.refresh_failed, 0);
    // A loop would make hundreds of calls; a correct client about one per (lifetime − leeway).
    // (lifetime 3 s, leeway 1 s: about one refresh every 2 s, so 3–4 in 7.5 s.)
    assert.ok(c.refresh_calls >= 2 && c.refresh_calls <= 6, `refresh calls over ${TTL * 2.5} s: ${c.refresh_calls}`);
    assert.ok(c.api_calls >= 8, `the app kept calling (${c.api_calls})`);

    const state = await authState(page);
    assert.ok(Math.abs(state.clockOffset - skew * 1000) < 5000, `clock offset ${state.clockOffset} ms ≈ ${skew * 1000} ms`);
    const left = state.expiresAt - Date.now();
    assert.ok(left > 0 && left <= TTL * 1000 + 1500, `expiresAt is in local time (${left} ms from now)`);
    assert.match(await page.textContent(byTestId('clock-offset')), skew > 0 ? /^\+10\.0 min$/ : /^−10\.0 min$/);
    assert.equal((await logouts(page)).length, 0);
    assert.deepEqual(demo.pageErrors, []);
  });
}
