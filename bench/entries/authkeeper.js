// esbuild entry: what an app that uses authkeeper pulls in (the package's pkg/index.js, with the
// wasm embedded in it: nothing is fetched at run time).
import { createAuthClient } from '../../pkg/index.js';

export function start(origin) {
  return createAuthClient({ refreshUrl: `${origin}/api/auth/token/refresh/` });
}
