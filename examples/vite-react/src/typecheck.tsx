// Not part of the app: what `tsc --strict` (run by tests/consumer) must accept and reject in the
// package's types, through the package's exports map.
import { createAuthClient, type AuthClient, type ErrorCode, type SessionState, type WasmSource } from 'authkeeper';
import { AuthProvider, useAuth, useAuthFetch, useSession, type LoadingSession } from 'authkeeper/react';

export function Good({ client }: { client: AuthClient | null }) {
  return <AuthProvider client={client}><Status /></AuthProvider>;
}

function Status() {
  const session: SessionState | LoadingSession = useSession();
  const auth: AuthClient | null = useAuth();
  const authFetch: typeof fetch = useAuthFetch();
  if (session.status === 'loading') {
    const nothing: null = session.claims;
    return <p>{nothing}</p>;
  }
  const when: number | null = session.expiresAt;
  void authFetch('/api/', { method: 'GET' });
  auth?.subscribe((state, event) => {
    if (event.type === 'signed_out') { const reason: string = event.reason; void reason; }
    if (event.type === 'expiring') { const n: number = event.expiresIn; void n; }
    const s: 'anonymous' | 'active' | 'logged_out' = state.status;
    void s;
  });
  return <p>{session.status} {when}</p>;
}

export async function loaders(bytes: ArrayBuffer, module: WebAssembly.Module) {
  await createAuthClient({ refreshUrl: '/r', wasmUrl: '/assets/authkeeper_bg.wasm' });
  await createAuthClient({ refreshUrl: '/r', wasmUrl: new URL('https://cdn.example/authkeeper_bg.wasm') });
  await createAuthClient({ refreshUrl: '/r', wasmUrl: fetch('/authkeeper_bg.wasm') });
  await createAuthClient({ refreshUrl: '/r', wasmUrl: bytes });
  await createAuthClient({ refreshUrl: '/r', wasmUrl: new Uint8Array(bytes) });
  await createAuthClient({ refreshUrl: '/r', wasmUrl: module as unknown as WasmSource });
  const codes: ErrorCode[] = ['wasm_load_failed', 'not_in_browser'];
  return codes;
}

export function Misuse({ client }: { client: AuthClient }) {
  // @ts-expect-error the provider needs a client (or null)
  const a = <AuthProvider><Status /></AuthProvider>;
  // @ts-expect-error not a client
  const b = <AuthProvider client={{}}><Status /></AuthProvider>;
  // @ts-expect-error wasmUrl is not a number
  void createAuthClient({ refreshUrl: '/r', wasmUrl: 42 });
  // @ts-expect-error not an ErrorCode
  const code: ErrorCode = 'wasm_failed';
  // @ts-expect-error the hook takes no argument
  useSession(client);
  // @ts-expect-error a listener's state is read-only
  client.subscribe((state) => { state.status = 'active'; });
  return <>{a}{b}{code}</>;
}

export function Narrowing() {
  const session = useSession();
  // @ts-expect-error status may be 'loading' with no claims
  const sub: unknown = session.claims.sub;
  return <p>{String(sub)}</p>;
}
