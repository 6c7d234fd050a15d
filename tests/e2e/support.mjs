// Shared helpers for the end-to-end tests: the reference dev server (spawned on a free port),
// headless Chromium (tests/support/browser.mjs), admin calls, counters, and polling.
//
// Every test file calls `useDemo()` once at top level: it starts one server and one browser for
// the file, resets the server (/__admin/reset) and opens a fresh browser context before each
// test, and tears everything down after.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pagePerTest } from '../support/page-per-test.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'target', 'debug', process.platform === 'win32' ? 'authkeeper-devserver.exe' : 'authkeeper-devserver');

export { waitFor, sleep } from '../support/wait.mjs';

/** The newest modification time of the files under `dir` (the dev server's sources). */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the dev server if it is missing or older than its sources, starts it on port 0 and
 * resolves once it listens. */
export async function startDevServer() {
  if (!existsSync(join(ROOT, 'pkg', 'index.js'))) {
    throw new Error('pkg/ is missing: run `npm run build` before the end-to-end tests');
  }
  if (!existsSync(BIN) || newestMtime(join(ROOT, 'devserver')) > statSync(BIN).mtimeMs || process.env.AUTHKEEPER_E2E_REBUILD) {
    const built = spawnSync('cargo', ['build', '--quiet', '-p', 'authkeeper-devserver'], { cwd: ROOT, stdio: 'inherit' });
    if (built.status !== 0) throw new Error('cargo build -p authkeeper-devserver failed');
  }
  const child = spawn(BIN, ['--port', '0', '--root', ROOT], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`dev server did not report listening within 20 s; stderr: ${stderr}`)), 20_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`dev server exited (${code}) before listening; stderr: ${stderr}`)); });
  });
  child.stdout.resume();
  return {
    url,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Admin / server-side helpers bound to one server URL. */
export function serverApi(url) {
  async function call(path, body) {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`POST ${path} → ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
  return {
    url,
    admin: call,
    async state() {
      const res = await fetch(`${url}/__admin/state`);
      if (!res.ok) throw new Error(`GET /__admin/state → ${res.status}`);
      return res.json();
    },
    async counters() { return (await this.state()).counters; },
    reset: () => call('/__admin/reset'),
    config: (cfg) => call('/__admin/config', cfg),
    fault: (f) => call('/__admin/fault', f),
    clock: (skew_seconds) => call('/__admin/clock', { skew_seconds }),
    deleteUser: () => call('/__admin/user/delete'),
    deactivateUser: () => call('/__admin/user/deactivate'),
    resetCounters: () => call('/__admin/counters/reset'),
  };
}

/**
 * Registers the per-file lifecycle. Returns a context whose fields are filled in by the hooks:
 * `server` (serverApi), `browser`, `context`, `page`, and `open(params)`.
 */
export function useDemo({ viewport = { width: 1360, height: 900 } } = {}) {
  const ctx = { server: null, browser: null, context: null, page: null, pageErrors: [] };
  pagePerTest(ctx, { start: () => startDevServer(), api: serverApi, viewport });
  /** Opens the demo with query parameters and waits until it has booted. */
  ctx.open = async (params = {}) => {
    const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
    await ctx.page.goto(`${ctx.server.url}/${qs ? `?${qs}` : ''}`);
    await waitForBoot(ctx.page);
    return ctx.page;
  };
  return ctx;
}

export async function waitForBoot(page) {
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 15_000 });
  const ready = await page.evaluate(() => document.body.dataset.ready);
  if (ready !== '1') throw new Error(`demo failed to boot: ${await page.textContent('[data-testid="boot-error"]')}`);
}

// ----------------------------------------------------------------------------------------------
// Page helpers

export const byTestId = (id) => `[data-testid="${id}"]`;

/** Logs in through the login form; resolves once the app view shows the trades. */
export async function login(page, { mode = 'simplejwt', username = 'alice', password = 'wonderland' } = {}) {
  await page.check(byTestId(`mode-${mode}`), { force: true });
  await page.fill(byTestId('username'), username);
  await page.fill(byTestId('password'), password);
  await page.click(byTestId('login-button'));
  await page.waitForSelector(`${byTestId('app-view')}:not([hidden])`, { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="trades-body"]')?.dataset.count !== undefined, null, { timeout: 10_000 });
}

/** What the page recorded from window events (auth:* plus the demo's own markers). */
export const events = (page, type) =>
  page.evaluate((t) => window.demo.events.filter((e) => !t || e.type === t), type);

export const logouts = (page) => events(page, 'auth:logout');

export const authState = (page) => page.evaluate(() => window.demo.auth?.state() ?? null);

/** The whole of localStorage as an object. */
export const local = (page) => page.evaluate(() => Object.fromEntries(Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)])));

export const visibleView = (page) => page.evaluate(() => document.body.dataset.view);

export const lastResult = (page) => page.evaluate(() => {
  const box = document.querySelector('[data-testid="last-result"]');
  return { text: box.textContent, ...box.dataset };
});

/** Clicks a scenario button and waits for the action to finish (the button loses `busy`). */
export async function clickAction(page, testId) {
  const sel = byTestId(testId);
  await page.click(sel);
  await page.waitForFunction((s) => !document.querySelector(s)?.classList.contains('busy'), sel, { timeout: 30_000 });
}

/** Makes the page look hidden to the SDK (document.visibilityState), as a background tab is. */
export async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

export function ensureDir(path) {
  mkdirSync(path, { recursive: true });
}
