// examples/jest-jsdom: the packed package under Jest (native ESM: NODE_OPTIONS=--experimental-vm-modules)
// in Jest's stock jsdom environment, with no configuration for authkeeper. jsdom's realm has no
// TextEncoder, TextDecoder, DecompressionStream or fetch; the package takes Node's text codecs and
// zlib through process.getBuiltinModule, and the test brings whatwg-fetch as any fetch app's Jest
// suite does. The same suite in Jest's default `node` environment is refused with the typed
// `not_in_browser` error (there is no page whose session to keep).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run, useConsumer } from './support.mjs';

const { install } = useConsumer();
const env = { NODE_OPTIONS: '--experimental-vm-modules' };

test('examples/jest-jsdom: the unit test passes in the stock jsdom environment; the node environment gets not_in_browser', (t) => {
  const dir = install('jest-jsdom', t);
  const jest = join(dir, 'node_modules', '.bin', 'jest');

  const stock = run(jest, [], dir, { env });
  t.diagnostic(`jest (testEnvironment jsdom) ${stock.seconds}s`);
  assert.match(stock.output, /Tests:\s+1 passed, 1 total/, stock.output);

  const node = run(jest, ['--testEnvironment=node'], dir, { env, expectFailure: true });
  t.diagnostic(`jest --testEnvironment=node ${node.seconds}s: fails as expected`);
  assert.match(node.output, /not_in_browser|not in a browser/, node.output);
});
