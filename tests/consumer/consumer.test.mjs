// The package as a consumer gets it: `npm pack`, the tarball installed into the fixture apps in
// examples/ (lockfiles committed: `npm ci`, then `npm install --no-save <tarball>`), each built or
// run with no per-bundler configuration:
// - examples/vitest-jsdom: `vitest run` (the wasm embedded in the package, a stubbed fetch, jsdom; and
//   not_in_browser in Vitest's node environment);
// - examples/vite-react: `tsc --strict` over src/typecheck.tsx, `vite build`, then the built app in headless Chromium against the
//   reference server (devserver/, on 127.0.0.1, stopped at the end): the bearer arrives, a
//   rejected token is refreshed and replayed, a start-up logout reaches the hook, and the
//   subscription sees every transition.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serverApi, sleep } from '../e2e/support.mjs';
import { launch } from '../support/browser.mjs';
import { click, run, sessionRoundTrip, sizes, startServer, text, useConsumer, waitText } from './support.mjs';

const { install, work } = useConsumer();

test('examples/vitest-jsdom: the app module\'s unit tests pass under Vitest with no configuration', (t) => {
  const dir = install('vitest-jsdom', t);
  const { output, seconds } = run(join(dir, 'node_modules', '.bin', 'vitest'), ['run'], dir);
  t.diagnostic(`vitest run ${seconds}s`);
  assert.match(output, /Tests\s+2 passed \(2\)/, output);
  assert.doesNotMatch(output, /fetch failed|not implemented/i);
});

// ----------------------------------------------------------------------------------------------
// examples/vite-react, built, served by the reference server from a root whose www/ is the build.

let server;
let dev;
let browser;
let app;

test('examples/vite-react: `vite build` with no configuration needs no wasm asset (the module is inside the JS) and bundles nothing from node:; tsc --strict accepts the use and rejects the misuse', async (t) => {
  const dir = install('vite-react', t);
  const { output, seconds } = run(join(dir, 'node_modules', '.bin', 'vite'), ['build'], dir);
  t.diagnostic(`vite build ${seconds}s: ${sizes(join(dir, 'dist', 'assets'))}`);
  // The package's types through its exports map, under --strict: src/typecheck.tsx uses them
  // and marks each misuse @ts-expect-error (an accepted misuse fails as an unused directive).
  const types = run('npm', ['run', '--silent', 'typecheck'], dir);
  t.diagnostic(`tsc --strict ${types.seconds}s`);
  const assets = readdirSync(join(dir, 'dist', 'assets'));
  assert.ok(!assets.some((f) => /\.wasm$/.test(f)), `no wasm asset: the module travels inside the JS: ${assets}`);
  assert.doesNotMatch(output, /node:fs|import\.meta|externalized for browser compatibility|\[warn/i, output);
  // A production build takes the terse build through the "production" export condition.
  const js = assets.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dir, 'dist', 'assets', f), 'utf8')).join('');
  assert.ok(js.includes('Your session has expired') && !js.includes('did you mean'), 'vite build bundled pkg/index.prod.js');
  const root = join(work, 'serve');
  mkdirSync(root);
  cpSync(join(dir, 'dist'), join(root, 'www'), { recursive: true });
  dev = await startServer(root);
  server = serverApi(dev.url);
  browser = await launch();
  app = dev.url;
});

after(async () => {
  await browser?.close();
  await dev?.stop();
});

test('vite-react in Chromium: the bearer arrives, a rejected token is refreshed and replayed, the hook and the subscription see every transition', async () => {
  assert.ok(app, 'the app was built and served');
  await sessionRoundTrip(browser, server, app);
});

test('vite-react in Chromium: a logout during start-up (user deleted while away) reaches the hook', async () => {
  assert.ok(app, 'the app was built and served');
  await server.reset();
  await server.config({ access_ttl: 2 });
  const context = await browser.newContext();
  const errors = [];
  try {
    const first = await context.newPage();
    await first.goto(app);
    await click(first, 'login');
    await waitText(first, 'status', 'active');
    await first.close();
    // Away: the account is deleted and the access token expires. Coming back, the client finds
    // an expired access token, refreshes during start-up, and the session ends there.
    await server.deleteUser();
    await sleep(3000);
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(app);
    await waitText(page, 'status', 'logged_out');
    assert.equal(await text(page, 'reason'), 'user_not_found');
    const transitions = await page.evaluate(() => window.authTransitions);
    assert.equal(transitions.at(-1).status, 'logged_out');
    assert.equal(transitions.at(-1).reason, 'user_not_found');
    assert.equal((await server.counters()).refresh_calls, 1);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
