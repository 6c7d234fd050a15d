#!/usr/bin/env bash
# Every test: setup (idempotent), host tests (core + dev server), wasm-bindgen-test in headless
# Chromium, the release build, then the JS-level browser tests and the end-to-end tests, which
# start their own servers on 127.0.0.1 and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started ))s"; }
bash scripts/setup.sh
echo "[test] setup done at $(elapsed)"
source scripts/env.sh

# The core must stay pure: on the host the browser crates are not even dependencies (they are
# wasm32-only in Cargo.toml), so this build proves it compiles without them; the grep keeps
# anyone from gating an import behind cfg(target_arch = "wasm32").
if grep -rnE '\b(wasm_bindgen|web_sys|js_sys|gloo[a-z_]*)::' src/core; then
  echo "[test] src/core must not use browser crates" >&2; exit 1
fi
echo "[test] host: cargo test --workspace"
cargo test --workspace --quiet

web_tests=()
for t in tests/web_*.rs; do [ -e "$t" ] && web_tests+=(--test "$(basename "$t" .rs)"); done
if [ ${#web_tests[@]} -gt 0 ]; then
  echo "[test] browser: wasm-bindgen-test in headless Chromium ($(( ${#web_tests[@]} / 2 )) files)"
  wasm_env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver \
    WASM_BINDGEN_TEST_TIMEOUT=120 "$WASM_CARGO" test --target wasm32-unknown-unknown -p authkeeper "${web_tests[@]}"
fi

echo "[test] host and wasm tests done at $(elapsed)"
bash scripts/build.sh
echo "[test] build done at $(elapsed)"

# tests/leak: the bearer-leak fuzz (10,000+ generated inputs against a foreign collector origin).
# tests/real: against real servers from PyPI (djangorestframework-simplejwt, django-oauth-toolkit;
# .venv-real/ from setup), started on 127.0.0.1 and stopped by the tests; the 3-tab SimpleJWT race
# runs REAL_TABS_RUNS times (20).
# tests/consumer: `npm pack` installed into examples/ (npm ci from their committed lockfiles),
# a Vitest run, a Vite + React build driven in Chromium against the dev server.
for suite in tests/js tests/leak tests/e2e tests/real tests/consumer; do
  if compgen -G "$suite/*.test.mjs" >/dev/null; then
    echo "[test] $suite (Playwright + Chromium)"
    node --test --test-concurrency=1 "$suite"/*.test.mjs
    echo "[test] $suite done at $(elapsed)"
  fi
done
echo "[test] all passed in $(( $(date +%s) - started ))s"
