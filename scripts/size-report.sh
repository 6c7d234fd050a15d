#!/usr/bin/env bash
# What the wasm's bytes are: twiggy on the release wasm as rustc linked it, names included,
# before wasm-opt (scripts/build.sh keeps that copy as target/wasm-release/authkeeper_bg.names.wasm),
# then the same wasm after the release's `wasm-opt -Oz` with its names kept (close to what ships).
#   bash scripts/size-report.sh            top 15, by crate, dominators, garbage, monomorphizations
#   bash scripts/size-report.sh -n 30      top 30 instead
# Needs twiggy (`cargo install twiggy`, installed on first use) and a release build (made when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

n=15
if [ "${1:-}" = "-n" ] && [ -n "${2:-}" ]; then n=$2; fi

if ! command -v twiggy >/dev/null; then
  echo "[size-report] cargo install twiggy (once, a few minutes)" >&2
  cargo install twiggy --quiet
fi
wasm="$RELEASE_TARGET_DIR/authkeeper_bg.names.wasm"
if [ ! -f "$wasm" ]; then
  echo "[size-report] $wasm missing: npm run build" >&2
  bash scripts/build.sh >&2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The passes of scripts/build.sh (WASM_OPT_FLAGS in scripts/env.sh), but -g keeps the name section so twiggy can name the functions.
node node_modules/binaryen/bin/wasm-opt "$wasm" "${WASM_OPT_FLAGS[@]}" -g -o "$tmp/opt.wasm"

# Groups `twiggy top -f csv` rows by crate / kind of code.
cat > "$tmp/by-crate.mjs" <<'JS'
// Groups `twiggy top -f csv` rows by crate / kind of code (CSV on stdin).
import { readFileSync } from 'node:fs';
const lines = readFileSync(0, 'utf8').trim().split('\n').slice(1);
function parse(line) { // Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent; Name may be "quoted"
  if (line.startsWith('"')) {
    let i = 1, s = '';
    for (;;) { if (line[i] === '"' && line[i + 1] === '"') { s += '"'; i += 2; } else if (line[i] === '"') break; else s += line[i++]; }
    return { name: s, size: Number(line.slice(i + 2).split(',')[0]) };
  }
  const f = line.split(',');
  return { name: f.slice(0, -4).join(','), size: Number(f[f.length - 4]) };
}
function group(raw) {
  const n = raw.replace(/\[[0-9a-f]{8,}\]/g, '');
  if (n.includes('function names')) return 'name section (wasm-opt strips it)';
  if (n.startsWith('data segment')) return 'data segments (string literals, tables)';
  if (/^(type\[|import |export |elem\[|table\[|global\[|memory\[|custom section|code\[|wasm magic|header)|section$/.test(n)) return 'wasm structure (types, imports, exports, table)';
  if (/wasm_bindgen_futures::/.test(n)) return 'wasm-bindgen-futures (spawn_local, JsFuture, queue)';
  if (/futures_|::futures::|core::task::|Waker|singlethread/.test(n)) return 'futures / task plumbing (js-sys executor, wakers)';
  if (/^(__wbg_|__wbindgen_|__externref|authcore_|[a-z][A-Za-z]*$)|externref shim|wasm_bindgen::/.test(n)) return 'wasm-bindgen glue (exports, closures, convert, externref)';
  if (/::fmt::|_fmt_inner|Formatter|pad_integral/.test(n)) return 'core::fmt (formatting)';
  if (/dlmalloc|__rust_(alloc|dealloc|realloc)|__rdl_|__rustc::|raw_vec|RawVec|handle_alloc_error|finish_grow/.test(n)) return 'allocator (dlmalloc) + Vec growth';
  if (/^<?js_sys::/.test(n)) return 'js-sys';
  if (/^<?web_sys::/.test(n)) return 'web-sys';
  if (/gloo_timers/.test(n)) return 'gloo-timers';
  if (/drop_in_place/.test(n)) return 'drop glue (drop_in_place)';
  const m = n.match(/^<?(?:&(?:mut )?)?(?:dyn )?([a-z_0-9]+)::([a-z_0-9]+)?/);
  if (m && m[1] === 'authkeeper') return `authkeeper::${m[2]}${/\{closure#|\{async/.test(n) ? ' (async fns / closures)' : ''}`;
  if (/compiler_builtins|^mem(cpy|set|move|cmp)$/.test(n)) return 'compiler-builtins (mem*, int/float helpers)';
  if (/core::str::|^<str>|^<char>|core::char::|from_utf8|is_whitespace|memchr/.test(n)) return 'core::str / char (UTF-8, search, trim)';
  if (/^<[ui](8|16|32|64|128|size)>|^<f(32|64)>|^<str>::parse/.test(n)) return 'core integer / float methods';
  if (m && (m[1] === 'alloc' || m[1] === 'core' || m[1] === 'std')) return `${m[1]} (Vec, String, Option, iterators, ...)`;
  if (/^<\[/.test(n)) return 'core slice methods';
  return m ? m[1] : 'other';
}
const groups = new Map(); let total = 0;
for (const line of lines) {
  const { name, size } = parse(line); if (!Number.isFinite(size)) continue;
  total += size; const g = group(name); const e = groups.get(g) || { size: 0, n: 0, top: [] };
  e.size += size; e.n++; e.top.push([size, name]); groups.set(g, e);
}
const code = total - (groups.get('name section (wasm-opt strips it)')?.size || 0);
console.log('   bytes │ % excl. names │ items │ crate / kind of code');
for (const [g, { size, n }] of [...groups].sort((a, b) => b[1].size - a[1].size)) {
  const pct = g.startsWith('name section') ? '     -' : (100 * size / code).toFixed(1).padStart(6);
  console.log(`${String(size).padStart(8)} │ ${pct.padStart(13)} │ ${String(n).padStart(5)} │ ${g}`);
}
console.log(`${String(code).padStart(8)} │ ${'100.0'.padStart(13)} │       │ everything but the name section`);
JS

echo "## twiggy top -n $n: linked wasm before wasm-opt ($(stat -c %s "$wasm") bytes with names)"
twiggy top -n "$n" "$wasm"
echo
echo "## by crate / kind, before wasm-opt"
twiggy top -f csv "$wasm" | node "$tmp/by-crate.mjs"
echo
echo "## by crate / kind, after wasm-opt -Oz (names kept; shipped pkg/authkeeper_bg.wasm is this minus the name section)"
twiggy top -f csv "$tmp/opt.wasm" | node "$tmp/by-crate.mjs"
echo
echo "## twiggy top -n $n after wasm-opt -Oz"
twiggy top -n "$n" "$tmp/opt.wasm"
echo
echo "## twiggy dominators -d 1, first 25 rows, before wasm-opt (what keeps what alive, top level)"
twiggy dominators -d 1 "$wasm" | sed -n 1,27p
echo
echo "## twiggy dominators elem[0] -r 30: what only the indirect-call table (closures, futures, dyn calls) keeps alive"
twiggy dominators -r 30 "$wasm" 'elem[0]'
echo
echo "## twiggy garbage -n 15, before wasm-opt (unreachable from the exports)"
twiggy garbage -n 15 "$wasm"
echo
echo "## twiggy monos -n 10 -m 5, before wasm-opt (generic functions copied per type)"
twiggy monos -n 10 -m 5 "$wasm"
