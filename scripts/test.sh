#!/usr/bin/env bash
# Every test: setup (idempotent), host tests (core + dev server + multi-tab simulation), the
# release build, then the package in headless Chromium (JS-level, leak fuzz, end-to-end, real
# servers, consumer apps), whose tests start their own servers on 127.0.0.1 and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started ))s"; }
bash scripts/setup.sh
echo "[test] setup done at $(elapsed)"
source scripts/env.sh

# The core must stay pure (no browser API, no wasm import): the crate has no dependencies, and
# the grep keeps anyone from bringing a browser crate back into src/core behind a cfg.
if grep -rnE '\b(wasm_bindgen|web_sys|js_sys|gloo[a-z_]*)::' src/core; then
  echo "[test] src/core must not use browser crates" >&2; exit 1
fi
echo "[test] host: cargo test --workspace"
cargo test --workspace --quiet
# The benchmarks are not run here, but they must keep compiling against the core they measure.
cargo check --benches --quiet

echo "[test] host tests done at $(elapsed)"
bash scripts/build.sh
echo "[test] build done at $(elapsed)"

# tests/leak: the bearer-leak fuzz (10,000+ generated inputs against a foreign collector origin).
# tests/real: against real servers from PyPI (djangorestframework-simplejwt, django-oauth-toolkit;
# .venv-real/ from setup), started on 127.0.0.1 and stopped by the tests; the 3-tab SimpleJWT race
# runs REAL_TABS_RUNS times (20).
# tests/consumer: `npm pack` installed into examples/ (npm ci from their committed lockfiles):
# Vitest and Jest runs, tsc --strict, and Vite, esbuild, Rollup, webpack and Next.js builds each
# driven in Chromium against the reference server.
for suite in tests/js tests/leak tests/e2e tests/real tests/consumer; do
  if compgen -G "$suite/*.test.mjs" >/dev/null; then
    echo "[test] $suite (Playwright + Chromium)"
    node --test --test-concurrency=1 "$suite"/*.test.mjs
    echo "[test] $suite done at $(elapsed)"
  fi
done
# The production build (pkg/index.prod.js) behaves as the default one: tests/js again, against it,
# but for the files that check the developer wording it leaves out (tests/js/terse checks its own).
echo "[test] tests/js behaviour against the production build (pkg/index.prod.js)"
AUTHKEEPER_MODULE=/pkg/index.prod.js node --test --test-concurrency=1 \
  $(ls tests/js/*.test.mjs | grep -vE '/(wording|options|backends|terse)\.test\.mjs$')
echo "[test] production build done at $(elapsed)"
echo "[test] all passed in $(( $(date +%s) - started ))s"
