"""Promote checks before it switches (issue #11, point 4).

Real adapters on the tiny model, the check task and the generation task run in this
process with the serving engine: a version the serving loader cannot load is refused
with its reason, and the live model stays.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from generation.adapters import adapter_sha256
from generation.testing import build_tiny_adapter, build_tiny_model
from studio.celery import app
from studio.models import AuditEvent, ModelVersion, Project
from studio.services import training as svc
from studio.services.briefs import brief_create
from studio.services.errors import WrongState
from studio.tasks.generation import check_model_version, generate_job
from tests.conftest import World
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

# Far above the factory's sequence (see tests/studio/training/test_services.py).
NUMBER = 2_000_000


@pytest.fixture(scope="module")
def good_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_adapter(tiny_model_dir, tmp_path_factory.mktemp("good") / "adapter")


@pytest.fixture(scope="module")
def other_base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("other-base"), hidden_size=32, heads=2)


def _version(world: World, folder: Path, tiny_model_dir: Path, n: int, status: str = "ready",
             check: str = "unchecked", **kw: Any) -> ModelVersion:
    return ModelVersionFactory(
        project=world.project, number=NUMBER + n, status=status, load_check=check,
        base_model=f"local:{tiny_model_dir}", adapter_path=str(folder),
        adapter_sha256=adapter_sha256(folder), **kw)


def _live(world: World, version: ModelVersion) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(status="live")
    Project.objects.filter(pk=world.project.pk).update(live_model=version,
                                                       base_model=version.base_model)


def another_base(good: Path, tmp: Path, other_base: Path) -> Path:
    return build_tiny_adapter(other_base, tmp / "bad")


def pickle_inside(good: Path, tmp: Path, other_base: Path) -> Path:
    folder = tmp / "bad"
    shutil.copytree(good, folder)
    (folder / "adapter_model.bin").write_bytes(b"\x80\x04 not loaded")
    return folder


def config_for_another_base(good: Path, tmp: Path, other_base: Path) -> Path:
    folder = tmp / "bad"
    shutil.copytree(good, folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    config["target_modules"] = ["c_attn"]  # GPT-2's attention: not in a Llama base
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


BROKEN = [
    (another_base, "adapter_model.safetensors holds LoRA weights of the wrong shape"),
    (pickle_inside, "pickle-based files, which are never loaded: adapter_model.bin"),
    (config_for_another_base, "adapter_config.json names target modules this base model "
                              "does not have"),
]


def test_it_promotes_a_version_only_once_a_worker_has_checked_that_it_loads(
    world: World, good_adapter: Path, tiny_model_dir: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    version = _version(world, good_adapter, tiny_model_dir, 1)
    with pytest.raises(WrongState, match="has not been checked yet"):
        svc.model_promote(user=world.admin, version_id=version.pk)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        svc.model_version_check_request(user=world.admin, version_id=version.pk)
    assert len(callbacks) == 1  # the check is sent once the request commits
    version.refresh_from_db()
    assert version.load_check == "pending"
    with pytest.raises(WrongState, match="is being checked"):
        svc.model_promote(user=world.admin, version_id=version.pk)
    route = app.amqp.router.route({}, "studio.tasks.generation.check_model_version")
    assert route["queue"].name == "generate"  # where the serving engine lives

    assert check_model_version.apply(args=[version.pk]).get() == "ok"
    version.refresh_from_db()
    assert version.load_check == "ok" and version.load_check_error == ""
    assert version.load_check_info["where"].startswith("generation worker")
    assert set(version.load_check_info["libraries"]) == {"torch", "transformers", "peft"}
    assert "sample" in version.load_check_info
    svc.model_promote(user=world.admin, version_id=version.pk)
    world.project.refresh_from_db()
    assert world.project.live_model_id == version.pk


@pytest.mark.parametrize(("fault", "reason"), BROKEN, ids=[f.__name__ for f, _ in BROKEN])
def test_it_refuses_to_promote_a_version_the_serving_loader_cannot_load(
    world: World, good_adapter: Path, other_base_dir: Path, tiny_model_dir: Path,
    tmp_path: Path, fault: Any, reason: str,
) -> None:
    live = _version(world, good_adapter, tiny_model_dir, 2, check="ok")
    _live(world, live)
    bad = _version(world, fault(good_adapter, tmp_path, other_base_dir), tiny_model_dir, 3)

    assert check_model_version.apply(args=[bad.pk]).get() == "failed"
    bad.refresh_from_db()
    assert bad.load_check == "failed"
    assert reason in bad.load_check_error and "Fix" in bad.load_check_error
    with pytest.raises(WrongState) as refused:
        svc.model_promote(user=world.admin, version_id=bad.pk)
    assert reason in str(refused.value) and "live model is unchanged" in str(refused.value)
    world.project.refresh_from_db()
    live.refresh_from_db()
    assert world.project.live_model_id == live.pk and live.status == "live"
    assert ModelVersion.objects.get(pk=bad.pk).status == "ready"
    assert not AuditEvent.objects.filter(verb="model.promote").exists()


def test_it_explains_the_refusal_on_the_models_page_and_in_the_api(
    client: Any, world: World, good_adapter: Path, other_base_dir: Path,
    tiny_model_dir: Path, tmp_path: Path,
) -> None:
    bad = _version(world, another_base(good_adapter, tmp_path, other_base_dir),
                   tiny_model_dir, 4)
    check_model_version.apply(args=[bad.pk]).get()
    client.force_login(world.admin)

    page = client.get(reverse("model_versions", kwargs={"project_id": world.project.pk}))
    row = page.content.decode().split(f'id="version-{bad.pk}"')[1].split("</tr>")[0]
    assert "cannot be loaded" in row and "wrong shape" in row
    assert "Promote" not in row and "Check again" in row
    done = client.post(reverse("model_promote", kwargs={"version_id": bad.pk}), follow=True)
    assert "cannot be loaded" in done.content.decode()
    assert "wrong shape" in done.content.decode()

    response = client.post(reverse("api:model-version-promote", kwargs={"version_id": bad.pk}),
                           content_type="application/json")
    assert response.status_code == 409
    assert "wrong shape" in response.json()["detail"]
    assert Project.objects.get(pk=world.project.pk).live_model_id is None


def test_it_rolls_back_to_an_unchecked_version_but_not_to_one_that_cannot_load(
    world: World, good_adapter: Path, tiny_model_dir: Path,
) -> None:
    live = _version(world, good_adapter, tiny_model_dir, 5, check="ok")
    _live(world, live)
    served_before = _version(world, good_adapter, tiny_model_dir, 6, status="archived")
    broken = _version(world, good_adapter, tiny_model_dir, 7, status="archived",
                      check="failed", load_check_error="adapter_config.json names target "
                      "modules this base model does not have")
    with pytest.raises(WrongState, match="target modules"):
        svc.model_rollback(user=world.admin, version_id=broken.pk)
    svc.model_rollback(user=world.admin, version_id=served_before.pk)
    world.project.refresh_from_db()
    assert world.project.live_model_id == served_before.pk


def test_it_marks_the_live_version_failed_when_a_job_cannot_load_it_and_offers_a_roll_back(
    client: Any, world: World, good_adapter: Path, other_base_dir: Path,
    tiny_model_dir: Path, tmp_path: Path, settings: Any,
) -> None:
    settings.GENERATION_MAX_NEW_TOKENS = 8
    before = _version(world, good_adapter, tiny_model_dir, 8, status="archived", check="ok")
    folder = another_base(good_adapter, tmp_path, other_base_dir)
    live = _version(world, folder, tiny_model_dir, 9, check="ok", parent=before)
    _live(world, live)  # its check passed once; the files are not what serving can load
    job = brief_create(user=world.marketer, project_id=world.project.pk, data={
        "kind": "article", "title": "Cold brew", "instructions": "Say why.", "variants": 1,
    }).jobs.get()

    assert generate_job.apply(args=[job.pk]).get() == "failed"
    job.refresh_from_db()
    live.refresh_from_db()
    assert job.failure == "model" and "wrong shape" in job.error
    assert live.load_check == "failed" and "wrong shape" in live.load_check_error
    assert live.load_check_info["where"] == "a generation job"

    client.force_login(world.admin)
    page = client.get(reverse("model_versions", kwargs={"project_id": world.project.pk}))
    banner = page.content.decode().split('id="live-broken"')[1].split("</div>")[0]
    assert "the live model, cannot be loaded" in banner and "wrong shape" in banner
    assert reverse("model_rollback", kwargs={"version_id": before.pk}) in banner
    client.post(reverse("model_rollback", kwargs={"version_id": before.pk}))
    world.project.refresh_from_db()
    assert world.project.live_model_id == before.pk  # one click, and new briefs use v8


def test_it_checks_from_the_models_page_and_polls_until_the_answer(
    client: Any, world: World, good_adapter: Path, tiny_model_dir: Path,
) -> None:
    version = _version(world, good_adapter, tiny_model_dir, 10)
    client.force_login(world.admin)
    url = reverse("model_versions", kwargs={"project_id": world.project.pk})
    row = client.get(url).content.decode().split(f'id="version-{version.pk}"')[1]
    assert "not checked" in row and "Check it loads" in row.split("</tr>")[0]
    assert "Promote" not in row.split("</tr>")[0]

    done = client.post(reverse("model_check", kwargs={"version_id": version.pk}), follow=True)
    body = done.content.decode()
    assert f"Checking v{version.number}" in body and "checking…" in body
    assert 'hx-trigger="every 2s"' in body  # the table polls while the check runs
    check_model_version.apply(args=[version.pk]).get()
    body = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' not in body
    row = body.split(f'id="version-{version.pk}"')[1].split("</tr>")[0]
    assert '<span class="tag ok">loads</span>' in row and "Promote" in row
    assert "generation worker" in row and "Check again" in row
