export type LogoutReason =
  | 'user_not_found' | 'user_inactive' | 'invalid_token' | 'refresh_token_required'
  | 'session_expired' | 'refresh_unavailable' | 'manual' | 'remote';

/** Every code the package produces (held to the Rust list in src/core/errors.rs by a test). */
export type ErrorCode =
  | 'invalid_option' | 'refresh_unavailable' | 'logged_out' | 'no_session' | 'destroyed'
  | 'malformed_token' | 'not_ready' | 'busy' | 'no_refresh_token' | 'wasm_load_failed' | 'not_in_browser';

export class AuthkeeperError extends Error {
  readonly name: 'AuthkeeperError' | 'RefreshUnavailable';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string);
}
export class RefreshUnavailable extends AuthkeeperError {
  readonly code: 'refresh_unavailable';
}
export function isAuthkeeperError(e: unknown): e is AuthkeeperError;

export interface RetryOptions {
  /** Consecutive failed refresh attempts before the breaker opens. Default 3. */
  maxAttempts?: number;
  /** First backoff delay, ms (doubles each attempt, with jitter). Default 500. */
  baseDelay?: number;
  /** Backoff cap, ms. Default 30000. */
  maxDelay?: number;
  /** How long the breaker stays open before one trial, ms (at least 1000). Default 30000. */
  cooldown?: number;
  /** Give up (auth:logout, reason refresh_unavailable) after failing this long, ms. Default 300000. */
  giveUpAfter?: number;
}

export interface TraceEntry {
  /** The request's number; 0 for the revocation after `logout()`. */
  id: number;
  /** The request's path (no origin, no query string: those may carry secrets). */
  url: string;
  /** `revoked` / `revoke_failed`: the best-effort revocation at `revokeUrl` after `logout()`. */
  phase: 'queued' | 'sent' | '401' | 'replayed' | 'done' | 'revoked' | 'revoke_failed';
  status?: number;
  /** With `revoke_failed`: `http_<status>` or `network` (no answer, a timeout, a redirect). */
  error?: string;
}

/** What `refreshRequest` returns: the refresh call's body and extra headers (POST to refreshUrl). */
export interface RefreshRequestInit {
  body?: string | URLSearchParams | FormData | Blob | ArrayBuffer | ArrayBufferView | null;
  headers?: HeadersInit;
}

/** What `parseRefreshResponse` returns from a 2xx refresh response's JSON. */
export interface ParsedRefreshResponse {
  access: string;
  /** A rotated refresh token; absent keeps the current one. */
  refresh?: string | null;
  /** The access token's lifetime in seconds (needed for an opaque, non-JWT access token). */
  expiresIn?: number | null;
}

/**
 * What `wasmUrl` accepts. A compiled `WebAssembly.Module` is accepted too at run time, but
 * TypeScript's `WebAssembly.Module` type is empty (anything would match it), so it is left out
 * of this type: pass the bytes or a Response, or cast a module (`module as unknown as WasmSource`).
 */
export type WasmSource =
  | string | URL | Request | Response | PromiseLike<Response>
  | ArrayBuffer | ArrayBufferView;

export interface AuthClientOptions {
  refreshUrl: string;
  storage?: 'local' | 'session' | 'memory';
  keys?: { access?: string; refresh?: string };
  legacyKeys?: { access?: string[]; refresh?: string[] };
  refreshMode?: 'body' | 'cookie';
  refreshFormat?: 'simplejwt' | 'oauth';
  apiOrigins?: string[];
  /** Path fragments that never get the bearer, matched up to a segment end on the path as fetch sends it (non-ASCII percent-encoded). */
  skipRefreshFor?: string[];
  loginUrl?: string | null;
  /** Refresh this many ms before expiry; null = derived from the token lifetime. */
  leeway?: number | null;
  expiringWarning?: number;
  refreshWhenHidden?: boolean;
  refreshTimeout?: number;
  retry?: RetryOptions;
  /** What a logout removes besides the configured and legacy token keys. */
  clear?: {
    /** localStorage (and, with sessionStorage: 'matching', sessionStorage) keys containing one of these, case-insensitive. Default ['token', 'auth', 'user']. */
    patterns?: string[];
    /** 'all' (default): the whole of sessionStorage; 'matching': keys matching `patterns`; 'none': only the token keys. */
    sessionStorage?: 'all' | 'matching' | 'none';
  };
  /** OAuth public client id, sent with the refresh grant (refreshFormat: 'oauth'). */
  clientId?: string | null;
  /** OAuth scope to request with the refresh grant. */
  scope?: string | null;
  /**
   * Revoke the refresh token here after `logout()`, best effort: RFC 7009 (form-encoded `token`,
   * `token_type_hint=refresh_token`, `client_id`) with refreshFormat 'oauth', SimpleJWT's
   * blacklist view (`{"refresh": ...}`) with 'simplejwt', no body but the cookie in cookie mode.
   * Its result is reported to `onTrace` only; it never blocks or undoes the local logout.
   */
  revokeUrl?: string | null;
  /**
   * Escape hatch: builds the refresh request (POST refreshUrl) instead of the preset. Called with
   * the refresh token (null in cookie mode); must return synchronously. Throwing or returning
   * the wrong shape counts as a failed refresh attempt (retried, bounded by the breaker) and
   * logs one console.error.
   */
  refreshRequest?: (refreshToken: string | null) => RefreshRequestInit;
  /**
   * Escape hatch: reads a 2xx refresh response's JSON instead of the preset. Error statuses are
   * still classified by the built-in rules. Throwing or returning no access token counts as a
   * failed refresh attempt (like a 2xx without a token) and logs one console.error.
   */
  parseRefreshResponse?: (json: unknown) => ParsedRefreshResponse;
  /** Refresh under a cross-tab Web Lock. Default true; false exists for tests only. */
  tabLock?: boolean;
  fetch?: typeof fetch;
  onTrace?: (entry: TraceEntry) => void;
  /**
   * Where to load the wasm from, when the bundler did not copy it (esbuild, Rollup): what
   * the loader accepts: a URL, a Request, a Response (or a promise of one, such as
   * `fetch(url)`) or the bytes (a compiled `WebAssembly.Module` works too: see WasmSource). Left out, it is found next to
   * the package's code (`import.meta.url`), read from disk under Node (Vitest, Jest).
   */
  wasmUrl?: WasmSource;
}

export interface AuthState {
  status: 'anonymous' | 'active' | 'refreshing' | 'logged_out';
  expiresAt: number | null;
  breaker: 'closed' | 'open' | 'half_open';
  breakerOpenUntil: number | null;
  refreshInFlight: boolean;
  waiting: number;
  refreshCount: number;
  clockOffset: number;
  storage: 'web' | 'memory';
  /** Why the session ended, while `status` is 'logged_out'. */
  reason: LogoutReason | null;
  /** The access token's claims, unverified (display only); null without one or for an opaque token. */
  claims: JwtClaims | null;
}

/** What `subscribe` listeners get: the same (frozen) object until the next change. */
export interface SessionState {
  readonly status: 'anonymous' | 'active' | 'logged_out';
  readonly expiresAt: number | null;
  readonly claims: JwtClaims | null;
  readonly reason: LogoutReason | null;
}

export type SessionEvent =
  | { readonly type: 'initial' }
  | { readonly type: 'signed_in'; readonly expiresAt: number | null }
  | { readonly type: 'refreshed'; readonly expiresAt: number | null }
  | { readonly type: 'expiring'; readonly expiresAt: number; readonly expiresIn: number }
  | ({ readonly type: 'signed_out' } & Readonly<LogoutDetail>);

/** A login response in either shape: authkeeper's or OAuth's (`access_token`, `refresh_token`, `expires_in`). */
export type Tokens =
  | { access: string; refresh?: string | null; expiresIn?: number | null }
  | { access_token: string; refresh_token?: string | null; expires_in?: number | null; token_type?: string; scope?: string };

export interface AuthClient {
  /**
   * fetch's signature and semantics. The bearer goes only to the page's origin and `apiOrigins`,
   * decided on the URL as fetch resolves it (against `document.baseURI`, after the URL parser's
   * clean-up), for strings, URL objects and Requests of any realm. After `destroy()` it rejects
   * with an AuthkeeperError `code: 'destroyed'`.
   */
  fetch: typeof fetch;
  /** Starts a session (subscribers and `auth:login` hear `signed_in`). */
  setTokens(tokens: Tokens): void;
  getAccessToken(options?: { signal?: AbortSignal }): Promise<string | null>;
  /**
   * Refreshes now, single-flight with any refresh under way (for channels authkeeper does not see:
   * a WebSocket closed with 4401, a rejected SSE stream). Resolves once a fresh token is in place;
   * rejects with `no_session`, `logged_out`, `no_refresh_token` or `refresh_unavailable` (breaker
   * open). A transient failure is retried first, as for any refresh. In cookie mode without a
   * session it looks for one in the cookie (after a login that set it).
   */
  refresh(options?: { signal?: AbortSignal }): Promise<void>;
  /** Clears the session locally at once; with `revokeUrl`, then revokes the refresh token (best effort). */
  logout(): void;
  state(): AuthState;
  /**
   * Calls `listener` at once with the current state (`event.type` 'initial'), then on every
   * change of this client's session. Returns the unsubscribe function. The shape is the Svelte
   * store contract, and what React's `useSyncExternalStore` takes with `getSnapshot`.
   */
  subscribe(listener: (state: SessionState, event: SessionEvent) => void): () => void;
  /** The state subscribers were last given. */
  getSnapshot(): SessionState;
  /** Stops timers and listeners; waiting requests and every later `fetch` reject with `code: 'destroyed'`. */
  destroy(): void;
}

export interface JwtClaims {
  exp?: number;
  iat?: number;
  nbf?: number;
  sub?: string;
  user_id?: string | number;
  [claim: string]: unknown;
}

export function createAuthClient(options: AuthClientOptions): Promise<AuthClient>;
/** Reads the payload with atob + JSON.parse (no wasm needed); unverified, display only. */
export function decodeJwt(token: string): JwtClaims;

export interface LogoutDetail {
  reason: LogoutReason;
  message: string;
  /** With reason 'remote': the reason in the tab that logged out. */
  originReason?: LogoutReason;
}
declare global {
  interface WindowEventMap {
    'auth:logout': CustomEvent<LogoutDetail>;
    'auth:refreshed': CustomEvent<{ expiresAt: number }>;
    'auth:login': CustomEvent<{ expiresAt: number | null }>;
    'auth:expiring': CustomEvent<{ expiresAt: number; expiresIn: number }>;
  }
}
