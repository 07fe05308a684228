#!/usr/bin/env bash
# Create .venv and install the studio from the lock (see README, "Dependencies"):
#   1. torch==2.13.0, pinned, in the build that fits the machine (TORCH_INDEX_URL; README "GPU");
#   2. every other package at the exact version and sha256 of requirements-dev.lock, with
#      --no-deps, so nothing is resolved at install time and an upstream release changes
#      nothing until `make lock` does;
#   3. the studio itself (editable, --no-deps).
# Refuses a lock that was not made from this pyproject.toml. Safe to run again: it
# reinstalls only when the lock or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# make upgrade-check installs a scratch lock into a scratch virtualenv with these two.
VENV=${STUDIO_VENV:-.venv}
LOCK=${STUDIO_LOCK:-requirements-dev.lock}
"$PYTHON" scripts/lock_check.py || exit 1
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp=$VENV/.studio-installed
want=$(sha256sum "$LOCK" scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
# pip, without the notes that this machine's pip config names folders that are absent
pip() { "$VENV/bin/python" -m pip "$@" 2>&1 | { grep -v "is ignored" || true; }; }
echo "==> installing dependencies into $VENV from $LOCK (first run takes a few minutes)"
pip install --quiet "pip==26.3"
# torch first and pinned: TORCH_INDEX_URL picks the build, e.g.
# https://download.pytorch.org/whl/cpu for CPU only, https://pypi.org/simple for CUDA 13.0.
pip install --quiet "torch==${TORCH_VERSION:-2.13.0}" \
  ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple}
pip install --quiet --require-hashes --no-deps -r "$LOCK"
# -qq: setuptools warns at length about editable installs, which is what this is.
pip install -qq --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
echo "==> dependencies installed"
