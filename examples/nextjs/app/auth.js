// One client per page, created on first use from the browser only (an effect calls this: on the
// server, at build or request time, there is no session to keep). Kept here, outside the
// components, so that StrictMode's double effects and Fast Refresh never create a second client.
import { createAuthClient } from 'authkeeper';

let client;

export function getAuthClient() {
  client ??= createAuthClient({ refreshUrl: '/api/auth/token/refresh/' }).then((auth) => {
    // Every transition, for the consumer test (tests/consumer) to read.
    window.authTransitions = [];
    auth.subscribe((state, event) => {
      window.authTransitions.push({ type: event.type, status: state.status, reason: state.reason });
    });
    return auth;
  });
  return client;
}
