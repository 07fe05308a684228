"""Per-team limit on generation requests (brief submit, regenerate), for the API and
the HTML forms alike: ``API_GENERATION_RATE`` requests in any ``WINDOW_SECONDS``.

A moving window from the ``limits`` library on Redis: every web process and thread
shares one count, taking a slot is one atomic script (two requests never both take the
last slot), a burst straddling a minute boundary gets the rate and not twice it, and a
refused request is not recorded, so retrying early does not push the wait further out.
The moments are the web servers' clocks (keep them in NTP sync).

If Redis cannot be reached the request is let through (and logged): the studio's
promise is that a brief is saved and queued while Redis is down, and the limit
protects the GPUs, which wait on that same Redis anyway.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import redis
from django.conf import settings
from django.utils import timezone
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from studio.services.errors import StudioError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
THROTTLE_KEY_PREFIX = "studio:throttle"


@lru_cache(maxsize=4)
def rate_limiter(url: str) -> MovingWindowRateLimiter:
    """The studio's one moving-window limiter on the Redis at ``url`` (keys under
    ``THROTTLE_KEY_PREFIX``): generation requests here, wrong API tokens in accounts."""
    storage = RedisStorage(url, key_prefix=THROTTLE_KEY_PREFIX,
                           socket_timeout=0.5, socket_connect_timeout=0.5)
    return MovingWindowRateLimiter(storage)


def throttle_key(team_id: int) -> str:
    return f"generate:{team_id}"


@dataclass(frozen=True)
class WindowVerdict:
    admitted: bool
    retry_after: float  # seconds until the next request would be admitted; 0 if admitted


def sliding_window_take(*, url: str, key: str, rate: int, window_seconds: int) -> WindowVerdict:
    """Take one slot of ``rate`` per ``window_seconds`` under ``key``, atomically.

    Raises ``redis.RedisError`` when the store cannot be reached.
    """
    limiter, item = rate_limiter(url), RateLimitItemPerSecond(rate, window_seconds)
    if limiter.hit(item, key):
        return WindowVerdict(admitted=True, retry_after=0)
    frees_at = limiter.get_window_stats(item, key).reset_time
    return WindowVerdict(admitted=False, retry_after=max(0.0, frees_at - time.time()))


class GenerationThrottled(StudioError):
    """The team has used its generation requests for now. ``wait`` is whole seconds.

    The API answers 429 with ``Retry-After`` (``studio.api.base``); the HTML views
    catch it and show the form again with ``str(exc)`` and ``retry_at``."""

    status_code = 429

    def __init__(self, *, wait: int, rate: int) -> None:
        super().__init__(
            f"Your team has made {rate} generation request{'s' if rate != 1 else ''} "
                   "(briefs and regenerations) "
                   f"in the last {WINDOW_SECONDS} seconds, the most allowed; "
                   f"try again in {wait} second{'s' if wait != 1 else ''}.",
        )
        self.wait: int = wait
        self.rate = rate
        self.retry_at = timezone.now() + timedelta(seconds=wait)


def generation_throttle(*, team_id: int) -> None:
    """Count one generation request for the team; raise ``GenerationThrottled`` (429)
    past ``API_GENERATION_RATE`` in the last ``WINDOW_SECONDS``."""
    rate = settings.API_GENERATION_RATE
    if rate <= 0:
        return
    try:
        verdict = sliding_window_take(url=settings.API_THROTTLE_REDIS_URL,
                                      key=throttle_key(team_id), rate=rate,
                                      window_seconds=WINDOW_SECONDS)
    except redis.RedisError:
        logger.warning("Throttle store unreachable; generation request for team %s let through",
                       team_id)
        return
    if not verdict.admitted:
        raise GenerationThrottled(wait=max(1, math.ceil(verdict.retry_after)), rate=rate)
