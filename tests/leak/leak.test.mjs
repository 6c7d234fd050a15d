// The bearer never leaves the page's origin and its apiOrigins, whatever the input: a fuzz in
// headless Chromium with the real js/index.js and wasm, against three servers on 127.0.0.1
// (the page's origin, an API origin listed in apiOrigins, a foreign collector that answers CORS
// to anything and records every Authorization header and body it gets).
//
//   node --test tests/leak/*.test.mjs
//   LEAK_SEED=1234 node --test tests/leak/*.test.mjs     # replay a seed (printed first)
//   LEAK_INPUTS=50000 …                                   # more inputs (default 10,000)
//   AUTHKEEPER_JS=/tmp/old/index.js AUTHKEEPER_PKG=/tmp/old/pkg …   # another interceptor / core
//
// Both directions are checked, each input against `new Request(input, init).url` as the page
// itself resolves it: the collector never receives a bearer or a token, no server receives the
// bearer under a Host other than the page's or the API's, and every input that resolves to the
// page or API origin and is not excluded (refresh URL, skipRefreshFor) arrives there carrying
// it, with the Request's own headers kept. Foreign inputs must arrive at the collector (without
// a bearer): the fuzz sees them sent, not merely not leaked. Redirects are in it too (/r/30x/
// on the page and API servers answers toward the collector); so is a refresh endpoint that
// answers 307/308 toward the collector (the last two tests).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../support/browser.mjs';
import { startServers, generate, mintTokens, expectedClass, BASES, REFRESH_PATH, REDIRECTING_REFRESH, SKIP } from './support.mjs';

const SEED = process.env.LEAK_SEED !== undefined ? Number(process.env.LEAK_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const COUNT = Math.max(1, Number(process.env.LEAK_INPUTS || 10_000));
const BATCH = 1000;        // inputs per page.evaluate
const CONCURRENCY = 24;    // auth.fetch calls in flight in the page
console.log(`# leak fuzz seed ${SEED} (replay: LEAK_SEED=${SEED}), ${COUNT} inputs`);

let servers;
let browser;
before(async () => {
  servers = await startServers();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await servers?.close();
});

/** A fresh context and the fixture page (module and same-origin iframe loaded). */
async function openPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${servers.page.url}/leak/page.html`);
  await page.waitForFunction(() => window.moduleReady === true && document.getElementById('frame').contentDocument?.readyState === 'complete');
  return { context, page, errors };
}

/** In the page: the batch runner. Each input is sent through auth.fetch; the page reports what
 *  `new Request(input, init)` resolves it to and how auth.fetch settled. */
function install({ api, collector }) {
  const frameWindow = document.getElementById('frame').contentWindow;
  const BASE_HREF = { none: null, same: '/base/dir/', foreign: `${collector}/base/dir/`, api: `${api}/base/` };
  const setBase = (mode) => {
    for (const b of document.querySelectorAll('base')) b.remove();
    if (BASE_HREF[mode] === null) return;
    const base = document.createElement('base');
    base.href = BASE_HREF[mode];
    document.head.prepend(base);
  };
  async function one(item) {
    const id = String(item.id);
    const body = item.post ? { method: 'POST', body: `payload-${id}` } : {};
    let input;
    const init = {};
    try {
      if (item.kind === 'string' || item.kind === 'url') {
        input = item.kind === 'string' ? item.s
          : new URL(item.s, item.urlBase === 'document' ? document.baseURI : item.urlBase === 'location' ? location.href : `${collector}/u/`);
        Object.assign(init, body, { headers: { 'x-leak-id': id } });
      } else {
        const R = item.kind === 'frame' ? frameWindow.Request : Request;
        input = new R(item.s, { ...body, headers: { 'x-leak-id': id, 'x-own': '1' } });
        if (item.initHeaders) init.headers = { 'x-leak-id': id, 'x-init': '1' };
      }
    } catch (e) {
      return { id: item.id, construct: `${e.name}: ${e.message}`.slice(0, 120) };
    }
    const isRequest = item.kind === 'request' || item.kind === 'frame';
    let expected = null;
    try { expected = new Request(isRequest ? input.clone() : input, init).url; } catch { /* fetch would reject */ }
    // Only loopback addresses and localhost are ever contacted: a URL whose host would need a
    // DNS lookup (Chromium turns a space in a host into "%20") is left out.
    if (expected !== null && /^(https?|wss?):$/.test(new URL(expected).protocol) && !/^(127(\.\d+){3}|\[::1\]|localhost)$/.test(new URL(expected).hostname)) {
      return { id: item.id, expected, skipped: true };
    }
    let outcome;
    try {
      const res = await window.leakAuth.fetch(input, { ...init, signal: AbortSignal.timeout(20_000) });
      await res.arrayBuffer();
      outcome = res.status;
    } catch (e) {
      outcome = `${e.name}${e.code ? ` (${e.code})` : ''}: ${e.message}`.slice(0, 160);
    }
    return { id: item.id, expected, outcome };
  }
  window.leak = {
    setBase,
    async run(items, concurrency) {
      const out = new Array(items.length);
      let next = 0;
      const worker = async () => {
        while (next < items.length) {
          const i = next++;
          out[i] = await one(items[i]);
        }
      };
      await Promise.allSettled(Array.from({ length: concurrency }, worker));
      return out;
    },
  };
}

const show = (s) => JSON.stringify(s);

test(`no input sends the bearer to a foreign origin, and every protected input carries it (seed ${SEED})`, async () => {
  const started = Date.now();
  const { page: pageSrv, api, collector } = servers;
  const ports = { page: pageSrv.port, api: api.port, collector: collector.port };
  const items = generate({ seed: SEED, count: COUNT, ports });
  for (const s of [pageSrv, api, collector]) s.log.length = 0;
  const tokens = mintTokens();
  const { context, page, errors } = await openPage();
  const results = [];
  try {
    await page.evaluate(install, { api: api.url, collector: collector.url });
    // The client exists before any <base> is inserted: a base added later must still count.
    const status = await page.evaluate(async ({ apiOrigin, tokens: t, refreshUrl, skip }) => {
      const auth = await window.authkeeper.createAuthClient({ refreshUrl, apiOrigins: [apiOrigin], skipRefreshFor: skip, storage: 'memory', tabLock: false });
      auth.setTokens(t);
      window.leakAuth = auth;
      return auth.state().status;
    }, { apiOrigin: api.url, tokens, refreshUrl: REFRESH_PATH, skip: SKIP });
    assert.equal(status, 'active');

    for (const mode of BASES) {
      const group = items.filter((it) => it.base === mode);
      await page.evaluate((m) => window.leak.setBase(m), mode);
      for (let i = 0; i < group.length; i += BATCH) {
        results.push(...await page.evaluate(([chunk, c]) => window.leak.run(chunk, c), [group.slice(i, i + BATCH), CONCURRENCY]));
      }
    }
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  } finally {
    await context.close();
  }

  // ---- What the servers saw, against what each input resolves to.
  const bearer = `Bearer ${tokens.access}`;
  const byPort = { [pageSrv.port]: pageSrv, [api.port]: api, [collector.port]: collector };
  const byId = new Map();
  for (const e of [...pageSrv.log, ...api.log, ...collector.log]) {
    if (e.id === null) continue;
    if (!byId.has(e.id)) byId.set(e.id, []);
    byId.get(e.id).push(e);
  }
  const failures = [];
  const fail = (id, why, extra = {}) => failures.push({ why, input: id === null ? null : items[id], ...extra });
  const carriesSecret = (e) => e.authorization !== null || e.body.includes(tokens.access) || e.body.includes(tokens.refresh);
  for (const e of collector.log) {
    if (carriesSecret(e)) fail(e.id === null ? null : Number(e.id), 'the collector received a bearer or a token', { received: e });
  }
  const ourHosts = new Set([`127.0.0.1:${pageSrv.port}`, `127.0.0.1:${api.port}`]);
  for (const e of [...pageSrv.log, ...api.log]) {
    if (carriesSecret(e) && !ourHosts.has(e.host)) fail(e.id === null ? null : Number(e.id), `the bearer went to ${e.host}, another origin`, { received: e });
  }
  const counts = { inputs: items.length, unconstructible: 0, needsDns: 0, rejectedByFetch: 0, page: 0, api: 0, collector: 0, withBearer: 0, excluded: 0, either: 0, elsewhere: 0 };
  for (const res of results) {
    const item = items[res.id];
    if (res.construct) { counts.unconstructible++; continue; }
    if (res.skipped) { counts.needsDns++; continue; }
    if (res.expected === null) {
      counts.rejectedByFetch++;
      if (typeof res.outcome === 'number') fail(res.id, 'auth.fetch resolved where new Request(input, init) throws', { outcome: res.outcome });
      continue;
    }
    let url;
    try { url = new URL(res.expected); } catch { counts.elsewhere++; continue; }
    const loopback = url.hostname === '127.0.0.1' || (url.hostname === '[::1]' && pageSrv.ipv6);
    const target = url.protocol === 'http:' && loopback ? byPort[url.port] : undefined;
    if (!target) { counts.elsewhere++; continue; }
    counts[target.name]++;
    const where = { expected: res.expected, outcome: res.outcome };
    if (typeof res.outcome !== 'number') {
      // Chromium blocks a URL written with both a newline or tab and a "<" (dangling markup
      // mitigation): fetch itself rejects those.
      if (!(/[\t\n\r]/.test(item.s) && item.s.includes('<'))) fail(res.id, 'auth.fetch rejected a request fetch would send', where);
      continue;
    }
    // The request target as sent: the serialised URL after its origin, without the fragment
    // (an empty query, "?", is sent too).
    const sent = res.expected.slice(url.origin.length).replace(/#.*$/s, '');
    const first = (byId.get(String(res.id)) ?? []).find((e) => e.server === target.name && e.method !== 'OPTIONS' && e.url === sent);
    if (!first) { fail(res.id, `never arrived at the ${target.name} server with its x-leak-id header`, where); continue; }
    if (url.hostname === '127.0.0.1' && target !== collector) {
      const expect = expectedClass(url, pageSrv.url);
      if (expect === 'excluded') counts.excluded++;
      if (expect === 'either') counts.either++;
      if (first.authorization === bearer) counts.withBearer++;
      if (expect === 'protected' && first.authorization !== bearer) fail(res.id, 'a protected request arrived without the bearer', { ...where, received: first });
      if (expect === 'excluded' && first.authorization !== null) fail(res.id, 'an excluded request (refresh URL or skipRefreshFor) arrived with the bearer', { ...where, received: first });
    }
    const isRequest = item.kind === 'request' || item.kind === 'frame';
    if (isRequest && !item.initHeaders && first.own !== '1') fail(res.id, "the Request's own headers were dropped", { ...where, received: first });
    if (item.initHeaders && (first.init !== '1' || first.own !== null)) fail(res.id, 'init.headers did not replace the Request\'s headers', { ...where, received: first });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`# leak fuzz seed ${SEED}: ${show(counts)}; requests seen: page ${pageSrv.log.length}, api ${api.log.length}, collector ${collector.log.length}; ${seconds} s`);
  if (failures.length) {
    const line = (f) => `seed ${SEED} input ${show(f.input)}: ${f.why}${f.expected ? `; resolves to ${show(f.expected)}, auth.fetch → ${f.outcome}` : ''}${f.received ? `; the ${f.received.server} server got ${f.received.method} ${show(f.received.url)} Host ${f.received.host}, Authorization ${f.received.authorization ? `${f.received.authorization.slice(0, 14)}…` : 'none'}` : ''}`;
    // Each kind of failure with a count per input kind and <base> mode, and up to 8 examples
    // of different kinds of input.
    const report = [];
    const kinds = {};
    for (const f of failures) (kinds[f.why] ??= []).push(f);
    const keyOf = (f) => (f.input ? `${f.input.kind}/${f.input.base}` : 'input unknown (its x-leak-id header was dropped)');
    for (const [why, list] of Object.entries(kinds)) {
      const byKey = {};
      for (const f of list) byKey[keyOf(f)] = (byKey[keyOf(f)] ?? 0) + 1;
      report.push(`# ${list.length} × ${why}: ${Object.entries(byKey).map(([k, n]) => `${k} ${n}`).join(', ')}`);
      const firstOfKey = new Map();
      for (const f of list) if (!firstOfKey.has(keyOf(f))) firstOfKey.set(keyOf(f), f);
      for (const f of [...new Set([...firstOfKey.values(), ...list])].slice(0, 8)) report.push(`#   ${line(f)}`);
    }
    console.log(`# leak fuzz seed ${SEED}: ${failures.length} failures\n${report.join('\n')}`);
    assert.fail(`seed ${SEED} (LEAK_SEED=${SEED} to replay): ${failures.length} failures: ${show(Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, v.length])))}. First: ${line(failures[0])}`);
  }
  // The fuzz covered what it claims to: each kind of destination was reached.
  assert.ok(counts.page > 0 && counts.api > 0 && counts.collector > 0 && counts.withBearer > 0, show(counts));
});

for (const [path, status] of Object.entries(REDIRECTING_REFRESH)) {
  test(`a refresh endpoint answering ${status} toward the collector does not hand it the refresh token`, async () => {
    const { collector, page: pageSrv } = servers;
    collector.log.length = 0;
    pageSrv.log.length = 0;
    const tokens = mintTokens();
    const { context, page } = await openPage();
    try {
      const r = await page.evaluate(async ({ refreshUrl, t }) => {
        const auth = await window.authkeeper.createAuthClient({
          refreshUrl, storage: 'memory', tabLock: false, refreshTimeout: 2000,
          retry: { maxAttempts: 1, baseDelay: 10, maxDelay: 10, cooldown: 1000, giveUpAfter: 1000 },
        });
        auth.setTokens(t);
        // The server refuses the (valid-looking) access token: the client refreshes.
        const settled = await Promise.race([
          auth.fetch('/unauthorized').then((res) => `status ${res.status}`, (e) => `${e.name} ${e.code ?? ''}`),
          new Promise((ok) => setTimeout(() => ok('still waiting after 4 s'), 4000)),
        ]);
        const state = auth.state().status;
        auth.destroy();
        return { settled, state };
      }, { refreshUrl: path, t: tokens });
      const attempts = pageSrv.log.filter((e) => e.url === path && e.method === 'POST').length;
      const stolen = collector.log.filter((e) => e.url.startsWith('/stolen-refresh'));
      const leaked = collector.log.filter((e) => e.body.includes(tokens.refresh) || e.authorization !== null);
      console.log(`# refresh ${status}: ${attempts} refresh call(s); auth.fetch → ${r.settled}, client ${r.state}; the collector got ${stolen.length} request(s) from the redirect (${stolen.map((e) => e.method).join(', ') || 'none'}), ${leaked.length} with the refresh token or a bearer`);
      assert.ok(attempts > 0, 'the client never called its refresh endpoint: the case was not exercised');
      assert.equal(leaked.length, 0, `the refresh token followed a ${status} to the collector: ${show(leaked.map((e) => [e.method, e.url, e.body.slice(0, 80)]))}`);
    } finally {
      await context.close();
    }
  });
}
