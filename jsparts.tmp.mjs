import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import * as acorn from '/tmp/wp/node_modules/acorn/dist/acorn.mjs';
const r = await build({ entryPoints: ['js/index.js'], write: false, format: 'esm', bundle: true, minify: true, define: { AUTHKEEPER_WASM: '"x"', AUTHKEEPER_TERSE: 'true' } });
const code = r.outputFiles[0].text;
const gz = (s) => gzipSync(s, { level: 9 }).length;
const total = gz(code);
console.log('raw', code.length, 'gz', total);
const ast = acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'module' });
const rows = [];
for (const n of ast.body) {
  const parts = n.type === 'VariableDeclaration' && n.declarations.length > 1 ? n.declarations : [n];
  for (const p of parts) {
    const s = code.slice(p.start, p.end);
    const without = code.slice(0, p.start) + code.slice(p.end);
    rows.push([total - gz(without), s.length, s.slice(0, 70)]);
  }
}
rows.sort((a, b) => b[0] - a[0]);
for (const r of rows.slice(0, 45)) console.log(String(r[0]).padStart(6), String(r[1]).padStart(6), r[2]);
