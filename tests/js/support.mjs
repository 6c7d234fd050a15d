// Shared setup for the JS-level browser tests: one Chromium and one static server per file,
// a fresh page per test with the built package and the in-page stub backend loaded.
import { before, after } from 'node:test';
import { launch } from '../support/browser.mjs';
import { startStaticServer } from '../support/static-server.mjs';

export function useBrowser() {
  const ctx = {};
  before(async () => {
    ctx.server = await startStaticServer();
    ctx.browser = await launch();
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.close();
  });
  /** A fresh page (own context: empty storage) with `window.authkeeper` and `window.harness`. */
  ctx.page = async ({ beforeLoad } = {}) => {
    const context = await ctx.browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    if (beforeLoad) await page.addInitScript(beforeLoad);
    await page.goto(`${ctx.server.url}/tests/js/fixture.html`);
    await page.waitForFunction(() => window.fixtureReady === true);
    return page;
  };
  return ctx;
}
