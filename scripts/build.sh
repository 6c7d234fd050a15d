#!/usr/bin/env bash
# Release build of what ships: Rust → wasm32 (size profile), wasm-bindgen --target web into pkg/,
# wasm-opt -Oz (npm binaryen), then the sha256 and gzipped/brotli sizes of wasm + glue + interceptor.
#
# The same bytes on every machine, whichever wasm route setup took (.wasm-route is for tests
# only): always Debian's rustc-web with std rebuilt from rust-web-src and the same flags
# (release_wasm_env in scripts/env.sh), Cargo.lock as committed (--locked), the wasm-bindgen CLI
# at Cargo.lock's version and wasm-opt from package-lock.json's binaryen.
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
# never sees a half-written package.
out=$(mktemp -d pkg.build.XXXXXX)
trap 'rm -rf "$out"' EXIT
echo "[build] wasm-bindgen --target web → pkg/"
wasm-bindgen --target web --out-dir "$out" --out-name authkeeper --no-typescript "$wasm"
# The wasm-bindgen output with its names, before wasm-opt: what scripts/size-report.sh (twiggy) reads.
cp "$out/authkeeper_bg.wasm" "$RELEASE_TARGET_DIR/authkeeper_bg.names.wasm"

echo "[build] wasm-opt -Oz"
node node_modules/binaryen/bin/wasm-opt "$out/authkeeper_bg.wasm" -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types \
  --enable-multivalue --enable-mutable-globals -o "$out/authkeeper_bg.wasm"
mkdir -p pkg
mv -f "$out"/* pkg/

AUTHKEEPER_RUSTC="$rustc_version" node scripts/size.mjs
