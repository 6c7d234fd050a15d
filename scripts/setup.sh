#!/usr/bin/env bash
# Idempotent setup: takes a fresh machine (Debian 12, rustup, Node 20) to a state where the demo,
# the build and every test run. Re-running it on a set-up machine takes seconds.
# The wasm is built with one pinned route on every machine (../shared/TOOLCHAIN.md's Debian route:
# rustc-web + rust-web-src, std built from source), so rustup's wasm32 target is never needed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[setup] $*"; }
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

apt_missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1"); }

# 1. The release toolchain (scripts/build.sh): always Debian's rustc-web 1.96 + rust-web-src (std
#    rebuilt from source) + wasm-ld-22, so the shipped wasm has the same bytes on every machine
#    whether or not rustup could add its wasm32 target here (why this compiler: scripts/env.sh).
#    apt's mirror is reachable everywhere. Host tests use the machine's own (rustup) toolchain;
#    nothing is built for wasm32 but the release.
for p in rustc-web cargo-web rust-web-src lld-22 chromium chromium-driver; do need_pkg "$p"; done
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "apt-get install ${apt_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}" >/dev/null
else
  say "apt packages present (chromium, chromium-driver, rustc-web, cargo-web, rust-web-src, lld-22)"
fi
say "release build: Debian rustc-web $(/usr/bin/rustc --version | awk '{print $2}'), std from source"
[ -f Cargo.lock ] || cargo generate-lockfile

# 2. npm packages (binaryen's wasm-opt, esbuild, playwright-core, benchmark baselines).
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  say "npm packages present"
else
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
# 3. The isolated Python environment for the real-server tests (tests/real: SimpleJWT, django-oauth-toolkit).
bash scripts/python-env.sh
say "ready"
