#!/usr/bin/env bash
# Release build of what ships: Rust → wasm32 (size profile), wasm-opt -Oz (npm binaryen) into
# pkg/authkeeper_bg.wasm, js/index.js minified into pkg/index.js (esbuild, then terser), then the sha256 and
# gzipped/brotli sizes of both.
#
# The same bytes on every machine, whether or not rustup can add wasm32 there: always Debian's
# rustc-web with std rebuilt from rust-web-src and the same flags (release_wasm_env in
# scripts/env.sh), Cargo.lock as committed (--locked), wasm-opt, esbuild and terser from package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if [ ! -x "$RELEASE_CARGO" ] || ! command -v wasm-ld-22 >/dev/null || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
  echo "[build] the release toolchain (rustc-web, cargo-web, rust-web-src, lld-22) is missing: run \`bash scripts/setup.sh\`" >&2
  exit 1
fi
rustc_version=$(/usr/bin/rustc --version)
case "$rustc_version" in
  "rustc $RELEASE_RUSTC "*) ;;
  *) echo "[build] warning: release compiler is '$rustc_version', expected $RELEASE_RUSTC: the wasm will not match the published sha256" >&2 ;;
esac

echo "[build] cargo build --release --target wasm32-unknown-unknown ($rustc_version, std from source, immediate-abort)"
release_wasm_env "$RELEASE_CARGO" build --quiet --locked --release --target wasm32-unknown-unknown -p authkeeper --lib
wasm="$RELEASE_TARGET_DIR/wasm32-unknown-unknown/release/authkeeper.wasm"

# Built next to pkg/ and swapped in at the end, so a demo or test server running meanwhile
# never sees a half-written package. No wasm-bindgen: the module has raw exports and
# js/index.js loads it itself (no glue file).
out=$(mktemp -d pkg.build.XXXXXX)
trap 'rm -rf "$out"' EXIT
# The module with its names, before wasm-opt: what scripts/size-report.sh (twiggy) reads.
cp "$wasm" "$RELEASE_TARGET_DIR/authkeeper_bg.names.wasm"

echo "[build] wasm-opt -Oz"
node node_modules/binaryen/bin/wasm-opt "$wasm" "${WASM_OPT_FLAGS[@]}" --strip-debug -o "$out/authkeeper_bg.wasm"
rm -f pkg/authkeeper.js
# What ships of the JS: js/index.js minified, the wasm embedded in it (scripts/bundle.mjs). The
# wasm file ships too, for `wasmUrl` (a CDN, a strict CSP that prefers a served module).
node scripts/bundle.mjs "$out/authkeeper_bg.wasm" "$out"
mkdir -p pkg
mv -f "$out"/* pkg/

AUTHKEEPER_RUSTC="$rustc_version" node scripts/size.mjs
