// A page with no framework: one client, created with no wasmUrl (the module is embedded in the
// package), the API called through auth.fetch. What it sees goes into the page and, for
// tests/consumer, into window.authTransitions.
import { createAuthClient } from 'authkeeper';

const el = (id) => document.querySelector(`[data-testid="${id}"]`);
let loads = 0;
window.authTransitions = [];

createAuthClient({ refreshUrl: '/api/auth/token/refresh/' }).then((auth) => {
  auth.subscribe((state, event) => {
    window.authTransitions.push({ type: event.type, status: state.status, reason: state.reason });
    el('status').textContent = state.status;
    el('reason').textContent = state.reason ?? '';
    el('user').textContent = state.claims?.user_id ?? '';
  });

  auth.fetch('/api/public/').then(
    (res) => { el('early').textContent = String(res.status); },
    (e) => { el('early').textContent = `error: ${e.message}`; },
  );

  el('login').onclick = async () => {
    const res = await fetch('/api/auth/login/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'wonderland' }),
    });
    auth.setTokens(await res.json());
  };
  el('load').onclick = async () => {
    const res = await auth.fetch('/api/paper-trades/');
    const body = await res.json();
    el('result').textContent = `#${++loads} ${res.status} ${Array.isArray(body) ? `${body.length} trades` : JSON.stringify(body)}`;
  };
  el('logout').onclick = () => auth.logout();
  for (const button of document.querySelectorAll('button')) button.disabled = false;
}, (e) => {
  el('boot-error').textContent = `${e.code}: ${e.message}`;
});
