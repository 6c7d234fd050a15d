// The configuration Jest needs (named in package.json's "jest" key): jest-environment-jsdom runs
// the tests in jsdom's own realm, which has none of Node's TextEncoder, TextDecoder,
// DecompressionStream, Response or ReadableStream (without them, importing authkeeper throws
// `ReferenceError: TextEncoder is not defined`). This hands Node's to the test realm (Vitest's
// jsdom environment shares one realm and needs none of this).
import JSDOMEnvironment from 'jest-environment-jsdom';

export default class extends JSDOMEnvironment {
  constructor(...args) {
    super(...args);
    for (const name of ['TextEncoder', 'TextDecoder', 'DecompressionStream', 'Response', 'ReadableStream']) {
      this.global[name] = globalThis[name];
    }
  }
}
