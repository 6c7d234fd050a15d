// In-page routines of the bench, imported by page.evaluate from bench/page.html. Nothing here
// asserts on time: each routine returns numbers and the node side prints them.
import { createInterceptor } from './handwritten.js';

const REFRESH_PATH = '/api/auth/token/refresh/';
const API_PATH = '/api/items/1';
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
// What ships: the minified driver, the wasm embedded in it.
const authkeeper = () => import('/pkg/index.prod.js');

/**
 * The instance pkg/index.prod.js creates, caught on its way out of WebAssembly.instantiate(Streaming)
 * (the package exports nothing of it): for the boundary call of section 2b and the linear memory
 * of section 5. Call before the package loads the module.
 */
function catchInstance() {
  const caught = {};
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const original = WebAssembly[name];
    WebAssembly[name] = async (...args) => {
      const result = await original.apply(WebAssembly, args);
      caught.exports = (result.instance ?? result).exports;
      WebAssembly[name] = original;
      return result;
    };
  }
  return caught;
}

/** One raw call into the module (src/web/wire.rs format): args written, `ak_call`, the first answer value read. */
// The wire codec as js/index.js runs it (src/web/wire.rs): one encoder, views over the wasm
// memory made again only when it grows, strings written in place. A codec that allocated an
// encoder, a DataView and a copy per call timed those instead of the call (it read 5-9 us, more
// than a whole auth.fetch).
const rawEnc = new TextEncoder();
const rawDec = new TextDecoder();
let rawBuffer = null;
let rawView;
let rawBytes;
function rawCall(wasm, op, args) {
  const size = args.reduce((n, a) => n + (typeof a === 'string' ? 5 + 3 * a.length : 9), 0);
  const ptr = wasm.ak_in(size);
  if (rawBuffer !== wasm.memory.buffer) {
    rawBuffer = wasm.memory.buffer;
    rawView = new DataView(rawBuffer);
    rawBytes = new Uint8Array(rawBuffer);
  }
  let p = ptr;
  for (const a of args) {
    if (typeof a === 'string') {
      const { written } = rawEnc.encodeInto(a, rawBytes.subarray(p + 5, ptr + size));
      rawView.setUint8(p, 2);
      rawView.setUint32(p + 1, written, true);
      p += 5 + written;
    } else {
      rawView.setUint8(p, 1);
      rawView.setFloat64(p + 1, a, true);
      p += 9;
    }
  }
  const at = wasm.ak_call(op);
  if (rawBuffer !== wasm.memory.buffer) {
    rawBuffer = wasm.memory.buffer;
    rawView = new DataView(rawBuffer);
    rawBytes = new Uint8Array(rawBuffer);
  }
  const tag = rawView.getUint8(at);
  if (tag === 1) return rawView.getFloat64(at + 1, true);
  if (tag === 2) return rawDec.decode(rawBytes.subarray(at + 5, at + 5 + rawView.getUint32(at + 1, true)));
  // A token's handle (its text stays in js/index.js's table).
  if (tag === 4) return 'token';
  return tag === 0 ? null : 'list';
}
const REQUEST_OP = 2; // src/web/client.rs

function storeTokens({ access, refresh }) {
  localStorage.setItem('accessToken', access);
  localStorage.setItem('refreshToken', refresh);
}

/**
 * A fetch stub that answers 200 at once. It only inspects the request when `check` is on (the
 * untimed sanity pass), so the timed loops measure the interceptors, not the stub.
 */
function okStub() {
  const stub = (input, init) => {
    if (stub.check) {
      stub.seen.push(input instanceof Request ? input.headers.get('authorization') : new Headers(init?.headers).get('authorization'));
    }
    return Promise.resolve(new Response(null, { status: 200 }));
  };
  stub.check = false;
  stub.seen = [];
  return stub;
}

/**
 * Section 2: sequential requests through each contender, warm-up first, then `rounds` rounds
 * whose order rotates so drift hits every contender alike. Returns µs per request per round.
 */
export async function overhead({ mode, tokens, n, rounds, warmup, budgetMs = Infinity, before }) {
  const { createAuthClient } = await authkeeper();
  storeTokens(tokens);
  const stub = mode === 'stub' ? okStub() : null;
  const base = stub ?? globalThis.fetch.bind(globalThis);
  const auth = await createAuthClient({ refreshUrl: REFRESH_PATH, ...(stub ? { fetch: stub } : {}) });
  const hand = createInterceptor({ fetch: base, ...tokens, refreshUrl: REFRESH_PATH });
  const bearer = `Bearer ${tokens.access}`;
  const contenders = [
    ['raw fetch', (u) => base(u, { headers: { Authorization: bearer } })],
    ['hand-written', hand],
    ['authkeeper', auth.fetch],
  ];
  // --before=<rev>: the interceptor of that revision on the same wasm (bench/run.mjs wrote it).
  const old = before && (await (await import('/js/index.before.js')).createAuthClient({ refreshUrl: REFRESH_PATH, ...(stub ? { fetch: stub } : {}) }));
  if (old) contenders.splice(2, 0, [before, old.fetch]);
  const consume = mode === 'http';
  let failures = 0;
  async function run(f, count) {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const r = await f(API_PATH);
      if (r.status !== 200) failures++;
      if (consume) await r.arrayBuffer();
    }
    return ((performance.now() - t0) * 1000) / count;
  }
  // Untimed sanity pass: every contender attaches the bearer and gets a 200.
  const sanity = {};
  for (const [name, f] of contenders) {
    if (stub) { stub.check = true; stub.seen.length = 0; }
    const r = await f(API_PATH);
    if (consume) await r.arrayBuffer();
    sanity[name] = { status: r.status, bearer: stub ? stub.seen[0] === bearer : true };
    if (stub) stub.check = false;
  }
  let warmUs = 0;
  for (const [, f] of contenders) warmUs += (await run(f, warmup)) / contenders.length;
  // A loaded machine can make real HTTP requests 10× slower: keep the section within budget.
  n = Math.max(Math.min(n, 50), Math.min(n, Math.floor((budgetMs * 1000) / (warmUs * rounds * contenders.length))));
  failures = 0;
  const samples = Object.fromEntries(contenders.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < contenders.length; j++) {
      const [name, f] = contenders[(round + j) % contenders.length];
      samples[name].push(await run(f, n));
    }
  }
  auth.destroy();
  old?.destroy();
  return { n, warmUs, samples, medians: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])), failures, sanity };
}

/**
 * Section 2b, where the time goes: auth.fetch, the hand-written interceptor and the raw stub call
 * end to end in one page, the wasm boundary call of the fast path on its own (`ak_call(REQUEST)` on
 * the client auth.fetch uses, with its arguments encoded and its answer read), and for reference the Fetch API
 * primitives an interceptor may spend its time in. Isolated loops are kinder to caches than
 * real requests: indicative only.
 */
export async function breakdown({ tokens, n, rounds }) {
  const stub = okStub();
  storeTokens(tokens);
  const caught = catchInstance();
  const { createAuthClient } = await authkeeper();
  const auth = await createAuthClient({ refreshUrl: REFRESH_PATH, fetch: stub });
  const hand = createInterceptor({ fetch: stub, ...tokens, refreshUrl: REFRESH_PATH });
  const bearer = `Bearer ${tokens.access}`;
  const origin = location.origin;
  const req = new Request(API_PATH);
  const wasm = caught.exports;
  // The page's first client is handle 0; the core answers the stored token's handle.
  const answer = wasm && rawCall(wasm, REQUEST_OP, [0, 1, origin, API_PATH]);
  const wasmOk = answer === 'token';
  let sink;
  const whole = [
    ['auth.fetch(url), awaited', () => auth.fetch(API_PATH)],
    ['hand-written(url), awaited', () => hand(API_PATH)],
    ['raw stub(url, { headers }), awaited', () => stub(API_PATH, { headers: { Authorization: bearer } })],
  ];
  const steps = [
    ...(wasmOk ? [['ak_call(REQUEST): the wasm call', () => { sink = rawCall(wasm, REQUEST_OP, [0, 1, origin, API_PATH]); }]] : []),
    ['primitive: new Request(url)', () => { sink = new Request(API_PATH); }],
    ['primitive: new URL(url, location.href)', () => { sink = new URL(API_PATH, location.href).pathname; }],
    ['primitive: new Headers() + set(Authorization)', () => { const h = new Headers(undefined); h.set('Authorization', bearer); sink = h; }],
    ['primitive: new Request(request, { headers })', () => { sink = new Request(req, { headers: { Authorization: bearer } }); }],
    ['primitive: an object literal + call of a no-op', () => { sink = ((x) => x)({ id: 1, url: API_PATH, phase: 'sent' }); }],
  ];
  const samples = Object.fromEntries([...whole, ...steps].map(([name]) => [name, []]));
  for (const [, f] of whole) for (let i = 0; i < 1000; i++) await f();
  for (const [, f] of steps) for (let i = 0; i < 1000; i++) f();
  for (let round = 0; round < rounds; round++) {
    for (const [name, f] of whole) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await f();
      samples[name].push(((performance.now() - t0) * 1000) / n);
    }
    for (const [name, f] of steps) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) f();
      samples[name].push(((performance.now() - t0) * 1000) / n);
    }
  }
  auth.destroy();
  void sink;
  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  return { m, wasmOk };
}

/**
 * Section 3: `n` concurrent requests meet a token the server no longer accepts, through a
 * harness StubBackend (it counts refresh calls exactly). `scenario`: 'expired' (the stored access
 * token's exp is in the past: the client can know) or 'revoked' (exp in the future, the server
 * answers 401). Drain = from the refresh response leaving the stub to the last request settling.
 * Runs twice in the page: 'cold' is the page's first refresh (wasm functions compile lazily on
 * first call, JS on first run), 'warm' a second client after it (own keys and stub backend).
 */
export async function coalesce({ variant, scenario, n, refreshDelay }) {
  const harness = await import('/tests/js/harness.js');
  const once = async (keys) => {
    const backend = new harness.StubBackend({ refreshPath: REFRESH_PATH });
    backend.refreshDelay = refreshDelay;
    const tokens = backend.login();
    backend.validAccess.clear();
    const access = scenario === 'expired' ? harness.accessToken(-60) : tokens.access;
    let refreshedAt = null;
    backend.onRefresh = (call) => {
      const response = backend.refreshOk(call);
      refreshedAt = performance.now();
      return response;
    };
    let f;
    let auth = null;
    if (variant === 'authkeeper') {
      const { createAuthClient } = await authkeeper();
      localStorage.setItem(keys.access, access);
      localStorage.setItem(keys.refresh, tokens.refresh);
      auth = await createAuthClient({ refreshUrl: REFRESH_PATH, fetch: backend.fetch, keys });
      f = auth.fetch;
    } else {
      f = createInterceptor({ fetch: backend.fetch, access, refresh: tokens.refresh, refreshUrl: REFRESH_PATH });
    }
    let lastAt = 0;
    const done = (status) => { lastAt = performance.now(); return status; };
    const t0 = performance.now();
    const statuses = await Promise.all(Array.from({ length: n }, (_, i) =>
      f(`/api/items/${i}`).then((r) => done(r.status), (e) => done(`${e?.name}: ${e?.message}`))));
    auth?.destroy();
    return {
      refreshCalls: backend.refreshCalls.length,
      apiCalls: backend.calls.length - backend.refreshCalls.length,
      ok: statuses.filter((s) => s === 200).length,
      other: [...new Set(statuses.filter((s) => s !== 200))].slice(0, 3),
      drainMs: refreshedAt === null ? null : lastAt - refreshedAt,
      totalMs: lastAt - t0,
    };
  };
  const cold = await once({ access: 'accessToken', refresh: 'refreshToken' });
  const warm = await once({ access: 'warmAccess', refresh: 'warmRefresh' });
  return { cold, warm };
}

/** Section 3, several tabs: make this tab's client (real fetch to the bench server). */
export async function tabPrepare({ variant, tokens }) {
  if (variant === 'authkeeper') {
    const { createAuthClient } = await authkeeper();
    window.benchClient = (await createAuthClient({ refreshUrl: REFRESH_PATH })).fetch;
  } else {
    window.benchClient = createInterceptor({ ...tokens, refreshUrl: REFRESH_PATH });
  }
  const r = await window.benchClient(API_PATH);
  await r.arrayBuffer();
  return r.status;
}

/** Section 3, several tabs: `n` concurrent requests from this tab; statuses and timings. */
export async function tabFire({ n }) {
  const t0 = performance.now();
  const statuses = await Promise.all(Array.from({ length: n }, (_, i) =>
    window.benchClient(`/api/items/${i}`).then(async (r) => { await r.arrayBuffer(); return r.status; }, (e) => `${e?.name}: ${e?.message}`)));
  return { ok: statuses.filter((s) => s === 200).length, other: [...new Set(statuses.filter((s) => s !== 200))].slice(0, 3), ms: performance.now() - t0 };
}

/**
 * Section 5: heap (after gc(); needs --js-flags=--expose-gc and precise memory info) and, for
 * authkeeper, the wasm linear memory and externref table, after each checkpoint of requests.
 */
export async function memory({ variant, tokens, checkpoints }) {
  const stub = okStub();
  storeTokens(tokens);
  let f;
  let wasm = null;
  if (variant === 'authkeeper') {
    const caught = catchInstance();
    const { createAuthClient } = await authkeeper();
    f = (await createAuthClient({ refreshUrl: REFRESH_PATH, fetch: stub })).fetch;
    wasm = caught.exports;
  } else {
    f = createInterceptor({ fetch: stub, ...tokens, refreshUrl: REFRESH_PATH });
  }
  const settle = async () => {
    for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 10)); }
  };
  const snapshot = async (requests) => {
    await settle();
    return {
      requests,
      heap: performance.memory.usedJSHeapSize,
      wasm: wasm ? wasm.memory.buffer.byteLength : null,
      externrefs: null,
    };
  };
  const out = [await snapshot(0)];
  let sent = 0;
  let failures = 0;
  for (const target of checkpoints) {
    while (sent < target) {
      const r = await f(API_PATH);
      if (r.status !== 200) failures++;
      sent++;
    }
    out.push(await snapshot(sent));
  }
  return { points: out, failures };
}
