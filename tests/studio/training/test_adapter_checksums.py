"""Legacy weights-only adapter checksums: refused with guidance, re-recorded by
`manage.py adapter_checksums_upgrade` only while the weights still match."""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from generation.adapters import ADAPTER_WEIGHTS, adapter_sha256
from studio.models import AuditEvent, Brief, ModelVersion
from studio.services import training as svc
from studio.services.briefs import brief_create
from studio.services.errors import WrongState
from studio.tasks.training import _incumbent_adapter
from tests.conftest import World
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

GUIDANCE = "python manage.py adapter_checksums_upgrade --apply"


def _legacy_sha(folder: Path) -> str:
    return hashlib.sha256((folder / ADAPTER_WEIGHTS).read_bytes()).hexdigest()


def _legacy_version(world: World, tmp_path: Path, number: int, **kw: Any) -> ModelVersion:
    """A ready version recorded by an earlier release: sha256 of the weights alone."""
    folder = tmp_path / f"v{number}"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4}))
    (folder / ADAPTER_WEIGHTS).write_bytes(f"weights {number}".encode())
    return ModelVersionFactory(project=world.project, number=number + 1_000_000,
                               status=kw.pop("status", "ready"), adapter_path=str(folder),
                               adapter_sha256=_legacy_sha(folder), **kw)


def _command(*args: str) -> str:
    out = StringIO()
    call_command("adapter_checksums_upgrade", *args, stdout=out)
    return out.getvalue()


def test_it_refuses_to_promote_a_legacy_record_saying_what_to_do(
    world: World, tmp_path: Path
) -> None:
    version = _legacy_version(world, tmp_path, 1)
    with pytest.raises(WrongState) as exc:
        svc.model_promote(user=world.admin, version_id=version.pk)
    message = str(exc.value)
    assert f"v{version.number}" in message and "legacy checksum" in message
    assert GUIDANCE in message and "retrain" in message and "unchanged" in message
    version.refresh_from_db()
    world.project.refresh_from_db()
    assert version.status == "ready" and world.project.live_model is None


def test_it_reports_what_it_would_upgrade_and_changes_nothing_without_apply(
    world: World, tmp_path: Path
) -> None:
    version = _legacy_version(world, tmp_path, 2)
    legacy = version.adapter_sha256
    out = _command()
    assert f"v{version.number}: would upgrade" in out
    assert "run again with --apply" in out
    version.refresh_from_db()
    assert version.adapter_sha256 == legacy
    assert not AuditEvent.objects.filter(verb="model.checksum_upgrade").exists()


def test_it_upgrades_with_apply_audits_it_and_the_version_can_then_be_promoted(
    world: World, tmp_path: Path
) -> None:
    version = _legacy_version(world, tmp_path, 3)
    legacy = version.adapter_sha256
    out = _command("--apply")
    assert f"v{version.number}: upgraded" in out
    version.refresh_from_db()
    assert version.adapter_sha256 == adapter_sha256(version.adapter_path) != legacy
    event = AuditEvent.objects.get(verb="model.checksum_upgrade")
    assert (event.actor, event.team, event.object_id) == (None, world.team, str(version.pk))
    assert event.before == {"adapter_sha256": legacy}
    assert event.after == {"adapter_sha256": version.adapter_sha256}

    svc.model_promote(user=world.admin, version_id=version.pk)
    world.project.refresh_from_db()
    assert world.project.live_model_id == version.pk

    again = _command("--apply")
    assert f"v{version.number}: already current" in again
    assert AuditEvent.objects.filter(verb="model.checksum_upgrade").count() == 1


def test_it_refuses_a_version_whose_weights_changed_and_exits_non_zero(
    world: World, tmp_path: Path
) -> None:
    changed = _legacy_version(world, tmp_path, 4)
    fine = _legacy_version(world, tmp_path, 5)
    (Path(changed.adapter_path) / ADAPTER_WEIGHTS).write_bytes(b"retrained by hand")
    legacy = changed.adapter_sha256
    out = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("adapter_checksums_upgrade", "--apply", stdout=out)
    assert f"v{changed.number}: files changed, refused and left as is" in out.getvalue()
    assert f"v{fine.number}: upgraded" in out.getvalue()
    assert f"1 version(s) refused: project {world.project.pk} v{changed.number}" in str(
        exc.value)
    changed.refresh_from_db()
    fine.refresh_from_db()
    assert changed.adapter_sha256 == legacy
    assert fine.adapter_sha256 == adapter_sha256(fine.adapter_path)
    assert list(AuditEvent.objects.filter(verb="model.checksum_upgrade")
                .values_list("object_id", flat=True)) == [str(fine.pk)]


def test_it_reports_a_version_whose_files_are_missing(world: World, tmp_path: Path) -> None:
    version = _legacy_version(world, tmp_path, 6)
    (Path(version.adapter_path) / ADAPTER_WEIGHTS).unlink()
    out = StringIO()
    with pytest.raises(CommandError, match="1 version"):
        call_command("adapter_checksums_upgrade", stdout=out)
    assert f"v{version.number}: files missing" in out.getvalue()
    assert ADAPTER_WEIGHTS in out.getvalue()
    results = svc.adapter_checksums_upgrade(apply=True)
    assert [(r.version.pk, r.outcome) for r in results] == [
        (version.pk, svc.ChecksumOutcome.MISSING)]


def test_a_retrain_compares_with_the_base_when_the_live_record_is_legacy(
    world: World, tmp_path: Path
) -> None:
    version = _legacy_version(world, tmp_path, 7)

    notes: list[str] = []
    recorder: Any = SimpleNamespace(note=notes.append)
    live = {"version": version.number, "path": version.adapter_path,
            "sha256": version.adapter_sha256}
    folder, name = _incumbent_adapter({"incumbent": live}, recorder)
    assert (folder, name) == (None, "base model (live adapter unusable)")
    assert "legacy checksum" in notes[0] and GUIDANCE in notes[0]
    live["sha256"] = adapter_sha256(version.adapter_path)
    assert _incumbent_adapter({"incumbent": live}, recorder) == (
        version.adapter_path, f"v{version.number}")


def test_a_generation_job_on_a_legacy_live_version_fails_naming_the_fix(
    world: World, tmp_path: Path, tiny_model_dir: Path, settings: Any
) -> None:
    from generation.testing import build_tiny_adapter
    from studio.tasks.generation import generate_job

    settings.GENERATION_MAX_NEW_TOKENS = 12
    folder = build_tiny_adapter(tiny_model_dir, tmp_path / "adapter")
    version = ModelVersionFactory(project=world.project, number=1100, status="live",
                                  base_model=f"local:{tiny_model_dir}",
                                  adapter_path=str(folder), adapter_sha256=_legacy_sha(folder))
    world.project.live_model = version
    world.project.save()
    brief = brief_create(user=world.marketer, project_id=world.project.pk,
                         data={"kind": "article", "title": "Light roasts",
                               "instructions": "Say why.", "variants": 1})
    job = brief.jobs.get()
    assert generate_job.apply(args=[job.pk], task_id=f"t-{job.pk}").get() == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 1
    assert "legacy checksum" in job.error and GUIDANCE in job.error
    assert Brief.objects.get(pk=brief.pk).status == "failed"
