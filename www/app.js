// The authkeeper demo: a small paper-trading SPA that uses the package exactly as an app would
// (import by name, one client, every API call through auth.fetch), plus a control panel that
// drives the reference dev server's admin endpoints to provoke each failure mode.
//
// Query parameters (all optional) — see www/README.md:
//   mode=simplejwt|oauth|cookie      initial backend contract (otherwise the last one used)
//   storage=local|session|memory     token storage
//   accessTtl=<s> refreshTtl=<s>     POST /__admin/config on load (server token lifetimes)
//   leeway=<ms> expiringWarning=<ms> refreshTimeout=<ms> refreshWhenHidden=1
//   maxAttempts= baseDelay= maxDelay= cooldown= giveUpAfter=   the client's `retry` options (ms)
//   tabLock=0                        disable the cross-tab refresh lock (tests only)
//   poll=<ms>                        start with "poll the API" on, at this interval (0 = off)
import { createAuthClient, decodeJwt, isAuthkeeperError } from 'authkeeper';

const params = new URLSearchParams(location.search);
const num = (name) => {
  const raw = params.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
};
const flag = (name) => {
  const raw = params.get(name);
  return raw === null ? undefined : !['0', 'false', 'no', 'off'].includes(raw.toLowerCase());
};

// Demo-only keys avoid the words the SDK clears on logout ("token", "auth", "user").
const MODE_KEY = 'demo:mode';
const MODES = {
  simplejwt: {
    refreshUrl: '/api/auth/token/refresh/', refreshFormat: 'simplejwt', refreshMode: 'body',
    hint: 'POST /api/auth/token/refresh/ {refresh} → {access, refresh} · rotation + blacklist',
  },
  oauth: {
    refreshUrl: '/api/auth/oauth/token/', refreshFormat: 'oauth', refreshMode: 'body',
    hint: 'POST /api/auth/oauth/token/ {refresh_token} → {access_token, refresh_token, expires_in}',
  },
  cookie: {
    refreshUrl: '/api/auth/cookie/refresh/', refreshFormat: 'simplejwt', refreshMode: 'cookie',
    hint: 'POST /api/auth/cookie/refresh/ with the httpOnly refresh cookie → {access}',
  },
};
const POLL_MS = Math.max(250, num('poll') || 1000);
const BURST = 20;
const MAX_LOG = 250;

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
};
const clock = (t = Date.now()) => {
  const d = new Date(t);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
};
const pathOf = (url) => { try { const u = new URL(url, location.href); return u.pathname + u.search; } catch { return String(url); } };
const describeError = (e) => (isAuthkeeperError(e) ? `${e.name} (${e.code}): ${e.message}` : `${e?.name ?? 'Error'}: ${e?.message ?? e}`);

// ---------------------------------------------------------------------------------------------
// State shared with the tests (read-only for them): events, trace, results, breaker history.
const demo = {
  auth: null,
  mode: null,
  events: [],          // {type, at, detail, prevExpiresAt?}
  trace: [],           // onTrace entries + refresh calls, with `at`
  results: [],         // {action, ok, total, statuses, text}
  breakerHistory: [],  // {at, breaker}
  ready: false,
};
window.demo = demo;

let auth = null;
let mode = 'simplejwt';
let view = 'boot';
let currentExpiresAt = null;
let tokenLifetime = null;
let pollTimer = null;
let lastBreaker = null;

// ---------------------------------------------------------------------------------------------
// The client

function clientOptions(m) {
  const preset = MODES[m];
  const retry = {};
  for (const k of ['maxAttempts', 'baseDelay', 'maxDelay', 'cooldown', 'giveUpAfter']) {
    const v = num(k);
    if (v !== undefined) retry[k] = v;
  }
  const options = {
    refreshUrl: preset.refreshUrl,
    refreshFormat: preset.refreshFormat,
    refreshMode: preset.refreshMode,
    storage: params.get('storage') ?? 'local',
    // The package's defaults plus this backend's other anonymous endpoints: no bearer, no refresh.
    skipRefreshFor: ['/login', '/register', '/verify-otp', '/logout', '/api/public/'],
    expiringWarning: num('expiringWarning') ?? 10_000,
    retry,
    onTrace,
    fetch: tracedFetch,
  };
  if (num('leeway') !== undefined) options.leeway = num('leeway');
  if (num('refreshTimeout') !== undefined) options.refreshTimeout = num('refreshTimeout');
  if (flag('refreshWhenHidden') !== undefined) options.refreshWhenHidden = flag('refreshWhenHidden');
  // tabLock=0 turns the cross-tab refresh lock off: only for the test that proves it matters.
  if (flag('tabLock') !== undefined) options.tabLock = flag('tabLock');
  return options;
}

async function makeClient(m) {
  if (auth) auth.destroy();
  auth = null;
  demo.auth = null;
  mode = m;
  demo.mode = m;
  $('#header-mode').textContent = m;
  auth = await createAuthClient(clientOptions(m));
  demo.auth = auth;
  return auth;
}

/** The `fetch` handed to the client: the real fetch, with the refresh calls put on the timeline. */
function tracedFetch(input, init) {
  const url = typeof input === 'string' || input instanceof URL ? String(input) : input.url;
  const promise = window.fetch(input, init);
  const refreshPath = MODES[mode].refreshUrl;
  if (pathOf(url) === refreshPath) {
    const started = performance.now();
    addTrace({ id: '↻', url, phase: 'refresh', note: 'POST' });
    promise.then(
      (res) => addTrace({ id: '↻', url, phase: 'refresh', status: res.status, note: `${Math.round(performance.now() - started)} ms` }),
      (err) => addTrace({ id: '↻', url, phase: 'refresh', status: 0, note: err?.name === 'AbortError' ? 'timed out' : 'network error' }),
    );
  }
  return promise;
}

function onTrace(entry) {
  addTrace({ ...entry });
}

// ---------------------------------------------------------------------------------------------
// Timeline and event log

function addTrace(entry) {
  entry.at = Date.now();
  demo.trace.push(entry);
  if (demo.trace.length > 5000) demo.trace.splice(0, demo.trace.length - 5000);
  const phase = entry.phase;
  let cls = `ph ph-${phase}`;
  if (phase === 'done' || phase === 'replayed' || (phase === 'refresh' && entry.status !== undefined)) {
    cls += entry.status >= 200 && entry.status < 400 ? ' st-ok' : ' st-bad';
  }
  const status = entry.status !== undefined ? (entry.status === 0 ? ' ✕' : ` ${entry.status}`) : '';
  const li = el('li', { dataset: { phase, id: String(entry.id), status: entry.status ?? '' } },
    el('span', { class: 't' }, clock(entry.at)),
    el('span', { class: 'id' }, typeof entry.id === 'number' ? `#${entry.id}` : entry.id),
    el('span', { class: cls }, `${phase}${status}`),
    el('span', { class: 'url' }, pathOf(entry.url)),
    entry.note ? el('span', { class: 'note' }, entry.note) : null,
  );
  appendCapped($('#timeline'), li);
}

function appendCapped(list, li) {
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  while (list.children.length > MAX_LOG) list.firstElementChild.remove();
  if (stick) list.scrollTop = list.scrollHeight;
}

function logEvent(type, detail, text, extra = {}) {
  const record = { type, at: Date.now(), detail: detail ? { ...detail } : null, ...extra };
  demo.events.push(record);
  const li = el('li', { class: `ev ev-${type.replace(/[^a-z]+/gi, '-')}`, dataset: { event: type, reason: detail?.reason ?? '' } },
    el('span', { class: 't' }, clock(record.at)),
    el('span', { class: 'ev-name' }, type),
    el('span', { class: 'ev-text' }, text),
  );
  appendCapped($('#events'), li);
  return record;
}

window.addEventListener('auth:expiring', (e) => {
  logEvent('auth:expiring', e.detail, `expires in ${(e.detail.expiresIn / 1000).toFixed(1)} s`);
});

window.addEventListener('auth:refreshed', (e) => {
  const prev = currentExpiresAt;
  const now = Date.now();
  const margin = prev ? prev - now : null;
  const when = margin === null ? ''
    : margin >= 0 ? ` · ${(margin / 1000).toFixed(1)} s before the old one expired`
      : ` · ${(-margin / 1000).toFixed(1)} s after the old one expired (requests waited)`;
  logEvent('auth:refreshed', e.detail, `new expiry ${clock(e.detail.expiresAt)}${when}`, { prevExpiresAt: prev });
  pollServer();
  tokenLifetime = e.detail.expiresAt - now;
  currentExpiresAt = e.detail.expiresAt;
  showTokenClaims();
});

window.addEventListener('auth:logout', (e) => {
  const { reason, message } = e.detail ?? {};
  logEvent('auth:logout', e.detail, `${reason}${message ? ` — ${message}` : ''}`);
  pollServer();
  currentExpiresAt = null;
  showLogin({ reason, message });
});

// ---------------------------------------------------------------------------------------------
// Views

function setView(next) {
  view = next;
  $('#login-view').hidden = next !== 'login';
  $('#app-view').hidden = next !== 'app';
  document.body.dataset.view = next;
  // The server panel sits under the login card, or in the app grid.
  const inner = $('#server-inner');
  if (next === 'app') $('[data-server-slot]').append(inner);
  else $('#server-panel').append(inner);
  $('#server-panel').hidden = next === 'app';
}

const REASONS = {
  user_not_found: 'Your account no longer exists (the database was reset). Please sign in again.',
  user_inactive: 'Your account has been deactivated.',
  invalid_token: 'The stored session was invalid and has been cleared.',
  refresh_token_required: 'The session had no refresh token.',
  session_expired: 'Your session expired.',
  refresh_unavailable: 'The sign-in service kept failing, so the session was ended safely.',
  manual: 'You signed out.',
  remote: 'You signed out in another tab.',
};

function showLogin(logout) {
  stopPolling();
  setView('login');
  const banner = $('#logout-reason');
  if (logout) {
    banner.hidden = false;
    banner.dataset.reason = logout.reason ?? '';
    banner.classList.toggle('notice-info', logout.reason === 'manual');
    $('#logout-reason-title').textContent = `Signed out · ${logout.reason}`;
    $('#logout-reason-text').textContent = `${REASONS[logout.reason] ?? ''}${logout.message ? ` (${logout.message})` : ''}`;
    if (logout.reason === 'user_inactive') {
      const btn = el('button', { class: 'btn btn-small', type: 'button', 'data-testid': 'btn-reactivate' }, 'Reactivate alice');
      btn.addEventListener('click', async () => {
        await admin('/__admin/user/activate');
        btn.replaceWith(el('span', { class: 'small' }, ' Reactivated — sign in again.'));
      });
      $('#logout-reason-text').append(' ', btn);
    }
  }
  selectMode(mode);
  setHeaderStatus('signed-out', 'signed out');
}

async function enterApp() {
  setView('app');
  $('#who-name').textContent = $('#username').value || 'alice';
  $('#trades-body').replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 6 }, 'Loading…')));
  const s = auth.state();
  currentExpiresAt = s.expiresAt;
  tokenLifetime = s.expiresAt ? s.expiresAt - Date.now() : null;
  showTokenClaims();
  if ($('#autopoll').checked) startPolling();
  await loadTrades();
}

function selectMode(m) {
  const input = $(`input[name="mode"][value="${m}"]`);
  if (input) input.checked = true;
  $('#mode-hint').textContent = MODES[m].hint;
}

function setHeaderStatus(kind, text) {
  const chip = $('[data-testid="header-status"]');
  chip.dataset.status = kind;
  $('#header-status').textContent = text;
}

function setResult(text, { kind = 'info', action = '', ok, total, status } = {}) {
  const box = $('#last-result');
  box.textContent = text;
  box.dataset.kind = kind;
  box.dataset.action = action;
  box.dataset.ok = ok ?? '';
  box.dataset.total = total ?? '';
  box.dataset.status = status ?? '';
  demo.results.push({ action, text, kind, ok, total, status, at: Date.now() });
}

// ---------------------------------------------------------------------------------------------
// Session panel, polled every 250 ms from auth.state()

async function showTokenClaims() {
  const box = $('#token-claims');
  if (!auth) return;
  try {
    const s = auth.state();
    if (s.status !== 'active') return;
    const token = await auth.getAccessToken();
    if (!token) { box.textContent = ''; return; }
    const claims = decodeJwt(token);
    $('#who-id').textContent = claims.user_id ?? claims.sub ?? '?';
    const parts = [];
    if (claims.exp) parts.push(`exp ${clock(claims.exp * 1000)} (server clock)`);
    if (claims.iat && claims.exp) parts.push(`lifetime ${claims.exp - claims.iat} s`);
    if (claims.jti) parts.push(`jti ${String(claims.jti).slice(0, 8)}…`);
    box.textContent = parts.join(' · ');
  } catch (e) {
    box.textContent = `opaque token (${e.code ?? 'not a JWT'})`;
  }
}

function renderState() {
  if (!auth) return;
  let s;
  try { s = auth.state(); } catch { return; }
  if (!s) return;
  demo.lastState = s;
  const status = $('#status');
  status.textContent = s.status;
  status.dataset.value = s.status;
  const breaker = $('#breaker');
  const openFor = s.breaker === 'open' && s.breakerOpenUntil ? ` · ${Math.max(0, (s.breakerOpenUntil - Date.now()) / 1000).toFixed(1)} s` : '';
  breaker.textContent = s.breaker + openFor;
  breaker.dataset.value = s.breaker;
  if (s.breaker !== lastBreaker) {
    if (lastBreaker !== null) {
      demo.breakerHistory.push({ at: Date.now(), breaker: s.breaker });
      if (view === 'app') logEvent('breaker', { breaker: s.breaker }, `circuit breaker ${lastBreaker} → ${s.breaker}`);
    }
    lastBreaker = s.breaker;
  }
  $('#refresh-count').textContent = String(s.refreshCount);
  $('#clock-offset').textContent = formatOffset(s.clockOffset);
  $('#waiting').textContent = String(s.waiting);
  $('#storage').textContent = `${s.storage === 'web' ? (params.get('storage') ?? 'local') + 'Storage' : 'memory'}`;

  const left = s.expiresAt ? s.expiresAt - Date.now() : null;
  const countdown = $('#countdown');
  if (left === null) {
    countdown.textContent = '—';
  } else {
    countdown.textContent = left > 0 ? `${(left / 1000).toFixed(1)} s` : `expired ${(-left / 1000).toFixed(1)} s ago`;
  }
  countdown.dataset.ms = left === null ? '' : String(Math.round(left));
  const frac = left !== null && tokenLifetime ? Math.max(0, Math.min(1, left / tokenLifetime)) : 0;
  const bar = $('#countdown-bar');
  bar.style.width = `${(frac * 100).toFixed(1)}%`;
  bar.dataset.level = frac > 0.5 ? 'ok' : frac > 0.2 ? 'warn' : 'bad';

  if (view === 'app') {
    const label = s.status === 'refreshing' ? 'refreshing…' : s.breaker === 'open' ? 'breaker open' : s.status;
    setHeaderStatus(s.breaker === 'open' ? 'bad' : s.status, label);
  }
}

function formatOffset(ms) {
  if (!ms) return '0 ms';
  const sign = ms > 0 ? '+' : '−';
  const abs = Math.abs(ms);
  return abs >= 60_000 ? `${sign}${(abs / 60_000).toFixed(1)} min` : abs >= 1000 ? `${sign}${(abs / 1000).toFixed(1)} s` : `${sign}${abs} ms`;
}

// ---------------------------------------------------------------------------------------------
// Server panel: /__admin/state every second (the demo's control plane, plain fetch on purpose)

async function admin(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  const json = await res.json().catch(() => null);
  if (json?.counters) renderServer(json);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${json?.detail ?? ''}`);
  return json;
}

async function pollServer() {
  try {
    const res = await fetch('/__admin/state', { cache: 'no-store' });
    if (res.ok) renderServer(await res.json());
  } catch { /* server restarting: keep the last values */ }
}

function renderServer(st) {
  demo.server = st;
  for (const [key, value] of Object.entries(st.counters ?? {})) {
    const node = document.querySelector(`[data-testid="counter-${key}"]`);
    if (node && node.textContent !== String(value)) {
      node.textContent = String(value);
      node.closest('.counter')?.classList.toggle('nonzero', value > 0);
    }
  }
  const c = st.config ?? {};
  const secs = (n) => (n >= 3600 && n % 3600 === 0 ? `${n / 3600} h` : n >= 60 && n % 60 === 0 ? `${n / 60} min` : `${n} s`);
  $('#srv-ttl').textContent = c.access_ttl !== undefined ? `access ${secs(c.access_ttl)} · refresh ${secs(c.refresh_ttl)}` : '–';
  $('#srv-rotate').textContent = c.rotate ? `on${c.blacklist ? ' + blacklist' : ''}` : 'off';
  const f = st.faults ?? {};
  const fault = !f.refresh || f.refresh === 'none' ? 'none'
    : `${f.refresh}${f.refresh === '429' ? ` (Retry-After ${f.retry_after} s)` : ''}${f.refresh === 'hang' ? ` (${f.hang_ms} ms)` : ''}${f.times != null ? ` × ${f.times} more` : ' until cleared'}`;
  const faultNode = $('#srv-fault');
  faultNode.textContent = fault;
  faultNode.dataset.active = fault === 'none' ? '' : '1';
  const skew = c.clock_skew_seconds ?? 0;
  $('#srv-skew').textContent = skew ? `${skew > 0 ? '+' : '−'}${Math.abs(skew)} s` : 'none';
  const u = st.user ?? {};
  $('#srv-user').textContent = u.id !== undefined ? `#${u.id} ${u.username ?? ''} · ${u.active ? 'active' : 'inactive'}` : '–';
}

async function applyServerConfig() {
  const body = {};
  if (num('accessTtl') !== undefined) body.access_ttl = Math.round(num('accessTtl'));
  if (num('refreshTtl') !== undefined) body.refresh_ttl = Math.round(num('refreshTtl'));
  if (Object.keys(body).length) await admin('/__admin/config', body);
}

// ---------------------------------------------------------------------------------------------
// The app's API calls — all through auth.fetch

async function loadTrades({ quiet = false } = {}) {
  if (!auth || view !== 'app') return;
  try {
    const res = await auth.fetch('/api/paper-trades/');
    if (!res.ok) {
      if (!quiet) setResult(`GET /api/paper-trades/ → ${res.status}`, { kind: 'bad', action: 'trades', status: res.status });
      return;
    }
    renderTrades(await res.json());
  } catch (e) {
    if (e?.name === 'AbortError') return;
    setResult(`GET /api/paper-trades/ failed: ${describeError(e)}`, { kind: 'bad', action: 'trades' });
  }
}

function renderTrades(trades, highlight) {
  if (view !== 'app') return;
  const body = $('#trades-body');
  if (!trades.length) {
    body.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 6 }, 'No trades yet.')));
  } else {
    body.replaceChildren(...[...trades].reverse().map((t) => el('tr', { class: t.id === highlight ? 'fresh' : '', dataset: { id: t.id } },
      el('td', { class: 'mono muted' }, String(t.id)),
      el('td', { class: 'sym' }, t.symbol),
      el('td', {}, el('span', { class: `side side-${t.side}` }, t.side)),
      el('td', { class: 'num mono' }, String(t.qty)),
      el('td', { class: 'num mono' }, Number(t.price).toFixed(2)),
      el('td', { class: 'mono muted' }, new Date(t.created_at).toLocaleTimeString()),
    )));
  }
  $('#trades-updated').textContent = `${trades.length} trades · updated ${clock().slice(0, 8)}`;
  $('#trades-body').dataset.count = String(trades.length);
}

function startPolling() {
  stopPolling();
  pollTimer = setInterval(() => loadTrades({ quiet: true }), POLL_MS);
}
function stopPolling() {
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
}

const actions = {
  async burst() {
    const before = auth.state().refreshCount;
    const t0 = performance.now();
    setResult(`Firing ${BURST} concurrent requests…`, { action: 'burst-start' });
    const settled = await Promise.allSettled(Array.from({ length: BURST }, () => auth.fetch('/api/paper-trades/')));
    const ms = Math.round(performance.now() - t0);
    const statuses = settled.map((r) => (r.status === 'fulfilled' ? r.value.status : describeError(r.reason)));
    const ok = settled.filter((r) => r.status === 'fulfilled' && r.value.ok).length;
    const refreshes = auth.state().refreshCount - before;
    const firstOk = settled.find((r) => r.status === 'fulfilled' && r.value.ok);
    if (firstOk) renderTrades(await firstOk.value.json());
    const failures = statuses.filter((s) => s !== 200);
    setResult(`${BURST} concurrent requests: ${ok}/${BURST} OK in ${ms} ms · ${refreshes} refresh${refreshes === 1 ? '' : 'es'} by this client`
      + (failures.length ? ` · failures: ${[...new Set(failures)].join(', ')}` : ''),
    { kind: ok === BURST ? 'ok' : 'bad', action: 'burst', ok, total: BURST });
    demo.results.at(-1).statuses = statuses;
  },

  'reload-trades': () => loadTrades(),

  async createTrade(form) {
    const data = new FormData(form);
    const trade = { symbol: String(data.get('symbol')).trim(), side: data.get('side'), qty: Number(data.get('qty')) };
    const res = await auth.fetch('/api/paper-trades/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(trade),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 201) {
      setResult(`POST /api/paper-trades/ → 201 · #${body.id} ${body.side} ${body.qty} ${body.symbol} @ ${Number(body.price).toFixed(2)}`,
        { kind: 'ok', action: 'create-trade', status: 201 });
      const list = await auth.fetch('/api/paper-trades/');
      if (list.ok) renderTrades(await list.json(), body.id);
    } else {
      setResult(`POST /api/paper-trades/ → ${res.status} ${body.detail ?? ''}`, { kind: 'bad', action: 'create-trade', status: res.status });
    }
  },

  async upload(form) {
    const picked = form.elements.file.files?.[0];
    const file = picked ?? new File([`date,symbol,side,qty\n${new Date().toISOString().slice(0, 10)},NVDA,buy,3\n`], 'statement.csv', { type: 'text/csv' });
    const data = new FormData();
    data.append('note', 'monthly statement');
    data.append('file', file);
    const res = await auth.fetch('/api/paper-trades/upload/', { method: 'POST', body: data });
    const body = await res.json().catch(() => ({}));
    if (res.status === 201) {
      const files = (body.files ?? []).map((f) => `${f.filename} (${f.size} B)`).join(', ');
      setResult(`POST /api/paper-trades/upload/ → 201 · fields: ${Object.keys(body.fields ?? {}).join(', ')} · files: ${files}`,
        { kind: 'ok', action: 'upload', status: 201 });
    } else {
      setResult(`POST /api/paper-trades/upload/ → ${res.status} ${body.detail ?? ''}`, { kind: 'bad', action: 'upload', status: res.status });
    }
  },

  async 'fault-500'() {
    await admin('/__admin/fault', { refresh: '500' });
    setResult('The refresh endpoint now answers 500 (Django\'s HTML error page) until cleared. Watch the backoff and the breaker at the next refresh.', { kind: 'warn', action: 'fault-500' });
  },
  async 'fault-hang'() {
    await admin('/__admin/fault', { refresh: 'hang', hang_ms: 3000 });
    setResult('Refresh now takes 3 s. Fire requests during a refresh: they wait in the queue and go out together.', { kind: 'warn', action: 'fault-hang' });
  },
  async 'fault-429'() {
    await admin('/__admin/fault', { refresh: '429', retry_after: 2, times: 2 });
    setResult('The next 2 refresh calls answer 429 with Retry-After: 2. The client waits as told, then recovers.', { kind: 'warn', action: 'fault-429' });
  },
  async 'fault-clear'() {
    await admin('/__admin/fault', { refresh: 'none' });
    setResult('Refresh faults cleared.', { kind: 'ok', action: 'fault-clear' });
  },

  async 'delete-user'() {
    await admin('/__admin/user/delete');
    setResult('Database reset: the user row was recreated under a new id. The next API call meets the stale session…', { kind: 'warn', action: 'delete-user' });
    await loadTrades({ quiet: true });
  },
  async deactivate() {
    await admin('/__admin/user/deactivate');
    setResult('User deactivated on the server. The next API call meets the stale session…', { kind: 'warn', action: 'deactivate' });
    await loadTrades({ quiet: true });
  },

  async corrupt() {
    const keep = MODES[mode].refreshMode === 'cookie' ? 'accessToken' : 'refreshToken';
    const storage = params.get('storage') === 'session' ? sessionStorage : localStorage;
    // Opaque garbage (no dots): it cannot be judged locally, so the server rejects it.
    storage.setItem(keep, `garbage-${Math.random().toString(36).slice(2)}`);
    await makeClient(mode);
    const s = auth.state();
    setResult(`Wrote garbage into ${params.get('storage') === 'session' ? 'sessionStorage' : 'localStorage'}.${keep} and re-created the client (status: ${s.status}).`
      + (s.status === 'active' ? ' The server rejects it at the next refresh.' : ''), { kind: 'warn', action: 'corrupt' });
    if (s.status === 'active' || s.status === 'refreshing') await loadTrades({ quiet: true });
  },

  async 'skew-plus'() { await skew(600); },
  async 'skew-minus'() { await skew(-600); },
  async 'skew-reset'() { await skew(0); },

  async register() {
    const res = await auth.fetch('/api/auth/register/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: `bob${Date.now() % 1000}`, password: 'rabbit-hole' }),
    });
    setResult(`POST /api/auth/register/ → ${res.status} (anonymous: no bearer attached)`, { kind: res.ok ? 'ok' : 'bad', action: 'register', status: res.status });
  },
  async otp() {
    const before = auth.state().refreshCount;
    const res = await auth.fetch('/api/auth/verify-otp/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ otp: '000000' }),
    });
    const after = auth.state().refreshCount;
    setResult(`POST /api/auth/verify-otp/ → ${res.status} · ${after - before} refreshes triggered (a 401 here is the answer, not an expired session)`,
      { kind: res.status === 401 ? 'info' : 'bad', action: 'otp', status: res.status });
  },
  async public() {
    const res = await auth.fetch('/api/public/');
    setResult(`GET /api/public/ → ${res.status}`, { kind: res.ok ? 'ok' : 'bad', action: 'public', status: res.status });
  },

  'clear-log'() {
    $('#timeline').replaceChildren();
    $('#events').replaceChildren();
  },
  async 'reset-counters'() { await admin('/__admin/counters/reset'); },
  async 'reset-server'() { await admin('/__admin/reset'); await applyServerConfig(); },
};

async function skew(seconds) {
  await admin('/__admin/clock', { skew_seconds: seconds });
  setResult(seconds ? `Server clock moved ${seconds > 0 ? '+' : '−'}${Math.abs(seconds) / 60} min. New tokens carry the server's time; the client re-estimates its clock offset from them.`
    : 'Server clock back to real time.', { kind: 'warn', action: 'skew' });
  await loadTrades({ quiet: true });
}

async function logout() {
  // Blacklist the refresh token on the server (or clear the cookie), then end the session locally.
  const storage = params.get('storage') === 'session' ? sessionStorage : localStorage;
  const refresh = storage.getItem('refreshToken');
  try {
    await auth.fetch('/api/auth/logout/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(refresh ? { refresh } : {}),
    });
  } catch { /* logging out either way */ }
  auth.logout();
}

// ---------------------------------------------------------------------------------------------
// Login

async function login(event) {
  event.preventDefault();
  const button = $('#login-button');
  const error = $('#login-error');
  error.hidden = true;
  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    const selected = new FormData($('#login-form')).get('mode') ?? 'simplejwt';
    if (selected !== mode || !auth) await makeClient(selected);
    localStorage.setItem(MODE_KEY, selected);
    const res = await auth.fetch(`/api/auth/login/?mode=${encodeURIComponent(selected)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: $('#username').value, password: $('#password').value }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      error.hidden = false;
      error.dataset.status = String(res.status);
      error.textContent = `${res.status} · ${body.detail ?? res.statusText}${body.code ? ` (${body.code})` : ''}`;
      return;
    }
    if (selected === 'oauth') {
      auth.setTokens({ access: body.access_token, refresh: body.refresh_token, expiresIn: body.expires_in });
    } else if (selected === 'cookie') {
      auth.setTokens({ access: body.access }); // the refresh token stays in its httpOnly cookie
    } else {
      auth.setTokens({ access: body.access, refresh: body.refresh });
    }
    // App data an SPA typically keeps; the package clears it on logout (key contains "user").
    localStorage.setItem('currentUser', JSON.stringify({ username: $('#username').value, mode: selected }));
    $('#logout-reason').hidden = true;
    logEvent('login', null, `signed in (${selected})`);
    await enterApp();
  } catch (e) {
    error.hidden = false;
    error.dataset.status = 'error';
    error.textContent = describeError(e);
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring and start-up

function wire() {
  $('#login-form').addEventListener('submit', login);
  for (const input of document.querySelectorAll('input[name="mode"]')) {
    input.addEventListener('change', () => { $('#mode-hint').textContent = MODES[input.value].hint; });
  }
  $('#logout-button').addEventListener('click', () => logout());
  $('#trade-form').addEventListener('submit', (e) => { e.preventDefault(); run('createTrade', e.currentTarget); });
  $('#upload-form').addEventListener('submit', (e) => { e.preventDefault(); run('upload', e.currentTarget); });
  $('#autopoll').addEventListener('change', (e) => (e.target.checked && view === 'app' ? startPolling() : stopPolling()));
  $('#poll-every').textContent = POLL_MS % 1000 === 0 ? `${POLL_MS / 1000} s` : `${POLL_MS} ms`;
  if ((num('poll') ?? 0) > 0) $('#autopoll').checked = true;
  document.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-action]');
    if (button) run(button.dataset.action, button);
  });
}

async function run(name, arg) {
  const action = actions[name];
  if (!action) return;
  const button = arg instanceof HTMLButtonElement ? arg : null;
  button?.classList.add('busy');
  try {
    await action(arg);
  } catch (e) {
    setResult(`${name}: ${describeError(e)}`, { kind: 'bad', action: name });
  } finally {
    await pollServer();
    button?.classList.remove('busy');
  }
}

async function boot() {
  wire();
  const requested = params.get('mode');
  const stored = localStorage.getItem(MODE_KEY);
  mode = MODES[requested] ? requested : MODES[stored] ? stored : 'simplejwt';
  selectMode(mode);
  setView('login');
  await pollServer();
  await applyServerConfig();
  await makeClient(mode);
  const s = auth.state();
  if (view === 'login' && (s.status === 'active' || s.status === 'refreshing')) {
    // A stored session: resume it (an expired access token is refreshed first, transparently).
    try { $('#username').value = JSON.parse(localStorage.getItem('currentUser'))?.username ?? 'alice'; } catch { /* ignore */ }
    logEvent('resume', null, `stored session found (${s.status})`);
    await enterApp();
  } else if (!$('#logout-reason').dataset.reason) {
    setHeaderStatus('signed-out', 'signed out');
  }
  setInterval(renderState, 250);
  setInterval(pollServer, 1000);
  renderState();
  demo.ready = true;
  document.body.dataset.ready = '1';
  $('#main').setAttribute('aria-busy', 'false');
}

boot().catch((e) => {
  const box = $('#boot-error');
  box.hidden = false;
  box.textContent = `The demo could not start: ${describeError(e)}. Was the package built (npm run build → pkg/)?`;
  setHeaderStatus('bad', 'failed to start');
  document.body.dataset.ready = 'error';
  console.error(e);
});
