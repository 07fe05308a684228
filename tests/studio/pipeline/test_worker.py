"""The pipeline with real parts: a `celery worker` process, real Redis, real models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from studio.models import Brief, Draft, GenerationJob
from studio.services.briefs import brief_create
from studio.services.generation import jobs_reconcile, storable_text
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


def test_it_keeps_serving_in_the_same_process_after_a_broken_adapter_fails_its_job(
    tiny: World, processes: Processes, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Issue #11, point 3, with a real worker: live adapters the base cannot load (one
    trained on another base model, one whose weights file carries a base-model tensor)
    fail their own jobs with the reason; then the same worker process writes a base-model
    job and another team's adapter job exactly as a fresh engine does."""
    from safetensors.torch import load_file, save_file

    from generation.adapters import adapter_sha256
    from generation.engine import Engine
    from generation.testing import build_tiny_adapter, build_tiny_model
    from studio.services.generation import job_inputs
    from studio.services.training import model_use_base
    from studio.tasks.generation import to_request
    from tests.factories import ModelVersionFactory

    world = tiny
    base = world.project.base_model

    def live_version(project: Any, folder: Path, number: int) -> Any:
        # Made live directly: promote's load check would refuse the broken ones.
        project.versions.filter(status="live").update(status="archived")
        version = ModelVersionFactory(project=project, number=number, status="live",
                                      base_model=base, adapter_path=str(folder),
                                      adapter_sha256=adapter_sha256(folder))
        project.base_model, project.live_model = base, version
        project.save()
        return version

    theirs_version = live_version(
        world.other_project, build_tiny_adapter(tiny_model_dir, tmp_path / "good"), 3_000_001)
    other_base = build_tiny_model(tmp_path / "other-base", hidden_size=32, heads=2)
    for_another_base = build_tiny_adapter(other_base, tmp_path / "for-another-base")
    overwriting = build_tiny_adapter(tiny_model_dir, tmp_path / "overwriting", seed=5)
    tensors = load_file(overwriting / "adapter_model.safetensors")
    tensors["base_model.model.model.norm.weight"] = 0 * next(iter(tensors.values()))[0]
    save_file(tensors, overwriting / "adapter_model.safetensors")
    worker = processes.worker()

    def write(project: Any, user: Any, title: str) -> GenerationJob:
        job = brief_create(user=user, project_id=project.pk, data={
            "kind": "article", "title": title, "instructions": "Say why.", "variants": 1,
        }).jobs.get()
        wait_for(lambda: _finished(job), 60, f"job {title!r}")
        return job

    # The worker's model is wrapped by peft (another team's adapter) when the bad ones come.
    first = write(world.other_project, world.outsider, "Their first brief")
    live_version(world.project, for_another_base, 3_000_002)
    wrong_shape = write(world.project, world.marketer, "Our brief on v2")
    live_version(world.project, overwriting, 3_000_003)
    overwrite = write(world.project, world.marketer, "Our brief on v3")
    model_use_base(user=world.admin, project_id=world.project.pk)  # the admin's way out
    on_base = write(world.project, world.marketer, "Our brief on the base model")
    second = write(world.other_project, world.outsider, "Their second brief")

    for job, reason in (
        (wrong_shape, "adapter_model.safetensors holds LoRA weights of the wrong shape"),
        (overwrite, "that are not LoRA weights (base_model.model.model.norm.weight)"),
    ):
        assert (job.status, job.failure, job.attempts) == ("failed", "model", 1)
        assert reason in job.error and "Fix: retrain" in job.error
    fresh = Engine.load(base, tmp_path / "cache")  # what a restarted worker would write
    for job, version in ((first, theirs_version), (on_base, None), (second, theirs_version)):
        assert job.status == "succeeded", job.error
        assert job.model_version_id == (version.pk if version else None)
        drafts = list(Draft.objects.filter(job=job))
        assert drafts[0].params["adapter_sha256"] == (version.adapter_sha256 if version else None)
        # As the studio stores model output: a random seed can make the tiny model write NUL.
        expected = storable_text(
            fresh.generate([to_request(job_inputs(job_id=job.pk))])[0].drafts[0].text)
        assert [d.text for d in drafts] == [expected]
    processes_of = {job.worker.split(":")[0] for job in (first, wrong_shape, on_base, second)}
    assert len(processes_of) == 1 and " pid " in processes_of.pop()  # one worker process
    log = worker.log_path.read_text()  # type: ignore[attr-defined]
    assert log.count("loaded base model") == 1  # never restarted nor reloaded
