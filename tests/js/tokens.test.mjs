// Tokens never enter the wasm: the driver keeps their text in a table and hands the core a
// number per token. These check the two promises that come with it: no token byte is ever in
// wasm memory, and the table does not grow with the life of the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

// Before the module loads: keep the wasm instance's memory, and every Map that maps numbers to
// JWT-shaped strings (the driver's token table, whatever the minifier named it).
const watch = () => {
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async (...args) => {
    const result = await instantiate.apply(WebAssembly, args);
    window.wasmMemory = (result.instance ?? result).exports.memory;
    return result;
  };
  window.tokenMaps = new Set();
  const set = Map.prototype.set;
  Map.prototype.set = function (key, value) {
    if (typeof key === 'number' && typeof value === 'string' && value.split('.').length === 3) window.tokenMaps.add(this);
    return set.call(this, key, value);
  };
};

test('a few hundred refreshes leave the token table small', { timeout: 60_000 }, async () => {
  const page = await browser.page({ beforeLoad: watch });
  const result = await page.evaluate(async () => {
    const { backend, auth } = await window.harness.signedIn();
    let largest = 0;
    const bearers = new Set();
    for (let i = 0; i < 300; i++) {
      await auth.refresh();
      const response = await auth.fetch('/api/items/');
      if (response.status !== 200) return { failed: i };
      bearers.add(backend.calls.at(-1).authorization);
      for (const map of window.tokenMaps) largest = Math.max(largest, map.size);
    }
    const last = await auth.fetch('/api/items/');
    return {
      largest,
      maps: window.tokenMaps.size,
      refreshes: backend.refreshCalls.length,
      bearers: bearers.size,
      status: last.status,
      newest: backend.calls.at(-1).authorization === `Bearer ${[...backend.validAccess].at(-1)}`,
    };
  });
  assert.equal(result.failed, undefined, `request ${result.failed} failed`);
  assert.equal(result.maps, 1, 'one token table');
  assert.equal(result.refreshes, 300);
  // Every refresh brought a new token and every request carried the one of its time.
  assert.equal(result.bearers, 300);
  assert.equal(result.status, 200);
  assert.ok(result.newest);
  // 300 refreshes with rotation are 600 tokens; the table keeps those the core holds, and a few
  // (each token is two entries: text to handle, handle to text).
  assert.ok(result.largest <= 40, `the token table grew to ${result.largest} entries`);
});

test('tokens whose text is a number keep their place in the table as it is pruned', { timeout: 60_000 }, async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { backend, auth } = await window.harness.signedIn();
    // Opaque tokens that read as numbers, as the handles do.
    backend.onRefresh = (call, n) => new Response(JSON.stringify({ access: `${n * 2}`, refresh: `${n * 2 + 1}`, expires_in: 300 }),
      { status: 200, headers: { 'content-type': 'application/json' } });
    const wrong = [];
    for (let n = 1; n <= 60; n++) {
      await auth.refresh();
      const token = await auth.getAccessToken();
      if (token !== `${n * 2}`) wrong.push([n, token]);
      // Each refresh sends the refresh token the one before brought.
      if (n > 1 && backend.refreshCalls.at(-1).body !== JSON.stringify({ refresh: `${n * 2 - 1}` })) wrong.push([n, backend.refreshCalls.at(-1).body]);
    }
    return { wrong };
  });
  assert.deepEqual(result.wrong, []);
});

test('no token byte is ever in wasm memory', { timeout: 60_000 }, async () => {
  const page = await browser.page({ beforeLoad: watch });
  const result = await page.evaluate(async () => {
    const { backend, tokens, auth } = await window.harness.signedIn({ revokeUrl: '/api/auth/token/blacklist/' });
    const seen = [tokens.access, tokens.refresh];
    for (let i = 0; i < 3; i++) {
      await auth.fetch('/api/items/');
      backend.revokeAccess();
      // A 401, a refresh, a replay.
      await auth.fetch('/api/items/');
      seen.push(...backend.validAccess, ...backend.validRefresh);
    }
    auth.state();
    await auth.getAccessToken();
    auth.logout();
    await new Promise((r) => setTimeout(r, 50));
    // What the memory holds, as text: tokens are ASCII.
    const memory = new TextDecoder('latin1').decode(new Uint8Array(window.wasmMemory.buffer));
    // A token's payload and signature together are unique to it.
    const found = [...new Set(seen)].filter((token) => memory.includes(token.slice(token.indexOf('.') + 1)));
    return { tokens: new Set(seen).size, found: found.length, memory: memory.length };
  });
  assert.ok(result.tokens >= 8, `${result.tokens} tokens seen`);
  assert.ok(result.memory > 0);
  assert.equal(result.found, 0, `${result.found} tokens found in wasm memory`);
});
