// THE 3-TAB RACE against djangorestframework-simplejwt from PyPI (ROTATE_REFRESH_TOKENS +
// BLACKLIST_AFTER_ROTATION, 3-second access tokens): three tabs of one browser context share
// localStorage and one session; after every access-token expiry each tab fires 10 requests at
// once; 5 expiry cycles per run, REAL_TABS_RUNS runs (20 by default), each run a fresh context
// and a fresh user.
//
// Per run it asserts: every one of the 30 requests of every cycle answers 200, no tab fires
// auth:logout, SimpleJWT never answers a refresh with 401 `token_not_valid` (a rotated-away,
// blacklisted refresh token presented), and no refresh token is presented twice (the middleware
// fingerprints them: SimpleJWT itself lets two truly concurrent uses of one token both succeed).
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
  useReal, openPage, logoutsOf, stateOf, waitUntilExpired, waitFor, sleep, summarize,
} from './support.mjs';

const RUNS = Number(process.env.REAL_TABS_RUNS || 20);
const CYCLES = Number(process.env.REAL_TABS_CYCLES || 5);
const TABS = 3;
const PER_TAB = 10;
const ACCESS_TTL = 3;
const JITTER_MS = Number(process.env.REAL_TABS_JITTER_MS ?? 100);

const ctx = useReal({ accessTtl: ACCESS_TTL });

async function openTabs(context) {
  const user = await ctx.server.createUser();
  const options = { refreshUrl: '/api/token/refresh/' };
  const first = await openPage(await context.newPage(), ctx.server.url, options);
  await first.evaluate(({ access, refresh }) => window.rt.auth.setTokens({ access, refresh }), user);
  const tabs = [first];
  for (let i = 1; i < TABS; i++) tabs.push(await openPage(await context.newPage(), ctx.server.url, options));
  for (const page of tabs) await waitFor(async () => (await stateOf(page)).status === 'active', { timeout: 5000 });
  return { user, tabs };
}

/** One expiry cycle: waits for the current token's expiry, then 10 requests in every tab at once. */
async function cycle(tabs, mode) {
  if (mode === 'hidden') {
    await Promise.all(tabs.map((page) => page.evaluate(() => window.rt.setHidden(true))));
  }
  // The token every tab holds now; it expires for the server at its `exp`.
  await waitUntilExpired(tabs[0], { margin: 100 + Math.floor(Math.random() * 150) });
  // Each tab starts after its own random 0–JITTER_MS delay: sometimes inside another tab's
  // refresh (it waits for the lock), sometimes just after it (its storage may not show the new
  // tokens yet), sometimes well after.
  const results = await Promise.all(tabs.map((page) => page.evaluate(async ([count, hidden, delay]) => {
    await new Promise((r) => setTimeout(r, delay));
    if (hidden) window.rt.setHidden(false, false);
    const statuses = await window.rt.burst(count, '/api/me/');
    if (hidden) document.dispatchEvent(new Event('visibilitychange'));
    return statuses;
  }, [PER_TAB, mode === 'hidden', Math.floor(Math.random() * JITTER_MS)])));
  return results.flat();
}

async function oneRun(index) {
  const mode = index % 2 === 0 ? 'visible' : 'hidden';
  const context = await ctx.browser.newContext({ viewport: { width: 800, height: 600 } });
  const pageErrors = [];
  const started = Date.now();
  const report = { run: index + 1, mode, perCycle: [], ok: [], problems: [] };
  try {
    context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(String(e))));
    const { tabs } = await openTabs(context);
    if (index === 0) {
      const visibility = await Promise.all(tabs.map((p) => p.evaluate(() => document.visibilityState)));
      console.log(`[tabs] headless tabs report visibilityState ${JSON.stringify(visibility)}`);
    }
    const runMark = await ctx.server.mark();
    for (let c = 0; c < CYCLES; c++) {
      const mark = await ctx.server.mark();
      const statuses = await cycle(tabs, mode);
      const s = summarize(await ctx.server.records(mark));
      const ok = statuses.filter((x) => x === 200).length;
      report.perCycle.push(s.refreshCalls);
      report.ok.push(ok);
      if (ok !== TABS * PER_TAB) {
        const other = {};
        for (const x of statuses) if (x !== 200) other[x] = (other[x] ?? 0) + 1;
        report.problems.push(`cycle ${c + 1}: ${ok}/${TABS * PER_TAB} requests 200, others ${JSON.stringify(other)}`);
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
    report.tokenNotValid = all.tokenNotValid;
    report.reuse = all.reuse;
    report.statuses = all.statuses;
    report.logouts = (await Promise.all(tabs.map(logoutsOf))).reduce((n, l) => n + l.length, 0);
    if (all.tokenNotValid) report.problems.push(`SimpleJWT answered 401 token_not_valid ${all.tokenNotValid}× (refresh statuses ${JSON.stringify(all.statuses)})`);
    if (all.reuse) report.problems.push(`a refresh token was presented again ${all.reuse}×`);
    if (pageErrors.length) report.problems.push(`page errors: ${pageErrors.slice(0, 3).join(' | ')}`);
  } catch (e) {
    report.problems.push(`error: ${e.message}`);
  } finally {
    await context.close();
  }
  report.seconds = ((Date.now() - started) / 1000).toFixed(1);
  return report;
}

test(`3 tabs, ${PER_TAB} requests each after every expiry, ${CYCLES} cycles × ${RUNS} runs: no token_not_valid, no logout, all 200`, async () => {
  const reports = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await oneRun(i);
    reports.push(r);
    console.log(`[tabs] run ${String(r.run).padStart(2)}/${RUNS} ${r.mode.padEnd(7)} ${r.problems.length ? 'FAIL' : 'ok  '} `
      + `refresh calls/cycle ${JSON.stringify(r.perCycle)} total ${r.refreshCalls ?? '?'}, 200s/cycle ${JSON.stringify(r.ok)}, `
      + `token_not_valid ${r.tokenNotValid ?? '?'}, reuse ${r.reuse ?? '?'}, logouts ${r.logouts ?? '?'}, ${r.seconds} s`
      + (r.problems.length ? `\n[tabs]     ${r.problems.join('\n[tabs]     ')}` : ''));
  }
  const failed = reports.filter((r) => r.problems.length);
  const byMode = (m) => `${failed.filter((r) => r.mode === m).length}/${reports.filter((r) => r.mode === m).length}`;
  console.log(`[tabs] failed runs: ${failed.length}/${reports.length} (visible ${byMode('visible')}, hidden ${byMode('hidden')})`);
  assert.equal(failed.length, 0, `${failed.length}/${reports.length} runs failed:\n${failed.map((r) => `run ${r.run} (${r.mode}): ${r.problems.join('; ')}`).join('\n')}`);
});
