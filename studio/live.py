"""What a generation worker shares while it writes, kept in Redis (never in draft rows).

* Partial text: a hash per running job, ``studio:generation:partial:<job id>``, one field
  per variant (its text so far, tokens written, token budget) and ``_meta`` (when it was
  written, seconds since the job joined the batch). It expires GENERATION_PARTIAL_TTL
  seconds after the last write and is deleted when the drafts land, the job fails or is
  cancelled, so a worker killed mid-stream leaves only an expiring key, never a draft.
* Cancel flags: ``studio:generation:cancel:<job id>``, set by a cancel so the worker
  stops the job's rows at its next decoding step (the job row is already cancelled; the
  flag only saves the worker a database read per step).
* A queue counter, ``studio:generation:queued``, bumped by every send: a running worker
  reads it each step and looks for new jobs to take into its batch only when it moved.

All of it lives in the broker's Redis (the one the job messages wait in). When that is
not Redis or does not answer, writes are skipped and reads come back empty: the page
then shows progress without text, and the job row still decides everything.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

PARTIAL_KEY = "studio:generation:partial:{}"
CANCEL_KEY = "studio:generation:cancel:{}"
QUEUED_KEY = "studio:generation:queued"
CANCEL_TTL = 3600

_clients: dict[str, redis.Redis] = {}


def broker_redis() -> redis.Redis | None:
    """The Redis the job messages wait in, or None when the broker is not Redis."""
    from studio.celery import app

    url = str(app.conf.broker_write_url or app.conf.broker_url or "").split(";")[0].strip()
    if urlsplit(url).scheme not in ("redis", "rediss"):
        return None
    client = _clients.get(url)
    if client is None:
        timeout = settings.CELERY_BROKER_CONNECTION_TIMEOUT
        # One retry at most: a send in a web request must not hang on a broker that is down.
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                      retry=Retry(NoBackoff(), 1))
        _clients[url] = client
    return client


def partial_write(job_id: int, variants: Iterable[dict[str, Any]], *, seconds: float) -> None:
    """Replace the job's partial text with ``variants`` ({variant, text, tokens, max})."""
    fields: dict[Any, Any] = {str(v["variant"]): json.dumps(v) for v in variants}
    fields["_meta"] = json.dumps({"at": time.time(), "seconds": seconds})
    try:
        client = broker_redis()
        if client is None:
            return
        key = PARTIAL_KEY.format(job_id)
        with client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, settings.GENERATION_PARTIAL_TTL)
            pipe.execute()
    except redis.RedisError as exc:
        logger.info("job %s: partial text not published: %s", job_id, exc)


def partial_read(job_id: int) -> dict[str, Any]:
    """``{"variants": [...by variant], "at": unix time, "seconds": float}``, or {}."""
    try:
        client = broker_redis()
        raw = client.hgetall(PARTIAL_KEY.format(job_id)) if client is not None else {}
    except redis.RedisError as exc:
        logger.info("job %s: partial text unreadable: %s", job_id, exc)
        return {}
    if not raw:
        return {}
    meta = json.loads(raw.pop(b"_meta", b"{}"))
    variants = sorted((json.loads(v) for v in raw.values()), key=lambda v: v["variant"])
    return {"variants": variants, "at": meta.get("at"), "seconds": meta.get("seconds")}


def partial_clear(*job_ids: int) -> None:
    _quietly("delete", [PARTIAL_KEY.format(pk) for pk in job_ids])


def cancel_flag_set(job_id: int) -> None:
    try:
        client = broker_redis()
        if client is not None:
            client.set(CANCEL_KEY.format(job_id), 1, ex=CANCEL_TTL)
    except redis.RedisError as exc:  # the worker sees the row at its next heartbeat
        logger.info("job %s: cancel flag not set: %s", job_id, exc)


def cancel_flags(job_ids: list[int]) -> set[int]:
    """The jobs among ``job_ids`` whose cancel flag is set (empty when unknowable)."""
    if not job_ids:
        return set()
    try:
        client = broker_redis()
        if client is None:
            return set()
        values = client.mget([CANCEL_KEY.format(pk) for pk in job_ids])
    except redis.RedisError:
        return set()
    return {pk for pk, value in zip(job_ids, values, strict=True) if value is not None}


def queue_bump() -> None:
    _quietly("incr", [QUEUED_KEY])


def queue_version() -> int | None:
    """A number that changes whenever a job is sent; None when unknowable."""
    try:
        client = broker_redis()
        value = client.get(QUEUED_KEY) if client is not None else None
    except redis.RedisError:
        return None
    return int(value or 0) if client is not None else None


def _quietly(command: str, keys: list[str]) -> None:
    if not keys:
        return
    try:
        client = broker_redis()
        if client is not None:
            getattr(client, command)(*keys)
    except redis.RedisError as exc:
        logger.info("redis %s %s failed: %s", command, keys, exc)
