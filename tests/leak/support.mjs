// The leak fuzz's pieces: three recording HTTP servers on 127.0.0.1 (the page's origin, an API
// origin listed in apiOrigins, a foreign collector), a seeded input generator, and the checks
// that turn what the servers saw into failures. Used by leak.test.mjs.
//
// AUTHKEEPER_JS / AUTHKEEPER_PKG (optional): serve another js/index.js or pkg/ directory as the
// page's /js/index.js and /pkg/, e.g. to show the fuzz catches a known-bad interceptor or core.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const JS = process.env.AUTHKEEPER_JS ? resolve(process.env.AUTHKEEPER_JS) : join(ROOT, 'js/index.js');
const PKG = process.env.AUTHKEEPER_PKG ? resolve(process.env.AUTHKEEPER_PKG) : join(ROOT, 'pkg');

export const REFRESH_PATH = '/auth/refresh/';
/** The refresh paths that answer with a redirect to the collector (the refresh-redirect case). */
export const REDIRECTING_REFRESH = { '/auth/refresh-307/': 307, '/auth/refresh-308/': 308 };
// One entry written as a browser writes it in a path ("/über"): it must match like the others.
export const SKIP = ['/login', '/register', '/verify-otp', '/über'];

const PAGE_HTML = `<!doctype html>
<meta charset="utf-8">
<title>authkeeper leak fuzz</title>
<iframe id="frame" src="/leak/frame.html"></iframe>
<script type="module">
  import * as authkeeper from '/js/index.js';
  window.authkeeper = authkeeper;
  window.moduleReady = true;
</script>`;
const FRAME_HTML = '<!doctype html><meta charset="utf-8"><title>same-origin frame</title>';

const STATIC = {
  '/leak/page.html': async () => [PAGE_HTML, 'text/html'],
  '/leak/frame.html': async () => [FRAME_HTML, 'text/html'],
  '/js/index.js': async () => [await readFile(JS), 'text/javascript'],
  '/pkg/authkeeper_bg.wasm': async () => [await readFile(join(PKG, 'authkeeper_bg.wasm')), 'application/wasm'],
  '/favicon.ico': async () => ['', 'image/x-icon'],
};

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const makeJwt = (payload) => `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}.c2ln`;
/** An access token whose exp is `ttl` seconds away (negative: already expired), and a refresh token. */
export function mintTokens(ttl = 6 * 3600) {
  const now = Math.floor(Date.now() / 1000);
  const tag = Math.random().toString(36).slice(2, 10);
  return {
    access: makeJwt({ token_type: 'access', exp: now + ttl, iat: now, jti: `leak-access-${tag}`, user_id: 1 }),
    refresh: makeJwt({ token_type: 'refresh', exp: now + 86_400, iat: now, jti: `leak-refresh-${tag}`, user_id: 1 }),
  };
}

/**
 * One recording server: `name` is 'page', 'api' or 'collector'. Every request but the static
 * files is recorded (method, path, Host, the x-leak-id / x-own / x-init headers,
 * Authorization, and the body); CORS is answered permissively (any origin, credentials, any
 * header and method, preflights included) so no request is hidden by a failed preflight.
 * `/r/<30x>/…` answers that redirect to the collector's `/redirected/…`, `/unauthorized` 401, and
 * on the page server the paths of REDIRECTING_REFRESH redirect to the collector.
 */
async function startRecorder(name, { collectorUrl, serveStatic }) {
  const log = [];
  const handler = (req, res) => {
    let path = req.url;
    try { path = new URL(req.url, 'http://x').pathname; } catch { /* recorded as sent */ }
    const cors = {
      'access-control-allow-origin': req.headers.origin ?? '*',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': req.headers['access-control-request-method'] ?? 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
      'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type, x-leak-id, x-own, x-init',
      'access-control-max-age': '600',
      'cache-control': 'no-store',
    };
    if (serveStatic && req.method === 'GET' && STATIC[path] && !req.headers['x-leak-id']) {
      STATIC[path]().then(([body, type]) => {
        res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      }, () => res.writeHead(404).end());
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        server: name, method: req.method, url: req.url, host: req.headers.host,
        id: req.headers['x-leak-id'] ?? null, own: req.headers['x-own'] ?? null, init: req.headers['x-init'] ?? null,
        authorization: req.headers.authorization ?? null, body: Buffer.concat(chunks).toString('latin1'),
      };
      log.push(entry);
      if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
      const redirect = /^\/r\/(30[1278])(\/.*)?$/.exec(path);
      const refreshRedirect = name === 'page' ? REDIRECTING_REFRESH[path] : undefined;
      if (redirect || refreshRedirect) {
        const to = refreshRedirect ? `${collectorUrl()}/stolen-refresh${path}` : `${collectorUrl()}/redirected${redirect[2] ?? '/'}`;
        return res.writeHead(refreshRedirect ?? Number(redirect[1]), { ...cors, location: to }).end();
      }
      // A token the server no longer accepts: the client refreshes and replays.
      if (path === '/unauthorized') return res.writeHead(401, { ...cors, 'content-type': 'application/json' }).end('{"code":"token_not_valid"}');
      res.writeHead(200, { ...cors, 'content-type': 'text/plain' }).end(`${name} ok`);
    });
  };
  const v4 = createServer(handler);
  v4.keepAliveTimeout = 30_000;
  await new Promise((ok, fail) => v4.once('error', fail).listen(0, '127.0.0.1', ok));
  const { port } = v4.address();
  // The same server on [::1] (same port) when the machine has IPv6 loopback: http://[::1]:port
  // is another origin that must never get the bearer, and there it is seen arriving.
  let v6 = createServer(handler);
  v6.keepAliveTimeout = 30_000;
  try {
    await new Promise((ok, fail) => v6.once('error', fail).listen(port, '::1', ok));
  } catch {
    v6 = null;
  }
  const close = (s) => new Promise((ok) => { s.closeAllConnections?.(); s.close(ok); });
  return {
    name, port, url: `http://127.0.0.1:${port}`, log, ipv6: v6 !== null,
    close: () => Promise.all([close(v4), v6 && close(v6)]),
  };
}

/** The three origins. `servers.page.url` serves /leak/page.html. */
export async function startServers() {
  let collector;
  const collectorUrl = () => collector.url;
  collector = await startRecorder('collector', { collectorUrl });
  const page = await startRecorder('page', { collectorUrl, serveStatic: true });
  const api = await startRecorder('api', { collectorUrl });
  return { page, api, collector, close: () => Promise.all([page.close(), api.close(), collector.close()]) };
}

// ---------------------------------------------------------------------------------------------
// Inputs.

/** mulberry32: a small, fast, seedable PRNG; the same seed gives the same inputs. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const BASES = ['none', 'same', 'foreign', 'api'];
const CONTROLS = Array.from({ length: 0x21 }, (_, c) => String.fromCharCode(c)); // 0x00-0x1f and space

/**
 * `count` inputs (at least), from `seed`. First a sweep: every ASCII control character and space
 * at every position of a few templates (scheme-relative and absolute collector URLs, API paths,
 * the refresh URL, an excluded path), tab, LF and CR once more as strings under each <base>; then random URLs built from hosts (IPv4 forms, IPv6,
 * userinfo, ports, case), schemes, backslashes, dot segments, escapes and special schemes, half
 * of them mutated by random insertions. Each input gets a kind (string, URL object, Request,
 * the iframe's Request), a <base> mode, and sometimes a POST body or init.headers.
 * Only IP literals and "localhost" are used as hosts, and random insertions never touch
 * "localhost": no input makes the browser look up a name in DNS.
 */
export function generate({ seed, count, ports }) {
  const r = prng(seed);
  const int = (n) => Math.floor(r() * n);
  const pick = (xs) => xs[int(xs.length)];
  const { page: pp, api: pa, collector: pc } = ports;
  const items = [];
  const add = (s, from, { kind: fixedKind, base } = {}) => {
    const x = r();
    const kind = fixedKind ?? (x < 0.55 ? 'string' : x < 0.65 ? 'url' : x < 0.825 ? 'request' : 'frame');
    items.push({
      id: items.length, s, from, kind, base: base ?? pick(BASES),
      post: r() < 0.25,
      initHeaders: (kind === 'request' || kind === 'frame') && r() < 0.3,
      urlBase: pick(['document', 'location', 'collector']),
    });
  };

  const TEMPLATES = [
    `//127.0.0.1:${pc}/steal/a`,
    `http://127.0.0.1:${pc}/steal/b`,
    `\\\\127.0.0.1:${pc}/steal/c`,
    `//localhost:${pp}/steal/d`,
    '/api/items/1?x=1',
    'api/items/2',
    '/login/',
    REFRESH_PATH,
  ];
  for (const t of TEMPLATES) {
    for (let i = 0; i <= t.length; i++) {
      for (const c of CONTROLS) {
        const s = t.slice(0, i) + c + t.slice(i);
        add(s, 'sweep');
        // Tab, LF and CR are the ones the parser removes (the others are percent-encoded or
        // fail): those also go in as strings under every <base> mode.
        if (c === '\t' || c === '\n' || c === '\r') for (const base of BASES) add(s, 'sweep', { kind: 'string', base });
      }
    }
  }

  const port = () => pick([pp, pp, pa, pa, pc, pc]);
  const HOSTS = [
    (p) => `127.0.0.1:${p}`, (p) => `127.0.0.1:${p}`, (p) => `127.0.0.1:${p}`,
    (p) => `[::1]:${p}`, (p) => `[0:0:0:0:0:0:0:1]:${p}`, (p) => `127.1:${p}`, (p) => `0x7f.0.0.1:${p}`,
    (p) => `2130706433:${p}`, (p) => `0177.0.0.1:${p}`, (p) => `127.0.0.1:0${p}`, (p) => `127.0.0.1.:${p}`,
    (p) => `127.0.0.1:${p}:`, (p) => `localhost:${p}`, (p) => `LocalHost:${p}`,
    (p) => `u@127.0.0.1:${p}`, (p) => `u:p@127.0.0.1:${p}`, (p) => `127.0.0.1:${pp}@127.0.0.1:${p}`,
    (p) => `127.0.0.1:${p}\\@127.0.0.1:${pc}`, () => '127.0.0.1', () => '127.0.0.1:80', () => '127.0.0.1:443',
  ];
  const SCHEMES = ['http:', 'http:', 'HTTP:', 'hTtP:', 'https:'];
  const SLASHES = ['//', '//', '\\\\', '/\\', '\\/', '', '/', '///'];
  const SEGMENTS = [
    'api', 'api', 'items', '1', 'login', 'login-history', 'Login', 'register', 'verify-otp', 'auth', 'refresh',
    'über', '%C3%BCber', '.', '..', '%2e', '%2E%2e', '.%2e', '%6cogin', 'lo%67in', 'login;v=1', 'a;b', '',
    'r/302', 'r/307', 'r/308', 'x.json', '~user', "a'b", '(x)', 'a+b', '*', ':@', '%', '%zz', '{id}',
    'a|b', 'a^b', '"q"', '<x>', '`t`', '.well-known', 'a b', '\u3000',
  ];
  const TAILS = ['', '', '', '?q=1', `?next=//127.0.0.1:${pc}/`, '#frag', '?a=1#b', '?', '#', '?%2e%2e', '?x=\\'];
  const INSERTS = [...CONTROLS, '\\', '\\', '%', '%2e', '%2E', '%2f', '%5c', '/', '/', '.', './', '../', '@', ':', '#', '?', ';', '\u00a0', 'ü'];
  const path = () => Array.from({ length: 1 + int(4) }, () => pick(SEGMENTS)).join(pick(['/', '/', '/', '/', '//', '\\']));
  const special = () => pick([
    `blob:http://127.0.0.1:${pp}/00000000-0000-0000-0000-000000000000`, `blob:http://127.0.0.1:${pc}/x`,
    'data:text/plain,hi', 'javascript:void(0)', 'about:blank', `ws://127.0.0.1:${pc}/`, 'file:///etc/hostname',
    `http:/127.0.0.1:${pc}/x`, `http:127.0.0.1:${pc}/x`, `http:\\\\127.0.0.1:${pc}/x`,
  ]);
  const fresh = () => {
    switch (int(6)) {
      case 0: case 1: return `/${path()}${pick(TAILS)}`;
      case 2: return `${path()}${pick(TAILS)}`;
      case 3: return `${pick(['//', '\\\\', '/\\', '\\/'])}${pick(HOSTS)(port())}/${path()}${pick(TAILS)}`;
      case 4: return `${pick(SCHEMES)}${pick(SLASHES)}${pick(HOSTS)(port())}/${path()}${pick(TAILS)}`;
      default: return special();
    }
  };
  while (items.length < count) {
    let s = fresh();
    if (r() < 0.5 && !/localhost/i.test(s)) {
      for (let k = 1 + int(3); k > 0; k--) {
        const at = int(s.length + 1);
        s = s.slice(0, at) + pick(INSERTS) + s.slice(at);
      }
    }
    add(s, 'random');
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// Expected exclusion, computed independently of the package.

/** The package's rule: `pattern` occurs in `path` and ends where a path segment ends. */
function segmentMatch(path, pattern) {
  for (let from = path.indexOf(pattern); from !== -1; from = path.indexOf(pattern, from + 1)) {
    const next = path[from + pattern.length];
    if (pattern.endsWith('/') || next === undefined || '/?#.'.includes(next)) return true;
  }
  return false;
}
const trimSlash = (p) => (p.endsWith('/') ? p.slice(0, -1) : p);
// What a browser writes for each pattern in a path: "/über" → "/%C3%BCber".
const SKIP_AS_SENT = SKIP.map((s) => s.replace('ü', '%C3%BC'));

function excludedBy(origin, path, pageOrigin, skip) {
  return (origin === pageOrigin && trimSlash(path) === trimSlash(REFRESH_PATH)) || skip.some((s) => segmentMatch(path, s));
}
/**
 * 'excluded': no bearer whatever the core's path normalisation; 'protected': the bearer is due
 * whatever it; 'either': the answer depends on how far the core normalises paths (escapes of
 * unreserved characters, ";params", "//", case), so only the no-leak checks apply.
 */
export function expectedClass(url, pageOrigin) {
  if (excludedBy(url.origin, url.pathname, pageOrigin, SKIP_AS_SENT)) return 'excluded';
  const loose = (p) => p.replace(/%([0-9a-f]{2})/gi, (m, h) => {
    const c = String.fromCharCode(parseInt(h, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m;
  }).replace(/;[^/]*/g, '').replace(/\/{2,}/g, '/').toLowerCase();
  if (excludedBy(url.origin, loose(url.pathname), pageOrigin, SKIP_AS_SENT.map(loose))) return 'either';
  return 'protected';
}
