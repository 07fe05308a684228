"""Per-team limit on generation requests (brief submit, regenerate) through the API.

One Redis counter per team per minute: ``INCR`` is atomic, so every web process and
every worker thread share the same count and two requests can never both take the
last slot. The counter's key names its minute and expires after it, so nothing needs
cleaning. If Redis cannot be reached the request is let through (and logged): the
studio's promise is that a brief is saved and queued while Redis is down, and the
limit protects the GPUs, which wait on that same Redis anyway.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

import redis
from django.conf import settings
from rest_framework.exceptions import Throttled

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def throttle_key(team_id: int, window: int) -> str:
    return f"studio:api:generate:{team_id}:{window}"


def generation_throttle(*, team_id: int) -> None:
    """Count one generation request for the team; raise ``Throttled`` (429) past the rate."""
    rate = settings.API_GENERATION_RATE
    if rate <= 0:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = throttle_key(team_id, window)
    try:
        pipe = _client(settings.API_THROTTLE_REDIS_URL).pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 5)
        count, _ = pipe.execute()
    except redis.RedisError:
        logger.warning("Throttle store unreachable; generation request for team %s let through",
                       team_id)
        return
    if int(count) > rate:
        wait = max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
        raise Throttled(
            wait=wait,
            detail=f"Your team has made {rate} generation requests this minute; "
                   f"try again in {wait} seconds.",
        )
