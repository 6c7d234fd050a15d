// In-page test doubles: JWT minting and a stub backend with memory (it records every call and
// decides answers from its own token state, like a real server would), plus small helpers the
// tests share (event recording, polling, error snapshots).
const b64url = (s) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export function makeJwt(payload) {
  return `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.c2ln`;
}

let serial = 0;
/** A token valid for `ttl` seconds from the server's `now` (seconds). `iat: false` leaves it out. */
export function accessToken(ttl = 300, now = Date.now() / 1000, { iat = true } = {}) {
  const claims = { token_type: 'access', exp: Math.floor(now + ttl), jti: `a${++serial}`, user_id: 1 };
  if (iat) claims.iat = Math.floor(now);
  return makeJwt(claims);
}
export function refreshToken(ttl = 86_400, now = Date.now() / 1000) {
  return makeJwt({ token_type: 'refresh', exp: Math.floor(now + ttl), iat: Math.floor(now), jti: `r${++serial}`, user_id: 1 });
}

/** The claims of a token minted here (no checks: test use only). */
export function claimsOf(token) {
  const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
}

const json = (status, body, headers = {}) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export class StubBackend {
  /**
   * refreshPath: the refresh endpoint. rotate: issue a new refresh token on each refresh.
   * accessTtl: seconds. skew: the server clock minus the page clock, in seconds (tokens are
   * minted and judged on the server clock). format: 'simplejwt' | 'oauth'. opaque: issue
   * non-JWT access tokens (with `expires_in`). cookie: the refresh token is an httpOnly cookie.
   * iat: put `iat` in issued tokens. dateHeader: send a `Date` header (server clock) on refreshes.
   */
  constructor({
    refreshPath = '/api/auth/token/refresh/', rotate = true, accessTtl = 300, skew = 0,
    format = 'simplejwt', opaque = false, cookie = false, iat = true, dateHeader = false,
  } = {}) {
    Object.assign(this, { refreshPath, rotate, accessTtl, skew, format, opaque, cookie, iat, dateHeader });
    this.calls = [];           // every request: {url, path, method, authorization, body, parts, at, ...}
    this.refreshCalls = [];    // the refresh requests only
    this.validAccess = new Set();
    this.validRefresh = new Set();
    this.opaqueExpiry = new Map();   // opaque access token → expiry (server seconds)
    this.cookieSession = false;      // cookie mode: whether the browser holds a valid cookie
    /** Override to script the refresh endpoint: (call, n) => Response | Promise<Response> (n counts from 1) */
    this.onRefresh = null;
    /** Override any other route: (call) => Response | null (null: default behaviour) */
    this.onRequest = null;
    this.refreshDelay = 0;
    this.fetch = this.fetch.bind(this);
  }

  /** The server's clock, in seconds. */
  now() {
    return Date.now() / 1000 + this.skew;
  }

  mintAccess(ttl = this.accessTtl) {
    if (this.opaque) {
      const token = `opaque-${Math.random().toString(36).slice(2)}-${++serial}`;
      this.opaqueExpiry.set(token, this.now() + ttl);
      return token;
    }
    return accessToken(ttl, this.now(), { iat: this.iat });
  }

  /** Tokens as a login would hand them out (the access token is valid server-side). */
  login(ttl = this.accessTtl) {
    const access = this.mintAccess(ttl);
    const refresh = refreshToken(86_400, this.now());
    this.validAccess.add(access);
    if (this.cookie) this.cookieSession = true;
    else this.validRefresh.add(refresh);
    return { access, refresh };
  }

  /** The server forgets every access token it issued (blacklist, key rotation): each gets 401. */
  revokeAccess() {
    this.validAccess.clear();
  }

  accessIsValid(token) {
    if (!token || !this.validAccess.has(token)) return false;
    const exp = this.opaqueExpiry.get(token) ?? (this.opaque ? undefined : claimsOf(token).exp);
    return exp === undefined || exp > this.now();
  }

  /** Records the status each call was answered with (`call.status`). */
  async fetch(input, init) {
    const ref = {};
    const response = await this.answer(input, init, ref);
    if (ref.call) ref.call.status = response.status;
    return response;
  }

  async answer(input, init, ref) {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const contentType = request.headers.get('content-type');
    let parts = null;
    if (contentType?.startsWith('multipart/form-data')) {
      parts = [];
      for (const [name, value] of await request.clone().formData()) {
        parts.push(typeof value === 'string'
          ? { name, value }
          : { name, filename: value.name, type: value.type, text: await value.text() });
      }
    }
    const call = {
      n: this.calls.length + 1,
      at: performance.now(), wall: Date.now(),
      url: request.url, path: url.pathname, method: request.method,
      authorization: request.headers.get('authorization'),
      contentType,
      headers: Object.fromEntries(request.headers),
      credentials: request.credentials,
      redirect: request.redirect,
      body: request.body === null ? null : await request.text(),
      parts,
    };
    // Not enumerable: page.evaluate results carry calls, and a signal does not serialise.
    Object.defineProperty(call, 'signal', { value: request.signal });
    ref.call = call;
    this.calls.push(call);
    if (url.pathname === this.refreshPath) {
      this.refreshCalls.push(call);
      if (this.refreshDelay) await new Promise((r) => setTimeout(r, this.refreshDelay));
      if (this.onRefresh) return this.onRefresh(call, this.refreshCalls.length);
      return this.refreshOk(call);
    }
    const scripted = this.onRequest?.(call);
    if (scripted) return scripted;
    if (url.origin !== location.origin && !url.pathname.startsWith('/api/')) return json(200, { foreign: true });
    const bearer = call.authorization?.replace(/^Bearer /, '');
    if (url.pathname.includes('/login') || url.pathname.includes('/register') || url.pathname.includes('/verify-otp')) {
      return json(401, { detail: 'No active account found with the given credentials' });
    }
    if (!this.accessIsValid(bearer)) {
      return json(401, { detail: 'Given token not valid for any token type', code: 'token_not_valid' });
    }
    return json(200, { ok: true, path: url.pathname, method: call.method, body: call.body, contentType: call.contentType });
  }

  /** The refresh token the client presented (by body, per format), or undefined. */
  presented(call) {
    // Like a real OAuth server (RFC 6749 §6), the oauth format accepts only form-encoded bodies.
    if (this.format === 'oauth') {
      if (call.contentType !== 'application/x-www-form-urlencoded') return undefined;
      const form = new URLSearchParams(call.body || '');
      return form.get('grant_type') === 'refresh_token' ? form.get('refresh_token') ?? undefined : undefined;
    }
    try {
      return JSON.parse(call.body || '{}').refresh;
    } catch {
      return undefined;
    }
  }

  refreshOk(call) {
    if (this.cookie) {
      if (call.credentials !== 'include' || !this.cookieSession) {
        return json(401, { detail: 'Token is invalid or expired', code: 'token_not_valid' });
      }
    } else {
      const presented = this.presented(call);
      if (!presented || !this.validRefresh.has(presented)) {
        return json(401, { detail: 'Token is invalid or expired', code: 'token_not_valid' });
      }
      if (this.rotate) this.validRefresh.delete(presented);
    }
    const access = this.mintAccess();
    this.validAccess.clear();
    this.validAccess.add(access);
    let refresh = null;
    if (this.rotate && !this.cookie) {
      refresh = refreshToken(86_400, this.now());
      this.validRefresh.add(refresh);
    }
    const headers = this.dateHeader ? { date: new Date(this.now() * 1000).toUTCString() } : {};
    if (this.format === 'oauth') {
      const body = { access_token: access, token_type: 'Bearer', expires_in: this.accessTtl };
      if (refresh) body.refresh_token = refresh;
      return json(200, body, headers);
    }
    const body = { access };
    if (refresh) body.refresh = refresh;
    return json(200, body, headers);
  }
}

/** Records `auth:*` events on window: `{logout: [{reason, message, at}], refreshed: [...], expiring: [...]}`. */
export function recordEvents() {
  const log = { logout: [], refreshed: [], expiring: [], login: [] };
  for (const name of Object.keys(log)) {
    window.addEventListener(`auth:${name}`, (e) => log[name].push({ ...e.detail, at: performance.now(), wall: Date.now() }));
  }
  return log;
}

/** Polls `condition` until it is truthy; rejects with `what` after `timeout` ms. */
export async function waitFor(condition, { timeout = 5_000, interval = 10, what = String(condition) } = {}) {
  const deadline = performance.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`waitFor timed out: ${what}`);
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A serialisable view of an error (for page.evaluate results). */
export function errorInfo(e) {
  return {
    name: e?.name, code: e?.code, message: e?.message,
    isAuthkeeperError: window.authkeeper.isAuthkeeperError(e),
    isRefreshUnavailable: e instanceof window.authkeeper.RefreshUnavailable,
    isDomException: e instanceof DOMException,
  };
}

/** console.error/console.warn lines from here on (still printed). */
export function captureConsole() {
  const lines = { error: [], warn: [] };
  for (const level of ['error', 'warn']) {
    const original = console[level];
    console[level] = (...args) => { lines[level].push(args.map(String).join(' ')); original.apply(console, args); };
  }
  return lines;
}

/** Settles a promise into `{status}` (a Response) or `{error}` (errorInfo), never throwing. */
export async function outcome(promise) {
  try {
    const res = await promise;
    return { status: res.status };
  } catch (e) {
    return { error: errorInfo(e) };
  }
}

export { json };

/** A stub backend, a client on it (no cross-tab lock: one page per test) and a live session. */
export async function signedIn(options = {}) {
  const backend = new StubBackend();
  const tokens = backend.login();
  const auth = await window.authkeeper.createAuthClient({
    refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, ...options,
  });
  auth.setTokens(tokens);
  return { backend, tokens, auth };
}

/** Stored tokens whose access part has expired (refresh still valid), then a client on a stub
 * backend: the first request must refresh. */
export async function expiredSession(options = {}) {
  const events = recordEvents();
  const backend = new StubBackend();
  const tokens = backend.login();
  localStorage.setItem('accessToken', accessToken(-60));
  localStorage.setItem('refreshToken', tokens.refresh);
  const auth = await window.authkeeper.createAuthClient({
    refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch, tabLock: false, ...options,
  });
  return { auth, backend, events, tokens };
}
