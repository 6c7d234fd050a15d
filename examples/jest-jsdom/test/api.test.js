// Run in Jest's stock jsdom environment (package.json "jest": testEnvironment jsdom); no wasmUrl,
// no copied file: the wasm is embedded in the installed package. jsdom has no fetch, so the fake
// server below answers with whatwg-fetch's Response, as a Jest suite for a fetch app would.
import 'whatwg-fetch';
import { createApi } from '../src/api.js';

const b64 = (o) => btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const jwt = (claims) => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.sig`;
const now = () => Math.floor(Date.now() / 1000);
const access = (n) => jwt({ token_type: 'access', user_id: 7, jti: `a${n}`, iat: now(), exp: now() + 3600 });
const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const realFetch = globalThis.fetch;
afterEach(() => { globalThis.fetch = realFetch; localStorage.clear(); });

test('the app module creates a client; a rejected token is refreshed and the request replayed', async () => {
  const first = access(1);
  const second = access(2);
  const seen = [];
  globalThis.fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input.url, location.href);
    const authorization = new Headers(init?.headers).get('authorization');
    seen.push(`${url.pathname} ${authorization ?? '-'}`);
    if (url.pathname === '/api/auth/token/refresh/') return json({ access: second });
    if (authorization === `Bearer ${second}`) return json([{ id: 1 }]);
    return json({ code: 'token_not_valid' }, 401);
  };

  const api = await createApi();
  const events = [];
  api.auth.subscribe((state, event) => events.push(`${event.type}:${state.status}`));
  api.auth.setTokens({ access_token: first, refresh_token: 'refresh-1', token_type: 'Bearer' });

  expect(await api.items()).toEqual([{ id: 1 }]);
  expect(seen).toEqual([
    `/api/items/ Bearer ${first}`,
    '/api/auth/token/refresh/ -',
    `/api/items/ Bearer ${second}`,
  ]);
  expect(events).toEqual(['initial:anonymous', 'signed_in:active', 'refreshed:active']);
  expect(String(api.auth.getSnapshot().claims.user_id)).toBe('7');
  api.auth.destroy();
});
