"""Training services: start, refuse, cancel, claim, snapshots, promote and roll back."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from generation.adapters import adapter_sha256
from studio.models import AuditEvent, DatasetSnapshot, ModelVersion, TrainingExample, TrainingJob
from studio.services import training as svc
from studio.services.briefs import brief_create
from studio.services.errors import WrongState
from tests.conftest import World
from tests.factories import ModelVersionFactory
from tests.studio.training.conftest import add_examples

pytestmark = pytest.mark.django_db


def _start(world: World, **kw: Any) -> TrainingJob:
    return svc.training_job_start(user=world.admin, project_id=world.project.pk, **kw)


def _fake_adapter(folder: Path, seed: str = "a") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4}))
    data = f"weights {seed}".encode()
    (folder / "adapter_model.safetensors").write_bytes(data)
    return adapter_sha256(folder)


# Far above the factory's sequence (world.version's number grows with every test of the
# session: thousands in a full run), so numbers never collide with world.version.
VERSION_OFFSET = 1_000_000


def _version(world: World, tmp_path: Path, number: int, status: str, **kw: Any) -> ModelVersion:
    number += VERSION_OFFSET
    path = tmp_path / f"v{number}"
    sha = _fake_adapter(path, str(number))
    return ModelVersionFactory(project=kw.pop("project", world.project), number=number,
                               status=status, adapter_path=str(path), adapter_sha256=sha, **kw)


def test_it_refuses_a_retrain_with_no_examples(world: World) -> None:
    with pytest.raises(ValidationError) as exc:
        _start(world)
    assert "at least 8" in str(exc.value) and "has 0" in str(exc.value)
    assert TrainingJob.objects.filter(project=world.project, status="queued").count() == 0


def test_it_refuses_too_few_examples_naming_the_count_needed(world: World) -> None:
    add_examples(world.project, 5)
    with pytest.raises(ValidationError) as exc:
        _start(world)
    assert "at least 8" in str(exc.value)
    assert not TrainingJob.objects.filter(project=world.project, status="queued").exists()
    # Nothing half-written: no snapshot files or row for a refused start.
    assert not (Path(settings.DATASET_DIR) / str(world.project.pk)).exists()
    assert not DatasetSnapshot.objects.filter(project=world.project).exists()


def test_it_refuses_dpo_without_enough_preference_pairs(world: World) -> None:
    add_examples(world.project, 12)
    add_examples(world.project, 1, kind=TrainingExample.Kind.PREFERENCE)
    with pytest.raises(ValidationError) as exc:
        _start(world, method=TrainingJob.Method.SFT_DPO)
    assert "at least 4 preference" in str(exc.value)


def test_it_starts_a_job_on_a_frozen_snapshot_and_enqueues_on_commit(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    add_examples(world.project, 12)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = _start(world, overrides={"max_steps": 4})
    assert len(callbacks) == 1
    assert job.status == "queued" and job.requested_by == world.admin
    snap = job.snapshot
    assert snap is not None and Path(snap.path) == (
        Path(settings.DATASET_DIR) / str(world.project.pk) / snap.content_hash
    )
    assert (Path(snap.path) / "manifest.json").is_file()
    assert snap.counts["sft_train"] + snap.counts["sft_eval"] == 12
    assert job.checkpoint_path == str(
        Path(settings.ADAPTER_DIR) / str(world.project.pk) / f"job-{job.pk}"
    )
    assert job.hyperparameters["max_steps"] == 4 and job.hyperparameters["dpo"] is False
    assert AuditEvent.objects.filter(verb="training.start", object_id=str(job.pk)).count() == 1


def test_it_refuses_a_second_concurrent_job(world: World) -> None:
    add_examples(world.project, 12)
    first = _start(world)
    with pytest.raises(ValidationError) as exc:
        _start(world)
    assert f"#{first.pk} is already queued or running" in str(exc.value)
    TrainingJob.objects.filter(pk=first.pk).update(status="running")
    with pytest.raises(ValidationError):
        _start(world)
    assert TrainingJob.objects.filter(project=world.project, status__in=svc.ACTIVE).count() == 1


def test_it_lets_only_admins_start_and_hides_the_project_from_outsiders(world: World) -> None:
    add_examples(world.project, 12)
    for user in (world.editor, world.marketer):
        with pytest.raises(PermissionDenied):
            svc.training_job_start(user=user, project_id=world.project.pk)
    with pytest.raises(Http404):
        svc.training_job_start(user=world.outsider, project_id=world.project.pk)
    assert not TrainingJob.objects.filter(status="queued").exists()


def test_it_rebuilds_a_snapshot_with_the_same_hash_and_leaves_excluded_examples_out(
    world: World,
) -> None:
    rows = add_examples(world.project, 10)
    first, row = svc.snapshot_freeze(project=world.project)
    again, row_again = svc.snapshot_freeze(project=world.project)
    assert first.content_hash == again.content_hash and row.pk == row_again.pk
    assert DatasetSnapshot.objects.filter(project=world.project).count() == 1

    add_examples(world.project, 1, text="EXCLUDED-SECRET-TEXT", start=99)
    excluded = TrainingExample.objects.get(completion="EXCLUDED-SECRET-TEXT")
    svc.example_set_excluded(user=world.admin, example_id=excluded.pk, excluded=True)
    after, _ = svc.snapshot_freeze(project=world.project)
    assert after.content_hash == first.content_hash  # the excluded row changes nothing
    files = "".join(p.read_text() for p in Path(row.path).glob("*.jsonl"))
    assert "EXCLUDED-SECRET-TEXT" not in files and rows[0].completion in files
    assert AuditEvent.objects.filter(verb="example.exclude").count() == 1


def test_it_never_puts_another_teams_examples_in_a_snapshot(world: World) -> None:
    add_examples(world.project, 12)
    add_examples(world.other_project, 12, text="CANARY-BETA-7f3a")
    add_examples(world.other_project, 6, kind=TrainingExample.Kind.PREFERENCE,
                 text="CANARY-BETA-pref")
    job = _start(world)
    assert job.snapshot is not None
    files = "".join(p.read_text() for p in Path(job.snapshot.path).iterdir())
    assert "CANARY" not in files


def test_it_cancels_a_queued_job_at_once_and_a_running_one_at_its_next_step(
    world: World,
) -> None:
    add_examples(world.project, 12)
    job = _start(world)
    assert svc.training_job_cancel(user=world.admin, job_id=job.pk).status == "cancelled"
    job = _start(world)
    claim = svc.training_job_claim(job_id=job.pk)
    assert claim is not None
    cancelled = svc.training_job_cancel(user=world.admin, job_id=job.pk)
    assert cancelled.status == "running" and cancelled.cancel_requested
    assert svc.training_job_should_stop(claim=claim)
    assert svc.training_job_stopped(claim=claim)
    job.refresh_from_db()
    assert job.status == "cancelled"
    with pytest.raises(WrongState):
        svc.training_job_cancel(user=world.admin, job_id=job.pk)
    with pytest.raises(PermissionDenied):
        svc.training_job_cancel(user=world.editor, job_id=job.pk)
    assert AuditEvent.objects.filter(verb="training.cancel").count() == 2


def test_it_claims_a_job_once_and_again_when_its_heartbeat_is_stale(
    world: World, settings: Any
) -> None:
    add_examples(world.project, 12)
    job = _start(world)
    first = svc.training_job_claim(job_id=job.pk)
    assert first is not None and svc.training_job_claim(job_id=job.pk) is None
    TrainingJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.TRAINING_STUCK_AFTER + 5)
    )
    second = svc.training_job_claim(job_id=job.pk)
    assert second is not None and second.attempts == 2
    # The first run lost the job: its progress is dropped and it is told to stop.
    assert not svc.training_job_heartbeat(claim=first)
    assert svc.training_job_should_stop(claim=first)
    for _ in range(settings.TRAINING_MAX_ATTEMPTS - 1):
        TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at=None)
        svc.training_job_claim(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "attempts" in job.error


def test_it_reconciles_unsent_and_stale_jobs(world: World, settings: Any, monkeypatch) -> None:
    add_examples(world.project, 12)
    job = _start(world)
    sent: list[int] = []
    monkeypatch.setattr(svc.jobs, "training_job_send", lambda job_id: sent.append(job_id) or True)
    assert svc.training_jobs_reconcile() == [job.pk]  # never sent (broker was down)
    TrainingJob.objects.filter(pk=job.pk).update(sent_at=timezone.now())
    assert svc.training_jobs_reconcile() == []
    svc.training_job_claim(job_id=job.pk)
    assert svc.training_jobs_reconcile() == []
    TrainingJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.TRAINING_STUCK_AFTER + 5)
    )
    assert svc.training_jobs_reconcile() == [job.pk]


def test_it_promotes_atomically_archives_the_old_live_version_and_audits(
    world: World, tmp_path: Path
) -> None:
    old = _version(world, tmp_path, 11, "live")
    world.project.live_model = old
    world.project.save()
    new = _version(world, tmp_path, 12, "ready", parent=old)
    svc.model_promote(user=world.admin, version_id=new.pk)
    world.project.refresh_from_db()
    old.refresh_from_db()
    new.refresh_from_db()
    assert world.project.live_model_id == new.pk and new.status == "live"
    assert old.status == "archived" and new.promoted_at is not None
    event = AuditEvent.objects.get(verb="model.promote")
    assert event.actor == world.admin and event.before == {"live": old.number}

    svc.model_rollback(user=world.admin, version_id=old.pk)
    world.project.refresh_from_db()
    assert world.project.live_model_id == old.pk
    assert ModelVersion.objects.get(pk=new.pk).status == "archived"
    assert AuditEvent.objects.filter(verb="model.rollback").count() == 1


def test_it_uses_the_new_live_version_for_the_next_generation_job(
    world: World, tmp_path: Path
) -> None:
    new = _version(world, tmp_path, 21, "ready")
    svc.model_promote(user=world.admin, version_id=new.pk)
    brief = brief_create(user=world.marketer, project_id=world.project.pk, data={
        "kind": "article", "title": "Light roasts", "instructions": "Say why.", "variants": 1,
    })
    job = brief.jobs.get()
    assert job.model_version_id == new.pk


def test_it_refuses_to_promote_a_failed_or_foreign_version(world: World, tmp_path: Path) -> None:
    failed = _version(world, tmp_path, 31, "failed")
    with pytest.raises(WrongState) as exc:
        svc.model_promote(user=world.admin, version_id=failed.pk)
    assert "only a ready version" in str(exc.value)
    foreign = _version(world, tmp_path, 32, "ready", project=world.other_project)
    with pytest.raises(Http404):
        svc.model_promote(user=world.admin, version_id=foreign.pk)
    with pytest.raises(PermissionDenied):
        svc.model_promote(user=world.editor, version_id=failed.pk)
    world.project.refresh_from_db()
    assert world.project.live_model is None
    assert not AuditEvent.objects.filter(verb="model.promote").exists()


def test_it_refuses_a_rollback_to_a_version_whose_adapter_is_missing(
    world: World, tmp_path: Path
) -> None:
    live = _version(world, tmp_path, 41, "live")
    world.project.live_model = live
    world.project.save()
    gone = _version(world, tmp_path, 40, "archived")
    for f in Path(gone.adapter_path).iterdir():
        f.unlink()
    Path(gone.adapter_path).rmdir()
    with pytest.raises(WrongState) as exc:
        svc.model_rollback(user=world.admin, version_id=gone.pk)
    assert "cannot be used" in str(exc.value) and "unchanged" in str(exc.value)
    world.project.refresh_from_db()
    live.refresh_from_db()
    assert world.project.live_model_id == live.pk and live.status == "live"


def test_it_refuses_an_adapter_whose_sha256_no_longer_matches(
    world: World, tmp_path: Path
) -> None:
    version = _version(world, tmp_path, 51, "ready")
    (Path(version.adapter_path) / "adapter_model.safetensors").write_bytes(b"tampered")
    with pytest.raises(WrongState) as exc:
        svc.model_promote(user=world.admin, version_id=version.pk)
    assert "sha256" in str(exc.value)
    version.refresh_from_db()
    assert version.status == "ready"
    world.project.refresh_from_db()
    assert world.project.live_model is None


LOADS = {"ok": True, "error": "", "info": {"where": "training worker"}}
DOES_NOT_LOAD = {"ok": False, "error": "adapter_config.json names target modules this base "
                 "model does not have", "info": {"where": "training worker"}}


@pytest.mark.parametrize(("auto_promote", "wins", "check", "status"), [
    (True, True, LOADS, "live"), (True, False, LOADS, "ready"), (False, True, LOADS, "ready"),
    (True, True, DOES_NOT_LOAD, "ready"), (True, True, None, "ready"),
], ids=["auto-winner", "auto-loser", "manual", "auto-winner-that-does-not-load",
        "auto-winner-never-checked"])
def test_it_registers_a_version_and_promotes_only_a_winner_with_auto_promote(
    world: World, tmp_path: Path, auto_promote: bool, wins: bool,
    check: dict[str, Any] | None, status: str,
) -> None:
    world.project.auto_promote = auto_promote
    world.project.save()
    previous = _version(world, tmp_path, 60, "live")
    world.project.live_model = previous
    world.project.save()
    add_examples(world.project, 12)
    job = _start(world)
    claim = svc.training_job_claim(job_id=job.pk)
    assert claim is not None
    sha = _fake_adapter(tmp_path / "candidate")
    version = svc.training_job_finish(
        claim=claim, adapter_path=str(tmp_path / "candidate"), adapter_sha=sha,
        metrics={"candidate": {"eval_loss": 1.0}}, candidate_wins=wins, load_check=check,
    )
    assert version is not None
    assert version.number == previous.number + 1 and version.parent == previous and version.snapshot == job.snapshot
    version.refresh_from_db()
    assert version.status == status
    assert version.load_check == ("unchecked" if check is None
                                  else "ok" if check["ok"] else "failed")
    if check is not None and not check["ok"]:
        assert "target modules" in version.load_check_error
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert AuditEvent.objects.filter(verb="model.promote").count() == (status == "live")
    world.project.refresh_from_db()
    assert world.project.live_model == (version if status == "live" else previous)
    # A second finish of the same claim (a duplicate run) registers nothing more.
    assert svc.training_job_finish(claim=claim, adapter_path="x", adapter_sha="y", metrics={},
                                   candidate_wins=True) is None


def test_it_auto_retrains_projects_over_their_threshold_once(
    world: World, tmp_path: Path
) -> None:
    live = _version(world, tmp_path, 70, "live")
    world.project.live_model = live
    world.project.save()
    old = add_examples(world.project, 10)
    TrainingExample.objects.filter(pk__in=[e.pk for e in old]).update(
        created_at=live.created_at - timedelta(days=1)
    )
    # Off by default: no threshold, no job.
    assert svc.training_auto_retrain() == []
    world.project.auto_retrain_threshold = 3
    world.project.save()
    add_examples(world.project, 2, start=100)
    assert svc.training_auto_retrain() == []  # 2 new < 3
    add_examples(world.project, 1, start=200)
    started = svc.training_auto_retrain()
    assert len(started) == 1
    job = TrainingJob.objects.get(pk=started[0])
    assert job.requested_by is None and job.status == "queued"
    assert svc.training_auto_retrain() == []  # one active job at a time
    TrainingJob.objects.filter(pk=job.pk).update(status="succeeded")
    assert svc.training_auto_retrain() == []  # nothing new since that job
    assert AuditEvent.objects.get(verb="training.start").after["auto"] is True


def test_it_schedules_training_housekeeping_on_the_default_queue(settings: Any) -> None:
    from studio.celery import app

    entries = {e["task"]: e for e in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("studio.tasks.training.auto_retrain",
                 "studio.tasks.training.reconcile_training_jobs"):
        assert name in app.tasks
        # Not behind a long training job on the train queue.
        route = app.amqp.router.route(dict(entries[name].get("options", {})), name, (), {}, None)
        assert route["queue"].name == "default"
    route = app.amqp.router.route({}, "studio.tasks.training.run_training_job", (), {}, None)
    assert route["queue"].name == "train"


def test_it_runs_auto_retrain_from_its_task(world: World) -> None:
    from studio.tasks.training import auto_retrain

    world.project.auto_retrain_threshold = 5
    world.project.save()
    add_examples(world.project, 12)
    started = auto_retrain.apply().get()
    assert started == [TrainingJob.objects.get(project=world.project, status="queued").pk]
