#!/usr/bin/env bash
# One command to set up and run the whole test suite, quality gates included.
# Uses PostgreSQL at DATABASE_URL (default: the local server on 127.0.0.1:5432, database
# `test`) and Redis at REDIS_URL (default 127.0.0.1:6379); .ci/run starts both if down.
# Extra arguments go to pytest (e.g. `scripts/test.sh -m "not slow"`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium > /dev/null
fi

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
# Tests publish to their own Redis database so a running studio never sees them.
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-$REDIS_URL/15}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export STUDIO_TEST_ARTIFACTS=${STUDIO_TEST_ARTIFACTS:-$PWD/test-artifacts}

# Empty the tests' broker database, so messages from an earlier run never linger.
.venv/bin/python -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).flushdb()" "$CELERY_BROKER_URL" 2>/dev/null || true

echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy studio generation
echo "==> import-linter"
.venv/bin/lint-imports
echo "==> migrations up to date"
.venv/bin/python manage.py makemigrations --check --dry-run > /dev/null
echo "==> pytest"
exec .venv/bin/pytest "$@"
