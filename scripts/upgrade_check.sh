#!/usr/bin/env bash
# make upgrade-check: try the newest releases pyproject.toml allows before adopting them.
# Resolves them into var/upgrade-check/ (a scratch lock and virtualenv; the committed locks
# and .venv are not touched), prints what would change, runs the fast suite plus the
# adapter and training tests (real LoRA fine-tunes, the real bundled model) there, and
# prints what broke.
#
#   make upgrade-check           # newest within pyproject.toml's ranges
#   WIDEN=1 make upgrade-check   # also past the tested upper bounds of transformers,
#                                # peft, trl and accelerate (is the next release safe?)
#
# All green: adopt with `UPGRADE=1 make lock` (after raising the bounds, for WIDEN=1),
# commit the locks, and let CI run. Run it monthly, and before raising a bound.
# Uses PostgreSQL database `upgrade_check` (DATABASE_URL's server) and Redis db 14.
set -uo pipefail
cd "$(dirname "$0")/.."
DIR=var/upgrade-check
rm -rf "$DIR" && mkdir -p "$DIR"
cp pyproject.toml "$DIR/pyproject.toml"
if [ "${WIDEN:-0}" = 1 ]; then
  python3 - "$DIR/pyproject.toml" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
for name in ("transformers", "peft", "trl", "accelerate"):
    text = re.sub(rf'"{name}(>=[^,"]+),<[^"]+"', rf'"{name}\1"', text)
open(path, "w", encoding="utf-8").write(text)
PY
  echo "==> WIDEN=1: upper bounds of transformers, peft, trl and accelerate lifted"
fi

LOCK_DIR=$DIR LOCK_PYPROJECT=$DIR/pyproject.toml UPGRADE=1 ./scripts/lock.sh || exit 1

echo "==> what would change (requirements-dev.lock -> newest allowed)"
python3 - requirements-dev.lock "$DIR/requirements-dev.lock" <<'PY' | tee "$DIR/changes.txt"
import re, sys
pin = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.M)
old, new = ({n.lower(): v for n, v in pin.findall(open(p).read())} for p in sys.argv[1:])
rows = [(n, old.get(n, "-"), new.get(n, "-")) for n in sorted(old.keys() | new.keys())
        if old.get(n) != new.get(n)]
for n, a, b in rows:
    print(f"  {n:32} {a:>22} -> {b}")
print(f"  {len(rows)} package(s) would change" if rows else "  nothing would change")
PY

STUDIO_VENV=$DIR/venv STUDIO_LOCK=$DIR/requirements-dev.lock ./scripts/setup.sh || exit 1
PY=$DIR/venv/bin/python
export STUDIO_LOCK=$DIR/requirements-dev.lock
export DATABASE_URL=${UPGRADE_CHECK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/upgrade_check}
export CELERY_BROKER_URL=${UPGRADE_CHECK_BROKER_URL:-redis://127.0.0.1:6379/14}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export STUDIO_TEST_ARTIFACTS=$DIR/test-artifacts

broke=()
run() {  # run NAME COMMAND...: keep going, remember what failed
  local name=$1; shift
  echo "==> $name"
  if "$@" > "$DIR/$name.log" 2>&1; then
    tail -n 1 "$DIR/$name.log"
  else
    tail -n 25 "$DIR/$name.log"
    broke+=("$name (log: $DIR/$name.log)")
    grep -E "^(FAILED|ERROR) " "$DIR/$name.log" | sed 's/^/      /' >> "$DIR/broken.txt" || true
  fi
}
run ruff "$DIR/venv/bin/ruff" check .
run mypy "$DIR/venv/bin/mypy" studio generation
run fast-suite "$PY" -m pytest -q -p no:cacheprovider -m "not slow and not browser and not worker"
run adapters-and-training "$PY" -m pytest -q -p no:cacheprovider -m "not browser" \
  tests/generation/test_adapters.py tests/generation/test_training.py \
  tests/generation/test_training_learns.py tests/generation/test_bundled_model.py \
  tests/studio/training

echo
if [ ${#broke[@]} -eq 0 ]; then
  echo "upgrade-check: all passed with the newest allowed versions ($(tail -n 1 "$DIR/changes.txt" | sed 's/^ *//'))."
  echo "To adopt them: UPGRADE=1 make lock, then commit requirements.lock and requirements-dev.lock."
  exit 0
fi
echo "upgrade-check: BROKEN with the newest allowed versions ($(tail -n 1 "$DIR/changes.txt" | sed 's/^ *//')):"
printf '  - %s\n' "${broke[@]}"
[ -s "$DIR/broken.txt" ] && cat "$DIR/broken.txt"
echo "The committed locks are unchanged. Keep the bounds (or pin the culprit in pyproject.toml) until this passes."
exit 1
