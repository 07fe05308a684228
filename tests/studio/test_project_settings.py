"""Saving a project's settings changes the settings and nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generation.adapters import adapter_sha256
from studio.models import AuditEvent, ModelVersion
from studio.services import projects as project_services
from studio.services.training import model_promote
from tests.conftest import World
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def _ready_version(world: World, folder: Path) -> ModelVersion:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4}))
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    return ModelVersionFactory(project=world.project, number=4242, status="ready",
                               adapter_path=str(folder), adapter_sha256=adapter_sha256(folder))


def test_a_promote_between_reading_and_saving_settings_is_not_undone(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _ready_version(world, tmp_path / "adapter")
    prepare = project_services._webhook_prepare

    def promote_meanwhile(*args: Any, **kwargs: Any) -> None:
        # Another admin promotes after this save read the project and before it writes.
        prepare(*args, **kwargs)
        model_promote(user=world.admin, version_id=version.pk)

    monkeypatch.setattr(project_services, "_webhook_prepare", promote_meanwhile)
    project_services.project_update_settings(
        user=world.admin, project_id=world.project.pk,
        data={"brand_voice": "Short and dry."})

    world.project.refresh_from_db()
    version.refresh_from_db()
    assert world.project.brand_voice == "Short and dry."
    assert world.project.live_model_id == version.pk and version.status == "live"
    assert AuditEvent.objects.filter(verb__in=["model.promote", "project.settings"]).count() == 2
