// esbuild entry: the bench's minimal hand-written interceptor (the floor).
import { createInterceptor } from '../handwritten.js';

export function start(origin) {
  return createInterceptor({ access: localStorage.getItem('accessToken'), refresh: localStorage.getItem('refreshToken'), refreshUrl: `${origin}/api/auth/token/refresh/` });
}
