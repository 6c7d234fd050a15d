// authkeeper: the thin fetch interceptor and the wasm core's driver. The wasm core owns the
// token lifecycle and every decision; this file builds and clones Requests, calls the real
// fetch, and carries out what the core commands (the refresh call, the cross-tab lock and
// channel, storage, timers, events), reporting the results back. It loads the module itself:
// raw exports, two byte buffers, no generated glue.

// The terse build (pkg/index.prod.js, which package.json's "production" export condition picks for
// production bundles) is this file with AUTHKEEPER_TERSE defined by scripts/bundle.mjs: the same
// behaviour, codes, option names and end-user logout texts, without the explanations written for
// the developer (what an option must be, why, what to check), which are most of the bytes here.
// Every such text sits behind VERBOSE, so that the build drops it. (Declared before any class:
// esbuild inlines a constant only where nothing before it could throw; so are the numbers below.)
const VERBOSE = typeof AUTHKEEPER_TERSE !== 'boolean' || !AUTHKEEPER_TERSE;

// Ops and actions, numbered as in src/web/client.rs.
const NEW = 0, START = 1, REQUEST = 2, UNAUTHORIZED = 3, REFRESH = 4, SET_TOKENS = 5, LOGOUT = 6, STATE = 7, CANCEL = 8,
  TIMEOUT = 9, VISIBILITY = 10, RESPONSE = 11, NETWORK_ERROR = 12, HOOK_ERROR = 13, LOCK_GRANTED = 14,
  LOCK_UNAVAILABLE = 15, STORED = 16, TAB = 17, REVOKE_RESULT = 18, DESTROY = 19, CLEAR = 20, HELD = 21;
/** Refresh responses past this are not read (src/core/policy.rs MAX_BODY_BYTES). */
const MAX_BODY_BYTES = 64 * 1024;

// The global object, named once (the minifier shortens a name, not `globalThis`).
const root = globalThis;

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
  e instanceof AuthkeeperError || (typeof e?.code === 'string' && /^(AuthkeeperError|RefreshUnavailable)$/.test(e.name));

// The wording of the core's errors, which answer `[number, ...arguments]`: each number's code
// and text, in the order of `CoreError` (src/core/errors.rs; tests/error_codes.rs holds the
// codes to it). The core decides which; this only fills in the blanks.
const JWT_ERRORS = VERBOSE && ['the token is empty', 'a JWT has 3 dot-separated segments', 'the token payload is not base64url', 'the token payload is not JSON',
  'the token payload is not a JSON object', 'a time claim (exp, iat, nbf) is not a number', 'the token is longer than 16 KiB'];
// `options::Ranged`, in its order.
// The choices of the enumerated options, in the order of the core's enums (sent by index).
const AREAS = ['local', 'session', 'memory'];
const SESSION_CLEARING = ['all', 'matching', 'none'];
// What the core answers by number: `state()`'s status and breaker, a channel message's type.
const STATUSES = ['anonymous', 'active', 'refreshing', 'logged_out'];
const BREAKER_STATES = ['closed', 'open', 'half_open'];
const TAB_KINDS = ['tokens', 'logout', 'hello'];
const RANGED = ['retry.maxAttempts', 'retry.baseDelay', 'retry.maxDelay', 'retry.cooldown', 'retry.giveUpAfter', 'leeway', 'expiringWarning', 'refreshTimeout'];
const CORE_CODES = ['destroyed', 'not_ready', 'refresh_unavailable', 'logged_out', 'no_session', 'no_refresh_token', 'malformed_token',
  'invalid_option', 'invalid_option'];
const CORE_TEXT = VERBOSE && [
  () => 'the auth client was destroyed',
  () => 'not started',
  () => 'the token refresh service is unavailable; retry after auth.state().breakerOpenUntil',
  (reason) => `the session has ended: ${REASONS[reason]}`,
  () => 'there is no session',
  () => 'the session has no refresh token to refresh with',
  (jwt) => `setTokens: the access token is not usable: ${JWT_ERRORS[jwt]}`,
  (option, min, max, ms, why) => `createAuthClient: option \`${RANGED[option]}\` must be a whole number from ${min} to ${max}` +
    ['', ' (milliseconds)'][ms] + ['', ', not NaN or Infinity', ', not a fraction'][why],
  () => 'createAuthClient: option `retry.maxDelay` must be at least `retry.baseDelay`',
];
// Terse: the code, and for an option out of range the option's name (8: retry.maxDelay, RANGED[2]).
// refresh_unavailable (2) has its own class.
const coreError = ([n, ...args], message = VERBOSE ? CORE_TEXT[n](...args) : n > 6 ? `invalid_option: ${RANGED[args[0] ?? 2]}` : CORE_CODES[n]) =>
  n === 2 ? new RefreshUnavailable(message) : new AuthkeeperError(CORE_CODES[n], message);

// What `auth:logout` says when the core passes no message of the server's: by reason.
const LOGOUT_TEXT = {
  user_not_found: 'Your account could not be found. Please sign in again.',
  user_inactive: 'Your account is inactive. Please contact support.',
  invalid_token: 'Your session is no longer valid. Please sign in again.',
  refresh_token_required: 'Your session could not be renewed. Please sign in again.',
  session_expired: 'Your session has expired. Please sign in again.',
  refresh_unavailable: 'The sign-in service is unavailable, so your session could not be renewed. Please sign in again.',
  manual: 'You have signed out.',
  remote: 'You were signed out in another tab.',
};
// The logout reasons, which cross the boundary by number: in the order of `LogoutReason::ALL`
// (src/core/policy.rs), as LOGOUT_TEXT lists them.
const REASONS = Object.keys(LOGOUT_TEXT);
// The option to check for each OAuth error that shows authkeeper is configured wrongly.
const CONFIG_HINTS = VERBOSE && {
  invalid_client: 'the server does not know or accept this client: check clientId against the client registered on the server (public, without a secret)',
  unauthorized_client: 'this client may not use the refresh_token grant: allow it for the client on the server',
  invalid_request: 'the server cannot read the refresh request: check refreshFormat (\'simplejwt\' posts JSON {refresh}, \'oauth\' a form-encoded grant) and refreshMode',
  unsupported_grant_type: 'the server does not offer the refresh_token grant here: check refreshUrl (the token endpoint) and that refresh tokens are enabled',
  invalid_scope: 'check the scope option: it may not exceed the scope the session was granted',
};
// The core's console diagnostics (`Warning`, in its order), from the data it sends; terse: the
// code and that data.
const WARNING_CODES = ['clock_offset_ignored', 'refresh_misconfigured', 'refresh_attempt_failed'];
const WARNINGS = VERBOSE && [
  (iat, hours, ahead) => `ignored the clock offset measured from ${['the refresh response\'s Date header', 'the token\'s iat'][iat]}: ` +
    `the server's clock would be ${hours} h ${['behind', 'ahead'][ahead]} (more than 24 h${['', ': is iat in milliseconds instead of seconds?'][iat]}); the previous estimate stands`,
  (code, description) => `the refresh endpoint answered ${code}${description === null ? '' : ` ("${description}")`}, so the session was ended: ${CONFIG_HINTS[code]}`,
  (message) => `${message}; the refresh counts as a failed attempt (retried with backoff, bounded by the circuit breaker), which does not end the session by itself`,
];

const isObject = (v) => v !== null && typeof v === 'object';
/** An object but not an array: what JSON calls an object. */
const isRecord = (v) => isObject(v) && !Array.isArray(v);

// A JWT's payload, read with the browser's atob + JSON.parse: the claims, or which step failed
// (1 segments, 2 base64url, 3 JSON, 4 not an object, 5 a time claim that is not a number).
// `plain`: objects without a prototype, so a "__proto__" claim is an ordinary own property.
const plainObjects = (k, v) => (isRecord(v) ? Object.assign(Object.create(null), v) : v);
function readClaims(token, plain) {
  const parts = token.split('.');
  if (parts.length !== 3) return 1;
  let text;
  try {
    text = strictDec.decode(Uint8Array.from(atob(parts[1].replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)));
  } catch { return 2; }
  let claims;
  try { claims = JSON.parse(text, plain && plainObjects); } catch { return 3; }
  if (!isRecord(claims)) return 4;
  for (const k of TIME_CLAIMS) if (claims[k] != null && typeof claims[k] !== 'number') return 5;
  return claims;
}
const TIME_CLAIMS = ['exp', 'iat', 'nbf'];

/** Decodes a JWT's claims without verifying it (display only). Throws AuthkeeperError. */
export function decodeJwt(token) {
  const t = String(token).trim();
  // (An empty token fails as one without 3 segments; only the developer wording tells them apart.)
  const claims = VERBOSE && t === '' ? 0 : t.length > 16384 ? 6 : readClaims(t, true);
  if (typeof claims !== 'object') throw new AuthkeeperError('malformed_token', `decodeJwt: ${VERBOSE ? JWT_ERRORS[claims] : 'malformed_token'}`);
  return shapeClaims(claims);
}

// As the claims always came out: time claims in whole seconds (null: absent), and the identity
// claims `sub` and `user_id` as text (SimpleJWT's numeric user_id included).
function shapeClaims(claims) {
  for (const k of TIME_CLAIMS) if (claims[k] === null) delete claims[k]; else if (k in claims) claims[k] = Math.trunc(claims[k]);
  for (const k of ['sub', 'user_id']) {
    if (Number.isSafeInteger(claims[k])) claims[k] = String(claims[k]);
  }
  return claims;
}

const badArgument = (method, what, name, expected, got) =>
  new AuthkeeperError('invalid_option', `${method}: ${what} \`${name}\`` + (VERBOSE ? ` must be ${expected} (got ${JSON.stringify(got) ?? typeof got})` : ''));
const bad = (name, expected, got) => badArgument('createAuthClient', 'option', name, expected, got);
const isStrings = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string');

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

// Every option there is (CHECKS' names), with its nested ones: anything else is a typo that
// would otherwise be ignored in silence (`refreshTimout`), so it is refused with the closest
// valid name. `group`: '' or a group's name and a dot.
function refuseUnknown(group, object) {
  if (!isObject(object)) return;
  for (const key of Object.keys(object)) {
    const name = group + key;
    // A dotted name is a nested option's path, not an option at this level.
    if (!key.includes('.') && name in CHECKS) continue;
    let hint = '';
    if (VERBOSE) {
      const known = Object.keys(CHECKS).filter((n) => n.startsWith(group) && !n.includes('.', group.length));
      const closest = known.reduce((best, k) => (distance(name, k) < distance(name, best) ? k : best));
      if (distance(name, closest) <= Math.max(2, (closest.length - group.length) / 3)) hint = `; did you mean \`${closest}\`?`;
    }
    throw new AuthkeeperError('invalid_option', `createAuthClient: unknown option \`${name}\`${hint}`);
  }
}

const toStringTag = Object.prototype.toString;

// Bytes from any realm: `instanceof ArrayBuffer` fails for a buffer made in another one (Node's
// Response.arrayBuffer() inside Jest's jsdom realm, an iframe's), the tag and isView do not.
const isBytes = (v) => toStringTag.call(v) === '[object ArrayBuffer]' || ArrayBuffer.isView(v);

/** What the loader takes as `wasmUrl` (see `load`). */
const isWasmSource = (v) => isText(v) || v instanceof URL ||
  (typeof Request === 'function' && v instanceof Request) || (typeof Response === 'function' && v instanceof Response) ||
  (isObject(v) && typeof v.then === 'function') ||
  isBytes(v) || v instanceof WebAssembly.Module;

// Every option and the type check of each, in the order they run: each option's path and kind,
// an index into TYPES (and EXPECTED, the developer wording) or the values it may take. An option
// left out (undefined) is not checked, except refreshUrl (14), which is required; a group (`keys`,
// `retry`...) must be an object before its members are read. The URLs (kinds 12-14) are then
// resolved, loginUrl and revokeUrl last (after every other check, as they always were).
const isText = (v) => typeof v === 'string' && v !== '';
const isNumber = (v) => typeof v === 'number';
const isNullOrText = (v) => v === null || isText(v);
const TYPES = [isObject, isText, isStrings, isStrings, isStrings, isNullOrText,
  (v) => v === null || isNumber(v), isNumber, isNumber, (v) => typeof v === 'boolean', (v) => typeof v === 'function', isWasmSource, () => 1, isNullOrText, isText];
const EXPECTED = VERBOSE && ['an object', 'a non-empty string', 'an array of strings', 'an array of origin strings', 'an array of path strings',
  'null or a non-empty string', 'null or a number of milliseconds', 'a number of milliseconds', 'a number', 'a boolean', 'a function',
  'a URL (string or URL), a Request, a Response (or a promise of one), the bytes (ArrayBuffer or typed array) or a WebAssembly.Module', '', 'null or a URL string', 'a URL string'];
const CHECKS = {
  __proto__: null, refreshUrl: 14, storage: AREAS, refreshMode: ['body', 'cookie'], refreshFormat: ['simplejwt', 'oauth'],
  keys: 0, legacyKeys: 0, 'keys.access': 1, 'legacyKeys.access': 2, 'keys.refresh': 1, 'legacyKeys.refresh': 2,
  apiOrigins: 3, skipRefreshFor: 4, clear: 0, 'clear.patterns': 2, 'clear.sessionStorage': SESSION_CLEARING,
  clientId: 5, scope: 5, leeway: 6, expiringWarning: 7, refreshTimeout: 7,
  retry: 0, 'retry.maxAttempts': 8, 'retry.baseDelay': 8, 'retry.maxDelay': 8, 'retry.cooldown': 8, 'retry.giveUpAfter': 8,
  refreshWhenHidden: 9, tabLock: 9, fetch: 10, onTrace: 10, refreshRequest: 10, parseRefreshResponse: 10, wasmUrl: 11, loginUrl: 12, revokeUrl: 13,
};

/**
 * Checks the JS types only the JS side can see, and resolves URLs as fetch will. An option left
 * out (undefined) is passed on as such: its default, like every number's allowed range, lives in
 * the core (src/core/options.rs), which rejects an out-of-range value by name. Returns the
 * options, URLs resolved and hooks wrapped, and the arguments of the core's NEW op.
 */
function normalise(options) {
  if (!isObject(options)) throw bad('options', VERBOSE && 'an object', options);
  for (const group of ['', 'keys', 'legacyKeys', 'retry', 'clear']) refuseUnknown(group && `${group}.`, group ? options[group] : options);
  const o = { ...options };
  const base = root.location?.href;
  // The URLs as fetch resolves them.
  const urls = {};
  let apiOrigins;
  const at = (name) => name.split('.').reduce((v, k) => v?.[k], o);
  for (const [name, kind] of Object.entries(CHECKS)) {
    const value = at(name);
    const list = Array.isArray(kind);
    if ((value !== undefined || kind === 14) && !(list ? kind.includes(value) : TYPES[kind](value))) {
      throw bad(name, VERBOSE && (list ? kind.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1') : EXPECTED[kind]), value);
    }
    if (kind === 3) {
      apiOrigins = (value ?? []).map((origin) => {
        try { return new URL(origin).origin; } catch { throw bad('apiOrigins', VERBOSE && 'absolute URLs such as "https://api.example.com"', origin); }
      });
    }
    if (kind > 11 && value != null) {
      try { urls[name] = new URL(value, base); } catch {
        throw bad(name, VERBOSE && `${name === 'refreshUrl' ? '' : 'null or '}a ${name === 'loginUrl' ? '' : 'valid '}URL`, value);
      }
    }
  }
  const { refreshUrl: refresh, loginUrl: login, revokeUrl: revoke } = urls;
  o.pageOrigin = root.location?.origin ?? refresh.origin;
  o.refreshUrl = refresh.href;
  o.revokeUrl = revoke?.href ?? null;
  o.revokePath = revoke?.pathname ?? null;
  o.refreshRequest &&= requestHook(o.refreshRequest);
  o.parseRefreshResponse &&= parseHook(o.parseRefreshResponse);
  // The ranged numbers first, in RANGED's order (src/web/client.rs read_config checks them
  // before it reads a string), the enumerated options as their index (-1: not given).
  return [o, [
    ...RANGED.map(at), o.refreshWhenHidden, o.tabLock,
    o.refreshMode === 'cookie', AREAS.indexOf(o.storage), o.revokeUrl !== null, SESSION_CLEARING.indexOf(at('clear.sessionStorage')),
    o.pageOrigin, refresh.origin, refresh.pathname, apiOrigins, o.skipRefreshFor, login?.href ?? null, login?.pathname ?? null,
    ...['keys.access', 'keys.refresh', 'legacyKeys.access', 'legacyKeys.refresh', 'clear.patterns'].map(at),
  ]];
}

// The escape hatch's hooks, wrapped so that what they return is checked before the core sees
// it. A hook that throws or returns the wrong shape throws an Error whose message names the
// mistake (scrubbed of the tokens); the core counts that refresh as a failed attempt.
const describe = (v) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);
const scrub = (text, secrets) => secrets.reduce((t, s) => (typeof s === 'string' && s.length >= 8 ? t.split(s).join('<redacted>') : t), String(text)).slice(0, 300);
const isBody = (b) => typeof b === 'string' || b instanceof URLSearchParams || b instanceof FormData || b instanceof Blob || isBytes(b);

/** Calls a hook; what it throws or returns that is not an object, named in an Error. */
function callHook(name, hook, arg, secrets, shape) {
  let out;
  try { out = hook(arg); } catch (e) { throw new Error(`${name} threw: ${scrub(e?.message ?? e, secrets)}`); }
  if (!isObject(out) || typeof out.then === 'function') {
    throw new Error(VERBOSE ? `${name} must return ${shape} synchronously (got ${typeof out?.then === 'function' ? 'a Promise' : describe(out)})` : `${name}: bad result`);
  }
  return out;
}

function requestHook(hook) {
  // The body; the hook's headers are set on `headers`.
  return (refreshToken, headers) => {
    const out = callHook('refreshRequest', hook, refreshToken, [refreshToken], VERBOSE && '{ body, headers }');
    if (out.body != null && !isBody(out.body)) {
      throw new Error(VERBOSE ? `refreshRequest's body must be a string, URLSearchParams, FormData, Blob or buffer (got ${describe(out.body)})` : 'refreshRequest: bad body');
    }
    try { for (const [name, value] of new Headers(out.headers ?? {})) headers.set(name, value); } catch (e) { throw new Error(`refreshRequest${VERBOSE ? "'s headers are not valid headers" : ': bad headers'}: ${scrub(e?.message, [refreshToken])}`); }
    return out.body ?? undefined;
  };
}

function parseHook(hook) {
  return (text) => {
    let json;
    try { json = JSON.parse(text); } catch { throw new Error(`parseRefreshResponse: ${VERBOSE ? 'the 2xx refresh response is ' : ''}not JSON`); }
    const secrets = isObject(json) ? Object.values(json) : [];
    const { access, refresh, expiresIn } = callHook('parseRefreshResponse', hook, json, secrets, VERBOSE && '{ access, refresh?, expiresIn? }');
    const wrong = (field, verbose) => new Error(VERBOSE ? verbose : `parseRefreshResponse: bad ${field}`);
    if (typeof access !== 'string' || access.trim() === '') throw wrong('access', VERBOSE && `parseRefreshResponse returned no access token (access: ${describe(access)})`);
    if (refresh != null && !isText(refresh)) throw wrong('refresh', VERBOSE && `parseRefreshResponse's refresh must be a non-empty string or absent (got ${describe(refresh)})`);
    if (expiresIn != null && !(Number.isFinite(expiresIn) && expiresIn >= 0)) {
      throw wrong('expiresIn', VERBOSE && `parseRefreshResponse's expiresIn must be a number of seconds or absent (got ${JSON.stringify(expiresIn) ?? describe(expiresIn)})`);
    }
    // As the core's RESPONSE op takes it: the tokens as their handles.
    return [1, tokenId(access), tokenId(refresh), expiresIn ?? null];
  };
}

/**
 * An absolute path that the URL parser keeps byte for byte: RFC 3986 path characters only (no
 * escapes, "\", controls, spaces or anything it percent-encodes), and no "/" followed by "." (a
 * dot segment) or by "/" (at the start: another host), then the end, "?" or "#". The match is
 * the path.
 */
const PLAIN_PATH = /^(?:\/(?![./])[\w\-.~!$&'()*+,;=:@]*)+(?=[?#]|$)/;

// The base URL fetch resolves relative URLs against (document.baseURI: a <base> element counts,
// and one can be inserted at any time), and the origin an absolute path lands on there. A
// worker has no <base>: its location, read once.
const doc = root.document;
const workerBase = doc ? undefined : root.location?.href;
let knownBase, knownBaseOrigin;

/**
 * `[origin, path]` of a request URL exactly as fetch will resolve it: against the document's base
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
  const plain = knownBaseOrigin === pageOrigin && PLAIN_PATH.exec(url);
  if (plain) return [pageOrigin, plain[0]];
  try {
    const { origin, pathname } = new URL(url, base);
    return [origin, pathname];
  } catch {
    return null;
  }
}

/**
 * `[origin, path]` of a URL the parser already wrote (a Request's `url`): on the page's origin
 * the path is read directly, as it is already in the form fetch sends.
 */
function locateSerialized(url, pageOrigin) {
  return url.startsWith(pageOrigin) && url.charCodeAt(pageOrigin.length) === 47 /* / */
    ? [pageOrigin, url.slice(pageOrigin.length).split(/[?#]/, 1)[0]]
    : locate(url, pageOrigin);
}

// ---- The wasm module: loaded once per page, compiled as it streams in where it can. -------
// Jest's jsdom environment runs code in jsdom's realm, which has no TextEncoder, TextDecoder or
// DecompressionStream; Node has them all, and hands them over without an import (which would
// trouble bundlers) through process.getBuiltinModule. Browsers never reach that branch.
const nodeModule = (name) => root.process?.getBuiltinModule?.(name);
const Text = root.TextEncoder ? root : nodeModule('util') ?? {};
const enc = Text.TextEncoder && new Text.TextEncoder();
const dec = Text.TextDecoder && new Text.TextDecoder();
const strictDec = Text.TextDecoder && new Text.TextDecoder('utf-8', { fatal: true });
let wasm;
let wasmReady;

async function load(source) {
  const imports = {
    env: {
      now: Date.now,
      random: Math.random,
      // location.pathname, for the core's "not when already on the login page" rule.
      here: (ptr, cap) => enc.encodeInto(root.location?.pathname ?? '', new Uint8Array(wasm.memory.buffer, ptr, cap)).written,
      claims: tokenClaims,
    },
  };
  wasm = (await WebAssembly.instantiate(await compile(source), imports)).exports;
}

/** Whatever `load` takes (a Module, bytes, a Response or a promise of one, a URL or Request to
 * fetch), compiled: streaming where the response says `application/wasm`, as a served module does
 * and the embedded one, inflating, does (wasmSource). */
async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (isBytes(source)) return WebAssembly.compile(source);
  const isResponse = typeof Response === 'function' && source instanceof Response;
  const response = await (isResponse || typeof source?.then === 'function' ? source : fetch(source));
  if (!response.ok) throw new Error(`the server answered ${response.status} ${response.statusText} for ${response.url}`);
  if (response.headers.get('Content-Type')?.startsWith('application/wasm') && WebAssembly.compileStreaming) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

// The wire format (src/web/wire.rs): 0 null; 1 f64; 2 u32 length + UTF-8; 3 u32 count + values.
// Views over the whole wasm memory, made again only when it grew (a new buffer): creating
// typed arrays per call was a measurable part of the fast path. `at` is an absolute position.
let memory, view, bytes, at;
const over = (ptr) => {
  const buffer = wasm.memory.buffer;
  if (buffer !== memory) {
    memory = buffer;
    view = new DataView(buffer);
    bytes = new Uint8Array(buffer);
  }
  at = ptr;
};
function bound(v) {
  if (typeof v === 'string') return 5 + 3 * v.length;
  if (Array.isArray(v)) return v.reduce((n, x) => n + bound(x), 5);
  return 9;
}
/** A tag and, for a string or list, its u32 length. */
const head = (tag, n) => {
  view.setUint8(at, tag);
  view.setUint32(at + 1, n, true);
  at += 5;
};
function put(v) {
  if (typeof v === 'boolean') v = +v;
  if (typeof v === 'number') {
    view.setUint8(at, 1);
    view.setFloat64(at + 1, v, true);
    at += 9;
  } else if (typeof v === 'string') {
    // Short ASCII text (origins, paths, ids) copied by hand: encodeInto's fixed cost per call
    // outweighs a few dozen bytes. Anything else goes through the encoder.
    const n = v.length;
    let i = 0;
    if (n <= 64) for (let c; i < n && (c = v.charCodeAt(i)) < 128; i++) bytes[at + 5 + i] = c;
    const written = i === n ? n : enc.encodeInto(v, bytes.subarray(at + 5, at + 5 + 3 * n)).written;
    head(2, written);
    at += written;
  } else if (Array.isArray(v)) {
    head(3, v.length);
    for (const x of v) put(x);
  } else {
    view.setUint8(at++, 0);
  }
}
function take() {
  const tag = bytes[at++];
  if (tag === 1) return view.getFloat64((at += 8) - 8, true);
  if (tag === 0) return null;
  const n = view.getUint32(at, true);
  at += 4;
  if (tag === 2) return dec.decode(bytes.subarray(at, (at += n)));
  if (tag === 4) return tokens.get(n);
  const list = [];
  for (let i = 0; i < n; i++) list.push(take());
  return list;
}
/** One call into the core: `[result, actions, timer]`. */
function call(op, args) {
  over(wasm.ak_in(bound(args)));
  for (const a of args) put(a);
  over(wasm.ak_call(op));
  const values = [take(), take(), take()];
  // Read whole (every token handle already its text) before the table may forget a token.
  if (tokens.size > tokenLimit && op !== HELD) forgetTokens();
  return values;
}

// ---- Tokens: their text stays here; the core holds a number per token (its handle), so that
// no token byte ever enters wasm memory. One table maps both ways (text → handle, handle →
// text). The same text has the same handle while it is in the table (equal handles are equal
// tokens to the core); the low bit says the text is blank (empty or ASCII whitespace, Rust's
// `trim_ascii`), and the empty string is always 1 (src/web/mod.rs). Every handle the core answers
// is read as its text at once (`take`, tag 4), and JS keeps texts, never handles: so once the
// table grows, the texts of the tokens no core holds any more can go (`HELD` names the others).
// One that comes back gets a new handle, which no core can mistake for one it held.
const tokens = new Map([['', 1], [1, '']]);
let tokenCount = 0;
let tokenLimit = 16;
/** A token's handle for the core: null for anything but a string. */
function tokenId(text) {
  if (typeof text !== 'string') return null;
  let id = tokens.get(text);
  if (id === undefined) tokens.set(text, (id = ++tokenCount * 2 + /^[ \t\n\f\r]*$/.test(text))).set(id, text);
  return id;
}
function forgetTokens() {
  const held = new Set(call(HELD, [])[0].flat());
  for (const [id, text] of tokens) if (typeof id === 'number' && id > 1 && !held.has(id)) { tokens.delete(id); tokens.delete(text); }
  tokenLimit = tokens.size + 16;
}
/** The `claims` import: a token's exp, iat, nbf (NaN: absent) written at `out` for the core, or
 * which step of reading it failed (JWT_ERRORS' number + 1; 7: longer than 16 KiB as UTF-8, once
 * trimmed). Whitespace around a token changes none of its three segments' count or its payload. */
function tokenClaims(id, out) {
  const token = tokens.get(id) ?? '';
  const claims = id & 1 ? 0 : token.length > 5461 && enc.encode(token.replace(/^[ \t\n\f\r]+|[ \t\n\f\r]+$/g, '')).length > 16384 ? 6 : readClaims(token);
  if (typeof claims !== 'object') return claims + 1;
  new Float64Array(wasm.memory.buffer, out, 3).set(TIME_CLAIMS.map((k) => claims[k] ?? NaN));
  return 0;
}

/** A response's body as text, or null past MAX_BODY_BYTES or when it is not UTF-8. */
async function readBounded(response) {
  if (Number(response.headers.get('Content-Length')) > MAX_BODY_BYTES) return null;
  const reader = response.body?.getReader();
  let text = '';
  if (reader) {
    // Read into one buffer of the bound: no list of chunks to join.
    const all = new Uint8Array(MAX_BODY_BYTES);
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.length > MAX_BODY_BYTES) { reader.cancel().catch(() => {}); return null; }
      all.set(value, size);
      size += value.length;
    }
    try { text = strictDec.decode(all.subarray(0, size)); } catch { return null; }
  // A fetch polyfill's Response (whatwg-fetch, in a jsdom test) has no body stream, only text().
  } else if (response.body !== null && typeof response.text === 'function') text = await response.text();
  return text.length > MAX_BODY_BYTES ? null : text;
}

/** The members of a refresh response the core reads (src/core/policy.rs BODY_KEYS). */
const BODY_KEYS = ['access', 'access_token', 'refresh', 'refresh_token', 'expires_in', 'error', 'code', 'action', 'error_description', 'detail', 'message'];

// ---- Storage: localStorage, sessionStorage or memory. Web Storage throws in private modes, ----
// sandboxed iframes, when disabled or over quota; every such failure degrades the store to
// memory (one console warning) instead of breaking the app. Keys and defaults come from the core.
function rawStorage(area) {
  try { return area === 'memory' ? null : root[`${area}Storage`] ?? null; } catch { return null; }
}
/** A console diagnostic (`error`: console.error, else console.warn). */
const warn = (text, error) => (error ? console.error : console.warn)(`authkeeper: ${text}`);

/** `keys`: the core's token keys (access, refresh, generation, expiry, then the legacy keys,
 * `accessCount` of them the access token's). */
function openStore(area, keys, accessCount, keepRefresh) {
  const [accessKey, refreshKey, genKey, expKey, ...legacy] = keys;
  const tokenKeys = [accessKey, refreshKey, ...legacy];
  // `web`: the Web Storage area, or null once in memory (then `memory` holds the tokens).
  let web = rawStorage(area);
  const memory = new Map();
  // What can still be read from an area that refuses writes (a full quota), after one warning
  // (`what`) unless the store was asked for memory.
  const toMemory = (what) => {
    if (what) warn(VERBOSE ? `${what} is unavailable; tokens are kept in memory for this page only` : `storage_unavailable ${what}: tokens in memory`);
    for (const k of tokenKeys) { try { const v = web.getItem(k); if (v != null) memory.set(k, v); } catch {} }
    web = null;
  };
  // Throws for a missing area (null) as for a failing one; an area that refused the probe may
  // still be readable.
  try { web.setItem('__authkeeper_probe__', '1'); web.removeItem('__authkeeper_probe__'); } catch { toMemory(area !== 'memory' && `${area}Storage`); }
  // Every access: a Web Storage failure moves the store to memory (set then writes there).
  const use = (f, inMemory) => {
    if (web) {
      try { return f(web); } catch { toMemory('Web Storage'); }
    }
    return inMemory();
  };
  const get = (k) => use((s) => s.getItem(k), () => memory.get(k) ?? null);
  const set = (k, v) => use((s) => s.setItem(k, v), () => memory.set(k, v));
  const remove = (k) => use((s) => s.removeItem(k), () => memory.delete(k));
  const migrate = (key, legacy) => {
    for (const old of legacy) {
      if (old === key) continue;
      const v = get(old);
      if (v !== null) {
        if (get(key) === null && v !== '') set(key, v);
        remove(old);
      }
    }
  };
  const store = {
    get memory() { return web === null; },
    generation: () => Number(get(genKey)) || 0,
    /** [access, refresh, generation, expiresAt] as the core's `Stored` (the tokens as their
     * handles), legacy keys migrated first. */
    load() {
      migrate(accessKey, legacy.slice(0, accessCount));
      if (keepRefresh) migrate(refreshKey, legacy.slice(accessCount));
      const exp = get(expKey);
      return [tokenId(get(accessKey)), keepRefresh ? tokenId(get(refreshKey)) : null, store.generation(), exp === null ? null : Number(exp)];
    },
    /** The access token last: the `storage` event fallback watches its key. */
    save(access, refresh, generation, expiresAt) {
      set(genKey, String(generation));
      if (expiresAt === null) remove(expKey); else set(expKey, String(expiresAt));
      if (keepRefresh && refresh !== null) set(refreshKey, refresh);
      set(accessKey, access);
    },
    /** Every key of an area, for the core to pick what a logout removes (none from an area
     * that is missing: reading it throws, like any failing Web Storage). */
    keys(which) {
      const s = rawStorage(which);
      const keys = [];
      try { for (let i = 0; i < s.length; i++) keys.push(s.key(i)); } catch {}
      return keys;
    },
    /** Removes what the core named: this store's keys, from localStorage, from sessionStorage. */
    clear([own, sessionAll, local, session]) {
      if (own) for (const k of keys) remove(k);
      // A missing area (null) throws as a failing one does: nothing to remove either way.
      const removeFrom = (area, keys, all) => { try { const s = rawStorage(area); if (all) s.clear(); else for (const k of keys) s.removeItem(k); } catch {} };
      removeFrom('local', local);
      removeFrom('session', session, sessionAll);
    },
  };
  return store;
}

const abortReason = (signal) => signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');

// A page, or a worker (no document, but a location fetch resolves against). Anything else, a
// server rendering a page or a Node script, has no user session to keep.
const inBrowser = () =>
  typeof window !== 'undefined' || typeof document !== 'undefined' || typeof root.WorkerGlobalScope === 'function';

// The release build (scripts/bundle.mjs) defines AUTHKEEPER_WASM: the module, gzipped, as base64.
// Inside the JS it needs no bundler support, no copied file and no second request, and costs
// about nothing on the wire: gzip over the bundle takes the base64 back to the compressed size.
// The unbuilt source (tests, the demo) has no such constant and fetches ../pkg/ instead.
const embedded = typeof AUTHKEEPER_WASM === 'string';

/** What `load` gets: `wasmUrl` when given, else the embedded module, inflating (a Response). */
async function wasmSource(wasmUrl) {
  if (!enc) throw new Error(VERBOSE ? 'this runtime has no TextEncoder and TextDecoder' : 'no TextEncoder');
  if (wasmUrl !== undefined) return wasmUrl;
  // Spelled out (not `embedded`) so that the build folds it and drops the URL from the bundle.
  if (typeof AUTHKEEPER_WASM !== 'string') return new URL('../pkg/authkeeper_bg.wasm', import.meta.url);
  // Uint8Array.fromBase64 (Chromium 140, Firefox 133, Safari 18.2) decodes natively; the
  // fallback, a map over atob's string, took ~10 ms of the start-up (CPU profile, cold code).
  const base64 = AUTHKEEPER_WASM; // named once: scripts/bundle.mjs wants one use of it
  const packed = Uint8Array.fromBase64?.(base64) ?? Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  if (typeof DecompressionStream !== 'function') {
    const zlib = nodeModule('zlib');
    if (zlib) return zlib.gunzipSync(packed);
    throw new Error(VERBOSE ? 'this runtime has no DecompressionStream to unpack the embedded module' : 'no DecompressionStream');
  }
  // As a wasm Response, so that `compile` compiles it while it inflates: waiting for the whole
  // inflate first took twice as long. A corrupt module errors the inflated stream, which is
  // what compiling it reports.
  return new Response(new Response(packed).body.pipeThrough(new DecompressionStream('gzip')), { headers: { 'Content-Type': 'application/wasm' } });
}

// Unpacking and compiling the embedded module needs nothing from the options, so in a browser it
// starts on import: it overlaps whatever the page does before createAuthClient, which then only
// instantiates. Used once; a failure is kept for createAuthClient to report (and then unpack again).
// (`embedded` spelled out, so that the build folds it.)
let precompiled = typeof AUTHKEEPER_WASM === 'string' && inBrowser() ? wasmSource(undefined).then(compile) : undefined;
precompiled?.catch(() => {});

const describeWasmUrl = (v) => {
  // Terse: where from, without the kind of object.
  if (!VERBOSE) return v === undefined ? 'the embedded module' : typeof v === 'string' || v instanceof URL ? `wasmUrl ${JSON.stringify(String(v))}` : 'wasmUrl';
  if (v === undefined) return embedded ? 'the module embedded in the package' : 'the default location (../pkg/authkeeper_bg.wasm next to js/index.js)';
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
  // WebAssembly.instantiate() blocked by CSP" in Firefox). Said in the production build too:
  // a strict CSP is often met in production first.
  const csp = cause?.name === 'CompileError' && /unsafe-eval|blocked by CSP/i.test(why);
  const error = new AuthkeeperError('wasm_load_failed', VERBOSE
    ? `createAuthClient: the wasm module failed to load from ${describeWasmUrl(wasmUrl)}: ${why}.${wasmFix(wasmUrl, csp)}`
    : `createAuthClient: wasm_load_failed from ${describeWasmUrl(wasmUrl)}: ${why}${csp ? "; the page's CSP needs script-src 'self' 'wasm-unsafe-eval'" : ''}`);
  error.cause = cause;
  return error;
}

/** What to do about a failed load (developer wording only). */
function wasmFix(wasmUrl, csp) {
  if (csp) {
    return " This is the page's Content-Security-Policy: allow compiling WebAssembly with `script-src 'self' 'wasm-unsafe-eval'` (no 'unsafe-eval' needed).";
  }
  return wasmUrl === undefined
    ? ' Pass the module yourself as `wasmUrl` (authkeeper/authkeeper_bg.wasm, served or as bytes).'
    : ' Check that `wasmUrl` points at authkeeper_bg.wasm from this version of the package, served with Content-Type application/wasm.';
}

/**
 * Creates the client: validates options, loads the wasm module once per page, validates the
 * stored tokens and starts the lifecycle timers.
 */
export async function createAuthClient(options) {
  if (!inBrowser()) {
    throw new AuthkeeperError('not_in_browser', VERBOSE ? 'createAuthClient: not in a browser (no window or document): authkeeper keeps one user\'s session in a page. ' +
      'When rendering on a server (SSR), create the client in code that runs only in the browser (a useEffect, onMount); ' +
      'in unit tests, use a DOM environment (Vitest `environment: \'jsdom\'`, Jest `testEnvironment: \'jsdom\'`).' : 'createAuthClient: not_in_browser');
  }
  const [config, settings] = normalise(options);
  if (!wasm) {
    // One load per page; a failed one is forgotten (before any caller hears of it), so that a
    // later call (with a corrected wasmUrl, or after a network failure) tries again.
    const attempt = wasmReady ??= (config.wasmUrl === undefined && precompiled || wasmSource(config.wasmUrl))
      .then(load)
      .catch((cause) => { wasmReady = undefined; throw wasmLoadFailed(config.wasmUrl, cause); });
    precompiled = undefined;
    await attempt;
  }
  const realFetch = config.fetch ?? root.fetch.bind(root);
  // Without onTrace the fast path allocates no trace entries at all.
  const onTrace = config.onTrace;
  const trace = onTrace && ((id, url, phase, status, error) => onTrace({ id, url, phase, ...status != null && { status }, ...error && { error } }));
  const cookie = config.refreshMode === 'cookie';
  const [created] = call(NEW, settings);
  // Its errors are all numbers; its answer starts with the store keys (a list).
  if (typeof created[0] === 'number') throw coreError(created);
  const [keys, handle, timeoutMs, legacyAccess] = created;
  const [accessKey, refreshKey] = keys;
  const store = openStore(config.storage ?? 'local', keys, legacyAccess, !cookie);
  /** `state()`: the core's snapshot; the access token's claims read here, as decodeJwt does. */
  const snapshot = () => {
    const [status, expiresAt, breaker, breakerOpenUntil, inFlight, waiting, refreshCount, clockOffset, reason, access] = op(STATE);
    const claims = readClaims(access ?? '', true);
    return { status: STATUSES[status], expiresAt, breaker: BREAKER_STATES[breaker], breakerOpenUntil, refreshInFlight: inFlight === 1, waiting, refreshCount, clockOffset,
      storage: store.memory ? 'memory' : 'web', reason: REASONS[reason] ?? null, claims: typeof claims === 'object' ? shapeClaims(claims) : null };
  };
  const pending = new Map();
  // auth.subscribe: this client's own listeners, told of every change the core announces, and
  // the state they are given (one object per change, so that it can be compared by identity).
  const subscribers = new Set();
  let session = null;
  const sessionState = () => {
    if (session === null) {
      const { status, expiresAt, claims, reason } = snapshot();
      // A refresh in progress is still an active session: its outcome is announced.
      session = Object.freeze({ status: status === 'refreshing' ? 'active' : status, expiresAt, claims, reason });
    }
    return session;
  };
  /** A `window` event (`auth:${name}`) for every page listener, then this client's own subscribers. */
  const announce = (name, type, detail) => {
    root.dispatchEvent?.(new CustomEvent(`auth:${name}`, { detail }));
    session = null;
    const event = Object.freeze({ type, ...detail });
    const state = sessionState();
    for (const listener of [...subscribers]) {
      // One listener's exception must not keep the others from hearing about the change.
      try { listener(state, event); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
  };
  // Undefined until set: falsy, as `destroyed` and the absent lock or channel read.
  let destroyed, timer, releaseLock, channel;

  // The header value is built once per token, not per request (the token's text is one string
  // for as long as it is in the token table, so this compare is by reference on the fast path).
  let lastBearer, lastHeader;
  const headerFor = (bearer) => (bearer === lastBearer ? lastHeader : (lastHeader = `Bearer ${(lastBearer = bearer)}`));

  /** Carries out the core's answer: the timer first (a nested call may re-arm it), then the
   * result (`before` reads it, before the actions), then the actions. */
  const run = ([result, actions, delay], before) => {
    if (delay != null) {
      clearTimeout(timer);
      if (delay >= 0) timer = setTimeout(() => op(TIMEOUT), delay);
    }
    if (before) result = before(result);
    for (const [a, ...rest] of actions ?? []) perform[a](...rest);
    return result;
  };
  const op = (code, ...args) => run(call(code, [handle, ...args]));
  let nextWaiter = 0;
  /** A call whose result may be "wait for id" (a new waiter's; the promise exists before the
   * actions run), a bearer, `null` or an error. */
  const ask = (code, signal, ...args) => {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const id = ++nextWaiter;
    const result = run(call(code, [handle, id, ...args]), (r) => (r === 0 ? new Promise((resolve, reject) => {
      const onAbort = () => {
        pending.delete(id);
        op(CANCEL, id);
        reject(abortReason(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Settles the waiter: rejects with `error`, else resolves with `value`.
      pending.set(id, (error, value) => {
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error); else resolve(value);
      });
    }) : r));
    return Array.isArray(result) ? Promise.reject(coreError(result)) : result;
  };

  const perform = [
    /* 0 StartRefresh */ refreshCall,
    /* 1 AcquireLock */ acquireLock,
    /* 2 ReleaseLock */ () => { releaseLock?.(); releaseLock = null; },
    /* 3 ReadStored */ () => op(STORED, ...store.load()),
    /* 4 Broadcast */ (kind, a, b, generation, expiresAt, type = TAB_KINDS[kind], reason = REASONS[a]) => channel?.postMessage(
      kind === 0 ? { type, access: a, refresh: b, generation, expiresAt } : kind === 1 ? { type, reason, message: b ?? LOGOUT_TEXT[reason], generation } : { type }),
    /* 5 Resolve */ (id, failed, value) => {
      pending.get(id)?.(failed ? coreError(value) : null, value);
      pending.delete(id);
    },
    /* 6 Persist */ store.save,
    /* 7 Clear */ (shared) => store.clear(op(CLEAR, shared, store.memory, store.keys('local'), store.keys('session'))),
    /* 8 Redirect */ (url) => root.location?.assign(url),
    /* 9 Logout */ (r, message, origin, reason = REASONS[r]) =>
      announce('logout', 'signed_out', { reason, message: message ?? LOGOUT_TEXT[reason], ...origin !== null && { originReason: REASONS[origin] } }),
    /* 10 Expiring */ (expiresAt, expiresIn) => announce('expiring', 'expiring', { expiresAt, expiresIn }),
    /* 11 Refreshed */ (expiresAt) => announce('refreshed', 'refreshed', { expiresAt }),
    /* 12 Revoke */ revoke,
    /* 13 Warn */ (error, kind, ...args) => warn(VERBOSE ? WARNINGS[kind](...args) : [WARNING_CODES[kind], ...args].join(' '), error),
    /* 14 SignedIn */ (expiresAt) => announce('login', 'signed_in', { expiresAt }),
  ];

  // The refresh call. It never follows a redirect (a 307/308 would re-send the token in the
  // body to wherever it points), and its body is read with a size bound.
  // `[response, body]`; `[null]`: a redirect.
  const post = async (url, headers, body, extra) => {
    const controller = new AbortController();
    const t = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await realFetch(url, { method: 'POST', headers, body, ...extra, redirect: 'manual', credentials: cookie ? 'include' : 'same-origin', signal: controller.signal });
      if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) return [null];
      return [response, await readBounded(response)];
    } finally {
      clearTimeout(t);
    }
  };
  // The request body of the configured format, SimpleJWT's JSON `{refresh}` or an OAuth form,
  // with its Content-Type set on `headers`; `grant`: the form's fields, in order.
  const grantBody = (headers, token, grant, scope) => {
    const json = config.refreshFormat !== 'oauth';
    headers.set('Content-Type', json ? 'application/json' : 'application/x-www-form-urlencoded');
    if (json) return JSON.stringify({ refresh: token ?? '' });
    const form = new URLSearchParams(grant);
    if (config.clientId) form.append('client_id', config.clientId);
    if (scope) form.append('scope', scope);
    return form.toString();
  };
  async function refreshCall(token) {
    const headers = new Headers({ Accept: 'application/json' });
    let body;
    if (config.refreshRequest) {
      try { body = config.refreshRequest(token, headers); } catch (e) { return destroyed || op(HOOK_ERROR, e?.message ?? 'the hook failed'); }
    } else if (!cookie) {
      body = grantBody(headers, token, { grant_type: 'refresh_token', refresh_token: token ?? '' }, config.scope);
    }
    let response, text;
    try { [response, text] = await post(config.refreshUrl, headers, body); } catch {}
    if (destroyed) return;
    if (response === null) warn(VERBOSE ? 'the refresh endpoint answered with a redirect, which is never followed (it would carry the refresh token elsewhere); set refreshUrl to the final URL' : 'refresh_redirect_refused');
    if (!response) return op(NETWORK_ERROR);
    let parsed = null;
    if (config.parseRefreshResponse && response.ok) {
      try { parsed = config.parseRefreshResponse(text ?? ''); } catch (e) { parsed = [0, e?.message ?? 'the hook failed']; }
    }
    // The body as JSON.parse reads it, reduced to the members the core's policy looks at: the
    // first four are the tokens' (a non-empty string as its handle, or a list, or nothing).
    let json;
    try { json = JSON.parse(text); } catch {}
    const fields = isRecord(json)
      ? BODY_KEYS.map((k, i) => {
        const v = Object.hasOwn(json, k) ? json[k] : null;
        return Array.isArray(v) ? [] : i < 4 ? tokenId(v || 0) : typeof v === 'string' || typeof v === 'number' ? v : null;
      })
      : null;
    const retryAfter = response.headers.get('Retry-After');
    op(RESPONSE, response.status, retryAfter, Date.parse(retryAfter?.trim()), Date.parse(response.headers.get('Date')), fields, parsed);
  }
  // Best effort revocation after a manual logout (RFC 7009, or SimpleJWT's blacklist view):
  // its result goes to the trace hook only, never a token.
  async function revoke(token) {
    const headers = new Headers({ Accept: 'application/json' });
    let body;
    if (!cookie && token !== null) body = grantBody(headers, token, { token, token_type_hint: 'refresh_token' });
    let status = null;
    try { status = (await post(config.revokeUrl, headers, body, { keepalive: true }))[0]?.status ?? null; } catch {}
    const [failed] = call(REVOKE_RESULT, [status]);
    try { trace?.(0, config.revokePath, failed === null ? 'revoked' : 'revoke_failed', status, ['network', `http_${status}`][failed]); } catch {}
  }
  // The cross-tab lock, waited for at most the refresh timeout + 5 s: a request not granted by
  // then is withdrawn (it rejects), so no tab deadlocks on a lock nobody uses. Held until the
  // core releases it (or destroy()); granted after destroy(), released at once. Exclusive: the
  // default mode of a lock request. (Every browser with Web Locks has AbortSignal.timeout.)
  async function acquireLock() {
    const locks = root.navigator?.locks;
    if (typeof locks?.request !== 'function') return op(LOCK_UNAVAILABLE);
    try {
      await locks.request(`authkeeper:refresh:${accessKey}`, { signal: AbortSignal.timeout(timeoutMs + 5000) }, () =>
        destroyed || new Promise((release) => { releaseLock = release; op(LOCK_GRANTED, ...store.load()); }));
    } catch {
      if (destroyed) return;
      warn(VERBOSE ? 'the cross-tab refresh lock was not granted in time; refreshing in this tab alone' : 'lock_timeout');
      op(LOCK_UNAVAILABLE);
    }
  }

  // Across tabs: BroadcastChannel, or the `storage` event where it is missing.
  // Every page listener goes with one signal, which destroy() aborts.
  const detach = new AbortController();
  const listen = (target, type, f) => target?.addEventListener(type, f, { signal: detach.signal });
  if (typeof BroadcastChannel === 'function') {
    channel = new BroadcastChannel(`authkeeper:${accessKey}`);
    channel.onmessage = ({ data: d }) => {
      if (isObject(d)) op(TAB, TAB_KINDS.indexOf(d.type), tokenId(d.access), tokenId(d.refresh), REASONS.indexOf(d.reason), d.message, d.generation, d.expiresAt, ...store.load());
    };
  } else {
    listen(root.window, 'storage', (e) => {
      if (e.key === accessKey) op(TAB, 3, tokenId(e.newValue), tokenId(e.storageArea?.getItem(refreshKey)), null, null, store.generation(), null, ...store.load());
    });
  }
  // Browsers throttle or freeze timers in background tabs and during sleep: deadlines are
  // re-checked whenever the page may have been asleep.
  const visible = () => doc?.visibilityState !== 'hidden';
  const wake = () => op(VISIBILITY, visible());
  listen(doc, 'visibilitychange', wake);
  for (const type of ['focus', 'online', 'pageshow']) listen(root.window, type, wake);
  op(START, store.memory, visible(), ...store.load());

  let nextId = 0;


  /** fetch's exact signature and semantics, with the session handled. */
  async function authFetch(input, init) {
    if (destroyed) throw new AuthkeeperError('destroyed', `auth.fetch: ${VERBOSE ? 'the auth client was destroyed' : 'destroyed'}`);
    // Another realm's Request (a same-origin iframe's) fails instanceof but is a Request to
    // fetch: this realm's copy of it is what fetch would read (URL, headers, body, signal).
    const isRequest = typeof input !== 'string' && (input instanceof Request || (toStringTag.call(input) === '[object Request]' && !!(input = new Request(input))));
    // A URL object, or anything else fetch stringifies: stringified once, here, so that what is
    // checked is what is sent.
    if (!isRequest) input = `${input}`;
    // Per fetch, init.headers replaces a Request's own headers rather than merging. Without
    // any, a plain object carries the one header we add (no Headers object to build).
    const own = init?.headers ?? (isRequest ? input.headers : undefined);
    let headers = own === undefined ? null : new Headers(own);
    // The caller manages its own credentials for this request.
    if (headers?.has('Authorization')) return realFetch(input, init);
    const where = isRequest ? locateSerialized(input.url, config.pageOrigin) : locate(input, config.pageOrigin);
    // A URL that does not parse: fetch rejects it, as it would without us.
    if (where === null) return realFetch(input, init);
    const [origin, path] = where;
    const signal = init?.signal ?? (isRequest ? input.signal : undefined);
    const id = ++nextId;
    let bearer = ask(REQUEST, signal, origin, path);
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
    const streaming = typeof ReadableStream === 'function' && init?.body instanceof ReadableStream;
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
    let fresh = ask(UNAUTHORIZED, signal, origin, path, tokenId(bearer));
    if (fresh !== null && typeof fresh !== 'string') fresh = await fresh;
    if (fresh === null) {
      trace?.(id, path, 'done', 401);
      return response;
    }
    headers ??= new Headers();
    headers.set('Authorization', headerFor(fresh));
    const second = await realFetch(replay, { ...init, headers });
    trace?.(id, path, 'replayed', second.status);
    return second;
  }

  return {
    fetch: authFetch,
    /** After the app's own login call. `expiresIn` (seconds) is for opaque access tokens. */
    setTokens(tokens) {
      if (!isObject(tokens)) throw badArgument('setTokens', 'argument', 'tokens', VERBOSE && '{ access, refresh?, expiresIn? }', tokens);
      // An OAuth-shaped login response ({ access_token, refresh_token, expires_in }) as is.
      const access = tokens.access ?? tokens.access_token;
      const refresh = tokens.refresh ?? tokens.refresh_token ?? null;
      const expiresIn = tokens.expiresIn ?? tokens.expires_in ?? null;
      if (!isText(access)) throw badArgument('setTokens', 'field', 'access', VERBOSE && 'a non-empty string (or `access_token`)', access);
      if (refresh !== null && typeof refresh !== 'string') throw badArgument('setTokens', 'field', 'refresh', VERBOSE && 'a string or null', refresh);
      if (expiresIn !== null && (typeof expiresIn !== 'number' || !(expiresIn >= 0))) throw badArgument('setTokens', 'field', 'expiresIn', VERBOSE && 'null or a number of seconds', expiresIn);
      const e = op(SET_TOKENS, tokenId(access), tokenId(refresh), expiresIn);
      if (e !== null) throw coreError(e);
    },
    /** A valid access token (refreshing first if needed), or null without a session. */
    async getAccessToken({ signal } = {}) {
      return ask(REQUEST, signal, null, '');
    },
    /** Refreshes now (single-flight); resolves once a fresh token is in place, rejects typed. */
    // After destroy() the core refuses it (`destroyed`), as it does getAccessToken.
    async refresh({ signal } = {}) {
      // null: cookie mode found no session in the cookie: the core's own no_session error.
      if ((await ask(REFRESH, signal)) === null) throw coreError([4]);
    },
    logout() { if (!destroyed) op(LOGOUT); },
    state() {
      if (destroyed) throw coreError([0]);
      return snapshot();
    },
    /**
     * Calls `listener(state, event)` at once with the current state (`event.type: 'initial'`),
     * then on every change: `signed_in`, `refreshed`, `expiring`, `signed_out`. Returns the
     * unsubscribe function (the Svelte store contract; React's useSyncExternalStore takes it).
     */
    subscribe(listener) {
      if (typeof listener !== 'function') throw badArgument('subscribe', 'argument', 'listener', VERBOSE && 'a function', listener);
      subscribers.add(listener);
      listener(sessionState(), Object.freeze({ type: 'initial' }));
      return () => { subscribers.delete(listener); };
    },
    /** The state subscribers were last given: the same object until the next change. */
    getSnapshot: sessionState,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      subscribers.clear();
      call(DESTROY, [handle]);
      clearTimeout(timer);
      detach.abort();
      channel?.close();
      releaseLock?.();
      const error = coreError([0]);
      for (const settle of pending.values()) settle(error);
      pending.clear();
    },
  };
}
