"""Presence: who has a draft open right now ("Ana is reviewing"), before any conflict.

An open review page beats every ``PRESENCE_BEAT`` seconds; each beat puts the editor in
a Redis sorted set per draft, scored by when the beat expires (``PRESENCE_TTL``). A
closed tab simply stops beating. Nothing here is in the database and nothing depends on
it: with Redis down the studio works on and shows no one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from studio.permissions import Need, draft_for_user

logger = logging.getLogger(__name__)

KEY = "studio:presence:draft:{}"
_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    url = settings.PRESENCE_REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                      retry=Retry(NoBackoff(), 0), decode_responses=True)
        _clients[url] = client
    return client


def _member(user: Any) -> str:
    return f"{user.pk}:{user.get_username()}"


def presence_beat(*, user: Any, draft_id: object) -> list[str]:
    """The user has the draft open; returns the others who have it open (usernames)."""
    draft = draft_for_user(user, draft_id, need=Need.REVIEW)
    now = time.time()
    key = KEY.format(draft.pk)
    try:
        pipe = _redis().pipeline()
        pipe.zadd(key, {_member(user): now + settings.PRESENCE_TTL})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.expire(key, settings.PRESENCE_TTL * 2)
        pipe.zrangebyscore(key, now, "+inf")
        members = pipe.execute()[-1]
    except redis.RedisError:
        logger.warning("Presence unavailable (Redis); draft %s shows no one", draft.pk)
        return []
    return _others(members, user)


def _others(members: Sequence[str], user: Any) -> list[str]:
    mine = _member(user)
    return sorted(m.partition(":")[2] for m in members if m != mine)


def presence_of(*, draft_ids: Sequence[int], user: Any) -> dict[int, list[str]]:
    """Who else has each of the drafts open (one Redis round trip for a page of rows).
    The caller has listed the drafts through a ``*_visible_to`` selector."""
    if not draft_ids:
        return {}
    now = time.time()
    try:
        pipe = _redis().pipeline()
        for pk in draft_ids:
            pipe.zrangebyscore(KEY.format(pk), now, "+inf")
        answers = pipe.execute()
    except redis.RedisError:
        return {}
    return {pk: others for pk, members in zip(draft_ids, answers, strict=True)
            if (others := _others(members, user))}
