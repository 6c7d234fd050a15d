#!/usr/bin/env bash
# The demo: setup (idempotent), release build of the package, then the reference auth server
# serving www/ (the demo page), pkg/ and js/ on http://127.0.0.1:${PORT:-8787}/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
echo "[demo] building the reference auth server"
cargo build --quiet -p authkeeper-devserver
echo "[demo] open http://127.0.0.1:${PORT:-8787}/ (user alice / password wonderland); Ctrl-C stops it"
exec target/debug/authkeeper-devserver --port "${PORT:-8787}" --root .
