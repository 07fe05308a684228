"""Per-team limit on generation requests (brief submit, regenerate), for the API and
the HTML forms alike: ``API_GENERATION_RATE`` requests in any ``WINDOW_SECONDS``.

A sliding window kept exactly (a "sliding log"): each team has one Redis sorted set
holding the moments of its admitted requests. One Lua script drops the moments older
than the window, counts the rest and records the new request only while the count is
under the rate, so every web process and thread shares one count, two requests never
both take the last slot, and a burst straddling a minute boundary no longer gets 2 ×
rate through (fixed one-minute counters let it). The moments are Redis's own clock
(``TIME``), so web servers with skewed clocks still agree. A refused request is not
recorded: retrying early does not push the wait further out. The set holds at most
``rate`` entries and expires a window after its newest one, so nothing needs cleaning.

If Redis cannot be reached the request is let through (and logged): the studio's
promise is that a brief is saved and queued while Redis is down, and the limit
protects the GPUs, which wait on that same Redis anyway.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import redis
from django.conf import settings
from django.utils import timezone
from redis.commands.core import Script

from studio.services.errors import StudioError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
THROTTLE_KEY_PREFIX = "studio:throttle:generate:"

# KEYS[1]: the sorted set; ARGV: rate, window (µs), a unique member for this request.
# Returns {1, 0} when admitted, {0, µs until a slot frees} when refused.
_SLIDING_WINDOW_LUA = """
local rate = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < rate then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, 0}
end
-- A slot frees when the entry that keeps the count at the rate leaves the window.
local entry = redis.call('ZRANGE', KEYS[1], count - rate, count - rate, 'WITHSCORES')
return {0, tonumber(entry[2]) + window - now}
"""


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


@lru_cache(maxsize=4)
def _script(url: str) -> Script:
    # EVALSHA, falling back to EVAL (which loads it) after a Redis restart.
    return _client(url).register_script(_SLIDING_WINDOW_LUA)


def throttle_key(team_id: int) -> str:
    return f"{THROTTLE_KEY_PREFIX}{team_id}"


@dataclass(frozen=True)
class WindowVerdict:
    admitted: bool
    retry_after: float  # seconds until the next request would be admitted; 0 if admitted


def sliding_window_take(*, url: str, key: str, rate: int, window_seconds: float) -> WindowVerdict:
    """Take one slot of ``rate`` per ``window_seconds`` under ``key``, atomically.

    Raises ``redis.RedisError`` when the store cannot be reached.
    """
    admitted, wait_us = _script(url)(
        keys=[key], args=[rate, int(window_seconds * 1_000_000), secrets.token_hex(8)]
    )
    return WindowVerdict(admitted=bool(admitted), retry_after=max(0, int(wait_us)) / 1_000_000)


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
