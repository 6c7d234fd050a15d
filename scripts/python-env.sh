#!/usr/bin/env bash
# Idempotent: the isolated Python environment for the real-server tests (tests/real/):
# .venv-real/ at the repository root with exactly tests/real/requirements.txt installed.
# The venv is (re)built only when the requirements or the Python version changed (a stamp file
# inside the venv records both); otherwise this takes a fraction of a second.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[python-env] $*"; }
started=$(date +%s%N)
took() { echo "$(( ($(date +%s%N) - started) / 1000000 )) ms"; }

VENV=.venv-real
REQ=tests/real/requirements.txt
STAMP="$VENV/.authkeeper-stamp"
PY="${PYTHON:-python3}"

if ! command -v "$PY" >/dev/null; then
  echo "[python-env] $PY not found: install CPython >= 3.10 (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "[python-env] Django 5.2 needs Python >= 3.10; $PY is $("$PY" --version 2>&1)" >&2
  exit 1
fi
# Debian's python3 ships venv's ensurepip separately.
if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
  if command -v apt-get >/dev/null; then
    SUDO=""; if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
    pyver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    say "apt-get install python3-venv (python$pyver-venv)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv "python$pyver-venv" >/dev/null \
      || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  else
    echo "[python-env] $PY has no venv/ensurepip module" >&2
    exit 1
  fi
fi

want="$("$PY" -c 'import sys; print(sys.version)' | head -1) $(sha256sum "$REQ" | cut -d' ' -f1)"

# Two setups started at once (two terminals, two engineers) must not build the venv together.
lock="${TMPDIR:-/tmp}/authkeeper-venv-real-$(pwd | sha256sum | cut -c1-12).lock"
exec 9>"$lock"
flock 9

if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  say "$VENV up to date ($(took))"
  exit 0
fi

say "creating $VENV from $REQ with $("$PY" --version 2>&1)"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ"
"$VENV/bin/python" -c 'import django, rest_framework, rest_framework_simplejwt, oauth2_provider'
# Written last: an interrupted install is redone next time.
echo "$want" > "$STAMP"
say "$VENV ready: Django $("$VENV/bin/python" -c 'import django; print(django.get_version())') ($(took))"
