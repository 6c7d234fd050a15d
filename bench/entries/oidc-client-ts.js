// esbuild entry: oidc-client-ts's UserManager with automatic silent renew (its refresh path).
import { UserManager, WebStorageStateStore } from 'oidc-client-ts';

export async function start(origin) {
  const manager = new UserManager({
    authority: `${origin}/oidc`,
    client_id: 'bench',
    redirect_uri: `${origin}/callback`,
    automaticSilentRenew: true,
    userStore: new WebStorageStateStore({ store: window.localStorage }),
  });
  await manager.getUser();
  return manager;
}
