// The bench's local server, on 127.0.0.1 and a free port: static files (the repository, with
// /js/ and /pkg/ served from the bench's snapshot of the built package) and a tiny API with
// memory, like tests/js/harness.js's StubBackend but over real HTTP, so several tabs share it:
//   GET  /api/...                    200 {"ok":true} with a bearer the server issued, else 401
//   POST /api/auth/token/refresh/    {"refresh"} → {"access","refresh"} (rotating), counted
//   POST /__bench/login?ttl=S        tokens as a login would hand them out
//   POST /__bench/revoke             every issued access token stops being accepted
//   POST /__bench/reset?delay=MS     zero the counters; the refresh endpoint answers after MS
//   GET  /__bench/stats              {"refreshCalls","apiCalls","unauthorized"}
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
// Cross-origin isolation for every response: performance.now() in the page then ticks in 5 µs
// steps instead of 100 µs, which matters for the drain and start-up timings.
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' };
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css' };
export const REFRESH_PATH = '/api/auth/token/refresh/';

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
export const makeJwt = (payload) => `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}.c2ln`;
let serial = 0;
export function mintAccess(ttl = 3600, now = Date.now() / 1000) {
  return makeJwt({ token_type: 'access', exp: Math.floor(now + ttl), iat: Math.floor(now), jti: `a${++serial}`, user_id: 1 });
}
export function mintRefresh(ttl = 86_400, now = Date.now() / 1000) {
  return makeJwt({ token_type: 'refresh', exp: Math.floor(now + ttl), iat: Math.floor(now), jti: `r${++serial}`, user_id: 1 });
}

/** `snapshot`: a directory holding js/ and pkg/ (the build under test, copied once). */
export async function startServer({ snapshot }) {
  const state = { validAccess: new Set(), validRefresh: new Set(), refreshCalls: 0, apiCalls: 0, unauthorized: 0, refreshDelay: 0 };
  const send = (res, status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { ...ISOLATION, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  };
  const readBody = (req) => new Promise((ok) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { s += c; });
    req.on('end', () => ok(s));
  });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if (path === REFRESH_PATH) {
      state.refreshCalls++;
      const body = await readBody(req);
      if (state.refreshDelay) await new Promise((r) => setTimeout(r, state.refreshDelay));
      let presented;
      try { presented = JSON.parse(body || '{}').refresh; } catch { presented = undefined; }
      if (!presented || !state.validRefresh.has(presented)) return send(res, 401, { detail: 'Token is invalid or expired', code: 'token_not_valid' });
      state.validRefresh.delete(presented);
      const access = mintAccess();
      const refresh = mintRefresh();
      state.validAccess.clear();
      state.validAccess.add(access);
      state.validRefresh.add(refresh);
      return send(res, 200, { access, refresh });
    }
    if (path.startsWith('/api/')) {
      state.apiCalls++;
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      req.resume();
      if (!state.validAccess.has(bearer)) {
        state.unauthorized++;
        return send(res, 401, { detail: 'Given token not valid for any token type', code: 'token_not_valid' });
      }
      return send(res, 200, { ok: true });
    }
    if (path.startsWith('/__bench/')) {
      req.resume();
      if (path === '/__bench/login') {
        const access = mintAccess(Number(url.searchParams.get('ttl') ?? 3600));
        const refresh = mintRefresh();
        state.validAccess.add(access);
        state.validRefresh.add(refresh);
        return send(res, 200, { access, refresh });
      }
      if (path === '/__bench/revoke') { state.validAccess.clear(); return send(res, 200, {}); }
      if (path === '/__bench/reset') {
        Object.assign(state, { refreshCalls: 0, apiCalls: 0, unauthorized: 0, refreshDelay: Number(url.searchParams.get('delay') ?? 0) });
        return send(res, 200, {});
      }
      if (path === '/__bench/stats') return send(res, 200, { refreshCalls: state.refreshCalls, apiCalls: state.apiCalls, unauthorized: state.unauthorized });
      return send(res, 404, {});
    }
    // Static files.
    const rel = normalize(decodeURIComponent(path));
    const base = /^\/(js|pkg)\//.test(rel) ? snapshot : ROOT;
    const file = join(base, rel.endsWith('/') ? `${rel}index.html` : rel);
    if (!file.startsWith(base)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...ISOLATION, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(ok); }),
  };
}
