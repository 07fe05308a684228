"""The reconciler against a real Redis (no worker): what it re-sends, and how often.

A job's message waits in the ``generate`` list; each send also sets the job's waiting
key, which the worker taking the message deletes. The messages in the list are counted
to see exactly what was re-sent.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.db import OperationalError
from django.utils import timezone

from studio.models import GenerationJob
from studio.services import generation as jobs
from studio.services.briefs import brief_create
from studio.services.generation import jobs_reconcile
from studio.tasks.generation import generate_job
from tests.conftest import World
from tests.studio.pipeline.conftest import RedisServer, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WAITING = "studio:generation:waiting:*"


def _send(world: World, n: int) -> list[int]:
    """``n`` briefs submitted: each job sent once (on commit) to the test's Redis."""
    return [
        brief_create(user=world.marketer, project_id=world.project.pk, data={
            "kind": "article", "title": f"Light roasts {i}", "instructions": "Say why.",
            "variants": 1,
        }).jobs.get().pk
        for i in range(n)
    ]


def _queued(r: redis.Redis) -> list[int]:
    """Job ids of the messages waiting in the generate queue (the task's first argument)."""
    bodies = [json.loads(base64.b64decode(json.loads(m)["body"]))
              for m in r.lrange("generate", 0, -1)]
    return sorted(args[0] for args, _kwargs, _embed in bodies)


def _sent_ago(job_ids: list[int], seconds: float) -> None:
    GenerationJob.objects.filter(pk__in=job_ids).update(
        sent_at=timezone.now() - timedelta(seconds=seconds))


def test_it_leaves_a_waiting_backlog_alone_and_resends_it_once_per_window(
    world: World, redis_server: RedisServer, settings: Any
) -> None:
    settings.GENERATION_STUCK_AFTER = 1
    # Long enough that ten reconciler beats fit in the window on a loaded machine.
    settings.GENERATION_RESEND_AFTER = 8
    r = redis.Redis.from_url(redis_server.url)
    backlog = _send(world, 20)
    assert _queued(r) == sorted(backlog)
    # Long past GENERATION_STUCK_AFTER, but every message still waits: no worker runs.
    _sent_ago(backlog, 60)
    for _ in range(10):  # ten beats of the reconciler
        assert jobs_reconcile() == []
    assert _queued(r) == sorted(backlog)

    # The window (the jobs' age, at least GENERATION_RESEND_AFTER) passes: each job is
    # sent once more, in case its message went missing while its key stayed.
    wait_for(lambda: not r.keys(WAITING), 20, "the waiting keys to expire")
    assert sorted(jobs_reconcile()) == sorted(backlog)
    for _ in range(10):
        assert jobs_reconcile() == []
    assert _queued(r) == sorted(backlog * 2)
    # The next window is the job's age now, so a long wait means fewer and fewer sends.
    oldest = GenerationJob.objects.get(pk=backlog[0])
    age = (timezone.now() - oldest.created_at).total_seconds()
    assert r.ttl(f"studio:generation:waiting:{oldest.pk}") >= int(age) - 1 >= 2


def test_it_resends_messages_lost_with_redis_within_the_bound(
    world: World, redis_server: RedisServer, settings: Any
) -> None:
    settings.GENERATION_STUCK_AFTER = 2
    reconcile_every = 0.2
    r = redis.Redis.from_url(redis_server.url)
    lost = _send(world, 10)
    sent = dict(GenerationJob.objects.filter(pk__in=lost).values_list("pk", "sent_at"))
    r.flushall()  # Redis loses its data: the messages and their waiting keys
    delays: list[float] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(delays) < len(lost):
        resent = jobs_reconcile()
        now = timezone.now()
        delays += [(now - sent[pk]).total_seconds() for pk in resent]
        time.sleep(reconcile_every)
    print(f"\nlost messages: {len(delays)} of {len(lost)} re-sent {min(delays):.1f} to "
          f"{max(delays):.1f} s after their send (bound: GENERATION_STUCK_AFTER 2 s + "
          f"RECONCILE_EVERY {reconcile_every} s)")
    assert len(delays) == len(lost)
    assert min(delays) >= 2
    assert max(delays) <= 2 + reconcile_every + 0.5
    for _ in range(10):
        assert jobs_reconcile() == []  # sent once
    assert _queued(r) == sorted(lost)


def test_it_resends_a_job_whose_worker_died_once_not_at_every_run(
    world: World, redis_server: RedisServer, settings: Any
) -> None:
    settings.GENERATION_STUCK_AFTER = 1
    r = redis.Redis.from_url(redis_server.url)
    [job_id] = _send(world, 1)
    r.delete("generate")  # a worker took the message ...
    claim = jobs.job_claim(job_id=job_id, worker="doomed")
    assert claim is not None and not r.keys(WAITING)
    GenerationJob.objects.filter(pk=job_id).update(  # ... and died under it
        heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert jobs_reconcile() == [job_id]
    for _ in range(10):
        assert jobs_reconcile() == []  # its new message waits for a worker
    assert _queued(r) == [job_id]


def test_it_resends_at_once_a_job_whose_claim_failed_after_its_message_was_taken(
    world: World, redis_server: RedisServer, settings: Any, monkeypatch: Any
) -> None:
    settings.GENERATION_STUCK_AFTER = 1
    r = redis.Redis.from_url(redis_server.url)
    [job_id] = _send(world, 1)
    r.delete("generate")  # the worker took the message

    def database_down(**kw: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(jobs, "_claim", database_down)
    with pytest.raises(OperationalError):
        generate_job.apply(args=[job_id], task_id="t-claim-fails").get()
    _sent_ago([job_id], 5)
    assert jobs_reconcile() == [job_id]  # not an hour later: its key went with its message
    assert _queued(r) == [job_id]


def test_it_resends_by_time_alone_when_the_broker_is_not_redis(
    world: World, redis_server: RedisServer, settings: Any, monkeypatch: Any
) -> None:
    settings.GENERATION_STUCK_AFTER = 1
    settings.GENERATION_RESEND_AFTER = 600
    monkeypatch.setattr(jobs, "_broker_redis", lambda: None)
    recent, old = _send(world, 2)
    _sent_ago([recent], 60)
    _sent_ago([old], 700)
    assert jobs_reconcile() == [old]
    assert jobs_reconcile() == []
