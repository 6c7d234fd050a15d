// What the consumer tests (tests/consumer/*.test.mjs) share: the package packed once per file
// (`npm pack`), a fixture app from examples/ installed from its lockfile plus the tarball, the
// reference server (devserver/) serving built apps, and the session scenario every built app is
// driven through in Chromium.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, serverApi } from '../e2e/support.mjs';
import { launch } from '../support/browser.mjs';

export { ROOT };

/** Runs a command to completion; throws with its output unless it exits 0 (or, with
 * `expectFailure`, unless it exits non-zero). */
export function run(cmd, args, cwd, { env = {}, expectFailure = false } = {}) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env } });
  const output = `${r.stdout}\n${r.stderr}`;
  if ((r.status === 0) === expectFailure) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}${expectFailure ? ', expected to fail' : ''}:\n${output.slice(-4000)}`);
  }
  return { output, seconds: (Date.now() - started) / 1000 };
}

/**
 * Registers this file's hooks: packs the package into a scratch directory before its tests and
 * removes the directory after. `install(name, t)` copies examples/<name> (sources and lockfile)
 * there and installs its dependencies (`npm ci`) and the tarball (`npm install --no-save`).
 */
export function useConsumer() {
  const ctx = { work: mkdtempSync(join(tmpdir(), 'authkeeper-consumer-')), tarball: null };
  before(() => {
    if (!existsSync(join(ROOT, 'pkg', 'authkeeper_bg.wasm'))) throw new Error('pkg/ is missing: run `npm run build` first');
    const packed = run('npm', ['pack', '--pack-destination', ctx.work, '--loglevel=error'], ROOT);
    ctx.tarball = join(ctx.work, packed.output.trim().split('\n').filter(Boolean)[0].trim());
    assert.ok(existsSync(ctx.tarball), ctx.tarball);
  });
  after(() => rmSync(ctx.work, { recursive: true, force: true }));
  ctx.install = (name, t) => {
    const dir = join(ctx.work, name);
    cpSync(join(ROOT, 'examples', name), dir, { recursive: true, filter: (src) => !/[\\/](node_modules|dist|\.next|out)$/.test(src) });
    const ci = run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    const add = run('npm', ['install', '--no-save', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ctx.tarball], dir);
    t.diagnostic(`${name}: npm ci ${ci.seconds}s, tarball install ${add.seconds}s`);
    return dir;
  };
  return ctx;
}

/** Runs an installed example's `npm run build` script (or `script`) as written in its
 * package.json (the binary from its node_modules/.bin, without npm's own notices in the output). */
export function buildScript(dir, { script = 'build', env = {} } = {}) {
  const [bin, ...args] = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).scripts[script].split(/\s+/);
  return run(join(dir, 'node_modules', '.bin', bin), args, dir, { env });
}

/** The reference server on 127.0.0.1 serving `<root>/www`, stopped by its pid. */
export async function startServer(root) {
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

/**
 * Built apps served side by side: `www` (under the consumer's scratch directory) is the reference
 * server's root; `serve()` starts the server and a Chromium on first use and returns
 * `{ dev, server, browser }`; both are stopped after the file's tests.
 */
export function useServedApps(work) {
  const apps = { www: join(work, 'serve', 'www') };
  before(() => mkdirSync(apps.www, { recursive: true }));
  after(async () => {
    await apps.browser?.close();
    await apps.dev?.stop();
  });
  apps.serve = async () => {
    if (!apps.dev) {
      apps.dev = await startServer(join(work, 'serve'));
      apps.server = serverApi(apps.dev.url);
      apps.browser = await launch();
    }
    return apps;
  };
  return apps;
}

/** Each file in `dir` with its size, raw and gzipped (level 9, as `npm run build` counts). */
export const sizes = (dir) => readdirSync(dir).map((f) => {
  const buf = readFileSync(join(dir, f));
  return statSync(join(dir, f)).isFile() ? `${f} ${(buf.length / 1024).toFixed(1)} KiB (${(gzipSync(buf, { level: 9 }).length / 1000).toFixed(1)} KB gz)` : `${f}/`;
}).join(', ');

// ---- The apps in the page: elements marked data-testid ----------------------------------------

export const text = (page, id) => page.textContent(`[data-testid="${id}"]`);
export const waitText = (page, id, expected) =>
  page.waitForFunction(([id, expected]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === expected, [id, expected], { timeout: 15_000 })
    .catch(async (e) => { throw new Error(`${id}: expected ${JSON.stringify(expected)}, have ${JSON.stringify(await text(page, id))} (${e.message})`); });
export const click = async (page, id) => {
  await page.waitForSelector(`[data-testid="${id}"]:not([disabled])`);
  await page.click(`[data-testid="${id}"]`);
};

/**
 * The session every built app (examples/vite-react, esbuild-iife, rollup-esm, webpack5, nextjs:
 * the same testids, window.authTransitions) goes through in a fresh context: an early fetch before login, login,
 * the bearer arriving with the first API request, a token the server rejects (its clock jumps
 * ahead) refreshed once and the request replayed, logout, and every transition seen.
 */
export async function sessionRoundTrip(browser, server, url, { consoleErrors = false } = {}) {
  await server.reset();
  await server.config({ access_ttl: 60 });
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Opt-in, for a server-rendered app (a hydration mismatch is already a page error: React 19
  // reports it with reportError): whatever it logs as an error, and every failed response
  // (a chunk or RSC payload the export lacks), but the one 401 the scenario provokes and the
  // browser's own request for a /favicon.ico the example does not have.
  if (consoleErrors) {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const { url: at } = m.location();
      if (/status of 401/.test(m.text()) && at.endsWith('/api/paper-trades/')) return;
      if (/status of 404/.test(m.text()) && at.endsWith('/favicon.ico')) return;
      errors.push(`console.error: ${m.text()} (${at})`);
    });
  }
  try {
    await page.goto(url);
    await waitText(page, 'status', 'anonymous');
    await waitText(page, 'early', '200');

    await click(page, 'login');
    await waitText(page, 'status', 'active');
    assert.equal(await text(page, 'user'), '1', 'the state carries the claims');

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
}
