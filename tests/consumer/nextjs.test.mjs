// The packed package in a Next.js 16 App Router app (examples/nextjs, React 19): a client
// component ('use client') creates the client in an effect and shows the session through
// authkeeper/react. next.config.mjs says only `output: 'export'` (a static export, so the reference
// server serves the page and answers its API on one origin): nothing about wasm or the bundler.
// - `next build` (Turbopack, Next 16's default) must print no warning, emit no .wasm (the module
//   travels inside a JS chunk) and prerender the page (the server pass: it imports the package
//   but must not create a client nor touch `window`) with no error, the session 'loading';
// - the exported page then goes through the session of ./support.mjs sessionRoundTrip in
//   Chromium: no page error (a hydration mismatch is one: React's #418), no console error, no
//   failed request but the scenario's 401;
// - the same with `next build --webpack`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, buildScript, sessionRoundTrip, useConsumer, useServedApps } from './support.mjs';

const { install, work } = useConsumer();
const { www, serve } = useServedApps(work);
let dir;

// The start of the module embedded in pkg/index.js (gzip, base64), the same in every bundle.
const EMBEDDED = /"(H4sI[A-Za-z0-9+/]{40})/.exec(readFileSync(join(ROOT, 'pkg', 'index.js'), 'utf8'))[1];
const files = (root) => (existsSync(root) ? readdirSync(root, { recursive: true }).map(String) : []);
const kb = (buf) => `${(buf.length / 1024).toFixed(1)} KiB (${(gzipSync(buf, { level: 9 }).length / 1000).toFixed(1)} KB gz)`;

/** Builds examples/nextjs with one of its scripts, checks what the build printed, emitted and
 * prerendered, and serves the export (out/) as the reference server's www/. */
function build(t, script) {
  dir ??= install('nextjs', t);
  rmSync(join(dir, '.next'), { recursive: true, force: true });
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  const { output, seconds } = buildScript(dir, { script, env: { NEXT_TELEMETRY_DISABLED: '1' } });
  // Next's warnings read "⚠ ..."; a prerender that throws fails the build. One is about the
  // machine, not the app: with CI set, Next asks for a build cache (.next/cache), which this
  // test removes on purpose, so that line alone is let through.
  const noCache = /^.*No build cache found\..*docs\/messages\/no-cache.*$/m;
  if (process.env.CI) assert.match(output, noCache, 'with CI set, Next says it found no build cache');
  assert.doesNotMatch(output.replace(noCache, ''), /⚠|warn|error/i, `the build warned:\n${output}`);
  const out = join(dir, 'out');
  const emitted = [...files(out), ...files(join(dir, '.next'))];
  assert.ok(!emitted.some((f) => /\.wasm$/.test(f)), `no .wasm in out/ or .next/: the module travels inside the JS: ${emitted.filter((f) => /wasm/.test(f))}`);

  // The client chunks: the one carrying the package (its embedded module), and all of them.
  const chunks = files(join(out, '_next', 'static', 'chunks')).filter((f) => f.endsWith('.js'))
    .map((f) => ({ f, buf: readFileSync(join(out, '_next', 'static', 'chunks', f)) }));
  const ours = chunks.filter(({ buf }) => buf.includes(EMBEDDED));
  assert.equal(ours.length, 1, `one client chunk carries the package: ${ours.map(({ f }) => f)}`);
  assert.ok(!ours[0].buf.includes('import.meta'), 'no import.meta left in the chunk');
  t.diagnostic(`nextjs ${script} ${seconds}s: ${ours[0].f} ${kb(ours[0].buf)}; all ${chunks.length} chunks ${kb(Buffer.concat(chunks.map(({ buf }) => buf)))}`);

  // The server pass (prerendered at build time): the markup is there, the session loading, the
  // buttons disabled (no client on a server), and no error rendered in place of the page.
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  assert.match(html, /<b data-testid="status">loading<\/b>/, html);
  assert.match(html, /<button data-testid="login" disabled="">/, html);
  assert.doesNotMatch(html, /__next_error__|data-dgst|BAILOUT_TO_CLIENT_SIDE_RENDERING|is not defined|not_in_browser|boot-error/, html);

  rmSync(www, { recursive: true, force: true });
  cpSync(out, www, { recursive: true });
}

test('examples/nextjs: `next build` (Turbopack) prints no warning, emits no .wasm, and the server pass renders the page with no error', (t) => {
  build(t, 'build');
});

test('nextjs (Turbopack) in Chromium: the bearer arrives, a rejected token is refreshed and replayed, every transition seen', async () => {
  const { browser, server, dev } = await serve();
  await sessionRoundTrip(browser, server, `${dev.url}/`, { consoleErrors: true });
});

test('examples/nextjs: `next build --webpack` likewise', (t) => {
  build(t, 'build:webpack');
});

test('nextjs (webpack) in Chromium: the same session', async () => {
  const { browser, server, dev } = await serve();
  await sessionRoundTrip(browser, server, `${dev.url}/`, { consoleErrors: true });
});
