// authkeeper: the thin fetch interceptor. The wasm core owns the token lifecycle; this file
// builds and clones Requests, calls the real fetch, and asks the core what to do.
import init, { AuthCore, decodeJwt as decodeJwtWasm } from '../pkg/authkeeper.js';

/** Every error the package throws or rejects with. `code` is stable; match on it. */
export class AuthkeeperError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'AuthkeeperError';
    this.code = code;
  }
}

/** The refresh service is failing and the circuit breaker is open: fail fast, retry later. */
export class RefreshUnavailable extends AuthkeeperError {
  constructor(message) {
    super('refresh_unavailable', message);
    this.name = 'RefreshUnavailable';
  }
}

/** Works across realms (iframes, duplicated bundles), unlike instanceof. */
export const isAuthkeeperError = (e) =>
  e instanceof AuthkeeperError || (e != null && typeof e.code === 'string' && /^(AuthkeeperError|RefreshUnavailable)$/.test(e.name));

const makeError = (code, message) =>
  code === 'refresh_unavailable' ? new RefreshUnavailable(message) : new AuthkeeperError(code, message);

/** Decodes a JWT's claims without verifying it (display only). Throws AuthkeeperError. */
export function decodeJwt(token) {
  // The wasm module loads in createAuthClient; before that a call would fail inside the glue
  // with a message that blames the token.
  if (!wasmLoaded) throw new AuthkeeperError('not_ready', 'decodeJwt: the wasm module is not loaded yet; await createAuthClient() first');
  try {
    return decodeJwtWasm(String(token));
  } catch (e) {
    throw new AuthkeeperError(e?.code || 'malformed_token', e?.message || String(e));
  }
}

const badArgument = (method, what, name, expected, got) =>
  new AuthkeeperError('invalid_option', `${method}: ${what} \`${name}\` must be ${expected} (got ${JSON.stringify(got) ?? typeof got})`);
const bad = (name, expected, got) => badArgument('createAuthClient', 'option', name, expected, got);
const isStrings = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string');

// Every option there is, with its nested ones: anything else is a typo that would otherwise be
// ignored in silence (`refreshTimout`), so it is refused with the closest valid name.
const KNOWN = {
  '': ['refreshUrl', 'refreshFormat', 'refreshMode', 'storage', 'keys', 'legacyKeys', 'apiOrigins', 'skipRefreshFor',
    'loginUrl', 'leeway', 'expiringWarning', 'refreshWhenHidden', 'refreshTimeout', 'retry', 'clear', 'clientId', 'scope',
    'fetch', 'revokeUrl', 'refreshRequest', 'parseRefreshResponse', 'onTrace', 'tabLock', 'wasmUrl'],
  keys: ['access', 'refresh'],
  legacyKeys: ['access', 'refresh'],
  retry: ['maxAttempts', 'baseDelay', 'maxDelay', 'cooldown', 'giveUpAfter'],
  clear: ['patterns', 'sessionStorage'],
};

/** Edit distance, case-insensitive: for "did you mean" only. */
function distance(a, b) {
  a = a.toLowerCase(); b = b.toLowerCase();
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

function refuseUnknown(group, object) {
  if (object === null || typeof object !== 'object') return;
  for (const key of Object.keys(object)) {
    const known = KNOWN[group];
    if (known.includes(key)) continue;
    const name = group ? `${group}.${key}` : key;
    const closest = known.reduce((best, k) => (distance(key, k) < distance(key, best) ? k : best));
    const hint = distance(key, closest) <= Math.max(2, closest.length / 3) ? `; did you mean \`${group ? `${group}.` : ''}${closest}\`?` : '';
    throw new AuthkeeperError('invalid_option', `createAuthClient: unknown option \`${name}\`${hint}`);
  }
}

/** What wasm-bindgen's loader accepts as `module_or_path`. */
const isWasmSource = (v) => (typeof v === 'string' && v !== '') || v instanceof URL ||
  (typeof Request === 'function' && v instanceof Request) || (typeof Response === 'function' && v instanceof Response) ||
  (v !== null && typeof v === 'object' && typeof v.then === 'function') ||
  v instanceof ArrayBuffer || ArrayBuffer.isView(v) || v instanceof WebAssembly.Module;

/**
 * Checks the JS types only the JS side can see, and resolves URLs as fetch will. An option left
 * out (undefined) is passed on as such: its default, like every number's allowed range, lives in
 * the core (src/core/options.rs), which rejects an out-of-range value by name.
 */
function normalise(options) {
  if (options == null || typeof options !== 'object') throw bad('options', 'an object', options);
  for (const group of Object.keys(KNOWN)) refuseUnknown(group, group ? options[group] : options);
  const o = { ...options };
  const given = (v) => v !== undefined;
  const oneOf = (name, value, allowed) => {
    if (given(value) && !allowed.includes(value)) throw bad(name, allowed.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1'), value);
  };
  const check = (name, value, ok, expected) => { if (given(value) && !ok(value)) throw bad(name, expected, value); };
  const group = (name) => {
    check(name, o[name], (v) => v !== null && typeof v === 'object', 'an object');
    return o[name] ?? {};
  };
  const isNumber = (v) => typeof v === 'number';
  const isText = (v) => typeof v === 'string' && v !== '';
  const base = globalThis.location?.href;
  if (typeof o.refreshUrl !== 'string' || o.refreshUrl === '') throw bad('refreshUrl', 'a URL string', o.refreshUrl);
  let refresh;
  try { refresh = new URL(o.refreshUrl, base); } catch { throw bad('refreshUrl', 'a valid URL', o.refreshUrl); }
  oneOf('storage', o.storage, ['local', 'session', 'memory']);
  oneOf('refreshMode', o.refreshMode, ['body', 'cookie']);
  oneOf('refreshFormat', o.refreshFormat, ['simplejwt', 'oauth']);
  const keys = group('keys');
  const legacyKeys = group('legacyKeys');
  for (const k of ['access', 'refresh']) {
    check(`keys.${k}`, keys[k], isText, 'a non-empty string');
    check(`legacyKeys.${k}`, legacyKeys[k], isStrings, 'an array of strings');
  }
  check('apiOrigins', o.apiOrigins, isStrings, 'an array of origin strings');
  const apiOrigins = (o.apiOrigins ?? []).map((origin) => {
    try { return new URL(origin).origin; } catch { throw bad('apiOrigins', 'absolute URLs such as "https://api.example.com"', origin); }
  });
  check('skipRefreshFor', o.skipRefreshFor, isStrings, 'an array of path strings');
  const clear = group('clear');
  check('clear.patterns', clear.patterns, isStrings, 'an array of strings');
  oneOf('clear.sessionStorage', clear.sessionStorage, ['all', 'matching', 'none']);
  for (const k of ['clientId', 'scope']) check(k, o[k], (v) => v === null || isText(v), 'null or a non-empty string');
  check('leeway', o.leeway, (v) => v === null || isNumber(v), 'null or a number of milliseconds');
  for (const k of ['expiringWarning', 'refreshTimeout']) check(k, o[k], isNumber, 'a number of milliseconds');
  const retry = group('retry');
  for (const k of ['maxAttempts', 'baseDelay', 'maxDelay', 'cooldown', 'giveUpAfter']) check(`retry.${k}`, retry[k], isNumber, 'a number');
  for (const k of ['refreshWhenHidden', 'tabLock']) check(k, o[k], (v) => typeof v === 'boolean', 'a boolean');
  for (const k of ['fetch', 'onTrace', 'refreshRequest', 'parseRefreshResponse']) check(k, o[k], (v) => typeof v === 'function', 'a function');
  check('wasmUrl', o.wasmUrl, isWasmSource, 'a URL (string or URL), a Request, a Response (or a promise of one), the bytes (ArrayBuffer or typed array) or a WebAssembly.Module');
  let login = null;
  if (o.loginUrl != null) {
    try { login = new URL(o.loginUrl, base); } catch { throw bad('loginUrl', 'null or a URL', o.loginUrl); }
  }
  let revoke = null;
  if (o.revokeUrl != null) {
    if (!isText(o.revokeUrl)) throw bad('revokeUrl', 'null or a URL string', o.revokeUrl);
    try { revoke = new URL(o.revokeUrl, base); } catch { throw bad('revokeUrl', 'null or a valid URL', o.revokeUrl); }
  }
  return {
    ...o,
    apiOrigins,
    refreshUrl: refresh.href,
    refreshOrigin: refresh.origin,
    refreshPath: refresh.pathname,
    pageOrigin: globalThis.location?.origin ?? refresh.origin,
    loginUrl: login?.href ?? null,
    loginPath: login?.pathname ?? null,
    revokeUrl: revoke?.href ?? null,
    revokePath: revoke?.pathname ?? null,
    refreshRequestHook: o.refreshRequest && requestHook(o.refreshRequest),
    parseRefreshResponseHook: o.parseRefreshResponse && parseHook(o.parseRefreshResponse),
  };
}

// The escape hatch's hooks, wrapped so that what they return is checked before the core sees
// it. A hook that throws or returns the wrong shape throws an Error whose message names the
// mistake (scrubbed of the tokens); the core counts that refresh as a failed attempt.
const describe = (v) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);
const scrub = (text, secrets) => secrets.reduce((t, s) => (typeof s === 'string' && s.length >= 8 ? t.split(s).join('<redacted>') : t), String(text)).slice(0, 300);
const isBody = (b) => typeof b === 'string' || b instanceof URLSearchParams || b instanceof FormData || b instanceof Blob ||
  b instanceof ArrayBuffer || ArrayBuffer.isView(b);

function requestHook(hook) {
  return (refreshToken) => {
    let out;
    try { out = hook(refreshToken); } catch (e) { throw new Error(`refreshRequest threw: ${scrub(e?.message ?? e, [refreshToken])}`); }
    if (out === null || typeof out !== 'object' || typeof out.then === 'function') {
      throw new Error(`refreshRequest must return { body, headers } synchronously (got ${typeof out?.then === 'function' ? 'a Promise' : describe(out)})`);
    }
    if (out.body != null && !isBody(out.body)) {
      throw new Error(`refreshRequest's body must be a string, URLSearchParams, FormData, Blob or buffer (got ${describe(out.body)})`);
    }
    let headers;
    try { headers = [...new Headers(out.headers ?? {})]; } catch (e) { throw new Error(`refreshRequest's headers are not valid headers: ${scrub(e?.message, [refreshToken])}`); }
    return { body: out.body ?? null, headers };
  };
}

function parseHook(hook) {
  return (text) => {
    let json;
    try { json = JSON.parse(text); } catch { throw new Error('parseRefreshResponse: the 2xx refresh response is not JSON'); }
    const secrets = json !== null && typeof json === 'object' ? Object.values(json) : [];
    let out;
    try { out = hook(json); } catch (e) { throw new Error(`parseRefreshResponse threw: ${scrub(e?.message ?? e, secrets)}`); }
    if (out === null || typeof out !== 'object' || typeof out.then === 'function') {
      throw new Error(`parseRefreshResponse must return { access, refresh?, expiresIn? } synchronously (got ${typeof out?.then === 'function' ? 'a Promise' : describe(out)})`);
    }
    const { access, refresh, expiresIn } = out;
    if (typeof access !== 'string' || access.trim() === '') throw new Error(`parseRefreshResponse returned no access token (access: ${describe(access)})`);
    if (refresh != null && (typeof refresh !== 'string' || refresh === '')) throw new Error(`parseRefreshResponse's refresh must be a non-empty string or absent (got ${describe(refresh)})`);
    if (expiresIn != null && !(typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn >= 0)) {
      throw new Error(`parseRefreshResponse's expiresIn must be a number of seconds or absent (got ${JSON.stringify(expiresIn) ?? describe(expiresIn)})`);
    }
    return { access, refresh: refresh ?? undefined, expiresIn: expiresIn ?? undefined };
  };
}

/**
 * An absolute path that the URL parser keeps byte for byte: RFC 3986 path characters only (no
 * escapes, "\", controls, spaces or anything it percent-encodes), and no "/" followed by "." (a
 * dot segment) or by "/" (at the start: another host). Sticky: `lastIndex` ends where the path
 * does; what follows must be the end, "?" or "#".
 */
const PLAIN_PATH = /(?:\/(?![./])[\w\-.~!$&'()*+,;=:@]*)+/y;

// The base URL fetch resolves relative URLs against (document.baseURI: a <base> element counts,
// and one can be inserted at any time), and the origin an absolute path lands on there. A
// worker has no <base>: its location, read once.
const doc = globalThis.document;
const workerBase = doc ? undefined : globalThis.location?.href;
let knownBase;
let knownBaseOrigin = null;

/**
 * Origin and path of a request URL exactly as fetch will resolve it: against the document's base
 * URL, after the URL parser's clean-up (tabs and newlines removed, "\" read as "/", dot segments
 * resolved, characters percent-encoded). `null` when it does not parse: fetch will reject it.
 * Parsing costs more than the rest of the fast path together, so the common case, an absolute
 * path the parser keeps byte for byte while the base URL is on the page's origin, is read directly.
 */
function locate(url, pageOrigin) {
  const base = doc ? doc.baseURI : workerBase;
  if (base !== knownBase) {
    knownBase = base;
    try { knownBaseOrigin = new URL('/', base).origin; } catch { knownBaseOrigin = null; }
  }
  if (knownBaseOrigin === pageOrigin) {
    PLAIN_PATH.lastIndex = 0;
    if (PLAIN_PATH.test(url)) {
      const end = PLAIN_PATH.lastIndex;
      if (end === url.length) return { origin: pageOrigin, path: url };
      const next = url.charCodeAt(end);
      if (next === 63 /* ? */ || next === 35 /* # */) return { origin: pageOrigin, path: url.slice(0, end) };
    }
  }
  try {
    const { origin, pathname } = new URL(url, base);
    return { origin, path: pathname };
  } catch {
    return null;
  }
}

/**
 * Origin and path of a URL the parser already wrote (a Request's `url`): on the page's origin
 * the path is read directly, as it is already in the form fetch sends.
 */
function locateSerialized(url, pageOrigin) {
  if (url.startsWith(pageOrigin) && url.charCodeAt(pageOrigin.length) === 47 /* / */) {
    const end = url.slice(pageOrigin.length).search(/[?#]/);
    return { origin: pageOrigin, path: url.slice(pageOrigin.length, end === -1 ? undefined : pageOrigin.length + end) };
  }
  return locate(url, pageOrigin);
}

const toStringTag = Object.prototype.toString;

let wasmReady;
let wasmLoaded = false;

// A page, or a worker (no document, but a location fetch resolves against). Anything else, a
// server rendering a page or a Node script, has no user session to keep.
const inBrowser = () =>
  typeof window !== 'undefined' || typeof document !== 'undefined' || typeof globalThis.WorkerGlobalScope === 'function';

const isNode = () => typeof process === 'object' && process !== null && typeof process.versions?.node === 'string';

// Kept out of the bundlers' sight: a variable specifier with their ignore comments, so that no
// browser build tries to resolve or bundle node:fs (it is imported only under Node, below).
const NODE_FS = 'node:fs/promises';

/**
 * What `init` gets. Left alone (the glue's own `new URL('authkeeper_bg.wasm', import.meta.url)`,
 * which bundlers see and copy) except under Node, in a test runner (Vitest, Jest, with or
 * without jsdom), where that URL is a file: URL that fetch cannot read: there the bytes are read
 * from the package directly.
 */
async function wasmSource(wasmUrl) {
  if (wasmUrl !== undefined) return wasmUrl;
  if (!isNode()) return undefined;
  const here = import.meta.url;
  if (typeof here !== 'string' || !here.startsWith('file:')) return undefined;
  const file = new URL('../pkg/authkeeper_bg.wasm', here);
  const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ /* turbopackIgnore: true */ NODE_FS);
  return readFile(file);
}

const describeWasmUrl = (v) => {
  if (v === undefined) return 'the default location (authkeeper_bg.wasm next to authkeeper/pkg/authkeeper.js, found through import.meta.url)';
  if (typeof v === 'string') return `wasmUrl ${JSON.stringify(v)}`;
  if (v instanceof URL) return `wasmUrl ${JSON.stringify(v.href)}`;
  if (typeof Request === 'function' && v instanceof Request) return `wasmUrl (a Request for ${JSON.stringify(v.url)})`;
  if (typeof v?.then === 'function') return 'wasmUrl (a promise)';
  if (typeof Response === 'function' && v instanceof Response) return `wasmUrl (a Response${v.url ? ` from ${JSON.stringify(v.url)}` : ''})`;
  if (typeof WebAssembly.Module === 'function' && v instanceof WebAssembly.Module) return 'wasmUrl (a WebAssembly.Module)';
  return 'wasmUrl (bytes)';
};

function wasmLoadFailed(wasmUrl, cause) {
  const why = String(cause?.message ?? cause);
  // A Content-Security-Policy without 'wasm-unsafe-eval' makes compiling any wasm a CompileError
  // ("... 'unsafe-eval' is not an allowed source ..." in Chromium, "call to
  // WebAssembly.instantiate() blocked by CSP" in Firefox).
  const csp = cause?.name === 'CompileError' && /unsafe-eval|blocked by CSP/i.test(why)
    ? " This is the page's Content-Security-Policy: allow compiling WebAssembly with `script-src 'self' 'wasm-unsafe-eval'` (no 'unsafe-eval' needed)."
    : '';
  const fix = csp || (wasmUrl === undefined
    ? ' If your bundler did not copy authkeeper_bg.wasm next to the code (esbuild, Rollup), serve it yourself and pass its URL as `wasmUrl`, e.g. `wasmUrl: \'/assets/authkeeper_bg.wasm\'`.'
    : ' Check that `wasmUrl` points at authkeeper_bg.wasm from this version of the package, served with Content-Type application/wasm.');
  const error = new AuthkeeperError('wasm_load_failed', `createAuthClient: the wasm module failed to load from ${describeWasmUrl(wasmUrl)}: ${why}.${fix}`);
  error.cause = cause;
  return error;
}

// Vitest's jsdom environment replaces the global Uint8Array with jsdom's (another realm's), while
// Node's fetch still yields its own: the core, which reads the refresh response's body in chunks
// and checks each is a Uint8Array, would take every refresh response for a failure. Detected
// from a Node Buffer (Node's Uint8Array) no longer being one; never true in a browser.
const typedArraysSwapped = () => isNode() && typeof Buffer === 'function' && !(Buffer.alloc(0) instanceof Uint8Array);

/** The responses of `fetchFn` with body chunks made in this realm (see typedArraysSwapped). */
const adoptChunks = (fetchFn) => async (input, init) => {
  const response = await fetchFn(input, init);
  const body = response?.body;
  if (!body || typeof TransformStream !== 'function') return response;
  const adopted = body.pipeThrough(new TransformStream({
    transform(chunk, out) { out.enqueue(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk)); },
  }));
  Object.defineProperty(response, 'body', { value: adopted, configurable: true });
  return response;
};

/**
 * Creates the client: validates options, loads the wasm module once per page, validates the
 * stored tokens and starts the lifecycle timers.
 */
export async function createAuthClient(options) {
  if (!inBrowser()) {
    throw new AuthkeeperError('not_in_browser', 'createAuthClient: not in a browser (no window or document): authkeeper keeps one user\'s session in a page. ' +
      'When rendering on a server (SSR), create the client in code that runs only in the browser (a useEffect, onMount); ' +
      'in unit tests, use a DOM environment (Vitest `environment: \'jsdom\'`, Jest `testEnvironment: \'jsdom\'`).');
  }
  const config = normalise(options);
  if (!wasmLoaded) {
    // One load per page; a failed one is forgotten, so that a later call (with a corrected
    // wasmUrl, or after a network failure) tries again.
    const attempt = wasmReady ??= wasmSource(config.wasmUrl)
      .then((source) => init(source === undefined ? undefined : { module_or_path: source }))
      .catch((cause) => { throw wasmLoadFailed(config.wasmUrl, cause); });
    try {
      await attempt;
    } catch (e) {
      if (wasmReady === attempt) wasmReady = undefined;
      throw e;
    }
    wasmLoaded = true;
  }
  const realFetch = config.fetch ?? globalThis.fetch.bind(globalThis);
  // Without onTrace the fast path allocates no trace entries at all.
  const onTrace = config.onTrace;
  const trace = onTrace && ((id, url, phase, status) => onTrace(status === undefined ? { id, url, phase } : { id, url, phase, status }));
  // auth.subscribe: this client's own listeners, told of every change the core announces, and
  // the state they are given (one object per change, so that it can be compared by identity).
  const subscribers = new Set();
  let session = null;
  const sessionState = () => {
    if (session === null) {
      const { status, expiresAt, claims, reason } = core.state();
      // A refresh in progress is still an active session: its outcome is announced.
      session = Object.freeze({ status: status === 'refreshing' ? 'active' : status, expiresAt, claims, reason });
    }
    return session;
  };
  const notify = (type, detail) => {
    session = null;
    const event = Object.freeze({ type, ...detail });
    const state = sessionState();
    for (const listener of [...subscribers]) {
      // One listener's exception must not keep the others from hearing about the change.
      try { listener(state, event); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
  };
  const core = new AuthCore(config, typedArraysSwapped() ? adoptChunks(realFetch) : realFetch, makeError, notify);
  core.start();
  let nextId = 0;
  // Set by destroy(): from then on auth.fetch rejects instead of attaching the bearer.
  let destroyed = false;
  // The core answers `true` while the bearer is the one it handed over last time; its header
  // value is built once per token, not per request.
  let lastBearer = null;
  let lastHeader = null;
  const bearerFrom = (answer) => {
    if (answer === true) return lastBearer;
    if (typeof answer === 'string' && answer !== lastBearer) {
      lastBearer = answer;
      lastHeader = `Bearer ${answer}`;
    }
    return answer;
  };
  const headerFor = (bearer) => (bearer === lastBearer ? lastHeader : `Bearer ${bearer}`);

  /** fetch's exact signature and semantics, with the session handled. */
  async function authFetch(input, init) {
    if (destroyed) throw new AuthkeeperError('destroyed', 'auth.fetch: the auth client was destroyed');
    let isRequest = false;
    if (typeof input !== 'string') {
      if (input instanceof Request) {
        isRequest = true;
      } else if (toStringTag.call(input) === '[object Request]') {
        // Another realm's Request (a same-origin iframe's) fails instanceof but is a Request to
        // fetch: this realm's copy of it is what fetch would read (URL, headers, body, signal).
        input = new Request(input);
        isRequest = true;
      } else {
        // A URL object, or anything else fetch stringifies: stringified once, here, so that
        // what is checked is what is sent.
        input = `${input}`;
      }
    }
    // Per fetch, init.headers replaces a Request's own headers rather than merging. Without
    // any, a plain object carries the one header we add (no Headers object to build).
    const own = init?.headers ?? (isRequest ? input.headers : undefined);
    let headers = own === undefined ? null : new Headers(own);
    // The caller manages its own credentials for this request.
    if (headers?.has('Authorization')) return realFetch(input, init);
    const where = isRequest ? locateSerialized(input.url, config.pageOrigin) : locate(input, config.pageOrigin);
    // A URL that does not parse: fetch rejects it, as it would without us.
    if (where === null) return realFetch(input, init);
    const { origin, path } = where;
    const signal = init?.signal ?? (isRequest ? input.signal : undefined);
    const id = ++nextId;
    let bearer = bearerFrom(core.beforeSend(origin, path, signal));
    if (bearer === null) return realFetch(input, init);
    if (typeof bearer !== 'string') {
      trace?.(id, path, 'queued');
      bearer = await bearer;
      // No session came of the cookie-mode start-up refresh: it goes out as it would without us.
      if (bearer === null) return realFetch(input, init);
    }
    // What to replay after a 401. A URL input's init (string, Blob, FormData, URLSearchParams,
    // ArrayBuffer body) can simply be sent again; a Request's body is a stream, so it is cloned
    // before the first send. A ReadableStream body cannot be replayed without buffering it all:
    // such a request returns its 401.
    const streaming = init?.body instanceof ReadableStream;
    const replay = streaming ? null : isRequest && input.body !== null ? input.clone() : input;
    const authorization = headerFor(bearer);
    if (headers) headers.set('Authorization', authorization);
    trace?.(id, path, 'sent');
    const response = await realFetch(input, { ...init, headers: headers ?? { Authorization: authorization } });
    if (response.status !== 401 || replay === null) {
      trace?.(id, path, 'done', response.status);
      return response;
    }
    trace?.(id, path, '401');
    let fresh = core.onUnauthorized(origin, path, bearer, signal);
    if (fresh !== null && typeof fresh !== 'string') fresh = await fresh;
    if (fresh === null) {
      trace?.(id, path, 'done', 401);
      return response;
    }
    headers ??= new Headers();
    headers.set('Authorization', `Bearer ${fresh}`);
    const second = await realFetch(replay, { ...init, headers });
    trace?.(id, path, 'replayed', second.status);
    return second;
  }

  return {
    fetch: authFetch,
    /** After the app's own login call. `expiresIn` (seconds) is for opaque access tokens. */
    setTokens(tokens) {
      if (tokens == null || typeof tokens !== 'object') throw badArgument('setTokens', 'argument', 'tokens', '{ access, refresh?, expiresIn? }', tokens);
      // An OAuth-shaped login response ({ access_token, refresh_token, expires_in }) as is.
      const access = tokens.access ?? tokens.access_token;
      const refresh = tokens.refresh ?? tokens.refresh_token ?? null;
      const expiresIn = tokens.expiresIn ?? tokens.expires_in ?? null;
      if (typeof access !== 'string' || access === '') throw badArgument('setTokens', 'field', 'access', 'a non-empty string (or `access_token`)', access);
      if (refresh !== null && typeof refresh !== 'string') throw badArgument('setTokens', 'field', 'refresh', 'a string or null', refresh);
      if (expiresIn !== null && (typeof expiresIn !== 'number' || !(expiresIn >= 0))) throw badArgument('setTokens', 'field', 'expiresIn', 'null or a number of seconds', expiresIn);
      core.setTokens(access, refresh ?? undefined, expiresIn ?? undefined);
    },
    /** A valid access token (refreshing first if needed), or null without a session. */
    async getAccessToken({ signal } = {}) {
      const token = bearerFrom(core.accessToken(signal));
      return token === null || typeof token === 'string' ? token : await token;
    },
    /** Refreshes now (single-flight); resolves once a fresh token is in place, rejects typed. */
    async refresh({ signal } = {}) {
      if (destroyed) throw new AuthkeeperError('destroyed', 'auth.refresh: the auth client was destroyed');
      const token = await core.refresh(signal);
      // null: cookie mode found no session in the cookie.
      if (token === null) throw new AuthkeeperError('no_session', 'auth.refresh: there is no session to refresh');
    },
    logout() { core.logout(); },
    state() { return core.state(); },
    /**
     * Calls `listener(state, event)` at once with the current state (`event.type: 'initial'`),
     * then on every change: `signed_in`, `refreshed`, `expiring`, `signed_out`. Returns the
     * unsubscribe function (the Svelte store contract; React's useSyncExternalStore takes it).
     */
    subscribe(listener) {
      if (typeof listener !== 'function') throw badArgument('subscribe', 'argument', 'listener', 'a function', listener);
      subscribers.add(listener);
      listener(sessionState(), Object.freeze({ type: 'initial' }));
      return () => { subscribers.delete(listener); };
    },
    /** The state subscribers were last given: the same object until the next change. */
    getSnapshot() { return sessionState(); },
    destroy() {
      destroyed = true;
      subscribers.clear();
      core.destroy();
    },
  };
}
