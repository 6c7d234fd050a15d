// examples/jest-jsdom: the packed package under Jest (native ESM: NODE_OPTIONS=--experimental-vm-modules)
// with jest-environment-jsdom. Unlike Vitest, Jest needs configuration, and this test holds both
// halves of that claim (the README says so):
// - with the stock `jsdom` environment, importing the package throws
//   `ReferenceError: TextEncoder is not defined` (Jest runs the tests in jsdom's realm, which has
//   none of Node's TextEncoder, TextDecoder, DecompressionStream, Response, ReadableStream);
// - with examples/jest-jsdom/jest.environment.js (package.json "jest".testEnvironment), which hands
//   Node's to that realm, the app module's unit test passes, with no wasmUrl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run, useConsumer } from './support.mjs';

const { install } = useConsumer();
const env = { NODE_OPTIONS: '--experimental-vm-modules' };

test('examples/jest-jsdom: the stock jsdom environment cannot load the package; with jest.environment.js the unit test passes', (t) => {
  const dir = install('jest-jsdom', t);
  const jest = join(dir, 'node_modules', '.bin', 'jest');

  const stock = run(jest, ['--testEnvironment=jsdom'], dir, { env, expectFailure: true });
  t.diagnostic(`jest --testEnvironment=jsdom ${stock.seconds}s: fails as expected`);
  assert.match(stock.output, /ReferenceError: TextEncoder is not defined/, stock.output);

  const configured = run(jest, [], dir, { env });
  t.diagnostic(`jest (jest.environment.js) ${configured.seconds}s`);
  assert.match(configured.output, /Tests:\s+1 passed, 1 total/, configured.output);
});
