#!/usr/bin/env bash
# Idempotent setup: takes a fresh machine (Debian 12, rustup, Node 20) to a state where the demo,
# the build and every test run. Re-running it on a set-up machine takes seconds.
# Strategy (see ../shared/TOOLCHAIN.md): prefer rustup's wasm32 target; where rustup cannot reach
# its server, use Debian's rustc-web + rust-web-src and build std from source.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[setup] $*"; }
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

apt_missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1"); }

# 1. The wasm32 toolchain: rustup first (short timeout), Debian's route as the fallback.
wasm_route=""
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  wasm_route="rustup"
elif [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] && command -v wasm-ld-22 >/dev/null; then
  wasm_route="debian"
elif command -v rustup >/dev/null && timeout 20 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
  wasm_route="rustup"
else
  wasm_route="debian"
  for p in rustc-web cargo-web rust-web-src lld-22; do need_pkg "$p"; done
fi
for p in chromium chromium-driver; do need_pkg "$p"; done
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "apt-get install ${apt_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}" >/dev/null
else
  say "apt packages present (chromium, chromium-driver$( [ "$wasm_route" = debian ] && echo ', rustc-web, rust-web-src, lld-22'))"
fi
echo "$wasm_route" > .wasm-route
say "wasm32 toolchain: $wasm_route route"

# 2. wasm-bindgen CLI at exactly the version Cargo.lock pins.
[ -f Cargo.lock ] || cargo generate-lockfile
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)
if [ -z "$wb_version" ]; then echo "cannot read the wasm-bindgen version from Cargo.lock" >&2; exit 1; fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$wb_version" ]; then
  say "wasm-bindgen-cli $wb_version present"
else
  say "cargo install wasm-bindgen-cli $wb_version (a few minutes, once)"
  # No --locked: the registry mirror can lag behind the CLI's own lock file (TOOLCHAIN.md).
  cargo install wasm-bindgen-cli --version "=$wb_version" --quiet
fi

# 3. npm packages (binaryen's wasm-opt, playwright-core, esbuild, benchmark baselines).
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  say "npm packages present"
else
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
# 4. The isolated Python environment for the real-server tests (tests/real: SimpleJWT, django-oauth-toolkit).
bash scripts/python-env.sh
say "ready"
