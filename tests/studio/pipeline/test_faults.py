"""Fault lines of reliability.md with real processes: a `celery worker`, `celery beat` and
a redis-server of the test's own, which the test stops and starts.

Each test prints its figures (run with ``-s`` to see them).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Count
from django.utils import timezone

from studio.models import Draft, GenerationJob, ModelVersion, Project
from studio.services.briefs import brief_create
from studio.services.training import model_promote, model_rollback, model_use_base
from tests.conftest import World
from tests.factories import ModelVersionFactory
from tests.studio.pipeline.conftest import Processes, RedisServer, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _submit(world: World, n: int, *, variants: int = 2, tag: str = "") -> list[int]:
    return [
        brief_create(user=world.marketer, project_id=world.project.pk, data={
            "kind": "ad_copy", "title": f"Autumn blend {tag}{i}",
            "product": "Autumn Blend 250 g", "channel": "Instagram",
            "call_to_action": "Order today", "variants": variants,
        }).jobs.get().pk
        for i in range(n)
    ]


def _all_finished(job_ids: list[int]) -> bool:
    return not GenerationJob.objects.filter(pk__in=job_ids).exclude(
        status__in=["succeeded", "failed"]).exists()


@pytest.fixture
def tiny(world: World, tiny_model_dir: Path) -> World:
    world.project.base_model = f"local:{tiny_model_dir}"
    world.project.save()
    return world


def test_every_job_finishes_once_when_redis_restarts_with_jobs_in_flight(
    tiny: World, processes: Processes, redis_server: RedisServer, settings: Any
) -> None:
    stuck = 3
    settings.GENERATION_STUCK_AFTER = stuck
    # One job at a time, long enough to be caught running.
    processes.env.update({"GENERATION_STUCK_AFTER": str(stuck), "GENERATION_MICRO_BATCH": "1",
                          "GENERATION_MAX_NEW_TOKENS": "96"})
    # As deployed: the reconciler runs on its own worker, not behind a generation job.
    worker = processes.worker(queues="generate")
    processes.worker(queues="default")
    processes.beat()
    job_ids = _submit(tiny, 6)
    wait_for(lambda: GenerationJob.objects.filter(pk__in=job_ids, status="running").exists(),
             60, "a job to be running")

    redis_server.stop()  # no persistence: it comes back empty, every message lost
    at_stop = dict(GenerationJob.objects.filter(pk__in=job_ids).values_list("status")
                   .annotate(n=Count("pk")).order_by())
    time.sleep(2)
    redis_server.start()  # same port
    back, back_at = time.monotonic(), timezone.now()
    wait_for(lambda: _all_finished(job_ids), 90, "every job to finish after the restart")
    recovery = time.monotonic() - back
    resent = [(sent - back_at).total_seconds() for sent in GenerationJob.objects.filter(
        pk__in=job_ids, sent_at__gt=back_at).values_list("sent_at", flat=True)]

    jobs = list(GenerationJob.objects.filter(pk__in=job_ids))
    assert [j.status for j in jobs] == ["succeeded"] * len(job_ids), [j.error for j in jobs]
    drafts = Draft.objects.filter(job_id__in=job_ids)
    assert drafts.count() == 2 * len(job_ids)
    for job in jobs:
        assert sorted(drafts.filter(job=job).values_list("variant", flat=True)) == [0, 1]
    log = worker.log_path.read_text()  # type: ignore[attr-defined]
    # A worker's run takes queued jobs as it goes (continuous batching): sum its runs.
    runs = re.findall(r"succeeded in [\d.]+s: 'wrote (\d+) drafts for (\d+) jobs'", log)
    writes = sum(int(jobs_done) for _, jobs_done in runs)
    duplicates = log.count("'nothing to do'")
    assert writes == len(job_ids)  # each job's drafts written exactly once
    assert sum(int(n) for n, _ in runs) == 2 * len(job_ids)
    # Each lost message is sent again at most once; a worker that is still running takes
    # queued jobs straight from the database (continuous batching), so it may need none.
    assert len(resent) <= at_stop.get("queued", 0)
    print(f"\nredis restart: {len(job_ids)} jobs (at the stop: {at_stop}); Redis down 2.0 s; "
          f"{len(resent)} lost messages re-sent (last {max(resent, default=0):.1f} s) and all jobs succeeded {recovery:.1f} s "
          f"after it came back "
          f"(GENERATION_STUCK_AFTER {stuck} s, RECONCILE_EVERY 1 s); jobs lost 0; "
          f"duplicate drafts {drafts.count() - 2 * len(job_ids)}; drafts written once per "
          f"job ({writes}); duplicate deliveries that did nothing {duplicates}; "
          f"attempts {sorted(j.attempts for j in jobs)}")


def test_every_job_keeps_one_model_version_through_promote_and_rollback(
    tiny: World, processes: Processes, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from generation.adapters import adapter_sha256
    from generation.testing import build_tiny_adapter

    world = tiny
    v1, v2 = (
        ModelVersionFactory(project=world.project, number=100 + n, status="ready",
                            base_model=world.project.base_model, adapter_path=str(folder),
                            adapter_sha256=adapter_sha256(folder))
        for n in (1, 2)
        for folder in [build_tiny_adapter(tiny_model_dir, tmp_path / f"v{n}", seed=n)]
    )
    processes.env.update({"GENERATION_MICRO_BATCH": "4", "GENERATION_MAX_NEW_TOKENS": "48"})
    processes.worker()
    admin, pid = world.admin, world.project.pk
    switches: list[Callable[[], Any]] = [
        lambda: model_promote(user=admin, version_id=v1.pk),
        lambda: model_promote(user=admin, version_id=v2.pk),
        lambda: model_rollback(user=admin, version_id=v1.pk),
        lambda: model_use_base(user=admin, project_id=pid),
        lambda: model_rollback(user=admin, version_id=v2.pk),
        lambda: model_rollback(user=admin, version_id=v1.pk),
    ]
    expected: dict[int, ModelVersion | None] = {}
    busy = 0
    for i, switch in enumerate(switches):
        busy += GenerationJob.objects.filter(pk__in=expected, status="running").exists()
        switch()
        live = Project.objects.select_related("live_model").get(pk=pid).live_model
        for job_id in _submit(world, 3, tag=f"{i}-"):
            expected[job_id] = live
        time.sleep(0.5)  # the worker writes while the next switch lands
    wait_for(lambda: _all_finished(list(expected)), 120, "every job to finish")

    for job_id, live in expected.items():
        job = GenerationJob.objects.select_related("model_version").get(pk=job_id)
        assert job.status == "succeeded", job.error
        assert job.model_version == live  # the version live when the brief was submitted
        drafts = list(Draft.objects.filter(job=job))
        assert sorted(d.variant for d in drafts) == [0, 1]
        assert {d.params["adapter_sha256"] for d in drafts} == {
            live.adapter_sha256 if live else None}
    used = {live.number if live else "base" for live in expected.values()}
    print(f"\npromote / roll back: {len(switches)} switches ({busy} while a job was running), "
          f"{len(expected)} jobs on versions {sorted(map(str, used))}: all succeeded, each "
          f"job's drafts on exactly the version it recorded; lost 0, errors 0")
