// @vitest-environment node
// What a server render or a Node script gets: an error that says where to create the client.
import { expect, test } from 'vitest';
import { createApi } from '../src/api.js';

test('outside a browser createAuthClient rejects with not_in_browser', async () => {
  await expect(createApi()).rejects.toMatchObject({ name: 'AuthkeeperError', code: 'not_in_browser' });
});
