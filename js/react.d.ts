import type { ReactElement, ReactNode } from 'react';
import type { AuthClient, SessionState } from './index.js';

export interface AuthProviderProps {
  /** The client, or null while it is being created (in an effect: there is none on a server). */
  client: AuthClient | null;
  children?: ReactNode;
}

/** Makes the client available to `useSession`, `useAuth` and `useAuthFetch` below it. */
export function AuthProvider(props: AuthProviderProps): ReactElement;

/** What `useSession()` gives until the provider has a client, and while rendering on a server. */
export interface LoadingSession {
  readonly status: 'loading';
  readonly expiresAt: null;
  readonly claims: null;
  readonly reason: null;
}

/**
 * The session as state, re-rendering on every change: the client's `getSnapshot()` through
 * React's useSyncExternalStore (no change missed, StrictMode-safe). Throws without a provider.
 */
export function useSession(): SessionState | LoadingSession;

/** The provider's client, or null while it is being created. Throws without a provider. */
export function useAuth(): AuthClient | null;

/**
 * `auth.fetch` with a stable identity for data libraries; called before the client exists, it
 * waits for it (the request's abort signal aborts the wait). Throws without a provider.
 */
export function useAuthFetch(): typeof fetch;
