// The refresh call is where the refresh token travels, so it is held to stricter rules than an API
// call: it never follows a redirect, its response is read with a size bound, and an answer that
// says nothing about the session (an HTML error page) never ends it. Also: decoded claims are
// plain data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

const RETRY = { maxAttempts: 2, baseDelay: 10, maxDelay: 20, cooldown: 60_000, giveUpAfter: 600_000 };

test('the refresh request is sent with redirect: manual, and a 307/308 answer is a transient failure, never a logout', async () => {
  const page = await browser.page();
  const warnings = [];
  page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  const r = await page.evaluate(async (retry) => {
    const { outcome } = window.harness;
    const { auth, backend, events, tokens } = await window.harness.expiredSession({ retry });
    backend.onRefresh = (call, n) => new Response(null, { status: n === 1 ? 307 : 308, headers: { location: 'https://collector.invalid/steal' } });
    const res = await outcome(auth.fetch('/api/items/'));
    return {
      // The redirect mode of each refresh request, as the Request the real fetch builds has it.
      res, redirects: backend.refreshCalls.map((c) => c.redirect), refreshCalls: backend.refreshCalls.length, logouts: events.logout.length,
      refreshKept: localStorage.getItem('refreshToken') === tokens.refresh, breaker: auth.state().breaker,
    };
  }, RETRY);
  assert.deepEqual(r.redirects, ['manual', 'manual']);
  assert.equal(r.refreshCalls, 2);
  assert.equal(r.logouts, 0);
  assert.equal(r.refreshKept, true);
  assert.equal(r.breaker, 'open');
  assert.equal(r.res.error?.code, 'refresh_unavailable');
  assert.ok(warnings.some((w) => w.includes('redirect')), `a console warning explains the redirect: ${warnings}`);
  assert.ok(warnings.every((w) => !w.includes('eyJ')), 'no token in the console');
});

test('a huge refresh body without Content-Length is abandoned at the cap: no crash, a transient failure, and the client keeps working', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async (retry) => {
    const { outcome } = window.harness;
    const { auth, backend, events } = await window.harness.expiredSession({ retry: { ...retry, maxAttempts: 5 } });
    let chunksPulled = 0;
    backend.onRefresh = (call, n) => {
      if (n > 1) return backend.refreshOk(call);
      // 64 MB in 64 KB chunks, streamed with no length: only the first few may ever be read.
      const chunk = new Uint8Array(64 * 1024).fill(0x20);
      const body = new ReadableStream({
        pull(controller) { chunksPulled += 1; if (chunksPulled > 1024) controller.close(); else controller.enqueue(chunk); },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const res = await outcome(auth.fetch('/api/items/'));
    return { res, chunksPulled, refreshCalls: backend.refreshCalls.length, logouts: events.logout.length, state: auth.state().status };
  }, RETRY);
  assert.equal(r.res.status, 200, 'the retry after the abandoned body succeeds');
  assert.equal(r.refreshCalls, 2);
  assert.ok(r.chunksPulled < 10, `reading stopped near the cap (pulled ${r.chunksPulled} chunks of 64 KB)`);
  assert.equal(r.logouts, 0);
  assert.equal(r.state, 'active');
});

test('a 400 or 403 HTML page from a proxy is transient; a 400 with a JSON verdict still ends the session', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async (retry) => {
    const { outcome, json } = window.harness;
    const first = await window.harness.expiredSession({ retry });
    const html = (status) => new Response('<html><body><h1>Request blocked</h1></body></html>', { status, headers: { 'content-type': 'text/html' } });
    first.backend.onRefresh = (call, n) => html(n === 1 ? 400 : 403);
    const res = await outcome(first.auth.fetch('/api/items/'));
    const htmlResult = { res, logouts: first.events.logout.length, refreshCalls: first.backend.refreshCalls.length };
    first.auth.destroy();
    localStorage.clear();
    const second = await window.harness.expiredSession({ retry });
    second.backend.onRefresh = () => json(400, { error: 'invalid_grant', error_description: 'The refresh token was revoked' });
    await outcome(second.auth.fetch('/api/items/'));
    return { htmlResult, verdict: second.events.logout.map(({ reason, message }) => ({ reason, message })) };
  }, RETRY);
  assert.equal(r.htmlResult.logouts, 0);
  assert.equal(r.htmlResult.refreshCalls, 2);
  assert.equal(r.htmlResult.res.error?.code, 'refresh_unavailable');
  assert.deepEqual(r.verdict, [{ reason: 'invalid_token', message: 'The refresh token was revoked' }]);
});

test('decodeJwt returns plain data: a "__proto__" claim is an own property, not a prototype', async () => {
  const page = await browser.page();
  const r = await page.evaluate(async () => {
    const { createAuthClient, decodeJwt } = window.authkeeper;
    const { makeJwt } = window.harness;
    await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', tabLock: false });
    const token = makeJwt(JSON.parse('{"sub":"1","exp":4102444800,"__proto__":{"isAdmin":true},"nested":{"__proto__":{"x":1}}}'));
    const claims = decodeJwt(token);
    return {
      isAdmin: claims.isAdmin, protoIsNull: Object.getPrototypeOf(claims) === null,
      ownProto: Object.prototype.hasOwnProperty.call(claims, '__proto__'), ownProtoValue: JSON.stringify(claims.__proto__),
      nestedX: claims.nested.x, sub: claims.sub, exp: claims.exp, polluted: {}.isAdmin,
    };
  });
  assert.deepEqual(r, {
    isAdmin: undefined, protoIsNull: true, ownProto: true, ownProtoValue: '{"isAdmin":true}',
    nestedX: undefined, sub: '1', exp: 4102444800, polluted: undefined,
  });
});
