"""Back to the base model: the live version taken off, audited, racing a promotion."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.urls import reverse

from studio.models import AuditEvent, ModelVersion, Project
from studio.services import training as svc
from studio.services.briefs import brief_create
from studio.services.errors import WrongState
from studio.services.generation import job_inputs
from tests.conftest import World
from tests.studio.training.test_services import _version

pytestmark = pytest.mark.django_db


def _live(world: World, tmp_path: Path, number: int) -> ModelVersion:
    version = _version(world, tmp_path, number, "ready")
    svc.model_promote(user=world.admin, version_id=version.pk)
    version.refresh_from_db()
    return version


def _brief_job_inputs(world: World) -> dict[str, Any]:
    brief = brief_create(user=world.marketer, project_id=world.project.pk, data={
        "kind": "article", "title": "Light roasts", "instructions": "Say why.", "variants": 1,
    })
    return job_inputs(job_id=brief.jobs.get().pk)


def test_it_archives_the_live_version_audits_once_and_new_jobs_use_no_adapter(
    world: World, tmp_path: Path
) -> None:
    live = _live(world, tmp_path, 1)
    assert _brief_job_inputs(world)["adapter"]["sha256"] == live.adapter_sha256

    project = svc.model_use_base(user=world.admin, project_id=world.project.pk)
    assert project.live_model is None
    world.project.refresh_from_db()
    live.refresh_from_db()
    assert world.project.live_model_id is None and live.status == "archived"
    assert not ModelVersion.objects.filter(project=world.project, status="live").exists()
    event = AuditEvent.objects.get(verb="model.use_base")
    assert event.actor == world.admin and event.team == world.team
    assert event.before == {"live": live.number}
    assert event.after == {"live": None, "base_model": settings.DEFAULT_BASE_MODEL}

    inputs = _brief_job_inputs(world)
    assert inputs["adapter"] is None and inputs["base_model"] == settings.DEFAULT_BASE_MODEL

    # The fine-tune is one roll back away.
    svc.model_rollback(user=world.admin, version_id=live.pk)
    world.project.refresh_from_db()
    assert world.project.live_model_id == live.pk
    assert _brief_job_inputs(world)["adapter"]["path"] == live.adapter_path


def test_it_refuses_clearly_when_the_project_already_uses_the_base(world: World) -> None:
    with pytest.raises(WrongState) as exc:
        svc.model_use_base(user=world.admin, project_id=world.project.pk)
    assert "already uses its base model" in str(exc.value)
    assert not AuditEvent.objects.filter(verb="model.use_base").exists()


def test_it_lets_only_the_teams_admins_use_the_base(world: World, tmp_path: Path) -> None:
    live = _live(world, tmp_path, 2)
    for user in (world.editor, world.marketer):
        with pytest.raises(PermissionDenied):
            svc.model_use_base(user=user, project_id=world.project.pk)
    with pytest.raises(Http404):
        svc.model_use_base(user=world.outsider, project_id=world.project.pk)
    world.project.refresh_from_db()
    assert world.project.live_model_id == live.pk
    assert not AuditEvent.objects.filter(verb="model.use_base").exists()


def _consistent(project_id: int) -> None:
    project = Project.objects.get(pk=project_id)
    live = list(ModelVersion.objects.filter(project_id=project_id, status="live")
                .values_list("pk", flat=True))
    assert live == ([project.live_model_id] if project.live_model_id else []), (
        project.live_model_id, live)


def _race(*actions: Any) -> list[BaseException]:
    """Run each action in its own thread (own database connection), all at once."""
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Any) -> None:
        try:
            barrier.wait()
            action()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_promote_racing_use_base_leaves_one_consistent_state(
    world: World, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    pid = world.project.pk
    for round_ in range(6):
        old = _live(world, tmp_path, 10 + 2 * round_)
        new = _version(world, tmp_path, 11 + 2 * round_, "ready")
        errors = _race(
            lambda v=new: svc.model_promote(user=world.admin, version_id=v.pk),
            lambda: svc.model_use_base(user=world.admin, project_id=pid),
        )
        # Both succeed, in one order or the other: the project's live model and the
        # versions' statuses agree whichever came last.
        assert not errors, errors
        _consistent(pid)
        old.refresh_from_db()
        new.refresh_from_db()
        project = Project.objects.get(pk=pid)
        assert old.status == "archived"
        assert (project.live_model_id, new.status) in ((None, "archived"), (new.pk, "live"))
        if project.live_model_id is None:
            svc.model_rollback(user=world.admin, version_id=new.pk)
        # Back on the base for the next round's promotion.
        svc.model_use_base(user=world.admin, project_id=pid)
        _consistent(pid)
    assert AuditEvent.objects.filter(verb="model.use_base").count() == 12


# The models page ------------------------------------------------------------------------


@pytest.fixture
def admin(client: Any, world: World) -> Any:
    client.force_login(world.admin)
    return client


def test_it_offers_the_base_model_with_a_confirmation_only_while_a_version_is_live(
    admin: Any, world: World, tmp_path: Path
) -> None:
    url = reverse("model_versions", kwargs={"project_id": world.project.pk})
    assert 'id="use-base"' not in admin.get(url).content.decode()
    live = _live(world, tmp_path, 3)
    body = admin.get(url).content.decode()
    action = reverse("model_use_base", kwargs={"project_id": world.project.pk})
    assert 'id="use-base"' in body and f'hx-post="{action}"' in body
    assert f"hx-confirm=\"Take v{live.number} off" in body


def test_it_uses_the_base_from_the_models_page_with_htmx(
    admin: Any, world: World, tmp_path: Path
) -> None:
    live = _live(world, tmp_path, 4)
    action = reverse("model_use_base", kwargs={"project_id": world.project.pk})
    page = reverse("model_versions", kwargs={"project_id": world.project.pk})
    response = admin.post(action, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == page
    world.project.refresh_from_db()
    assert world.project.live_model_id is None
    body = admin.get(page).content.decode()
    assert "now uses its base model" in body and f"Roll back to v{live.number}" in body
    # Again: a clear message, nothing changes.
    again = admin.post(action, follow=True)
    assert "already uses its base model" in again.content.decode()
    assert AuditEvent.objects.filter(verb="model.use_base").count() == 1
