"""Exit 0 when a Redis answers PING at the URL given (or CELERY_BROKER_URL)."""

import os
import sys

import redis

url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"
)
try:
    redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
except Exception:  # noqa: BLE001
    sys.exit(1)
