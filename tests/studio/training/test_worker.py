"""A real `celery worker -Q train` process, SIGKILLed mid-training: the job resumes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from studio.models import ModelVersion, TrainingJob
from studio.services import training as svc
from tests.conftest import World
from tests.studio.pipeline.conftest import ROOT, Processes, point_celery_at, wait_for
from tests.studio.training.conftest import FAST, add_examples

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def train_worker(procs: Processes) -> subprocess.Popen[bytes]:
    """Like Processes.worker, on the ``train`` queue."""
    name = f"t{uuid.uuid4().hex[:6]}"
    log = procs.logdir / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "studio", "worker", "-Q", "train", "-c", "1",
         "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT, env=procs._env({}), stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_path = log  # type: ignore[attr-defined]
    procs.procs.append(proc)
    wait_for(lambda: b" ready." in log.read_bytes() or proc.poll() is not None, 90,
             "the training worker to start")
    assert proc.poll() is None, log.read_text()[-3000:]
    return proc


def publish_to(url: str) -> None:
    """Point this process's publisher at ``url``. pipeline's point_celery_at sets only
    broker_url, but Celery resolved broker_write_url from the settings when it loaded its
    configuration, so messages would still go to CELERY_BROKER_URL."""
    from studio.celery import app

    point_celery_at(url)
    app.conf.broker_write_url = url
    app.conf.broker_read_url = url


def _checkpoints(job: TrainingJob) -> list[int]:
    from generation.training.checkpoints import complete_checkpoints

    return [step for step, _ in complete_checkpoints(Path(job.checkpoint_path) / "sft")]


def test_it_resumes_a_job_from_its_checkpoint_after_the_worker_is_killed(
    world: World, processes: Processes, tiny_model_dir: Path, settings: Any
) -> None:
    settings.TRAINING_STUCK_AFTER = 3
    processes.env.update({
        "TRAINING_STUCK_AFTER": "3",
        "ADAPTER_DIR": str(settings.ADAPTER_DIR),
        "DATASET_DIR": str(settings.DATASET_DIR),
    })
    publish_to(processes.broker_url)
    world.project.base_model = f"local:{tiny_model_dir}"
    world.project.save()
    add_examples(world.project, 14)
    first = train_worker(processes)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk, overrides={
        **FAST, "max_steps": 40, "eval_steps": 5, "save_steps": 5, "keep_checkpoints": 3,
    })

    def past_a_checkpoint() -> bool:
        job.refresh_from_db()
        return job.status == "running" and job.step >= 12 and bool(_checkpoints(job))

    try:
        wait_for(past_a_checkpoint, 180, "training to pass its first checkpoints")
    except AssertionError as exc:
        log = first.log_path.read_text()[-3000:]  # type: ignore[attr-defined]
        raise AssertionError(f"{exc}: job {job.status} at step {job.step} {job.error}\n"
                             f"{job.log_tail}\n{log}") from None
    Processes.kill(first)
    checkpoint = max(_checkpoints(job))
    job.refresh_from_db()
    assert job.status == "running" and 0 < checkpoint < 40
    assert not ModelVersion.objects.filter(training_job=job).exists()
    world.project.refresh_from_db()
    assert world.project.live_model is None  # untouched until a promotion

    train_worker(processes)
    # The dead worker's heartbeat goes stale; the reconciler (beat) re-sends the job.
    wait_for(lambda: svc.training_jobs_reconcile() == [job.pk], 30, "the job to be re-sent")
    steps: list[int] = []

    def finished() -> bool:
        job.refresh_from_db()
        if job.attempts >= 2 and job.status == "running":
            steps.append(job.step)
        return job.status in ("succeeded", "failed", "cancelled")

    wait_for(finished, 240, "the resumed job to finish")
    assert job.status == "succeeded", job.error
    assert job.attempts == 2
    assert f"sft resumed at step {checkpoint}" in job.log_tail
    assert steps and min(steps) >= checkpoint  # never back to 0
    version = ModelVersion.objects.get(training_job=job)
    assert version.metrics["train"]["resumed_from_step"] == checkpoint
    assert version.metrics["train"]["steps"] == 40 and job.step == 40
    assert Path(version.adapter_path).is_dir()
