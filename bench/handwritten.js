// The baseline: the minimal fetch interceptor people write by hand. It attaches the bearer,
// and on a 401 awaits one shared refresh promise and retries once. Nothing else: no expiry
// check before sending, no queue, no breaker, no cross-tab coordination, no replay of bodies
// (it re-sends `init` as given, which is fine for strings and fails for streams).
export function createInterceptor({ fetch: fetchImpl = globalThis.fetch.bind(globalThis), access, refresh, refreshUrl }) {
  let refreshing = null;

  const withBearer = (input, init, token) => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('Authorization', `Bearer ${token}`);
    return fetchImpl(input, { ...init, headers });
  };

  const refreshOnce = async () => {
    const res = await fetchImpl(refreshUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh }),
    });
    if (!res.ok) throw new Error(`refresh failed: ${res.status}`);
    const body = await res.json();
    access = body.access;
    if (body.refresh) refresh = body.refresh;
    return access;
  };

  return async function authFetch(input, init) {
    const response = await withBearer(input, init, access);
    if (response.status !== 401) return response;
    refreshing ??= refreshOnce().finally(() => { refreshing = null; });
    let fresh;
    try { fresh = await refreshing; } catch { return response; }
    return withBearer(input, init, fresh);
  };
}
