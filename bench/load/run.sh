#!/usr/bin/env bash
# Load benchmark of the review workspace on loopback, bounded in time.
#
#   bench/load/run.sh [DURATION=30s] [USERS=8]
#
# Seeds (tops up) 100,000 pending drafts in $LOAD_DATABASE_URL (default: a
# studio_load database on the local PostgreSQL, created if missing), starts gunicorn
# with production settings on 127.0.0.1:$LOAD_PORT, runs locust headless against the
# queue page, a draft page and an approve, and prints p50/p95, requests/s and errors.
# The last line is one JSON object keyed queue/draft/approve.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-30s}
USERS=${2:-8}
PORT=${LOAD_PORT:-8765}
WORKERS=${LOAD_WORKERS:-3}
DRAFTS=${LOAD_DRAFTS:-100000}
export DATABASE_URL=${LOAD_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/studio_load}
PY=.venv/bin/python
OUT=$(mktemp -d)
LOAD_PASSWORD=${LOAD_PASSWORD:-$($PY -c 'import secrets; print(secrets.token_urlsafe(16))')}
export LOAD_PASSWORD

# Production mode, minus TLS (this is plain HTTP on loopback).
export DEBUG=false SECRET_KEY="bench-$($PY -c 'import secrets; print(secrets.token_hex(16))')"
export ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false
export CSRF_COOKIE_SECURE=false SECURE_PROXY_SSL_HEADER=false SECURE_HSTS_SECONDS=0
export STATIC_ROOT="$OUT/static" LOG_LEVEL=WARNING DJANGO_SETTINGS_MODULE=bench.load.settings

$PY - <<'PYEOF'
import os, psycopg
from urllib.parse import urlsplit
url = urlsplit(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
admin = url._replace(path="/postgres").geturl()
with psycopg.connect(admin, autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
PYEOF
$PY manage.py migrate -v0
$PY manage.py seed_load --drafts "$DRAFTS" --password="$LOAD_PASSWORD"
read -r LOAD_MIN_ID LOAD_MAX_ID < <($PY manage.py shell -v 0 -c "
from django.db.models import Max, Min
from studio.models import Draft
r = Draft.objects.filter(project__team__slug='load', status='pending').aggregate(Min('id'), Max('id'))
print(r['id__min'], r['id__max'])" | tail -n 1)
export LOAD_MIN_ID LOAD_MAX_ID

.venv/bin/gunicorn studio.wsgi -b "127.0.0.1:$PORT" -w "$WORKERS" --log-level warning &
GUNICORN=$!
trap 'kill $GUNICORN 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 50); do
  $PY -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
  sleep 0.2
done

timeout 900 .venv/bin/locust -f bench/load/locustfile.py --headless -u "$USERS" -r "$USERS" \
  -t "$DURATION" --host "http://127.0.0.1:$PORT" --csv "$OUT/run" --only-summary \
  --loglevel WARNING >"$OUT/locust.log" 2>&1 || true
tail -n 25 "$OUT/locust.log" >&2
$PY bench/load/summary.py "$OUT/run_stats.csv"
