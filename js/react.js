// authkeeper/react: the session as React state. A provider that holds the client (null while the
// app creates it, in an effect: on a server there is none), `useSession()` on React's
// useSyncExternalStore over `client.subscribe` / `client.getSnapshot`, and `useAuthFetch()`, a
// fetch of stable identity for data libraries that waits for the client when called before it.
import { createContext, createElement, useContext, useEffect, useMemo, useState, useSyncExternalStore } from 'react';

const AuthContext = createContext(undefined);

/** What `useSession()` gives while there is no client yet, and on the server. */
const LOADING = Object.freeze({ status: 'loading', expiresAt: null, claims: null, reason: null });
const loading = () => LOADING;
const nothingToSubscribe = () => () => {};

/**
 * Per provider, for its whole life: the current client, and a fetch that stays the same function
 * whichever client is current (what a data library is configured with once).
 */
function makeHolder() {
  let client = null;
  let waiters = [];
  const waitForClient = (signal) => new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const waiter = { resolve, reject, signal, onAbort: () => { waiters = waiters.filter((w) => w !== waiter); reject(signal.reason); } };
    signal?.addEventListener('abort', waiter.onAbort, { once: true });
    waiters.push(waiter);
  });
  return {
    set(next) {
      client = next;
      if (next === null) return;
      for (const waiter of waiters.splice(0)) {
        waiter.signal?.removeEventListener('abort', waiter.onAbort);
        waiter.resolve(next);
      }
    },
    async fetch(input, init) {
      const current = client ?? await waitForClient(init?.signal ?? (input instanceof Request ? input.signal : undefined));
      return current.fetch(input, init);
    },
  };
}

/**
 * Makes `client` (an AuthClient, or null until it is created) available to `useSession`,
 * `useAuth` and `useAuthFetch` below it.
 */
export function AuthProvider({ client, children }) {
  if (client === undefined) {
    throw new TypeError('authkeeper/react: <AuthProvider client={...}> needs a client, or null while it is being created');
  }
  const [holder] = useState(makeHolder);
  // Set in an effect (not during render, which React may repeat or discard); a fetch made before
  // it runs, from a child's effect say, waits for it.
  useEffect(() => { holder.set(client); }, [holder, client]);
  const value = useMemo(() => ({ client, holder }), [client, holder]);
  return createElement(AuthContext.Provider, { value }, children);
}

function useHolder(hook) {
  const value = useContext(AuthContext);
  if (value === undefined) throw new Error(`authkeeper/react: ${hook} needs an <AuthProvider> above it`);
  return value;
}

/** The client, or null while it is being created (and on the server). */
export function useAuth() {
  return useHolder('useAuth()').client;
}

/**
 * The session as state: `{ status, expiresAt, claims, reason }`, re-rendering on every change
 * (`status: 'loading'` until there is a client). Subscribes through useSyncExternalStore, which
 * reads the snapshot again after subscribing: a change made before (a logout at start-up) is
 * never missed, and StrictMode's or Fast Refresh's second mount subscribes again cleanly.
 */
export function useSession() {
  const { client } = useHolder('useSession()');
  return useSyncExternalStore(
    client ? client.subscribe : nothingToSubscribe,
    client ? client.getSnapshot : loading,
    loading,
  );
}

/**
 * `auth.fetch` with a stable identity, for data libraries (TanStack Query's queryFn, SWR's
 * fetcher, openapi-fetch's or ky's `fetch` option): called before the client exists it waits for
 * it (an abort signal still aborts the wait).
 */
export function useAuthFetch() {
  return useHolder('useAuthFetch()').holder.fetch;
}
