'use client';
// The session UI: the client is created in an effect (never during the server render), handed
// to authkeeper/react's provider, and read with its hooks. The same testids as the other
// examples (tests/consumer/support.mjs sessionRoundTrip).
import { useEffect, useRef, useState } from 'react';
import { AuthProvider, useAuth, useAuthFetch, useSession } from 'authkeeper/react';
import { getAuthClient } from './auth.js';

export function Session() {
  const [client, setClient] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    getAuthClient().then(setClient, setError);
  }, []);
  if (error) return <p data-testid="boot-error">{error.code}: {error.message}</p>;
  return (
    <AuthProvider client={client}>
      <Trades />
    </AuthProvider>
  );
}

function Trades() {
  const session = useSession();
  const auth = useAuth();
  const authFetch = useAuthFetch();
  const [result, setResult] = useState('');
  const [early, setEarly] = useState('');
  const loads = useRef(0);

  // Called on mount, before the client exists: useAuthFetch's fetch waits for it.
  useEffect(() => {
    const controller = new AbortController();
    authFetch('/api/public/', { signal: controller.signal }).then(
      (res) => setEarly(String(res.status)),
      (e) => { if (e.name !== 'AbortError') setEarly(`error: ${e.message}`); },
    );
    return () => controller.abort();
  }, [authFetch]);

  async function login() {
    const res = await fetch('/api/auth/login/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'wonderland' }),
    });
    auth.setTokens(await res.json());
  }

  async function loadTrades() {
    const res = await authFetch('/api/paper-trades/');
    const body = await res.json();
    setResult(`#${++loads.current} ${res.status} ${Array.isArray(body) ? `${body.length} trades` : JSON.stringify(body)}`);
  }

  return (
    <main>
      <p>Session: <b data-testid="status">{session.status}</b>{' '}
        <span data-testid="reason">{session.reason ?? ''}</span>{' '}
        user <span data-testid="user">{session.claims?.user_id ?? ''}</span></p>
      <p>Early fetch: <span data-testid="early">{early}</span></p>
      <button data-testid="login" disabled={!auth} onClick={login}>Log in as alice</button>
      <button data-testid="load" disabled={!auth} onClick={loadTrades}>Load trades</button>
      <button data-testid="logout" disabled={!auth} onClick={() => auth.logout()}>Log out</button>
      <p>Trades: <span data-testid="result">{result}</span></p>
    </main>
  );
}
