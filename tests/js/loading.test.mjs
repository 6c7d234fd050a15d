// Loading the wasm: a failed load is an AuthkeeperError `wasm_load_failed` that names wasmUrl (and
// the CSP fix when a Content-Security-Policy blocked it) and is not cached, so a later call tries
// again; wasmUrl takes a URL, a Request, a Response (or a promise of one), bytes or a Module; the
// built package loads the module embedded in it (no request, no wasmUrl); outside a browser,
// `not_in_browser`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useBrowser } from './support.mjs';

const browser = useBrowser();
const options = { refreshUrl: '/api/auth/token/refresh/', tabLock: false, storage: 'memory' };

test('a wrong wasmUrl rejects with wasm_load_failed naming it; a later call with the right one loads', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async (options) => {
    const { createAuthClient, isAuthkeeperError } = window.authkeeper;
    const failure = await createAuthClient({ ...options, wasmUrl: '/nowhere/authkeeper_bg.wasm' }).then(() => null, (e) => e);
    const again = await createAuthClient({ ...options, wasmUrl: '/nowhere/authkeeper_bg.wasm' }).then(() => null, (e) => e);
    const auth = await createAuthClient({ ...options, wasmUrl: new URL('/pkg/authkeeper_bg.wasm', location.href) });
    return {
      name: failure?.name, code: failure?.code, message: failure?.message, typed: isAuthkeeperError(failure),
      cause: String(failure?.cause?.message), againCode: again?.code, status: auth.state().status,
    };
  }, options);
  assert.equal(r.code, 'wasm_load_failed');
  assert.equal(r.name, 'AuthkeeperError');
  assert.ok(r.typed);
  assert.match(r.message, /wasmUrl "\/nowhere\/authkeeper_bg\.wasm"/);
  assert.match(r.message, /404/, 'the cause is in the message');
  assert.doesNotMatch(r.message, /wasm-unsafe-eval/, 'a 404 is not a CSP problem');
  assert.match(r.cause, /404/, 'and kept as error.cause');
  assert.equal(r.againCode, 'wasm_load_failed', 'the second call loaded again (and failed again), no stale success');
  assert.equal(r.status, 'anonymous', 'the failure was not cached: the right URL loads');
});

test('wasmUrl takes the bytes, a Response, a promise of one and a compiled WebAssembly.Module; anything else is invalid_option', async () => {
  for (const kind of ['bytes', 'view', 'response', 'promise', 'module']) {
    const page = await browser.page();
    const status = await page.evaluate(async ({ options, kind }) => {
      const url = '/pkg/authkeeper_bg.wasm';
      const wasmUrl = kind === 'bytes' ? await (await fetch(url)).arrayBuffer()
        : kind === 'view' ? new Uint8Array(await (await fetch(url)).arrayBuffer())
        : kind === 'response' ? await fetch(url)
        : kind === 'promise' ? fetch(url)
        : await WebAssembly.compile(await (await fetch(url)).arrayBuffer());
      const auth = await window.authkeeper.createAuthClient({ ...options, wasmUrl });
      return auth.state().status;
    }, { options, kind });
    assert.equal(status, 'anonymous', kind);
  }
  const page = await browser.page();
  const r = await page.evaluate(async (options) => {
    const e = await window.authkeeper.createAuthClient({ ...options, wasmUrl: 42 }).then(() => null, (e) => e);
    return { code: e?.code, message: e?.message };
  }, options);
  assert.equal(r.code, 'invalid_option');
  assert.match(r.message, /`wasmUrl`/);
});

// A page served with a Content-Security-Policy; its module script is a file (inline scripts are
// blocked by the policy too), both served by Playwright's router on the static server's origin.
async function pageWithPolicy(policy, module = '/js/index.js') {
  const page = await browser.page();
  const origin = new URL(page.url()).origin;
  await page.route(`${origin}/csp/**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/csp/entry.js') {
      return route.fulfill({ contentType: 'text/javascript', body: `
        import { createAuthClient } from '${module}';
        window.attempt = (options) => createAuthClient(options).then((a) => ({ status: a.state().status }), (e) => ({ code: e.code, message: e.message }));
        window.cspReady = true;` });
    }
    return route.fulfill({
      contentType: 'text/html',
      headers: { 'content-security-policy': policy },
      body: '<!doctype html><meta charset="utf-8"><script type="module" src="/csp/entry.js"></script>',
    });
  });
  await page.goto(`${origin}/csp/page.html`);
  await page.waitForFunction(() => window.cspReady === true);
  return page;
}

// The production build says it too, tersely: a strict CSP is often met in production first.
for (const [module, where] of [['/js/index.js', /default location/], ['/pkg/index.js', /embedded in the package/], ['/pkg/index.prod.js', /embedded/]]) {
  test(`${module}: a CSP without 'wasm-unsafe-eval' rejects with wasm_load_failed saying how to fix the policy`, async () => {
    const page = await pageWithPolicy("script-src 'self'", module);
    const r = await page.evaluate((options) => window.attempt(options), options);
    assert.equal(r.code, 'wasm_load_failed');
    assert.match(r.message, where, 'no wasmUrl was given: it says where the module came from');
    assert.match(r.message, /script-src 'self' 'wasm-unsafe-eval'/);
  });

  test(`${module}: with script-src 'self' 'wasm-unsafe-eval' the same page loads`, async () => {
    const page = await pageWithPolicy("script-src 'self' 'wasm-unsafe-eval'", module);
    const r = await page.evaluate((options) => window.attempt(options), options);
    assert.deepEqual(r, { status: 'anonymous' });
  });
}

test('the built package (pkg/index.js) runs the wasm embedded in it: no wasmUrl, no request for a .wasm, the bearer is sent', async () => {
  const page = await browser.page();
  const wasmRequests = [];
  page.on('request', (request) => { if (/\.wasm(\?|$)/.test(request.url())) wasmRequests.push(request.url()); });
  const r = await page.evaluate(async (options) => {
    const { createAuthClient } = await import('/pkg/index.js');
    const { accessToken, refreshToken } = window.harness;
    const access = accessToken(300);
    let seen;
    const auth = await createAuthClient({ ...options, fetch: (input, init) => { seen = (init?.headers ? new Headers(init.headers) : input.headers).get('Authorization'); return Promise.resolve(new Response('ok')); } });
    auth.setTokens({ access, refresh: refreshToken() });
    await auth.fetch('/api/items/1');
    return { status: auth.state().status, bearer: seen === `Bearer ${access}` };
  }, options);
  assert.deepEqual(r, { status: 'active', bearer: true });
  assert.deepEqual(wasmRequests, [], 'the module came from the bundle, not the network');
});

test('the built package unpacks and compiles its module on import, once: createAuthClient only instantiates it', async () => {
  const page = await browser.page();
  const calls = await page.evaluate(async (options) => {
    const calls = [];
    const { compile, compileStreaming, instantiate } = WebAssembly;
    WebAssembly.compile = (...args) => { calls.push('compile'); return compile.apply(WebAssembly, args); };
    WebAssembly.compileStreaming = (...args) => { calls.push('compile'); return compileStreaming.apply(WebAssembly, args); };
    WebAssembly.instantiate = (...args) => {
      calls.push(args[0] instanceof WebAssembly.Module ? 'instantiate a Module' : 'instantiate bytes');
      return instantiate.apply(WebAssembly, args);
    };
    // Its own module record (the query), so the import below is the first of this copy.
    const { createAuthClient } = await import('/pkg/index.prod.js?on-import');
    calls.push('import done');
    await createAuthClient(options);
    await createAuthClient(options);
    return calls;
  }, options);
  // The compile is started by the import; it may finish after it (the inflate is asynchronous).
  assert.deepEqual(calls.filter((c) => c !== 'import done'), ['compile', 'instantiate a Module'], `${calls}`);
});

test('outside a browser (a Node script, a server render) createAuthClient rejects with not_in_browser', () => {
  const index = new URL('../../js/index.js', import.meta.url).href;
  const script = `
    const { createAuthClient } = await import(${JSON.stringify(index)});
    const e = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/' }).then(() => null, (e) => e);
    console.log(JSON.stringify({ code: e?.code, name: e?.name, message: e?.message }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) });
  assert.equal(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout);
  assert.equal(r.code, 'not_in_browser');
  assert.equal(r.name, 'AuthkeeperError');
  assert.match(r.message, /not in a browser/);
  assert.match(r.message, /useEffect/, 'it says what to do for SSR');
  assert.doesNotMatch(r.message, /refreshUrl/, 'and does not blame the relative refreshUrl');
});
