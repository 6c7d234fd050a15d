// In-page test doubles: JWT minting and a stub backend with memory (it records every call and
// decides answers from its own token state, like a real server would).
const b64url = (s) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export function makeJwt(payload) {
  return `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.c2ln`;
}

let serial = 0;
/** A token valid for `ttl` seconds from the server's `now` (seconds). */
export function accessToken(ttl = 300, now = Date.now() / 1000) {
  return makeJwt({ token_type: 'access', exp: Math.floor(now + ttl), iat: Math.floor(now), jti: `a${++serial}`, user_id: 1 });
}
export function refreshToken(ttl = 86_400, now = Date.now() / 1000) {
  return makeJwt({ token_type: 'refresh', exp: Math.floor(now + ttl), iat: Math.floor(now), jti: `r${++serial}`, user_id: 1 });
}

const json = (status, body, headers = {}) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export class StubBackend {
  constructor({ refreshPath = '/api/auth/token/refresh/', rotate = true, accessTtl = 300 } = {}) {
    this.refreshPath = refreshPath;
    this.rotate = rotate;
    this.accessTtl = accessTtl;
    this.calls = [];           // every request: {url, path, method, authorization, body}
    this.refreshCalls = [];    // the refresh requests only
    this.validAccess = new Set();
    this.validRefresh = new Set();
    /** Override to script the refresh endpoint: (call) => Response | Promise<Response> */
    this.onRefresh = null;
    this.refreshDelay = 0;
    this.fetch = this.fetch.bind(this);
  }

  /** Tokens as a login would hand them out. */
  login(ttl = this.accessTtl) {
    const access = accessToken(ttl);
    const refresh = refreshToken();
    this.validAccess.add(access);
    this.validRefresh.add(refresh);
    return { access, refresh };
  }

  async fetch(input, init) {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const call = {
      url: request.url, path: url.pathname, method: request.method,
      authorization: request.headers.get('authorization'),
      contentType: request.headers.get('content-type'),
      credentials: request.credentials,
      body: request.body === null ? null : await request.text(),
    };
    this.calls.push(call);
    if (url.pathname === this.refreshPath) {
      this.refreshCalls.push(call);
      if (this.refreshDelay) await new Promise((r) => setTimeout(r, this.refreshDelay));
      if (this.onRefresh) return this.onRefresh(call);
      return this.refreshOk(call);
    }
    if (url.origin !== location.origin && !url.pathname.startsWith('/api/')) return json(200, { foreign: true });
    const bearer = call.authorization?.replace(/^Bearer /, '');
    if (url.pathname.includes('/login') || url.pathname.includes('/register') || url.pathname.includes('/verify-otp')) {
      return json(401, { detail: 'No active account found with the given credentials' });
    }
    if (!bearer || !this.validAccess.has(bearer)) {
      return json(401, { detail: 'Given token not valid for any token type', code: 'token_not_valid' });
    }
    return json(200, { ok: true, path: url.pathname, method: call.method, body: call.body, contentType: call.contentType });
  }

  refreshOk(call) {
    let presented;
    try { presented = JSON.parse(call.body || '{}').refresh; } catch { presented = undefined; }
    if (!presented || !this.validRefresh.has(presented)) {
      return json(401, { detail: 'Token is invalid or expired', code: 'token_not_valid' });
    }
    const access = accessToken(this.accessTtl);
    this.validAccess.clear();
    this.validAccess.add(access);
    const body = { access };
    if (this.rotate) {
      this.validRefresh.delete(presented);
      body.refresh = refreshToken();
      this.validRefresh.add(body.refresh);
    }
    return json(200, body);
  }
}

export { json };
