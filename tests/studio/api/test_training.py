"""Training data, jobs and model versions through the API: the training services, admins only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from generation.adapters import adapter_sha256
from studio.models import AuditEvent, ModelVersion, Project, TrainingExample, TrainingJob
from tests.conftest import World
from tests.factories import ModelVersionFactory
from tests.studio.api.conftest import Api


def _examples(project: Project, n: int, kind: str = "sft", start: int = 0) -> list[Any]:
    return TrainingExample.objects.bulk_create([
        TrainingExample(
            project=project, kind=kind, content_kind="ad_copy",
            prompt=[{"role": "user", "content": f"Write ad copy for coffee {i}."}],
            completion=f"Coffee {i}: bold, short, clear.",
            rejected_completion=f"coffee {i} cheap" if kind == "preference" else "",
        )
        for i in range(start, start + n)
    ])


def _adapter_version(w: World, tmp_path: Path, number: int, status: str) -> ModelVersion:
    # Far above the factory's sequence (world.version's number grows with every test in
    # the session), so numbers never collide whatever runs before.
    number += 1_000_000
    folder = tmp_path / f"v{number}"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4}))
    data = f"weights {number}".encode()
    (folder / "adapter_model.safetensors").write_bytes(data)
    return ModelVersionFactory(project=w.project, number=number, status=status,
                               adapter_path=str(folder),
                               adapter_sha256=adapter_sha256(folder))


def _url(name: str, **kw: Any) -> str:
    return reverse(f"api:{name}", kwargs=kw)


def test_it_lists_and_filters_examples(api: Api, world: World) -> None:
    sft = _examples(world.project, 2)
    pref = _examples(world.project, 1, kind="preference", start=5)
    _examples(world.other_project, 1)
    url = _url("project-training-examples", project_id=world.project.pk)
    api.as_(world.admin)
    assert {e["id"] for e in api.get(url).json()["results"]} == {e.pk for e in sft + pref}
    assert [e["id"] for e in api.get(url, kind="preference").json()["results"]] == [pref[0].pk]
    assert api.get(url, q="coffee 1:").json()["count"] == 1
    assert api.get(url, kind="nonsense").status_code == 400
    assert api.as_(world.editor).get(url).status_code == 403
    assert api.as_(world.outsider).get(url).status_code == 404


def test_it_excludes_and_includes_an_example(api: Api, world: World) -> None:
    (example,) = _examples(world.project, 1)
    url = _url("training-example-exclude", example_id=example.pk)
    api.as_(world.admin)
    response = api.post(url, {"excluded": True})
    assert response.status_code == 200 and response.json()["excluded"] is True
    assert api.post(url, {"excluded": False}).json()["excluded"] is False
    assert AuditEvent.objects.filter(verb__startswith="example.").count() == 2
    for body in ({}, {"excluded": "maybe"}, {"excluded": True, "project": 1}):
        assert api.post(url, body).status_code == 400
    assert api.as_(world.editor).post(url, {"excluded": True}).status_code == 403
    assert api.as_(world.outsider).post(url, {"excluded": True}).status_code == 404
    assert api.as_(world.outsider).post(url, {}).status_code == 404
    assert TrainingExample.objects.get(pk=example.pk).excluded is False


def test_it_exports_jsonl_for_trl(api: Api, world: World) -> None:
    _examples(world.project, 2)
    _examples(world.project, 1, kind="preference", start=5)
    excluded = _examples(world.project, 1, start=9)[0]
    TrainingExample.objects.filter(pk=excluded.pk).update(excluded=True)
    _examples(world.other_project, 1, start=50)
    url = _url("project-training-export", project_id=world.project.pk)
    api.as_(world.admin)
    sft = api.get(url)
    assert sft.status_code == 200
    assert sft["Content-Type"].startswith("application/jsonl")
    rows = [json.loads(line) for line in sft.content.decode().splitlines()]
    assert len(rows) == 2 and all("messages" in r for r in rows)
    assert "coffee 9" not in sft.content.decode().lower()
    assert "coffee 50" not in sft.content.decode().lower()
    dpo = [json.loads(x) for x in api.get(url, records="dpo").content.decode().splitlines()]
    assert len(dpo) == 1 and {"prompt", "chosen", "rejected"} <= set(dpo[0])
    assert api.get(url, records="csv").status_code == 400


def test_it_starts_one_job_at_a_time_and_reports_progress(api: Api, world: World) -> None:
    url = _url("project-training-jobs", project_id=world.project.pk)
    api.as_(world.admin)
    too_few = api.post(url, {"method": "sft"})
    assert too_few.status_code == 400
    assert "at least 8" in " ".join(too_few.json()["non_field_errors"])
    _examples(world.project, 10)
    started = api.post(url, {"method": "sft"})
    assert started.status_code == 201, started.json()
    job = started.json()
    assert job["status"] == "queued" and job["snapshot"] is not None
    busy = api.post(url, {"method": "sft"})
    assert busy.status_code == 400 and "already queued or running" in str(busy.json())
    assert api.post(url, {"method": "sft", "hyperparameters": {"epochs": 99}}).status_code == 400
    assert api.post(url, {"method": "magic"}).status_code == 400
    TrainingJob.objects.filter(pk=job["id"]).update(
        status="running", phase="sft", step=3, total_steps=12, eta_seconds=40,
        loss_curve=[{"phase": "sft", "step": 2, "loss": 2.5}],
    )
    progress = api.get(_url("training-job-detail", job_id=job["id"])).json()
    assert (progress["step"], progress["total_steps"], progress["eta_seconds"]) == (3, 12, 40)
    assert progress["loss_curve"][0]["loss"] == 2.5
    assert [j["id"] for j in api.get(url).json()["results"]][0] == job["id"]


def test_it_cancels_a_queued_job_once(api: Api, world: World) -> None:
    job = TrainingJob.objects.create(project=world.project, requested_by=world.admin)
    url = _url("training-job-cancel", job_id=job.pk)
    assert api.as_(world.editor).post(url).status_code == 403
    assert api.as_(world.outsider).post(url).status_code == 404
    response = api.as_(world.admin).post(url)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = api.post(url)
    assert again.status_code == 409 and "already ended" in again.json()["detail"]


def test_it_promotes_and_rolls_back(api: Api, world: World, tmp_path: Path) -> None:
    v1 = _adapter_version(world, tmp_path, 101, "ready")
    v2 = _adapter_version(world, tmp_path, 102, "ready")
    api.as_(world.admin)
    assert api.post(_url("model-version-promote", version_id=v1.pk)).json()["status"] == "live"
    assert api.post(_url("model-version-promote", version_id=v2.pk)).status_code == 200
    assert Project.objects.get(pk=world.project.pk).live_model_id == v2.pk
    back = api.post(_url("model-version-rollback", version_id=v1.pk))
    assert back.status_code == 200 and back.json()["status"] == "live"
    assert Project.objects.get(pk=world.project.pk).live_model_id == v1.pk
    listed = api.get(_url("project-model-versions", project_id=world.project.pk)).json()
    assert {v["number"]: v["status"] for v in listed["results"]}[v2.number] == "archived"


@pytest.mark.parametrize("who", ["editor", "outsider"])
def test_only_the_teams_admins_switch_versions(api: Api, world: World, tmp_path: Path,
                                               who: str) -> None:
    version = _adapter_version(world, tmp_path, 103, "ready")
    response = api.as_(world.user(who)).post(_url("model-version-promote", version_id=version.pk))
    assert response.status_code == (403 if who == "editor" else 404)
    assert Project.objects.get(pk=world.project.pk).live_model_id is None


def test_a_tampered_adapter_is_refused(api: Api, world: World, tmp_path: Path) -> None:
    version = _adapter_version(world, tmp_path, 104, "ready")
    (Path(version.adapter_path) / "adapter_model.safetensors").write_bytes(b"swapped")
    response = api.as_(world.admin).post(_url("model-version-promote", version_id=version.pk))
    assert response.status_code == 409
    assert "sha256" in response.json()["detail"]
    assert Project.objects.get(pk=world.project.pk).live_model_id is None


def test_it_refuses_to_promote_a_version_that_cannot_load_saying_why(
    api: Api, world: World, tmp_path: Path
) -> None:
    version = _adapter_version(world, tmp_path, 106, "ready")
    ModelVersion.objects.filter(pk=version.pk).update(
        load_check="failed", load_check_error="adapter folder /srv/a holds pickle-based "
        "files, which are never loaded: adapter_model.bin")
    response = api.as_(world.admin).post(_url("model-version-promote", version_id=version.pk))
    assert response.status_code == 409
    assert "pickle-based files" in response.json()["detail"]
    assert "live model is unchanged" in response.json()["detail"]
    assert Project.objects.get(pk=world.project.pk).live_model_id is None


def test_it_queues_a_load_check_and_lists_its_outcome(
    api: Api, world: World, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    version = _adapter_version(world, tmp_path, 107, "ready")
    api.as_(world.admin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(_url("model-version-check", version_id=version.pk))
    assert response.status_code == 202 and response.json()["load_check"] == "pending"
    assert len(callbacks) == 1
    assert api.post(_url("model-version-check", version_id=version.pk),
                    {"load_check": "ok"}).status_code == 400  # no body: nothing to set
    listed = api.get(_url("project-model-versions", project_id=world.project.pk)).json()
    row = next(v for v in listed["results"] if v["id"] == version.pk)
    assert row["load_check"] == "pending" and row["load_check_error"] == ""
    assert api.as_(world.editor).post(_url("model-version-check", version_id=version.pk)
                                      ).status_code == 403


def test_it_goes_back_to_the_base_model(api: Api, world: World, tmp_path: Path) -> None:
    v1 = _adapter_version(world, tmp_path, 105, "ready")
    url = _url("model-version-use-base", project_id=world.project.pk)
    api.as_(world.admin)
    refused = api.post(url)
    assert refused.status_code == 409 and "already uses its base model" in refused.json()["detail"]
    assert api.post(_url("model-version-promote", version_id=v1.pk)).status_code == 200
    assert api.as_(world.editor).post(url).status_code == 403
    assert api.as_(world.outsider).post(url).status_code == 404
    assert Project.objects.get(pk=world.project.pk).live_model_id == v1.pk

    # A body is refused by name, not ignored: nothing changes.
    refused = api.as_(world.admin).post(url, {"live_model": v1.pk})
    assert refused.status_code == 400 and "live_model" in refused.json()
    assert Project.objects.get(pk=world.project.pk).live_model_id == v1.pk
    response = api.post(url)
    assert response.status_code == 200
    assert response.json()["id"] == world.project.pk and response.json()["live_model"] is None
    assert ModelVersion.objects.get(pk=v1.pk).status == "archived"
    assert AuditEvent.objects.filter(verb="model.use_base").count() == 1
    back = api.post(_url("model-version-rollback", version_id=v1.pk))
    assert back.status_code == 200 and back.json()["status"] == "live"


def test_it_documents_the_base_model_route(api: Api, world: World) -> None:
    schema = api.as_(world.admin).get("/api/schema/", format="json").json()
    post = schema["paths"]["/api/projects/{project_id}/model-versions/use-base/"]["post"]
    assert "base model" in post["description"]
    assert {"200", "403", "404", "409"} <= set(post["responses"])
