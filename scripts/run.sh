#!/usr/bin/env bash
# One command to run the whole studio on this machine: installs, migrates, loads demo
# data, starts Redis (if none answers), the web server, a generation worker, a training
# worker and the scheduler, then prints the URL and the demo logins. Ctrl-C stops all.
#   ./scripts/run.sh          DEBUG off: the studio's own error pages, static files by whitenoise
#   ./scripts/run.sh --dev    DEBUG on (or DEBUG=true): Django's debug pages, for development
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/run_env.sh "$@"
./scripts/setup.sh

export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}
HOST=${WEB_HOST:-127.0.0.1}
PORT=${WEB_PORT:-8000}
PY=.venv/bin/python
mkdir -p var/log

pids=()
stop() {
  local code=${1:-0}
  trap - INT TERM EXIT
  echo
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  exit "$code"
}
trap stop INT TERM EXIT

if $PY scripts/redis_url_ok.py "$CELERY_BROKER_URL"; then
  echo "==> using the Redis at $CELERY_BROKER_URL"
else
  echo "==> starting Redis for $CELERY_BROKER_URL"
  ./scripts/start_redis.sh > var/log/redis.log 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do $PY scripts/redis_url_ok.py "$CELERY_BROKER_URL" && break; sleep 0.2; done
  $PY scripts/redis_url_ok.py "$CELERY_BROKER_URL" || { echo "Redis did not start: see var/log/redis.log"; exit 1; }
fi

$PY manage.py migrate --no-input -v0
if [ "$DEBUG" != true ]; then
  # DEBUG off: whitenoise serves the collected (hashed, compressed) files.
  echo "==> collecting static files"
  $PY manage.py collectstatic --no-input -v0
fi
$PY manage.py seed_demo > var/log/seed.log
$PY manage.py prepare_models 2>&1 | tee var/log/prepare_models.log | tail -n 2 || true

.venv/bin/celery -A studio worker -Q generate,default -c 1 -n generate@%h --prefetch-multiplier 1 \
  --loglevel INFO > var/log/worker-generate.log 2>&1 &
pids+=($!)
.venv/bin/celery -A studio worker -Q train -c 1 -n train@%h --prefetch-multiplier 1 \
  --loglevel INFO > var/log/worker-train.log 2>&1 &
pids+=($!)
.venv/bin/celery -A studio beat --loglevel INFO -s var/celerybeat-schedule \
  > var/log/beat.log 2>&1 &
pids+=($!)
$PY manage.py runserver "$HOST:$PORT" --noreload > var/log/web.log 2>&1 &
pids+=($!)

for _ in $(seq 100); do
  $PY - "$HOST" "$PORT" <<'PYEOF' && break
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5).close()
except OSError:
    sys.exit(1)
PYEOF
  sleep 0.3
done

cat <<MSG

  Content Studio is running:  http://$HOST:$PORT/   (DEBUG=$DEBUG; --dev turns it on)

  Demo logins (team "Demo Roasters"):
$(sed -n 's/^  /    /p' var/log/seed.log)

  Django admin (/admin/) is for an operator only; none of the demo accounts is one.
  Make one with:  .venv/bin/python manage.py createsuperuser

  Logs: var/log/   (web, worker-generate, worker-train, beat, redis)
  Press Ctrl-C to stop everything.

MSG
wait -n "${pids[@]}" || true
echo "A process exited; see var/log/. Stopping the rest."
stop 1
