"""The pipeline with real parts: a `celery worker` process, real Redis, real models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from studio.models import Brief, Draft, GenerationJob
from studio.services.briefs import brief_create
from studio.services.generation import jobs_reconcile
from tests.conftest import World
from tests.studio.pipeline.conftest import Processes, RedisServer, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _brief(world: World, **over: Any) -> Brief:
    data = {"kind": "ad_copy", "title": "Autumn blend", "product": "Autumn Blend 250 g",
            "channel": "Instagram", "call_to_action": "Order today", "variants": 2, **over}
    return brief_create(user=world.marketer, project_id=world.project.pk, data=data)


def _finished(job: GenerationJob) -> bool:
    job.refresh_from_db()
    return job.status in ("succeeded", "failed")


@pytest.fixture
def tiny(world: World, tiny_model_dir: Path, settings: Any) -> World:
    settings.GENERATION_MAX_NEW_TOKENS = 12
    world.project.base_model = f"local:{tiny_model_dir}"
    world.project.save()
    return world


def test_it_writes_drafts_with_the_bundled_model_end_to_end(
    world: World, processes: Processes, settings: Any
) -> None:
    settings.GENERATION_MAX_NEW_TOKENS = 24
    processes.env["GENERATION_MAX_NEW_TOKENS"] = "24"
    processes.worker()
    brief = _brief(world, variants=2)
    job = brief.jobs.get()
    wait_for(lambda: _finished(job), 300, "the bundled model to write the drafts")
    assert job.status == "succeeded", job.error
    brief.refresh_from_db()
    assert brief.status == "in_review"
    drafts = list(Draft.objects.filter(job=job).order_by("variant"))
    assert len(drafts) == 2
    assert all(d.text.strip() for d in drafts)
    assert all("Autumn Blend 250 g" in d.prompt for d in drafts)
    assert drafts[0].params["model"].startswith("bundled:smollm2")
    assert job.base_model == "bundled:smollm2-135m-instruct"


def test_it_finishes_a_job_once_after_the_worker_is_killed_mid_generation(
    world: World, processes: Processes, settings: Any
) -> None:
    # The bundled model with 8 variants takes long enough to kill it mid-job.
    processes.env.update({"GENERATION_MAX_NEW_TOKENS": "64", "GENERATION_STUCK_AFTER": "4"})
    settings.GENERATION_STUCK_AFTER = 4
    first = processes.worker()
    brief = _brief(world, variants=8)
    job = brief.jobs.get()
    wait_for(lambda: GenerationJob.objects.get(pk=job.pk).status == "running", 120,
             "the worker to claim the job")
    processes.kill(first)
    job.refresh_from_db()
    assert job.status == "running" and not Draft.objects.filter(job=job).exists()
    # A new worker and the scheduler: beat's reconciler re-sends the stalled job.
    processes.worker(GENERATION_STUCK_AFTER="4")
    processes.beat(GENERATION_STUCK_AFTER="4")
    wait_for(lambda: _finished(job), 300, "the job to finish on the second worker")
    assert job.status == "succeeded", job.error
    assert job.attempts == 2
    assert Draft.objects.filter(job=job).count() == 8
    assert sorted(Draft.objects.filter(job=job).values_list("variant", flat=True)) == list(
        range(8))


def test_it_writes_one_set_of_drafts_when_a_job_is_delivered_twice(
    tiny: World, processes: Processes
) -> None:
    from studio.tasks.generation import generate_job

    processes.worker()
    job = _brief(tiny, variants=3).jobs.get()
    generate_job.apply_async(args=[job.pk])  # a duplicate publish (double click, retry)
    generate_job.apply_async(args=[job.pk])
    wait_for(lambda: _finished(job), 120, "the job")
    r = redis.Redis.from_url(processes.broker_url)
    wait_for(lambda: r.llen("generate") == 0, 60, "the queue to drain")
    assert job.status == "succeeded"
    assert Draft.objects.filter(job=job).count() == 3
    assert job.attempts == 1


def test_it_sends_a_brief_saved_while_redis_was_down_once_redis_is_back(
    tiny: World, processes: Processes, redis_server: RedisServer
) -> None:
    redis_server.stop()
    brief = _brief(tiny, variants=2)  # no exception: the user sees "queued"
    job = brief.jobs.get()
    assert (brief.status, job.status, job.sent_at) == ("queued", "queued", None)
    redis_server.start()
    processes.worker()
    assert jobs_reconcile() == [job.pk]  # what beat runs every RECONCILE_EVERY seconds
    wait_for(lambda: _finished(job), 120, "the job")
    assert job.status == "succeeded" and job.attempts == 1
    assert Draft.objects.filter(job=job).count() == 2
    assert jobs_reconcile() == []  # done: never sent again


def test_it_fails_a_job_whose_model_always_breaks_after_n_attempts(
    world: World, processes: Processes, tmp_path: Path, settings: Any
) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": -3}))
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    world.project.base_model = f"local:{broken}"
    world.project.save()
    processes.worker()
    brief = _brief(world, variants=1)
    job = brief.jobs.get()
    wait_for(lambda: _finished(job), 120, "the job to give up")
    assert job.status == "failed"
    assert job.attempts == settings.GENERATION_MAX_ATTEMPTS
    assert "ModelLoadError" in job.error
    brief.refresh_from_db()
    assert brief.status == "failed"
