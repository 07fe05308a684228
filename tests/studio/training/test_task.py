"""run_training_job in this process on the tiny model: a real adapter, a real version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from studio.models import ModelVersion, TrainingExample, TrainingJob
from studio.services import training as svc
from studio.tasks.training import run_training_job
from tests.conftest import World
from tests.studio.training.conftest import FAST, add_examples

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny(world: World, tiny_model_dir: Path) -> World:
    world.project.base_model = f"local:{tiny_model_dir}"
    world.project.auto_promote = True
    world.project.save()
    add_examples(world.project, 14)
    add_examples(world.project, 6, kind=TrainingExample.Kind.PREFERENCE, start=50)
    return world


def _run(job: TrainingJob) -> Any:
    return run_training_job.apply(args=[job.pk]).get()


def test_it_trains_registers_and_promotes_a_version_whose_adapter_the_engine_loads(
    tiny: World, tiny_model_dir: Path
) -> None:
    from generation.adapters import AdapterRef
    from generation.engine import Engine

    job = svc.training_job_start(user=tiny.admin, project_id=tiny.project.pk,
                                 method=TrainingJob.Method.SFT_DPO,
                                 overrides={**FAST, "dpo_min_examples": 4})
    outcome = _run(job)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert outcome.startswith("registered v")
    version = ModelVersion.objects.get(training_job=job)
    assert Path(version.adapter_path) == Path(job.checkpoint_path) / "adapter"
    assert version.snapshot == job.snapshot and version.parent is None
    metrics = version.metrics
    for side in ("candidate", "incumbent"):
        assert metrics[side]["eval_loss"] > 0 and metrics[side]["perplexity"] > 1
    assert metrics["incumbent"]["name"] == "base model"
    assert metrics["train"]["phases"] == ["sft", "dpo"]
    # Progress the page shows: steps, the loss curve (train and eval) and the log.
    assert job.step == job.total_steps > 0
    assert any("loss" in p for p in job.loss_curve)
    assert any("eval_loss" in p for p in job.loss_curve)
    assert "sft started" in job.log_tail
    # The finishing step loaded the adapter as the generation workers do and wrote with it.
    assert version.load_check == "ok" and version.load_checked_at is not None
    assert version.load_check_info["where"] == "training worker"
    assert "sample" in version.load_check_info and version.load_check_info["libraries"]["peft"]
    assert "load check passed" in job.log_tail
    # The gate: the candidate and the base wrote a draft for each held-out brief of the
    # snapshot (same seeds), scored by edit cost against the approved text.
    gate = version.gate
    assert gate["n"] == min(job.snapshot.counts["sft_eval"], settings.GATE_MAX_BRIEFS) > 0
    assert len(gate["pairs"]) == gate["n"] and gate["incumbent"]["name"] == "base model"
    assert gate["candidate"]["eval_loss"] == metrics["candidate"]["eval_loss"]
    assert 0 <= gate["candidate"]["mean_cost"] <= 1 and "high" in gate["difference"]
    assert metrics["candidate_wins"] == gate["passed"]
    assert "gate: " in job.log_tail
    # The gate decided; with auto-promote a winner is live, otherwise it waits.
    tiny.project.refresh_from_db()
    if metrics["candidate_wins"]:
        assert version.status == "live" and tiny.project.live_model_id == version.pk
    else:
        assert version.status == "ready" and tiny.project.live_model_id is None
    # The recorded sha256 is what the generation engine verifies before loading.
    engine = Engine.load(f"local:{tiny_model_dir}", tiny_model_dir.parent)
    key = engine.adapters.ensure_loaded(AdapterRef(version.adapter_path, version.adapter_sha256))
    assert key in engine.adapters.loaded
    # A duplicate delivery does nothing.
    assert _run(job) == "nothing to do"
    assert ModelVersion.objects.filter(training_job=job).count() == 1


def test_it_stops_cleanly_when_cancelled_mid_run_and_registers_nothing(
    tiny: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.tasks.training as task_module

    job = svc.training_job_start(user=tiny.admin, project_id=tiny.project.pk,
                                 overrides={**FAST, "max_steps": 200})
    monkeypatch.setattr(task_module, "CANCEL_CHECK_EVERY_S", 0.0)
    real_progress = svc.training_job_progress

    def progress(**kw: Any) -> bool:
        if kw["step"] >= 2 and not TrainingJob.objects.get(pk=job.pk).cancel_requested:
            svc.training_job_cancel(user=tiny.admin, job_id=job.pk)  # the admin's click
        return real_progress(**kw)

    monkeypatch.setattr(svc, "training_job_progress", progress)
    assert _run(job) == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled" and job.step < 200
    assert not ModelVersion.objects.filter(training_job=job).exists()


def test_it_ends_as_cancelled_a_job_cancelled_while_its_worker_was_dead(tiny: World) -> None:
    job = svc.training_job_start(user=tiny.admin, project_id=tiny.project.pk, overrides=FAST)
    TrainingJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=None,
                                                 cancel_requested=True)
    assert _run(job) == "nothing to do"
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_it_fails_the_job_with_a_clear_error_when_the_snapshot_was_tampered(
    tiny: World,
) -> None:
    job = svc.training_job_start(user=tiny.admin, project_id=tiny.project.pk, overrides=FAST)
    assert job.snapshot is not None
    (Path(job.snapshot.path) / "sft_train.jsonl").write_text("{}\n")
    assert _run(job) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and "manifest" in job.error
    assert not ModelVersion.objects.filter(training_job=job).exists()
