// Prints the shipped size: what a browser downloads of the package (pkg/index.js, the wasm inside
// it), the wasm on its own (also in the package, for `wasmUrl`, and its sha256: the same bytes on
// every machine), and one machine-readable line (`[size] json {...}`) that the README's size
// figures are written from. `node scripts/size.mjs --json` prints only the JSON.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

// `shipped`: counted in the total a browser downloads in production: the terse build, which the
// "production" export condition picks (Vite, webpack, Next.js production builds). pkg/index.js, the
// same code with every developer message, is what everything else gets (dev servers, tests,
// bundlers without that condition); it is printed beside it.
const files = {
  production: { path: 'pkg/index.prod.js', shipped: true },
  driver: { path: 'pkg/index.js', shipped: false, note: 'the default build: the same with every developer message' },
  wasm: { path: 'pkg/authkeeper_bg.wasm', shipped: false, note: 'inside both; the file is for wasmUrl' },
};
const source = { interceptorSource: 'js/index.js' };
const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const jsonOnly = process.argv.includes('--json');
const say = (line) => { if (!jsonOnly) console.log(line); };

const report = { rustc: process.env.AUTHKEEPER_RUSTC || undefined, files: {}, total: { raw: 0, gzip: 0, brotli: 0 } };
let complete = true;
say('[size] file                        raw       gzip     brotli');
for (const [name, { path: f, shipped, note }] of Object.entries(files)) {
  let buf;
  try { buf = readFileSync(f); } catch { say(`[size] ${f.padEnd(26)} missing`); complete = false; continue; }
  const row = { path: f, raw: buf.length, gzip: gz(buf), brotli: br(buf), sha256: sha256(buf), shipped };
  report.files[name] = row;
  if (shipped) for (const k in report.total) report.total[k] += row[k];
  say(`[size] ${f.padEnd(26)} ${String(row.raw).padStart(8)} ${String(row.gzip).padStart(9)} ${String(row.brotli).padStart(9)}${shipped ? '' : `  ${note}`}`);
}
for (const [name, f] of Object.entries(source)) {
  const buf = readFileSync(f);
  report.files[name] = { path: f, raw: buf.length, gzip: gz(buf), brotli: br(buf), shipped: false };
  say(`[size] ${(f + ' (source)').padEnd(26)} ${String(buf.length).padStart(8)} ${String(gz(buf)).padStart(9)} ${String(br(buf)).padStart(9)}  not shipped`);
}
const t = report.total;
say(`[size] ${'total shipped'.padEnd(26)} ${String(t.raw).padStart(8)} ${String(t.gzip).padStart(9)} ${String(t.brotli).padStart(9)}`);
say(`[size] gzipped total: ${(t.gzip / 1000).toFixed(1)} KB (production build: the minified driver/interceptor with the wasm embedded; no glue, no second file)`);
if (report.files.driver) say(`[size] default build (pkg/index.js, full messages): ${(report.files.driver.gzip / 1000).toFixed(1)} KB gzipped`);
if (report.files.wasm) say(`[size] sha256 ${report.files.wasm.sha256}  ${files.wasm.path}`);
console.log(`${jsonOnly ? '' : '[size] json '}${JSON.stringify(report)}`);
if (!complete) process.exitCode = 1;
