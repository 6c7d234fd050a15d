// Section 1, shipped size: authkeeper's files as the npm package ships them, then every
// contender bundled the same way with esbuild (ESM, minified, browser platform, one entry that
// imports and uses the main class), gzip -9 and brotli -q 11 per file as a browser fetches it.
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import { build } from 'esbuild';
import { ROOT } from './server.mjs';

const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const measure = (buf) => ({ raw: buf.length, gz: gz(buf), br: br(buf) });
const version = (name) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;

/** The entries of bench/entries/, as `name → bundle label`. The startup section reuses them. */
export const CONTENDERS = [
  { id: 'authkeeper', label: () => 'authkeeper (JS, esbuild) + wasm' },
  { id: 'handwritten', label: () => 'hand-written interceptor (bench/handwritten.js)' },
  { id: 'oidc-client-ts', label: () => `oidc-client-ts ${version('oidc-client-ts')} (UserManager)` },
  { id: 'supabase-auth-js', label: () => `@supabase/auth-js ${version('@supabase/auth-js')} (GoTrueClient)` },
  { id: 'axios-auth-refresh', label: () => `axios ${version('axios')} + axios-auth-refresh ${version('axios-auth-refresh')}` },
];

/** Bundles every entry into `outDir` (served to the startup section) and measures them. */
export async function sizeSection({ snapshot, outDir }) {
  mkdirSync(outDir, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  // The core package; authkeeper/react (js/react.js) is an optional entry, only for React apps.
  const optional = pkg.files.filter((f) => /react/.test(f));
  // The wasm is embedded in both builds; the .wasm file in the package is only for `wasmUrl`.
  // Two builds of the same code: pkg/index.prod.js (the "production" export condition, what a
  // production bundle ships) and pkg/index.js (every developer message; everything else). A
  // browser downloads one of them, never both.
  const builds = { production: 'pkg/index.prod.js', default: 'pkg/index.js' };
  const skipped = pkg.files.filter((f) => !Object.values(builds).includes(f) && !optional.includes(f));
  const rows = [];
  const fmt = (label, m, ratio = '') => [label, m.raw, m.gz, m.br, ratio];
  rows.push(fmt(`**authkeeper as shipped, production build: ${builds.production}**`, measure(readFileSync(join(snapshot, builds.production)))));
  rows.push(fmt(`authkeeper as shipped, default build: ${builds.default}`, measure(readFileSync(join(snapshot, builds.default)))));

  // Bundle the package from the bench's snapshot, not from the live working tree; the contenders
  // are bundled for production (NODE_ENV), so authkeeper's entry gets its production build.
  const snapshotPlugin = {
    name: 'authkeeper-snapshot',
    setup(b) {
      b.onResolve({ filter: /\/pkg\/index\.js$/ }, () => ({ path: join(snapshot, builds.production) }));
    },
  };
  const bundles = {};
  for (const c of CONTENDERS) {
    const outfile = join(outDir, `${c.id}.js`);
    await build({
      entryPoints: [join(ROOT, 'bench/entries', `${c.id}.js`)],
      bundle: true, format: 'esm', minify: true, platform: 'browser', target: 'es2022',
      define: { 'process.env.NODE_ENV': '"production"' },
      legalComments: 'none', logLevel: 'error', outfile, plugins: [snapshotPlugin],
    });
    bundles[c.id] = measure(readFileSync(outfile));
  }
  const ak = bundles.authkeeper;
  rows.push(fmt(`**authkeeper bundled (${builds.production} through esbuild, wasm inside)**`, ak, '1.00×'));
  for (const c of CONTENDERS.slice(1)) {
    rows.push(fmt(c.label(), bundles[c.id], `${(bundles[c.id].gz / ak.gz).toFixed(2)}×`));
  }
  return {
    title: '1. Shipped size (bytes)',
    columns: ['what', 'bytes', 'gzip -9', 'brotli -11', 'gzip vs authkeeper'],
    rows,
    notes: [
      `authkeeper "as shipped" = the one file a browser downloads of package.json \`files\` (the driver with the wasm embedded), compressed on its own: ${builds.production} where the bundler applies the "production" export condition (Vite, webpack, Next.js production builds), else ${builds.default}, the same code with every developer message${skipped.length ? `; ${skipped.join(', ')} (types, and the wasm file for \`wasmUrl\`) are not downloaded by default` : ''}; ${optional.join(', ')}: the optional authkeeper/react entry, not counted.`,
      'Bundled = esbuild --bundle --format=esm --minify --platform=browser of bench/entries/<name>.js, one entry that imports and uses the main class.',
    ],
  };
}
