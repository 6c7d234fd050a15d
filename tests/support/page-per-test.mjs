// The lifecycle the end-to-end and real-server suites share: one server and one Chromium per
// file, a fresh browser context and page per test (server state reset first), uncaught page
// errors collected in `ctx.pageErrors`.
import { after, afterEach, before, beforeEach } from 'node:test';
import { launch } from './browser.mjs';

/**
 * `start()` starts the server and resolves to `{ url, stop() }`; `api(url)` is the suite's client
 * of its control endpoints (with `reset()`). Fills in `ctx.server`, `ctx.browser`, and per test
 * `ctx.context` and `ctx.page`.
 */
export function pagePerTest(ctx, { start, api, viewport }) {
  let running;
  before(async () => {
    running = await start();
    ctx.server = api(running.url);
    ctx.browser = await launch();
  });
  after(async () => {
    await ctx.browser?.close();
    await running?.stop();
  });
  beforeEach(async () => {
    await ctx.server.reset();
    ctx.context = await ctx.browser.newContext({ viewport });
    ctx.page = await ctx.context.newPage();
    // Uncaught exceptions in the page ("Failed to load resource: 401" console lines are expected
    // in these scenarios and are not collected).
    ctx.pageErrors = [];
    ctx.page.on('pageerror', (e) => ctx.pageErrors.push(String(e)));
  });
  afterEach(async () => {
    await ctx.context?.close();
    ctx.context = null;
    ctx.page = null;
  });
  return ctx;
}
