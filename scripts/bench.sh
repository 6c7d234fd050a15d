#!/usr/bin/env bash
# npm run bench: sizes and browser measurements of authkeeper beside its baselines, printed as
# tables and written to bench/results.md (see bench/run.mjs). Needs `bash scripts/setup.sh`
# (npm ci: playwright-core, esbuild and the baseline libraries); builds pkg/ when it is missing.
# Extra arguments go to bench/run.mjs (--quick: fewer rounds, for working on the bench itself).
set -euo pipefail
cd "$(dirname "$0")/.."

for dep in playwright-core esbuild oidc-client-ts @supabase/auth-js axios axios-auth-refresh; do
  if [ ! -d "node_modules/$dep" ]; then
    echo "[bench] node_modules/$dep is missing: run \`bash scripts/setup.sh\` (npm ci) first" >&2
    exit 1
  fi
done

if [ ! -f pkg/authkeeper_bg.wasm ] || [ ! -f pkg/index.js ]; then
  # Someone else's build may be rewriting pkg/ right now: give it time before starting another.
  for _ in $(seq 1 60); do
    pgrep -f 'scripts/build\.sh' >/dev/null || break
    sleep 3
  done
  if [ ! -f pkg/authkeeper_bg.wasm ] || [ ! -f pkg/index.js ]; then
    echo "[bench] pkg/ is missing: npm run build"
    npm run build
  fi
fi

node bench/run.mjs "$@"

# The thundering herd on paper: 100,000 cores through a 10-minute refresh outage (host, release).
echo "[bench] cargo bench --bench herd"
cargo bench --quiet --bench herd
