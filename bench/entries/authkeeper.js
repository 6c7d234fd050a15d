// esbuild entry: what an app that uses authkeeper pulls in (the wasm is loaded at run time,
// from `wasmUrl` since a bundle moves the glue away from pkg/).
import { createAuthClient } from '../../js/index.js';

export function start(origin) {
  return createAuthClient({ refreshUrl: `${origin}/api/auth/token/refresh/`, wasmUrl: `${origin}/pkg/authkeeper_bg.wasm` });
}
