// What ships of the JS: js/index.js minified into <out>/index.js, with the wasm inside it
// (gzipped, base64, as the AUTHKEEPER_WASM constant js/index.js unpacks with DecompressionStream).
//   node scripts/bundle.mjs <wasm> <out-dir>
// One file that every bundler and test runner takes as it is: no asset to copy, no URL to resolve.
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipAsync } from '@gfx/zopfli';
import { build } from 'esbuild';
import { minify } from 'terser';

// Zopfli's Emscripten runtime takes over the process's uncaughtException and unhandledRejection
// on import, rethrowing from there, so that a failure below printed its whole minified source
// instead of our message: Node's own handling back.
process.removeAllListeners('uncaughtException');
process.removeAllListeners('unhandledRejection');

const [wasm, out] = process.argv.slice(2);
// Zopfli: a gzip stream any inflater reads (DecompressionStream, zlib), 5% smaller than zlib's
// level 9 (21,633 -> 20,535 B for the wasm of 84f290c; more iterations gain under 10 B). It is
// wasm with a fixed iteration count and no timestamp: the same wasm gives the same bundle.
const packed = Buffer.from(await gzipAsync(readFileSync(wasm), { numiterations: 15 })).toString('base64');
// esbuild defines a placeholder (so it folds `typeof AUTHKEEPER_WASM` and drops the fetch fallback);
// the base64 then goes first in the file as its own constant: gzip compresses it best there (its
// own block, before the code; in the middle of the code it costs about 1.7 KB more).
const PLACEHOLDER = 'authkeeper:embedded-wasm';

/** js/index.js minified into `file`, the module inside; `terse`: the production build (see
 * VERBOSE in js/index.js), its developer explanations dropped. */
async function bundle(file, terse) {
  await build({
    entryPoints: ['js/index.js'],
    outfile: file,
    format: 'esm',
    // --bundle although it imports nothing: only then does esbuild inline the top-level constants
    // (the op and action numbers, VERBOSE) instead of keeping each as a variable.
    bundle: true,
    minify: true,
    logLevel: 'warning',
    define: { AUTHKEEPER_WASM: JSON.stringify(PLACEHOLDER), AUTHKEEPER_TERSE: String(terse) },
  });
  // esbuild bundles and folds the constants; terser then minifies its output again: its
  // compressor and its frequency-ordered names gzip ~370 B smaller than esbuild's (8,663 ->
  // 8,289 B for the production driver of b039988). Safe options only: `module` (the file is
  // ESM, so top-level names are private and may be renamed; exports keep theirs), 3 passes.
  const code = (await minify(readFileSync(file, 'utf8'), { module: true, compress: { passes: 3 }, mangle: true })).code;
  const uses = code.split(JSON.stringify(PLACEHOLDER)).length - 1;
  if (uses !== 1 || code.includes('import.meta') || code.includes('AUTHKEEPER_WASM$') || code.includes('AUTHKEEPER_TERSE')) {
    throw new Error(`bundle.mjs: expected one use of the embedded module, no fetch fallback and VERBOSE folded (uses: ${uses})`);
  }
  writeFileSync(file, `const AUTHKEEPER_WASM$=${JSON.stringify(packed)};` + code.replace(JSON.stringify(PLACEHOLDER), 'AUTHKEEPER_WASM$'));
}

// index.js: every message in full (development, tests, bundlers without the "production"
// condition); index.prod.js: the terse build, which package.json's "production" condition picks.
await bundle(`${out}/index.js`, false);
await bundle(`${out}/index.prod.js`, true);
