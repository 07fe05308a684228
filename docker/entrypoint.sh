#!/bin/sh
# One image, several roles: web, migrate, worker-generate, worker-train, beat.
# Anything else is run as given (e.g. `python manage.py createsuperuser`).
set -eu

case "${1:-web}" in
  web)
    # WEB_CONCURRENCY (gunicorn's own variable) sets the number of workers.
    exec gunicorn studio.wsgi:application --bind 0.0.0.0:8000 \
      --workers "${WEB_CONCURRENCY:-3}" --timeout 60 --graceful-timeout 30 \
      --forwarded-allow-ips '*' --access-logfile - --error-logfile -
    ;;
  migrate)
    exec python manage.py migrate --noinput
    ;;
  worker-generate)
    # One model call at a time per GPU: concurrency 1, prefetch 1 (settings).
    exec celery -A studio worker -Q generate,default -c 1 -n "generate@%h" --loglevel INFO
    ;;
  worker-train)
    exec celery -A studio worker -Q train -c 1 -n "train@%h" --loglevel INFO
    ;;
  beat)
    exec celery -A studio beat --schedule /data/beat/celerybeat-schedule --loglevel INFO
    ;;
  *)
    exec "$@"
    ;;
esac
