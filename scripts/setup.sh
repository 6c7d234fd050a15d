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

# 1. The wasm32 toolchains.
# 1a. The release build (scripts/build.sh) always uses Debian's rustc-web 1.96 + rust-web-src
#     (std rebuilt from source) + wasm-ld-22, whichever route 1b takes, so the shipped wasm has
#     the same bytes on every machine (why this compiler: scripts/env.sh). apt's mirror is
#     reachable everywhere, so this is installed on both routes.
# 1b. Host tests and wasm-bindgen browser tests use the route in .wasm-route: rustup's prebuilt
#     wasm32 std when `rustup target add` works (short timeout), else the same Debian toolchain.
#     AUTHKEEPER_WASM_ROUTE=rustup|debian forces a route; without it, a route recorded by an
#     earlier run is kept while its toolchain is there (so a forced route sticks; delete
#     .wasm-route to choose again).
for p in rustc-web cargo-web rust-web-src lld-22; do need_pkg "$p"; done
debian_wasm_ready() { [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] && command -v wasm-ld-22 >/dev/null; }
rustup_wasm_ready() { command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; }
rustup_wasm_add() { command -v rustup >/dev/null && timeout 20 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; }
wasm_route=""
previous_route=$(cat .wasm-route 2>/dev/null || true)
case "${AUTHKEEPER_WASM_ROUTE:-}" in
  rustup)
    if ! rustup_wasm_ready && ! rustup_wasm_add; then
      echo "[setup] AUTHKEEPER_WASM_ROUTE=rustup, but \`rustup target add wasm32-unknown-unknown\` failed" >&2; exit 1
    fi
    wasm_route="rustup" ;;
  debian) wasm_route="debian" ;;
  "")
    if [ "$previous_route" = rustup ] && rustup_wasm_ready; then wasm_route="rustup"
    elif [ "$previous_route" = debian ] && debian_wasm_ready; then wasm_route="debian"
    elif rustup_wasm_ready; then wasm_route="rustup"
    elif debian_wasm_ready; then wasm_route="debian"      # rustup failed on an earlier run: no new 20 s wait
    elif rustup_wasm_add; then wasm_route="rustup"
    else wasm_route="debian"
    fi ;;
  *) echo "[setup] AUTHKEEPER_WASM_ROUTE must be rustup or debian, not '$AUTHKEEPER_WASM_ROUTE'" >&2; exit 1 ;;
esac
for p in chromium chromium-driver; do need_pkg "$p"; done
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "apt-get install ${apt_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}" >/dev/null
else
  say "apt packages present (chromium, chromium-driver, rustc-web, cargo-web, rust-web-src, lld-22)"
fi
echo "$wasm_route" > .wasm-route
say "wasm32 toolchain for tests: $wasm_route route; release build: Debian rustc-web $(/usr/bin/rustc --version | awk '{print $2}'), std from source"

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
