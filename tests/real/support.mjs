// Helpers for the real-server tests: the Django project of tests/real/server (SimpleJWT and
// django-oauth-toolkit from PyPI, unmodified) on a free port with a fresh sqlite database, headless
// Chromium (tests/support/browser.mjs), the /__test/ hooks, and polling.
//
// Every test file calls `useReal({ accessTtl, oauthTtl })` once at top level: it makes sure the
// venv exists (scripts/python-env.sh, idempotent), migrates a new sqlite database in a temp
// directory, starts `manage.py runserver --noreload` with the venv's python, launches one browser
// for the file, and before each test forgets the server's records and faults and opens a fresh
// browser context. Everything is stopped (by PID) and removed after the file.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pagePerTest } from '../support/page-per-test.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER_DIR = join(ROOT, 'tests', 'real', 'server');
const PYTHON = join(ROOT, '.venv-real', 'bin', 'python');

import { waitFor, sleep } from '../support/wait.mjs';

export { waitFor, sleep };

export function ensurePythonEnv() {
  const run = spawnSync('bash', [join(ROOT, 'scripts', 'python-env.sh')], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`scripts/python-env.sh failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
  const said = run.stdout.trim().split('\n').filter(Boolean);
  if (!said.some((l) => l.includes('up to date'))) for (const line of said) console.log(line);
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/**
 * Migrates a new sqlite database in a temp directory and starts the Django project on a free
 * port. `accessTtl`: SimpleJWT access-token lifetime (s); `oauthTtl`: DOT's (s).
 */
export async function startRealServer({ accessTtl = 3, oauthTtl = 3, log = !!process.env.REAL_LOG } = {}) {
  // AUTHKEEPER_SDK_ROOT: serve js/ and pkg/ of another checkout (e.g. a build of an older commit).
  const sdkRoot = resolve(process.env.AUTHKEEPER_SDK_ROOT || ROOT);
  if (!existsSync(join(sdkRoot, 'pkg', 'index.js'))) {
    throw new Error(`${join(sdkRoot, 'pkg')} is missing: run \`npm run build\` before the real-server tests`);
  }
  ensurePythonEnv();
  const dir = mkdtempSync(join(tmpdir(), 'authkeeper-real-'));
  const env = {
    ...process.env,
    PYTHONDONTWRITEBYTECODE: '1', // no __pycache__ in the source tree
    PYTHONUNBUFFERED: '1',
    DJANGO_SETTINGS_MODULE: 'realsrv.settings',
    AUTHKEEPER_ROOT: ROOT,
    AUTHKEEPER_SDK_ROOT: sdkRoot,
    REAL_DB: join(dir, 'db.sqlite3'),
    REAL_ACCESS_TTL: String(accessTtl),
    REAL_OAUTH_TTL: String(oauthTtl),
    ...(log ? { REAL_LOG: '1' } : {}),
  };
  const migrate = spawnSync(PYTHON, ['manage.py', 'migrate', '--noinput', '-v', '0'], { cwd: SERVER_DIR, env, encoding: 'utf8' });
  if (migrate.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`manage.py migrate failed (${migrate.status}):\n${migrate.stdout}\n${migrate.stderr}`);
  }

  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(PYTHON, ['manage.py', 'runserver', `127.0.0.1:${port}`, '--noreload'], {
      cwd: SERVER_DIR, env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (d) => {
      output = (output + d).slice(-20_000);
      if (log) process.stderr.write(d);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // If this process dies without running `after`, the server must not outlive it.
    const killOnExit = () => { try { child.kill('SIGKILL'); } catch { /* gone */ } };
    process.once('exit', killOnExit);
    const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
    let gone = null;
    exited.then((e) => { gone = e; });
    try {
      await waitFor(async () => {
        if (gone) throw new Error(`runserver exited (${gone.code ?? gone.signal})`);
        const res = await fetch(`${url}/__test/health/`);
        return res.ok && (await res.json()).ok;
      }, { timeout: 30_000, interval: 100, message: 'the Django test server answers /__test/health/' });
    } catch (e) {
      lastError = new Error(`${e.message}\n--- server output ---\n${output}`);
      child.kill('SIGKILL');
      await exited;
      process.removeListener('exit', killOnExit);
      if (/port is already in use/i.test(output)) continue;
      break;
    }
    const health = await (await fetch(`${url}/__test/health/`)).json();
    if (sdkRoot !== ROOT) console.log(`[real] serving js/ and pkg/ from ${sdkRoot}`);
    return {
      url,
      pid: child.pid,
      versions: { django: health.django, simplejwt: health.simplejwt, dot: health.django_oauth_toolkit },
      output: () => output,
      async stop() {
        if (!gone) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        process.removeListener('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/** The /__test/ hooks and the two servers' own endpoints, bound to one server URL. */
export function serverApi(url) {
  async function post(path, body) {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`POST ${path} → ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
  async function form(path, fields) {
    const res = await fetch(url + path, { method: 'POST', body: new URLSearchParams(fields) });
    const text = await res.text();
    let body = text;
    try { body = JSON.parse(text); } catch { /* empty or not JSON */ }
    return { status: res.status, body };
  }
  return {
    url,
    reset: () => post('/__test/reset/'),
    /** Every record since `since` (a sequence number), oldest first. */
    async records(since = 0) {
      const res = await fetch(`${url}/__test/calls/?since=${since}`);
      if (!res.ok) throw new Error(`GET /__test/calls/ → ${res.status}`);
      return (await res.json()).records;
    },
    /** The sequence number of the last request recorded: a mark to count from. */
    async mark() {
      const res = await fetch(`${url}/__test/health/`);
      return (await res.json()).last_seq;
    },
    /** {down_seconds, status, retry_after, latency_ms} for the refresh endpoints. */
    fault: (f) => post('/__test/fault/', f),
    /** A new user and its SimpleJWT pair: {id, username, password, access, refresh}. */
    createUser: (fields) => post('/__test/users/', fields),
    deleteUser: (id) => post(`/__test/users/${id}/delete/`),
    deactivateUser: (id) => post(`/__test/users/${id}/deactivate/`),
    oauthClient: () => post('/__test/oauth/client/'),
    oauthRevokeUser: (userId) => post('/__test/oauth/revoke/', { user_id: userId }),
    /** Blacklists every SimpleJWT refresh token of the user (as an admin would). */
    simplejwtRevokeUser: (userId) => post('/__test/simplejwt/revoke/', { user_id: userId }),
    /** DOT's real token endpoint, password grant, public client: {status, body}. */
    oauthPasswordGrant: (username, password, clientId) =>
      form('/o/token/', { grant_type: 'password', username, password, client_id: clientId }),
    /** DOT's real token endpoint, refresh grant, form-encoded as RFC 6749 §6 says. */
    oauthRefreshGrant: (refreshToken, clientId) =>
      form('/o/token/', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
    simplejwtRefresh: async (refresh) => {
      const res = await fetch(`${url}/api/token/refresh/`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh }),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
  };
}

/** The server log's fingerprint of a token (first 12 hex digits of its SHA-256): to check which
 * token a request presented without the log ever holding one. */
export const fingerprint = (token) => createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12);

const REFRESH_KINDS = new Set(['simplejwt', 'simplejwt-clear', 'simplejwt-cookie', 'oauth']);
const TRANSIENT = (status) => status >= 500 || status === 429 || status === 408;

/** The refresh calls among `records` (the password grant on /o/token/ is a login, not a refresh). */
export const refreshCalls = (records) =>
  records.filter((r) => REFRESH_KINDS.has(r.kind) && !(r.kind === 'oauth' && r.grant_type === 'password'));

/**
 * What a test asserts on: refresh calls, their statuses and error codes, and `reuse`: how many
 * times a refresh token was presented again after (or while) it was presented without a transient
 * failure, i.e. a rotated-away token sent again (the tokens are told apart by a fingerprint).
 */
export function summarize(records) {
  const refresh = refreshCalls(records);
  const statuses = {};
  const errors = {};
  const perToken = new Map();
  for (const r of refresh) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
    if (r.token_fp && !TRANSIENT(r.status)) perToken.set(r.token_fp, (perToken.get(r.token_fp) ?? 0) + 1);
  }
  let reuse = 0;
  for (const n of perToken.values()) reuse += Math.max(0, n - 1);
  const api = records.filter((r) => r.kind === 'api');
  return {
    refreshCalls: refresh.length,
    statuses,
    errors,
    tokenNotValid: errors.token_not_valid ?? 0,
    invalidGrant: errors.invalid_grant ?? 0,
    reuse,
    apiCalls: api.length,
    api401: api.filter((r) => r.status === 401).length,
  };
}

/** One record without the noise, for logs and the report. */
export const describeRecord = (r) => ({
  path: r.path, method: r.method, content_type: r.content_type, fields: r.fields, grant_type: r.grant_type,
  token_type_hint: r.token_type_hint, client_id: r.client_id, cookie: r.cookie, status: r.status, error: r.error,
  response_fields: r.response_fields,
});

/**
 * Registers the per-file lifecycle. Returns a context filled in by the hooks: `server`
 * (serverApi), `real` (the process), `browser`, `context`, `page`, `pageErrors`.
 */
export function useReal({ accessTtl = 3, oauthTtl = 3, viewport = { width: 1000, height: 700 } } = {}) {
  const ctx = { server: null, real: null, browser: null, context: null, page: null, pageErrors: [] };
  return pagePerTest(ctx, {
    start: async () => (ctx.real = await startRealServer({ accessTtl, oauthTtl })),
    api: serverApi,
    viewport,
  });
}

/** The fixture page's URL for these client options. */
export const pageUrl = (base, options) => `${base}/real/page.html?options=${encodeURIComponent(JSON.stringify(options))}`;

/** Opens the fixture page with these createAuthClient options and waits until the client exists. */
export async function openPage(page, base, options) {
  await page.goto(pageUrl(base, options));
  await waitForReady(page);
  return page;
}

export async function waitForReady(page) {
  await page.waitForFunction(() => document.body?.dataset.ready, null, { timeout: 15_000 });
  const error = await page.evaluate(() => window.rt.bootError);
  if (error) throw new Error(`the fixture page failed to create the client: ${error}`);
}

/** auth:logout details recorded by the page. */
export const logoutsOf = (page) => page.evaluate(() => window.rt.logouts());
export const storageOf = (page) => page.evaluate(() => window.rt.storage());
export const sessionStorageOf = (page) =>
  page.evaluate(() => Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])));
export const stateOf = (page) => page.evaluate(() => window.rt.auth.state());

/**
 * Three `auth.refresh()` calls while the first is in flight (make the endpoint slow first), and a
 * burst of `n` requests to `apiPath` meanwhile: whether refresh() returns a Promise, how the
 * three settled, the burst's statuses.
 */
export const forcedRefreshBurst = (page, apiPath, n = 5) => page.evaluate(async ([path, count]) => {
  const first = window.rt.auth.refresh();
  const isPromise = first instanceof Promise;
  const more = [window.rt.auth.refresh(), window.rt.auth.refresh()];
  const burst = window.rt.burst(count, path);
  const settled = await Promise.allSettled([first, ...more]);
  return { isPromise, settled: settled.map((s) => s.status), statuses: await burst };
}, [apiPath, n]);

/**
 * `logout()`, and what must hold before any revocation answers: the tokens cleared at once, the
 * session over, exactly one `auth:logout` with reason `manual`.
 */
export async function logoutClearsAtOnce(page, assert) {
  const local = await page.evaluate(() => {
    window.rt.auth.logout();
    return { storage: window.rt.storage(), status: window.rt.auth.state().status };
  });
  assert.equal(local.storage.refreshToken, undefined, 'cleared locally at once');
  assert.equal(local.storage.accessToken, undefined);
  assert.notEqual(local.status, 'active');
  const logouts = await logoutsOf(page);
  assert.equal(logouts.length, 1);
  assert.equal(logouts[0].reason, 'manual');
}
export const setHidden = (page, hidden, notify = true) => page.evaluate(([h, n]) => window.rt.setHidden(h, n), [hidden, notify]);

/** `exp` of a JWT, in ms (null for an opaque token). */
export function jwtExpMs(token) {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    return typeof claims.exp === 'number' ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Sleeps until the page's access token has expired for the server too: past the JWT's `exp`
 * (whole seconds) or, for an opaque token, past the client's `expiresAt`; plus `margin` ms.
 */
export async function waitUntilExpired(page, { accessKey = 'accessToken', margin = 150 } = {}) {
  const { stored, expiresAt } = await page.evaluate((k) => ({
    stored: localStorage.getItem(k), expiresAt: window.rt.auth.state().expiresAt,
  }), accessKey);
  const exp = Math.max((stored && jwtExpMs(stored)) || 0, expiresAt || 0);
  const wait = exp - Date.now() + margin;
  if (wait > 0) await sleep(wait);
  return exp;
}
