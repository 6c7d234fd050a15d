// Shared setup for the JS-level browser tests: one Chromium and one static server per file,
// a fresh page per test with the built package and the in-page stub backend loaded.
import { before, after, afterEach } from 'node:test';
import { launch } from '../support/browser.mjs';
import { startStaticServer } from '../support/static-server.mjs';

// Which module the fixture page loads as `window.authkeeper`: the source (js/index.js) unless
// AUTHKEEPER_MODULE names a built one, e.g. /pkg/index.prod.js.
const MODULE = process.env.AUTHKEEPER_MODULE;
/** The fixture runs the production build, which leaves the developer wording out. */
export const TERSE = MODULE === '/pkg/index.prod.js';

export function useBrowser() {
  const ctx = {};
  before(async () => {
    ctx.server = await startStaticServer();
    ctx.browser = await launch();
  });
  // Each test's page is closed after it, so its timers and channels cannot touch the next test
  // and open pages do not pile up.
  // An uncaught exception or unhandled rejection in the page fails the test that caused it.
  const open = [];
  let pageErrors = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((context) => context.close().catch(() => {})));
    const errors = pageErrors;
    pageErrors = [];
    if (errors.length) throw new Error(`uncaught in the page: ${errors.join(' | ')}`);
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.close();
  });
  /** A fresh page (own context: empty storage) with `window.authkeeper` and `window.harness`. */
  ctx.page = async ({ beforeLoad } = {}) => {
    const context = await ctx.browser.newContext();
    open.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    if (beforeLoad) await page.addInitScript(beforeLoad);
    await page.goto(`${ctx.server.url}/tests/js/fixture.html${MODULE ? `?module=${encodeURIComponent(MODULE)}` : ''}`);
    await page.waitForFunction(() => window.fixtureReady === true);
    return page;
  };
  return ctx;
}
