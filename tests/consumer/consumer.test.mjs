// The package as a consumer gets it: `npm pack`, the tarball installed into the fixture apps in
// examples/ (lockfiles committed: `npm ci`, then `npm install --no-save <tarball>`), each built or
// run with no per-bundler configuration:
// - examples/vitest-jsdom: `vitest run` (the wasm read from disk, a stubbed fetch, jsdom; and
//   not_in_browser in Vitest's node environment);
// - examples/vite-react: `tsc --strict` over src/typecheck.tsx, `vite build`, then the built app in headless Chromium against the
//   reference server (devserver/, on 127.0.0.1, stopped at the end): the bearer arrives, a
//   rejected token is refreshed and replayed, a start-up logout reaches the hook, and the
//   subscription sees every transition.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, serverApi, sleep } from '../e2e/support.mjs';
import { launch } from '../support/browser.mjs';

const work = mkdtempSync(join(tmpdir(), 'authkeeper-consumer-'));
let tarball;

function run(cmd, args, cwd) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  const output = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${output.slice(-4000)}`);
  return { output, seconds: (Date.now() - started) / 1000 };
}

/** A copy of examples/<name> (sources and lockfile) with its dependencies and the tarball installed. */
function install(name, t) {
  const dir = join(work, name);
  cpSync(join(ROOT, 'examples', name), dir, { recursive: true, filter: (src) => !/[\\/](node_modules|dist)$/.test(src) });
  const ci = run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir);
  const add = run('npm', ['install', '--no-save', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], dir);
  t.diagnostic(`${name}: npm ci ${ci.seconds}s, tarball install ${add.seconds}s`);
  return dir;
}

before(() => {
  if (!existsSync(join(ROOT, 'pkg', 'authkeeper_bg.wasm'))) throw new Error('pkg/ is missing: run `npm run build` first');
  const packed = run('npm', ['pack', '--pack-destination', work, '--loglevel=error'], ROOT);
  tarball = join(work, packed.output.trim().split('\n').filter(Boolean)[0].trim());
  assert.ok(existsSync(tarball), tarball);
});

after(() => rmSync(work, { recursive: true, force: true }));

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

async function startServer(root) {
  const bin = join(ROOT, 'target', 'debug', 'authkeeper-devserver');
  if (!existsSync(bin)) run('cargo', ['build', '--quiet', '-p', 'authkeeper-devserver'], ROOT);
  const child = spawn(bin, ['--port', '0', '--root', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`dev server did not listen within 20 s: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`dev server exited (${code}): ${stderr}`)); });
  });
  child.stdout.resume();
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((ok) => child.once('exit', ok));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    },
  };
}

const sizes = (dir) => readdirSync(dir).map((f) => `${f} ${(statSync(join(dir, f)).size / 1024).toFixed(1)} KiB`).join(', ');

test('examples/vite-react: `vite build` with no configuration emits the wasm and bundles nothing from node:; tsc --strict accepts the use and rejects the misuse', async (t) => {
  const dir = install('vite-react', t);
  const { output, seconds } = run(join(dir, 'node_modules', '.bin', 'vite'), ['build'], dir);
  t.diagnostic(`vite build ${seconds}s: ${sizes(join(dir, 'dist', 'assets'))}`);
  // The package's types through its exports map, under --strict: src/typecheck.tsx uses them
  // and marks each misuse @ts-expect-error (an accepted misuse fails as an unused directive).
  const types = run('npm', ['run', '--silent', 'typecheck'], dir);
  t.diagnostic(`tsc --strict ${types.seconds}s`);
  const assets = readdirSync(join(dir, 'dist', 'assets'));
  assert.ok(assets.some((f) => /^authkeeper_bg-.*\.wasm$/.test(f)), `the wasm is emitted as an asset: ${assets}`);
  assert.doesNotMatch(output, /node:fs|externalized for browser compatibility|\[warn/i, output);
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

const text = (page, id) => page.textContent(`[data-testid="${id}"]`);
const waitText = (page, id, expected) =>
  page.waitForFunction(([id, expected]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === expected, [id, expected], { timeout: 15_000 })
    .catch(async (e) => { throw new Error(`${id}: expected ${JSON.stringify(expected)}, have ${JSON.stringify(await text(page, id))} (${e.message})`); });
const click = async (page, id) => {
  await page.waitForSelector(`[data-testid="${id}"]:not([disabled])`);
  await page.click(`[data-testid="${id}"]`);
};

test('vite-react in Chromium: the bearer arrives, a rejected token is refreshed and replayed, the hook and the subscription see every transition', async () => {
  assert.ok(app, 'the app was built and served');
  await server.reset();
  await server.config({ access_ttl: 60 });
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(app);
    await waitText(page, 'status', 'anonymous');
    await waitText(page, 'early', '200');

    await click(page, 'login');
    await waitText(page, 'status', 'active');
    assert.equal(await text(page, 'user'), '1', 'the hook\'s state carries the claims');

    await click(page, 'load');
    await waitText(page, 'result', '#1 200 2 trades');
    let c = await server.counters();
    assert.equal(c.api_401s, 0, 'the bearer arrived with the first request');
    assert.equal(c.refresh_calls, 0);

    // The server's clock jumps ahead: the token the client holds is expired for the server.
    await server.clock(120);
    await click(page, 'load');
    await waitText(page, 'result', '#2 200 2 trades');
    c = await server.counters();
    assert.equal(c.api_401s, 1, 'rejected once');
    assert.equal(c.refresh_calls, 1, 'refreshed once, then replayed');

    await click(page, 'logout');
    await waitText(page, 'status', 'logged_out');
    assert.equal(await text(page, 'reason'), 'manual');

    const transitions = await page.evaluate(() => window.authTransitions);
    assert.deepEqual(transitions.map((e) => [e.type, e.status]), [
      ['initial', 'anonymous'],
      ['signed_in', 'active'],
      ['refreshed', 'active'],
      ['signed_out', 'logged_out'],
    ]);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
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
