#!/usr/bin/env bash
# Release build of what ships: Rust → wasm32 (size profile), wasm-bindgen --target web into pkg/,
# wasm-opt -Oz (npm binaryen), then the gzipped/brotli size of wasm + glue + interceptor.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

echo "[build] cargo build --release --target wasm32-unknown-unknown"
flags=()
# Building std from source (the Debian route) also lets panics compile to a bare trap: no panic
# message formatting machinery in the shipped wasm.
[ "$(cat .wasm-route 2>/dev/null)" = debian ] && flags=(RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort")
wasm_env "${flags[@]}" "$WASM_CARGO" build --quiet --release --target wasm32-unknown-unknown -p authkeeper --lib
target_dir="target"; [ "$(cat .wasm-route 2>/dev/null)" = debian ] && target_dir="target/wasm-debian"
wasm="$target_dir/wasm32-unknown-unknown/release/authkeeper.wasm"

# Built next to pkg/ and swapped in at the end, so a demo or test server running meanwhile
# never sees a half-written package.
out=$(mktemp -d pkg.build.XXXXXX)
trap 'rm -rf "$out"' EXIT
echo "[build] wasm-bindgen --target web → pkg/"
wasm-bindgen --target web --out-dir "$out" --out-name authkeeper --no-typescript "$wasm"

echo "[build] wasm-opt -Oz"
node node_modules/binaryen/bin/wasm-opt "$out/authkeeper_bg.wasm" -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types \
  --enable-multivalue --enable-mutable-globals -o "$out/authkeeper_bg.wasm"
mkdir -p pkg
mv -f "$out"/* pkg/

node scripts/size.mjs
