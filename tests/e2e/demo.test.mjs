// The demo page itself: the app's own calls (JSON POST, FormData upload, anonymous endpoints)
// go through auth.fetch correctly, the page is responsive, and a screenshot of a live session
// is written to docs/demo.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  useDemo, waitFor, login, logouts, events, byTestId, clickAction, lastResult, authState, ROOT, ensureDir,
} from './support.mjs';

const demo = useDemo();

test('the app calls the API through the package: JSON POST, FormData upload, anonymous endpoints', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 60 });
  const page = await demo.open();
  await login(page);
  assert.equal(await page.getAttribute(byTestId('trades-body'), 'data-count'), '2', 'the seeded trades are listed');

  await page.fill(byTestId('trade-symbol'), 'tsla');
  await page.selectOption(byTestId('trade-side'), 'sell');
  await page.fill(byTestId('trade-qty'), '7');
  await page.click(byTestId('btn-create-trade'));
  await waitFor(async () => (await lastResult(page)).action === 'create-trade');
  assert.equal((await lastResult(page)).status, '201');
  await waitFor(async () => (await page.getAttribute(byTestId('trades-body'), 'data-count')) === '3');
  assert.match(await page.textContent(byTestId('trades-body')), /TSLA/);

  await page.setInputFiles(byTestId('upload-file'), { name: 'fills.csv', mimeType: 'text/csv', buffer: Buffer.from('symbol,qty\nTSLA,7\n') });
  await page.click(byTestId('btn-upload'));
  await waitFor(async () => (await lastResult(page)).action === 'upload');
  const upload = await lastResult(page);
  assert.equal(upload.status, '201', upload.text);
  assert.match(upload.text, /fills\.csv \(18 B\)/);
  assert.match(upload.text, /fields: note/);

  await clickAction(page, 'btn-register');
  assert.equal((await lastResult(page)).status, '201');
  await clickAction(page, 'btn-otp');
  const otp = await lastResult(page);
  assert.equal(otp.status, '401');
  assert.match(otp.text, /0 refreshes triggered/);
  await clickAction(page, 'btn-public');
  assert.equal((await lastResult(page)).status, '200');

  const c = await server.counters();
  assert.equal(c.refresh_calls, 0, 'a 401 from verify-otp does not trigger a refresh');
  assert.equal(c.leaked_bearer, 0, 'no bearer on register, verify-otp or the public endpoint');
  assert.equal(c.api_401s, 0);
  assert.equal((await logouts(page)).length, 0);
  assert.equal((await authState(page)).status, 'active');

  // Bodies survive a replay: the server's clock jumps so the held token is rejected (401),
  // then the JSON POST and the FormData upload are each refreshed-and-replayed intact.
  await server.clock(120);
  await page.fill(byTestId('trade-symbol'), 'amd');
  await page.click(byTestId('btn-create-trade'));
  await waitFor(async () => (await lastResult(page)).action === 'create-trade' && (await lastResult(page)).text.includes('AMD'));
  assert.equal((await lastResult(page)).status, '201');
  await server.clock(240);
  await page.click(byTestId('btn-upload'));
  await waitFor(async () => (await demo.page.evaluate(() => window.demo.results.filter((r) => r.action === 'upload').length)) === 2);
  const replayedUpload = await lastResult(page);
  assert.equal(replayedUpload.status, '201', replayedUpload.text);
  assert.match(replayedUpload.text, /fills\.csv \(18 B\)/, 'the file was replayed intact');
  const after = await server.counters();
  assert.equal(after.api_401s, 2);
  assert.equal(after.refresh_calls, 2, 'one refresh per rejected request');
  const replayed = await page.evaluate(() => window.demo.trace.filter((t) => t.phase === 'replayed')
    .map((t) => [new URL(t.url, location.href).pathname, t.status]));
  assert.deepEqual(replayed, [['/api/paper-trades/', 201], ['/api/paper-trades/upload/', 201]]);
  assert.equal((await logouts(page)).length, 0);
  assert.deepEqual(demo.pageErrors, []);
});

test('responsive: no horizontal overflow on a phone-sized screen', async () => {
  const page = demo.page;
  await page.setViewportSize({ width: 390, height: 844 });
  await demo.open();
  const login = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(login <= 390, `login view width ${login}`);
  await page.click(byTestId('login-button'));
  await page.waitForSelector(`${byTestId('app-view')}:not([hidden])`);
  const app = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(app <= 390, `app view width ${app}`);
});

test('screenshot of a live session → docs/demo.png', async () => {
  const { server } = demo;
  await server.config({ access_ttl: 8 });
  const page = await demo.open({ expiringWarning: 4000, poll: 1000 });
  await login(page);
  await page.fill(byTestId('trade-symbol'), 'NVDA');
  await page.click(byTestId('btn-create-trade'));
  await waitFor(async () => (await lastResult(page)).action === 'create-trade');
  await page.click(byTestId('btn-upload'));
  await waitFor(async () => (await lastResult(page)).action === 'upload');
  await clickAction(page, 'btn-burst');
  assert.equal((await lastResult(page)).ok, '20');
  // The proactive refresh is throttled once (429, Retry-After: 1), then the retry is slow
  // (1.5 s): the polling requests made meanwhile wait in the queue, then go out together.
  await server.fault({ refresh: '429', retry_after: 1, times: 1 });
  await waitFor(async () => (await server.counters()).refresh_failed === 1, { timeout: 10_000, interval: 20 });
  await server.fault({ refresh: 'hang', hang_ms: 1500, times: 1 });
  await waitFor(async () => (await events(page, 'auth:refreshed')).length >= 1, { timeout: 15_000 });
  await waitFor(async () => (await page.evaluate(() => window.demo.trace.at(-1).phase)) === 'done', { timeout: 3000 });
  // The page's server panel has caught up with the server.
  await waitFor(() => page.$eval(byTestId('counter-refresh_ok'), (n) => n.textContent === '1'));
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300))); // let the 250 ms poller paint
  const path = join(ROOT, 'docs', 'demo.png');
  ensureDir(join(ROOT, 'docs'));
  await page.screenshot({ path, fullPage: true });
  const c = await server.counters();
  assert.equal(c.api_401s, 0);
  assert.equal(c.refresh_calls, 2, 'one throttled call, one retry after Retry-After');
  assert.ok((await page.evaluate(() => window.demo.trace.filter((t) => t.phase === 'queued').length)) >= 1, 'requests queued during the refresh');
});
