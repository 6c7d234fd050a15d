// An app module as an app would write it: one client, and the API calls made through it.
import { createAuthClient } from 'authkeeper';

export async function createApi() {
  const auth = await createAuthClient({ refreshUrl: '/api/auth/token/refresh/' });
  return {
    auth,
    async items() {
      const res = await auth.fetch('/api/items/');
      if (!res.ok) throw new Error(`items: ${res.status}`);
      return res.json();
    },
  };
}
