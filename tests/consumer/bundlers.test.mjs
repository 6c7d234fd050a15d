// The packed package in plain-JS pages built by other bundlers, each with no configuration (the
// build command in its package.json is all there is) and no wasmUrl:
// - examples/esbuild-iife: `esbuild --bundle --format=iife` (a classic <script>, where an
//   `import.meta` would be a warning at build time and nothing at run time);
// - examples/rollup-esm: `rollup --plugin node-resolve --format es` (the one plugin anyone needs
//   to bundle an npm package; no wasm plugin);
// - examples/webpack5: `webpack --mode production --entry ... --output-filename app.js` (webpack-cli,
//   no webpack.config.js, no loader, no plugin; its default output is a classic script).
// Each build must print no warning and emit no .wasm; then the pages, served side by side by
// the reference server (devserver/, on 127.0.0.1, stopped at the end), go through the same
// session in Chromium as examples/vite-react (./support.mjs sessionRoundTrip).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildScript, sessionRoundTrip, sizes, useConsumer, useServedApps } from './support.mjs';

const { install, work } = useConsumer();
const { www, serve } = useServedApps(work);

/** Installs and builds examples/<name>, checks what the build printed and emitted, and puts the
 * page (index.html + dist/) under www/<name>/. `production`: whether the bundler applies the
 * "production" export condition, and so bundles the terse build (pkg/index.prod.js). */
function build(name, t, warning, production) {
  const dir = install(name, t);
  const { output, seconds } = buildScript(dir);
  const dist = join(dir, 'dist');
  t.diagnostic(`${name} build ${seconds}s: ${sizes(dist)}`);
  assert.doesNotMatch(output, warning, `the build warned:\n${output}`);
  assert.doesNotMatch(output, /import\.meta|node:/, output);
  const files = readdirSync(dist, { recursive: true });
  assert.ok(!files.some((f) => /\.wasm$/.test(f)), `no .wasm in dist: the module travels inside the JS: ${files}`);
  const js = readFileSync(join(dist, 'app.js'), 'utf8');
  assert.ok(!js.includes('import.meta'), 'no import.meta left in the bundle');
  assert.equal(!js.includes('did you mean'), production, production ? 'the production build' : 'the default build, every message');
  cpSync(join(dir, 'index.html'), join(www, name, 'index.html'));
  cpSync(dist, join(www, name, 'dist'), { recursive: true });
}

test('examples/esbuild-iife: `esbuild --bundle --format=iife` prints no warning and emits no .wasm', (t) => {
  // esbuild's warnings read "▲ [WARNING] ..." ("import.meta" is not available with the "iife" output format).
  build('esbuild-iife', t, /warning/i, false);
});

test('esbuild-iife in Chromium: the bearer arrives, a rejected token is refreshed and replayed, every transition seen', async () => {
  const { browser, server, dev } = await serve();
  await sessionRoundTrip(browser, server, `${dev.url}/esbuild-iife/`);
});

test('examples/rollup-esm: `rollup --plugin node-resolve --format es` prints no warning and emits no .wasm', (t) => {
  // Rollup's warnings read "(!) ...".
  build('rollup-esm', t, /\(!\)|warning/i, true);
});

test('rollup-esm in Chromium: the bearer arrives, a rejected token is refreshed and replayed, every transition seen', async () => {
  const { browser, server, dev } = await serve();
  await sessionRoundTrip(browser, server, `${dev.url}/rollup-esm/`);
});

test('examples/webpack5: `webpack --mode production` with no config file, loader or plugin prints no warning and emits no .wasm', (t) => {
  // webpack's warnings read "WARNING in ..." and "compiled with N warning(s)".
  build('webpack5', t, /warning/i, true);
});

test('webpack5 in Chromium: the bearer arrives, a rejected token is refreshed and replayed, every transition seen', async () => {
  const { browser, server, dev } = await serve();
  await sessionRoundTrip(browser, server, `${dev.url}/webpack5/`);
});
