// Prints the shipped size: what the npm package's `files` list puts in front of a browser.
import { readFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const files = ['pkg/authkeeper_bg.wasm', 'pkg/authkeeper.js', 'js/index.js'];
const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
let total = { raw: 0, gz: 0, br: 0 };
console.log('[size] file                        raw       gzip     brotli');
for (const f of files) {
  let buf;
  try { buf = readFileSync(f); } catch { console.log(`[size] ${f.padEnd(26)} missing`); continue; }
  const row = { raw: buf.length, gz: gz(buf), br: br(buf) };
  for (const k in total) total[k] += row[k];
  console.log(`[size] ${f.padEnd(26)} ${String(row.raw).padStart(8)} ${String(row.gz).padStart(9)} ${String(row.br).padStart(9)}`);
}
console.log(`[size] ${'total shipped'.padEnd(26)} ${String(total.raw).padStart(8)} ${String(total.gz).padStart(9)} ${String(total.br).padStart(9)}`);
console.log(`[size] gzipped total: ${(total.gz / 1024).toFixed(1)} KB (wasm + glue + interceptor)`);
