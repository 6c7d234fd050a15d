// esbuild entry: @supabase/auth-js's GoTrueClient with auto refresh and a persisted session.
import { GoTrueClient } from '@supabase/auth-js';

export async function start(origin) {
  const client = new GoTrueClient({ url: `${origin}/auth/v1`, autoRefreshToken: true, persistSession: true });
  await client.initialize();
  return client;
}
