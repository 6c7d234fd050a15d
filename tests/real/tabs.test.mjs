// THE 3-TAB RACE against the real servers from PyPI: three tabs of one browser context share
// localStorage and one session; after every access-token expiry each tab fires 10 requests at
// once. Each run is a fresh context and a fresh user.
//
// - djangorestframework-simplejwt (ROTATE_REFRESH_TOKENS + BLACKLIST_AFTER_ROTATION): REAL_TABS_RUNS
//   runs (20 by default) of REAL_TABS_CYCLES expiry cycles (5). Issue 10 defect 8: before the
//   cross-tab fix, runs of this test ended with a rotated-away refresh token presented again
//   (SimpleJWT: 401 `token_not_valid`).
// - django-oauth-toolkit (public client, rotating refresh tokens, no grace period, opaque access
//   tokens): REAL_OAUTH_TABS_RUNS runs (4) of REAL_OAUTH_TABS_CYCLES expiry cycles (3). A reused
//   refresh token gets 400 `invalid_grant`. Tab 0 receives the pair from the password grant
//   while the other two are already open, so they learn the opaque token's expiry only from
//   storage: before issue 11's persisted expiry (2633c7c) they did not know it, sent the token
//   after expiry or after DOT had deleted it (DOT deletes the old access token when it rotates),
//   the 401 path refreshed a second time, and the requests replayed with the access token of the
//   first refresh came back 401 (e.g. "api 200×3, oauth → 200, api 401×17, api 200×18,
//   oauth → 200, api 401×9"): 1 in 4 visible runs, 4 of 5 hidden runs. On 4d7b335 it still
//   happened now and then (1 hidden run of 4): a tab adopting another tab's opaque token over the
//   channel did not learn its expiry. The channel message now carries it (and the storage-event
//   fallback reads it from storage): 0 of 6 runs since, so any request answered 401 fails the test.
//
// Access tokens live REAL_TABS_TTL seconds (3). SimpleJWT's `exp` is whole seconds after a
// truncated `iat`, so its tokens live 2-3 s; DOT's `expires_in` is exact. 2 s was tried: it saves
// only about 0.4 s a cycle (the bursts take part of the lifetime), doubles the proactive
// refreshes, and on 2633c7c one hidden run in five then had 7 of 30 requests answered 401.
//
// Per run it asserts, from the server's own request log: every one of the 30 requests of every
// cycle answers 200, no tab fires auth:logout, the server never refuses a refresh as a reused
// token, and no refresh token is presented twice (the middleware fingerprints them: SimpleJWT
// itself lets two truly concurrent uses of one token both succeed).
//
// Two kinds of runs alternate:
// - visible: all three tabs visible, so all three run the proactive timer for the same token
//   and reach it at the same moment; the requests go out right after the expiry;
// - hidden: all three tabs hidden (no proactive refresh), the token expires, then all three
//   become visible and fire their requests within JITTER_MS (100 ms) of each other: the
//   on-demand path, where a tab can ask for a refresh just after another tab's has landed.
// A run that fails is reported and the next run starts; the test fails at the end if any did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useReal, openPage, logoutsOf, stateOf, jwtExpMs, waitFor, sleep, summarize,
} from './support.mjs';

const TTL = Number(process.env.REAL_TABS_TTL || 3);
const TABS = 3;
const PER_TAB = 10;
const JITTER_MS = Number(process.env.REAL_TABS_JITTER_MS ?? 100);

const ctx = useReal({ accessTtl: TTL, oauthTtl: TTL });

const SERVERS = {
  simplejwt: {
    cycles: Number(process.env.REAL_TABS_CYCLES || 5),
    api: '/api/me/',
    reuseError: 'token_not_valid',
    /** Tab 0 gets a SimpleJWT pair (as after the app's login), then the other two tabs open. */
    async openTabs(context) {
      const user = await ctx.server.createUser();
      const options = { refreshUrl: '/api/token/refresh/' };
      const first = await openPage(await context.newPage(), ctx.server.url, options);
      await first.evaluate(({ access, refresh }) => window.rt.auth.setTokens({ access, refresh }), user);
      const tabs = [first];
      for (let i = 1; i < TABS; i++) tabs.push(await openPage(await context.newPage(), ctx.server.url, options));
      return tabs;
    },
  },
  oauth: {
    cycles: Number(process.env.REAL_OAUTH_TABS_CYCLES || 3),
    api: '/oapi/me/',
    reuseError: 'invalid_grant',
    /** Three tabs open, then the user logs in in tab 0 (a pair from DOT's password grant); the
     * other tabs pick the session up from it. */
    async openTabs(context) {
      const { client_id: clientId } = await ctx.server.oauthClient();
      const user = await ctx.server.createUser();
      const options = { refreshUrl: '/o/token/', refreshFormat: 'oauth', clientId };
      const tabs = [];
      for (let i = 0; i < TABS; i++) tabs.push(await openPage(await context.newPage(), ctx.server.url, options));
      const grant = await ctx.server.oauthPasswordGrant(user.username, user.password, clientId);
      assert.equal(grant.status, 200, JSON.stringify(grant.body));
      const { access_token: access, refresh_token: refresh, expires_in: expiresIn } = grant.body;
      await tabs[0].evaluate((t) => window.rt.auth.setTokens(t), { access, refresh, expiresIn });
      return tabs;
    },
  },
};

// Which runs: `modes` alternate (visible, hidden, visible, ...) over `runs` runs.
const RACES = [
  { server: 'simplejwt', runs: Number(process.env.REAL_TABS_RUNS || 20), modes: ['visible', 'hidden'] },
  {
    server: 'oauth', runs: Number(process.env.REAL_OAUTH_TABS_RUNS || 4), modes: ['visible', 'hidden'],
  },
];

/** The server's log of a cycle, compact: refresh calls with the token's fingerprint, API
 * statuses run-length encoded (`api 200×12`). */
function timeline(records) {
  const out = [];
  for (const r of records) {
    const what = r.kind === 'api' ? `api ${r.status}${r.bearer ? '' : ' (no bearer)'}` : `${r.kind} ${r.token_fp ?? '-'} → ${r.status}${r.error ? ` ${r.error}` : ''}`;
    const last = out[out.length - 1];
    if (last && last.what === what && r.kind === 'api') last.n += 1;
    else out.push({ what, n: 1 });
  }
  return out.map(({ what, n }) => (n > 1 ? `${what}×${n}` : what)).join(', ');
}

// Where a run's time goes (ms): waiting for expiries, the bursts, the rest (tabs, log reads).
let timing = { wait: 0, burst: 0 };

/** One expiry cycle: waits for the current token's expiry, then 10 requests in every tab at once. */
async function cycle(tabs, mode, api) {
  if (mode === 'hidden') {
    await Promise.all(tabs.map((page) => page.evaluate(() => window.rt.setHidden(true))));
  }
  // The token the tabs hold now; it expires for the server at its `exp` (an opaque token: at the
  // expiry the client learnt from expires_in, which only the tab that received it may know).
  // All tabs are read at the same moment, once: waiting tab after tab would chase the tokens the
  // visible tabs' proactive timers keep renewing.
  const margin = 100 + Math.floor(Math.random() * 150);
  const waitStarted = Date.now();
  const exps = await Promise.all(tabs.map((page) => page.evaluate(() => ({
    stored: localStorage.getItem('accessToken'), expiresAt: window.rt.auth.state().expiresAt,
  }))));
  const exp = Math.max(...exps.map(({ stored, expiresAt }) => Math.max((stored && jwtExpMs(stored)) || 0, expiresAt || 0)));
  await sleep(Math.max(0, exp - Date.now() + margin));
  timing.wait += Date.now() - waitStarted;
  const burstStarted = Date.now();
  // Each tab starts after its own random 0–JITTER_MS delay: sometimes inside another tab's
  // refresh (it waits for the lock), sometimes just after it (its storage may not show the new
  // tokens yet), sometimes well after.
  const results = await Promise.all(tabs.map((page) => page.evaluate(async ([count, hidden, delay, path]) => {
    await new Promise((r) => setTimeout(r, delay));
    if (hidden) window.rt.setHidden(false, false);
    const statuses = await window.rt.burst(count, path);
    if (hidden) document.dispatchEvent(new Event('visibilitychange'));
    return statuses;
  }, [PER_TAB, mode === 'hidden', Math.floor(Math.random() * JITTER_MS), api])));
  timing.burst += Date.now() - burstStarted;
  return results.flat();
}

async function oneRun(server, mode, index, non200) {
  const { cycles, api, reuseError } = SERVERS[server];
  const context = await ctx.browser.newContext({ viewport: { width: 800, height: 600 } });
  const pageErrors = [];
  const started = Date.now();
  const report = { run: index + 1, mode, perCycle: [], ok: [], problems: [], soft: [] };
  timing = { wait: 0, burst: 0 };
  try {
    context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(String(e))));
    const tabs = await SERVERS[server].openTabs(context);
    for (const page of tabs) await waitFor(async () => (await stateOf(page)).status === 'active', { timeout: 5000, message: 'every tab has the session' });
    if (index === 0) {
      const visibility = await Promise.all(tabs.map((p) => p.evaluate(() => document.visibilityState)));
      console.log(`[tabs/${server}] headless tabs report visibilityState ${JSON.stringify(visibility)}`);
    }
    const runMark = await ctx.server.mark();
    for (let c = 0; c < cycles; c++) {
      const mark = await ctx.server.mark();
      const statuses = await cycle(tabs, mode, api);
      const records = await ctx.server.records(mark);
      const s = summarize(records);
      const ok = statuses.filter((x) => x === 200).length;
      report.perCycle.push(s.refreshCalls);
      report.ok.push(ok);
      if (ok !== TABS * PER_TAB) {
        const other = {};
        for (const x of statuses) if (x !== 200) other[x] = (other[x] ?? 0) + 1;
        report[non200 ? 'soft' : 'problems'].push(`cycle ${c + 1}: ${ok}/${TABS * PER_TAB} requests 200, others ${JSON.stringify(other)}; `
          + `the server saw: ${timeline(records)}`);
      }
      const logouts = (await Promise.all(tabs.map(logoutsOf))).flat();
      if (logouts.length) {
        report.problems.push(`cycle ${c + 1}: auth:logout ${JSON.stringify(logouts)}`);
        break; // the session is over: the remaining cycles would only repeat it
      }
    }
    await sleep(200); // lets a refresh still in flight land in the records
    const all = summarize(await ctx.server.records(runMark));
    report.refreshCalls = all.refreshCalls;
    report.refused = all.errors[reuseError] ?? 0;
    report.reuse = all.reuse;
    report.statuses = all.statuses;
    report.logouts = (await Promise.all(tabs.map(logoutsOf))).reduce((n, l) => n + l.length, 0);
    if (report.refused) report.problems.push(`the server answered ${reuseError} ${report.refused}× (refresh statuses ${JSON.stringify(all.statuses)})`);
    if (all.reuse) report.problems.push(`a refresh token was presented again ${all.reuse}×`);
    if (pageErrors.length) report.problems.push(`page errors: ${pageErrors.slice(0, 3).join(' | ')}`);
  } catch (e) {
    report.problems.push(`error: ${e.message}`);
  } finally {
    await context.close();
  }
  report.seconds = ((Date.now() - started) / 1000).toFixed(1);
  report.timing = `waiting ${(timing.wait / 1000).toFixed(1)} s, bursts ${(timing.burst / 1000).toFixed(1)} s`;
  return report;
}

for (const { server, runs, modes, skip, non200 } of RACES) {
  const { cycles, reuseError } = SERVERS[server];
  test(`${server}: 3 tabs, ${PER_TAB} requests each after every expiry, ${cycles} cycles × ${runs} runs: no ${reuseError}, no reuse, no logout, all 200`, { skip }, async (t) => {
    const reports = [];
    for (let i = 0; i < runs; i++) {
      const r = await oneRun(server, modes[i % modes.length], i, non200);
      reports.push(r);
      const verdict = r.problems.length ? 'FAIL' : r.soft.length ? 'TODO' : 'ok  ';
      const lines = [...r.problems, ...r.soft];
      console.log(`[tabs/${server}] run ${String(r.run).padStart(2)}/${runs} ${r.mode.padEnd(7)} ${verdict} `
        + `refresh calls/cycle ${JSON.stringify(r.perCycle)} total ${r.refreshCalls ?? '?'}, 200s/cycle ${JSON.stringify(r.ok)}, `
        + `${reuseError} ${r.refused ?? '?'}, reuse ${r.reuse ?? '?'}, logouts ${r.logouts ?? '?'}, ${r.seconds} s (${r.timing})`
        + (lines.length ? `\n[tabs/${server}]     ${lines.join(`\n[tabs/${server}]     `)}` : ''));
    }
    const failed = reports.filter((r) => r.problems.length);
    const byMode = modes.map((m) => `${m} ${failed.filter((r) => r.mode === m).length}/${reports.filter((r) => r.mode === m).length}`);
    const todo = reports.filter((r) => !r.problems.length && r.soft.length);
    console.log(`[tabs/${server}] failed runs: ${failed.length}/${reports.length} (${byMode.join(', ')})`
      + (non200 ? `; runs with requests answered 401 (TODO): ${todo.length}/${reports.length}` : ''));
    assert.equal(failed.length, 0, `${failed.length}/${reports.length} runs failed:\n${failed.map((r) => `run ${r.run} (${r.mode}): ${r.problems.join('; ')}`).join('\n')}`);
    if (todo.length) t.todo(`${non200}: ${todo.map((r) => `run ${r.run} (${r.mode}): ${r.soft.join('; ')}`).join(' | ')}`);
  });
}
