import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './support.mjs';

const browser = useBrowser();

test('twenty concurrent requests with an expired access token make one refresh call', async () => {
  const page = await browser.page();
  const result = await page.evaluate(async () => {
    const { createAuthClient } = window.authkeeper;
    const backend = new window.harness.StubBackend();
    const tokens = backend.login();
    // Stored tokens whose access part expired a minute ago.
    backend.validAccess.clear();
    localStorage.setItem('accessToken', window.harness.accessToken(-60));
    localStorage.setItem('refreshToken', tokens.refresh);
    backend.refreshDelay = 50;
    const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/', fetch: backend.fetch });
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => auth.fetch(`/api/items/${i}`)));
    const apiCalls = backend.calls.filter((c) => c.path.startsWith('/api/items/'));
    return {
      statuses: responses.map((r) => r.status),
      refreshCalls: backend.refreshCalls.length,
      bearers: [...new Set(apiCalls.map((c) => c.authorization))],
      fresh: `Bearer ${[...backend.validAccess][0]}`,
      stored: localStorage.getItem('accessToken'),
    };
  });
  assert.equal(result.refreshCalls, 1);
  assert.deepEqual(result.statuses, Array(20).fill(200));
  assert.deepEqual(result.bearers, [result.fresh]);
  assert.equal(`Bearer ${result.stored}`, result.fresh);
});
